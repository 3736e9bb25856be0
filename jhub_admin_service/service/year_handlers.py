"""The school year page: who leaves at its end, closing it (year_close_handlers), what each closed
year keeps, and what is kept of those who left (the ZIP of their own work, to hand over, until it
expires: personal data has an end)."""
import datetime
import logging
import os
from typing import TYPE_CHECKING

from jupyterhub.utils import url_path_join
from tornado import ioloop, web

from ..accounts import departures, handover
from ..accounts.engine import credential
from ..jobs import Job
from ..year.plan import school_year_of
from . import year_close_handlers
from .base import APIHandler, BaseHandler
from .i18n import N_

if TYPE_CHECKING:
    from .context import ServiceContext

log = logging.getLogger(__name__)
NAV = [{"key": "year", "label": N_("School year"), "path": "year", "order": 55}]
SWEEP_EVERY_MS = 6 * 3600 * 1000  # expired ZIPs go within a quarter of a day


def handovers(ctx: "ServiceContext") -> list:
    return handover.listed(ctx.settings.handover_dir, ctx.settings.handover_days)


class YearHandler(BaseHandler):
    nav_key = "year"

    def get(self) -> None:
        leaving = [a for a in self.ctx.reader.accounts() if a.leaving]
        self.render_page("year.html", leaving=leaving, handovers=handovers(self.ctx),
                         keep_days=self.ctx.settings.handover_days, school_year=school_year_of(datetime.date.today()),
                         closed=year_close_handlers.kept_files(self.ctx), restorable=restorable(self.ctx))


def restorable(ctx: "ServiceContext") -> list:
    """The removed accounts that their archive can bring back (no account holds the login now)."""
    current = {a.login for a in ctx.reader.accounts()}
    return [d for d in departures.listed(ctx.settings.archive_dir) if d.login not in current]


def start_restore_job(ctx: "ServiceContext", archive: str, admin: str) -> Job:
    """A removed account brought back from its archive, as a job of the accounts' group; its new
    password is the job's credentials (shown once, with its slip)."""
    if departures.find(ctx.settings.archive_dir, archive) is None:
        raise web.HTTPError(404, "no such archive of a removed account")
    ctx.refuse_if_accounts_busy()

    async def work(job):
        account, password = await ctx.operations.restore_account(archive, ctx.exports())
        job.credentials = [credential(account, password)]
        job.summary = {"restored": account.login, "uid": account.uid}

    return ctx.jobs.start("account restore", work, user=admin, group="accounts", meta={"archive": archive})


class RestoreHandler(BaseHandler):
    """POST year/restore archive=NAME: the button beside a removed account."""

    nav_key = "year"

    def post(self) -> None:
        job = start_restore_job(self.ctx, self.get_body_argument("archive", ""), self.admin_name)
        self.redirect(self.url("jobs", job.id), status=303)


class RestoreAPIHandler(APIHandler):
    """GET api/year/restorable; POST api/year/restore {"archive": NAME} (202, the job)."""

    def get(self) -> None:
        self.write_json({"archives": [{"archive": d.archive, "removed": d.removed, "size": d.size,
                                       "in_export": (d.export or {}).get("name"), **d.account}
                                      for d in restorable(self.ctx)]})

    def post(self) -> None:
        job = start_restore_job(self.ctx, str(self.json_body().get("archive", "")), self.admin_name)
        self.write_json(job.to_json(), status=202)


class HandoverHandler(BaseHandler):
    """GET year/handover/NAME: one ZIP, as a download (only a name that the list holds)."""

    async def get(self, name: str) -> None:
        if name not in {h.name for h in handovers(self.ctx)}:
            raise web.HTTPError(404)
        await self.send_attachment(os.path.join(self.ctx.settings.handover_dir, name), name, "application/zip")


async def startup(ctx: "ServiceContext") -> None:
    """Delete the ZIPs and the archives of removed accounts past their time, now and a few times a
    day, even when nobody opens a page."""
    def sweep():
        for name in handover.delete_expired(ctx.settings.handover_dir, ctx.settings.handover_days):
            log.info("handover %s deleted: kept %d days", name, ctx.settings.handover_days)
        for name in departures.delete_expired(ctx.settings.archive_dir, ctx.settings.handover_days):
            log.info("archive %s of a removed account deleted: kept %d days", name, ctx.settings.handover_days)

    sweep()
    ctx.handover_sweeper = ioloop.PeriodicCallback(sweep, SWEEP_EVERY_MS)
    ctx.handover_sweeper.start()


def routes(prefix: str) -> list:
    return [
        (url_path_join(prefix, "year"), YearHandler),
        (url_path_join(prefix, "year/handover/") + r"(?P<name>[^/]+)", HandoverHandler),
        (url_path_join(prefix, "year/restore"), RestoreHandler),
        (url_path_join(prefix, "api/year/restore"), RestoreAPIHandler),
        (url_path_join(prefix, "api/year/restorable"), RestoreAPIHandler),
        *year_close_handlers.routes(prefix),
    ]
