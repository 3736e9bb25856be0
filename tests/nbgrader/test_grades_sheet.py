"""Grades out for Pronote, from a real gradebook through the real `jhub-admin courses grades`: the
sheet of a course with two assignments read back with openpyxl and as CSV (scores /20 with a
decimal comma, raw score and maximum, class order, a missing submission said so), one
assignment question by question, and a gradebook that the teacher turned into a link."""
import csv
import io
import os

import pytest
from openpyxl import load_workbook

from gradebooks import grade_as_teacher

pytestmark = pytest.mark.sandbox
TEACHER, COURSE = "prof.a", "cours_prof_a"
ROSTER = ("login;password;role;classe;prénom;nom\n"
          "prof.a;Prof-A-Passw0rd;prof;;Anne;Ader\n"
          "zoe.b;Eleve-B-Passw0rd;eleve;T1;Zoé;Bel\n"
          "adam.c;Eleve-C-Passw0rd;eleve;T1;Adam;Cohen\n"
          "eve.d;Eleve-D-Passw0rd;eleve;T2;Ève;Abel\n"
          "lou.e;Eleve-E-Passw0rd;eleve;T1;Lou;Bel\n")


def cli(box, *args, check=True):
    return box.jhub_admin(*args, env={**box.cli_env(), "LANG": "fr_FR.UTF-8"}, check=check)


@pytest.fixture
def course(sandbox):
    box = sandbox
    (box.root / "roster.csv").write_text(ROSTER, encoding="utf-8")
    cli(box, "import", str(box.root / "roster.csv"), "--yes", "--credentials", str(box.root / "creds.csv"))
    cli(box, "courses", "enrol", COURSE, "--class", "T1", "--class", "T2")
    # tp1: zoe.b 2 + 0.5, adam.c 1 + 0.75, eve.d 0 + 1; lou.e did not hand it in.
    grade_as_teacher(box, TEACHER, COURSE, "tp1", ["zoe.b", "adam.c", "eve.d"])
    # tp2: only lou.e, whose written answer is still to be graded.
    grade_as_teacher(box, TEACHER, COURSE, "tp2", ["lou.e"], ungraded="lou.e")
    return box


def test_the_course_sheet_as_xlsx_and_csv(course):
    box = course
    cli(box, "courses", "grades", COURSE, "--out", str(box.root / "notes.xlsx"))
    cli(box, "courses", "grades", COURSE, "--out", str(box.root / "notes.csv"))
    assert oct((box.root / "notes.xlsx").stat().st_mode & 0o777) == "0o600"

    sheet = load_workbook(box.root / "notes.xlsx").active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Nom", "Prénom", "Classe", "tp1 /20", "tp1 points", "tp1 max", "tp2 /20", "tp2 points",
                       "tp2 max"]
    # Class order, then last name, then first name: T1 Bel Lou, T1 Bel Zoé, T1 Cohen, then T2.
    assert [r[:3] for r in rows[1:]] == [["Bel", "Lou", "T1"], ["Bel", "Zoé", "T1"], ["Cohen", "Adam", "T1"],
                                         ["Abel", "Ève", "T2"]]
    by_name = {r[1]: r[3:] for r in rows[1:]}
    assert by_name["Zoé"] == [pytest.approx(16.67), 2.5, 3, "non rendu", None, 3]
    assert by_name["Adam"][:3] == [pytest.approx(11.67), 1.75, 3]
    assert by_name["Ève"][:3] == [pytest.approx(6.67), 1, 3]
    assert by_name["Lou"] == ["non rendu", None, 3, "à corriger", 2, 3]  # never 0 for a missing submission

    text = (box.root / "notes.csv").read_bytes()
    assert text.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: a French Excel opens it as it is
    lines = list(csv.reader(io.StringIO(text.decode("utf-8-sig")), delimiter=";"))
    assert lines[0][:4] == ["Nom", "Prénom", "Classe", "tp1 /20"]
    assert lines[2] == ["Bel", "Zoé", "T1", "16,67", "2,5", "3", "non rendu", "", "3"]
    assert lines[3][3:6] == ["11,67", "1,75", "3"]


def test_one_assignment_question_by_question(course):
    box = course
    out = cli(box, "courses", "grades", COURSE, "--assignment", "tp1").stdout
    lines = list(csv.reader(io.StringIO(out.lstrip("\ufeff")), delimiter=";"))
    # No source notebook here to give the questions' order: by name.
    assert lines[0] == ["Nom", "Prénom", "Classe", "tp1: explication (/1)", "tp1: test_carre (/2)", "Total", "/20"]
    assert lines[2] == ["Bel", "Zoé", "T1", "0,5", "2", "2,5", "16,67"]
    assert lines[1] == ["Bel", "Lou", "T1", "", "", "non rendu", "non rendu"]
    refused = cli(box, "courses", "grades", COURSE, "--assignment", "tp9", check=False)
    assert refused.returncode != 0 and "tp9" in refused.stderr and "Traceback" not in refused.stderr


def test_a_gradebook_the_teacher_made_a_link_is_never_read_as_root(course):
    """The reader runs as the teacher: a link to root's files reads nothing of them."""
    box = course
    gradebook = box.home / TEACHER / COURSE / "gradebook.db"
    os.rename(gradebook, gradebook.with_name("vrai.db"))
    secret = box.srv / "jupyterhub" / "jhub-admin.sqlite"  # root's registry (mode 0600)
    os.symlink(str(secret).replace(str(box.srv), "/srv"), gradebook)
    refused = cli(box, "courses", "grades", COURSE, check=False)
    assert refused.returncode != 0 and "cannot be read" in refused.stderr, refused.stderr
    assert "unable to open database file" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
