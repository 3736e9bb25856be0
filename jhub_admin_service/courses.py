"""nbgrader courses: the exchange, courses for teachers, class enrolment.

Three layers, as in the rest of the engine:

* pure rules and planning (course ids, default courses, who is enrolled, which hub groups);
* the course tables, kept in the account registry's SQLite file (``CourseStore``);
* effects, converged from the registry by ``CourseManager.sync()``: the exchange root, the
  course folders and gradebooks in each teacher's home (written by one batch process per teacher,
  running AS the teacher, so every file there stays the teacher's), and the hub groups
  ``formgrade-<course>`` (its teacher) and ``nbgrader-<course>`` (its students).

Course ids. nbgrader puts the id in paths (``<exchange>/<course>/...``), in config files and
in hub group names (``nbgrader-<course>``, split on the first '-'), and uses '+' as a field
separator in submission names. An id is therefore 2 to 40 characters, lower-case ASCII letters,
digits and '_', starting with a letter. A teacher's default course is ``cours_<login>`` with
every run of characters other than [a-z0-9] in the login turned into one '_'
(``jean-luc.picard`` -> ``cours_jean_luc_picard``), cut to 40 characters, with a numeric
suffix if another course already has that id. The id is stored when the course is made, so it
never changes afterwards.

Enrolment. A course remembers the classes enrolled in it and the students enrolled one by one,
and the students unenrolled one by one from an enrolled class. Its members are computed from
the registry at every sync, so students added to an enrolled class by a later import are
enrolled by the next sync (the import path runs it). Unenrolling removes the student from the
hub group and from the gradebook, never any file: submissions stay in the exchange and in the
teacher's ``submitted/`` folder.
"""
import asyncio
import json
import logging
import os
import pwd
import re
import time
from dataclasses import dataclass, field

from .teacher_homes import TeacherBatchError, apply_as_teachers, course_files_present

log = logging.getLogger(__name__)

COURSE_ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
MAX_COURSE_ID = 40
DEFAULT_PREFIX = "cours_"
STUDENT_GROUP_PREFIX = "nbgrader-"
GRADER_GROUP_PREFIX = "formgrade-"
DEFAULT_EXCHANGE_ROOT = "/srv/nbgrader/exchange"

SCHEMA = """
CREATE TABLE IF NOT EXISTS courses (
    course_id TEXT PRIMARY KEY,
    teacher TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    auto INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS course_classes (
    course_id TEXT NOT NULL REFERENCES courses (course_id) ON DELETE CASCADE,
    class TEXT NOT NULL,
    PRIMARY KEY (course_id, class)
);
-- enrolled = 1: enrolled one by one; enrolled = 0: unenrolled from an enrolled class.
CREATE TABLE IF NOT EXISTS course_students (
    course_id TEXT NOT NULL REFERENCES courses (course_id) ON DELETE CASCADE,
    login TEXT NOT NULL,
    enrolled INTEGER NOT NULL,
    PRIMARY KEY (course_id, login)
);
-- What the last successful batch wrote in each teacher's home (JSON), to skip unchanged teachers.
CREATE TABLE IF NOT EXISTS course_sync (
    teacher TEXT PRIMARY KEY,
    spec TEXT NOT NULL
);
"""


class CourseError(ValueError):
    """A course request that cannot be honoured (bad id, unknown teacher or course...)."""


# Pure rules ------------------------------------------------------------------------------------

def course_id_problem(course_id):
    """Why a course id is unusable, or None when nbgrader, the hub and the file system all accept it."""
    if not course_id:
        return "empty course id"
    if len(course_id) > MAX_COURSE_ID:
        return f"a course id has at most {MAX_COURSE_ID} characters"
    if not COURSE_ID_RE.match(course_id):
        return ("a course id uses lower-case letters, digits and '_' (no '-', '.', '+', space or accent), "
                "starts with a letter and has at least 2 characters")
    return None


def default_course_id(login, taken=()):
    """'jean-luc.picard' -> 'cours_jean_luc_picard'; a numeric suffix when the id is taken."""
    body = re.sub(r"[^a-z0-9]+", "_", login.lower()).strip("_") or "prof"
    base = (DEFAULT_PREFIX + body)[:MAX_COURSE_ID].rstrip("_")
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"_{n}"
        candidate = base[:MAX_COURSE_ID - len(suffix)].rstrip("_") + suffix
        n += 1
    return candidate


@dataclass
class Course:
    course_id: str
    teacher: str
    is_default: bool = False
    auto: bool = False
    classes: list = field(default_factory=list)
    students: list = field(default_factory=list)  # enrolled one by one
    excluded: list = field(default_factory=list)  # unenrolled from an enrolled class
    created_at: float = 0.0

    def to_json(self):
        return {"course_id": self.course_id, "teacher": self.teacher, "is_default": self.is_default,
                "classes": list(self.classes), "students": list(self.students), "excluded": list(self.excluded)}


