"""A page of the hub for users who are not admins, as a managed service of its own process: the
password page (password_app.py) and My class (class_app.py). Each gives its handlers and a
context; this module makes the tornado application (the admin service's templates, isolation
and OAuth login) and the traitlets Application that JupyterHub starts."""
import asyncio
import logging
import os
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import web
from traitlets import default
from traitlets.config import Application

from ..peers import ProxyHeadersServer
from ..settings import AdminSettings
from ..settings import load as load_settings
from . import i18n, isolation

HERE = os.path.dirname(os.path.abspath(__file__))
log = logging.getLogger("jhub_admin_service.service")


def page_application(ctx, routes: list, cookie_secret: bytes) -> web.Application:
    """routes: (path under ctx.prefix, handler); the OAuth callback and the bare prefix are added."""
    i18n.load()
    return web.Application(
        [(url_path_join(ctx.prefix, path) if path else ctx.prefix, handler) for path, handler in routes]
        + [(url_path_join(ctx.prefix, "oauth_callback"), HubOAuthCallbackHandler),
           (ctx.prefix.rstrip("/"), web.RedirectHandler, {"url": ctx.prefix})],
        jhub_admin=ctx, cookie_secret=cookie_secret, template_path=os.path.join(HERE, "templates"),
        login_url=url_path_join(ctx.prefix, "oauth_callback"), xsrf_cookies=False, autoescape="xhtml_escape",
        xsrf_cookie_kwargs={"httponly": True}, transforms=[isolation.IsolationHeaders])


class PageService(Application):
    """Started by the hub as a managed service; subclasses define name, description, make_app."""

    classes = [AdminSettings]

    @default("log_level")
    def _log_level(self):
        return logging.INFO

    def make_app(self, settings: AdminSettings, cookie_secret: bytes) -> web.Application:
        raise NotImplementedError

    def start(self) -> None:
        logging.basicConfig(level=self.log_level, format="[%(levelname).1s %(asctime)s %(name)s] %(message)s")
        asyncio.run(self.serve(load_settings(parent=self)))

    async def serve(self, settings: AdminSettings) -> None:
        url = urlparse(settings.service_url)
        # A new cookie secret at each start: a session ends with a restart and logs in again
        # through the hub without a word (OAuth with no confirmation).
        app = self.make_app(settings, os.urandom(32))
        # Forwarded headers believed from the proxy only, not from a user's process (peers.py).
        ProxyHeadersServer(app).listen(url.port or 80, url.hostname or "127.0.0.1")
        log.info("%s listening on %s", self.name, settings.service_url)
        await asyncio.Event().wait()
