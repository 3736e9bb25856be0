"""The Formgrader's additions, a Jupyter Server extension of teachers' servers (teacher profile).

- **A course menu** on every Formgrader page: a teacher with several courses moves between them
  in two clicks, without restarting the server (courses.py).
- **"Autograde every submission"** on an assignment's submissions page, with its progress: one
  child process of the server grades them in turn with nbgrader's own API (jobs.py,
  autograde_all.py), while the server keeps answering.

Both are added by one script (static/formgrader-tools.js) put into the Formgrader's HTML pages as
they leave the server, so no file of nbgrader's is changed or copied: an nbgrader upgrade stays
one line. The script talks to this extension's JSON API under ``<base_url>jhub-admin/grading/``.
"""
import os

from .. import page_script
from .courses import UnknownCourse, switch, teacher_courses
from .jobs import AutogradeJobs, JobRunning

SERVER_EXTENSION = __name__
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
SCRIPT = "formgrader-tools.js"


def script_tag(base_url: str) -> bytes:
    return page_script.script_tag(f"{base_url.rstrip('/')}/jhub-admin/grading/static/{SCRIPT}")


def _jupyter_server_extension_points():
    return [{"module": SERVER_EXTENSION}]


def _load_jupyter_server_extension(serverapp):
    from jupyter_server.base.handlers import APIHandler
    from tornado import web

    webapp = serverapp.web_app
    base_url = webapp.settings.get("base_url", "/")
    formgrader_pages = base_url.rstrip("/") + "/formgrader/"
    not_pages = (formgrader_pages + "api/", formgrader_pages + "static/")
    tag = script_tag(base_url)
    home = os.path.expanduser("~")
    jobs = AutogradeJobs(serverapp.log)

    class GradingHandler(APIHandler):
        @property
        def coursedir(self):
            formgrader = self.settings.get("nbgrader_formgrader")
            if formgrader is None:
                raise web.HTTPError(404, "the Formgrader is not running in this server")
            return formgrader.coursedir

    class CoursesHandler(GradingHandler):
        @web.authenticated
        def get(self):
            self.finish({"active": self.coursedir.course_id, "courses": teacher_courses(home)})

        @web.authenticated
        def post(self):
            self.coursedir  # noqa: B018 (404 without the Formgrader)
            course_id = (self.get_json_body() or {}).get("course_id")
            try:
                active = switch(self.settings, home, str(course_id))
            except UnknownCourse:
                raise web.HTTPError(400, "not one of your courses: %s" % course_id) from None
            self.log.info("jhub-admin: the Formgrader shows the course %s", active)
            self.finish({"active": active})

    class AutogradeAllHandler(GradingHandler):
        @web.authenticated
        def get(self, assignment):
            job = jobs.get(self.coursedir.course_id, assignment)
            self.finish(job.to_json() if job else {"state": "none", "assignment": assignment})

        @web.authenticated
        def post(self, assignment):
            coursedir = self.coursedir
            try:
                job = jobs.start(coursedir.course_id, coursedir.root, assignment)
            except JobRunning:
                raise web.HTTPError(409, "%s is being autograded already" % assignment) from None
            self.set_status(202)
            self.finish(job.to_json())

    def formgrader_page(request):
        return request.path.startswith(formgrader_pages) and not request.path.startswith(not_pages)

    prefix = base_url.rstrip("/") + "/jhub-admin/grading"
    webapp.add_handlers(".*$", [
        (prefix + "/courses", CoursesHandler),
        (prefix + r"/assignments/([^/]+)/autograde", AutogradeAllHandler),
        (prefix + r"/static/(.*)", web.StaticFileHandler, {"path": STATIC}),
    ])
    webapp.add_transform(page_script.script_transform(formgrader_page, tag))
    serverapp.log.info("jhub-admin: course menu and 'autograde every submission' in the Formgrader (%s)", prefix)


load_jupyter_server_extension = _load_jupyter_server_extension
