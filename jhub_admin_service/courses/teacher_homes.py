"""Course folders, configs and gradebooks in teachers' homes, written AS each teacher.

A teacher owns their home: a path there written by root could be a symlink the teacher planted
(to /etc/shadow, say). So every write happens in a process that runs as the teacher.

One helper process (``python -m jhub_admin_service.courses.teacher_homes``, as root) imports nbgrader
once, then forks one child per teacher; the child drops to the teacher's uid, gid and groups
(identity.drop_to) before it touches the home. A fork costs milliseconds where a new Python with nbgrader costs
about two seconds (and nbgrader starts another one, ``alembic heads``, for each new gradebook):
at the start of term, with fifty teachers, that is seconds instead of minutes.

The helper is a process of its own, given nothing but the teachers' specs on stdin: no password,
hash or token of the caller's is in the memory its children inherit.
"""
import gc
import hashlib
import json
import logging
import os
import resource
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Optional

from ..identity import drop_to

HEADER_NOTEBOOK = "header.ipynb"
ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
#: The header jhub-admin gave before it named JupyterLab's real menus (sha256): a course's header
#: still identical to it was never edited, and is replaced by the header in the course's language.
RETIRED_HEADERS = {"5725626e2a2b41bb27321778abbfeb3e7f7133289f321e609a9464c20544dd0e"}
#: What nbgrader leaves in an answer cell for the pupil, in a French course (nbgrader's English
#: defaults otherwise).
FRENCH_STUBS = {"code_stub": {"python": "# VOTRE CODE ICI\nraise NotImplementedError()"},
                "text_stub": "VOTRE RÉPONSE ICI"}
#: The example notebooks (classroom/examples), given once to each teacher: the top-level ones in
#: ~/exemples, the nbgrader assignments (examples/nbgrader/NAME/) in the default course's source/.
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "classroom", "examples")
EXAMPLES_FOLDER = "exemples"
#: Written once the examples are given: a teacher who deletes them does not get them back.
EXAMPLES_MARK = os.path.join(".jupyter", "jhub-admin-examples-given")
#: The teacher's courses, for the Formgrader's course menu (courses/grading/courses.py reads it).
COURSES_FILE = os.path.join(".jupyter", "jhub-admin-courses.json")
#: First line of every file jhub-admin writes in a teacher's home; a file without it was edited
#: (or made) by the teacher and is never overwritten.
MANAGED_MARK = "# Managed by jhub-admin"
log = logging.getLogger(__name__)
#: A teacher's batch taking longer than this is killed (its teacher is reported as failed).
CHILD_TIMEOUT = 120
#: The address space of a teacher's batch: a home can hold anything (a link to /dev/zero...).
CHILD_MEMORY = 2 << 30
#: A batch's report is a few lines of JSON.
MAX_REPORT = 1 << 20


class TeacherBatchError(RuntimeError):
    pass


# What is written ------------------------------------------------------------------------------

def is_french(lang: str) -> bool:
    """A course speaks its server's language (LANG): French, or else English."""
    return (lang or "").lower().startswith("fr")


def course_config_text(course_id: str, course_root: str, lang: str = "") -> str:
    """The course's nbgrader_config.py (in its folder: nbgrader reads it from the working directory)."""
    db = "sqlite:///" + os.path.join(course_root, "gradebook.db")
    stubs = "".join(f"c.ClearSolutions.{name} = {value!r}\n" for name, value in FRENCH_STUBS.items()) \
        if is_french(lang) else ""
    return (f"{MANAGED_MARK} (remove this line to keep your own changes).\n"
            "c = get_config()  # noqa: F821\n"
            f"c.CourseDirectory.course_id = {course_id!r}\n"
            f"c.CourseDirectory.root = {course_root!r}\n"
            f"c.CourseDirectory.db_url = {db!r}\n"
            + stubs +
            f"c.IncludeHeaderFooter.header = {os.path.join(course_root, 'source', HEADER_NOTEBOOK)!r}\n")


