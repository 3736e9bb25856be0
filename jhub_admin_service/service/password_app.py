"""Change my password: a page for every user of the hub, admins included, as a managed service of
its own (``python -m jhub_admin_service.service.password_app``), apart from the admin service,
which refuses anyone but an admin.

The user types the current password (checked by PAM, as at login, with the same limit on wrong
ones: accounts/attempts.py), then the new one twice; the new one meets the product's rule (logins.password_problem), is hashed, recorded in the registry
as the user's own choice, and set with ``chpasswd -e``: the same path as an admin's reset.

``files``: the user's own files in the restore points, when the admin allows it, one brought back
beside the current one (the admin's Bring back a file, for oneself: point_restore.py).
"""
import asyncio
import contextlib
import logging
import math
import os
from typing import Optional
from urllib.parse import urlsplit

import pamela
from jupyterhub.utils import url_path_join
from tornado import web

from ..accounts.attempts import AttemptLimiter
from ..accounts.engine import AccountError
from ..accounts.logins import MIN_CHOSEN_LENGTH, password_problem
from ..locks import Busy
from ..operations import Operations
from ..settings import AdminSettings
from ..sidecar.client import ExportsClient, SidecarError
from .base import BaseHandler
from .page_service import PageService, page_application
from .point_restore import PointRestoreMixin
from .preferences import Preferences

log = logging.getLogger("jhub_admin_service.password")
#: A password that its user chooses has at least this many characters (the browser says so too).
MIN_LENGTH = MIN_CHOSEN_LENGTH
#: The hub's PAM stack, without PAM's failure delay (docker/pam.d/jupyterhub); "login" elsewhere.
PAM_SERVICE = "jupyterhub" if os.path.exists("/etc/pam.d/jupyterhub") else "login"


class PasswordContext:
    """What BaseHandler reads from ``settings["jhub_admin"]``, for a page without the admin's menu."""

    def __init__(self, settings: AdminSettings, preferences: Preferences):
        self.settings = settings
        self.prefix = url_path_join(settings.service_prefix, "")
        self.hub_prefix = url_path_join(settings.hub_base_url, "hub/")
        self.nav = []
        self.preferences = preferences
        # Wrong current passwords per account (the user is logged in: their computer adds nothing).
        self.attempts = AttemptLimiter()
        self.operations = Operations(settings)


class PasswordHandler(BaseHandler):
    admins_only = False

    def get(self) -> None:
        self.render_page("password.html", error=None, done=False, **self.journey())

    def journey(self) -> dict:
        """Whether the login sent the user here (their first login, with the initial password), and
        where they go next: a page of this hub that the login named, else the hub's home."""
        next_url = self.get_argument("next", "")
        if not same_site_path(next_url):
            next_url = self.ctx.hub_prefix + "home"
        return {"first": self.get_argument("first", "") == "1", "next_url": next_url}

    async def post(self) -> None:
        login = self.current_user["name"]
        current = self.get_body_argument("current", "")
        new, again = self.get_body_argument("new", ""), self.get_body_argument("again", "")
        error = await self.refusal(login, current, new, again)
        if error is None:
            try:
                await self.ctx.operations.change_own_password(login, new)
            except AccountError:
                error = self._("Your account is not managed by this hub's administration: ask the administrator.")
            except Busy:
                error = self._("The administrator is changing accounts right now: try again in a minute.")
        if error is not None:
            self.set_status(400)
            log.info("password change of %s refused: %s", login, error)
        else:
            log.info("password changed by %s", login)
        self.render_page("password.html", error=error, done=error is None, **self.journey())

    async def refusal(self, login: str, current: str, new: str, again: str) -> Optional[str]:
        if new != again:
            return self._("The two new passwords differ.")
        if len(new) < MIN_LENGTH:
            return self._("The new password needs at least %(n)d characters.") % {"n": MIN_LENGTH}
        problem = password_problem(new)
        if problem:
            return self.engine_text(problem)
        if new == current:
            return self._("The new password is the current one.")
        attempts = self.ctx.attempts
        wait = attempts.wait(login, "")
        if wait or not attempts.begin(login, ""):
            minutes = max(1, math.ceil(wait / 60))
            return self._("Too many wrong passwords: wait %(minutes)d minute, then try again.", "Too many wrong passwords: wait %(minutes)d minutes, then try again.", minutes) % {"minutes": minutes}
        right = False
        try:  # off the event loop: PAM hashes, and must not stall the others
            await asyncio.get_running_loop().run_in_executor(None, pamela.authenticate, login, current, PAM_SERVICE)
            right = True
        except pamela.PAMError:
            return self._("The current password is not right.")
        finally:
            attempts.end(login, "", success=right)
        return None


class OwnFilesHandler(PointRestoreMixin, BaseHandler):
    """GET/POST files: the user's own files in the restore points, one brought back beside the
    current one, when the admin allows it (Restore points page; point_restore.py)."""

    admins_only = False
    restore_base = "files"
    allowed = False

    def restorable_users(self) -> list:
        return [self.current_user["name"]] if self.allowed else []

    async def allow(self) -> ExportsClient:
        client = ExportsClient.if_configured(self.ctx.settings)
        if client is not None:
            with contextlib.suppress(SidecarError):
                status = (await client.points(status_only=True)).get("status") or {}
                self.allowed = bool(status.get("initialised") and status["settings"].get("pupils_may_restore"))
        if not self.allowed:
            raise web.HTTPError(403, self._("Your administration has not opened the earlier versions of your "
                                            "files to you: ask it to bring a file back."))
        return client

    async def get(self) -> None:
        client = await self.allow()
        if not self.get_query_argument("user", ""):
            self.redirect(self.url(self.restore_base, user=self.current_user["name"]))
            return
        await self.restore_page(client)

    async def post(self) -> None:
        await self.restore_entry(await self.allow())


def same_site_path(url: str) -> bool:
    """A path on this site ("/hub/spawn"), never another site: "//evil.example", "///evil.example"
    (which browsers read as a host too), "/\\evil.example", "https://..."."""
    parts = urlsplit(url)
    return (url.startswith("/") and not url.startswith("//") and not parts.scheme and not parts.netloc
            and "\\" not in url and url.isprintable())


def make_app(settings: AdminSettings, cookie_secret: bytes) -> web.Application:
    data_dir = os.path.dirname(os.path.abspath(settings.registry_path))
    ctx = PasswordContext(settings, Preferences(os.path.join(data_dir, "jhub-admin-preferences.json")))
    return page_application(ctx, [("", PasswordHandler), ("files", OwnFilesHandler)], cookie_secret)


class PasswordService(PageService):
    name = "jhub-password"
    description = "Change my password: a page of the hub for every user."

    def make_app(self, settings: AdminSettings, cookie_secret: bytes) -> web.Application:
        return make_app(settings, cookie_secret)


def main(argv: Optional[list] = None) -> None:
    PasswordService.launch_instance(argv)


if __name__ == "__main__":
    main()
