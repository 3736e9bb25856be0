"""nbgrader courses, the pure rules: course ids, who is enrolled, which hub groups.

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
enrolled by the next sync. Unenrolling removes the student from the hub group and from the
gradebook, never any file: submissions stay in the exchange and in the teacher's ``submitted/``
folder.
"""
import re
from dataclasses import dataclass, field
from typing import Container, Iterable, Optional

COURSE_ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
MAX_COURSE_ID = 40
DEFAULT_PREFIX = "cours_"
#: nbgrader's JupyterHubAuthPlugin reads these hub groups: students and graders of a course.
STUDENT_GROUP_PREFIX = "nbgrader-"
GRADER_GROUP_PREFIX = "formgrade-"


class CourseError(ValueError):
    """A course request that cannot be honoured (bad id, unknown teacher or course...)."""


def course_id_problem(course_id: str) -> Optional[str]:
    """Why a course id is unusable, or None when nbgrader, the hub and the file system all accept it."""
    if not course_id:
        return "empty course id"
    if len(course_id) > MAX_COURSE_ID:
        return f"a course id has at most {MAX_COURSE_ID} characters"
    if not COURSE_ID_RE.match(course_id):
        return ("a course id uses lower-case letters, digits and '_' (no '-', '.', '+', space or accent), "
                "starts with a letter and has at least 2 characters")
    return None


def default_course_id(login: str, taken: Container[str] = ()) -> str:
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

    def to_json(self) -> dict:
        return {"course_id": self.course_id, "teacher": self.teacher, "is_default": self.is_default,
                "classes": list(self.classes), "students": list(self.students), "excluded": list(self.excluded)}


def members(course: Course, accounts: dict, include_disabled: bool = False) -> set:
    """The logins enrolled in course: active students of its classes and those enrolled one by
    one, minus those unenrolled one by one. accounts: {login: Account}.

    ``include_disabled``: disabled students too. A disabled student cannot log in (so is no
    member of the course's hub group) but is still enrolled: the gradebook keeps them as they are.
    """
    def counts(a):
        return include_disabled or not a.disabled

    classes = set(course.classes)
    out = {a.login for a in accounts.values()
           if a.role == "student" and counts(a) and classes.intersection(a.classes)}
    out |= {login for login in course.students if login in accounts and counts(accounts[login])}
    return out - set(course.excluded)


def departures(previous: Iterable[str], enrolled: Iterable[str], accounts: dict) -> dict:
    """{login: "removed" | "left"} for the students of a gradebook (``previous``: those that
    jhub-admin put there) who are no longer enrolled: "removed" when their account is gone."""
    return {login: ("left" if login in accounts else "removed")
            for login in sorted(set(previous) - set(enrolled))}


def missing_default_courses(accounts: dict, courses: Iterable[Course]) -> list:
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


def wanted_course_groups(courses: Iterable[Course], accounts: dict) -> dict:
    """{group: set(logins)} for the hub: formgrade-<course> (its teacher, when an active account)
    and nbgrader-<course> (its students)."""
    groups = {}
    for c in courses:
        teacher = accounts.get(c.teacher)
        groups[GRADER_GROUP_PREFIX + c.course_id] = {c.teacher} if teacher and not teacher.disabled else set()
        groups[STUDENT_GROUP_PREFIX + c.course_id] = members(c, accounts)
    return groups


def plan_enrol(course: Course, accounts: dict, classes: Iterable[str] = (), students: Iterable[str] = ()) -> tuple:
    """(new classes, new students, new excluded) after enrolling classes and students.
    Raises CourseError for an unknown student login."""
    unknown = [s for s in students if s not in accounts]
    if unknown:
        raise CourseError(f"no account {', '.join(sorted(unknown))!s} is managed by jhub-admin")
    new_classes = sorted(set(course.classes) | {c.strip() for c in classes if c.strip()})
    new_students = sorted(set(course.students) | set(students))
    new_excluded = sorted(set(course.excluded) - set(students))
    return new_classes, new_students, new_excluded


def plan_unenrol(course: Course, accounts: dict, classes: Iterable[str] = (),
                 students: Iterable[str] = ()) -> tuple:
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


def classes_given_to_teachers(plan) -> dict:
    """{teacher: classes} that an import gives teachers (a new teacher's classes, or those added to
    an existing one's): their default course takes these classes (CourseManager.enrol_teachers_classes)."""
    given = [(p, []) for p in plan.create]
    given += [(p, p.changes["classes"][0] or []) for p in plan.update if "classes" in p.changes]
    out = {}
    for planned, before in given:
        added = [c for c in planned.classes if c not in before]
        if planned.role == "teacher" and added:
            out[planned.login] = added
    return out