def members(course, accounts):
    """The logins enrolled in course: active students of its classes and those enrolled one by
    one, minus those unenrolled one by one. accounts: {login: Account}."""
    classes = set(course.classes)
    out = {a.login for a in accounts.values()
           if a.role == "student" and not a.disabled and classes.intersection(a.classes)}
    out |= {login for login in course.students if login in accounts and not accounts[login].disabled}
    return out - set(course.excluded)


def missing_default_courses(accounts, courses):
    """[(course_id, teacher)] for every active teacher who has no course yet."""
    has_course = {c.teacher for c in courses}
    taken = {c.course_id for c in courses}
    out = []
    for a in sorted(accounts.values(), key=lambda a: a.login):
        if a.role == "teacher" and not a.disabled and a.login not in has_course:
            cid = default_course_id(a.login, taken)
            taken.add(cid)
            out.append((cid, a.login))
    return out


def wanted_course_groups(courses, accounts):
    """{group: set(logins)} for the hub: formgrade-<course> (its teacher, when an active account)
    and nbgrader-<course> (its students)."""
    groups = {}
    for c in courses:
        teacher = accounts.get(c.teacher)
        groups[GRADER_GROUP_PREFIX + c.course_id] = {c.teacher} if teacher and not teacher.disabled else set()
        groups[STUDENT_GROUP_PREFIX + c.course_id] = members(c, accounts)
    return groups


def is_course_group(name, course_ids):
    for prefix in (GRADER_GROUP_PREFIX, STUDENT_GROUP_PREFIX):
        if name.startswith(prefix) and name[len(prefix):] in course_ids:
            return True
    return False


def plan_enrol(course, accounts, classes=(), students=()):
    """(new classes, new students, new excluded) after enrolling classes and students.
    Raises CourseError for an unknown student login."""
    unknown = [s for s in students if s not in accounts]
    if unknown:
        raise CourseError(f"no account {', '.join(sorted(unknown))!s} is managed by jhub-admin")
    new_classes = sorted(set(course.classes) | {c.strip() for c in classes if c.strip()})
    new_students = sorted(set(course.students) | set(students))
    new_excluded = sorted(set(course.excluded) - set(students))
    return new_classes, new_students, new_excluded


def plan_unenrol(course, accounts, classes=(), students=()):
    """(new classes, new students, new excluded) after unenrolling classes and students. A student
    who still belongs to an enrolled class is remembered as excluded from it."""
    missing = [c for c in classes if c not in course.classes]
    if missing:
        raise CourseError(f"class {', '.join(missing)} is not enrolled in {course.course_id}")
    new_classes = sorted(set(course.classes) - set(classes))
    new_students = sorted(set(course.students) - set(students))
    still = Course(course.course_id, course.teacher, classes=new_classes)
    in_class = members(still, accounts)
    new_excluded = sorted((set(course.excluded) | {s for s in students if s in in_class}) & in_class)
    return new_classes, new_students, new_excluded


# The registry tables ---------------------------------------------------------------------------

class CourseStore:
    """The course tables, in the account registry's SQLite file."""

    def __init__(self, registry):
        self.registry = registry
        self._ready = False

    def _db(self):
        db = self.registry.db
        if not self._ready:
            if self.registry.readonly:
                exists = db.execute("SELECT name FROM sqlite_master WHERE name = 'courses'").fetchone()
                if not exists:
                    try:
                        db.executescript(SCHEMA)
                    except Exception:  # a read-only file without course tables: no courses
                        return None
            else:
                db.executescript(SCHEMA)
            self._ready = True
        return db

    def courses(self):
        db = self._db()
        if db is None:
            return []
        classes, students = {}, {}
        for row in db.execute("SELECT course_id, class FROM course_classes ORDER BY class"):
            classes.setdefault(row[0], []).append(row[1])
        for row in db.execute("SELECT course_id, login, enrolled FROM course_students ORDER BY login"):
            students.setdefault(row[0], ([], []))[0 if row[2] else 1].append(row[1])
        out = []
        for row in db.execute("SELECT * FROM courses ORDER BY teacher, course_id"):
            inc, exc = students.get(row["course_id"], ([], []))
            out.append(Course(row["course_id"], row["teacher"], bool(row["is_default"]), bool(row["auto"]),
                              classes.get(row["course_id"], []), inc, exc, row["created_at"]))
        return out

    def get(self, course_id):
        return next((c for c in self.courses() if c.course_id == course_id), None)

    def insert(self, db, course_id, teacher, is_default=False, auto=False):
        self._db()
        db.execute("INSERT INTO courses (course_id, teacher, is_default, auto, created_at) VALUES (?, ?, ?, ?, ?)",
                   (course_id, teacher, int(is_default), int(auto), time.time()))

    def last_specs(self):
        db = self._db()
        if db is None:
            return {}
        return {row[0]: json.loads(row[1]) for row in db.execute("SELECT teacher, spec FROM course_sync")}

    def save_spec(self, db, teacher, spec):
        db.execute("INSERT OR REPLACE INTO course_sync (teacher, spec) VALUES (?, ?)",
                   (teacher, json.dumps(spec, sort_keys=True)))

    def delete(self, db, course_id):
        for table in ("course_classes", "course_students", "courses"):
            db.execute(f"DELETE FROM {table} WHERE course_id = ?", (course_id,))

    def set_default(self, db, teacher, course_id):
        db.execute("UPDATE courses SET is_default = (course_id = ?) WHERE teacher = ?", (course_id, teacher))

    def set_enrolment(self, db, course_id, classes, students, excluded):
        db.execute("DELETE FROM course_classes WHERE course_id = ?", (course_id,))
        db.execute("DELETE FROM course_students WHERE course_id = ?", (course_id,))
        db.executemany("INSERT INTO course_classes (course_id, class) VALUES (?, ?)",
                       [(course_id, c) for c in classes])
        db.executemany("INSERT INTO course_students (course_id, login, enrolled) VALUES (?, ?, 1)",
                       [(course_id, s) for s in students])
        db.executemany("INSERT INTO course_students (course_id, login, enrolled) VALUES (?, ?, 0)",
                       [(course_id, s) for s in excluded])


