"""The hub's authenticator: the school's ENT, and the local password, on one login page.

``EntAuthenticator`` is oauthenticator's ``GenericOAuthenticator`` (OpenID Connect and entcore's
OAuth2), and CAS through python-cas (cas.py), whose settings come from the admin service's ENT
page at each login, so that the admin turns the ENT on, changes it or turns it off without
restarting the hub. The login page keeps the local form
(``hubpages/authenticator.LocalAccountsAuthenticator``: PAM, wrong passwords limited): the admin
can turn it off for pupils, for teachers or both; an admin's account always keeps it.

An ENT login gives an ``EntIdentity`` (identity.py); ``EntLinks.resolve`` (links.py) says which
local account it opens, or why none: the refusal is a page in the person's language, and the
identity appears on the admin's dashboard.
"""
import asyncio
import os
import time
from urllib.parse import urlsplit

from jinja2 import pass_context
from jinja2.ext import Extension

from jupyterhub import orm
from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import new_token, url_path_join
from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthCallbackHandler, OAuthLoginHandler, OAuthLogoutHandler
from tornado import web
from tornado.httputil import url_concat
from traitlets import Instance, Unicode

from ..accounts.registry import Registry
from ..hubpages.authenticator import FirstLoginHandler, LocalAccountsAuthenticator, refuse
from . import cas
from . import config as entconfig
from .identity import identity_from
from .links import EntLinks
from .matching import Refused

#: The HTTPError message of a local password refused because the account logs in with the ENT.
LOCAL_OFF = "This account logs in with the ENT."
#: The HTTPError message of an ENT identity that opens no account (the page says why).
ENT_REFUSED = "The ENT identity opens no account here."
OAUTH_FAMILIES = ("oidc", "entcore")
#: How long the OpenID configuration of an issuer is believed.
DISCOVERY_SECONDS = 300


class EntLoginHandler(OAuthLoginHandler):
    async def get(self):
        await self.authenticator.ready(OAUTH_FAMILIES)
        super().get()


class AdminTest:
    """A callback of the ENT is the admin's Test when the login started from the admin service's
    ENT page (its next address leads back there): what the ENT answered and the account it would
    open are recorded for that page, nothing else happens, and the admin stays who they are."""

    async def answer_test(self) -> bool:
        authenticator = self.authenticator
        if self.get_next_url() != authenticator.test_result_url:
            return False
        user = self.current_user
        if user is None or not user.admin:
            raise web.HTTPError(403, "Only an admin tests the ENT's login.")
        await authenticator.test_login(self)
        self.redirect(authenticator.test_result_url)
        return True


class EntCallbackHandler(AdminTest, OAuthCallbackHandler):
    async def get(self):
        await self.authenticator.ready(OAUTH_FAMILIES)
        self.check_arguments()
        if not await self.answer_test():
            await super().get()


class CasLoginHandler(BaseHandler):
    async def get(self):
        config = await self.authenticator.ready(("cas",))
        self.redirect(cas.login_url(config, self.authenticator.cas_service(self)))


class CasCallbackHandler(AdminTest, BaseHandler):
    """The CAS server's ticket (GET, the browser), or its single logout (POST, the server)."""

    async def get(self):
        await self.authenticator.ready(("cas",))
        if await self.answer_test():
            return
        user = await self.login_user()
        if user is None:
            raise web.HTTPError(403)
        self.authenticator.cas_sessions.logged_in(self.get_argument("ticket"), user.name)
        self.redirect(self.get_next_url(user))

    def check_xsrf_cookie(self):
        """The CAS server posts its single logout without the hub's cookies: what it names is a
        ticket only it and the person's browser have seen."""

    async def post(self):
        await self.authenticator.ready(("cas",))
        ticket = cas.logged_out_ticket(self.get_body_argument("logoutRequest", ""))
        name = self.authenticator.cas_sessions.logged_out(ticket) if ticket else None
        user = self.find_user(name) if name else None
        if user is not None:
            # Every hub login cookie of the user stops working, and the tokens of their sessions
            # (their server's cookies) go: the person logged out of the ENT is logged out here.
            user.orm_user.cookie_id = new_token()
            for token in self.db.query(orm.APIToken).filter(orm.APIToken.user_id == user.id,
                                                             orm.APIToken.session_id.isnot(None)):
                self.db.delete(token)
            self.db.commit()
            self.log.info("CAS single logout: %s logged out", name)
        self.set_status(204)


