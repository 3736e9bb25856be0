import sys

import pytest


def pam_ok(sandbox, login, password):
    """A real PAM authentication (the 'login' stack, as JupyterHub's PAMAuthenticator uses)."""
    code = ("import pamela, sys\n"
            "try:\n    pamela.authenticate(sys.argv[1], sys.argv[2], service='login')\n"
            "except pamela.PAMError:\n    sys.exit(1)\n")
    return sandbox.run([sys.executable, "-c", code, login, password], check=False).returncode == 0


@pytest.fixture
def jhub(sandbox):
    return sandbox.jhub_admin
