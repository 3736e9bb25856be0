"""The hub's managed services (the admin service, "Change my password", "My class", the idle
culler, the guard) and the roles that say what each may do."""
import sys

from .site import Site

#: The environment that the admin services are given from the hub's (beyond the settings file).
PASSTHROUGH = ("JHUB_DATA_DIR", "JHUB_ADMIN_HOME_ROOT", "JHUB_ADMIN_ARCHIVE_DIR", "JHUB_ADMIN_PUBLIC_URL",
               "JHUB_ADMIN_SIDECAR_URL", "JHUB_ADMIN_SIDECAR_SECRET_FILE", "JHUB_EXCHANGE_ROOT", "PATH", "LANG",
               "JHUB_ADMIN_DISK_MEASURE_SECONDS",
               # the Teaching kernel page's pip: who runs it, another index, the school's wheels,
               # a proxy and its CA
               "JHUB_KERNEL_INSTALL_USER", "PIP_INDEX_URL", "PIP_FIND_LINKS", "PIP_CERT", "http_proxy",
               "https_proxy", "no_proxy")


def admin_service_environment(site: Site) -> dict:
    """What every one of the product's services reads its settings from: the registry, the file
    of the hub's settings (c.AdminSettings, settle()), and the environment it shares with the hub."""
    return {"JHUB_ADMIN_REGISTRY": site.env("JHUB_ADMIN_REGISTRY", site.path("jhub-admin.sqlite")),
            "JHUB_ADMIN_SETTINGS_FILE": site.settings_file,
            **{name: site.environ[name] for name in PASSTHROUGH if site.environ.get(name)}}


def web_service(name: str, port: int, module: str, site: Site, **extra) -> dict:
    return {"name": name, "display": True, "url": f"http://127.0.0.1:{port}",
            "command": [sys.executable, "-m", module], "oauth_no_confirm": True,
            "environment": admin_service_environment(site), **extra}


def services(c, site: Site) -> None:
    c.JupyterHub.services = [
        web_service("jhub-admin", int(site.env("JHUB_ADMIN_SERVICE_PORT", "10101")), "jhub_admin_service.service.app",
                    site, api_token=site.secret("jhub-admin-api-token")),
        # "Change my password", for every user (the Services menu); apart from the admin service.
        web_service("jhub-password", int(site.env("JHUB_PASSWORD_SERVICE_PORT", "10102")),
                    "jhub_admin_service.service.password_app", site),
        # "My class", for teachers: start the students' servers before a lesson.
        web_service("jhub-class", int(site.env("JHUB_CLASS_SERVICE_PORT", "10103")),
                    "jhub_admin_service.service.class_app", site),
        {"name": "idle-culler",
         "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                     f"--timeout={int(site.env('JHUB_IDLE_TIMEOUT', '3600'))}"]},
    ]
    # The guard (classroom/guard.py): a user's processes together over the role's memory limit
    # lose their biggest kernel, CPU hogs get the lowest priority. It acts on this machine's
    # processes, so tests that run the hub beside others on a shared host turn it off (JHUB_GUARD=0).
    if site.env("JHUB_GUARD", "1") == "1":
        c.JupyterHub.services.append({"name": "jhub-guard", "command": [sys.executable, "-m",
                                                                        "jhub_admin_service.classroom.guard"],
                                      "environment": {"JHUB_DATA_DIR": site.data_dir}})


def roles(c, site: Site) -> None:
    c.JupyterHub.load_roles = [
        {
            # The admin service manages users, groups and servers, and sets the hub's admin flag
            # for accounts whose role is admin. JupyterHub lets only an admin grant that flag (it
            # checks `current_user.admin`, which follows the admin role), so the service holds the
            # admin role: no narrower set of scopes can do it.
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
