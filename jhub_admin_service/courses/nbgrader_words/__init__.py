"""nbgrader's words in French: a Jupyter Server extension of every server (both profiles).

nbgrader 0.9 has no translation hook: its JupyterLab extension (Assignment List, Validate,
Create Assignment, Course List, the Nbgrader menu) and its Formgrader write their English into
the page. A script of this extension (static/nbgrader-words.js), put into JupyterLab's,
Notebook's and the Formgrader's pages as they leave the server, replaces each known text by
its French as it appears, when the page speaks French: JupyterLab's language (``<html lang>``,
set from its language setting), or for a Formgrader page opened on its own, the browser's.
Only nbgrader's parts of a page are touched, never a notebook's content or a file's name.

The words are a catalogue of this package (``catalogue/fr.json``): exact texts, and patterns
for texts with a name or a number. No file of nbgrader's is changed or copied: an nbgrader
upgrade stays one line, and the catalogue's test names any word that upgrade changed.
"""
import os

from .. import page_script

SERVER_EXTENSION = __name__
HERE = os.path.dirname(os.path.abspath(__file__))
STATIC = os.path.join(HERE, "static")
CATALOGUES = os.path.join(HERE, "catalogue")
SCRIPT = "nbgrader-words.js"
#: The application pages that show nbgrader's panels: JupyterLab, and Notebook 7's pages.
APP_PAGES = ("lab", "tree", "notebooks", "edit", "consoles", "terminals")
FORMGRADER = "formgrader"


def script_tag(base_url: str, page: str) -> bytes:
    prefix = f"{base_url.rstrip('/')}/jhub-admin/nbgrader-words"
    return page_script.script_tag(f"{prefix}/static/{SCRIPT}", page=page, catalogue=f"{prefix}/catalogue/fr.json")


def page_kind(path: str, base_url: str) -> str:
    """'app' for a JupyterLab or Notebook page, 'formgrader' for a Formgrader page, '' otherwise."""
    relative = path[len(base_url):] if path.startswith(base_url) else None
    if relative is None:
        return ""
    first, _, rest = relative.partition("/")
    if first in APP_PAGES:
        return "app"
    if first == FORMGRADER and not rest.startswith(("api/", "static/")):
        return "formgrader"
    return ""


def _jupyter_server_extension_points():
    return [{"module": SERVER_EXTENSION}]


def _load_jupyter_server_extension(serverapp):
    from tornado import web

    webapp = serverapp.web_app
    base_url = webapp.settings.get("base_url", "/")
    prefix = base_url.rstrip("/") + "/jhub-admin/nbgrader-words"

    for kind in ("app", "formgrader"):
        tag = script_tag(base_url, kind)
        webapp.add_transform(page_script.script_transform(
            lambda request, kind=kind: page_kind(request.path, base_url) == kind, tag))
    webapp.add_handlers(".*$", [
        (prefix + r"/static/(.*)", web.StaticFileHandler, {"path": STATIC}),
        (prefix + r"/catalogue/(.*)", web.StaticFileHandler, {"path": CATALOGUES}),
    ])
    serverapp.log.info("jhub-admin: nbgrader's words in French (%s)", prefix)


load_jupyter_server_extension = _load_jupyter_server_extension