class EntLogoutHandler(OAuthLogoutHandler):
    """Ends the ENT's session too where its protocol allows (OpenID Connect's end-session
    endpoint, CAS's logout); otherwise the login page says that the ENT's session is still open."""

    async def render_logout_page(self):
        authenticator = self.authenticator
        config = authenticator.ent()
        if not config.enabled:
            return await super().render_logout_page()
        login_page = url_path_join(self.hub.base_url, "login")
        back = authenticator.base_address(self) + login_page
        if config.family == "cas":
            self.redirect(cas.logout_url(config, back))
            return
        await authenticator.ready(OAUTH_FAMILIES)
        end_session = authenticator.logout_redirect_url
        if end_session:
            self.redirect(url_concat(end_session, {"client_id": authenticator.client_id,
                                                   "post_logout_redirect_uri": back}))
        else:
            self.redirect(url_concat(login_page, {"ent_session": "open"}))


class EntAuthenticator(GenericOAuthenticator):
    preferences_path = Unicode(help="The Settings page's file: the ENT's settings, the hub's public address.").tag(
        config=True)
    test_result_url = Unicode(help="The admin service's page that shows a Test login's answer.").tag(config=True)
    local = Instance(LocalAccountsAuthenticator)
    cas_sessions = Instance(cas.Sessions, ())

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.local = LocalAccountsAuthenticator(parent=self)
        self.username_claim = lambda info: identity_from(info).subject
        self._read = (None, entconfig.EntConfig(), "")
        self._discovered = {}

    # What the other parts of the hub ask of an authenticator

    @property
    def password_page_url(self) -> str:  # FirstLoginHandler's
        return self.local.password_page_url

    def login_url(self, base_url):
        """The login page with both ways in (OAuthenticator's own would go straight to the ENT)."""
        return url_path_join(base_url, "login")

    def get_handlers(self, app):
        return [("/login", FirstLoginHandler), ("/oauth_login", EntLoginHandler),
                ("/oauth_callback", EntCallbackHandler), ("/cas_login", CasLoginHandler),
                ("/cas_callback", CasCallbackHandler), ("/logout", EntLogoutHandler)]

    # The settings, as the Settings page left them

    def ent(self) -> entconfig.EntConfig:
        return self._settings()[0]

    def public_url(self) -> str:
        return self._settings()[1]

    def _settings(self):
        try:
            stamp = os.stat(self.preferences_path).st_mtime_ns if self.preferences_path else None
        except OSError:
            stamp = None
        if stamp != self._read[0]:
            from ..service.preferences import Preferences
            data = Preferences(self.preferences_path).read() if stamp is not None else {}
            self._read = (stamp, entconfig.from_json(data.get("ent")), data.get("public_url") or "")
        return self._read[1], self._read[2]

    def base_address(self, handler) -> str:
        """https://host of the hub as its users reach it: the Settings page's, else the request's."""
        public = urlsplit(self.public_url())
        if public.scheme and public.netloc:
            return f"{public.scheme}://{public.netloc}"
        return f"{handler.request.protocol}://{handler.request.host}"

    def cas_service(self, handler) -> str:
        return cas.service_url(self.base_address(handler), handler.hub.base_url, handler.get_argument("next", ""))

    async def ready(self, families=entconfig.FAMILIES) -> entconfig.EntConfig:
        """The ENT's settings, when it is on with one of these families (404 otherwise); for
        OAuth2, the traits set from them (the OpenID configuration fetched when older than
        DISCOVERY_SECONDS)."""
        config = self.ent()
        if not config.enabled or config.family not in families:
            raise web.HTTPError(404, "Logging in with the ENT is off.")
        if config.family not in OAUTH_FAMILIES:
            return config
        discovered = await self.discovery(config) if config.family == "oidc" else None
        endpoints = entconfig.oauth_endpoints(config, discovered)
        self.client_id, self.client_secret = config.client_id, config.client_secret
        self.authorize_url, self.token_url = endpoints["authorize_url"], endpoints["token_url"]
        self.userdata_url, self.scope = endpoints["userdata_url"], endpoints["scope"]
        self.basic_auth, self.logout_redirect_url = endpoints["basic_auth"], endpoints["logout_url"]
        self.enable_pkce = config.family == "oidc"
        self.login_service = config.name
        public = self.public_url()
        self.oauth_callback_url = url_path_join(public, "hub/oauth_callback") if public else ""
        return config

    async def discovery(self, config: entconfig.EntConfig) -> dict:
        url = entconfig.discovery_url(config)
        fetched_at, document = self._discovered.get(url, (0, None))
        if document is None or time.monotonic() - fetched_at > DISCOVERY_SECONDS:
            try:
                document = await self.httpfetch(url, "Fetching the ENT's OpenID configuration",
                                                validate_cert=self.validate_server_cert)
            except Exception as exc:  # noqa: BLE001 (any failure: the ENT does not answer)
                self.log.error("The ENT's OpenID configuration at %s: %s", url, exc)
                if document is None:
                    raise web.HTTPError(503, "The ENT does not answer.") from None
            else:
                self._discovered[url] = (time.monotonic(), document)
        return document

    # Logging in

    async def authenticate(self, handler, data=None, **kwargs):
        if not isinstance(handler, (EntCallbackHandler, CasCallbackHandler)):
            # The login form. The ENT's answer is read only at its callbacks, after their checks
            # (OAuth2's state): never from a form that carries a code or a ticket.
            return await self.authenticate_local(handler, data) if data and "username" in data else None
        config = self.ent()
        if config.family == "cas":
            auth_model = {"name": "", "auth_state": None}
            answer = await self.cas_answer(handler, config)
        else:
            auth_model = await super().authenticate(handler, data, **kwargs)
            answer = auth_model["auth_state"][self.user_auth_state_key]
        identity = identity_from(answer, entconfig.field_names(config))
        decision = await self._in_registry(lambda links: links.resolve(identity, config.uai))
        if isinstance(decision, Refused):
            self.log.warning("ENT identity %s (%s) refused: %s", identity.subject, identity.display_name,
                             decision.reason)
            refuse(handler, 403, ENT_REFUSED, ent_reason=decision.reason, ent_name=config.name)
        self.log.info("ENT identity %s logs in as %s (%s)", identity.subject, decision.login, decision.how)
        return {**auth_model, "name": decision.login, "admin": None}

    async def cas_answer(self, handler, config) -> dict:
        ticket = handler.get_argument("ticket", "")
        if not ticket:
            raise web.HTTPError(400, "The ENT sent no ticket.")
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self.local.executor, cas.validate, config, self.cas_service(handler), ticket, self.validate_server_cert)
        except cas.TicketRefused:
            raise web.HTTPError(403, "The ENT did not confirm the login: log in again.") from None

    async def ent_answer(self, handler, config) -> dict:
        """What the ENT says of the person at this callback (nothing recorded)."""
        if config.family == "cas":
            return await self.cas_answer(handler, config)
        token_info = await self.get_token_info(handler, self.build_access_tokens_request_params(handler, None))
        return await self.token_to_user(token_info)

    async def test_login(self, handler) -> None:
        """The admin's Test: the ENT's answer read and matched without recording."""
        config = self.ent()
        result = {"family": config.family, "name": config.name}
        try:
            identity = identity_from(await self.ent_answer(handler, config), entconfig.field_names(config))
            decision = await self._in_registry(lambda links: links.decide(identity, config.uai))
        except Exception as exc:  # noqa: BLE001 (whatever failed is the Test's answer)
            self.log.warning("The ENT's Test login failed: %s", exc)
            result["error"] = str(getattr(exc, "log_message", None) or exc)[:500]
        else:
            result.update(identity=identity.to_json(),
                          decision={"login": getattr(decision, "login", ""), "how": getattr(decision, "how", ""),
                                    "refused": getattr(decision, "reason", "")})
        await self._in_registry(lambda links: links.record_test(result))

    async def _in_registry(self, work):
        """work(EntLinks) in a thread, on the links of the ENT set now."""
        issuer = self.ent().issuer

        def run():
            registry = Registry(self.local.registry_path)
            try:
                return work(EntLinks(registry, issuer))
            finally:
                registry.close()
        return await asyncio.get_running_loop().run_in_executor(self.local.executor, run)

    async def authenticate_local(self, handler, data):
        user = await self.local.authenticate(handler, data)
        config = self.ent()
        if user is not None and config.enabled:
            account = await self.local.account(user)
            if account is not None and not config.local_password_allowed(account.role, account.is_admin):
                refuse(handler, 403, LOCAL_OFF, ent_name=config.name)
        return user

    def login_choice(self, next_url: str = "", session_open: bool = False) -> dict:
        """What the login page offers: the ENT's button, and whether the local form is for everyone
        or kept for the accounts that still may use it."""
        config = self.ent()
        if not config.enabled:
            return {}
        url = "cas_login" if config.family == "cas" else "oauth_login"  # beside the login page
        return {"name": config.name, "url": url_concat(url, {"next": next_url}) if next_url else url,
                "local_roles": list(config.local_roles), "session_open": session_open}


@pass_context
def ent_login_choice(context) -> dict:
    """The ENT's button on the login page ({} when the ENT is off or the authenticator is not ours)."""
    handler = getattr(context.get("static_url"), "__self__", None)
    authenticator = getattr(handler, "authenticator", None)
    if not hasattr(authenticator, "login_choice"):
        return {}
    return authenticator.login_choice(handler.get_argument("next", ""),
                                      session_open=handler.get_argument("ent_session", "") == "open")


class EntLoginChoice(Extension):
    """Adds ``ent_login_choice()`` to the hub's Jinja environment."""

    def __init__(self, environment):
        super().__init__(environment)
        environment.globals.update(ent_login_choice=ent_login_choice)
