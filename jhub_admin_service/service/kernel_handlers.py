"""Teaching kernel: what "Python 3 (lycée)" holds, and the packages that the school adds to it
(the site list), installed as a job with its log. JSON: api/kernel, api/kernel/install."""
from typing import Optional

from jupyterhub.utils import url_path_join
from tornado import web

from ..classroom.kernel_packages import KernelPackages, SiteListRefused
from ..jobs import Job
from .base import APIHandler, BaseHandler
from .i18n import N_

NAV = [{"key": "kernel", "label": N_("Teaching kernel"), "path": "kernel", "order": 45}]
JOB_KIND = "kernel packages"
JOB_STAGES = {"install": 85, "check": 15}


def latest_job(ctx) -> Optional[Job]:
    jobs = ctx.jobs.list(JOB_KIND)
    return jobs[0] if jobs else None


def start_install(handler) -> Job:
    """The install as a job (one at a time); raises JobConflict when one runs."""
    packages = KernelPackages(handler.ctx.settings)
    packages.checked(packages.read_list())  # a refused list fails now, not in the job

    async def work(job):
        record = await packages.install(log_line=job.log_line, progress=job.progress)
        job.summary = {"packages": record["packages"]}

    return handler.ctx.jobs.start(JOB_KIND, work, user=handler.admin_name, group="kernel", stages=JOB_STAGES)


async def state(ctx) -> dict:
    packages = KernelPackages(ctx.settings)
    listed, installed = packages.read_list(), packages.installed()
    job = latest_job(ctx)
    try:
        changed = installed is None or installed["requirements"] != packages.checked(listed)
    except ValueError:
        changed = True
    return {"list": listed, "installed": installed, "changed": bool(listed.strip()) and changed,
            "job": job.to_json() if job else None}


class KernelHandler(BaseHandler):
    nav_key = "kernel"

    async def get(self) -> None:
        await self.show()

    async def show(self, error: Optional[str] = None, text: Optional[str] = None) -> None:
        values = await state(self.ctx)
        values.update(error=error, kernel_error=None, text=values["list"] if text is None else text)
        try:
            values["kernel"] = await KernelPackages(self.ctx.settings).kernel_packages()
        except Exception as exc:  # no teaching kernel here (a development hub): say so
            values["kernel"], values["kernel_error"] = {}, str(exc)
        self.render_page("kernel.html", **values)

    async def post(self) -> None:
        text = self.get_body_argument("packages", "")
        try:
            KernelPackages(self.ctx.settings).save_list(text)
        except SiteListRefused as exc:
            self.set_status(400)
            await self.show(error=self.engine_text(exc), text=text)
            return
        if self.get_body_argument("action", "") == "install":
            start_install(self)
            self.flash(self._("Installation started: the kernel changes only if it succeeds."))
        else:
            self.flash(self._("Site list saved; install it to give the kernel these packages."))
        self.redirect(self.url("kernel"), status=303)


class KernelAPIHandler(APIHandler):
    """GET api/kernel; PUT api/kernel {"list": "scipy\\nsympy"} saves the site list."""

    async def get(self) -> None:
        self.write_json(await state(self.ctx))

    async def put(self) -> None:
        text = self.json_body().get("list", "")
        if not isinstance(text, str):
            raise web.HTTPError(400, "list must be a string: one package a line")
        KernelPackages(self.ctx.settings).save_list(text)
        self.write_json(await state(self.ctx))


class KernelInstallAPIHandler(APIHandler):
    """POST api/kernel/install: install the saved site list, as a job (api/jobs/ID)."""

    async def post(self) -> None:
        job = start_install(self)
        self.set_header("Location", self.url("api/jobs", job.id))
        self.write_json({"id": job.id, "state": job.state, "url": self.url("api/jobs", job.id)}, status=202)


def routes(prefix: str) -> list:
    return [
        (url_path_join(prefix, "kernel"), KernelHandler),
        (url_path_join(prefix, "api/kernel"), KernelAPIHandler),
        (url_path_join(prefix, "api/kernel/install"), KernelInstallAPIHandler),
    ]
