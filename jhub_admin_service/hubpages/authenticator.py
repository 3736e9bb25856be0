"""The hub's login: PAM on the local accounts, with a limit on wrong passwords and the reason a
login is refused when the person may know it.

- Wrong passwords are counted per account and computer (accounts/attempts.py); past the
  allowance the login page says how long to wait, and PAM is not asked at all.
- A disabled account says so only to whoever typed its right password (checked against the
  registry's hash, since the locked hash in /etc/shadow matches nothing): to anyone else it is
  "Invalid username or password", so that nobody can list the disabled accounts.
- A pupil who logs in with the initial password of their slip is sent to the password page
  first (``password_page_url``), which then leads where the login was going.

The login page (templates/login.html) reads the reason from ``login_refusal()``, which this
class leaves on the request's handler: JupyterHub renders its login form with the message of
the HTTPError raised here.
"""
import asyncio
import math
import os

from jinja2 import pass_context
from jinja2.ext import Extension
from jupyterhub.auth import PAMAuthenticator
from jupyterhub.handlers.login import LoginHandler
from tornado import web
from tornado.httputil import url_concat
from traitlets import Unicode

from ..accounts.attempts import AttemptLimiter
from ..accounts.passwords import verify_password
from ..accounts.registry import Registry
from ..peers import login_client

#: The HTTPError messages; the page shows its own words (templates/login.html).
DISABLED = "This account is disabled."
TOO_MANY = "Too many wrong passwords."


def refuse(handler, status: int, reason: str, **details) -> None:
    if handler is not None:
        handler.jha_login_refusal = {"reason": reason, **details}
    raise web.HTTPError(status, reason)


class FirstLoginHandler(LoginHandler):
    """JupyterHub's login page, which sends a pupil who still has their initial password to the
    page where they choose their own, and from there where the login was going."""

    def get_next_url(self, user=None, default=None):
        next_url = super().get_next_url(user, default)
        if getattr(self, "jha_choose_password", False):
            return url_concat(self.authenticator.password_page_url, {"first": "1", "next": next_url})
        return next_url


class LocalAccountsAuthenticator(PAMAuthenticator):
    """PAMAuthenticator, with the attempts limited, the disabled told apart, and pupils asked for
    a password of their own at their first login."""

    registry_path = Unicode(help="The account registry, to tell a disabled account apart.").tag(config=True)
    password_page_url = Unicode(
        "", help="Where a pupil who still has their initial password goes after logging in ('': nowhere)."
    ).tag(config=True)
    _limiter = None

    @property
    def limiter(self) -> AttemptLimiter:
        if self._limiter is None:
            self._limiter = AttemptLimiter()
        return self._limiter

    def get_handlers(self, app):
        return [("/login", FirstLoginHandler)]

    async def authenticate(self, handler, data):
        login = (data.get("username") or "").strip().lower()
        # The address the proxy saw, or the local user's uid: never a header a client wrote.
        client = login_client(handler.request) if handler is not None else ""
        wait = self.limiter.wait(login, client)
        if wait or not self.limiter.begin(login, client):
            refuse(handler, 429, TOO_MANY, minutes=max(1, math.ceil(wait / 60)))
        user = None
        try:
            user = await super().authenticate(handler, data)
        finally:
            self.limiter.end(login, client, success=user is not None)
        if user is None and await self.disabled_with_this_password(login, data.get("password") or ""):
            refuse(handler, 403, DISABLED)
        if user is not None and handler is not None and self.password_page_url:
            account = await self.account(login)
            handler.jha_choose_password = bool(account and account.role == "student" and account.initial_password)
        return user

    async def account(self, login: str):
        return await asyncio.get_running_loop().run_in_executor(self.executor, registry_account,
                                                                self.registry_path, login)

    async def disabled_with_this_password(self, login: str, password: str) -> bool:
        account = await self.account(login)
        if account is None or not account.disabled or not account.password_hash:
            return False
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, verify_password, password, account.password_hash.lstrip("!"))


def registry_account(registry_path: str, login: str):
    """The registry's record of login, or None (not managed, or no registry readable)."""
    if not login or not registry_path or not os.path.exists(registry_path):
        return None
    registry = Registry(registry_path, readonly=True)
    try:
        return registry.get(login)
    except Exception:  # noqa: BLE001 (a locked or damaged registry: as if not managed)
        return None
    finally:
        registry.close()


@pass_context
def login_refusal(context) -> dict:
    """Why the login that this page answers was refused, if the authenticator said ({} else)."""
    handler = getattr(context.get("static_url"), "__self__", None)
    return getattr(handler, "jha_login_refusal", None) or {}


class LoginRefusal(Extension):
    """Adds ``login_refusal()`` to the hub's Jinja environment."""

    def __init__(self, environment):
        super().__init__(environment)
        environment.globals.update(login_refusal=login_refusal)
