"""Base handlers of the admin service: admins only, XSRF on every state change, French first.

Every page and API handler of the service (and of plugged page modules) derives from
:class:`BaseHandler` (HTML pages) or :class:`APIHandler` (JSON). Both:

- authenticate through the hub (``HubOAuthenticated``: OAuth cookie, or an ``Authorization:
  token ...`` header carrying a hub API token);
- accept only hub users whose model has ``admin: true`` (:meth:`check_hub_user`); anybody else
  gets 403, on every URL;
- check the XSRF token of every request that is not a top-level page view (``_xsrf`` form field
  or ``X-XSRFToken`` header), except for requests authenticated by an ``Authorization`` header
  (API scripts: a token cannot be sent by a foreign page). The token is never in a cookie: see
  isolation.py for why a student's page, opened by an admin, can neither read nor forge it;
- pick French or English from the browser (``Accept-Language``), French by default.
"""
import datetime
import functools
import hmac
import json
import logging
import traceback
from http.client import responses
from types import TracebackType
from typing import TYPE_CHECKING, Any, Awaitable, Optional, Union
from urllib.parse import quote, urlencode

import tornado.locale
from babel.numbers import format_decimal
from babel.units import format_unit
from jupyterhub.services.auth import HubOAuthenticated, UserNotAllowed
from jupyterhub.utils import url_path_join
from tornado import web

from . import errors, i18n, isolation

if TYPE_CHECKING:
    from .context import ServiceContext

log = logging.getLogger("jhub_admin_service.service")

FLASH_COOKIE = "jhub-admin-flash"


