"""Course files are written as each teacher, by children of one helper process (no hub needed).

A teacher owns their home and can plant symlinks in it: the writes must fail there rather than
land, as root, on what the link points to. One teacher's failure must not stop the others.
"""
import json
import os
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


def jhub(box, *args, check=True):
    env = {**box.env, "JHUB_ADMIN_REGISTRY": "/srv/jupyterhub/jhub-admin.sqlite", "JHUB_DATA_DIR": "/srv/jupyterhub",
           "JHUB_EXCHANGE_ROOT": "/srv/nbgrader/exchange", "JUPYTERHUB_API_URL": "", "JUPYTERHUB_API_TOKEN": ""}
    return box.run([sys.executable, "-m", "jhub_admin_service.cli", *args], env=env, check=check)


def nbgrader_schema_head():
    """What nbgrader itself stamps a new gradebook with (it runs `alembic heads`)."""
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + ":" + os.environ.get("PATH", "")}
    return subprocess.run([sys.executable, "-c", "import nbgrader.api; print(nbgrader.api.get_alembic_version())"],
                          env=env, capture_output=True, text=True, check=True).stdout.strip()


def gradebook_version(path):
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def test_each_teacher_writes_as_themselves_and_a_planted_symlink_leads_nowhere(sandbox):
    box = sandbox
    roster = box.root / "roster.csv"
    roster.write_text(ROSTER)
    jhub(box, "import", str(roster), "--credentials", str(box.root / "creds.csv"))
    for teacher in ("prof.a", "prof.b"):
        course = f"cours_{teacher.replace('.', '_')}"
        uid = int(box.passwd()[teacher][2])
        assert (box.home / teacher / course / "gradebook.db").stat().st_uid == uid
        assert (box.home / teacher / ".jupyter" / "nbgrader_config.py").stat().st_uid == uid

    assert gradebook_version(box.home / "prof.a" / "cours_prof_a" / "gradebook.db") == nbgrader_schema_head()

    jhub(box, "courses", "enrol", "cours_prof_b", "--class", "T1")
    # prof.a replaces their course folder with a link to /etc (root's); the next sync redoes all.
    box.as_user("prof.a", "rm -rf ~/cours_prof_a && ln -s /etc ~/cours_prof_a")
    etc_before = sorted(p.name for p in box.etc.iterdir())
    sync = jhub(box, "courses", "sync", "--local-only", "--force", check=False)

    assert sorted(p.name for p in box.etc.iterdir()) == etc_before  # nothing written through the link
    assert sync.returncode == 1 and "course update as prof.a failed: PermissionError" in sync.stderr, sync.stderr
    assert set(json.loads(sync.stdout)["homes"]) == {"prof.b"}  # the other teacher's batch went on
    assert gradebook_students(box, "prof.b", "cours_prof_b") == {"eleve.c": ("Chloé", "Cohen")}
