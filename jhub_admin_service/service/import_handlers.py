"""Import: upload or paste a class list, preview the plan, apply it as a job, then credentials
and printable slips (memory only, until dismissed). JSON: api/imports, api/jobs."""
import asyncio
import secrets
import time
from typing import TYPE_CHECKING, Any, Awaitable, Optional, Union
from urllib.parse import quote

from jupyterhub.utils import url_path_join
from tornado import httputil, ioloop, web

from ..accounts.credentials import credentials_csv
from ..accounts.slips import slip_book
from ..jobs import IMPORT_STAGES, Job
from . import errors
from .preferences import only_on_this_machine
from .base import AdminAuthMixin, APIHandler, BaseHandler
from .i18n import N_

if TYPE_CHECKING:
    from .context import ServiceContext

NAV = [
    {"key": "import", "label": N_("Import"), "path": "import", "order": 20},
    {"key": "slips", "label": N_("Slips"), "path": "slips", "order": 25},
]
#: Rows of each category shown in the preview page (the JSON has them all).
PREVIEW_ROWS = 500
UPLOAD_TTL = 3600  # seconds an uploaded file is kept in memory for its preview and apply
#: Beyond this, the request body is read and dropped (so that the answer is a clear message,
#: not a reset connection), then refused.
DISCARD_LIMIT = 1 << 30


def too_large_message(handler: AdminAuthMixin) -> str:
    mb = handler.ctx.max_upload_bytes / (1024 * 1024)
    return handler._("The file is too large: at most %(mb)s MB can be imported at once. Split the class "
                     "list into several files.") % {"mb": f"{mb:g}"}


class UploadMixin:
    """Read the request body as a stream, keeping at most the upload limit in memory."""

    deferred_xsrf = True

    async def prepare(self) -> None:
        # Someone who is not an admin is refused before the body is read: an anonymous upload
        # costs the service nothing (the connection is closed, finish() says so to the proxy).
        # An admin's upload is read, even one too large, so that the answer is a clear message
        # rather than a reset connection; the handler method raises the refusal.
        self._chunks, self._size, self._login_url = [], 0, None
        self._login_url = self.authenticate()
        if self.request.method == "POST":
            self.request.connection.set_max_body_size(DISCARD_LIMIT)

    def authorized(self) -> bool:
        """Call first in each method: False when the request was answered (login redirect)."""
        if self._login_url:
            self.redirect(self._login_url)
            return False
        return True

    def finish(self, chunk: Union[str, bytes, dict, None] = None) -> Awaitable[None]:
        if self._status_code >= 400:
            # A refused streamed request: tell the proxy not to reuse this connection (it sometimes
            # answered the next request on it with "socket hang up").
            self.set_header("Connection", "close")
        return super().finish(chunk)

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size <= self.ctx.max_upload_bytes + 256 * 1024:
            self._chunks.append(chunk)  # the file plus its form envelope
        else:
            self._chunks = None

    def read_body(self) -> bool:
        """Parse the body (form or raw file) into self.request.arguments / files; 413 if too big."""
        if not self.authorized():
            return False
        if self._chunks is None:
            raise web.HTTPError(413, too_large_message(self))
        self.request.body = b"".join(self._chunks)
        self._chunks = []
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            httputil.parse_body_arguments(content_type, self.request.body, self.request.body_arguments,
                                          self.request.files, self.request.headers)
            for name, values in self.request.body_arguments.items():
                self.request.arguments.setdefault(name, []).extend(values)
        self.check_xsrf()
        return True

    def check_size(self, data):
        """data: one file's bytes, or several files ([(name, bytes)])."""
        if size_of(data) > self.ctx.max_upload_bytes:
            raise web.HTTPError(413, too_large_message(self))
        return data


def start_import(handler: AdminAuthMixin, data: bytes, reset_passwords: bool, name: str = "") -> Job:
    """Plan, then start the apply job. Raises JobConflict or Busy when an import (or the CLI) is
    running, RosterError when the file is not a class list."""
    ctx = handler.ctx
    ctx.refuse_if_accounts_busy()
    plan = ctx.reads.preview(data, reset_passwords=reset_passwords, acting_admin=handler.admin_name)

    async def work(job):
        report = await ctx.operations.import_plan(plan, progress=job.progress)
        job.summary = report.to_json()
        job.warnings = list(report.warnings)
        job.credentials = report.credentials

    return ctx.jobs.start("import", work, user=handler.admin_name, group="accounts", stages=IMPORT_STAGES,
                          counts=plan.counts(), meta={"file": name, "format": plan.format,
                                                      "reset_passwords": reset_passwords})


def forget_old_uploads(ctx: "ServiceContext") -> None:
    now = time.time()
    for key in [k for k, (created, _, _) in ctx.uploads.items() if now - created > UPLOAD_TTL]:
        del ctx.uploads[key]


def keep_upload(ctx: "ServiceContext", name: str, data) -> str:
    """Keep an uploaded list (bytes, or several files: [(name, bytes)]) for its preview and apply;
    returns its id."""
    forget_old_uploads(ctx)
    upload_id = secrets.token_urlsafe(12)
    ctx.uploads[upload_id] = (time.time(), name, data)
    return upload_id


