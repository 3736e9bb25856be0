"""The whole nbgrader assignment cycle with real nbgrader commands, run as the real local users of
a sandbox, against a real JupyterHub (JupyterHubAuthPlugin reads the users' hub groups).

Each user gets what a single-user server gives them: JUPYTERHUB_API_URL, JUPYTERHUB_USER and a
token of that user made through the hub API.
"""
import json
import stat

import pytest

from jhub_admin_service.courses.teacher_homes import departure_mark

from nbtools import (ROSTER, UserShell, answer, course_hub, courses_json, gradebook_students, home,
                     hub_group, import_roster, jhub, write_assignment)

pytestmark = [pytest.mark.hub, pytest.mark.sandbox]
COURSE = "cours_prof_martin"


@pytest.fixture(scope="module")
def hub():
    with course_hub() as running:
        yield running


def test_default_course_folder_groups_and_exchange(hub):
    box = hub.sandbox
    courses = courses_json(hub)
    assert set(courses) == {COURSE} and courses[COURSE]["teacher"] == "prof.martin"
    folder = home(box, "prof.martin") / COURSE
    uid = int(box.passwd()["prof.martin"][2])
    for path in (folder, folder / "source", folder / "source" / "header.ipynb", folder / "nbgrader_config.py",
                 folder / "gradebook.db", home(box, "prof.martin") / ".jupyter" / "nbgrader_config.py"):
        assert path.exists(), path
        assert path.stat().st_uid == uid, f"{path} is not the teacher's"
    assert f"course_id = '{COURSE}'" in (folder / "nbgrader_config.py").read_text()
    assert hub_group(hub, f"formgrade-{COURSE}") == {"prof.martin"}
    assert hub_group(hub, f"nbgrader-{COURSE}") == set()
    mode = (box.srv / "nbgrader" / "exchange").stat().st_mode
    assert stat.S_IMODE(mode) == 0o1777


def test_enrol_class_fills_group_and_gradebook(hub):
    jhub(hub, "courses", "enrol", COURSE, "--class", "T NSI")
    assert hub_group(hub, f"nbgrader-{COURSE}") == {"alice", "bob"}
    assert gradebook_students(hub.sandbox, "prof.martin", COURSE) == {
        "alice": ("Alice", "Durand"), "bob": ("Bob", "Petit")}
    assert courses_json(hub)[COURSE]["classes"] == ["T NSI"]


def test_assignment_cycle(hub):
    box = hub.sandbox
    teacher, alice, carol = (UserShell(hub, login) for login in ("prof.martin", "alice", "carol"))
    course_dir = f"~/{COURSE}"

    # The teacher creates and releases an assignment.
    write_assignment(box, "prof.martin", COURSE, "ps1")
    teacher.run("nbgrader generate_assignment ps1", cwd=course_dir)
    teacher.run("nbgrader release_assignment ps1", cwd=course_dir)
    released = box.srv / "nbgrader" / "exchange" / COURSE / "outbound" / "ps1" / "ps1.ipynb"
    assert released.exists()

    # An enrolled student lists it, fetches it and submits it.
    listing = alice.run("nbgrader list")
    assert f"{COURSE} ps1" in listing.stdout + listing.stderr
    alice.run(f"nbgrader fetch_assignment ps1 --course {COURSE}")
    fetched = home(box, "alice") / COURSE / "ps1" / "ps1.ipynb"
    assert fetched.exists() and "raise NotImplementedError()" in fetched.read_text()
    answer(box, "alice", COURSE, "ps1")
    alice.run(f"nbgrader submit ps1 --course {COURSE}")

    # A student who is not enrolled can neither see nor fetch it.
    listing = carol.run("nbgrader list")
    assert "ps1" not in listing.stdout + listing.stderr
    refused = carol.run(f"nbgrader fetch_assignment ps1 --course {COURSE}", check=False)
    assert refused.returncode != 0
    assert "do not have access" in (refused.stdout + refused.stderr)
    assert not (home(box, "carol") / COURSE / "ps1").exists()

    # The teacher collects, autogrades and releases feedback.
    teacher.run("nbgrader collect ps1", cwd=course_dir)
    assert (home(box, "prof.martin") / COURSE / "submitted" / "alice" / "ps1" / "ps1.ipynb").exists()
    teacher.run("nbgrader autograde ps1", cwd=course_dir)
    teacher.run("nbgrader generate_feedback ps1", cwd=course_dir)
    teacher.run("nbgrader release_feedback ps1", cwd=course_dir)
    scores = teacher.run("python -c \"from nbgrader.apps import NbGraderAPI; "
                         "api = NbGraderAPI(); print(api.get_submission('ps1', 'alice')['score'])\"",
                         cwd=course_dir)
    assert scores.stdout.strip().splitlines()[-1] == "2.0"

    # The student fetches the feedback.
    alice.run(f"nbgrader fetch_feedback ps1 --course {COURSE}")
    feedback = list((home(box, "alice") / COURSE / "ps1" / "feedback").glob("*/ps1.html"))
    assert feedback and "carres" in feedback[0].read_text()


