"""Which of a teacher's courses the Formgrader shows, changed without restarting the server.

The teacher's ``~/.jupyter/nbgrader_config.py`` (teacher_homes.user_config_text) shows the course
named in ``~/.jupyter/nbgrader_course``, else the default one; ``~/.jupyter/jhub-admin-courses.json``
(teacher_homes) lists the teacher's courses with their classes. To switch, the file is written
and the running Formgrader reads its configuration again, as it does itself for each page
(``FormgradeExtension.url_prefix``); its cached gradebook, which is the old course's, is closed.
"""
import json
import os
import tempfile

COURSES_FILE = os.path.join(".jupyter", "jhub-admin-courses.json")
ACTIVE_FILE = os.path.join(".jupyter", "nbgrader_course")


class UnknownCourse(ValueError):
    pass


def teacher_courses(home: str) -> list:
    """[{"course_id", "classes", "is_default"}] of the teacher whose home this is ([] if none)."""
    try:
        with open(os.path.join(home, COURSES_FILE), encoding="utf-8") as f:
            courses = json.load(f)
    except (OSError, ValueError):
        return []
    return [c for c in courses if isinstance(c, dict) and isinstance(c.get("course_id"), str)]


def write_active(home: str, course_id: str) -> None:
    folder = os.path.join(home, os.path.dirname(ACTIVE_FILE))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".nbgrader_course.")
    with os.fdopen(fd, "w") as f:
        f.write(course_id + "\n")
    os.replace(tmp, os.path.join(home, ACTIVE_FILE))


def switch(settings: dict, home: str, course_id: str) -> str:
    """Make course_id (one of the teacher's) the Formgrader's course; returns the course shown."""
    if course_id not in {c["course_id"] for c in teacher_courses(home)}:
        raise UnknownCourse(course_id)
    write_active(home, course_id)
    formgrader = settings["nbgrader_formgrader"]
    # nbgrader's own way of reading its configuration again (FormgradeExtension.url_prefix).
    formgrader.coursedir._load_config(formgrader.load_config())
    gradebook = settings.get("nbgrader_gradebook")
    if gradebook is not None:
        gradebook.close()
    settings["nbgrader_gradebook"] = None
    settings["nbgrader_db_url"] = formgrader.coursedir.db_url
    return formgrader.coursedir.course_id
