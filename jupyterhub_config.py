"""JupyterHub configuration for a school server (the image uses this file as it is).

PAM logins on local accounts, one local process per user, Notebook 7 / JupyterLab 4, the
admin-only jhub-admin service and the idle culler. Everything site-specific comes from
environment variables, so that tests and the container use this very file.
"""
import contextlib
import os
import secrets
import sqlite3
import sys

c = get_config()  # noqa: F821 (injected by JupyterHub)


def env(name, default):
    return os.environ.get(name) or default


data_dir = env("JHUB_DATA_DIR", "/srv/jupyterhub")
os.makedirs(data_dir, mode=0o700, exist_ok=True)


def secret_file(name):
    """A token kept on the data volume, generated once, mode 0600."""
    path = os.path.join(data_dir, name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path) as f:
            return f.read().strip()
    token = secrets.token_hex(32)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


# Network
c.JupyterHub.bind_url = env("JHUB_BIND_URL", "http://:8000")
c.JupyterHub.hub_bind_url = env("JHUB_HUB_BIND_URL", "http://127.0.0.1:8081")
c.ConfigurableHTTPProxy.api_url = env("JHUB_PROXY_API_URL", "http://127.0.0.1:8001")

# State on the data volume: survives container recreation. The hub database uses SQLite's WAL
# journal (a mode stored in the file): a commit costs one fsync instead of several, and the bulk
# creation of a term's 1,500 users takes 5 s instead of 8 s.
hub_db = os.path.join(data_dir, "jupyterhub.sqlite")
try:
    with contextlib.closing(sqlite3.connect(hub_db, timeout=10)) as db:
        db.execute("PRAGMA journal_mode=WAL")
except sqlite3.Error as exc:  # a read-only volume, a locked file: the hub starts as it is
    print(f"jupyterhub_config: hub database left in its journal mode ({exc})", file=sys.stderr)
