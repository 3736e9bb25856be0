"""The hub's configuration as functions of a bare traitlets ``Config``, as the-littlest-jupyterhub
builds its own: ``jupyterhub_config.py`` calls them, and tests call them on ``Config()`` with an
environment of their choosing.

    c = get_config()
    hubconfig.configure(c)             # the product: network, state, login, servers, services, roles
    load_subconfig(site file)          # the school's own settings (they win)
    hubconfig.settle(c)                # what follows from c.AdminSettings, in every process

Each part is a function ``part(c, site)`` of its module; ``site`` (site.py) holds the environment
and the data volume. ``settle`` reads the product's settings (``c.AdminSettings``, set in the
site's file or by the environment) once they are final, configures the hub's pages and nbgrader's
hooks with them, and writes them where every other process reads them (the admin services, the
CLI: ``settings.load``).
"""
from typing import Mapping, Optional

from ..settings import AdminSettings, hand_over
from . import auth, hub, services, spawner
from .site import Site


def configure(c, environ: Optional[Mapping[str, str]] = None) -> Site:
    """The whole product's hub configuration, part after part; returns the Site it read."""
    site = Site(environ)
    hub.network(c, site)
    hub.state(c, site)
    auth.authenticator(c, site)
    spawner.spawner(c, site)
    services.services(c, site)
    services.roles(c, site)
    return site


def settle(c, site: Optional[Site] = None) -> AdminSettings:
    """What follows from the product's settings, once the site's file is read: the hub's pages,
    nbgrader's hooks, and the settings file that the other processes read. Returns the settings."""
    from ..courses import hub_hooks
    from .. import hubpages

    site = site or Site()
    settings = AdminSettings(environ=site.environ, config=c)
    hubpages.configure(c, settings)
    hub_hooks.configure(c, settings)
    hand_over(c, site.settings_file)
    return settings

