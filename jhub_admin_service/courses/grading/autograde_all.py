"""Autograde every submission of an assignment: ``python -m ...autograde_all ASSIGNMENT``.

Every collected submission that is not autograded yet, or was submitted again since
(``NbGraderAPI.get_autograded_students`` compares the timestamps); ``--all`` grades the others
again too, which keeps their manual scores but asks for them to be checked again, as nbgrader's
own autograde does.

Run by the teacher's server (grading/jobs.py) as a child process of its own, in the course's
folder, as the teacher: nbgrader is imported once and each submission is graded in turn by
nbgrader's own API (``NbGraderAPI.autograde``, what the Formgrader's button calls), so the server
keeps answering meanwhile. It prints one JSON line per event on stdout, for the job's progress:

    {"event": "start", "total": N, "students": [...]}
    {"event": "graded", "student": ID, "success": true|false, "error": TEXT|null, "done": I, "total": N}
    {"event": "end", "done": N, "failed": K}
"""
import argparse
import json
import sys


def emit(**event) -> None:
    print(json.dumps(event), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment")
    parser.add_argument("--all", action="store_true", help="also the submissions already autograded")
    args = parser.parse_args(argv)

    from nbgrader.apps import NbGraderAPI

    api = NbGraderAPI()
    students = sorted(api.get_submitted_students(args.assignment))
    if not args.all:
        students = [s for s in students if s not in api.get_autograded_students(args.assignment)]
    emit(event="start", total=len(students), students=students)
    failed = 0
    for done, student in enumerate(students, 1):
        result = api.autograde(args.assignment, student)
        failed += not result["success"]
        emit(event="graded", student=student, success=bool(result["success"]),
             error=None if result["success"] else (result.get("error") or result.get("log") or "")[-4000:],
             done=done, total=len(students))
    emit(event="end", done=len(students), failed=failed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
