"""PDF export through Debian's headless Chromium: "Save and Export Notebook As -> PDF".

nbconvert's own routes cost more than they give here: its LaTeX route needs TeX Live and pandoc
(about 630 MB) and drops HTML outputs (a folium map, a turtle drawing); its webpdf route needs
Playwright's own browser, which it downloads. This exporter renders the notebook as nbconvert's
lab HTML (formulas by the MathJax that Debian ships, no network), then asks Chromium to print
it. It is registered as nbconvert's ``pdf`` exporter for the users' servers (see
docs/classroom.md: its entry point comes first on their path).

It runs in the user's server, as the user who exports, on a notebook that may be someone else's
(a teacher prints a collected submission). Chromium's own sandbox needs privileges that a
container does not give, so the print is contained by other means (docs/security.md):
- the page is served over HTTP by this process, from a random path on 127.0.0.1, with MathJax
  and nothing else: a page that is not a file:// page can neither read nor open a local file;
- a Content-Security-Policy lets only the exporter's scripts run (a nonce per print); the
  notebook's own scripts and event handlers never do (classroom/pdf_printable.py says what
  prints in their place);
- Chromium's network goes to a dead proxy, except that one address; host names resolve to
  nothing; WebRTC may not use UDP.
"""
import http.server
import mimetypes
import os
import secrets
import subprocess
import tempfile
import threading
from contextlib import contextmanager

from nbconvert.exporters import HTMLExporter
from traitlets import Integer, List, Unicode, default

from .pdf_printable import printable_notebook

#: Debian's libjs-mathjax: formulas are typeset with no network.
LOCAL_MATHJAX = "/usr/share/javascript/mathjax"
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pdf_template")


def content_policy(nonce: str) -> str:
    """Scripts: the nonce's, and what they load (MathJax's parts). Nothing may be fetched, framed
    or embedded; pictures only from the page itself (data: URLs)."""
    return ("default-src 'none'; "
            f"script-src 'nonce-{nonce}' 'strict-dynamic'; "
            "style-src 'self' 'unsafe-inline'; img-src data:; font-src 'self' data:; "
            "base-uri 'none'; form-action 'none'")


class PageServer(http.server.ThreadingHTTPServer):
    """Serves one page and MathJax under a random path, to this print's Chromium only."""

    daemon_threads = True

    def __init__(self, page: bytes, mathjax_root: str):
        self.page, self.mathjax_root = page, os.path.realpath(mathjax_root)
        self.prefix = "/" + secrets.token_urlsafe(24)
        super().__init__(("127.0.0.1", 0), PageRequest)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{self.prefix}"

    def lookup(self, path: str):
        """(bytes, content type) for a path of this print, else None."""
        path = path.split("?", 1)[0]
        if path == self.prefix + "/notebook.html":
            return self.page, "text/html; charset=utf-8"
        if not path.startswith(self.prefix + "/mathjax/"):
            return None
        wanted = os.path.realpath(os.path.join(self.mathjax_root, path[len(self.prefix + "/mathjax/"):]))
        if not wanted.startswith(self.mathjax_root + os.sep) or not os.path.isfile(wanted):
            return None
        with open(wanted, "rb") as f:
            return f.read(), mimetypes.guess_type(wanted)[0] or "application/octet-stream"


class PageRequest(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        found = self.server.lookup(self.path)
        if found is None:
            self.send_error(404)
            return
        body, content_type = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):  # the user's server log is not the place for MathJax's files
        pass


@contextmanager
def served(page: bytes, mathjax_root: str):
    server = PageServer(page, mathjax_root)
    thread = threading.Thread(target=server.serve_forever, name="pdf-page", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def chromium_environment(home: str) -> dict:
    """Not the server's: it holds the user's API token, which Chromium has no use for."""
    keep = {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "TZ") if name in os.environ}
    return {**keep, "HOME": home}


class ChromiumPDFExporter(HTMLExporter):
    """A notebook as PDF, printed by headless Chromium from nbconvert's HTML."""

    export_from_notebook = "PDF"
    output_mimetype = "application/pdf"

    chromium = Unicode("/usr/bin/chromium-headless-shell", help="Chromium's headless shell.").tag(config=True)
    chromium_args = List(Unicode(), ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                     "--no-pdf-header-footer", "--disable-background-networking",
                                     "--disable-component-update", "--disable-sync",
                                     "--virtual-time-budget=15000",
                                     # No network but the page's own address (added per print).
                                     "--proxy-server=127.0.0.1:9",
                                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                                     "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
                                     "--webrtc-ip-handling-policy=disable_non_proxied_udp"],
                         help="Chromium's arguments before --print-to-pdf.").tag(config=True)
    mathjax_root = Unicode(LOCAL_MATHJAX, help="The MathJax 2 folder served to the page.").tag(config=True)
    timeout = Integer(120, help="Seconds Chromium may take to print one notebook.").tag(config=True)

    @default("file_extension")
    def _file_extension_default(self):
        return ".pdf"

    @default("template_name")
    def _template_name_default(self):
        return "jhub_pdf"

    @default("extra_template_basedirs")
    def _extra_template_basedirs_default(self):
        return [TEMPLATES]  # not the working folder: a user's folder holds no template of ours

    def from_notebook_node(self, nb, resources=None, **kw):
        nonce = secrets.token_urlsafe(18)
        resources = dict(resources or {})
        resources["jhub_pdf"] = {"nonce": nonce, "policy": content_policy(nonce),
                                 "mathjax": "mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"}
        html, resources = super().from_notebook_node(printable_notebook(nb), resources=resources, **kw)
        with tempfile.TemporaryDirectory(prefix="jhub-pdf-") as tmp, \
                served(html.encode("utf-8"), self.mathjax_root) as server:
            pdf = os.path.join(tmp, "notebook.pdf")
            proc = subprocess.run([self.chromium, *self.chromium_args,
                                   f"--proxy-bypass-list=<-loopback>;127.0.0.1:{server.server_address[1]}",
                                   f"--user-data-dir={tmp}/profile", f"--print-to-pdf={pdf}",
                                   f"{server.base}/notebook.html"],
                                  capture_output=True, text=True, timeout=self.timeout, cwd=tmp,
                                  env=chromium_environment(tmp))
            if proc.returncode != 0 or not os.path.exists(pdf):
                raise RuntimeError(f"Chromium could not print the notebook ({proc.returncode}): "
                                   f"{proc.stderr.strip()[-1000:]}")
            with open(pdf, "rb") as f:
                data = f.read()
        resources["output_extension"] = ".pdf"
        return data, resources
