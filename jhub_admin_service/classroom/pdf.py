"""PDF export through Debian's headless Chromium: "Save and Export Notebook As -> PDF".

nbconvert's own routes cost more than they give here: its LaTeX route needs TeX Live and pandoc
(about 630 MB) and drops HTML outputs (a folium map, a turtle drawing); its webpdf route needs
Playwright's own browser, which it downloads. This exporter renders the notebook as nbconvert's
webpdf HTML (formulas by the MathJax that Debian ships, no network), then asks Chromium to print
it. It is registered as nbconvert's ``pdf`` exporter for the users' servers (see
docs/classroom.md: its entry point comes first on their path).

It runs in the user's server, as the user: Chromium's own sandbox needs privileges that a
container does not give, so it runs without it, on the user's own notebook only.
"""
import os
import subprocess
import tempfile

from nbconvert.exporters import HTMLExporter
from traitlets import Integer, List, Unicode, default

#: Debian's libjs-mathjax: formulas are typeset with no network.
LOCAL_MATHJAX = "/usr/share/javascript/mathjax/MathJax.js"


class ChromiumPDFExporter(HTMLExporter):
    """A notebook as PDF, printed by headless Chromium from nbconvert's HTML."""

    export_from_notebook = "PDF"
    output_mimetype = "application/pdf"

    chromium = Unicode("/usr/bin/chromium-headless-shell", help="Chromium's headless shell.").tag(config=True)
    chromium_args = List(Unicode(), ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                     "--no-pdf-header-footer", "--allow-file-access-from-files",
                                     "--disable-background-networking", "--disable-component-update",
                                     "--disable-sync", "--virtual-time-budget=15000",
                                     # No network: a notebook's JavaScript may read the user's own
                                     # files (MathJax needs file access), but can send them nowhere.
                                     "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"],
                         help="Chromium's arguments before --print-to-pdf.").tag(config=True)
    timeout = Integer(120, help="Seconds Chromium may take to print one notebook.").tag(config=True)

    @default("file_extension")
    def _file_extension_default(self):
        return ".pdf"

    @default("template_name")
    def _template_name_default(self):
        return "webpdf"

    @default("mathjax_url")
    def _mathjax_url_default(self):
        return f"file://{LOCAL_MATHJAX}?config=TeX-AMS_CHTML-full,Safe"

    def from_notebook_node(self, nb, resources=None, **kw):
        html, resources = super().from_notebook_node(nb, resources=resources, **kw)
        with tempfile.TemporaryDirectory(prefix="jhub-pdf-") as tmp:
            page, pdf = os.path.join(tmp, "notebook.html"), os.path.join(tmp, "notebook.pdf")
            with open(page, "w", encoding="utf-8") as f:
                f.write(html)
            proc = subprocess.run([self.chromium, *self.chromium_args, f"--user-data-dir={tmp}/profile",
                                   f"--print-to-pdf={pdf}", f"file://{page}"],
                                  capture_output=True, text=True, timeout=self.timeout, cwd=tmp,
                                  env={**os.environ, "HOME": tmp})
            if proc.returncode != 0 or not os.path.exists(pdf):
                raise RuntimeError(f"Chromium could not print the notebook ({proc.returncode}): "
                                   f"{proc.stderr.strip()[-1000:]}")
            with open(pdf, "rb") as f:
                data = f.read()
        resources["output_extension"] = ".pdf"
        return data, resources
