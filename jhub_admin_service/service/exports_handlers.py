"""Exports, through the Docker-socket sidecar (``sidecar.client``): export now
with progress, list with size/date/sha256, streamed download, verify, delete, restore after a
confirmation, schedule and retention settings. Degrades to a clear message when the sidecar is
not configured or does not answer."""
import asyncio
import logging
import re
import time
from typing import Any, Awaitable, Optional
from urllib.parse import quote

from jupyterhub.utils import url_path_join
from tornado import iostream, web

from ..sidecar.client import ExportsClient, SidecarError
from ..sidecar.validation import TARGETS
from . import errors
from .base import APIHandler, BaseHandler, fmt_bytes
from .i18n import N_

NAV = [{"key": "exports", "label": N_("Exports"), "path": "exports", "order": 60}]
NAME = r"(?P<name>[^/]+)"
#: How long a job that a stop or a restart of the sidecar interrupted stays on the page.
RECOVERED_SHOWN_S = 24 * 3600
log = logging.getLogger(__name__)


class ExportsMixin:
    def client(self) -> ExportsClient:
        client = self.ctx.exports()
        if client is None:
            raise web.HTTPError(503, self._("The export sidecar is not configured on this server "
                                            "(JHUB_ADMIN_SIDECAR_URL and its secret file)."))
        return client

    async def call(self, coro: Awaitable, timeout: float = 30) -> Any:
        """Await a sidecar call; its refusals and silences become HTTP errors (errors.ERRORS)."""
        try:
            return await asyncio.wait_for(coro, timeout)
        except SidecarError as exc:
            if exc.code in ("no_space", "stopping"):  # the sidecar's refusals of a new job
                raise web.HTTPError(exc.status, self.refusal_text(exc)) from None
            raise errors.http_error(self, exc) from None
        except Exception as exc:
            refusal = errors.http_error(self, exc)
            if refusal is None:
                raise
            raise refusal from None

    def refusal_text(self, exc: SidecarError) -> str:
        if exc.code == "stopping":
            return self._("The export sidecar is stopping; try again in a minute.")
        detail = exc.detail or {}
        return self._("Not enough free space on the archives volume: this export needs up to "
                      "%(needed)s, %(free)s are free and %(reserve)s are kept free for the rest "
                      "of the server. Download and delete old archives, then try again.") % {
            k: fmt_bytes(detail.get(k), self.locale.code[:2]) for k in ("needed", "free", "reserve")}


class ExportsHandler(ExportsMixin, BaseHandler):
    nav_key = "exports"

    async def get(self, action: Optional[str] = None) -> None:
        if action:
            self.redirect(self.url("exports"))
            return
        values = {"configured": True, "error": None, "archives": [], "settings": None, "jobs": [],
                  "targets": TARGETS, "job_id": self.get_argument("job", "")}
        client = self.ctx.exports()
        if client is None:
            values["configured"] = False
        else:
            try:
                values["archives"] = await self.call(client.list_archives(), 10)
                values["settings"] = await self.call(client.get_settings(), 10)
                values["jobs"] = [j for j in await self.call(client.jobs(), 10) if shown(j, values["job_id"])]
            except web.HTTPError as exc:
                values["error"] = exc.log_message
        self.render_page("exports.html", **values)

    def back(self, message: Optional[str] = None, level: str = "success", **query: Any) -> None:
        if message:
            self.flash(message, level)
        self.redirect(self.url("exports", **query), status=303)

    async def post(self, action: Optional[str] = None) -> None:
        client = self.client()
        try:
            await self.act(client, action)
        except web.HTTPError as exc:
            if exc.status_code in (400, 401, 404, 409, 500, 502, 503, 504, 507):
                self.back(exc.log_message, "danger")
                return
            raise

    async def act(self, client: ExportsClient, action: Optional[str]) -> None:
        if action == "export":
            target = self.get_body_argument("target", "all")
            if target not in TARGETS:
                raise web.HTTPError(400, self._("Unknown export target."))
            job = await self.call(client.export(target))
            self.back(self._("Export started."), job=job["id"])
        elif action == "settings":
            settings = {
                "schedule": {"enabled": self.get_body_argument("enabled", "") == "1",
                             "time": self.get_body_argument("time", "02:00"),
                             "target": self.get_body_argument("target", "all")},
                "retention": {"keep": int_or_none(self.get_body_argument("keep", "")),
                              "days": int_or_none(self.get_body_argument("days", ""))},
            }
            if not re.fullmatch(r"[0-2]\d:[0-5]\d", settings["schedule"]["time"]):
                raise web.HTTPError(400, self._("The time must look like 02:30."))
            await self.call(client.set_settings(settings))
            self.back(self._("Settings saved."))
        elif action == "prune":
            result = await self.call(client.prune(), 300)
            self.back(self._("Retention applied: %(n)d archive deleted.", "Retention applied: %(n)d archives deleted.", len(result.get("deleted", []))) % {"n": len(result.get("deleted", []))})
        else:
            raise web.HTTPError(404)


