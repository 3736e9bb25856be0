"""Loaded by every teaching kernel (ipython_kernel_config.py): folium's maps take their
JavaScript and CSS from the hub (``/hub/maps/``, jhub_admin_service/classroom/maps.py) instead of
public CDNs that a school's filter blocks, and their tiles from the school's tile server when
JHUB_MAP_TILES is set.

folium is changed when a notebook imports it (an import hook): a kernel that draws no map pays
nothing. This file runs in the kernel's own Python (apart from the hub's), so it imports only
the standard library.
"""
import functools
import json
import os
import sys
import warnings

ASSETS = "/opt/jhub-admin/maps/assets.json"
FRENCH = os.environ.get("LANG", "fr").startswith("fr")
#: What branca writes under a map, seen when the map does not load.
TRUST_NOTE = "Make this Notebook Trusted to load map: File -> Trust Notebook"
TRUST_NOTE_FR = "Si la carte ne s’affiche pas, exécutez de nouveau la cellule."
#: folium.Map's tiles: its seventh parameter.
TILES_POSITION = 6


def local_urls() -> dict:
    """{folium's name of a file: its address on this hub}, {} when the image has none."""
    try:
        with open(ASSETS, encoding="utf-8") as f:
            assets = json.load(f)
    except (OSError, ValueError):
        return {}
    prefix = os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/maps/"
    return {name: prefix + path for name, path in assets.items()}


def patch_folium(module) -> None:
    urls = local_urls()
    for attr in ("default_js", "default_css"):
        setattr(module.Map, attr, [(name, urls.get(name, url)) for name, url in getattr(module.Map, attr)])
    tiles = os.environ.get("JHUB_MAP_TILES")
    if tiles:
        attribution = os.environ.get("JHUB_MAP_ATTRIBUTION") or "© OpenStreetMap"
        original = module.Map.__init__

        @functools.wraps(original)
        def __init__(self, *args, **kwargs):
            if len(args) <= TILES_POSITION and "tiles" not in kwargs:  # the school's by default
                kwargs["tiles"], kwargs["attr"] = tiles, kwargs.get("attr") or attribution
            original(self, *args, **kwargs)

        module.Map.__init__ = __init__


def patch_branca(module) -> None:
    if not FRENCH:
        return
    original = module.Figure._repr_html_

    @functools.wraps(original)
    def _repr_html_(self, **kwargs):
        return original(self, **kwargs).replace(TRUST_NOTE, TRUST_NOTE_FR)

    module.Figure._repr_html_ = _repr_html_


class AfterImport:
    """A finder of sys.meta_path that lets the others find a module, then has it patched once
    its code has run."""

    def __init__(self, patches: dict):
        self.patches = patches

    def find_spec(self, name, path=None, target=None):
        if name not in self.patches:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if finder is not self and find else None
            if spec is not None and spec.loader is not None:
                break
        else:
            return None
        run = getattr(spec.loader, "exec_module", None)
        if run is None:
            return None
        spec.loader = PatchingLoader(spec.loader, self.patches.pop(name))
        return spec


class PatchingLoader:
    """A module's own loader, then the patch; a patch that fails (another folium) leaves the
    module as its authors made it, with a warning: never a broken import."""

    def __init__(self, loader, patch):
        self.loader, self.patch = loader, patch

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        try:
            self.patch(module)
        except Exception as exc:  # noqa: BLE001
            warnings.warn(f"jhub_offline_maps: {module.__name__} left as it is ({exc!r})")

    def __getattr__(self, name):  # get_resource_reader, is_package...: the module's own loader's
        return getattr(self.loader, name)


def load_ipython_extension(ipython) -> None:
    if not any(isinstance(finder, AfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, AfterImport({"folium.folium": patch_folium, "branca.element": patch_branca}))
