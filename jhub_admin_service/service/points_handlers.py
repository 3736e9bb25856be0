"""Restore points, through the sidecar (``sidecar/points``): turned on with a key shown once,
the points made each night and their retention, the weekly check, and a user's file brought back
from a point (point_restore.py, shared with My class)."""
from typing import Optional

from jupyterhub.utils import url_path_join
from tornado import web

from .base import APIHandler, BaseHandler
from .exports_handlers import ExportsMixin, int_or_none
from .i18n import N_
from .point_restore import PointRestoreMixin

NAV = [{"key": "points", "label": N_("Restore points"), "path": "points", "order": 62}]


class PointsHandler(ExportsMixin, BaseHandler):
    nav_key = "points"

    async def get(self) -> None:
        values = {"configured": True, "error": None, "answer": None, "job": None}
        client = self.ctx.exports()
        if client is None:
            values["configured"] = False
        else:
            try:
                values["answer"] = await self.call(client.points(), 30)
                job_id = self.get_query_argument("job", "")
                if job_id:
                    values["job"] = await self.call(client.job(job_id), 10)
            except web.HTTPError as exc:
                values["error"] = exc.log_message
        self.render_page("points.html", **values)

    async def post(self, action: str) -> None:
        client = self.client()
        try:
            await self.act(client, action)
        except web.HTTPError as exc:
            if exc.status_code in (400, 403, 404, 409, 500, 502, 503, 504, 507):
                self.flash(exc.log_message, "danger")
                self.redirect(self.url("points"), status=303)
                return
            raise

    async def act(self, client, action: str) -> None:
        if action == "enable":
            place, key = place_from_form(self.get_body_argument), self.get_body_argument("key", "").strip()
            if key:  # a repository already at that place (a reinstalled server): its key
                await self.call(client.set_points_key(key, place), 300)
                self.flash(self._("The key opens the restore points: they are back in service."))
                self.redirect(self.url("points"), status=303)
                return
            answer = await self.call(client.enable_points(place), 300)
            # The key is shown on this answer only: never stored by the service, never again.
            self.set_header("Cache-Control", "no-store")
            self.render_page("points_key.html", key=answer["key"], place=answer["place"],
                             fingerprints=answer.get("host_key_fingerprints") or [])
            return
        if action == "ssh-key":
            await self.call(client.points_ssh_key(), 60)
        elif action == "key":
            await self.call(client.set_points_key(self.get_body_argument("key", "")), 60)
            self.flash(self._("The key opens the restore points: they are back in service."))
        elif action == "point":
            job = await self.call(client.make_point())
            self.flash(self._("A restore point is being made."))
            self.redirect(self.url("points", job=job["id"]), status=303)
            return
        elif action == "check":
            job = await self.call(client.check_points())
            self.flash(self._("The check of the restore points has started."))
            self.redirect(self.url("points", job=job["id"]), status=303)
            return
        elif action == "settings":
            keep = {p: int_or_none(self.get_body_argument(p, "")) or 0 for p in ("last", "daily", "weekly", "monthly")}
            await self.call(client.set_points_settings({
                "enabled": self.get_body_argument("enabled", "") == "1",
                "time": self.get_body_argument("time", "01:30"),
                "pupils_may_restore": self.get_body_argument("pupils_may_restore", "") == "1",
                "keep": keep}))
            self.flash(self._("Settings saved."))
        else:
            raise web.HTTPError(404)
        self.redirect(self.url("points"), status=303)


def place_from_form(argument) -> dict:
    """The place that the page's form names (checked by the sidecar)."""
    kind = argument("place", "archives")
    if kind == "sftp":
        return {"kind": kind, "host": argument("sftp_host", "").strip(), "port": argument("sftp_port", "22").strip(),
                "user": argument("sftp_user", "").strip(), "path": argument("sftp_path", "").strip()}
    if kind == "s3":
        return {"kind": kind, **{field: argument(f"s3_{field}", "").strip() for field in (
            "endpoint", "bucket", "prefix", "region", "access_key_id", "secret_access_key")}}
    return {"kind": kind}


class PointVolumesHandler(ExportsMixin, BaseHandler):
    """GET points/volumes?point=ID: the confirmation of a restore of whole volumes, or of one
    home, from a point; POST: the restore job, followed on the Exports page."""

    nav_key = "points"

    async def page(self, client, point_id: str, error: Optional[str] = None) -> None:
        answer = await self.call(client.points(), 30)
        point = next((p for p in answer.get("points") or [] if p["id"] == point_id), None)
        if point is None:
            raise web.HTTPError(404, self._("No such restore point."))
        try:
            project = (await self.call(client.info(), 10)).get("discovery", {}).get("project")
        except web.HTTPError:
            project = None
        self.render_page("point_volumes.html", point=point, error=error, project=project or "jhub-admin")

    async def get(self) -> None:
        await self.page(self.client(), self.get_query_argument("point", ""))

    async def post(self) -> None:
        client = self.client()
        point = self.get_body_argument("point", "")
        user = self.get_body_argument("user", "").strip() or None
        try:
            job = await self.call(client.restore_point_volumes(
                point, self.get_body_argument("confirm", "").strip(), user=user))
        except web.HTTPError as exc:
            if exc.status_code not in (400, 409, 507):
                raise
            await self.page(client, point, exc.log_message)  # e.g. everything, while the hub runs
            return
        self.flash(self._("Restore started; a safety export is taken first."))
        self.redirect(self.url("exports", job=job["id"]), status=303)


class PointRestoreHandler(PointRestoreMixin, ExportsMixin, BaseHandler):
    """GET points/restore?user=&point=&path=: a folder of a home in a point; POST: restore."""

    nav_key = "points"
    restore_base = "points/restore"

    def restorable_users(self) -> list:
        return sorted(a.login for a in self.ctx.reader.accounts())

    async def get(self) -> None:
        await self.restore_page(self.client())

    async def post(self) -> None:
        await self.restore_entry(self.client())


class PointsAPIHandler(ExportsMixin, APIHandler):
    async def get(self) -> None:
        self.write_json(await self.call(self.client().points(), 30))


def routes(prefix: str) -> list:
    return [
        (url_path_join(prefix, "points"), PointsHandler),
        (url_path_join(prefix, r"points/(?P<action>enable|key|ssh-key|point|check|settings)"), PointsHandler),
        (url_path_join(prefix, "points/restore"), PointRestoreHandler),
        (url_path_join(prefix, "points/volumes"), PointVolumesHandler),
        (url_path_join(prefix, "api/points"), PointsAPIHandler),
    ]
