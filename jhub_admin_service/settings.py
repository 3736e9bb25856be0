"""Every setting of the CLI, the service and the hub hooks, in one traitlets object.

A traitlets Configurable, as JupyterHub, nbgrader and jupyterhub-idle-culler are configured:
values come from a config file or the command line (``c.AdminSettings.registry_path = ...``),
else the environment, else the defaults below. This is the one place of the package that reads
the environment; everything else is given its settings. (The sidecar has its own settings, in
``sidecar/app.py``, as it runs in its own container.)

One settings object for every process: ``c.AdminSettings`` set in the hub's configuration (the
site's file) is written by the hub at its start into a file of the data volume (``hand_over``),
which the admin services and the CLI read first (``AdminSettings.load``). Their own command line
still wins; the environment fills in what nobody set.
"""
import json
import os
from typing import Optional

from traitlets import Bool, Integer, Unicode, default
from traitlets.config import Config, Configurable

from .files import write_whole

DATA_DIR = "/srv/jupyterhub"
#: The hub's c.AdminSettings, for the other processes (root-only: it may hold a password).
SETTINGS_FILE = "jhub-admin-settings.json"


class AdminSettings(Configurable):
    def __init__(self, environ=None, **kwargs):
        #: Where the defaults below read the environment: this process's, or the one that the
        #: hub's configuration was given (hubconfig.Site).
        self._environ = os.environ if environ is None else environ
        super().__init__(**kwargs)

    def _env(self, name: str, fallback: str = "") -> str:
        return self._environ.get(name) or fallback

    # State on the data volume
    data_dir = Unicode(help="The hub's data volume (JHUB_DATA_DIR).").tag(config=True)
    registry_path = Unicode(help="The account registry (SQLite), on the data volume.").tag(config=True)
    home_root = Unicode(help="Where home directories live.").tag(config=True)
    archive_dir = Unicode(help="Where the homes of removed accounts are archived.").tag(config=True)
    handover_dir = Unicode(help="Where the ZIP of each removed account's own work is kept, to hand over.").tag(
        config=True)
    handover_days = Integer(365, help="Days a removed account's ZIP is kept, then deleted "
                                      "(JHUB_ADMIN_HANDOVER_DAYS).").tag(config=True)
    years_dir = Unicode(help="Where each closed school year keeps its journal, grades sheets and exchange "
                             "ZIPs (JHUB_ADMIN_YEARS_DIR).").tag(config=True)
    token_file = Unicode(help="The service token file that jupyterhub_config.py keeps on the data volume; "
                              "lets the CLI in the container talk to the hub.").tag(config=True)

    # The hub
    hub_api_url = Unicode(help="JupyterHub API URL (JUPYTERHUB_API_URL).").tag(config=True)
    hub_api_token = Unicode(help="Service token (JUPYTERHUB_API_TOKEN).").tag(config=True)
    hub_public_url = Unicode(help="The hub's address, printed on credential slips (JHUB_ADMIN_PUBLIC_URL); when "
                                  "empty, the service's Settings page, else the address of the admin's browser.").tag(
        config=True)
    hub_base_url = Unicode(help="The hub's base URL (JUPYTERHUB_BASE_URL).").tag(config=True)

    # The service, as JupyterHub starts it
    service_prefix = Unicode(help="URL prefix of the service (JUPYTERHUB_SERVICE_PREFIX).").tag(config=True)
    service_url = Unicode(help="Where the service listens (JUPYTERHUB_SERVICE_URL).").tag(config=True)

    # Accounts
    first_admin = Unicode(help="Login of the first admin, made at the first start (JHUB_ADMIN_USER).").tag(
        config=True)
    first_admin_password = Unicode(help="Its password (JHUB_ADMIN_PASSWORD); generated when empty.").tag(
        config=True)
    hash_workers = Integer(0, help="Threads hashing passwords; 0 means one per core.").tag(config=True)
    manage_local_accounts = Bool(True, help="Create local accounts (off only for tests of the hub side).").tag(
        config=True)

    # Courses
    exchange_root = Unicode(help="The nbgrader exchange (JHUB_EXCHANGE_ROOT).").tag(config=True)
    profiles_root = Unicode(help="The student and teacher Jupyter profiles (JHUB_JUPYTER_PROFILES).").tag(
        config=True)
    lang = Unicode(help="The locale of the processes the product starts (LANG).").tag(config=True)

    # Disk use
    disk_measure_seconds = Integer(help="Seconds between two measures of the disk use of the volumes and of each "
                                        "home (JHUB_ADMIN_DISK_MEASURE_SECONDS; du runs in the background).").tag(
        config=True)

    # The teaching kernel
    kernel_python = Unicode(help="The teaching kernel's Python (its own venv, apart from the hub's).").tag(config=True)
    kernel_site_root = Unicode(help="Where the packages that the school adds to the kernel are installed "
                                    "(a volume).").tag(config=True)
    kernel_packages_file = Unicode(help="The site list of those packages, on the data volume.").tag(config=True)
    kernel_install_user = Unicode(help="The unprivileged account that runs pip for the site list (a package's "
                                       "build code runs as it); empty: the caller's own (a developer's machine).").tag(
        config=True)

    # Exports
    sidecar_url = Unicode(help="The Docker-socket sidecar (JHUB_ADMIN_SIDECAR_URL).").tag(config=True)
    sidecar_secret_file = Unicode(help="The secret shared with the sidecar (JHUB_ADMIN_SIDECAR_SECRET_FILE).").tag(
        config=True)
    sidecar_configured = Bool(help="Whether this server has a sidecar: its URL or its secret is set.").tag(
        config=True)

    @default("data_dir")
    def _data_dir(self):
        return self._env("JHUB_DATA_DIR", DATA_DIR)

    @default("registry_path")
    def _registry_path(self):
        return self._env("JHUB_ADMIN_REGISTRY", os.path.join(self.data_dir, "jhub-admin.sqlite"))

    @default("home_root")
    def _home_root(self):
        return self._env("JHUB_ADMIN_HOME_ROOT", "/home")

    @default("archive_dir")
    def _archive_dir(self):
        return self._env("JHUB_ADMIN_ARCHIVE_DIR", os.path.join(self.data_dir, "archived-homes"))

    @default("handover_dir")
    def _handover_dir(self):
        return self._env("JHUB_ADMIN_HANDOVER_DIR", os.path.join(self.data_dir, "handover"))

    @default("years_dir")
    def _years_dir(self):
        return self._env("JHUB_ADMIN_YEARS_DIR", os.path.join(self.data_dir, "years"))

    @default("handover_days")
    def _handover_days(self):
        return int(self._env("JHUB_ADMIN_HANDOVER_DAYS", "365"))

    @default("token_file")
    def _token_file(self):
        return self._env("JHUB_ADMIN_TOKEN_FILE", os.path.join(self.data_dir, "jhub-admin-api-token"))

    @default("hub_api_url")
    def _hub_api_url(self):
        return self._env("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api" if self.hub_api_token else "")

    @default("hub_api_token")
    def _hub_api_token(self):
        token = self._env("JUPYTERHUB_API_TOKEN")
        if token:
            return token
        try:
            with open(self.token_file) as f:
                return f.read().strip()
        except OSError:
            return ""

    @default("hub_public_url")
    def _hub_public_url(self):
        return self._env("JHUB_ADMIN_PUBLIC_URL")

    @default("disk_measure_seconds")
    def _disk_measure_seconds(self):
        return int(self._env("JHUB_ADMIN_DISK_MEASURE_SECONDS", "600"))

    @default("hub_base_url")
    def _hub_base_url(self):
        return self._env("JUPYTERHUB_BASE_URL", "/")

    @default("service_prefix")
    def _service_prefix(self):
        return self._env("JUPYTERHUB_SERVICE_PREFIX", "/services/jhub-admin/")

    @default("service_url")
    def _service_url(self):
        return self._env("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")

    @default("first_admin")
    def _first_admin(self):
        return self._env("JHUB_ADMIN_USER", "admin")

    @default("first_admin_password")
    def _first_admin_password(self):
        return self._env("JHUB_ADMIN_PASSWORD")

    @default("exchange_root")
    def _exchange_root(self):
        return self._env("JHUB_EXCHANGE_ROOT", "/srv/nbgrader/exchange")

    @default("profiles_root")
    def _profiles_root(self):
        return self._env("JHUB_JUPYTER_PROFILES", "/etc/jupyter/jhub-admin")

    @default("lang")
    def _lang(self):
        return self._env("LANG", "C.UTF-8")

    @default("kernel_python")
    def _kernel_python(self):
        return self._env("JHUB_KERNEL_PYTHON", "/opt/kernel/bin/python")

    @default("kernel_site_root")
    def _kernel_site_root(self):
        return self._env("JHUB_KERNEL_SITE_ROOT", "/opt/kernel-site")

    @default("kernel_packages_file")
    def _kernel_packages_file(self):
        return self._env("JHUB_KERNEL_PACKAGES_FILE", os.path.join(self.data_dir, "kernel-packages.txt"))

    @default("kernel_install_user")
    def _kernel_install_user(self):
        return self._env("JHUB_KERNEL_INSTALL_USER", "")

    @default("sidecar_url")
    def _sidecar_url(self):
        return self._env("JHUB_ADMIN_SIDECAR_URL", "http://sidecar:8750")

    @default("sidecar_secret_file")
    def _sidecar_secret_file(self):
        return self._env("JHUB_ADMIN_SIDECAR_SECRET_FILE", os.path.join(self.data_dir, "secrets", "sidecar.secret"))

    @default("sidecar_configured")
    def _sidecar_configured(self):
        return bool(self._env("JHUB_ADMIN_SIDECAR_URL")) or os.path.exists(self.sidecar_secret_file)


