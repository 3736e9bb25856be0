"""Accounts: search, filter, paginate; reset a password (shown once, with a slip), disable or
enable, change class or role, download the person's work (a ZIP), remove (home archived first).
JSON: api/accounts, api/classes."""
import asyncio
import logging
import math
import os
import tempfile
from typing import TYPE_CHECKING, Any, Optional

from jupyterhub.utils import url_path_join
from tornado import web

from ..accounts.engine import credential
from ..accounts.handover import write_home_zip
from ..accounts.homonyms import distinguishers
from ..accounts.registry import Account, holds_admin
from ..accounts.roster import ROLES
from . import bulk_handlers
from .base import APIHandler, BaseHandler
from .selection import back_url, filtered, selected_logins
from .disk_usage import home_sizes
from .i18n import N_

if TYPE_CHECKING:
    from .context import ServiceContext

log = logging.getLogger(__name__)
NAV = [{"key": "accounts", "label": N_("Accounts"), "path": "accounts", "order": 30}]
PAGE_SIZE = 50


SELF_LOCKOUT = N_("You cannot disable or remove your own account, nor take away your own admin role.")


class SelfLockoutMixin:
    def refuse_self_lockout(self, account: Account, action: Optional[str], role: Optional[str] = None,
                            admin: Optional[bool] = None) -> None:
        """An admin must not lock themselves out of the service: a change must leave them an admin
        (the admin role, or a teacher's role with admin rights)."""
        if account.login != self.admin_name:
            return
        role = role or account.role
        still_admin = holds_admin(role, account.hub_admin if admin is None else admin)
        if action in ("disable", "remove") or (action == "change" and not still_admin):
            raise web.HTTPError(400, self._(SELF_LOCKOUT))


