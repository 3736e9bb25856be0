"""Courses: each nbgrader course with its teacher, classes, students and assignments; create a
course for a teacher; enrol or unenrol classes (and students). Same operations as
`jhub-admin courses`. JSON: api/courses, api/courses/{id}/enrol, api/courses/{id}/unenrol.
"""
from typing import Optional

from jupyterhub.utils import url_path_join
from tornado import web

from ..courses.rules import CourseError
from . import errors, year_close_handlers
from .base import APIHandler, BaseHandler
from .i18n import N_

NAV = [{"key": "courses", "label": N_("Courses"), "path": "courses", "order": 50}]

#: What the page says of each problem of a course's folders in the exchange
#: (courses/exchange_rules.py, problem_of); the next synchronisation repairs them.
EXCHANGE_PROBLEMS = {
    "missing": N_("%(folder)s does not exist yet: any user could make it."),
    "link": N_("%(folder)s is a link made by %(owner)s."),
    "not_folder": N_("%(folder)s is not a folder (owner: %(owner)s)."),
    "owner": N_("%(folder)s belongs to %(owner)s, not to the teacher."),
    "mode": N_("%(folder)s has mode %(found)s instead of %(expected)s."),
}

def split_logins(text: Optional[str]) -> list:
    return [s.strip() for s in (text or "").replace(";", ",").split(",") if s.strip()]


def past_grades_sheets(ctx) -> dict:
    """{course id: [school years]}: the grades sheets that closed years keep (newest first)."""
    sheets = {}
    for year in year_close_handlers.kept_files(ctx):
        for name in year["grades"]:
            sheets.setdefault(name[:-len(".xlsx")], []).append(year["school_year"])
    return sheets


class CoursesHandler(BaseHandler):
    nav_key = "courses"

    def get(self) -> None:
        reader = self.ctx.reader
        teachers = sorted((a for a in reader.accounts() if a.role in ("teacher", "admin") and not a.disabled),
                          key=lambda a: (a.role != "teacher", a.login))
        self.render_page("courses.html", courses=self.ctx.reads.courses.list(), teachers=teachers,
                         classes=reader.classes(), exchange_problem=self.exchange_problem,
                         past_sheets=past_grades_sheets(self.ctx))

    def exchange_problem(self, problem: dict) -> str:
        return self._(EXCHANGE_PROBLEMS[problem["problem"]]) % problem

    async def post(self) -> None:
        action = self.get_body_argument("action", "")
        course = self.get_body_argument("course", "").strip()
        classes = [c for c in self.get_body_arguments("class") if c.strip()]
        students = split_logins(self.get_body_argument("students", ""))
        ops = self.ctx.operations
        try:
            if action == "create":
                teacher = self.get_body_argument("teacher", "")
                as_default = self.get_body_argument("default", "") == "1"
                report = await ops.create_course(course, teacher, as_default)
                message = self._("Course %(course)s created for %(teacher)s.") % {"course": course, "teacher": teacher}
            elif action in ("enrol", "unenrol"):
                if not classes and not students:
                    raise CourseError(self._("Give a class or students."))
                if action == "enrol":
                    report = await ops.enrol(course, classes, students)
                    message = self._("%(who)s enrolled in %(course)s.")
                else:
                    report = await ops.unenrol(course, classes, students)
                    message = self._("%(who)s unenrolled from %(course)s (their work is kept).")
                message = message % {"who": ", ".join(classes + students), "course": course}
            elif action == "sync":
                report = await ops.sync_courses()
                message = self._("Courses synchronised.")
            else:
                raise web.HTTPError(400, "unknown action")
        except Exception as exc:
            refusal = errors.http_error(self, exc)
            if refusal is None:
                raise
            self.flash(refusal.log_message, "warning" if refusal.status_code == 409 else "danger")
        else:
            warnings = report.get("warnings", [])
            if warnings:
                message += " " + self._("Warnings: %(warnings)s") % {"warnings": "; ".join(warnings)}
            self.flash(message, "warning" if warnings else "success")
        self.redirect(self.url("courses"), status=303)


class CoursesAPIHandler(APIHandler):
    """GET api/courses; POST api/courses {"course_id", "teacher", "default": false}."""

    def get(self) -> None:
        self.write_json({"courses": self.ctx.reads.courses.list()})

    async def post(self) -> None:
        body = self.json_body()
        course, teacher = str(body.get("course_id", "")), str(body.get("teacher", ""))
        report = await self.ctx.operations.create_course(course, teacher, bool(body.get("default")))
        self.write_result(report, status=201)

    def write_result(self, report: dict, status: int = 200) -> None:
        self.write_json({"courses": self.ctx.reads.courses.list(), "warnings": report.get("warnings", [])},
                        status=status)


class EnrolAPIHandler(CoursesAPIHandler):
    """POST api/courses/{id}/enrol|unenrol {"classes": [...], "students": [...]}."""

    def get(self, course: str, action: str) -> None:
        raise web.HTTPError(405)

    async def post(self, course: str, action: str) -> None:
        body = self.json_body()
        classes = [str(c) for c in body.get("classes") or []]
        students = [str(s) for s in body.get("students") or []]
        if not classes and not students:
            raise web.HTTPError(400, "give classes and/or students")
        change = self.ctx.operations.enrol if action == "enrol" else self.ctx.operations.unenrol
        self.write_result(await change(course, classes, students))


def routes(prefix: str) -> list:
    return [
        (url_path_join(prefix, "courses"), CoursesHandler),
        (url_path_join(prefix, "api", "courses"), CoursesAPIHandler),
        (url_path_join(prefix, "api", "courses", r"([a-z][a-z0-9_]{1,39})", r"(enrol|unenrol)"), EnrolAPIHandler),
    ]
