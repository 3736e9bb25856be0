"""The admin-only JupyterHub managed service: ``python -m jhub_admin_service.service.app``.

JupyterHub starts it (see ``jupyterhub_config.py``) with ``JUPYTERHUB_SERVICE_URL``,
``JUPYTERHUB_SERVICE_PREFIX``, ``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_API_URL`` and the
``JHUB_ADMIN_*`` variables, all read by ``AdminSettings``. The service's own options are
traitlets (``AdminService``), as in jupyterhub-idle-culler: command-line
``--AdminService.max_upload_mb=10`` or a config file.

Handlers are thin: parse the request, call the operations (``operations.Operations``), render.
The engine's refusals become HTTP answers through one table (``errors.ERRORS``). The service
always starts, even when the hub, the registry or the sidecar are not usable yet: JupyterHub
treats a managed service that exits as a failure.

Pages
-----
The service is the list of page modules in :data:`PAGES`, imported statically (as JupyterHub's
``apihandlers`` list their ``default_handlers``): a page that does not import fails at once.
A page module exposes:

``routes(prefix) -> list``
    tornado routes, e.g. ``[(url_path_join(prefix, "courses"), CoursesHandler)]``. ``prefix`` is
    the service prefix with a trailing slash (``/services/jhub-admin/``). JSON endpoints go under
    ``url_path_join(prefix, "api", ...)``.
``NAV``
    its nav bar entries: ``[{"key": "courses", "label": N_("Courses"), "path": "courses",
    "order": 50}]``. ``label`` is an English msgid (translated per request), ``path`` is
    relative to the prefix, entries are sorted by ``order`` (dashboard 10, import 20,
    accounts 30, servers 40, kernel 45, courses 50, year 55, exports 60, restore points 62, ent 65,
    settings 70).
``async startup(ctx)`` (optional)
    run once after the service starts listening (``ctx`` is the :class:`ServiceContext`).

Handlers derive from ``base.BaseHandler`` (pages) or ``base.APIHandler`` (JSON). Both refuse
non-admins with 403 and check XSRF on every state-changing request (forms:
``{% raw xsrf_form_html() %}``; fetch: the ``X-XSRFToken`` header with the page's
``xsrf_token``). In a handler:

- ``self.ctx``: the :class:`ServiceContext` (``settings``, ``operations`` for changes,
  ``reads`` for reads and previews, ``hub``, ``jobs``, ``exports()``, ``prefix``, ``hub_prefix``);
- ``self._("msgid")`` translates; ``self.engine_text(msg)`` translates an engine message;
- ``self.url("accounts", page=2)`` builds a path under the prefix;
- ``self.flash(message, level)`` then ``self.redirect(...)`` shows a message once;
- ``self.render_page("courses.html", **values)``; set ``nav_key = "courses"`` on the handler
  to highlight its nav entry.

Templates are tornado templates in ``service/templates``; a page starts with
``{% extends "layout.html" %}`` and fills ``{% block title %}`` and ``{% block content %}``
(optionally ``{% block head %}`` and ``{% block scripts %}``). The namespace has ``_``, ``url``,
``prefix``, ``hub_prefix``, ``xsrf_form_html``, ``xsrf_token``, ``fmt_bytes``, ``fmt_time``,
``fmt_ago``, ``user``, ``lang``. Markup follows the hub's Bootstrap 5 stylesheet
(``{hub_prefix}static/css/style.min.css``), which the layout loads.
"""
import asyncio
import logging
import os
import secrets
import signal
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import web
from traitlets import Float, Integer, Unicode, default
from traitlets.config import Application

from ..hub import HubAPIError
from ..locks import Busy
from ..peers import ProxyHeadersServer
from ..settings import AdminSettings
from ..settings import load as load_settings
from . import (accounts_handlers, courses_handlers, dashboard_handlers, ent_handlers, exports_handlers, i18n,
               import_handlers, isolation, kernel_handlers, points_handlers, servers_handlers, settings_handlers,
               year_handlers)
from .base import BaseHandler
from .context import ServiceContext

log = logging.getLogger("jhub_admin_service.service")
HERE = os.path.dirname(os.path.abspath(__file__))

#: The service's pages, in the order of their nav entries.
PAGES = (dashboard_handlers, import_handlers, accounts_handlers, servers_handlers, kernel_handlers,
         courses_handlers, year_handlers, exports_handlers, points_handlers, ent_handlers, settings_handlers)


