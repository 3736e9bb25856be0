"""A course's grades, read AS its teacher: ``python -I -m ...gradebook_reader COURSE_ROOT COURSE_ID [ASSIGNMENT]``.

The gradebook lies in the teacher's home, where the teacher could put a link to any file, so it is
never opened by root: ``read_as_teacher`` runs this module as the teacher (uid, gid, no other
group), which reads the gradebook with nbgrader's own ``Gradebook`` and prints JSON on stdout:

    {"assignments": [{"name", "duedate", "max_score"}],
     "students": {id: {"first_name", "last_name"}},
     "submissions": {student: {assignment: {"score", "max_score", "needs_manual_grade"}}},
     "questions": [{"notebook", "cell", "max_score"}],            # with ASSIGNMENT only
     "question_scores": {student: {"notebook/cell": score}}}       # with ASSIGNMENT only

Questions come in the order of the assignment's source notebooks, where they can be read.
"""
import json
import os
import subprocess
import sys
from typing import Optional

from ..identity import last_error_line, run_module_as
from .rules import CourseError

#: A gradebook's read takes seconds; one that takes longer than this is not a gradebook's.
READ_TIMEOUT = 120


class GradebookUnreadable(CourseError):
    pass


def question_order(course_root: str, assignment: str) -> dict:
    """{(notebook, grade_id): position} from the assignment's source notebooks ({} if unreadable)."""
    import nbformat

    order = {}
    folder = os.path.join(course_root, "source", assignment)
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".ipynb"))
    except OSError:
        return order
    for name in names:
        try:
            nb = nbformat.read(os.path.join(folder, name), as_version=4)
        except Exception:  # noqa: BLE001 (a broken source notebook: alphabetical order then)
            continue
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id and cell.metadata["nbgrader"].get("grade"):
                order.setdefault((name[:-len(".ipynb")], grade_id), len(order))
    return order


def read(course_root: str, course_id: str, assignment: Optional[str] = None) -> dict:
    from nbgrader.api import Gradebook

    out = {"assignments": [], "students": {}, "submissions": {}}
    with Gradebook("sqlite:///" + os.path.join(course_root, "gradebook.db"), course_id) as gb:
        for s in gb.students:
            out["students"][s.id] = {"first_name": s.first_name or "", "last_name": s.last_name or ""}
        for a in sorted(gb.assignments, key=lambda a: (a.duedate is None, a.duedate or 0, a.name)):
            out["assignments"].append({"name": a.name, "max_score": a.max_score,
                                       "duedate": a.duedate.isoformat() if a.duedate else None})
            for sub in a.submissions:
                out["submissions"].setdefault(sub.student_id, {})[a.name] = {
                    "score": sub.score, "max_score": sub.max_score, "needs_manual_grade": sub.needs_manual_grade}
        if assignment is not None:
            if assignment not in {a["name"] for a in out["assignments"]}:
                raise ValueError(f"no assignment {assignment!r} in the gradebook")
            a = gb.find_assignment(assignment)
            order = question_order(course_root, assignment)
            cells = [(nb.name, cell.name, cell.max_score) for nb in a.notebooks for cell in nb.grade_cells]
            cells.sort(key=lambda c: (order.get((c[0], c[1]), len(order)), c[0], c[1]))
            out["questions"] = [{"notebook": n, "cell": c, "max_score": m} for n, c, m in cells]
            out["question_scores"] = {
                sub.student_id: {f"{nb.name}/{grade.name}": grade.score for nb in sub.notebooks for grade in nb.grades}
                for sub in a.submissions}
    return out


def read_as_teacher(teacher: str, course_root: str, course_id: str, assignment: Optional[str] = None) -> dict:
    """read(), in a process of the teacher's (never root's); GradebookUnreadable if it fails."""
    args = [course_root, course_id] + ([assignment] if assignment else [])
    try:
        proc = run_module_as(teacher, __name__, args, READ_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise GradebookUnreadable(f"{course_id}: the gradebook was not read in {READ_TIMEOUT} s") from None
    if proc.returncode != 0:
        raise GradebookUnreadable(f"{course_id}: the gradebook cannot be read ({last_error_line(proc)})")
    return json.loads(proc.stdout)


def main(argv) -> int:
    course_root, course_id = argv[0], argv[1]
    assignment = argv[2] if len(argv) > 2 else None
    try:
        data = read(course_root, course_id, assignment)
    except Exception as exc:  # noqa: BLE001 (one line for the caller's message, not a traceback)
        print((str(exc).strip().splitlines() or [type(exc).__name__])[0], file=sys.stderr)
        return 1
    json.dump(data, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