def test_unenrol_keeps_work(hub):
    box = hub.sandbox
    jhub(hub, "courses", "unenrol", COURSE, "--students", "alice")
    assert hub_group(hub, f"nbgrader-{COURSE}") == {"bob"}
    # Graded (test_assignment_cycle): her grades stay in the gradebook, her name marked.
    students = gradebook_students(box, "prof.martin", COURSE)
    assert set(students) == {"alice", "bob"} and students["alice"][1] == "Durand " + departure_mark(
        "left", hub.cli_env().get("LANG") or "C.UTF-8")
    # The work stays: the student's copy, the submission in the exchange and in the course folder.
    assert (home(box, "alice") / COURSE / "ps1" / "ps1.ipynb").exists()
    assert (home(box, "prof.martin") / COURSE / "submitted" / "alice" / "ps1" / "ps1.ipynb").exists()
    assert any((box.srv / "nbgrader" / "exchange" / COURSE / "inbound").iterdir())
    courses = courses_json(hub)[COURSE]
    # Two assignments: ps1 and the example every teacher is given (classroom/examples/nbgrader).
    assert courses["excluded"] == ["alice"] and courses["n_students"] == 1 and courses["assignments"] == 2
    # Enrolling her again brings her back.
    jhub(hub, "courses", "enrol", COURSE, "--students", "alice")
    assert hub_group(hub, f"nbgrader-{COURSE}") == {"alice", "bob"}
    assert gradebook_students(box, "prof.martin", COURSE)["alice"] == ("Alice", "Durand")


def test_later_import_into_enrolled_class_is_enrolled(hub):
    import_roster(hub, ROSTER + "dave;Dave;Moreau;élève;T NSI\n", name="roster2.csv")  # no `courses sync`
    assert "dave" in hub_group(hub, f"nbgrader-{COURSE}")
    assert gradebook_students(hub.sandbox, "prof.martin", COURSE)["dave"] == ("Dave", "Moreau")


def test_sync_skips_unchanged_teachers_and_repairs_missing_files(hub):
    report = json.loads(jhub(hub, "courses", "sync").stdout)
    assert report["homes"] == {}  # nothing changed: no process run as the teacher
    gradebook = home(hub.sandbox, "prof.martin") / COURSE / "gradebook.db"
    gradebook.rename(gradebook.with_name("gradebook.old"))
    report = json.loads(jhub(hub, "courses", "sync").stdout)
    assert set(report["homes"]) == {"prof.martin"} and gradebook.exists()
    assert gradebook.stat().st_uid == int(hub.sandbox.passwd()["prof.martin"][2])
    gradebook.with_name("gradebook.old").replace(gradebook)


def test_more_courses_and_bad_ids(hub):
    bad = jhub(hub, "courses", "create", "NSI-term", "--teacher", "prof.martin", check=False)
    assert bad.returncode == 2 and "course id" in bad.stderr
    not_teacher = jhub(hub, "courses", "create", "snt_2nde", "--teacher", "alice", check=False)
    assert not_teacher.returncode == 2
    jhub(hub, "courses", "create", "snt_2nde", "--teacher", "prof.martin")
    jhub(hub, "courses", "enrol", "snt_2nde", "--students", "carol")
    courses = courses_json(hub)
    assert courses["snt_2nde"]["members"] == ["carol"] and courses[COURSE]["is_default"]
    assert hub_group(hub, "formgrade-snt_2nde") == {"prof.martin"}
    assert (home(hub.sandbox, "prof.martin") / "snt_2nde" / "source" / "header.ipynb").exists()
    carol = UserShell(hub, "carol")
    assert "snt_2nde" not in carol.run("nbgrader list").stdout  # nothing released yet, but access:
    assert carol.run("nbgrader list --course snt_2nde").returncode == 0
