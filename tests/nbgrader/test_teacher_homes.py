"""Course files are written as each teacher, by children of one helper process (no hub needed).

A teacher owns their home and can plant symlinks in it: the writes must fail there rather than
land, as root, on what the link points to. One teacher's failure must not stop the others.
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from nbtools import gradebook_students


pytestmark = pytest.mark.sandbox
ROSTER = ("login;password;role;classe;prénom;nom\n"
          "prof.a;Prof-A-Passw0rd;prof;;Anne;Ader\n"
          "prof.b;Prof-B-Passw0rd;prof;;Bruno;Bel\n"
          "eleve.c;Eleve-C-Passw0rd;eleve;T1;Chloé;Cohen\n")


def nbgrader_schema_head():
    """What nbgrader itself stamps a new gradebook with (it runs `alembic heads`)."""
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + ":" + os.environ.get("PATH", "")}
    return subprocess.run([sys.executable, "-c", "import nbgrader.api; print(nbgrader.api.get_alembic_version())"],
                          env=env, capture_output=True, text=True, check=True).stdout.strip()


def gradebook_version(path):
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def gradebook_tables_and_courses(path):
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return (db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall(),
                db.execute("SELECT id FROM course").fetchall())


def nbgrader_own_gradebook(path, course_id):
    """A gradebook made the plain way, by nbgrader's Gradebook in a Python of its own."""
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + ":" + os.environ.get("PATH", "")}
    code = "import sys; from nbgrader.api import Gradebook; Gradebook('sqlite:///' + sys.argv[1], sys.argv[2]).close()"
    subprocess.run([sys.executable, "-c", code, str(path), course_id], env=env, check=True)
    return path


def test_each_teacher_writes_as_themselves_and_a_planted_symlink_leads_nowhere(sandbox):
    box = sandbox
    roster = box.root / "roster.csv"
    roster.write_text(ROSTER)
    box.jhub_admin("import", str(roster), "--yes", "--credentials", str(box.root / "creds.csv"))
    for teacher in ("prof.a", "prof.b"):
        course = f"cours_{teacher.replace('.', '_')}"
        uid = int(box.passwd()[teacher][2])
        assert (box.home / teacher / course / "gradebook.db").stat().st_uid == uid
        assert (box.home / teacher / ".jupyter" / "nbgrader_config.py").stat().st_uid == uid

    made = box.home / "prof.a" / "cours_prof_a" / "gradebook.db"
    assert gradebook_version(made) == nbgrader_schema_head()
    # copied from the helper's template: the same tables and course as nbgrader makes them itself
    reference = nbgrader_own_gradebook(box.root / "reference.db", "cours_prof_a")
    assert gradebook_tables_and_courses(made) == gradebook_tables_and_courses(reference)

    box.jhub_admin("courses", "enrol", "cours_prof_b", "--class", "T1")
    # prof.a replaces their course folder with a link to /etc (root's); the next sync redoes all.
    box.as_user("prof.a", "rm -rf ~/cours_prof_a && ln -s /etc ~/cours_prof_a")
    etc_before = sorted(p.name for p in box.etc.iterdir())
    sync = box.jhub_admin("courses", "sync", "--local-only", "--force", check=False)

    assert sorted(p.name for p in box.etc.iterdir()) == etc_before  # nothing written through the link
    assert sync.returncode == 1 and "course update as prof.a failed: PermissionError" in sync.stderr, sync.stderr
    assert set(json.loads(sync.stdout)["homes"]) == {"prof.b"}  # the other teacher's batch went on
    assert gradebook_students(box, "prof.b", "cours_prof_b") == {"eleve.c": ("Chloé", "Cohen")}


def test_a_teacher_who_stops_their_batch_is_dropped_at_the_deadline(sandbox):
    """The child runs as the teacher, who can SIGSTOP it (a stopped process ignores its own
    alarms): the helper, root, kills it at its deadline and the other teacher's batch is done.
    The helper imports nothing from the caller's working directory either."""
    box = sandbox
    box.run(["newusers"], input="".join(f"t{i}:x:{31000 + i}:{31000 + i}::/home/t{i}:/bin/bash\n" for i in (1, 2)))
    for i in (1, 2):
        (box.home / f"t{i}").mkdir(exist_ok=True)
        os.chown(box.home / f"t{i}", 31000 + i, 31000 + i)
    planted = box.root / "trap"
    (planted / "jhub_admin_service").mkdir(parents=True)
    (planted / "jhub_admin_service" / "__init__.py").write_text("raise SystemExit('imported from the cwd')\n")
    code = ("import json, sys, time\n"
            "from jhub_admin_service.courses.teacher_homes import apply_as_teachers\n"
            "students = [{'id': f's{n:03d}', 'first_name': 'A', 'last_name': 'B'} for n in range(300)]\n"
            "spec = lambda i: {'home': f'/home/t{i}', 'courses': [{'course_id': f'c{i}', 'is_default': True,"
            " 'students': students if i == 1 else [], 'departed': {}}]}\n"
            "start = time.monotonic()\n"
            "out = apply_as_teachers([('t1', spec(1)), ('t2', spec(2))], timeout=5)\n"
            "print(json.dumps({k: str(v) for k, v in out.items()}), round(time.monotonic() - start))\n")
    # t1 stops every process of theirs running the helper, as soon as it appears.
    # (The pattern is anchored: the loop's own shell has it in its command line too.)
    helper = "'^[^ ]*python[^ ]* -I -m jhub_admin_service[.]courses[.]teacher_homes'"
    stopper = box.popen(["runuser", "-u", "t1", "--", "sh", "-c",
                         f"while :; do pkill -STOP -u t1 -f {helper}; sleep 0.005; done"], start_new_session=True)
    try:
        # -P: this caller itself does not look in its working directory; the helper must not either.
        result, seconds = box.run([sys.executable, "-P", "-c", code], cwd=planted).stdout.rsplit(" ", 1)
        left = subprocess.run(["pgrep", "-u", "31001", "-f", helper.strip("'")], capture_output=True).stdout
    finally:
        os.killpg(stopper.pid, signal.SIGKILL)
        subprocess.run(["pkill", "-KILL", "-u", "31001"])  # the stopper loop, run as t1
        stopper.wait()
    result = json.loads(result)
    assert "no answer after 5 s: stopped" in result["t1"], result
    assert result["t2"] == str({"c2": {"students": 0, "added": 0, "removed": 0, "kept_with_grades": 0}}), result
    assert int(seconds) < 60
    assert not left  # the stopped child was killed, not left behind
