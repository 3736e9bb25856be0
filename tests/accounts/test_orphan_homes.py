"""No home is ever given to a stranger (issue 26): an account lost from the registry (as a
crash used to lose an import's rows, its uid counter with them), the container recreated (its
/etc/passwd rebuilt from the registry), then a new account: it never receives the old home's uid."""
import sqlite3

import pytest

pytestmark = pytest.mark.sandbox


def test_a_new_account_never_gets_the_uid_of_a_home_whose_account_was_lost(sandbox):
    box = sandbox
    (box.root / "a.csv").write_text("login;password;role\nperdu;Perdu-Passw0rd-42;student\n", encoding="utf-8")
    box.jhub_admin("import", str(box.root / "a.csv"), "--yes", "--credentials", str(box.root / "a.creds"))
    old_uid = int(box.passwd()["perdu"][2])
    assert (box.home / "perdu").stat().st_uid == old_uid
    # The registry loses the account and its uid counter; the recreated container has no such user.
    with sqlite3.connect(box.srv / "jupyterhub" / "jhub-admin.sqlite") as db:
        db.execute("DELETE FROM accounts WHERE login = 'perdu'")
        db.execute("DELETE FROM meta WHERE key = 'next_uid'")
    box.run(["userdel", "perdu"])
    assert "perdu" not in box.passwd() and (box.home / "perdu").stat().st_uid == old_uid

    (box.root / "b.csv").write_text("login;password;role\nnouveau;Nouveau-Passw0rd-42;student\n", encoding="utf-8")
    box.jhub_admin("import", str(box.root / "b.csv"), "--yes", "--credentials", str(box.root / "b.creds"))
    new_uid = int(box.passwd()["nouveau"][2])
    assert new_uid != old_uid, "the new pupil owns a stranger's home"
    assert (box.home / "perdu").stat().st_uid == old_uid


def test_an_account_whose_group_a_killed_newusers_never_wrote_is_finished(sandbox):
    """newusers writes /etc/passwd and /etc/shadow, then /etc/group: killed in between, it leaves
    the registry's account without its private group. The next convergence makes the group and
    the account gets its password, instead of being refused as a stranger's."""
    box = sandbox
    (box.root / "a.csv").write_text("login;password;role\nmoitie;Moitie-Passw0rd-42;student\n", encoding="utf-8")
    box.jhub_admin("import", str(box.root / "a.csv"), "--yes", "--credentials", str(box.root / "a.creds"))
    uid = int(box.passwd()["moitie"][2])
    box.run(["sh", "-c", "sed -i '/^moitie:/d' /etc/group /etc/gshadow && usermod -p '!' moitie"])
    assert box.group_members("moitie") is None and box.shadow()["moitie"] == "!"
    box.jhub_admin("reconcile")
    assert box.group_members("moitie") == set() and int(box.passwd()["moitie"][3]) == uid
    assert box.shadow()["moitie"].startswith("$")


def test_an_account_whose_shadow_line_a_killed_newusers_never_wrote_keeps_its_hash_out_of_passwd(sandbox):
    """newusers writes /etc/passwd before /etc/shadow: killed in between, the account has no shadow
    line, and chpasswd -e would then write its hash into /etc/passwd, which everyone reads. The
    next convergence gives it a shadow line first (pwconv)."""
    box = sandbox
    (box.root / "a.csv").write_text("login;password;role\nombre;Ombre-Passw0rd-42;student\n", encoding="utf-8")
    box.jhub_admin("import", str(box.root / "a.csv"), "--yes", "--credentials", str(box.root / "a.creds"))
    box.run(["sh", "-c", "sed -i '/^ombre:/d' /etc/shadow && sed -i 's/^ombre:x:/ombre:!:/' /etc/passwd"])
    assert "ombre" not in box.shadow()
    box.jhub_admin("reconcile")
    assert box.passwd()["ombre"][1] == "x", box.passwd()["ombre"]  # no hash where everyone reads
    assert box.shadow()["ombre"].startswith("$")
