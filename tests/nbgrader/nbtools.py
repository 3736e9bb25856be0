"""Helpers for the nbgrader tests: a hub with the nbgrader hooks, accounts, commands as users."""
import json
import os
import shlex
import shutil
import sys
import tempfile
from contextlib import contextmanager

import nbformat
import pytest

from hubtools import RunningHub
from sandbox import REPO, Sandbox, namespaces_available

BIN = os.path.dirname(sys.executable)
EXCHANGE = "/srv/nbgrader/exchange"  # inside the sandbox

ROSTER = """\
login;prénom;nom;profil;classe
prof.martin;Marie;Martin;enseignant;
alice;Alice;Durand;élève;T NSI
bob;Bob;Petit;élève;T NSI
carol;Carol;Leroy;élève;1 NSI
"""


def nbgrader_box():
    """A Sandbox whose /etc/jupyter has the image's global nbgrader config."""
    box = Sandbox(tempfile.mkdtemp(prefix="jhub-nbgrader-"))
    (box.etc / "jupyter").mkdir(exist_ok=True)
    shutil.copy(REPO / "docker" / "nbgrader" / "nbgrader_config.py", box.etc / "jupyter" / "nbgrader_config.py")
    return box


def start_hub(box, extra_env=None):
    return RunningHub(box, extra_env=extra_env or {}).start()


@contextmanager
def course_hub(before_import=None):
    """A sandboxed hub with ROSTER imported and courses synced; stopped and cleaned up afterwards.

    before_import(hub), when given, runs once the hub is up and before the import.
    """
    if not namespaces_available():
        pytest.skip("needs root and unshare --mount to isolate local accounts from the host")
    box = nbgrader_box()
    running = None
    try:
        running = start_hub(box)
        if before_import:
            before_import(running)
        import_roster(running, ROSTER)
        jhub(running, "courses", "sync")
        yield running
    finally:
        if running:
            running.stop()
        box.cleanup()


def jhub(hub, *args, check=True):
    return hub.sandbox.run([sys.executable, "-m", "jhub_admin_service.cli", *args], env=hub.cli_env(), check=check)


def import_roster(hub, text, name="roster.csv"):
    path = hub.sandbox.root / name
    path.write_text(text, encoding="utf-8")
    return jhub(hub, "import", str(path), "--yes", "--credentials", str(hub.sandbox.root / (name + ".creds")))


class UserShell:
    """Runs commands as a local user with the environment a single-user server gives them."""

    def __init__(self, hub, login):
        self.hub, self.login = hub, login
        self.token = hub.user_token(login)

    def run(self, command, check=True, cwd="~"):
        env = {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "JUPYTERHUB_API_URL": self.hub.api_url,
               "JUPYTERHUB_API_TOKEN": self.token, "JUPYTERHUB_USER": self.login, "LANG": "C.UTF-8"}
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        return self.hub.sandbox.as_user(self.login, f"export {exports}; cd {cwd} && {command}", check=check)


def home(box, login):
    return box.home / login


def chown_tree(box, login, path):
    entry = box.passwd()[login]
    uid, gid = int(entry[2]), int(entry[3])
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in files:
            os.chown(os.path.join(root, name), uid, gid)


def assignment_notebook():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("Écrire `carres(n)` : la liste des carrés de 1 à n."),
        nbformat.v4.new_code_cell(
            "def carres(n):\n    ### BEGIN SOLUTION\n    return [i * i for i in range(1, n + 1)]\n    ### END SOLUTION",
            metadata={"nbgrader": {"solution": True, "grade": False, "locked": False, "grade_id": "carres",
                                   "schema_version": 3}}),
        nbformat.v4.new_code_cell(
            "assert carres(3) == [1, 4, 9]\nassert carres(0) == []",
            metadata={"nbgrader": {"solution": False, "grade": True, "locked": True, "grade_id": "test_carres",
                                   "points": 2, "schema_version": 3}}),
    ]
    return nb


def write_assignment(box, teacher, course, assignment):
    folder = home(box, teacher) / course / "source" / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(assignment_notebook(), str(folder / f"{assignment}.ipynb"))
    chown_tree(box, teacher, home(box, teacher) / course / "source")


def answer(box, student, course, assignment):
    """The student's answer: the solution in place of the stub (written as the student would)."""
    path = home(box, student) / course / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if "raise NotImplementedError()" in cell.source:
            cell.source = "def carres(n):\n    return [i * i for i in range(1, n + 1)]"
    nbformat.write(nb, str(path))
    chown_tree(box, student, path.parent)


def gradebook_students(box, teacher, course):
    import sqlite3
    db = home(box, teacher) / course / "gradebook.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, first_name, last_name FROM student")}


def hub_group(hub, name):
    return set(hub.api("GET", f"/groups/{name}")["users"])


def courses_json(hub):
    return {c["course_id"]: c for c in json.loads(jhub(hub, "courses", "list", "--json").stdout)}

