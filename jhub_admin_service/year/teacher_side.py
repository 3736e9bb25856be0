"""A teacher's courses' year put away in their home, AS the teacher: run by the course helper
(courses/teacher_homes.py) in a child that it forked and dropped to the teacher, after it imported
nbgrader once for every teacher (a new Python with nbgrader costs seconds per course).

For each course, what needs the teacher's rights:

- the year's grades sheet: read from the course's gradebook with nbgrader's ``Gradebook``
  (courses/gradebook_reader.py), written in the teacher's format (courses/grades.py) to
  ``~/archives/SCHOOL_YEAR/notes-COURSE_ID-SCHOOL_YEAR.xlsx``, and handed back to the caller;
  on a re-run the caller sends the sheet that it kept (the gradebook has moved by then);
- the year's work of the course (the gradebook, and the submitted, autograded and feedback
  folders) moves to ``~/archives/SCHOOL_YEAR/COURSE_ID/``: a rename, so nothing is copied and
  nothing is lost; the next course sync makes a new, empty gradebook. The course's sources,
  release folder and settings stay where they are.

Run again, it converges: what was moved is not moved twice, and a name already in the archive is
never overwritten (the new year's one stays in the course).
"""
import base64
import os

ARCHIVES = "archives"
#: The year's work of a course, in nbgrader's layout.
YEAR_WORK = ("gradebook.db", "submitted", "autograded", "feedback")


def archive_folder(home: str, school_year: str) -> str:
    return os.path.join(home, ARCHIVES, school_year)


def sheet_name(course_id: str, school_year: str) -> str:
    return f"notes-{course_id}-{school_year}.xlsx"


def grades_sheet(course_root: str, course_id: str, students: list, lang: str) -> bytes:
    """The course's sheet from its gradebook (nbgrader imported here, in the teacher's process)."""
    from ..courses.gradebook_reader import read
    from ..courses.grades import Student, grades_sheet as make_sheet, to_xlsx

    data = read(course_root, course_id)
    return to_xlsx(make_sheet(course_id, data, [Student(*s) for s in students], lang))


def put_away(home: str, course_id: str, school_year: str, sheet: bytes) -> dict:
    folder = archive_folder(home, school_year)
    work = os.path.join(folder, course_id)
    os.makedirs(work, mode=0o700, exist_ok=True)
    report = {"moved": [], "already": []}
    if sheet:
        path = os.path.join(folder, sheet_name(course_id, school_year))
        with open(path + ".tmp", "wb") as f:
            f.write(sheet)
        os.replace(path + ".tmp", path)
    course_root = os.path.join(home, course_id)
    for name in YEAR_WORK:
        source, target = os.path.join(course_root, name), os.path.join(work, name)
        if os.path.lexists(target):
            report["already"].append(name)
        elif os.path.lexists(source):
            os.rename(source, target)
            report["moved"].append(name)
    return report


def put_away_courses(spec: dict) -> dict:
    """Runs AS the teacher, in a child of the course helper (courses/teacher_homes.py), which
    imported nbgrader once for all. spec: {"home", "school_year", "lang", "courses": [{"course_id",
    "students": [[login, last name, first name, classes]], "sheet": base64 or null}]}.
    Returns {course id: {"moved", "already", "sheet": base64 or null, "no_sheet": reason or null}}."""
    home, school_year = spec["home"], spec["school_year"]
    os.umask(0o077)
    reports = {}
    for course in spec["courses"]:
        course_id = course["course_id"]
        sheet, no_sheet = base64.b64decode(course["sheet"]) if course.get("sheet") else b"", None
        kept = os.path.join(archive_folder(home, school_year), sheet_name(course_id, school_year))
        if not sheet:
            try:
                sheet = grades_sheet(os.path.join(home, course_id), course_id, course["students"], spec["lang"])
            except Exception as exc:  # noqa: BLE001 (no gradebook, an unreadable one: said, and the work moves on)
                no_sheet = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                if os.path.isfile(kept):  # a run killed after the move: the sheet it wrote is the year's
                    with open(kept, "rb") as f:
                        sheet, no_sheet = f.read(), None
        report = put_away(home, course_id, school_year, sheet)
        report.update(sheet=base64.b64encode(sheet).decode() if sheet else None, no_sheet=no_sheet)
        reports[course_id] = report
    return reports
