"""One script of jhub-admin's put into some HTML pages of a Jupyter server as they leave it: how the
server extensions courses/grading (the Formgrader) and courses/feedback_view (JupyterLab's and
Notebook's pages) add to nbgrader's pages without changing or copying any of its files."""
import html
from typing import Callable

from tornado.web import OutputTransform


def script_tag(src: str, **data: str) -> bytes:
    """<script src=...> with data-* attributes (data-base-url for base_url=...)."""
    attributes = "".join(f' data-{name.replace("_", "-")}="{html.escape(value)}"' for name, value in data.items())
    return f'<script src="{html.escape(src)}"{attributes}></script>'.encode()


def with_script(page: bytes, tag: bytes) -> bytes:
    """The page with the script just before its end (at its end if it has no </body>)."""
    at = page.rfind(b"</body>")
    return page + tag if at < 0 else page[:at] + tag + page[at:]


def script_transform(applies: Callable[[object], bool], tag: bytes) -> type:
    """A tornado OutputTransform that puts tag into the whole (not streamed) 200 HTML answers to
    the GET requests for which applies(request) is true."""

    class PageScript(OutputTransform):
        def __init__(self, request):
            super().__init__(request)
            self.applies = request.method == "GET" and applies(request)

        def transform_first_chunk(self, status_code, headers, chunk, finishing):
            if self.applies and finishing and status_code == 200 and \
                    headers.get("Content-Type", "").startswith("text/html"):
                chunk = with_script(chunk, tag)
                if "Content-Length" in headers:
                    headers["Content-Length"] = str(len(chunk))
            return status_code, headers, chunk

    return PageScript
