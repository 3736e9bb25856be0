""""(view feedback)" in the Assignment List opens the feedback page: a Jupyter Server extension of
every server (both profiles).

nbgrader's Assignment List (its JupyterLab extension) answers that click with
``filebrowser:go-to-path`` on the feedback's folder: the student lands in a folder of HTML files,
named by a timestamp, and must find and open the right one. A small script, put into JupyterLab's
and Notebook's pages as they leave the server, catches the click and opens
``<base_url>jhub-admin/feedback?timestamp=...`` in a new tab instead. That route finds the feedback
of that submission in the server's root folder (``[course/]assignment/feedback/<timestamp>/``)
and redirects to its page (``files/``), or lists the pages when the assignment has several
notebooks. No file of nbgrader's is changed.
"""
import glob
import html
import os
from urllib.parse import quote

from .. import page_script

SERVER_EXTENSION = __name__
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
SCRIPT = "view-feedback.js"
#: Where nbgrader puts a fetched feedback, under the root folder: with the course's folder
#: (``Exchange.path_includes_course``) or without.
FEEDBACK_FOLDERS = ("*/*/feedback/{timestamp}", "*/feedback/{timestamp}")


class BadTimestamp(ValueError):
    pass


def feedback_pages(root: str, timestamp: str) -> list:
    """The feedback pages of the submission made at timestamp, as paths relative to root."""
    if not timestamp or "/" in timestamp or "\\" in timestamp or "\0" in timestamp or timestamp.startswith("."):
        raise BadTimestamp(timestamp)
    pages = []
    for pattern in FEEDBACK_FOLDERS:
        folder = pattern.format(timestamp=glob.escape(timestamp))
        pages += sorted(glob.glob(os.path.join(glob.escape(root), folder, "*.html")))
    return [os.path.relpath(page, root) for page in pages]


def page_list(base_url: str, pages: list, french: bool) -> str:
    title = "Retours de votre enseignant" if french else "Your teacher's feedback"
    links = "".join(f'<li><a href="{html.escape(files_url(base_url, p))}">{html.escape(os.path.basename(p))}</a></li>'
                    for p in pages)
    return small_page(title, f"<ul>{links}</ul>", french)


def nothing_fetched(french: bool) -> str:
    if french:
        return small_page("Pas encore de retour", "<p>Le retour de ce rendu n'est pas encore récupéré\u00a0: cliquez "
                          "d'abord sur «\u00a0Récupérer les retours\u00a0» dans la liste des devoirs.</p>", True)
    return small_page("No feedback yet", "<p>The feedback of this submission is not fetched yet: press "
                      "“Fetch Feedback” in the Assignment List first.</p>", False)


def small_page(title: str, body: str, french: bool) -> str:
    return (f'<!DOCTYPE html><html lang="{"fr" if french else "en"}"><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>{body}</html>")


def prefers_french(accept_language: str) -> bool:
    """French unless the browser's first language is another (the product speaks French first)."""
    first = accept_language.split(",")[0].strip().lower()
    return not first or first.startswith("fr")


def files_url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/files/" + quote(path)


def script_tag(base_url: str) -> bytes:
    return page_script.script_tag(f"{base_url.rstrip('/')}/jhub-admin/feedback/static/{SCRIPT}", base_url=base_url)


def _jupyter_server_extension_points():
    return [{"module": SERVER_EXTENSION}]


def _load_jupyter_server_extension(serverapp):
    from jupyter_server.auth.decorator import authorized
    from jupyter_server.base.handlers import JupyterHandler
    from tornado import web

    webapp = serverapp.web_app
    base_url = webapp.settings.get("base_url", "/")
    # The pages that show the Assignment List: JupyterLab's and Notebook's file tree.
    app_pages = tuple(base_url.rstrip("/") + "/" + page for page in ("lab", "tree"))
    tag = script_tag(base_url)

    class FeedbackHandler(JupyterHandler):
        auth_resource = "contents"  # it reads the home's files: a token that may not read them is refused

        @web.authenticated
        @authorized
        def get(self):
            french = prefers_french(self.request.headers.get("Accept-Language", ""))
            try:
                pages = feedback_pages(serverapp.root_dir, self.get_argument("timestamp", ""))
            except BadTimestamp:
                raise web.HTTPError(400, "not a submission's timestamp") from None
            if len(pages) == 1:
                self.redirect(files_url(base_url, pages[0]))
                return
            self.set_status(200 if pages else 404)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(page_list(base_url, pages, french) if pages else nothing_fetched(french))

    def app_page(request):
        path = request.path.rstrip("/")
        return any(path == page or path.startswith(page + "/") for page in app_pages)

    prefix = base_url.rstrip("/") + "/jhub-admin/feedback"
    webapp.add_handlers(".*$", [
        (prefix, FeedbackHandler),
        (prefix + r"/static/(.*)", web.StaticFileHandler, {"path": STATIC}),
    ])
    webapp.add_transform(page_script.script_transform(app_page, tag))
    serverapp.log.info("jhub-admin: '(view feedback)' opens the feedback page (%s)", prefix)


load_jupyter_server_extension = _load_jupyter_server_extension