def kept_upload(handler: AdminAuthMixin, upload_id: str) -> tuple:
    """(created, name, data) of a kept upload; 404 once it has expired."""
    forget_old_uploads(handler.ctx)
    entry = handler.ctx.uploads.get(upload_id)
    if entry is None:
        raise web.HTTPError(404, handler._("This preview has expired: upload the file again."))
    return entry


def files_of(parts: list) -> tuple:
    """The request's file parts -> (their names, the lists as Operations.preview reads them: one
    file's bytes, or several files as [(name, bytes)], previewed as one); ("", None) without one."""
    files = [f for f in parts if f["body"]]
    if len(files) > 1:
        return ", ".join(f["filename"] for f in files), [(f["filename"], f["body"]) for f in files]
    return (files[0]["filename"], files[0]["body"]) if files else ("", None)


def size_of(data) -> int:
    return len(data) if isinstance(data, bytes) else sum(len(body) for _, body in data)


async def startup(ctx: "ServiceContext") -> None:
    """Forget expired uploads and passwords even when nobody opens a page."""
    def sweep():
        forget_old_uploads(ctx)
        ctx.jobs.list()  # drops the credentials past their time to live

    ctx.sweeper = ioloop.PeriodicCallback(sweep, 60 * 1000)
    ctx.sweeper.start()


def import_page_values(handler: BaseHandler, error: Optional[str] = None) -> dict:
    jobs = handler.ctx.jobs
    return {"error": error, "running": jobs.running("accounts"), "recent": jobs.list("import")[:8],
            "max_mb": f"{handler.ctx.max_upload_bytes / (1024 * 1024):g}"}


@web.stream_request_body
class ImportHandler(UploadMixin, BaseHandler):
    nav_key = "import"

    def get(self) -> None:
        if self.authorized():
            self.render_page("import.html", **import_page_values(self))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code in (400, 413) and self.current_user:
            exc = kwargs.get("exc_info", (None, None, None))[1]
            message = exc.log_message if isinstance(exc, web.HTTPError) else self._reason
            self.render_page("import.html", **import_page_values(self, error=message))
            return
        super().write_error(status_code, **kwargs)

    def post(self) -> None:
        if not self.read_body():
            return
        name, data = files_of(self.request.files.get("file") or [])  # several: a new year's lists
        text = self.get_body_argument("text", "")
        if data is None and text.strip():
            name, data = self._("pasted text"), text.encode("utf-8")
        elif data is None:
            raise web.HTTPError(400, self._("Choose a file or paste a class list."))
        self.check_size(data)
        upload_id = keep_upload(self.ctx, name, data)
        reset = "1" if self.get_body_argument("reset_passwords", "") else ""
        self.redirect(self.url("import/preview", upload_id, reset=reset), status=303)


class PreviewHandler(BaseHandler):
    nav_key = "import"

    def upload(self, upload_id: str) -> tuple:
        return kept_upload(self, upload_id)

    def get(self, upload_id: str) -> None:
        _, name, data = self.upload(upload_id)
        reset = self.get_argument("reset", "") == "1"
        try:
            plan = self.ctx.reads.preview(data, reset_passwords=reset, acting_admin=self.admin_name)
        except Exception as exc:
            refusal = errors.http_error(self, exc)
            if refusal is None:
                raise
            self.set_status(refusal.status_code)
            self.render_page("import.html", **import_page_values(self, error=refusal.log_message))
            return
        self.render_page("import_preview.html", plan=plan.to_json(), name=name, upload_id=upload_id, reset=reset,
                         rows=PREVIEW_ROWS, running=self.ctx.jobs.running("accounts"))

    def post(self, upload_id: str) -> None:
        _, name, data = self.upload(upload_id)
        reset = self.get_body_argument("reset_passwords", "") == "1"
        try:
            job = start_import(self, data, reset, name)
        except Exception as exc:
            refusal = errors.http_error(self, exc)
            if refusal is None or refusal.status_code != 409:
                raise
            self.flash(refusal.log_message, "danger")
            self.redirect(self.url("import/preview", upload_id, reset="1" if reset else ""), status=303)
            return
        self.ctx.uploads.pop(upload_id, None)
        self.redirect(self.url("jobs", job.id), status=303)


class JobHandler(BaseHandler):
    nav_key = "import"

    def job(self, job_id: str) -> Job:
        job = self.ctx.jobs.get(job_id)
        if job is None:
            raise web.HTTPError(404, self._("No such job (jobs are kept for a while, then forgotten)."))
        return job

    def get(self, job_id: str) -> None:
        job = self.job(job_id)
        self.render_page("job.html", job=job.to_json())


