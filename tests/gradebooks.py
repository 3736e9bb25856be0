"""Real gradebooks for the tests: grades written as a teacher with nbgrader's own Gradebook."""
import shlex
import sys


#: Run as a teacher (argv: gradebook, course, assignment, students...): an assignment with an
#: autograded cell (2 points) and a cell graded by hand (1 point), and for the i-th student a
#: submission scored 2 - i % 3 and 0.5 + i / 4, with a comment, through nbgrader's Gradebook as the
#: Formgrader writes it. A student named in $UNGRADED keeps their manual grade to give.
GRADE_SCRIPT = r"""
import os, sys
from nbgrader.api import Gradebook
db, course, assignment, students = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
with Gradebook("sqlite:///" + db, course) as gb:
    gb.add_assignment(assignment)
    gb.add_notebook(assignment, assignment)
    gb.add_grade_cell("test_carre", assignment, assignment, max_score=2, cell_type="code")
    gb.add_grade_cell("explication", assignment, assignment, max_score=1, cell_type="markdown")
    gb.add_solution_cell("explication", assignment, assignment)
    for i, sid in enumerate(students):
        gb.add_submission(assignment, sid)
        auto = gb.find_grade("test_carre", assignment, assignment, sid)
        auto.auto_score, auto.needs_manual_grade = 2 - (i % 3), False
        if sid != os.environ.get("UNGRADED"):
            manual = gb.find_grade("explication", assignment, assignment, sid)
            manual.manual_score, manual.needs_manual_grade = 0.5 + i / 4, False
        comment = gb.find_comment("explication", assignment, assignment, sid)
        comment.manual_comment = f"Commentaire pour {sid}"
    gb.db.commit()
"""


def grade_as_teacher(box, teacher, course, assignment, students, ungraded=""):
    """GRADE_SCRIPT run as the teacher on their course's gradebook."""
    box.as_user(teacher, f"UNGRADED={shlex.quote(ungraded)} {sys.executable} - \"$HOME/{course}/gradebook.db\" "
                         f"{course} {assignment} {' '.join(students)}", input=GRADE_SCRIPT)