c.JupyterHub.db_url = "sqlite:///" + hub_db
c.JupyterHub.cookie_secret_file = os.path.join(data_dir, "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = os.path.join(data_dir, "jupyterhub-proxy.pid")

# Accounts: PAM on local accounts. Only users present in the hub (created by jhub-admin
# through the REST API, or the first admin below) may log in, so a system account with a
# password can never open a server. Disabling an account removes it from the hub.
# LocalAccountsAuthenticator is PAM with wrong passwords limited per account and computer,
# through a PAM stack without PAM's own failure delay (docker/pam.d/jupyterhub).
c.JupyterHub.authenticator_class = "jhub_admin_service.hubpages.authenticator.LocalAccountsAuthenticator"
c.Authenticator.allow_existing_users = True
c.Authenticator.admin_users = {env("JHUB_ADMIN_USER", "admin")}
c.PAMAuthenticator.open_sessions = False
if os.path.exists("/etc/pam.d/jupyterhub"):
    c.PAMAuthenticator.service = "jupyterhub"

# One local process per user, JupyterLab 4 by default (Notebook 7 at /tree)
c.JupyterHub.spawner_class = "jhub_admin_service.classroom.spawner.ClassroomSpawner"
c.Spawner.default_url = env("JHUB_DEFAULT_URL", "/lab")
c.Spawner.cmd = [env("JHUB_SINGLEUSER_CMD", os.path.join(os.path.dirname(sys.executable), "jupyterhub-singleuser"))]
# Starts queue (ClassroomSpawner.concurrent_starts at a time) instead of being refused with a 429:
# the wait counts in the start's time.
c.JupyterHub.concurrent_spawn_limit = 0
c.Spawner.start_timeout = 300
# The server's kernels talk to it over Unix sockets, in the user's runtime folder (see
# classroom/spawner.py: over TCP, kernels started together race for the same free ports). Only the
# server's own kernel manager: the kernels that nbgrader's autograder starts inside the server
# (nbclient's AsyncKernelManager) have no connection file when their socket path is chosen, so
# over IPC they would get a relative path, resolved in the submission's folder by the kernel and
# in the home by the server: "Kernel didn't respond in 60 seconds" for every submission.
c.Spawner.args = ["--ServerKernelManager.transport=ipc"]
c.Spawner.http_timeout = 120
c.Spawner.environment = {"LANG": env("LANG", "fr_FR.UTF-8")}
# The users' servers' PDF exporter comes first on their path (docker/exporters/README.md).
if os.path.isdir("/opt/jhub-admin/exporters"):
    c.Spawner.environment["PYTHONPATH"] = "/opt/jhub-admin/exporters"
# ... and Node.js is not on it (docs/performance.md: JupyterLab asks node for a build config at
# every start, which students cannot use); the hub's proxy keeps it.
c.Spawner.environment["PATH"] = os.pathsep.join(
    p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p != "/opt/jhub-admin/node/bin")
# Each role's memory and process limits: set on the admin service's Settings page, kept in its
# preferences file, enforced by the kernel for every process of the user (classroom/spawner.py).
c.ClassroomSpawner.preferences_path = os.path.join(data_dir, "jhub-admin-preferences.json")
c.ClassroomSpawner.runtime_root = env("JHUB_RUNTIME_ROOT", "/run/jupyter")

# folium's maps with only their tile server reachable: the hub serves folium's JavaScript and CSS.
from jhub_admin_service.classroom import maps  # noqa: E402

maps.configure(c)

# nbgrader: teacher-only tools (a shared config profile per role, chosen by a pre_spawn_hook),
# the formgrader's frame policy on teachers' servers, hub API scopes for the exchange.
from jhub_admin_service.courses import hub_hooks  # noqa: E402

hub_hooks.configure(c)

# The hub's pages in French or English, from the browser (login, home, spawn, errors, menus).
from jhub_admin_service import hubpages  # noqa: E402

hubpages.configure(c)

# The admin service and the idle culler
service_port = int(env("JHUB_ADMIN_SERVICE_PORT", "10101"))
registry = env("JHUB_ADMIN_REGISTRY", os.path.join(data_dir, "jhub-admin.sqlite"))
passthrough = ("JHUB_DATA_DIR", "JHUB_ADMIN_HOME_ROOT", "JHUB_ADMIN_ARCHIVE_DIR", "JHUB_ADMIN_PUBLIC_URL",
               "JHUB_ADMIN_SIDECAR_URL", "JHUB_ADMIN_SIDECAR_SECRET_FILE", "JHUB_EXCHANGE_ROOT", "PATH", "LANG",
               "JHUB_ADMIN_DISK_MEASURE_SECONDS",
               # the Teaching kernel page's pip: who runs it, another index, the school's wheels,
               # a proxy and its CA
               "JHUB_KERNEL_INSTALL_USER", "PIP_INDEX_URL", "PIP_FIND_LINKS", "PIP_CERT", "http_proxy",
               "https_proxy", "no_proxy")
c.JupyterHub.services = [
    {
        "name": "jhub-admin",
        "display": True,
        "url": f"http://127.0.0.1:{service_port}",
        "command": [sys.executable, "-m", "jhub_admin_service.service.app"],
        "api_token": secret_file("jhub-admin-api-token"),
        "oauth_no_confirm": True,
        "environment": {
            "JHUB_ADMIN_REGISTRY": registry,
            **{name: os.environ[name] for name in passthrough if os.environ.get(name)},
        },
    },
    {
        # "Change my password", for every user (the Services menu); apart from the admin service.
        "name": "jhub-password",
        "display": True,
        "url": f"http://127.0.0.1:{int(env('JHUB_PASSWORD_SERVICE_PORT', '10102'))}",
        "command": [sys.executable, "-m", "jhub_admin_service.service.password_app"],
        "oauth_no_confirm": True,
        "environment": {
            "JHUB_ADMIN_REGISTRY": registry,
            **{name: os.environ[name] for name in passthrough if os.environ.get(name)},
        },
    },
    {
        # "My class", for teachers (the Services menu): start the students' servers before a lesson.
        "name": "jhub-class",
        "display": True,
        "url": f"http://127.0.0.1:{int(env('JHUB_CLASS_SERVICE_PORT', '10103'))}",
        "command": [sys.executable, "-m", "jhub_admin_service.service.class_app"],
        "oauth_no_confirm": True,
        "environment": {
            "JHUB_ADMIN_REGISTRY": registry,
            **{name: os.environ[name] for name in passthrough if os.environ.get(name)},
        },
    },
    {
        "name": "idle-culler",
        "command": [
            sys.executable, "-m", "jupyterhub_idle_culler",
            f"--timeout={int(env('JHUB_IDLE_TIMEOUT', '3600'))}",
        ],
    },
]
# The guard (classroom/guard.py): a user's processes together over the role's memory limit lose
# their biggest kernel, CPU hogs get the lowest priority. It acts on this machine's processes, so
# tests that run the hub beside others on a shared host turn it off (JHUB_GUARD=0).
if env("JHUB_GUARD", "1") == "1":
    c.JupyterHub.services.append({
        "name": "jhub-guard",
        "command": [sys.executable, "-m", "jhub_admin_service.classroom.guard"],
        "environment": {"JHUB_DATA_DIR": data_dir},
    })
c.JupyterHub.load_roles = [
    {
        # The admin service manages users, groups and servers, and sets the hub's admin flag
        # for accounts whose role is admin. JupyterHub lets only an admin grant that flag
        # (it checks `current_user.admin`, which follows the admin role), so the service holds
        # the admin role: no narrower set of scopes can do it.
        "name": "admin",
        "services": ["jhub-admin"],
    },
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    },
    {
        # "My class" starts students' servers only (and keeps them active): a teacher's course
        # holds students; the service itself checks that the course is the teacher's.
        "name": "jhub-class",
        "scopes": ["list:users!group=students", "read:servers!group=students", "servers!group=students",
                   "users:activity!group=students"],
        "services": ["jhub-class"],
    },
    {
        # Teachers and admins open "My class"; everyone else gets no link and a 403.
        "name": "teaching",
        "scopes": ["access:services!service=jhub-class"],
        "groups": ["teachers", "admins"],
    },
    {
        # Every user, as by default, and the "Change my password" page.
        "name": "user",
        "scopes": ["self", "access:services!service=jhub-password"],
    },
]

# Extra settings for a site: a file beside this one, never overwritten by upgrades.
site_config = env("JHUB_SITE_CONFIG", os.path.join(data_dir, "jupyterhub_site_config.py"))
if os.path.exists(site_config):
    load_subconfig(site_config)  # noqa: F821
