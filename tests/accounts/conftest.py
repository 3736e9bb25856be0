import sys

import pytest


def cli(sandbox, *args, check=True, env=None):
    """The real `jhub-admin` CLI, inside the sandbox (registry on the sandbox's /srv)."""
    env = env or {**sandbox.env, "JHUB_ADMIN_REGISTRY": "/srv/jupyterhub/jhub-admin.sqlite",
                  "JHUB_ADMIN_ARCHIVE_DIR": "/srv/jupyterhub/archived-homes",
                  "JUPYTERHUB_API_URL": "", "JUPYTERHUB_API_TOKEN": "", "JHUB_DATA_DIR": "/srv/jupyterhub"}
    return sandbox.run([sys.executable, "-m", "jhub_admin_service.cli", *args], check=check, env=env)


def pam_ok(sandbox, login, password):
    """A real PAM authentication (the 'login' stack, as JupyterHub's PAMAuthenticator uses)."""
    code = ("import pamela, sys\n"
            "try:\n    pamela.authenticate(sys.argv[1], sys.argv[2], service='login')\n"
            "except pamela.PAMError:\n    sys.exit(1)\n")
    return sandbox.run([sys.executable, "-c", code, login, password], check=False).returncode == 0


@pytest.fixture
def jhub(sandbox):
    return lambda *args, **kw: cli(sandbox, *args, **kw)
