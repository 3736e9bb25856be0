"""Courses: each nbgrader course with its teacher, classes, students and assignments; create a
course for a teacher; enrol or unenrol classes (and students). Same engine as `jhub-admin courses`
(courses.CourseManager). JSON: api/courses, api/courses/{id}/enrol, api/courses/{id}/unenrol.
"""
from jupyterhub.utils import url_path_join
from tornado import web

from ..accounts import Busy
from ..courses import CourseError, CourseManager
from .base import APIHandler, BaseHandler
from .i18n import N_

NAV = {"key": "courses", "label": N_("Courses"), "path": "courses", "order": 50}

MESSAGES = {
    "fr": {
        "Courses": "Cours",
        "nbgrader courses": "Cours nbgrader",
        "Course": "Cours",
        "Teacher": "Enseignant",
        "Classes": "Classes",
        "Students": "Élèves",
        "Assignments": "Devoirs",
        "Released": "Distribués",
        "default": "par défaut",
        "No course yet: every teacher gets one at the next synchronisation.":
            "Aucun cours pour l'instant : chaque enseignant en reçoit un à la prochaine synchronisation.",
        "Create a course": "Créer un cours",
        "Course id": "Identifiant du cours",
        "lower-case letters, digits and _; starts with a letter (e.g. nsi_terminale)":
            "lettres minuscules, chiffres et _ ; commence par une lettre (ex. nsi_terminale)",
        "Make it the teacher's default course": "En faire le cours par défaut de l'enseignant",
        "Create": "Créer",
        "Enrol a class": "Inscrire une classe",
        "Enrol": "Inscrire",
        "Unenrol": "Désinscrire",
        "Enrol students (logins, comma-separated)": "Inscrire des élèves (identifiants séparés par des virgules)",
        "Synchronise now": "Synchroniser maintenant",
        "Course %(course)s created for %(teacher)s.": "Cours %(course)s créé pour %(teacher)s.",
        "%(who)s enrolled in %(course)s.": "%(who)s inscrit(s) dans %(course)s.",
        "%(who)s unenrolled from %(course)s (their work is kept).":
            "%(who)s désinscrit(s) de %(course)s (leur travail est conservé).",
        "Courses synchronised.": "Cours synchronisés.",
        "Another operation is running; try again when it is finished.":
            "Une autre opération est en cours ; réessayez quand elle sera terminée.",
        "Warnings: %(warnings)s": "Avertissements : %(warnings)s",
        "Students of an enrolled class are enrolled automatically, including those a later import "
        "adds to it. Unenrolling never deletes any work.":
            "Les élèves d'une classe inscrite sont inscrits automatiquement, y compris ceux qu'un import "
            "ultérieur y ajoute. Une désinscription ne supprime jamais aucun travail.",
        "choose…": "choisir…",
        "Give a class or students.": "Indiquez une classe ou des élèves.",
    },
}


def manager_for(ctx, reads_only=False):
    return CourseManager(ctx.previewer if reads_only else ctx.manager)


async def apply_change(ctx, change):
    """Run change(course_manager) under the registry lock, then converge. Returns warnings."""
    cm = manager_for(ctx)
    with cm.mgr.locked():
        change(cm)
        report = await cm.sync()
    return report.get("warnings", [])


def split_logins(text):
    return [s.strip() for s in (text or "").replace(";", ",").split(",") if s.strip()]


class CoursesHandler(BaseHandler):
    nav_key = "courses"

    def get(self):
        cm = manager_for(self.ctx, reads_only=True)
        reader = self.ctx.reader
        teachers = sorted((a for a in reader.accounts() if a.role in ("teacher", "admin") and not a.disabled),
                          key=lambda a: (a.role != "teacher", a.login))
        self.render_page("courses.html", courses=cm.list(), teachers=teachers, classes=reader.classes())

    async def post(self):
        action = self.get_body_argument("action", "")
        course = self.get_body_argument("course", "").strip()
        classes = [c for c in self.get_body_arguments("class") if c.strip()]
        students = split_logins(self.get_body_argument("students", ""))
        try:
            if action == "create":
                teacher = self.get_body_argument("teacher", "")
                as_default = self.get_body_argument("default", "") == "1"
                warnings = await apply_change(self.ctx, lambda cm: cm.create(course, teacher, as_default))
                message = self._("Course %(course)s created for %(teacher)s.") % {"course": course, "teacher": teacher}
            elif action in ("enrol", "unenrol"):
                if not classes and not students:
                    raise CourseError(self._("Give a class or students."))
                if action == "enrol":
                    warnings = await apply_change(self.ctx, lambda cm: cm.enrol(course, classes, students))
                    message = self._("%(who)s enrolled in %(course)s.")
                else:
                    warnings = await apply_change(self.ctx, lambda cm: cm.unenrol(course, classes, students))
                    message = self._("%(who)s unenrolled from %(course)s (their work is kept).")
                message = message % {"who": ", ".join(classes + students), "course": course}
            elif action == "sync":
                warnings = await apply_change(self.ctx, lambda cm: None)
                message = self._("Courses synchronised.")
            else:
                raise web.HTTPError(400, "unknown action")
        except CourseError as exc:
            self.flash(self.engine_text(exc), "danger")
        except Busy:
            self.flash(self._("Another operation is running; try again when it is finished."), "warning")
        else:
            if warnings:
                message += " " + self._("Warnings: %(warnings)s") % {"warnings": "; ".join(warnings)}
            self.flash(message, "warning" if warnings else "success")
        self.redirect(self.url("courses"), status=303)


class CoursesAPIHandler(APIHandler):
    """GET api/courses; POST api/courses {"course_id", "teacher", "default": false}."""

    def get(self):
        self.write_json({"courses": manager_for(self.ctx, reads_only=True).list()})

    async def post(self):
        body = self.json_body()
        course, teacher = str(body.get("course_id", "")), str(body.get("teacher", ""))
        await self._apply(lambda cm: cm.create(course, teacher, bool(body.get("default"))), status=201)

    async def _apply(self, change, status=200):
        try:
            warnings = await apply_change(self.ctx, change)
        except CourseError as exc:
            raise web.HTTPError(400, str(exc)) from None
        except Busy as exc:
            raise web.HTTPError(409, str(exc)) from None
        self.write_json({"courses": manager_for(self.ctx, reads_only=True).list(), "warnings": warnings},
                        status=status)


class EnrolAPIHandler(CoursesAPIHandler):
    """POST api/courses/{id}/enrol|unenrol {"classes": [...], "students": [...]}."""

    def get(self, course, action):
        raise web.HTTPError(405)

    async def post(self, course, action):
        body = self.json_body()
        classes = [str(c) for c in body.get("classes") or []]
        students = [str(s) for s in body.get("students") or []]
        if not classes and not students:
            raise web.HTTPError(400, "give classes and/or students")
        method = "enrol" if action == "enrol" else "unenrol"
        await self._apply(lambda cm: getattr(cm, method)(course, classes, students))


def routes(prefix):
    return [
        (url_path_join(prefix, "courses"), CoursesHandler),
        (url_path_join(prefix, "api", "courses"), CoursesAPIHandler),
        (url_path_join(prefix, "api", "courses", r"([a-z][a-z0-9_]{1,39})", r"(enrol|unenrol)"), EnrolAPIHandler),
    ]