def settings_file_path(environ=None) -> str:
    """Where the hub hands its settings over (environ: this process's environment by default)."""
    environ = os.environ if environ is None else environ
    return environ.get("JHUB_ADMIN_SETTINGS_FILE") or os.path.join(environ.get("JHUB_DATA_DIR") or DATA_DIR,
                                                                   SETTINGS_FILE)


def handed_over() -> dict:
    """The hub's c.AdminSettings as it wrote them ({} before its first start, or unreadable)."""
    try:
        with open(settings_file_path(), encoding="utf-8") as f:
            values = json.load(f)
    except (OSError, ValueError):
        return {}
    known = AdminSettings.class_trait_names(config=True)
    return {k: v for k, v in values.items() if k in known} if isinstance(values, dict) else {}


def load(parent: Optional[Configurable] = None) -> AdminSettings:
    """This process's settings: its own configuration (the parent's: a command line), then the
    hub's (handed over), then the environment, then the defaults."""
    config = Config({"AdminSettings": handed_over()})
    if parent is not None:
        config.merge(parent.config)
    return AdminSettings(parent=parent, config=config)


def hand_over(c: Config, path: str) -> None:
    """Write the hub's c.AdminSettings (the values that its configuration set) for the others."""
    section = c.AdminSettings if "AdminSettings" in c else {}
    values = {k: v for k, v in section.items() if isinstance(v, (str, int, bool, float))}
    write_whole(path, json.dumps(values, ensure_ascii=False, indent=1).encode("utf-8"))