class AdminService(Application):
    name = "jhub-admin-service"
    description = "The admin-only JupyterHub service of jhub-admin."

    jobs_file = Unicode(help="Job state (no password), beside the registry.").tag(config=True)
    preferences_file = Unicode(help="What the admin sets on the Settings page (JSON), beside the registry.").tag(
        config=True)
    cookie_secret_file = Unicode(help="Cookie secret of the service, created once, mode 0600.").tag(config=True)
    max_upload_mb = Float(5.0, help="Largest class list accepted, in MB.").tag(config=True)
    credentials_ttl_hours = Float(24.0, help="Passwords of a job are forgotten after this, if not dismissed "
                                             "before.").tag(config=True)
    hub_wait_timeout = Integer(600, help="How long to wait for the hub before the start-up reconcile.").tag(
        config=True)
    classes = [AdminSettings]

    @default("log_level")
    def _log_level(self):
        return logging.INFO

    @property
    def settings(self) -> AdminSettings:
        if getattr(self, "_settings", None) is None:
            self._settings = load_settings(parent=self)
        return self._settings

    def _data_dir(self):
        return os.path.dirname(os.path.abspath(self.settings.registry_path))

    @default("jobs_file")
    def _jobs_file(self):
        return os.path.join(self._data_dir(), "jhub-admin-jobs.json")

    @default("preferences_file")
    def _preferences_file(self):
        return os.path.join(self._data_dir(), "jhub-admin-preferences.json")

    @default("cookie_secret_file")
    def _cookie_secret_file(self):
        return os.path.join(self._data_dir(), "jhub-admin-service-cookie-secret")

    def cookie_secret(self):
        """Kept on the data volume so that sessions survive a restart; random if unwritable."""
        path = self.cookie_secret_file
        try:
            with open(path, "rb") as f:
                secret = f.read().strip()
            if len(secret) >= 32:
                return secret
        except OSError:
            pass
        secret = secrets.token_hex(32).encode()
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secret)
        except OSError as exc:
            log.warning("cannot keep the cookie secret in %s (%s): sessions end at restart", path, exc)
        return secret

    def make_app(self) -> web.Application:
        i18n.load()
        self.ctx = ctx = ServiceContext(self, [entry for page in PAGES for entry in page.NAV])
        prefix = ctx.prefix
        handlers = [route for page in PAGES for route in page.routes(prefix)]
        handlers.append((url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler))
        if prefix != "/":
            handlers.append((prefix.rstrip("/"), web.RedirectHandler, {"url": prefix}))
        return web.Application(
            handlers,
            jhub_admin=ctx,
            cookie_secret=self.cookie_secret(),
            template_path=os.path.join(HERE, "templates"),
            login_url=url_path_join(prefix, "oauth_callback"),
            max_body_size=int(ctx.max_upload_bytes * 2 + 1024 * 1024),
            xsrf_cookies=False,  # checked by base.AdminAuthMixin.check_xsrf once the user is known
            xsrf_cookie_kwargs={"httponly": True},  # the hub's OAuth callback still sets one: unread
            transforms=[isolation.IsolationHeaders],
            autoescape="xhtml_escape",
            default_handler_class=NotFound,
        )

    async def startup(self):
        """After listening: the hub side of reconcile once the hub answers, then module hooks."""
        ctx = self.ctx
        for page in PAGES:
            if hasattr(page, "startup"):
                await page.startup(ctx)
        if not ctx.hub.configured:
            ctx.startup_report = {"state": "skipped", "message": "JupyterHub API not configured"}
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.hub_wait_timeout
        while True:
            try:
                await ctx.hub.request("GET", "/")
                break
            except HubAPIError as exc:
                if loop.time() > deadline:
                    ctx.startup_report = {"state": "failed", "message": f"JupyterHub did not answer: {exc}"}
                    log.error("start-up reconcile skipped: %s", exc)
                    return
                await asyncio.sleep(1)
        for attempt in range(30):
            try:
                report = await ctx.operations.reconcile(local=False, hub=True)
            except Busy:
                await asyncio.sleep(2)  # the CLI or an import holds the lock: try again
                continue
            except Exception as exc:
                log.exception("start-up reconcile failed")
                ctx.startup_report = {"state": "failed", "message": str(exc)}
                return
            ctx.startup_report = {"state": "done", "hub": report.hub, "warnings": report.warnings}
            log.info("start-up reconcile of the hub side: %s", report.hub)
            return
        ctx.startup_report = {"state": "failed", "message": "the registry stayed locked"}

    def start(self):
        logging.basicConfig(level=self.log_level, format="[%(levelname).1s %(asctime)s %(name)s] %(message)s")
        asyncio.run(self._serve())

    async def _serve(self):
        url = urlparse(self.settings.service_url)
        app = self.make_app()
        # Forwarded headers believed from the proxy only, not from a user's process (peers.py).
        ProxyHeadersServer(app).listen(url.port or 80, url.hostname or "127.0.0.1")
        log.info("jhub-admin service listening on %s, prefix %s", self.settings.service_url, self.ctx.prefix)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        startup = asyncio.ensure_future(self.startup())
        await stop.wait()
        startup.cancel()
        await self.ctx.jobs.shutdown()


class NotFound(BaseHandler):
    """Unknown URLs: 403 for non-admins (as everywhere), else 404."""

    async def prepare(self):
        await super().prepare()
        if not self._finished:
            raise web.HTTPError(404)


def main(argv=None):
    AdminService.launch_instance(argv)


if __name__ == "__main__":
    main()
