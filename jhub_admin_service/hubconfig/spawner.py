"""One local process per user (classroom/spawner.py), JupyterLab 4 by default (Notebook 7 at /tree)."""
import os
import sys

from .site import Site


def spawner(c, site: Site) -> None:
    c.JupyterHub.spawner_class = "jhub_admin_service.classroom.spawner.ClassroomSpawner"
    c.Spawner.default_url = site.env("JHUB_DEFAULT_URL", "/lab")
    c.Spawner.cmd = [site.env("JHUB_SINGLEUSER_CMD",
                              os.path.join(os.path.dirname(sys.executable), "jupyterhub-singleuser"))]
    # Starts queue (ClassroomSpawner.concurrent_starts at a time) instead of being refused with a
    # 429: the wait counts in the start's time.
    c.JupyterHub.concurrent_spawn_limit = 0
    c.Spawner.start_timeout = 300
    # The server's kernels talk to it over Unix sockets, in the user's runtime folder (see
    # classroom/spawner.py: over TCP, kernels started together race for the same free ports).
    # Only the server's own kernel manager: the kernels that nbgrader's autograder starts inside
    # the server (nbclient's AsyncKernelManager) have no connection file when their socket path
    # is chosen, so over IPC they would get a relative path, resolved in the submission's folder
    # by the kernel and in the home by the server: "Kernel didn't respond in 60 seconds" for
    # every submission.
    c.Spawner.args = ["--ServerKernelManager.transport=ipc"]
    c.Spawner.http_timeout = 120
    environment = {"LANG": site.env("LANG", "fr_FR.UTF-8")}
    # The users' servers' PDF exporter comes first on their path (docker/exporters/README.md).
    if os.path.isdir("/opt/jhub-admin/exporters"):
        environment["PYTHONPATH"] = "/opt/jhub-admin/exporters"
    # ... and Node.js is not on it (docs/performance.md: JupyterLab asks node for a build config
    # at every start, which students cannot use); the hub's proxy keeps it.
    environment["PATH"] = os.pathsep.join(p for p in site.env("PATH", os.defpath).split(os.pathsep)
                                          if p != "/opt/jhub-admin/node/bin")
    c.Spawner.environment = environment
    # Each role's memory and process limits: set on the admin service's Settings page, kept in
    # its preferences file, enforced by the kernel for every process of the user.
    c.ClassroomSpawner.preferences_path = site.path("jhub-admin-preferences.json")
    c.ClassroomSpawner.runtime_root = site.env("JHUB_RUNTIME_ROOT", "/run/jupyter")
    # folium's maps with only their tile server reachable: the hub serves folium's files.
    from ..classroom import maps

    maps.configure(c, environ=site.environ)
