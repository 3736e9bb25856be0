"""Settings shared by the CLI, the service and the container entry point.

A traitlets Configurable, as JupyterHub, nbgrader and jupyterhub-idle-culler are configured:
values come from a config file (``c.AdminSettings.registry_path = ...``), else the environment,
else the defaults below.
"""
import os

from traitlets import Bool, Integer, Unicode, default
from traitlets.config import Configurable


def _env(name, fallback):
    return os.environ.get(name) or fallback


class AdminSettings(Configurable):
    registry_path = Unicode(help="The account registry (SQLite), on the data volume.").tag(config=True)
    home_root = Unicode(help="Where home directories live.").tag(config=True)
    archive_dir = Unicode(help="Where the homes of removed accounts are archived.").tag(config=True)
    hub_api_url = Unicode(help="JupyterHub API URL (JUPYTERHUB_API_URL).").tag(config=True)
    hub_api_token = Unicode(help="Service token (JUPYTERHUB_API_TOKEN).").tag(config=True)
    hub_public_url = Unicode(help="The hub's address, printed on credential slips.").tag(config=True)
    hash_workers = Integer(0, help="Threads hashing passwords; 0 means one per core.").tag(config=True)
    manage_local_accounts = Bool(True, help="Create local accounts (off only for tests of the hub side).").tag(
        config=True)

    @default("registry_path")
    def _registry_path(self):
        return _env("JHUB_ADMIN_REGISTRY", "/srv/jupyterhub/jhub-admin.sqlite")

    @default("home_root")
    def _home_root(self):
        return _env("JHUB_ADMIN_HOME_ROOT", "/home")

    @default("archive_dir")
    def _archive_dir(self):
        return _env("JHUB_ADMIN_ARCHIVE_DIR", "/srv/jupyterhub/archived-homes")

    token_file = Unicode(help="The service token file that jupyterhub_config.py keeps on the data volume; "
                              "lets the CLI in the container talk to the hub.").tag(config=True)

    @default("token_file")
    def _token_file(self):
        data_dir = _env("JHUB_DATA_DIR", "/srv/jupyterhub")
        return _env("JHUB_ADMIN_TOKEN_FILE", os.path.join(data_dir, "jhub-admin-api-token"))

    @default("hub_api_url")
    def _hub_api_url(self):
        return _env("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api" if self.hub_api_token else "")

    @default("hub_api_token")
    def _hub_api_token(self):
        token = os.environ.get("JUPYTERHUB_API_TOKEN")
        if token:
            return token
        try:
            with open(self.token_file) as f:
                return f.read().strip()
        except OSError:
            return ""

    @default("hub_public_url")
    def _hub_public_url(self):
        return _env("JHUB_ADMIN_PUBLIC_URL", "http://localhost:8000/")