class CredentialsCSVHandler(JobHandler):
    def get(self, job_id: str) -> None:
        job = self.job(job_id)
        if not job.credentials:
            raise web.HTTPError(410, self._("These passwords are no longer available: they were dismissed, "
                                            "or the service restarted. Reset the passwords again if needed."))
        filename = f"{self._('credentials')}-{job.id}.csv"
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(filename)}")
        self.set_header("Cache-Control", "no-store")
        self.finish(credentials_csv(job.credentials, translate=self._).encode("utf-8"))


class SlipsHandler(JobHandler):
    nav_key = "slips"

    def get(self, job_id: str) -> None:
        job = self.job(job_id)
        address = self.slip_address()
        book = slip_book(job.credentials, address, others=[vars(a) for a in self.ctx.reader.accounts()])
        self.render_page("slips.html", job=job.to_json(), book=book, hub_url=address,
                         local_only=only_on_this_machine(address))


class SlipsListHandler(BaseHandler):
    nav_key = "slips"

    def get(self) -> None:
        jobs = [j.to_json() for j in self.ctx.jobs.list() if j.credentials]
        self.render_page("slips_list.html", jobs=jobs)


class DismissHandler(JobHandler):
    def post(self, job_id: str) -> None:
        self.job(job_id)
        self.ctx.jobs.dismiss(job_id)
        self.flash(self._("The passwords of this operation are forgotten."))
        self.redirect(self.get_body_argument("next", "") or self.url("jobs", job_id), status=303)


# JSON API


@web.stream_request_body
class ImportsAPIHandler(UploadMixin, APIHandler):
    """POST api/imports[?dry_run=1][&reset_passwords=1] with the file as the body, or a form with one
    "file" part or several (a new year's lists, as one)."""

    def get(self) -> None:
        if self.authorized():
            self.write_json({"jobs": [j.to_json() for j in self.ctx.jobs.list("import")]})

    def post(self) -> None:
        if not self.read_body():
            return
        _, data = files_of(self.request.files.get("file") or [])  # several: previewed and applied as one
        data = self.check_size(self.request.body if data is None else data)
        if not data:
            raise web.HTTPError(400, "empty request body: send the class list file as the body")
        reset = self.get_query_argument("reset_passwords", "") in ("1", "true", "yes")
        if self.get_query_argument("dry_run", "") in ("1", "true", "yes"):
            self.write_json(self.ctx.reads.preview(data, reset_passwords=reset, acting_admin=self.admin_name).to_json())
            return
        job = start_import(self, data, reset, self.get_query_argument("name", ""))
        self.set_header("Location", self.url("api/jobs", job.id))
        self.write_json({"id": job.id, "state": job.state, "url": self.url("api/jobs", job.id),
                         "page": self.url("jobs", job.id)}, status=202)


class JobsAPIHandler(APIHandler):
    def get(self) -> None:
        self.write_json({"jobs": [j.to_json() for j in self.ctx.jobs.list()]})


class JobAPIHandler(APIHandler):
    def job(self, job_id: str) -> Job:
        job = self.ctx.jobs.get(job_id)
        if job is None:
            raise web.HTTPError(404, f"no job {job_id!r}")
        return job

    async def get(self, job_id: str) -> None:
        job = self.job(job_id)
        wait = float(self.get_query_argument("wait", "0") or 0)
        if wait > 0 and job.active:  # long poll: answer when the job ends, or after `wait` seconds
            try:
                await self.ctx.jobs.wait(job_id, timeout=min(wait, 60))
            except asyncio.TimeoutError:
                pass
        self.write_json(job.to_json())


class JobCredentialsAPIHandler(JobAPIHandler):
    """The passwords of a job, for scripts: GET them (once shown, DELETE to forget them)."""

    def get(self, job_id: str) -> None:
        job = self.job(job_id)
        if not job.credentials:
            raise web.HTTPError(410, "these passwords are no longer available (dismissed, expired or restarted)")
        self.write_json({"credentials": job.credentials})

    def delete(self, job_id: str) -> None:
        self.job(job_id)
        self.ctx.jobs.dismiss(job_id)
        self.write_json({"dismissed": True})


def routes(prefix: str) -> list:
    job = r"(?P<job_id>[0-9A-Za-z_-]+)"
    return [
        (url_path_join(prefix, "import"), ImportHandler),
        (url_path_join(prefix, r"import/preview/(?P<upload_id>[0-9A-Za-z_-]+)"), PreviewHandler),
        (url_path_join(prefix, "jobs/" + job), JobHandler),
        (url_path_join(prefix, "jobs/" + job + "/credentials.csv"), CredentialsCSVHandler),
        (url_path_join(prefix, "jobs/" + job + "/slips"), SlipsHandler),
        (url_path_join(prefix, "jobs/" + job + "/dismiss"), DismissHandler),
        (url_path_join(prefix, "slips"), SlipsListHandler),
        (url_path_join(prefix, "api/imports"), ImportsAPIHandler),
        (url_path_join(prefix, "api/jobs"), JobsAPIHandler),
        (url_path_join(prefix, "api/jobs/" + job), JobAPIHandler),
        (url_path_join(prefix, "api/jobs/" + job + "/credentials"), JobCredentialsAPIHandler),
    ]
