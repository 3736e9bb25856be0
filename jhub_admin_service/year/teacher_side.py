"""A course's year put away in its teacher's home, AS the teacher (courses/as_teacher.py):
``python -I -m jhub_admin_service.year.teacher_side COURSE_ID SCHOOL_YEAR < grades.xlsx``.

- The year's grades sheet goes to ``~/archives/SCHOOL_YEAR/notes-COURSE_ID-SCHOOL_YEAR.xlsx``.
- The year's work of the course (the gradebook, and the submitted, autograded and feedback
  folders) moves to ``~/archives/SCHOOL_YEAR/COURSE_ID/``: a rename, so nothing is copied and
  nothing is lost; the next course sync makes a new, empty gradebook. The course's sources,
  release folder and settings stay where they are.

Run again, it converges: what was moved is not moved twice, and a name already in the archive
is never overwritten (the new year's one stays in the course). Prints a JSON report.
"""
import json
import os
import sys

ARCHIVES = "archives"
#: The year's work of a course, in nbgrader's layout.
YEAR_WORK = ("gradebook.db", "submitted", "autograded", "feedback")


def archive_folder(home: str, school_year: str) -> str:
    return os.path.join(home, ARCHIVES, school_year)


def sheet_name(course_id: str, school_year: str) -> str:
    return f"notes-{course_id}-{school_year}.xlsx"


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
        report["sheet"] = path
    course_root = os.path.join(home, course_id)
    for name in YEAR_WORK:
        source, target = os.path.join(course_root, name), os.path.join(work, name)
        if os.path.lexists(target):
            report["already"].append(name)
        elif os.path.lexists(source):
            os.rename(source, target)
            report["moved"].append(name)
    return report


def main(argv) -> int:
    course_id, school_year = argv
    os.umask(0o077)
    try:
        report = put_away(os.path.expanduser("~"), course_id, school_year, sys.stdin.buffer.read())
    except OSError as exc:
        print(f"{course_id}: {exc}", file=sys.stderr)
        return 1
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
