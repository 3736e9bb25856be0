"""A student squatting a course's folder in the exchange (1777, predictable course ids), against a
real JupyterHub and the real local users of a sandbox, with real nbgrader commands run as them.

Every course's folder exists, the teacher's, from the course's creation; one a student made
anyway (from before this protection, or through a link) is moved aside by the next sync or
reconcile, and the teacher's release and the other students' fetch work as if it never was.
"""
import stat

import pytest

from nbtools import EXCHANGE, UserShell, course_hub, home, jhub, write_assignment

pytestmark = [pytest.mark.hub, pytest.mark.sandbox]
COURSE = "cours_prof_martin"
FOLDERS = {"": 0o755, "outbound": 0o755, "inbound": 0o2733, "feedback": 0o711}
FAKE = "FAKE ASSIGNMENT PLANTED BY ALICE"


@pytest.fixture(scope="module")
def hub():
    with course_hub() as running:
        jhub(running, "courses", "enrol", COURSE, "--students", "bob")
        yield running


def assert_course_folder_is_the_teachers(box, course):
    folder = box.srv / "nbgrader" / "exchange" / course
    uid = int(box.passwd()["prof.martin"][2])
    for sub, mode in FOLDERS.items():
        st = (folder / sub).lstat()
        assert stat.S_ISDIR(st.st_mode), f"{course}/{sub} is not a folder"
        assert (st.st_uid, oct(stat.S_IMODE(st.st_mode))) == (uid, oct(mode)), f"{course}/{sub}"


def plant_fake_course(alice, path):
    """What a squatter does: an outbound with a fake ps1 and an inbound everybody writes to."""
    alice.run(f"mkdir -p {path}/outbound/ps1 {path}/inbound && echo '{FAKE}' > {path}/outbound/ps1/ps1.ipynb"
              f" && chmod -R a+rwX {path} && chmod 0777 {path}/inbound")


def release_and_fetch(hub, course):
    """The teacher releases ps1 (it fails when a student owns the course folder); bob fetches it."""
    box = hub.sandbox
    teacher, bob = UserShell(hub, "prof.martin"), UserShell(hub, "bob")
    write_assignment(box, "prof.martin", course, "ps1")
    teacher.run("nbgrader generate_assignment ps1 --force", cwd=f"~/{course}")
    teacher.run("nbgrader release_assignment ps1", cwd=f"~/{course}")
    bob.run(f"nbgrader fetch_assignment ps1 --course {course}")
    return (home(box, "bob") / course / "ps1" / "ps1.ipynb").read_text()


def assert_moved_aside_is_root_only(hub, course):
    box = hub.sandbox
    holders = [p for p in (box.srv / "nbgrader" / "exchange").iterdir() if p.name.startswith(".moved-aside-" + course)]
    assert len(holders) == 1
    assert (holders[0].stat().st_uid, stat.S_IMODE(holders[0].stat().st_mode)) == (0, 0o700)
    refused = UserShell(hub, "alice").run(f"ls {EXCHANGE}/{holders[0].name}", check=False)
    assert refused.returncode != 0
    return holders[0]


def test_course_folder_is_the_teachers_right_after_creation(hub):
    assert_course_folder_is_the_teachers(hub.sandbox, COURSE)  # made by the import's sync
    jhub(hub, "courses", "create", "snt_2nde", "--teacher", "prof.martin")
    assert_course_folder_is_the_teachers(hub.sandbox, "snt_2nde")  # before any release


def test_folder_squatted_before_the_course_is_moved_aside_by_its_creation(hub):
    alice = UserShell(hub, "alice")
    plant_fake_course(alice, f"{EXCHANGE}/nsi_term")
    created = jhub(hub, "courses", "create", "nsi_term", "--teacher", "prof.martin")
    assert "nsi_term was not the teacher's (owner: alice)" in created.stdout + created.stderr
    assert_course_folder_is_the_teachers(hub.sandbox, "nsi_term")
    moved = assert_moved_aside_is_root_only(hub, "nsi_term")
    assert FAKE in (moved / "nsi_term" / "outbound" / "ps1" / "ps1.ipynb").read_text()  # kept, not deleted

    jhub(hub, "courses", "enrol", "nsi_term", "--students", "bob")
    fetched = release_and_fetch(hub, "nsi_term")
    assert FAKE not in fetched and "carres" in fetched
    # bob's submission lands where only the teacher can list it.
    UserShell(hub, "bob").run("nbgrader submit ps1 --course nsi_term")
    assert alice.run(f"ls {EXCHANGE}/nsi_term/inbound", check=False).returncode != 0


def test_link_to_a_students_folder_is_moved_aside_by_reconcile(hub):
    box = hub.sandbox
    alice = UserShell(hub, "alice")
    # An exchange from before this protection: the course folder was never made, and alice made
    # it first, as a link to a folder of hers.
    box.run(["rm", "-rf", f"{EXCHANGE}/{COURSE}"])
    plant_fake_course(alice, f"{EXCHANGE}/.alice_stash")
    alice.run(f"ln -s {EXCHANGE}/.alice_stash {EXCHANGE}/{COURSE}")

    reconciled = jhub(hub, "reconcile")
    assert f"{COURSE} was a link (owner: alice)" in reconciled.stdout + reconciled.stderr
    assert_course_folder_is_the_teachers(box, COURSE)
    stash = box.srv / "nbgrader" / "exchange" / ".alice_stash"
    # Nothing went through the link: alice's folder is still hers and holds only what she put.
    assert stash.stat().st_uid == int(box.passwd()["alice"][2])
    assert sorted(p.name for p in stash.iterdir()) == ["inbound", "outbound"]
    assert (assert_moved_aside_is_root_only(hub, COURSE) / COURSE).is_symlink()

    fetched = release_and_fetch(hub, COURSE)
    assert FAKE not in fetched and "carres" in fetched
