"""A removed account brought back from the archive that its removal kept (issue 22), with the real
CLI and shadow tools in a private mount namespace: its files, owners and modes as they were, under
its old uid, or under a new one when someone was given the old uid meanwhile."""
import sqlite3

import pytest

from .conftest import pam_ok

pytestmark = pytest.mark.sandbox


def archive_of(box, login):
    listing = box.jhub_admin("accounts", "removed").stdout.splitlines()
    return next(line.split()[0] for line in listing if line.startswith(login + "-"))


def test_a_removed_pupil_comes_back_with_their_files_and_uid(sandbox):
    box = sandbox
    (box.root / "a.csv").write_text("login;password;role;class\nrevient;Revient-Passw0rd-42;student;TG1\n",
                                    encoding="utf-8")
    box.jhub_admin("import", str(box.root / "a.csv"), "--yes", "--credentials", str(box.root / "a.creds"))
    uid = int(box.passwd()["revient"][2])
    box.as_user("revient", "mkdir -p projet && echo 'mon code' > projet/code.py && chmod 640 projet/code.py")
    box.jhub_admin("accounts", "remove", "revient")
    assert "revient" not in box.passwd() and not (box.home / "revient").exists()

    out = box.jhub_admin("accounts", "restore", archive_of(box, "revient")).stdout
    password = out.rsplit("new password: ", 1)[1].strip()
    assert int(box.passwd()["revient"][2]) == uid
    code = box.home / "revient" / "projet" / "code.py"
    assert code.read_text() == "mon code\n" and code.stat().st_uid == uid and oct(code.stat().st_mode)[-3:] == "640"
    assert box.as_user("revient", "cat projet/code.py").stdout == "mon code\n"
    assert pam_ok(box, "revient", password) and not pam_ok(box, "revient", "Revient-Passw0rd-42")
    # No class comes back with it; and it is not listed as removed any more.
    with sqlite3.connect(box.srv / "jupyterhub" / "jhub-admin.sqlite") as db:
        assert db.execute("SELECT classes FROM accounts WHERE login = 'revient'").fetchone() == ("[]",)
    assert "revient-" not in box.jhub_admin("accounts", "removed").stdout
    assert box.jhub_admin("accounts", "restore", "revient-20000101-000000.tar.gz", check=False).returncode == 2


def test_a_restore_never_gives_files_to_whoever_holds_the_old_uid_now(sandbox):
    box = sandbox
    (box.root / "a.csv").write_text("login;password;role\nancien;Ancien-Passw0rd-42;student\n", encoding="utf-8")
    box.jhub_admin("import", str(box.root / "a.csv"), "--yes", "--credentials", str(box.root / "a.creds"))
    old_uid = int(box.passwd()["ancien"][2])
    box.as_user("ancien", "echo travail > devoir.py")
    box.jhub_admin("accounts", "remove", "ancien")
    # The uid counter lost (as a registry restored from an old copy would be): the next pupil gets the old uid.
    with sqlite3.connect(box.srv / "jupyterhub" / "jhub-admin.sqlite") as db:
        db.execute("DELETE FROM meta WHERE key = 'next_uid'")
    (box.root / "b.csv").write_text("login;password;role\nnouveau;Nouveau-Passw0rd-42;student\n", encoding="utf-8")
    box.jhub_admin("import", str(box.root / "b.csv"), "--yes", "--credentials", str(box.root / "b.creds"))
    assert int(box.passwd()["nouveau"][2]) == old_uid

    box.jhub_admin("accounts", "restore", archive_of(box, "ancien"))
    new_uid = int(box.passwd()["ancien"][2])
    assert new_uid != old_uid
    home = box.home / "ancien"
    assert home.stat().st_uid == new_uid and (home / "devoir.py").stat().st_uid == new_uid
    assert (home / "devoir.py").read_text() == "travail\n"
    assert box.as_user("nouveau", "cat /home/ancien/devoir.py", check=False).returncode != 0