class AccountsHandler(BaseHandler):
    nav_key = "accounts"

    def get(self) -> None:
        args = {k: self.get_argument(k, "") for k in ("q", "class", "role", "state")}
        accounts = filtered(self.ctx, args)
        pages = max(1, math.ceil(len(accounts) / PAGE_SIZE))
        try:
            page = min(max(1, int(self.get_argument("page", "1"))), pages)
        except ValueError:
            page = 1
        shown = accounts[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        self.render_page("accounts.html", accounts=shown, apart=distinguishers(map(vars, accounts)), total=len(accounts), page=page, pages=pages, args=args,
                         classes=self.ctx.reader.classes(), roles=ROLES,
                         home_sizes=home_sizes(self.ctx.settings.home_root, self.ctx.settings.disk_measure_seconds),
                         home_limit=self.ctx.preferences.home_warning_bytes(),
                         orphan_homes=self.ctx.reads.accounts.homes_without_account())


class AccountsClassesHandler(BaseHandler):
    """POST accounts/_classes: the classes of the ticked accounts, at once."""

    async def post(self) -> None:
        logins = selected_logins(self)
        classes = self.get_body_argument("classes", "").replace(";", ",").split(",")
        back = back_url(self)
        if not logins:
            self.flash(self._("Tick the accounts to change first."), "warning")
        else:
            await self.ctx.operations.set_classes(logins, classes)
            shown = ", ".join(c.strip() for c in classes if c.strip()) or self._("no class")
            self.flash(self._("%(n)d account now in: %(classes)s", "%(n)d accounts now in: %(classes)s", len(logins)) % {"n": len(logins), "classes": shown})
        self.redirect(back, status=303)


class AccountHandler(SelfLockoutMixin, BaseHandler):
    nav_key = "accounts"

    def account(self, login: str) -> Account:
        account = self.ctx.reader.get(login)
        if account is None:
            raise web.HTTPError(404, self.engine_text(f"no account {login!r} is managed by jhub-admin"))
        return account

    def get(self, login: str, action: Optional[str] = None) -> None:
        if action:
            self.redirect(self.url("accounts", login))
            return
        self.show(self.account(login))

    def show(self, account: Account, error: Optional[str] = None) -> None:
        self.render_page("account.html", account=account, roles=ROLES, error=error, classes=self.ctx.reader.classes(),
                         ent_link=self.ctx.ent_links().by_login().get(account.login))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        login = self.path_kwargs.get("login")
        if status_code in (400, 409) and self.current_user and login and self.ctx.reader.get(login):
            message = exc.log_message if isinstance(exc, web.HTTPError) else self._reason
            self.show(self.ctx.reader.get(login), error=message)
            return
        super().write_error(status_code, **kwargs)

    async def post(self, login: str, action: Optional[str] = None) -> None:
        account = self.account(login)
        ops = self.ctx.operations
        # The change form's checkbox: absent when unticked, so the form says that it shows it.
        admin = self.get_body_argument("hub_admin", "") == "1" if self.get_body_argument("admin_shown", "") else None
        self.refuse_self_lockout(account, action, self.get_body_argument("role", None), admin)
        if action == "reset":
            if self.get_body_argument("confirm", "") != "1":
                raise web.HTTPError(400, self._("Tick the box to confirm the reset: the current password will "
                                                "stop working."))
            password = await ops.reset_password(login)
            job = self.ctx.jobs.record("password reset", user=self.admin_name, meta={"login": login},
                                       credentials=[credential(account, password)], summary={"credentials": 1})
            # Shown once: this answer is the only page with the password in clear (besides the slip).
            self.render_page("password_reset.html", account=account, password=password, job=job.to_json())
            return
        if action in ("disable", "enable"):
            await ops.set_disabled(login, action == "disable")
            self.flash(self._("%(login)s is disabled: it can no longer log in.") % {"login": login}
                       if action == "disable" else self._("%(login)s is enabled again.") % {"login": login})
        elif action == "change":
            role = self.get_body_argument("role", "") or None
            classes = [c for c in self.get_body_argument("classes", "").replace(";", ",").split(",")]
            await ops.change(login, role=role, classes=classes, admin=admin)
            self.flash(self._("%(login)s is updated.") % {"login": login})
        elif action == "remove":
            if self.get_body_argument("confirm", "") != login:
                raise web.HTTPError(400, self._("To remove %(login)s, type its login in the confirmation field.")
                                    % {"login": login})
            archive = await ops.remove(login)
            self.flash(self._("%(login)s is removed; its home was archived to %(archive)s.")
                       % {"login": login, "archive": archive or "—"})
            self.redirect(self.url("accounts"), status=303)
            return
        else:
            raise web.HTTPError(404)
        self.redirect(self.url("accounts", login), status=303)


# JSON API


class AccountsAPIHandler(APIHandler):
    """GET api/accounts[?role=&class=&q=&state=&offset=&limit=]"""

    def get(self) -> None:
        args = {k: self.get_argument(k, "") for k in ("q", "class", "role", "state")}
        args["q"] = args["q"] or self.get_argument("search", "")
        accounts = filtered(self.ctx, args)
        try:
            offset = max(0, int(self.get_argument("offset", "0")))
            limit = int(self.get_argument("limit", "0")) or None
        except ValueError:
            raise web.HTTPError(400, "offset and limit must be integers") from None
        shown = accounts[offset: offset + limit if limit else None]
        sizes = home_sizes(self.ctx.settings.home_root, self.ctx.settings.disk_measure_seconds)
        self.write_json({"total": len(accounts), "offset": offset, "limit": limit,
                         "accounts": [{**a.to_json(), "home_bytes": sizes.get(a.login)} for a in shown]})


class ClassesAPIHandler(APIHandler):
    def get(self) -> None:
        self.write_json({"classes": self.ctx.reader.classes()})


class AccountAPIHandler(SelfLockoutMixin, APIHandler):
    def account(self, login: str) -> Account:
        account = self.ctx.reader.get(login)
        if account is None:
            raise web.HTTPError(404, f"no account {login!r} is managed by jhub-admin")
        return account

    def get(self, login: str, action: Optional[str] = None) -> None:
        if action:
            raise web.HTTPError(405, "use POST")
        self.write_json(self.account(login).to_json())

    async def patch(self, login: str, action: Optional[str] = None) -> None:
        if action:
            raise web.HTTPError(405, "use POST")
        account = self.account(login)
        body = self.json_body()
        admin = body.get("admin")
        if admin is not None and not isinstance(admin, bool):
            raise web.HTTPError(400, "admin must be true or false")
        self.refuse_self_lockout(account, "change", body.get("role"), admin)
        classes = body.get("classes")
        if isinstance(classes, str):
            classes = classes.split(",")
        if classes is not None and not isinstance(classes, list):
            raise web.HTTPError(400, "classes must be a list of class names")
        await self.ctx.operations.change(login, role=body.get("role"), classes=classes, admin=admin)
        self.write_json(self.ctx.reader.get(login).to_json())

    async def delete(self, login: str, action: Optional[str] = None) -> None:
        if action:
            raise web.HTTPError(405, "use POST")
        self.refuse_self_lockout(self.account(login), "remove")
        archive = await self.ctx.operations.remove(login)
        self.write_json({"removed": login, "archive": archive})

    async def post(self, login: str, action: Optional[str] = None) -> None:
        account = self.account(login)
        self.refuse_self_lockout(account, action)
        if action == "reset-password":
            password = await self.ctx.operations.reset_password(login)
            job = self.ctx.jobs.record("password reset", user=self.admin_name, meta={"login": login},
                                       credentials=[credential(account, password)], summary={"credentials": 1})
            self.write_json({"login": login, "password": password, "job": job.id})
        elif action in ("disable", "enable"):
            await self.ctx.operations.set_disabled(login, action == "disable")
            self.write_json(self.ctx.reader.get(login).to_json())
        else:
            raise web.HTTPError(404, f"unknown action {action!r}")


class AccountWorkHandler(BaseHandler):
    """GET accounts/LOGIN/work.zip: the person's own files, as the ZIP that a removal hands over
    (accounts/handover.py), made for this download in a private folder, then deleted. One is
    made at a time (the others wait): a few clicks never fill the disk with ZIPs of 4 GB."""

    one_at_a_time = asyncio.Lock()

    async def get(self, login: str) -> None:
        account = self.ctx.reader.get(login)
        home = os.path.join(self.ctx.settings.home_root, login)
        if account is None or not os.path.isdir(home):
            raise web.HTTPError(404)
        async with self.one_at_a_time:
            await self.send_zip(account, home)

    async def send_zip(self, account: Account, home: str) -> None:
        login = account.login
        with tempfile.TemporaryDirectory(prefix="jhub-work-") as folder:  # 0700, root's
            path = os.path.join(folder, "work.zip")
            await asyncio.get_running_loop().run_in_executor(None, write_home_zip, home, account.uid, path)
            log.info("%s downloaded the work of %s", self.admin_name, login)
            await self.send_attachment(path, f"{login}.zip", "application/zip")


def routes(prefix: str) -> list:
    login = r"(?P<login>[^/]+)"
    return [
        *bulk_handlers.routes(prefix),
        (url_path_join(prefix, "accounts"), AccountsHandler),
        (url_path_join(prefix, "accounts/_classes"), AccountsClassesHandler),  # no login starts with _
        (url_path_join(prefix, "accounts/" + login), AccountHandler),
        (url_path_join(prefix, "accounts/" + login + "/work.zip"), AccountWorkHandler),
        (url_path_join(prefix, "accounts/" + login + r"/(?P<action>reset|disable|enable|change|remove)"),
         AccountHandler),
        (url_path_join(prefix, "api/accounts"), AccountsAPIHandler),
        (url_path_join(prefix, "api/classes"), ClassesAPIHandler),
        (url_path_join(prefix, "api/accounts/" + login), AccountAPIHandler),
        (url_path_join(prefix, "api/accounts/" + login + r"/(?P<action>reset-password|disable|enable)"),
         AccountAPIHandler),
    ]
