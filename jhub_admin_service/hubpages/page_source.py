"""The two English things that JupyterHub's page.html writes outside any template block: the
page's ``lang="en"`` and its ``<noscript>`` sentence. A browser reads both before any script
runs (a screen reader's voice, the offer to translate the page, a browser without JavaScript),
so they are put in the page's language as it is sent: an output transform on the hub's HTML
pages, which knows the request's Accept-Language as the templates do (translations.py).

A page whose source no longer holds these exact bytes (a JupyterHub upgrade that moved them) is
sent as it is: tests/service/test_hub_pages.py says so.
"""
import re
from types import SimpleNamespace

from tornado import escape, httputil, web

from ..service import i18n

HTML_LANG = b'<html lang="en">'
NOSCRIPT = re.compile(rb"(<div id=\"noscript\">)\s*JupyterHub requires JavaScript\.\s*<br>\s*"
                      rb"Please enable it to proceed\.\s*(</div>)")


def browser_locale(request: httputil.HTTPServerRequest):
    """The locale that a handler of this request would choose (tornado's own Accept-Language
    parsing, as ``RequestHandler.get_browser_locale``), French when the browser names neither."""
    return web.RequestHandler.get_browser_locale(SimpleNamespace(request=request), i18n.DEFAULT_LANGUAGE)


class PageLanguage(web.OutputTransform):
    def __init__(self, request: httputil.HTTPServerRequest):
        self.request = request

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        if not (finishing and headers.get("Content-Type", "").startswith("text/html") and HTML_LANG in chunk[:200]):
            return status_code, headers, chunk
        locale = browser_locale(self.request)
        chunk = chunk.replace(HTML_LANG, f'<html lang="{locale.code[:2]}">'.encode(), 1)
        words = i18n.translate(locale, "This hub needs JavaScript: turn it on in your browser to go on.")
        chunk = NOSCRIPT.sub(lambda m: m.group(1) + escape.xhtml_escape(words).encode() + m.group(2), chunk, count=1)
        if "Content-Length" in headers:
            headers["Content-Length"] = str(len(chunk))
        return status_code, headers, chunk
