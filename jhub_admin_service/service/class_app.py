"""My class: a page of the hub for teachers, as a managed service of its own
(``python -m jhub_admin_service.service.class_app``), apart from the admin service, which refuses
anyone but an admin.

A teacher sees their nbgrader courses (an admin sees every course), how many of each course's
students have a server ready, and starts those servers before the lesson: the warm start of
classroom/warm_start.py, at the pace of the hub's spawner, kept for the time chosen so that the
idle culler leaves them alone until the lesson has begun. A teacher can start only the students
of their own courses; the service's hub token may start only students' servers
(jupyterhub_config.py).

Each course's grades, as a sheet for Pronote's grid: GET courses/COURSE/grades.xlsx or .csv
(?assignment=A: one assignment, question by question), read from the teacher's gradebook as the
teacher (courses/gradebook_reader.py).

A pupil's file brought back from a restore point (GET/POST restore), for the pupils of the
teacher's own courses (service/point_restore.py, shared with the admin's Restore points page).

JSON for scripts: GET api/courses, POST api/courses/COURSE/warm {"minutes": 60}.
"""
import asyncio
import logging
import os
from typing import Optional
from urllib.parse import quote

from jupyterhub.services.auth import UserNotAllowed
from jupyterhub.utils import url_path_join
from tornado import web

from ..accounts.registry import Registry
from ..classroom import warm_start
from ..courses import grades, rules
from ..courses.gradebook_reader import GradebookUnreadable
from ..courses.manager import CourseManager
from ..courses.store import CourseStore
from ..hub import HubClient
from ..jobs import Job, JobManager
from ..settings import AdminSettings
from ..sidecar.client import ExportsClient
from .base import APIHandler, BaseHandler
from .page_service import PageService, page_application
from .point_restore import PointRestoreMixin
from .preferences import Preferences

