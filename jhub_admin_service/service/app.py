"""The admin-only JupyterHub managed service: ``python -m jhub_admin_service.service.app``.

JupyterHub starts it (see ``jupyterhub_config.py``) with ``JUPYTERHUB_SERVICE_URL``,
``JUPYTERHUB_SERVICE_PREFIX``, ``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_API_URL`` and the
``JHUB_ADMIN_*`` variables. Configuration is traitlets (``AdminService``, ``AdminSettings``),
as in jupyterhub-idle-culler: command-line ``--AdminService.max_upload_mb=10`` or a config file.

Handlers are thin: parse the request, call the engine (``accounts.AccountManager``, the hub
client, the exports client), render. The service always starts, even when the hub, the registry
or the sidecar are not usable yet: JupyterHub treats a managed service that exits as a failure.

Page modules: the plug-in convention
------------------------------------
The service is a list of page modules (:data:`PAGE_MODULES`, trait ``AdminService.page_modules``).
A module that cannot be imported is skipped (logged), so a page can land in its own commit.
A page module exposes:

``routes(prefix) -> list``
    tornado routes, e.g. ``[(url_path_join(prefix, "courses"), CoursesHandler)]``. ``prefix`` is
    the service prefix with a trailing slash (``/services/jhub-admin/``). JSON endpoints go under
    ``url_path_join(prefix, "api", ...)``.
``NAV`` (optional)
    a nav bar entry, or a list of them: ``{"key": "courses", "label": N_("Courses"),
    "path": "courses", "order": 50}``. ``label`` is an English msgid (translated per request),
    ``path`` is relative to the prefix, entries are sorted by ``order`` (dashboard 10, import 20,
    accounts 30, servers 40, courses 50, exports 60).
``MESSAGES`` (optional)
    ``{"fr": {msgid: text}, "en": {...}}``: translations of the module's own strings, used when
    the service's catalogue has none (so a module can land without editing the catalogue).
``async startup(ctx)`` (optional)
    run once after the service starts listening (``ctx`` is the :class:`ServiceContext`).

Handlers derive from ``base.BaseHandler`` (pages) or ``base.APIHandler`` (JSON). Both refuse
non-admins with 403 and check XSRF on every state-changing request (forms:
``{% raw xsrf_form_html() %}``; fetch: the ``X-XSRFToken`` header with the page's
``xsrf_token``). In a handler:

- ``self.ctx``: the :class:`ServiceContext` (``admin_settings``, ``manager`` for changes,
  ``reader`` for reads, ``hub``, ``jobs``, ``exports()``, ``prefix``, ``hub_prefix``, config);
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
import importlib
import logging
import os
import secrets
import signal
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import web
from traitlets import Float, Integer, List, Unicode, default
from traitlets.config import Application

from .. import hub as hubmod
from ..accounts import AccountManager, Busy
from ..jobs import JobManager
from ..registry import Registry
from ..settings import AdminSettings
from . import i18n
from .base import BaseHandler

log = logging.getLogger("jhub_admin_service.service")
HERE = os.path.dirname(os.path.abspath(__file__))

PAGE_MODULES = [
    "jhub_admin_service.service.dashboard_handlers",
    "jhub_admin_service.service.import_handlers",
    "jhub_admin_service.service.accounts_handlers",
    "jhub_admin_service.service.servers_handlers",
    "jhub_admin_service.service.courses_handlers",
    "jhub_admin_service.service.exports_handlers",
]


class ServiceContext:
    """What the handlers share: settings, engine, jobs, clients. ``settings["jhub_admin"]``."""

    def __init__(self, service):
        self.service = service
        self.config = service.config
        self.admin_settings = AdminSettings(config=service.config)
        self.prefix = service.service_prefix
        self.hub_prefix = service.hub_prefix
        self.exchange_root = service.exchange_root
        self.home_root = self.admin_settings.home_root
        self.max_upload_bytes = int(service.max_upload_mb * 1024 * 1024)
        #: The engine for changes (its own registry connection, used by one operation at a time).
        self.manager = AccountManager(self.admin_settings)
        #: A second connection for reads and previews, which must not wait for a running import.
        self.reader = Registry(self.admin_settings.registry_path)
        self.previewer = AccountManager(self.admin_settings, registry=self.reader)
        self.hub = hubmod.HubClient(self.admin_settings.hub_api_url, self.admin_settings.hub_api_token)
        self.jobs = JobManager(service.jobs_file, credentials_ttl=service.credentials_ttl_hours * 3600)
        self.nav = []
        self.startup_hooks = []
        self.startup_report = {"state": "pending"}
        self.uploads = {}  # preview id -> (created, name, bytes): memory only, may hold passwords

    def nav_entries(self):
        return sorted(self.nav, key=lambda e: (e.get("order", 100), e["key"]))

    def exports(self):
        """An exports (sidecar) client, or None when the sidecar is not configured here."""
        try:
            from ..exports import ExportsClient
        except ImportError:
            return None
        client = ExportsClient()
        if not os.path.exists(client.secret_file) and not os.environ.get("JHUB_ADMIN_SIDECAR_URL"):
            return None
        return client


class AdminService(Application):
    name = "jhub-admin-service"
    description = "The admin-only JupyterHub service of jhub-admin."

    service_prefix = Unicode(help="URL prefix of the service (JUPYTERHUB_SERVICE_PREFIX).").tag(config=True)
    service_url = Unicode(help="Where to listen (JUPYTERHUB_SERVICE_URL).").tag(config=True)
    hub_prefix = Unicode(help="The hub's URL prefix, for its stylesheet and links.").tag(config=True)
    exchange_root = Unicode(help="nbgrader exchange root, for disk use (JHUB_EXCHANGE_ROOT).").tag(config=True)
    jobs_file = Unicode(help="Job state (no password), beside the registry.").tag(config=True)
    cookie_secret_file = Unicode(help="Cookie secret of the service, created once, mode 0600.").tag(config=True)
    max_upload_mb = Float(5.0, help="Largest class list accepted, in MB.").tag(config=True)
    credentials_ttl_hours = Float(24.0, help="Passwords of a job are forgotten after this, if not dismissed "
                                             "before.").tag(config=True)
    hub_wait_timeout = Integer(600, help="How long to wait for the hub before the start-up reconcile.").tag(
        config=True)
    page_modules = List(Unicode(), help="Page modules to load (a missing one is skipped).").tag(config=True)

    @default("log_level")
    def _log_level(self):
        return logging.INFO

    @default("page_modules")
    def _page_modules(self):
        return list(PAGE_MODULES)

    @default("service_prefix")
    def _service_prefix(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/jhub-admin/")

    @default("service_url")
    def _service_url(self):
        return os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")

    @default("hub_prefix")
    def _hub_prefix(self):
        return url_path_join(os.environ.get("JUPYTERHUB_BASE_URL", "/"), "hub/")

    @default("exchange_root")
    def _exchange_root(self):
        return os.environ.get("JHUB_EXCHANGE_ROOT", "/srv/nbgrader/exchange")

    def _data_dir(self):
        registry = AdminSettings(config=self.config).registry_path
        return os.path.dirname(os.path.abspath(registry))

    @default("jobs_file")
    def _jobs_file(self):
        return os.path.join(self._data_dir(), "jhub-admin-jobs.json")

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

    def make_app(self):
        i18n.load()
        self.ctx = ctx = ServiceContext(self)
        prefix = url_path_join(self.service_prefix, "")
        handlers = []
        for name in self.page_modules:
            try:
                module = importlib.import_module(name)
            except ImportError as exc:
                if exc.name and name.startswith(exc.name):
                    log.info("page module %s not installed: skipped", name)
                else:
                    log.exception("page module %s cannot be imported: skipped", name)
                continue
            try:
                handlers.extend(module.routes(prefix))
            except Exception:
                log.exception("page module %s: routes() failed: skipped", name)
                continue
            nav = getattr(module, "NAV", None)
            ctx.nav.extend([nav] if isinstance(nav, dict) else list(nav or []))
            i18n.register_messages(getattr(module, "MESSAGES", None))
            if hasattr(module, "startup"):
                ctx.startup_hooks.append(module.startup)
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
            autoescape="xhtml_escape",
            default_handler_class=NotFound,
        )

    async def startup(self):
        """After listening: the hub side of reconcile once the hub answers, then module hooks."""
        ctx = self.ctx
        for hook in ctx.startup_hooks:
            try:
                await hook(ctx)
            except Exception:
                log.exception("start-up hook %s failed", hook)
        if not ctx.hub.configured:
            ctx.startup_report = {"state": "skipped", "message": "JupyterHub API not configured"}
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.hub_wait_timeout
        while True:
            try:
                await ctx.hub.request("GET", "/")
                break
            except hubmod.HubAPIError as exc:
                if loop.time() > deadline:
                    ctx.startup_report = {"state": "failed", "message": f"JupyterHub did not answer: {exc}"}
                    log.error("start-up reconcile skipped: %s", exc)
                    return
                await asyncio.sleep(1)
        for attempt in range(30):
            try:
                report = await ctx.manager.reconcile(local=False, hub=True)
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
        url = urlparse(self.service_url)
        app = self.make_app()
        app.listen(url.port or 80, url.hostname or "127.0.0.1", xheaders=True)
        log.info("jhub-admin service listening on %s, prefix %s", self.service_url, self.service_prefix)
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
