"""Bringing back a user's file from a restore point: the points, one folder of the home in the
chosen point, and one entry restored beside the current one. Shared by the admin service's
Restore points page (any user) and My class (the pupils of the teacher's own courses): each
says whom the current user may restore for (``restorable_users``)."""
from typing import Optional

from tornado import web

from ..sidecar.client import ExportsClient, SidecarError
from ..sidecar.points.policy import validate_relpath
from ..sidecar.validation import ValidationError

#: A file takes a second or two; beyond this the request ends with the client's 504, whose
#: message is shown, while the job goes on in the sidecar (its result on the Exports page).
RESTORE_WAIT_S = 60


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


class PointRestoreMixin:
    """For a BaseHandler of either service: the class that uses it gives ``restorable_users()``
    (whom its user may restore for) and ``restore_base`` (the page's path), and passes the
    sidecar's client to ``restore_page`` and ``restore_entry``."""

    restore_base = "points/restore"

    def restorable_users(self) -> list:
        raise NotImplementedError

    def checked_user(self, user: str) -> str:
        if user not in self.restorable_users():
            raise web.HTTPError(403, self._("You may not restore the files of %(user)s.") % {"user": user})
        return user

    async def call_points(self, coro):
        try:
            return await coro
        except SidecarError as exc:
            raise web.HTTPError(exc.status if exc.status < 599 else 503,
                                self._("The restore points answered: %(error)s") % {"error": exc.message}) from None

    async def restore_page(self, client: ExportsClient) -> None:
        user = self.get_query_argument("user", "").strip()
        point_id = self.get_query_argument("point", "").strip()
        try:
            path = validate_relpath(self.get_query_argument("path", ""), allow_empty=True)
        except ValidationError:
            raise web.HTTPError(400, self._("This path is not a path inside the home.")) from None
        values = {"users": self.restorable_users(), "owner": user, "points": [], "point": None,
                  "path": path, "parent": parent_of(path), "listing": None, "error": None,
                  "restore_base": self.restore_base}
        if user:
            self.checked_user(user)
            answer = await self.call_points(client.points())
            values["points"] = answer.get("points") or []
            if answer.get("error"):
                values["error"] = answer["error"]["message"]
            chosen = next((p for p in values["points"] if p["id"] == point_id), None)
            values["point"] = chosen or (values["points"][0] if values["points"] else None)
            if values["point"] and not values["error"]:
                try:
                    values["listing"] = await self.call_points(client.point_files(values["point"]["id"], user, path))
                except web.HTTPError as exc:
                    values["error"] = exc.log_message
        self.render_page("point_restore.html", **values)

    async def restore_entry(self, client: ExportsClient) -> Optional[dict]:
        user = self.checked_user(self.get_body_argument("user", "").strip())
        point = self.get_body_argument("point", "").strip()
        path = self.get_body_argument("path", "")
        job = await self.call_points(client.restore_point_file(point, user, path, self.locale.code[:2],
                                                           self.current_user["name"]))
        job = await self.call_points(client.wait_job(job["id"], poll=0.25, timeout=RESTORE_WAIT_S))
        if job["state"] == "done":
            self.flash(self._("%(path)s is back beside the current one, as %(placed)s.")
                       % {"path": path, "placed": job["result"]["placed"]})
        else:
            self.flash(self._("The restore failed: %(error)s") % {"error": job.get("error")}, "danger")
        self.redirect(self.url(self.restore_base, user=user, point=point, path=parent_of(path)), status=303)
        return job
