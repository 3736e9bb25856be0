"""A course's folders in the exchange: the rules (pure), and the repair on a real folder tree as root
with made-up owners (no account is created: the uids need not exist)."""
import os
import pwd
import stat

import pytest

from jhub_admin_service.courses import exchange as X
from jhub_admin_service.courses.exchange_rules import Found, course_problems, problem_of

TEACHER, STUDENT = 54321, 54322
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


def folder(uid=TEACHER, mode=0o755):
    return Found("folder", uid, mode, str(uid))


def test_rules_accept_nbgrader_modes_and_name_each_problem():
    assert problem_of(folder(), TEACHER, 0o755) is None
    assert problem_of(None, TEACHER, 0o755) == {"problem": "missing"}
    assert problem_of(folder(STUDENT), TEACHER, 0o755)["problem"] == "owner"
    assert problem_of(Found("link", STUDENT, 0o777, "alice"), TEACHER, 0o755) == {"problem": "link", "owner": "alice"}
    assert problem_of(folder(mode=0o777), TEACHER, 0o755) == {"problem": "mode", "found": "0777", "expected": "0755"}


def test_rules_stop_under_a_course_folder_to_be_replaced():
    squatted = {"": folder(STUDENT, 0o777), "outbound": folder(STUDENT, 0o777)}
    assert [p["folder"] for p in course_problems("c1", squatted, TEACHER)] == ["c1"]
    loose = {"": folder(mode=0o777), "outbound": folder(), "inbound": folder(STUDENT, 0o777),
             "feedback": folder(mode=0o711)}
    assert [(p["folder"], p["problem"]) for p in course_problems("c1", loose, TEACHER)] == [
        ("c1", "mode"), ("c1/inbound", "owner")]


def teacher():
    return pwd.struct_passwd(("prof", "x", TEACHER, TEACHER, "", "/nonexistent", "/bin/sh"))


def modes(course):
    return {sub: (st.st_uid, stat.S_IMODE(st.st_mode))
            for sub in ("", "outbound", "inbound", "feedback") for st in [os.lstat(course / sub)]}


def exchange(tmp_path):
    root = tmp_path / "exchange"
    X.prepare_exchange(str(root))
    return root


@needs_root
def test_new_course_gets_nbgrader_modes_quietly(tmp_path):
    root = exchange(tmp_path)
    assert X.secure_course_folder(str(root), "c1", teacher()) == []
    assert modes(root / "c1") == {"": (TEACHER, 0o755), "outbound": (TEACHER, 0o755),
                                  "inbound": (TEACHER, 0o2733), "feedback": (TEACHER, 0o711)}
    assert X.course_folder_problems(str(root), "c1", TEACHER) == []
    assert X.secure_course_folder(str(root), "c1", teacher()) == []  # a second sync changes nothing


@needs_root
def test_squatted_folders_are_moved_aside_without_following_links(tmp_path):
    root = exchange(tmp_path)
    trap = tmp_path / "students_own"  # where a student's link points
    trap.mkdir(mode=0o777)
    os.chown(trap, STUDENT, STUDENT)
    os.symlink(trap, root / "c1")
    (root / "c2").mkdir()
    os.chmod(root / "c2", 0o755)
    (root / "c2" / "inbound").mkdir()
    (root / "c2" / "inbound" / "planted").write_text("x")
    os.chown(root / "c2" / "inbound", STUDENT, STUDENT)
    os.chown(root / "c2", TEACHER, TEACHER)
    assert [p["problem"] for p in X.course_folder_problems(str(root), "c1", TEACHER)] == ["link"]
    assert [(p["folder"], p["problem"]) for p in X.course_folder_problems(str(root), "c2", TEACHER)] == [
        ("c2/outbound", "missing"), ("c2/inbound", "owner"), ("c2/feedback", "missing")]

    repairs = X.secure_course_folder(str(root), "c1", teacher()) + X.secure_course_folder(str(root), "c2", teacher())
    assert len(repairs) == 2 and "c1 was a link" in repairs[0] and "c2/inbound was not the teacher's" in repairs[1]
    for course in ("c1", "c2"):
        assert modes(root / course)["inbound"] == (TEACHER, 0o2733)
        assert X.course_folder_problems(str(root), course, TEACHER) == []
    # The link's target is untouched: still the student's, nothing made in it.
    assert trap.stat().st_uid == STUDENT and list(trap.iterdir()) == []
    # What was moved aside is kept, in root-only folders with unguessable names.
    holders = sorted(p for p in root.iterdir() if p.name.startswith(X.MOVED_ASIDE_PREFIX))
    assert len(holders) == 2
    for holder in holders:
        assert (holder.stat().st_uid, stat.S_IMODE(holder.stat().st_mode)) == (0, 0o700)
        assert len(holder.name) > len(X.MOVED_ASIDE_PREFIX) + 32
    moved_link = next(h / "c1" for h in holders if (h / "c1").is_symlink())
    assert os.readlink(moved_link) == str(trap)
    moved_inbound = next(h / "inbound" for h in holders if (h / "inbound").exists())
    assert (moved_inbound / "planted").read_text() == "x"
    assert (moved_inbound.stat().st_uid, stat.S_IMODE(moved_inbound.stat().st_mode)) == (0, 0o700)


@needs_root
def test_wrong_mode_of_the_teachers_folder_is_set_back(tmp_path):
    root = exchange(tmp_path)
    X.secure_course_folder(str(root), "c1", teacher())
    os.chmod(root / "c1" / "outbound", 0o777)
    assert X.secure_course_folder(str(root), "c1", teacher()) == ["c1: c1/outbound had mode 0777, set to 0755"]
    assert modes(root / "c1")["outbound"] == (TEACHER, 0o755)
