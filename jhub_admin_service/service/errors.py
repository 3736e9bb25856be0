"""The service's one table from the engine's exceptions to HTTP statuses and messages.

Handlers let these exceptions go: ``base.AdminAuthMixin.write_error`` answers them with the
status of the table and the message in the admin's language (English for API scripts). Pages
that show a refusal on the same page (a flash message) ask :func:`http_error` for it. The
sidecar keeps its own table (``sidecar/app.py``), for its own API.
"""
import asyncio
from typing import Optional

from tornado import web

from ..accounts.engine import AccountError
from ..accounts.roster import RosterError
from ..classroom.kernel_packages import KernelPackagesError, SiteListRefused
from ..courses.rules import CourseError
from ..jobs import JobConflict
from ..locks import Busy
from ..sidecar.client import SidecarError
from ..year.close import YearCloseError


def sidecar_status(exc: SidecarError) -> int:
    """The sidecar's own status when it is an HTTP error; 502 when it did not answer."""
    return exc.status if 400 <= exc.status < 600 and exc.status != 599 else 502


def sidecar_message(handler, exc: SidecarError) -> str:
    """The sidecar's answer in the admin's language when it is a known refusal."""
    _ = handler._
    if exc.code == "busy":
        return _("An export or a restore is running; try again when it is finished.")
    if exc.code == "volume_in_use":
        return _("A full restore replaces volumes in use by running containers "
                 "(%(containers)s): it is done from a shell on the server, with the hub "
                 "stopped, with the commands below. One user's home can be restored from "
                 "here.") % {"containers": ", ".join(exc.detail.get("containers") or [])}
    return _("The export sidecar refused or failed: %(error)s") % {"error": exc.message}


def timeout_message(handler, exc: asyncio.TimeoutError) -> str:
    return handler._("The export sidecar does not answer: %(error)s") % {"error": exc or "timeout"}


def engine_message(handler, exc: Exception) -> str:
    return handler.engine_text(str(exc))


#: (exception, HTTP status or status(exc), message(handler, exc)), the first that matches wins.
ERRORS = (
    (Busy, 409, engine_message),
    (JobConflict, 409, engine_message),
    (RosterError, 400, engine_message),
    (AccountError, 400, engine_message),
    (CourseError, 400, engine_message),
    (SiteListRefused, 400, engine_message),
    (YearCloseError, 400, engine_message),
    (KernelPackagesError, 500, engine_message),
    (SidecarError, sidecar_status, sidecar_message),
    (asyncio.TimeoutError, 504, timeout_message),
)


def http_error(handler, exc: BaseException) -> Optional[web.HTTPError]:
    """The HTTP error that answers exc, or None when it is not an expected refusal."""
    if isinstance(exc, web.HTTPError):
        return exc
    for kind, status, message in ERRORS:
        if isinstance(exc, kind):
            code = status(exc) if callable(status) else status
            return web.HTTPError(code, message(handler, exc))
    return None