def header_asset(lang: str) -> str:
    """The header notebook of a course in this language: it names JupyterLab's menus as they read."""
    return os.path.join(ASSETS, "header-fr.ipynb" if is_french(lang) else "header-en.ipynb")


def give_header(header: str, lang: str) -> None:
    """The course's header, unless the teacher has one of their own (a retired one, never edited,
    is replaced)."""
    try:
        with open(header, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() not in RETIRED_HEADERS:
                return
    except FileNotFoundError:
        pass
    shutil.copyfile(header_asset(lang), header)


def user_config_text(courses: list, home: str) -> str:
    """~/.jupyter/nbgrader_config.py: which course the formgrader of the teacher's server shows.

    The default course, or the one named in ~/.jupyter/nbgrader_course (then restart the server).
    """
    by_id = {c["course_id"]: os.path.join(home, c["course_id"]) for c in courses}
    default = next((c["course_id"] for c in courses if c.get("is_default")), courses[0]["course_id"])
    return (f"{MANAGED_MARK} (remove this line to keep your own changes).\n"
            "# The formgrader shows one course: the default one, or the one whose id you write in\n"
            "# ~/.jupyter/nbgrader_course (then restart your server from the hub's control panel).\n"
            "import os\n"
            "c = get_config()  # noqa: F821\n"
            f"courses = {by_id!r}\n"
            f"active = {default!r}\n"
            "try:\n"
            "    with open(os.path.expanduser('~/.jupyter/nbgrader_course')) as f:\n"
            "        active = f.read().strip() or active\n"
            "except OSError:\n"
            "    pass\n"
            f"active = active if active in courses else {default!r}\n"
            "c.CourseDirectory.course_id = active\n"
            "c.CourseDirectory.root = courses[active]\n"
            "c.CourseDirectory.db_url = 'sqlite:///' + os.path.join(courses[active], 'gradebook.db')\n"
            "c.IncludeHeaderFooter.header = os.path.join(courses[active], 'source', 'header.ipynb')\n")


def courses_file_text(courses: list) -> str:
    """~/.jupyter/jhub-admin-courses.json: the teacher's courses for the Formgrader's course menu
    (courses/grading), the default one first."""
    return json.dumps([{"course_id": c["course_id"], "classes": c.get("classes", []),
                        "is_default": bool(c.get("is_default"))} for c in courses], ensure_ascii=False, indent=1)


def course_files_present(spec: dict) -> bool:
    """Whether every course folder of a teacher's spec still has its config and gradebook."""
    return all(os.path.exists(os.path.join(spec["home"], c["course_id"], name))
               for c in spec["courses"] for name in ("nbgrader_config.py", "gradebook.db"))


#: What a departed student's last name says in the gradebook, by the helper's language; the next
#: sync that finds them enrolled again gives them their name back.
DEPARTURE_MARKS = {"fr": {"left": "(a quitté le cours)", "removed": "(compte supprimé)"},
                   "en": {"left": "(left the course)", "removed": "(account removed)"}}


def departure_mark(reason: str, lang: str) -> str:
    return DEPARTURE_MARKS["fr" if lang.lower().startswith("fr") else "en"][reason]


def marked(last_name: str, mark: str) -> str:
    """last_name with mark, and with no other departure mark."""
    for marks in DEPARTURE_MARKS.values():
        for other in marks.values():
            if last_name.endswith(" " + other) or last_name == other:
                last_name = last_name[:-len(other)].rstrip()
    return f"{last_name} {mark}".strip()


def teacher_apply(spec: dict, template: Optional[bytes] = None) -> dict:
    """Runs AS the teacher. spec: {"home", "courses": [{"course_id", "is_default",
    "students": [{"id", "first_name", "last_name"}], "departed": {login: "left" | "removed"}}]}.

    For each course: its folder with source/ and the header notebook, its nbgrader_config.py, and
    its gradebook's students: the enrolled ones added or updated (a departed student enrolled
    again gets their name back), and the departed ones (students jhub-admin had put there, no
    longer enrolled) removed if they have no submission, else kept with every score and comment,
    their last name marked (grades are never lost: nbgrader's remove_student deletes them).
    Students the teacher added by hand are left alone. Files are never deleted. ``template``: the
    bytes of an empty gradebook, copied for a new course (see _gradebook_template).
    """
    from nbgrader.api import Gradebook, MissingEntry

    home = spec["home"]
    report = {}
    os.umask(0o077)
    for course in spec["courses"]:
        cid = course["course_id"]
        root = os.path.join(home, cid)
        os.makedirs(os.path.join(root, "source"), exist_ok=True)
        lang = os.environ.get("LANG", "")
        give_header(os.path.join(root, "source", HEADER_NOTEBOOK), lang)
        _write_managed(os.path.join(root, "nbgrader_config.py"), course_config_text(cid, root, lang))
        wanted = {s["id"]: s for s in course["students"]}
        added = removed = kept = 0
        gradebook = os.path.join(root, "gradebook.db")
        if template is not None and not os.path.lexists(gradebook):
            _write_new(gradebook, template)
        with Gradebook("sqlite:///" + gradebook, cid) as gb:
            current = {s.id: s for s in gb.students}
            for sid, s in sorted(wanted.items()):
                cur = current.get(sid)
                if cur is None or cur.first_name != s["first_name"] or cur.last_name != s["last_name"]:
                    gb.update_or_create_student(sid, first_name=s["first_name"], last_name=s["last_name"])
                    added += cur is None
            for sid, reason in sorted(course["departed"].items()):
                student = current.get(sid)
                if student is None or sid in wanted:
                    continue
                if student.submissions:
                    name = marked(student.last_name or "", departure_mark(reason, lang))
                    if name != student.last_name:
                        gb.update_or_create_student(sid, last_name=name)
                    kept += 1
                else:
                    try:
                        gb.remove_student(sid)
                        removed += 1
                    except MissingEntry:
                        pass
        report[cid] = {"students": len(wanted), "added": added, "removed": removed, "kept_with_grades": kept}
    if spec["courses"]:
        os.makedirs(os.path.join(home, ".jupyter"), exist_ok=True)
        _write_managed(os.path.join(home, ".jupyter", "nbgrader_config.py"), user_config_text(spec["courses"], home))
        _replace(os.path.join(home, COURSES_FILE), courses_file_text(spec["courses"]))
        if spec.get("examples"):
            default = next((c for c in spec["courses"] if c.get("is_default")), spec["courses"][0])
            report["examples"] = give_examples_once(home, os.path.join(home, default["course_id"]))
    return report


def give_examples_once(home: str, course_root: str) -> int:
    """Copy the example notebooks into the teacher's home once; never over a file that exists.
    Returns how many files were copied."""
    mark = os.path.join(home, EXAMPLES_MARK)
    if os.path.lexists(mark):
        return 0
    copied = 0
    targets = [(EXAMPLES, os.path.join(home, EXAMPLES_FOLDER))]
    graded = os.path.join(EXAMPLES, "nbgrader")
    targets += [(os.path.join(graded, name), os.path.join(course_root, "source", name))
                for name in sorted(os.listdir(graded)) if os.path.isdir(os.path.join(graded, name))]
    for source, target in targets:
        os.makedirs(target, exist_ok=True)
        for name in sorted(os.listdir(source)):
            path, dest = os.path.join(source, name), os.path.join(target, name)
            if name.endswith(".ipynb") and os.path.isfile(path) and not os.path.lexists(dest):
                with open(path, "rb") as f:
                    _write_new(dest, f.read())
                copied += 1
    os.makedirs(os.path.dirname(mark), exist_ok=True)
    with open(mark, "w") as f:
        f.write("The example notebooks were copied once; delete this file to get the missing ones again.\n")
    return copied


def _write_managed(path, text):
    """Write path unless it exists without the jhub-admin mark (the teacher's own version).

    Whatever the teacher put there is read with care: a link is not followed, a FIFO does not
    block, and no more than the managed text's length is read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        current = None
    except OSError:  # a symbolic link (ELOOP), or unreadable: the teacher's, left alone
        return
    else:
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return
            current = f.read(len(text.encode()) + 1).decode("utf-8", "replace")
    if current is not None and (current == text or not current.startswith(MANAGED_MARK)):
        return
    _replace(path, text)


def _replace(path, text):
    """path holds text, written under a temporary name then renamed over (never through a link)."""
    tmp = path + ".tmp"
    try:
        os.unlink(tmp)  # whatever is there (a FIFO, a link) is not written through
    except FileNotFoundError:
        pass
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "w") as f:
        f.write(text)
    os.replace(tmp, path)


# The caller's side ----------------------------------------------------------------------------

def apply_as_teachers(batches: list, lang: str = "C.UTF-8", workers: Optional[int] = None,
                      timeout: int = CHILD_TIMEOUT) -> dict:
    """Apply each (login, spec) as its teacher, ``workers`` teachers at a time (default: one per
    core), each within ``timeout`` seconds, in the locale ``lang``. Returns {login: report}, with
    a TeacherBatchError as the value of a failed teacher."""
    if not batches:
        return {}
    request = {"workers": workers or os.cpu_count() or 1, "timeout": timeout,
               "teachers": [{"login": login, "spec": spec} for login, spec in batches]}
    env = {"LANG": lang,
           "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}
    rounds = -(-len(batches) // request["workers"])
    # -I and cwd=/: the helper runs as root and must not import from wherever the admin stands
    # (python -m puts the working directory first on sys.path).
    try:
        proc = subprocess.run([sys.executable, "-I", "-m", __name__], input=json.dumps(request), capture_output=True,
                              text=True, env=env, cwd="/", timeout=timeout * rounds + 120)
        stdout, stderr, status = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:  # the helper itself hung: keep what it reported
        stdout, stderr, status = _text(exc.stdout), _text(exc.stderr), "timeout"
    if stderr.strip():  # the failed teachers' tracebacks
        log.info("course helper output:\n%s", stderr.strip()[-8000:])
    results = {}
    for line in stdout.splitlines():
        item = json.loads(line)
        results[item["login"]] = (TeacherBatchError(f"course update as {item['login']} failed: {item['error']}")
                                  if "error" in item else item["report"])
    for login, _spec in batches:
        results.setdefault(login, TeacherBatchError(
            f"course update as {login} failed ({status}): {stderr.strip()[-2000:]}"))
    return results


def _text(data):
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")


# The helper's side ----------------------------------------------------------------------------

def _preload_nbgrader():
    """Make nbgrader ready once, for every child to inherit.

    * SQLAlchemy configures the gradebook's mappers at the first query, 0.2 s of CPU: done here.
    * nbgrader's Gradebook asks a new `alembic heads` process for the schema version of each new
      database (another Python, over a second of CPU); the same answer comes from nbgrader's
      migration scripts, read here once.
    """
    # nbgrader imports jsonschema (through nbformat), which builds a parser for IRI formats when
    # the optional rfc3987_syntax is installed: 0.6 s of CPU at every start of this helper, which
    # never validates a notebook. A None entry in sys.modules makes that optional import fail,
    # and jsonschema goes without those two format checkers.
    sys.modules.setdefault("rfc3987_syntax", None)
    import nbgrader.api
    from alembic.script import ScriptDirectory
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    scripts = os.path.join(os.path.dirname(nbgrader.api.__file__), "alembic")
    head = ScriptDirectory(scripts).get_current_head()
    nbgrader.api.get_alembic_version = lambda: head
    gc.freeze()  # the children's garbage collector leaves these objects (and their pages) alone


def _gradebook_template():
    """The bytes of an empty gradebook (nbgrader's tables and schema version, no course), made
    once by nbgrader's own Gradebook: a new course's gradebook is a copy of them, instead of the
    tables made again for each teacher. The children inherit them in memory."""
    from nbgrader.api import Gradebook

    with tempfile.TemporaryDirectory(prefix="jhub-admin-gradebook-") as folder:
        path = os.path.join(folder, "gradebook.db")
        with Gradebook("sqlite:///" + path, course_id=""):  # "": no course row
            pass
        with open(path, "rb") as f:
            return f.read()


def _write_new(path, data):
    """Make path a new file holding data, whole or not at all (a full disk or a deadline may stop
    the copy): written under a temporary name, then linked in place, never through a link."""
    partial = f"{path}.jhub-admin-{os.getpid()}"
    out = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            while data:
                data = data[os.write(out, data):]
        finally:
            os.close(out)
        os.link(partial, path)  # fails if path appeared meanwhile: the teacher's file stays
    finally:
        os.unlink(partial)


def _child(login, spec, out_fd, template):
    code = 1
    try:
        try:
            os.dup2(2, 1)  # the helper's stdout carries the results: nothing else may reach it
            resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))
            drop_to(login, spec["home"])
            if spec.get("school_year"):  # a year closed: the courses' year put away (year/teacher_side.py)
                from ..year.teacher_side import put_away_courses
                result, code = {"report": put_away_courses(spec)}, 0
            else:
                result, code = {"report": teacher_apply(spec, template)}, 0
        except Exception as exc:  # noqa: BLE001 (reported to the caller as this teacher's failure)
            traceback.print_exc()
            result = {"error": f"{type(exc).__name__}: {exc}"}
        data = json.dumps(result).encode()
        while data:
            data = data[os.write(out_fd, data):]
    finally:
        sys.stderr.flush()
        os._exit(code)


class _Running:
    """A child at work: its pid, its teacher, the read end of its pipe, its deadline."""

    def __init__(self, pid: int, login: str, read_fd: int, timeout: float):
        self.pid, self.login, self.read_fd = pid, login, read_fd
        self.deadline = time.monotonic() + timeout
        self.output = b""

    def result(self, killed_because: Optional[str] = None) -> dict:
        if killed_because:
            os.kill(self.pid, signal.SIGKILL)  # the teacher may have stopped it (kill -STOP)
        os.close(self.read_fd)
        _, status = os.waitpid(self.pid, 0)
        if killed_because:
            return {"login": self.login, "error": f"{killed_because}: stopped"}
        try:
            return {"login": self.login, **json.loads(self.output)}
        except ValueError:
            return {"login": self.login, "error": f"the batch ended with status {os.waitstatus_to_exitcode(status)}"}


def _start(item, running, timeout, template):
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        for fd in [read_fd, *(other.read_fd for other in running)]:
            os.close(fd)
        _child(item["login"], item["spec"], write_fd, template)
    os.close(write_fd)
    return _Running(pid, item["login"], read_fd, timeout)


def main() -> int:
    """The helper: results as JSON lines on stdout, in the order the teachers finish. Deadlines
    are kept here, not in the children, which run as the teachers and could be stopped."""
    request = json.load(sys.stdin)
    _preload_nbgrader()
    template = _gradebook_template()
    queue, running = list(request["teachers"]), {}
    with selectors.DefaultSelector() as selector:
        while queue or running:
            while queue and len(running) < max(1, int(request["workers"])):
                child = _start(queue.pop(0), running.values(), request["timeout"], template)
                running[child.read_fd] = child
                selector.register(child.read_fd, selectors.EVENT_READ)
            now = time.monotonic()
            for key, _ in selector.select(timeout=max(0.0, min(c.deadline for c in running.values()) - now)):
                child = running[key.fd]
                chunk = os.read(key.fd, 65536)
                child.output += chunk
                if not chunk or len(child.output) > MAX_REPORT:
                    selector.unregister(key.fd)
                    reason = "report too long" if chunk else None
                    print(json.dumps(running.pop(key.fd).result(reason)), flush=True)
            for fd, child in list(running.items()):
                if time.monotonic() > child.deadline:
                    selector.unregister(fd)
                    print(json.dumps(running.pop(fd).result(f"no answer after {request['timeout']} s")),
                          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
