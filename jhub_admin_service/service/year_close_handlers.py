"""Closing the school year from the School year page: its preview, the job that runs it, and the
files that a closed year keeps (each course's grades sheet, each exchange folder's ZIP).

GET  year/close                      the preview (what is archived, who leaves, what ends, the disk)
POST year/close                      school_year + confirm (the same year typed again): the job
GET  api/year/close                  the preview as JSON
POST api/year/close                  {"school_year": "2026-2027"}: the job (202)
GET  year/files/YEAR/grades/COURSE.xlsx, year/files/YEAR/exchange/COURSE.zip   a kept file
"""
import asyncio
import datetime
import os
import re
from typing import TYPE_CHECKING

from jupyterhub.utils import url_path_join
from tornado import web

from ..jobs import Job
from ..year.close import STAGES, YearCloseError
from ..year.journal import closed_years
from ..year.plan import ClosePlan, school_year_of
from ..year.sizes import measure
from .base import APIHandler, BaseHandler
from .i18n import N_

if TYPE_CHECKING:
    from .context import ServiceContext

NAV = []
SCHOOL_YEAR = r"\d{4}-\d{4}"
#: The files a closed year keeps, by kind: (folder in the year's folder, suffix, content type).
KEPT_FILES = {"grades": ("grades", ".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
              "exchange": ("exchange", ".zip", "application/zip")}
NOT_THE_SAME_YEAR = N_("Type the school year again, exactly as it is shown, to close it.")


async def preview(ctx: "ServiceContext", school_year: str) -> ClosePlan:
    """The plan, with the disk measured (du, off the event loop)."""
    sizes = await asyncio.get_running_loop().run_in_executor(None, measure, ctx.settings)
    return ctx.operations.plan_year_close(school_year, sizes)


def start_close_job(ctx: "ServiceContext", school_year: str, admin: str, lang: str) -> Job:
    """The close as a job of the accounts' group (no import or bulk job beside it). The plan is
    made again in the job: what a re-run finds done is skipped."""
    if not re.fullmatch(SCHOOL_YEAR, school_year or ""):
        raise YearCloseError(f"invalid school year {school_year!r} (expected e.g. 2026-2027)")
    ctx.refuse_if_accounts_busy()

    async def work(job):
        plan = await preview(ctx, school_year)
        if plan.problems:
            raise YearCloseError("; ".join(plan.problems))
        summary = await ctx.operations.close_year(plan, ctx.exports(), job.progress, lang)
        job.warnings = summary.pop("warnings")
        job.summary = summary

    return ctx.jobs.start("year close", work, user=admin, group="accounts", stages=STAGES,
                          meta={"school_year": school_year})


def kept_files(ctx: "ServiceContext") -> list:
    """[{"school_year", "finished", "grades": [names], "exchange": [names]}], newest year first."""
    out = []
    for journal in closed_years(ctx.settings.years_dir):
        item = {"school_year": journal.school_year, "finished": journal.finished,
                "export": (journal.done("export") or {}).get("name")}
        for kind, (folder, suffix, _) in KEPT_FILES.items():
            try:
                names = os.listdir(os.path.join(journal.folder, folder))
            except FileNotFoundError:
                names = []
            item[kind] = sorted(n for n in names if n.endswith(suffix))
        out.append(item)
    return out


class YearCloseHandler(BaseHandler):
    nav_key = "year"

    async def get(self) -> None:
        school_year = self.get_argument("school_year", "") or school_year_of(datetime.date.today())
        if not re.fullmatch(SCHOOL_YEAR, school_year):
            raise web.HTTPError(400, "invalid school year")
        self.render_page("year_close.html", plan=await preview(self.ctx, school_year),
                         running=self.ctx.jobs.running("accounts"))

    async def post(self) -> None:
        school_year = self.get_body_argument("school_year", "")
        if self.get_body_argument("confirm", "").strip() != school_year:
            self.flash(self._(NOT_THE_SAME_YEAR), "warning")
            self.redirect(self.url("year/close", school_year=school_year), status=303)
            return
        job = start_close_job(self.ctx, school_year, self.admin_name, self.locale.code[:2])
        self.redirect(self.url("jobs", job.id), status=303)


class YearCloseAPIHandler(APIHandler):
    async def get(self) -> None:
        school_year = self.get_argument("school_year", "") or school_year_of(datetime.date.today())
        self.write_json((await preview(self.ctx, school_year)).to_json())

    async def post(self) -> None:
        body = self.json_body()
        job = start_close_job(self.ctx, str(body.get("school_year", "")), self.admin_name, str(body.get("lang", "fr")))
        self.write_json(job.to_json(), status=202)


class YearFileHandler(BaseHandler):
    """One file that a closed year keeps, as a download (only a name that its folder lists)."""

    async def get(self, school_year: str, kind: str, name: str) -> None:
        folder, suffix, content_type = KEPT_FILES[kind]
        listed = next((y for y in kept_files(self.ctx) if y["school_year"] == school_year), {})
        if name not in listed.get(kind, []):
            raise web.HTTPError(404)
        await self.send_attachment(os.path.join(self.ctx.settings.years_dir, school_year, folder, name),
                                   f"{school_year}-{name}", content_type)


def routes(prefix: str) -> list:
    return [
        (url_path_join(prefix, "year/close"), YearCloseHandler),
        (url_path_join(prefix, "api/year/close"), YearCloseAPIHandler),
        (url_path_join(prefix, "year/files/") + rf"(?P<school_year>{SCHOOL_YEAR})/(?P<kind>grades|exchange)/"
         r"(?P<name>[A-Za-z0-9_]+\.(?:xlsx|zip))", YearFileHandler),
    ]
