"""Bulk actions of the Accounts page, and their JSON route: disable, enable, mark as leaving at the
end of the year (or not), new passwords (with their slips), remove (homes archived, and each one's
own work kept as a ZIP to hand over), on the ticked accounts or on every account that the page's
filter shows (a whole class). A new password or a removal is asked again first, on a page
that lists the accounts; the two run as jobs with progress."""
from typing import TYPE_CHECKING

from jupyterhub.utils import url_path_join
from tornado import web

from ..accounts.engine import credential
from ..jobs import Job
from .base import APIHandler, BaseHandler
from .i18n import N_
from .selection import back_url, known_logins, selected_logins

if TYPE_CHECKING:
    from .context import ServiceContext

NAV = []
ACTIONS = ("disable", "enable", "leave", "stay", "reset", "remove")
#: The actions that run as jobs; they are asked again on a page that lists the accounts, and so
#: is disabling several accounts (their servers and every process stop).
AS_JOBS = ("reset", "remove")
ASKED = {"reset": 1, "remove": 1, "disable": 2}  # from this many accounts on
STAGES = {"reset": {"hashing": 60, "local accounts": 10, "hub": 30}, "remove": {"remove": 100}}
NOT_YOURSELF = N_("You cannot disable or remove your own account, nor give it a new password here: untick it.")


#: What the page says once an action that is not a job is done.
DONE = {"disable": (N_("%(n)d account disabled: it can no longer log in."), N_("%(n)d accounts disabled: they can no longer log in.")),
        "enable": (N_("%(n)d account enabled again."), N_("%(n)d accounts enabled again.")),
        "leave": (N_("%(n)d account marked as leaving at the end of the year."), N_("%(n)d accounts marked as leaving at the end of the year.")),
        "stay": (N_("%(n)d account no longer marked as leaving."), N_("%(n)d accounts no longer marked as leaving."))}


async def apply_at_once(ctx: "ServiceContext", action: str, logins: list) -> None:
    if action in ("disable", "enable"):
        await ctx.operations.set_disabled_many(logins, action == "disable")
    else:
        await ctx.operations.set_leaving(logins, action == "leave")


def start_bulk_job(ctx: "ServiceContext", action: str, logins: list, admin: str) -> Job:
    """New passwords or removals as a job of the accounts' group (one such job at a time, the
    imports included). Raises JobConflict or Busy at once rather than in the job."""
    ctx.refuse_if_accounts_busy()
    accounts = [ctx.operations.accounts.get(login) for login in logins]

    async def work(job):
        if action == "reset":
            passwords = await ctx.operations.reset_passwords(logins, job.progress)
            job.credentials = [credential(a, passwords[a.login]) for a in accounts]
            job.summary = {"credentials": len(job.credentials)}
        else:
            archives, failed = await ctx.operations.remove_many(logins, job.progress)
            job.summary = {"removed": len(archives), "archives": archives, "failed": failed}
            job.warnings = [f"{login}: not removed ({why}); it stays disabled" for login, why in failed.items()]

    kind = "password reset" if action == "reset" else "removal"
    return ctx.jobs.start(kind, work, user=admin, group="accounts", stages=STAGES[action],
                          counts={"accounts": len(logins)}, meta={"logins": logins[:50]})


class BulkMixin:
    def refuse_yourself(self, action: str, logins: list) -> None:
        if action in ("disable", "reset", "remove") and self.admin_name in logins:
            raise web.HTTPError(400, self._(NOT_YOURSELF))


class AccountsBulkHandler(BulkMixin, BaseHandler):
    """POST accounts/_bulk: action, the ticked logins (or every=1 and the filter's q, class, role,
    state), confirm for the actions asked again."""

    nav_key = "accounts"

    async def post(self) -> None:
        action = self.get_body_argument("action", "")
        if action not in ACTIONS:
            raise web.HTTPError(400, "unknown action")
        logins, back = selected_logins(self), back_url(self)
        if not logins:
            self.flash(self._("Tick the accounts to change first."), "warning")
            self.redirect(back, status=303)
            return
        self.refuse_yourself(action, logins)
        if len(logins) >= ASKED.get(action, len(logins) + 1) and self.get_body_argument("confirm", "") != str(len(logins)):
            accounts = [self.ctx.reader.get(login) for login in logins]
            self.render_page("accounts_bulk_confirm.html", action=action, accounts=[a for a in accounts if a],
                             back=back)
            return
        if action in AS_JOBS:
            job = start_bulk_job(self.ctx, action, logins, self.admin_name)
            self.redirect(self.url("jobs", job.id), status=303)
            return
        await apply_at_once(self.ctx, action, logins)
        self.flash(self._(*DONE[action], len(logins)) % {"n": len(logins)})
        self.redirect(back, status=303)


class AccountsBulkAPIHandler(BulkMixin, APIHandler):
    """POST api/accounts/_bulk {"action": "disable|enable|leave|stay|reset|remove", "logins": [...]}
    or {"action", "class": "2NDE3"}: reset and remove start a job (202), whose passwords the job's
    credentials give once; the others answer when done."""

    async def post(self) -> None:
        body = self.json_body()
        action = body.get("action")
        if action not in ACTIONS:
            raise web.HTTPError(400, f"action must be one of {', '.join(ACTIONS)}")
        if body.get("class"):  # a class's pupils; its teachers only by their logins
            logins = [a.login for a in self.ctx.reader.accounts(role="student", klass=str(body["class"]))]
        elif isinstance(body.get("logins"), list) and all(isinstance(x, str) for x in body["logins"]):
            logins = known_logins(self, body["logins"])
        else:
            raise web.HTTPError(400, "give logins (a list) or class")
        if not logins:
            raise web.HTTPError(400, "no account in this selection")
        self.refuse_yourself(action, logins)
        if action in AS_JOBS:
            self.write_json(start_bulk_job(self.ctx, action, logins, self.admin_name).to_json(), status=202)
            return
        await apply_at_once(self.ctx, action, logins)
        self.write_json({"action": action, "accounts": logins})


def routes(prefix: str) -> list:
    """Listed before the accounts' own routes: their login pattern would take "_bulk" (no login
    starts with _)."""
    return [
        (url_path_join(prefix, "accounts/_bulk"), AccountsBulkHandler),
        (url_path_join(prefix, "api/accounts/_bulk"), AccountsBulkAPIHandler),
    ]
