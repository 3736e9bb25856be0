"""Grades are never lost: no account change deletes a score, a manual grade or a comment.

A real gradebook of a teacher (written as the teacher with nbgrader's own Gradebook, as the
Formgrader writes it), then the account and course changes an admin makes through the year, each
through the real `jhub-admin` CLI in a sandbox: disable and enable, unenrol and enrol again, a move
to another class and back by an import, the removal of the account. After each, every score and
comment is where it was.
"""
import json
import sqlite3

import pytest

from gradebooks import grade_as_teacher

pytestmark = pytest.mark.sandbox
TEACHER, COURSE = "prof.a", "cours_prof_a"
ROSTER = ("login;password;role;classe;prénom;nom\n"
          "prof.a;Prof-A-Passw0rd;prof;;Anne;Ader\n"
          "eleve.b;Eleve-B-Passw0rd;eleve;T1;Bruno;Bel\n"
          "eleve.c;Eleve-C-Passw0rd;eleve;T1;Chloé;Cohen\n"
          "eleve.d;Eleve-D-Passw0rd;eleve;T1;Denis;Dumas\n"
          "eleve.e;Eleve-E-Passw0rd;eleve;T1;Emma;Ernst\n")
GRADED = ("eleve.b", "eleve.c", "eleve.d")  # eleve.e never submitted

def gradebook(box):
    """{student: {"name": (first, last), "grades": {cell: (auto, manual)}, "comments": {cell: text}}}."""
    path = box.home / TEACHER / COURSE / "gradebook.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        out = {sid: {"name": (first, last), "grades": {}, "comments": {}}
               for sid, first, last in db.execute("SELECT id, first_name, last_name FROM student")}
        for sid, cell, auto, manual in db.execute(
                "SELECT s.student_id, c.name, g.auto_score, g.manual_score FROM grade g "
                "JOIN base_cell c ON g.cell_id = c.id JOIN submitted_notebook n ON g.notebook_id = n.id "
                "JOIN submitted_assignment s ON n.assignment_id = s.id"):
            out[sid]["grades"][cell] = (auto, manual)
        for sid, cell, text in db.execute(
                "SELECT s.student_id, c.name, m.manual_comment FROM comment m "
                "JOIN base_cell c ON m.cell_id = c.id JOIN submitted_notebook n ON m.notebook_id = n.id "
                "JOIN submitted_assignment s ON n.assignment_id = s.id"):
            out[sid]["comments"][cell] = text
    return out


def cli(box, *args):
    """`jhub-admin` as a French school runs it (the gradebook's marks follow LANG)."""
    return box.jhub_admin(*args, env={**box.cli_env(), "LANG": "fr_FR.UTF-8"})


def scores(book):
    return {sid: (s["grades"], s["comments"]) for sid, s in book.items() if s["grades"]}


def names(book):
    return {sid: s["name"] for sid, s in book.items()}


@pytest.fixture
def graded(sandbox):
    box = sandbox
    (box.root / "roster.csv").write_text(ROSTER, encoding="utf-8")
    cli(box, "import", str(box.root / "roster.csv"), "--yes", "--credentials", str(box.root / "creds.csv"))
    cli(box, "courses", "enrol", COURSE, "--class", "T1")
    grade_as_teacher(box, TEACHER, COURSE, "tp1", GRADED)
    book = gradebook(box)
    assert set(scores(book)) == set(GRADED) and set(book) == {*GRADED, "eleve.e"}
    assert book["eleve.c"]["comments"] == {"explication": "Commentaire pour eleve.c"}
    return box, book


def test_disable_and_enable_keep_every_grade_and_name(graded):
    box, before = graded
    cli(box, "accounts", "disable", "eleve.b")
    assert gradebook(box) == before  # still enrolled: nothing about them changes
    cli(box, "accounts", "enable", "eleve.b")
    assert gradebook(box) == before


def test_unenrol_and_enrol_again_keep_grades_and_a_student_without_any_leaves(graded):
    box, before = graded
    cli(box, "courses", "unenrol", COURSE, "--students", "eleve.c,eleve.e")
    after = gradebook(box)
    assert scores(after) == scores(before)
    assert after["eleve.c"]["name"] == ("Chloé", "Cohen (a quitté le cours)")
    assert "eleve.e" not in after  # no submission: nothing to keep, out of the Formgrader's lists
    cli(box, "courses", "enrol", COURSE, "--students", "eleve.c,eleve.e")
    assert gradebook(box) == before


def test_a_class_move_and_a_list_that_moves_back_keep_grades(graded):
    box, before = graded
    cli(box, "accounts", "set", "eleve.d", "--classes", "T2")
    moved = gradebook(box)
    assert scores(moved) == scores(before) and moved["eleve.d"]["name"] == ("Denis", "Dumas (a quitté le cours)")
    # The next list has them in T1 again: the import moves them back, with their name.
    (box.root / "roster2.csv").write_text(ROSTER, encoding="utf-8")
    cli(box, "import", str(box.root / "roster2.csv"), "--yes", "--credentials", str(box.root / "creds2.csv"))
    assert gradebook(box) == before


def test_a_removed_account_keeps_its_grades_marked_as_removed(graded):
    box, before = graded
    cli(box, "accounts", "remove", "eleve.b")
    after = gradebook(box)
    assert scores(after) == scores(before)
    assert after["eleve.b"]["name"] == ("Bruno", "Bel (compte supprimé)")
    assert {sid: n for sid, n in names(after).items() if sid != "eleve.b"} == \
           {sid: n for sid, n in names(before).items() if sid != "eleve.b"}
    report = json.loads(cli(box, "courses", "list", "--json").stdout)
    assert "eleve.b" not in next(c for c in report if c["course_id"] == COURSE)["members"]
