"""A course's year put away: its exchange folder (as root, through file descriptors, never
following a pupil's link) and its teacher's folder (as the teacher, teacher_side.py, through the
course helper)."""
import base64
import os
import pwd
import shutil
import stat

from ..accounts import handover
from ..courses.exchange_rules import COURSE_FOLDERS
from ..courses.teacher_homes import apply_as_teachers

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class CourseYearError(RuntimeError):
    pass


def archive_exchange(exchange_root: str, course_id: str, dest: str) -> int:
    """Every pupil's and the teacher's files of the course's exchange folder into the ZIP dest
    (written whole or not at all); returns how many files. Nothing to archive: no ZIP, 0."""
    folder = os.path.join(exchange_root, course_id)
    if not os.path.isdir(folder) or os.path.islink(folder):
        return 0
    os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
    return handover.write_home_zip(folder, None, dest)


def empty_exchange(exchange_root: str, course_id: str) -> int:
    """Delete what the course's outbound, inbound and feedback folders hold; the folders stay
    (with their owner and modes, as the course sync made them). Returns how many entries went."""
    gone = 0
    try:
        root_fd = os.open(os.path.join(exchange_root, course_id), _DIR_FLAGS)
    except (FileNotFoundError, NotADirectoryError, OSError):
        return 0  # no folder (or a link planted in its place: the course sync moves it aside)
    try:
        for sub, _ in COURSE_FOLDERS:
            if not sub:
                continue
            try:
                fd = os.open(sub, _DIR_FLAGS, dir_fd=root_fd)
            except OSError:
                continue
            try:
                for name in os.listdir(fd):
                    if stat.S_ISDIR(os.lstat(name, dir_fd=fd).st_mode):
                        shutil.rmtree(name, dir_fd=fd)
                    else:
                        os.unlink(name, dir_fd=fd)
                    gone += 1
            finally:
                os.close(fd)
    finally:
        os.close(root_fd)
    return gone


def put_away_in_teachers_homes(school_year: str, courses: list, lang: str, locale: str) -> dict:
    """Each teacher's courses' year put away in their home, as the teacher (teacher_side.py, run
    by the course helper: nbgrader imported once, one child per teacher, one per core at a time).
    courses: [(teacher, course id, [Student], the sheet a previous run kept or b"")].
    Returns {course id: report (with the sheet as bytes, b"" when none: "no_sheet" says why)}, a
    CourseYearError as the value of a course whose teacher's batch failed."""
    specs, results = {}, {}
    for teacher, course_id, students, sheet in courses:
        try:
            home = pwd.getpwnam(teacher).pw_dir
        except KeyError:
            results[course_id] = CourseYearError(f"{course_id}: its teacher {teacher} has no local account")
            continue
        spec = specs.setdefault(teacher, {"home": home, "school_year": school_year, "lang": lang, "courses": []})
        spec["courses"].append({"course_id": course_id, "sheet": base64.b64encode(sheet).decode() if sheet else None,
                                "students": [[s.login, s.last_name, s.first_name, s.classes] for s in students]})
    reports = apply_as_teachers(list(specs.items()), lang=locale)
    for teacher, spec in specs.items():
        for course in spec["courses"]:
            report = reports.get(teacher)
            if isinstance(report, Exception) or course["course_id"] not in (report or {}):
                results[course["course_id"]] = CourseYearError(f"{course['course_id']}: not put away in {teacher}'s "
                                                               f"home ({report})")
                continue
            one = report[course["course_id"]]
            one["sheet"] = base64.b64decode(one["sheet"]) if one.get("sheet") else b""
            results[course["course_id"]] = one
    return results
