"""The hub's login: PAM on the local accounts, with a limit on wrong passwords and the reason a
login is refused when the person may know it.

- Wrong passwords are counted per account and computer (accounts/attempts.py); past the
  allowance the login page says how long to wait, and PAM is not asked at all.
- A disabled account says so only to whoever typed its right password (checked against the
  registry's hash, since the locked hash in /etc/shadow matches nothing): to anyone else it is
  "Invalid username or password", so that nobody can list the disabled accounts.

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
from tornado import web
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


class LocalAccountsAuthenticator(PAMAuthenticator):
    """PAMAuthenticator, with the attempts limited and the disabled told apart."""

    registry_path = Unicode(help="The account registry, to tell a disabled account apart.").tag(config=True)
    _limiter = None

    @property
    def limiter(self) -> AttemptLimiter:
        if self._limiter is None:
            self._limiter = AttemptLimiter()
        return self._limiter

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
        return user

    async def disabled_with_this_password(self, login: str, password: str) -> bool:
        account = await asyncio.get_running_loop().run_in_executor(
            self.executor, disabled_account, self.registry_path, login)
        if account is None or not account.password_hash:
            return False
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, verify_password, password, account.password_hash.lstrip("!"))


def disabled_account(registry_path: str, login: str):
    """The registry's record of login if it is a disabled account, else None."""
    if not login or not registry_path or not os.path.exists(registry_path):
        return None
    registry = Registry(registry_path, readonly=True)
    try:
        account = registry.get(login)
    except Exception:  # noqa: BLE001 (a locked or damaged registry: the plain message)
        return None
    finally:
        registry.close()
    return account if account is not None and account.disabled else None


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
