"""folium's maps behind a school's filter.

A folium map loads its JavaScript and CSS (Leaflet, jQuery, Bootstrap, Font Awesome, the
awesome-markers plugin: folium's ``Map.default_js`` and ``default_css``) from public CDNs, which
strict school filters block: the pupil sees only "Make this Notebook Trusted...". The image
carries these files (docker/maps/, from npm), the hub serves them at ``/hub/maps/`` without a
login (they are public libraries), and the teaching kernel points folium at them
(docker/kernel/extensions/jhub_offline_maps.py). A map then needs only its tile server, which
``JHUB_MAP_TILES`` (and ``JHUB_MAP_ATTRIBUTION``) set for the whole school; by default
OpenStreetMap's, ``tile.openstreetmap.org``, the one address that the filter must let through.
"""
import os

from tornado import web

ASSETS_DIR = "/opt/jhub-admin/maps"
#: Passed on to the users' servers, hence to their kernels.
TILE_SETTINGS = ("JHUB_MAP_TILES", "JHUB_MAP_ATTRIBUTION")


class MapAssets(web.StaticFileHandler):
    """The files of one image: a browser keeps them for a day."""

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "public, max-age=86400")


def configure(c, assets_dir: str = ASSETS_DIR, environ=None) -> None:
    """Called by the hub's configuration (hubconfig/spawner.py); environ: the hub's environment."""
    environ = os.environ if environ is None else environ
    if os.path.isfile(os.path.join(assets_dir, "assets.json")):
        c.JupyterHub.extra_handlers = [*c.JupyterHub.get("extra_handlers", []),
                                       (r"/maps/(.*)", MapAssets, {"path": assets_dir})]
    environment = dict(c.Spawner.get("environment", {}))
    environment.update({name: environ[name] for name in TILE_SETTINGS if environ.get(name)})
    c.Spawner.environment = environment