class AdminAuthMixin(HubOAuthenticated):
    """Admin-only authentication and XSRF, for any tornado RequestHandler subclass."""

    #: Set by handlers that read their body in a streaming way (uploads): the body is not
    #: parsed in prepare(), so they call ``self.check_xsrf()`` themselves once it is.
    deferred_xsrf = False
    #: JSON errors and no redirection to the login page.
    is_api = False

    _refused_user = None
    _xsrf_refusal = None
    #: The admin service's pages are for the hub's admins only; the password page is for everyone.
    admins_only = True
    #: What anyone else is told (403).
    refusal_message = "This service is reserved to the hub's administrators."

    # Authentication

    def check_hub_user(self, model: dict) -> dict:
        """The hub's own access check (``access:services``), then the admin field itself."""
        model = super().check_hub_user(model)
        if model.get("kind", "user") != "user" or (self.admins_only and not model.get("admin")):
            self._refused_user = model.get("name")
            raise UserNotAllowed(model)
        return model

    @property
    def token_authenticated(self) -> bool:
        """Authenticated by an ``Authorization`` header (not by the OAuth cookie)."""
        return bool(getattr(self, "_token_authenticated", False)
                    and self.request.headers.get("Authorization"))

    def authenticate(self) -> Optional[str]:
        """Raise 403 for anyone but an admin; return the login URL when one must log in first."""
        user = self.current_user
        if user is None:
            if self._refused_user or self.request.headers.get("Authorization"):
                raise web.HTTPError(403, self.refusal_message)
            if self._xsrf_refusal:
                raise web.HTTPError(403, self._xsrf_refusal)
            if self.is_api or isolation.needs_xsrf(self.request):
                # Only a page view goes to the login page: a script's request is refused.
                raise web.HTTPError(403, "Not authenticated: log in on the hub first.")
            return self.get_login_url()
        return None

    async def prepare(self) -> None:
        login_url = self.authenticate()
        if login_url:
            self.redirect(login_url)
            return
        if not self.deferred_xsrf:
            self.check_xsrf()

    # XSRF (see isolation.py). The hub's cookie authentication calls check_xsrf_cookie() before
    # it accepts the cookie; a failure there only records why, so that the answer can say it
    # (check_xsrf, once the user is known) instead of sending an admin to the login page.

    def expected_xsrf_token(self) -> bytes:
        session = self.get_secure_cookie(self.hub_auth.cookie_name) or b""
        return isolation.xsrf_token_for(self.application.settings["cookie_secret"], session)

    @property
    def xsrf_token(self) -> bytes:
        """The token written into pages (forms, the meta tag of the service's scripts): only into an
        answer to an admin whose request passed the checks. An error page answered to a script's
        read, or to anyone not let in, must not carry it."""
        if getattr(self, "_current_user", None) and self._xsrf_refusal is None:
            return self.expected_xsrf_token()
        return b""

    def check_xsrf_cookie(self) -> None:
        self._xsrf_refusal = None
        if self.token_authenticated or not isolation.needs_xsrf(self.request):
            return
        token = (self.get_argument("_xsrf", None) or self.request.headers.get("X-XSRFToken")
                 or self.request.headers.get("X-CSRFToken"))
        if not token:
            self._xsrf_refusal = "XSRF token missing: reload the page and try again."
        elif not hmac.compare_digest(token.encode("utf-8", "replace"), self.expected_xsrf_token()):
            self._xsrf_refusal = "XSRF token invalid: reload the page and try again."

    def check_xsrf(self) -> None:
        self.check_xsrf_cookie()
        if self._xsrf_refusal and not self.token_authenticated:
            raise web.HTTPError(403, self._xsrf_refusal)

    # Errors: the engine's refusals (errors.ERRORS) are answered with their status and message

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if exc is not None and not isinstance(exc, web.HTTPError):
            refusal = errors.http_error(self, exc)
            if refusal is not None:
                kwargs["exc_info"] = (type(refusal), refusal, None)
                status_code = refusal.status_code
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ: Optional[type], value: Optional[BaseException],
                      tb: Optional[TracebackType]) -> None:
        if not isinstance(value, web.HTTPError) and errors.http_error(self, value) is not None:
            log.warning("%s %s refused: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)

    # Locale

    def get_browser_locale(self, default: str = i18n.DEFAULT_LANGUAGE) -> tornado.locale.Locale:
        return super().get_browser_locale(default)

    def _(self, message, plural=None, count=None):
        return i18n.translate(self.locale, message, plural, count)

    def engine_text(self, message: object) -> str:
        """An English message of the engine (rejection reason, file error), translated."""
        return i18n.translate_engine(self.locale, str(message))

    # Context

    @property
    def ctx(self) -> "ServiceContext":
        """The service's shared state: see context.ServiceContext."""
        return self.settings["jhub_admin"]

    @property
    def prefix(self) -> str:
        return self.ctx.prefix

    def url(self, *parts: object, **query: Any) -> str:
        """An absolute path under the service's prefix, e.g. self.url("accounts", page=2)."""
        path = url_path_join(self.prefix, *[str(p) for p in parts]) if parts else self.prefix
        query = {k: v for k, v in query.items() if v not in (None, "")}
        return path + ("?" + urlencode(query) if query else "")

    def back_to(self, argument: str, default: str, within: tuple = ()) -> str:
        """The page that a form's field names to go back to, if it is one of the service's own
        (under ``within``, else under the prefix; never another site's, "//host"), else default."""
        back = self.get_body_argument(argument, "")
        return back if back.startswith(within or (self.prefix,)) and "//" not in back else default

    def browser_address(self) -> str:
        """The hub's address as the admin's browser reaches it (the proxy keeps the Host header)."""
        return f"{self.request.protocol}://{self.request.host}{url_path_join(self.ctx.settings.hub_base_url, '')}"

    def slip_address(self) -> str:
        """The address printed on slips: set on the Settings page, else JHUB_ADMIN_PUBLIC_URL, else the
        browser's."""
        return self.ctx.preferences.public_url() or self.ctx.settings.hub_public_url or self.browser_address()

    @property
    def admin_name(self) -> str:
        return (self.current_user or {}).get("name", "")


class BaseHandler(AdminAuthMixin, web.RequestHandler):
    """An HTML page of the admin service. Render with :meth:`render_page`."""

    def get_template_namespace(self) -> dict:
        ns = super().get_template_namespace()
        ns.update(
            _=self._, engine_text=self.engine_text, url=self.url, prefix=self.prefix,
            hub_prefix=self.ctx.hub_prefix, nav=self.ctx.nav, user=self.current_user,
            lang=self.locale.code[:2], languages=i18n.LANGUAGES, active=getattr(self, "nav_key", ""),
            fmt_bytes=functools.partial(fmt_bytes, lang=self.locale.code[:2]), fmt_time=self.fmt_time, fmt_ago=self.fmt_ago, flash=self.pop_flash(),
            json_dumps=json.dumps, colon="\u00a0:" if self.locale.code.startswith("fr") else ":",
        )
        return ns

    async def send_attachment(self, path: str, filename: str, content_type: str) -> None:
        """The file as a download named filename, a MiB at a time (a home's ZIP can be large)."""
        self.set_header("Content-Type", content_type)
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(filename)}")
        self.set_header("Cache-Control", "no-store")
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                self.write(chunk)
                await self.flush()
        self.finish()

    def render_page(self, template: str, **namespace: Any) -> Awaitable[None]:
        """Render a template of service/templates (it extends layout.html)."""
        self.set_header("Cache-Control", "no-store")
        return self.render(template, **namespace)

    # Flash messages, shown once on the next page (after a POST/redirect)

    def flash(self, message: str, level: str = "success") -> None:
        self.set_signed_cookie(FLASH_COOKIE, json.dumps([level, message]), expires_days=None,
                               path=self.prefix, httponly=True)

    def pop_flash(self) -> Optional[dict]:
        if getattr(self, "_flash_popped", False):
            return self._flash
        self._flash_popped = True
        self._flash = None
        raw = self.get_signed_cookie(FLASH_COOKIE, max_age_days=1)
        if raw:
            self.clear_cookie(FLASH_COOKIE, path=self.prefix)
            try:
                level, message = json.loads(raw)
                self._flash = {"level": level, "message": message}
            except ValueError:
                pass
        return self._flash

    def fmt_time(self, value: Union[str, float, None]) -> str:
        """A timestamp (epoch seconds or ISO 8601) as a local date and time."""
        if value in (None, "", 0):
            return "—"
        try:
            if isinstance(value, str):
                when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            else:
                when = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
        except (ValueError, OverflowError, OSError):
            return str(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        when = when.astimezone()
        return when.strftime("%d/%m/%Y %H:%M") if self.locale.code.startswith("fr") else when.strftime(
            "%Y-%m-%d %H:%M")

    def fmt_ago(self, value: Any) -> str:
        """How long ago an ISO timestamp was, e.g. '12 min'."""
        if not value:
            return "—"
        try:
            when = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return str(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        minutes = int((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds() // 60)
        if minutes < 60:
            return self._("%(n)d min") % {"n": max(minutes, 0)}
        if minutes < 48 * 60:
            return self._("%(n)d h") % {"n": minutes // 60}
        return self._("%(n)d days") % {"n": minutes // 1440}

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        if self.settings.get("serve_traceback") and "exc_info" in kwargs:
            message += "\n" + "".join(traceback.format_exception(*kwargs["exc_info"]))
        try:
            self.render("error.html", status_code=status_code, title=responses.get(status_code, "Error"),
                        message=self.engine_text(message))
        except Exception:  # the error page itself failed: plain text
            log.exception("error page")
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(f"{status_code}: {message}")


class APIHandler(AdminAuthMixin, web.RequestHandler):
    """A JSON endpoint under PREFIX/api/. Errors come back as {"error": message, "status": code},
    in English, the engine's own words, which scripts can match."""

    is_api = True

    def _(self, message, plural=None, count=None):
        return plural if plural is not None and count is not None and count != 1 else message

    def engine_text(self, message: object) -> str:
        return str(message)

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data, ensure_ascii=False, indent=1))

    def json_body(self) -> dict:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except ValueError:
            raise web.HTTPError(400, "The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise web.HTTPError(400, "The request body must be a JSON object.")
        return data

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"status": status_code, "error": message}, ensure_ascii=False))


#: CLDR's units (babel): "1,5 Go" and "512 Mo" in French, "1.5 GB" in English.
BYTE_UNITS = ("digital-byte", "digital-kilobyte", "digital-megabyte", "digital-gigabyte", "digital-terabyte")


def fmt_bytes(n: Optional[float], lang: str = "en") -> str:
    """A size in the reader's language, in steps of 1024: "1,5 Go" (fr), "1.5 GB" (en)."""
    if n is None:
        return "—"
    n, step = float(n), 0
    while abs(n) >= 1024 and step < len(BYTE_UNITS) - 1:
        n, step = n / 1024, step + 1
    if step == 0 and not lang.startswith("fr"):  # CLDR's English short unit is "byte", singular
        return f"{format_decimal(n, format='#,##0', locale=lang)} B"
    return format_unit(n, BYTE_UNITS[step], length="short", locale=lang, format="#,##0" if step == 0 else "#,##0.#")
