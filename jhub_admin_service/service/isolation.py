"""Keep users' servers from acting on the service through an admin's browser.

Without subdomains every user's server shares the hub's origin. A page that a student's server
sends runs, when an admin opens it to help, with the admin's cookies, and the same-origin policy
protects nothing: such a page can change its own path with ``history.pushState`` and read the
cookies of any path, ``fetch`` any page, or open one in a frame or a window and read it. The
service therefore:

- never puts its XSRF token in a cookie: the token is an HMAC of the service's OAuth cookie,
  which is HttpOnly, so only a page the service itself sent carries it (:func:`xsrf_token_for`);
- asks that token of every request that is not a top-level page view, reads included, so a
  ``fetch`` of a page from another page is refused (:func:`needs_xsrf`);
- forbids framing, and severs the link between its pages and a window that opened them
  (:class:`IsolationHeaders`), so a page opened by a student's page cannot be read by it.

The hub gets the same treatment from hubpages.configure(): its XSRF cookie HttpOnly, its pages
isolated from their openers, and, since JupyterHub checks XSRF on its API and on changes but not
on page views (which carry its token), its HTML pages refused to scripts (:class:`PagesForTabsOnly`).
"""
import base64
import hashlib
import hmac

from tornado import httputil, web

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

#: Sent with every response of the service, error pages and redirections included.
ISOLATION_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def needs_xsrf(request: httputil.HTTPServerRequest) -> bool:
    """Whether a cookie-authenticated request must carry the XSRF token.

    Only a top-level page view goes without: a GET whose ``Sec-Fetch-Mode`` is ``navigate`` into
    a document or into a download (``Sec-Fetch-Dest: empty``, a link with ``download``: the file
    goes to the disk, not to a script), never into a frame; or a client that sends no fetch
    metadata at all (command-line tools; every current browser sends it). A same-origin
    ``no-cors`` GET (an image, a style sheet) gives its reader nothing and goes too."""
    if request.method not in SAFE_METHODS:
        return True
    mode = request.headers.get("Sec-Fetch-Mode", "")
    dest = request.headers.get("Sec-Fetch-Dest", "")
    if mode == "":
        return False
    if mode == "navigate":
        return dest not in ("", "document", "empty")
    return not (mode == "no-cors" and request.headers.get("Sec-Fetch-Site") == "same-origin"
                and dest not in ("iframe", "frame", "embed", "object"))


def xsrf_token_for(cookie_secret: bytes, session_cookie: bytes) -> bytes:
    """The XSRF token of one OAuth session: derived from the HttpOnly session cookie."""
    digest = hmac.new(cookie_secret, b"jhub-admin-xsrf\0" + session_cookie, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=")


class IsolationHeaders(web.OutputTransform):
    """Adds :data:`ISOLATION_HEADERS` to every response of the application, whatever handler
    (pages, OAuth callback, static files, errors) wrote it."""

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        for name, value in ISOLATION_HEADERS.items():
            headers.setdefault(name, value)
        return status_code, headers, chunk


class PagesForTabsOnly(web.OutputTransform):
    """An HTML page is answered to a browser tab only: a script's read of one (a ``fetch`` from
    another page) gets an empty 403 instead, whatever handler made the page. JSON, event
    streams and files go through unchanged. Pages are not kept by the browser (``no-store``) and
    carry no Etag: otherwise a script's read would be answered "304 Not Modified" and served from
    the copy that the tab left in the browser's cache."""

    REFUSAL = b"403: the pages of this site are for a browser tab, not for scripts.\n"

    def __init__(self, request: httputil.HTTPServerRequest):
        self.script_read = request.method in SAFE_METHODS and needs_xsrf(request)
        self.refused = False

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        page = headers.get("Content-Type", "").startswith("text/html")
        if page:
            headers["Cache-Control"] = "no-store"
            headers.pop("Etag", None)
        self.refused = self.script_read and page
        if not self.refused:
            return status_code, headers, chunk
        headers["Content-Type"] = "text/plain; charset=UTF-8"
        headers.pop("Etag", None)
        headers["Content-Length"] = str(len(self.REFUSAL))
        return 403, headers, self.REFUSAL

    def transform_chunk(self, chunk, finishing):
        return b"" if self.refused else chunk