class ArchiveHandler(ExportsMixin, BaseHandler):
    nav_key = "exports"

    async def get(self, name: str, action: Optional[str] = None) -> None:
        client = self.client()
        archive = await self.call(client.get_archive(name))
        if action == "download":
            await self.download(client, name, archive)
        elif action == "restore":
            await self.restore_page(client, archive)
        else:
            self.redirect(self.url("exports"))

    async def restore_page(self, client: ExportsClient, archive: dict, error: Optional[str] = None) -> None:
        """The restore form, and the shell commands of a full restore with the deployment's own
        compose project (the sidecar found it: the name of the volumes' project)."""
        try:
            project = (await self.call(client.info(), 10)).get("discovery", {}).get("project")
        except web.HTTPError:
            project = None
        self.render_page("export_restore.html", archive=archive, error=error, project=project or "jhub-admin")

    async def download(self, client: ExportsClient, name: str, archive: dict) -> None:
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name)}")
        if archive.get("size") is not None:
            self.set_header("Content-Length", str(archive["size"]))
        self.set_header("Cache-Control", "no-store")

        async def write(chunk):
            self.write(chunk)
            await self.flush()  # back-pressure: the next range is fetched once this is sent

        try:
            await client.stream(name, write)
        except iostream.StreamClosedError:
            return  # the browser went away
        except Exception as exc:
            if not self._headers_written:
                raise web.HTTPError(502, self._("The export sidecar refused or failed: %(error)s")
                                    % {"error": exc}) from None
            log.error("download of %s interrupted: %s", name, exc)
            self.request.connection.close()  # a truncated download must not look complete
            return
        self.finish()

    async def post(self, name: str, action: Optional[str] = None) -> None:
        client = self.client()
        try:
            if action == "verify":
                result = await self.call(client.verify(name), 3600)
                if result.get("ok"):
                    self.flash(self._("%(name)s is intact: its sha256 matches the recorded one.") % {"name": name})
                else:
                    self.flash(self._("%(name)s is damaged: sha256 %(actual)s, recorded %(expected)s.")
                               % {"name": name, "actual": result.get("sha256"),
                                  "expected": result.get("recorded_sha256")}, "danger")
            elif action == "delete":
                if self.get_body_argument("confirm", "") != "1":
                    raise web.HTTPError(400, self._("Tick the box to confirm the deletion."))
                await self.call(client.delete(name))
                self.flash(self._("%(name)s is deleted.") % {"name": name})
            elif action == "restore":
                archive = await self.call(client.get_archive(name))
                sha256 = self.get_body_argument("sha256", "").strip().lower()
                if not sha256 or sha256 != (archive.get("sha256") or "").lower()[:len(sha256)] or len(sha256) < 8:
                    await self.restore_page(client, archive, self._(
                        "Type at least the first 8 characters of the archive's sha256 to confirm the restore."))
                    return
                user = self.get_body_argument("user", "").strip() or None
                try:
                    job = await self.call(client.restore(name, archive["sha256"], user=user))
                except web.HTTPError as exc:
                    if exc.status_code != 409:
                        raise
                    # e.g. a full restore while the hub runs: the page gives the shell commands
                    await self.restore_page(client, archive, exc.log_message)
                    return
                self.flash(self._("Restore started; a safety export is taken first."))
                self.redirect(self.url("exports", job=job["id"]), status=303)
                return
            else:
                raise web.HTTPError(404)
        except web.HTTPError as exc:
            if exc.status_code == 404 and action not in ("verify", "delete", "restore"):
                raise
            self.flash(exc.log_message or str(exc), "danger")
        self.redirect(self.url("exports"), status=303)


class ExportJobAPIHandler(ExportsMixin, APIHandler):
    async def get(self, job_id: str) -> None:
        self.write_json(await self.call(self.client().job(job_id), 10))


class ExportsAPIHandler(ExportsMixin, APIHandler):
    async def get(self) -> None:
        self.write_json({"archives": await self.call(self.client().list_archives(), 10)})

    async def post(self) -> None:
        target = self.json_body().get("target", "all")
        if target not in TARGETS:
            raise web.HTTPError(400, f"target must be one of {', '.join(TARGETS)}")
        self.write_json({"job": await self.call(self.client().export(target))}, status=202)


def shown(job: dict, job_id: str) -> bool:
    """The page shows the running job, the one just started, and for a day those that a stop
    or a restart of the sidecar interrupted (what happened to them, and their safety archive)."""
    if job.get("state") in ("queued", "running") or job.get("id") == job_id:
        return True
    return bool(job.get("recovery")) and time.time() - (job.get("finished") or 0) < RECOVERED_SHOWN_S


def int_or_none(value: str) -> Optional[int]:
    try:
        return int(value) if str(value).strip() else None
    except ValueError:
        raise web.HTTPError(400, "not a number: " + value) from None


def routes(prefix: str) -> list:
    return [
        (url_path_join(prefix, "exports"), ExportsHandler),
        (url_path_join(prefix, r"exports/(?P<action>export|settings|prune)"), ExportsHandler),
        (url_path_join(prefix, "exports/archives/" + NAME), ArchiveHandler),
        (url_path_join(prefix, "exports/archives/" + NAME + r"/(?P<action>download|verify|delete|restore)"),
         ArchiveHandler),
        (url_path_join(prefix, "api/exports"), ExportsAPIHandler),
        (url_path_join(prefix, r"api/exports/jobs/(?P<job_id>[^/]+)"), ExportJobAPIHandler),
    ]