log = logging.getLogger("jhub_admin_service.class")
KEEP_CHOICES = (30, 60, 90, 120)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Roles (the registry's) let in besides the hub's admins.
TEACHING_ROLES = ("teacher", "admin")


class ClassContext:
    """What the handlers share (``settings["jhub_admin"]``): the registry read-only, the courses,
    a hub client with the service's own token, the warm start jobs."""

    def __init__(self, settings: AdminSettings, data_dir: str):
        self.settings = settings
        self.prefix = url_path_join(settings.service_prefix, "")
        self.hub_prefix = url_path_join(settings.hub_base_url, "hub/")
        self.nav = []
        self.preferences = Preferences(os.path.join(data_dir, "jhub-admin-preferences.json"))
        self.registry = Registry(settings.registry_path, readonly=True)
        self.store = CourseStore(self.registry)
        self.hub = HubClient(settings.hub_api_url, settings.hub_api_token)
        self.jobs = JobManager(os.path.join(data_dir, "jhub-class-jobs.json"))
        self.courses = CourseManager(settings, self.registry, self.hub)  # reads only: the grades

    def teaches(self, login: str) -> bool:
        account = self.registry.get(login)
        return account is not None and not account.disabled and account.role in TEACHING_ROLES

    def courses_for(self, login: str, admin: bool) -> list:
        """[(course, sorted member logins)]: the teacher's own courses, every course for an admin."""
        accounts = {a.login: a for a in self.registry.accounts()}
        return [(c, sorted(rules.members(c, accounts))) for c in self.store.courses()
                if admin or c.teacher == login]

    def warm_job(self, course_id: str):
        return self.jobs.running(f"warm-course:{course_id}")


class TeachersOnly:
    """Let in the hub's admins and the registry's teachers; anyone else gets a 403."""

    admins_only = False
    refusal_message = "This page is for the hub's teachers."

    def check_hub_user(self, model: dict) -> dict:
        model = super().check_hub_user(model)
        if not model.get("admin") and not self.ctx.teaches(model.get("name", "")):
            self._refused_user = model.get("name")
            raise UserNotAllowed(model)
        return model

    def my_courses(self) -> list:
        return self.ctx.courses_for(self.current_user["name"], bool(self.current_user.get("admin")))

    def my_course(self, course_id: str) -> tuple:
        """(course, members) if it is one of the user's courses; 404 otherwise (a teacher learns
        nothing of the others' courses)."""
        for course, members in self.my_courses():
            if course.course_id == course_id:
                return course, members
        raise web.HTTPError(404, "No such course of yours: %s", course_id)

    async def overview(self) -> list:
        """Each course with its students' servers (running, ready) and its warm start, if any."""
        if not self.ctx.hub.configured:
            raise web.HTTPError(503, "The JupyterHub API is not configured for this service.")
        servers = await self.ctx.hub.running_servers()
        out = []
        for course, members in self.my_courses():
            job = self.ctx.warm_job(course.course_id)
            out.append({"course": course.course_id, "classes": sorted(course.classes), "teacher": course.teacher,
                        "students": len(members),
                        "running": sum(1 for m in members if m in servers),
                        "ready": sum(1 for m in members if servers.get(m, {}).get("ready")),
                        "warm": job.to_json() if job else None})
        return out

    def start(self, course_id: str, minutes) -> Job:
        course, members = self.my_course(course_id)
        try:
            keep = warm_start.keep_minutes(minutes)
        except ValueError as exc:
            raise web.HTTPError(400, str(exc)) from None
        if not members:
            raise web.HTTPError(400, "No student is enrolled in the course %s.", course_id)
        job = warm_start.start_job(self.ctx.jobs, self.ctx.hub, members, keep, self.current_user["name"],
                                   f"warm-course:{course_id}", {"course": course_id})
        log.info("warm start of the course %s (%d students, kept %d min) by %s", course_id, len(members), keep,
                 self.current_user["name"])
        return job


class ClassPageHandler(TeachersOnly, BaseHandler):
    async def get(self) -> None:
        self.render_page("class.html", courses=await self.overview(), keep_choices=KEEP_CHOICES)


class WarmCourseHandler(TeachersOnly, BaseHandler):
    """POST courses/COURSE/warm (minutes)"""

    def post(self, course_id: str) -> None:
        job = self.start(course_id, self.get_body_argument("minutes", "60"))
        self.flash(self._("The servers of %(course)s are starting (%(n)d).")
                   % {"course": course_id, "n": job.counts["servers"]})
        self.redirect(self.prefix, status=303)


class GradesHandler(TeachersOnly, BaseHandler):
    """GET courses/COURSE/grades.xlsx (or .csv), ?assignment=A for one assignment question by
    question: the course's grades, for Pronote's grid."""

    async def get(self, course_id: str, kind: str) -> None:
        self.my_course(course_id)  # 404 unless it is the teacher's
        assignment = self.get_query_argument("assignment", None) or None
        lang = self.locale.code[:2]
        loop = asyncio.get_running_loop()
        try:
            sheet = await loop.run_in_executor(None, self.ctx.courses.grades, course_id, assignment, lang)
        except GradebookUnreadable as exc:
            raise web.HTTPError(409, str(exc)) from None
        body = grades.to_xlsx(sheet) if kind == "xlsx" else grades.to_csv(sheet)
        name = f"notes-{course_id}{'-' + assignment if assignment else ''}.{kind}"
        self.set_header("Content-Type", XLSX_TYPE if kind == "xlsx" else "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name)}")
        self.set_header("Cache-Control", "no-store")
        self.finish(body)


class PupilRestoreHandler(PointRestoreMixin, TeachersOnly, BaseHandler):
    """GET restore?user=&point=&path=, POST restore: a pupil's file brought back from a restore
    point, for the pupils of the teacher's own courses only (point_restore.py)."""

    restore_base = "restore"

    def restorable_users(self) -> list:
        pupils = {login for _, members in self.my_courses() for login in members}
        return sorted(login for login in pupils
                      if (account := self.ctx.registry.get(login)) is not None and account.role == "student")

    def client(self) -> ExportsClient:
        client = ExportsClient.if_configured(self.ctx.settings)
        if client is None:
            raise web.HTTPError(503, self._("Restore points need the export sidecar, which is not configured here."))
        return client

    async def get(self) -> None:
        await self.restore_page(self.client())

    async def post(self) -> None:
        await self.restore_entry(self.client())


class CoursesAPIHandler(TeachersOnly, APIHandler):
    async def get(self) -> None:
        self.write_json({"courses": await self.overview()})


class WarmCourseAPIHandler(TeachersOnly, APIHandler):
    def post(self, course_id: str) -> None:
        job = self.start(course_id, self.json_body().get("minutes", 60))
        self.write_json(job.to_json(), status=202)


def make_app(settings: AdminSettings, cookie_secret: bytes) -> web.Application:
    ctx = ClassContext(settings, os.path.dirname(os.path.abspath(settings.registry_path)))
    course = r"(?P<course_id>[^/]+)"
    return page_application(ctx, [("", ClassPageHandler), (f"courses/{course}/warm", WarmCourseHandler),
                                  (f"courses/{course}/grades\\.(?P<kind>csv|xlsx)", GradesHandler),
                                  ("restore", PupilRestoreHandler), ("api/courses", CoursesAPIHandler),
                                  (f"api/courses/{course}/warm", WarmCourseAPIHandler)], cookie_secret)


class ClassService(PageService):
    name = "jhub-class"
    description = "My class: teachers start their students' servers before the lesson."

    def make_app(self, settings: AdminSettings, cookie_secret: bytes) -> web.Application:
        return make_app(settings, cookie_secret)


def main(argv: Optional[list] = None) -> None:
    ClassService.launch_instance(argv)


if __name__ == "__main__":
    main()