# Effects ---------------------------------------------------------------------------------------

def exchange_root():
    return os.environ.get("JHUB_EXCHANGE_ROOT") or DEFAULT_EXCHANGE_ROOT


def prepare_exchange(root=None):
    """Make the exchange root exist with mode 1777, owned by root (at every container start)."""
    root = root or exchange_root()
    os.makedirs(root, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(root, 0, 0)
    os.chmod(root, 0o1777)
    return root


def count_assignments(course_dir):
    """Assignments of a course: the folders in its source/ (read as root; 0 when unreadable)."""
    try:
        with os.scandir(os.path.join(course_dir, "source")) as it:
            return sum(1 for e in it if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return 0


def released_assignments(course_id, root=None):
    try:
        with os.scandir(os.path.join(root or exchange_root(), course_id, "outbound")) as it:
            return sorted(e.name for e in it if e.is_dir())
    except OSError:
        return []


class CourseManager:
    """Courses from the CLI, the service and the import path. Every method writes the registry,
    then converges the effects with sync()."""

    def __init__(self, accounts_manager):
        self.mgr = accounts_manager
        self.registry = accounts_manager.registry
        self.store = CourseStore(self.registry)

    @property
    def settings(self):
        return self.mgr.settings

    def accounts(self):
        return self.registry.by_login()

    def list(self):
        accounts = self.accounts()
        out = []
        for c in self.store.courses():
            item = c.to_json()
            item["members"] = sorted(members(c, accounts))
            item["n_students"] = len(item["members"])
            item["assignments"] = count_assignments(os.path.join(self.settings.home_root, c.teacher, c.course_id))
            item["released"] = released_assignments(c.course_id)
            out.append(item)
        return out

    # Writes to the registry

    def _teacher(self, login):
        a = self.registry.get(login)
        if a is None:
            raise CourseError(f"no account {login!r} is managed by jhub-admin")
        if a.role not in ("teacher", "admin"):
            raise CourseError(f"{login!r} is a {a.role}, not a teacher")
        return a

    def _course(self, course_id):
        c = self.store.get(course_id)
        if c is None:
            raise CourseError(f"no course {course_id!r}")
        return c

    def create(self, course_id, teacher, as_default=False):
        problem = course_id_problem(course_id)
        if problem:
            raise CourseError(f"{course_id!r}: {problem}")
        self._teacher(teacher)
        existing = self.store.get(course_id)
        if existing is not None:
            raise CourseError(f"course {course_id!r} already exists (teacher: {existing.teacher})")
        own = [c for c in self.store.courses() if c.teacher == teacher]
        with self.registry.transaction() as db:
            self.store.insert(db, course_id, teacher, is_default=not own)
            if as_default:
                self.store.set_default(db, teacher, course_id)
                # The automatic course gives way when the admin names the teacher's course, as
                # long as nobody was enrolled in it (its folder, if any, stays in the home).
                for c in own:
                    if c.auto and not (c.classes or c.students):
                        self.store.delete(db, c.course_id)

    def ensure_default_courses(self):
        todo = missing_default_courses(self.accounts(), self.store.courses())
        if todo:
            with self.registry.transaction() as db:
                for cid, teacher in todo:
                    self.store.insert(db, cid, teacher, is_default=True, auto=True)
        return todo

    def enrol(self, course_id, classes=(), students=()):
        course = self._course(course_id)
        new = plan_enrol(course, self.accounts(), classes, students)
        with self.registry.transaction() as db:
            self.store.set_enrolment(db, course_id, *new)

    def unenrol(self, course_id, classes=(), students=()):
        course = self._course(course_id)
        new = plan_unenrol(course, self.accounts(), classes, students)
        with self.registry.transaction() as db:
            self.store.set_enrolment(db, course_id, *new)

    # Convergence

    async def sync(self, local=True, hub=True, force=False, hub_users_ready=None):
        """Default courses, then the teachers' homes (as the teachers), then the hub groups.

        ``hub_users_ready``: an awaitable that the hub groups wait for (the accounts' own hub
        sync, which runs meanwhile: a course group can only hold users the hub knows). It gives
        the names of the hub's users, or None to read them from the hub."""
        report = {"default_courses": [cid for cid, _ in self.ensure_default_courses()], "warnings": []}
        accounts = self.accounts()
        courses = self.store.courses()
        if local:
            prepare_exchange()
            if self.settings.manage_local_accounts:
                # The helper process does the work: off the event loop (the service).
                loop = asyncio.get_running_loop()
                todo = self.homes_to_update(courses, accounts, report["warnings"], force)
                results = await loop.run_in_executor(None, apply_as_teachers, todo)
                report["homes"] = self.record_homes(todo, results, report["warnings"])
        hub_users = None
        if hub_users_ready is not None:
            try:
                hub_users = await hub_users_ready
            except Exception:  # noqa: BLE001 (the accounts' hub sync failed: it reports it itself)
                return report
        if hub and self.mgr.hub.configured:
            report["hub"] = await self.sync_hub(courses, accounts, hub_users)
        return report

    def homes_to_update(self, courses, accounts, warnings, force=False):
        """[(teacher, spec)] for each teacher whose courses changed since the last sync (or whose
        course files are missing)."""
        all_students = sorted(login for login, a in accounts.items() if a.role == "student")
        by_teacher = {}
        for c in courses:
            by_teacher.setdefault(c.teacher, []).append(c)
        last = self.store.last_specs()
        todo = []
        for teacher, own in sorted(by_teacher.items()):
            a = accounts.get(teacher)
            if a is None or a.disabled:
                continue
            try:
                home = pwd.getpwnam(teacher).pw_dir
            except KeyError:
                warnings.append(f"{teacher}: no local account yet; run `jhub-admin reconcile` first")
                continue
            spec = {"home": home, "courses": [
                {"course_id": c.course_id, "is_default": c.is_default,
                 "students": [{"id": s, "first_name": accounts[s].first_name, "last_name": accounts[s].last_name}
                              for s in sorted(members(c, accounts))]}
                for c in sorted(own, key=lambda c: (not c.is_default, c.course_id))]}
            previous = last.get(teacher)
            if not force and previous == spec and course_files_present(spec):
                continue
            before = {c["course_id"]: [s["id"] for s in c["students"]] for c in (previous or {}).get("courses", [])}
            for c in spec["courses"]:
                # Removed from the gradebook: only students jhub-admin put there.
                c["managed"] = before.get(c["course_id"], all_students) if previous else all_students
            todo.append((teacher, spec))
        return todo

    def record_homes(self, todo, results, warnings):
        """Remember what each teacher's batch wrote (to skip them next time); {teacher: report}."""
        out = {}
        with self.registry.transaction() as db:
            for teacher, spec in todo:
                result = results[teacher]
                if isinstance(result, TeacherBatchError):
                    warnings.append(str(result))
                    continue
                out[teacher] = result
                for c in spec["courses"]:
                    del c["managed"]
                self.store.save_spec(db, teacher, spec)
        return out

    async def sync_hub(self, courses, accounts, hub_users=None):
        hub = self.mgr.hub
        wanted = wanted_course_groups(courses, accounts)
        existing = await hub.groups()
        # Hub users first: a course group cannot hold a user the hub does not know yet.
        users = hub_users if hub_users is not None else set(await hub.users())
        wanted = {g: {u for u in m if u in users} for g, m in wanted.items()}
        await hub.sync_groups(wanted, existing)
        return {"groups": len(wanted)}


async def after_reconcile(account_manager, report, local=True, hub=True, hub_users_ready=None):
    """Hook for AccountManager._reconcile: keep courses in line after every import or change.
    Never fails the account operation: problems become warnings."""
    try:
        result = await CourseManager(account_manager).sync(local=local, hub=hub, hub_users_ready=hub_users_ready)
        report.warnings.extend(result.get("warnings", []))
    except Exception as exc:  # noqa: BLE001 (the accounts are done; courses follow with `courses sync`)
        log.exception("course sync failed")
        report.warnings.append(f"courses not synchronised ({exc}); run `jhub-admin courses sync`")
