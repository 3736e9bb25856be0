"""The class column of a teacher's roster line enrols their default course in those classes, through
the real `jhub-admin import` in a sandbox: nothing for the admin to do by hand, and an unenrolment
the admin makes afterwards is not undone by importing the same list again."""
import json

import pytest

from jhub_admin_service.accounts.plan import Plan, PlannedAccount
from jhub_admin_service.courses.rules import classes_given_to_teachers

pytestmark = pytest.mark.sandbox
ROSTER = ("login;password;role;classe;prénom;nom\n"
          "marie.curie;Prof-Passw0rd-42;prof;T NSI;Marie;Curie\n"
          "eleve.a;Eleve-Passw0rd-42;eleve;T NSI;Ana;Abel\n")


def courses(box):
    return {c["course_id"]: c for c in json.loads(box.jhub_admin("courses", "list", "--json").stdout)}


def test_a_teacher_s_classes_enrol_their_default_course(sandbox):
    box = sandbox
    (box.root / "r1.csv").write_text(ROSTER, encoding="utf-8")
    report = json.loads(box.jhub_admin("import", str(box.root / "r1.csv"), "--yes", "--json",
                                       "--credentials", str(box.root / "c1.csv")).stdout)
    assert report["enrolled"] == {"cours_marie_curie": ["T NSI"]}, report
    course = courses(box)["cours_marie_curie"]
    assert course["classes"] == ["T NSI"] and course["members"] == ["eleve.a"]

    # A second class on her line next time: added to the same course.
    (box.root / "r2.csv").write_text(ROSTER.replace(";prof;T NSI;", ";prof;T NSI, 1 NSI;"), encoding="utf-8")
    box.jhub_admin("import", str(box.root / "r2.csv"), "--yes", "--credentials", str(box.root / "c2.csv"))
    assert courses(box)["cours_marie_curie"]["classes"] == ["1 NSI", "T NSI"]

    # The admin unenrols a class; the same list again leaves it so.
    box.jhub_admin("courses", "unenrol", "cours_marie_curie", "--class", "1 NSI")
    box.jhub_admin("import", str(box.root / "r2.csv"), "--yes", "--credentials", str(box.root / "c3.csv"))
    assert courses(box)["cours_marie_curie"]["classes"] == ["T NSI"]


def test_only_teachers_classes_newly_given_count():
    new_teacher = PlannedAccount(line=2, login="t1", role="teacher", classes=["A", "B"])
    moved = PlannedAccount(line=3, login="t2", role="teacher", classes=["A", "C"], changes={"classes": (["A"], ["A", "C"])})
    student = PlannedAccount(line=4, login="s1", role="student", classes=["A"])
    renamed = PlannedAccount(line=5, login="t3", role="teacher", classes=["A"], changes={"last_name": ("X", "Y")})
    plan = Plan("csv", "utf-8", ";", create=[new_teacher, student], update=[moved, renamed])
    assert classes_given_to_teachers(plan) == {"t1": ["A", "B"], "t2": ["C"]}
