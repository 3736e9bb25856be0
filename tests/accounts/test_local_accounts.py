"""Local accounts made by the real shadow tools, in a private mount namespace (never the host's /etc)."""
import fcntl
import http.server
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import threading
import time

import pytest

from jhub_admin_service.accounts.passwords import verify_password

from .conftest import pam_ok as pam


def import_historical(jhub, rosters, sandbox, *extra):
    out = sandbox.root / "credentials.csv"
    return jhub("import", "--yes", str(rosters / "comptes-historique.csv"), "--credentials", str(out), *extra)


def test_import_creates_accounts_with_uid_home_mode_and_groups(jhub, rosters, sandbox):
    import_historical(jhub, rosters, sandbox)
    passwd = sandbox.passwd()
    uids = {login: int(passwd[login][2]) for login in passwd if login.startswith(("eleve", "prof"))}
    assert len(uids) == 15 and all(uid >= 10000 for uid in uids.values()) and len(set(uids.values())) == 15
    home = sandbox.home / "eleve1"
    st = home.stat()
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == uids["eleve1"]
    assert passwd["eleve1"][5] == "/home/eleve1"
    assert sandbox.group_members("jh-teachers") == {"prof1", "prof2", "prof3"}
    assert "eleve12" in sandbox.group_members("jh-students")


def test_password_verifies_by_crypt_and_pam(jhub, rosters, sandbox):
    import_historical(jhub, rosters, sandbox)
    shadow = sandbox.shadow()
    assert shadow["eleve3"].startswith("$y$")
    assert verify_password("mdp-03x", shadow["eleve3"])
    assert pam(sandbox, "prof1", "Prof-1-pass")
    assert not pam(sandbox, "prof1", "wrong")


def test_registry_holds_hashes_never_clear_passwords(jhub, rosters, sandbox):
    import_historical(jhub, rosters, sandbox)
    registry = (sandbox.srv / "jupyterhub" / "jhub-admin.sqlite").read_bytes()
    assert b"mdp-01x" not in registry and b"Prof-1-pass" not in registry
    assert stat.S_IMODE(os.stat(sandbox.srv / "jupyterhub" / "jhub-admin.sqlite").st_mode) == 0o600


def test_root_line_leaves_root_untouched(jhub, sandbox, tmp_path):
    before = sandbox.shadow()["root"]
    roster = tmp_path / "evil.csv"
    roster.write_text("root;x;1\ndaemon;x;\neleve1;pw-eleve1;\n")
    proc = jhub("import", "--yes", str(roster), "--credentials", str(tmp_path / "c.csv"))
    assert sandbox.shadow()["root"] == before and sandbox.shadow()["daemon"] == shadow_of_host("daemon")
    assert "reserved" in proc.stdout and "eleve1" in sandbox.passwd()


def shadow_of_host(login):
    with open("/etc/shadow") as f:
        return next(line.split(":")[1] for line in f if line.startswith(login + ":"))


def test_reconcile_after_wipe_restores_same_uids_and_hashes(jhub, rosters, sandbox):
    import_historical(jhub, rosters, sandbox)
    before_passwd, before_shadow = sandbox.passwd(), sandbox.shadow()
    sandbox.as_user("eleve2", "echo 'my work' > ~/work.txt")
    # A recreated container: pristine /etc, the same volumes (home, registry).
    for name in ("passwd", "shadow", "group", "gshadow"):
        shutil.copy(f"/etc/{name}", sandbox.etc / name)
    assert "eleve2" not in sandbox.passwd()
    jhub("reconcile", "--local-only")
    after_passwd, after_shadow = sandbox.passwd(), sandbox.shadow()
    for login in ("eleve1", "eleve2", "prof3"):
        assert after_passwd[login][2:4] == before_passwd[login][2:4]
        assert after_shadow[login] == before_shadow[login]
    assert (sandbox.home / "eleve2" / "work.txt").stat().st_uid == int(before_passwd["eleve2"][2])
    assert pam(sandbox, "eleve2", "mdp-02x")


def test_reimport_changes_nothing_and_keeps_passwords(jhub, rosters, sandbox):
    import_historical(jhub, rosters, sandbox)
    shadow = sandbox.shadow()
    proc = import_historical(jhub, rosters, sandbox, "--json")
    assert '"create": 0' in proc.stdout and '"update": 0' in proc.stdout
    assert sandbox.shadow() == shadow


#: The engine in a Python of its own in the sandbox, as `ops` (its accounts' steps as `m`), with
#: the roster's bytes as `data`.
ENGINE = (
    "import asyncio, os, sys\n"
    "from jhub_admin_service.accounts.engine import AccountError\n"
    "from jhub_admin_service.operations import Operations\n"
    "from jhub_admin_service.settings import AdminSettings\n"
    "ops = Operations(AdminSettings())\n"
    "m = ops.accounts\n"
    "data = open(sys.argv[1], 'rb').read()\n"
)


def kill_an_import(sandbox, rosters, dies_after):
    """An import of the historical roster that dies after its registry transaction, or after
    making the (locked) local accounts, before the passwords are hashed."""
    code = ENGINE + (
        "m._write_plan(m.preview(data))\n"
        "if sys.argv[2] == 'local accounts':\n"
        "    m._reconcile_local()\n"
        "os._exit(9)\n"
    )
    proc = sandbox.run([sys.executable, "-c", code, str(rosters / "comptes-historique.csv"), dies_after],
                       env=sandbox.cli_env(), check=False)
    assert proc.returncode == 9, proc.stderr


@pytest.mark.parametrize("dies_after", ["registry", "local accounts"])
def test_killed_import_converges_on_rerun(jhub, rosters, sandbox, dies_after):
    """An import writes the registry, makes the accounts locked while the passwords are hashed,
    then sets the hashes. Killed before the hashes, the accounts stay locked; importing the same
    file again gives them their passwords."""
    kill_an_import(sandbox, rosters, dies_after)
    if dies_after == "registry":
        assert "eleve1" not in sandbox.passwd()
    else:
        assert sandbox.shadow()["eleve7"] == "!" and not pam(sandbox, "eleve7", "mdp-07x")
    plan = json.loads(import_historical(jhub, rosters, sandbox, "--dry-run", "--json").stdout)
    assert plan["counts"]["create"] == 0 and plan["counts"]["update"] == 15
    assert all(a["password"] == "given" and a["changes"]["password"] == ["none", "new"] for a in plan["update"])
    import_historical(jhub, rosters, sandbox)
    passwd = sandbox.passwd()
    assert sum(login.startswith(("eleve", "prof")) for login in passwd) == 15
    assert pam(sandbox, "eleve7", "mdp-07x") and pam(sandbox, "prof1", "Prof-1-pass")


def test_a_password_set_by_hand_on_a_locked_account_is_kept(jhub, rosters, sandbox):
    kill_an_import(sandbox, rosters, "local accounts")
    sandbox.run(["chpasswd"], input="eleve7:Set-By-Hand-7\n")  # the admin, in a terminal
    jhub("reconcile", "--local-only")
    assert pam(sandbox, "eleve7", "Set-By-Hand-7")
    plan = json.loads(import_historical(jhub, rosters, sandbox, "--dry-run", "--json").stdout)
    assert "eleve7" in {a["login"] for a in plan["unchanged"]}  # it has a password now


class NotAHub(http.server.BaseHTTPRequestHandler):
    """A web server that answers, but 404 to everything: a hub API that refuses."""

    def do_GET(self):
        self.send_error(404)

    do_POST = do_PATCH = do_DELETE = do_GET

    def log_message(self, *args):
        pass


def test_a_hub_that_refuses_its_users_leaves_the_accounts_with_their_passwords(jhub, rosters, sandbox, tmp_path):
    """The hub answers, but with an error: the import fails and says so, and the local accounts
    it made are not left locked."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotAHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d/hub/api" % server.server_address[1]
        out = jhub("import", "--yes", str(rosters / "comptes-historique.csv"), "--credentials", str(tmp_path / "c.csv"),
                   check=False, env=sandbox.cli_env(JUPYTERHUB_API_URL=url, JUPYTERHUB_API_TOKEN="some-token"))
    finally:
        server.shutdown()
    assert out.returncode != 0 and "JupyterHub API error 404" in out.stderr, out.stderr
    assert pam(sandbox, "eleve7", "mdp-07x") and pam(sandbox, "prof1", "Prof-1-pass")


def test_a_command_waits_for_the_operation_that_holds_the_lock(jhub, rosters, sandbox):
    jhub("reconcile", "--local-only")  # makes the registry's folder
    with open(sandbox.srv / "jupyterhub" / "jhub-admin.sqlite.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as the service does during its start-up reconcile
        command = sandbox.popen([sys.executable, "-m", "jhub_admin_service.cli", "import", "--yes",
                                 str(rosters / "comptes-historique.csv"), "--credentials", str(sandbox.root / "c.csv")],
                                env=sandbox.cli_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        assert command.poll() is None and "eleve7" not in sandbox.passwd()  # waiting
    out, err = command.communicate(timeout=120)
    assert command.returncode == 0, err
    assert pam(sandbox, "eleve7", "mdp-07x")


def test_a_preview_made_before_another_import_finished_the_accounts_is_refused(jhub, rosters, sandbox):
    code = ENGINE + (
        "m._write_plan(m.preview(data))  # an import killed before its hashes\n"
        "stale = m.preview(data)  # an admin previews the file again...\n"
        "asyncio.run(ops.import_plan(m.preview(data)))  # ...while another import finishes the accounts\n"
        "try:\n"
        "    asyncio.run(ops.import_plan(stale))\n"
        "except AccountError as exc:\n"
        "    print('refused:', exc)\n"
    )
    out = sandbox.run([sys.executable, "-c", code, str(rosters / "comptes-historique.csv")],
                      env=sandbox.cli_env()).stdout
    assert "refused:" in out and "given a password since the preview" in out, out
    assert pam(sandbox, "eleve7", "mdp-07x")  # the passwords of the import that finished


def test_disable_enable_reset_and_remove(jhub, rosters, sandbox):
    import_historical(jhub, rosters, sandbox)
    jhub("accounts", "disable", "eleve4")
    assert sandbox.shadow()["eleve4"].startswith("!") and not pam(sandbox, "eleve4", "mdp-04x")
    jhub("accounts", "enable", "eleve4")
    assert pam(sandbox, "eleve4", "mdp-04x")
    new = jhub("accounts", "reset-password", "eleve4").stdout.strip().rsplit(" ", 1)[-1]
    assert pam(sandbox, "eleve4", new) and not pam(sandbox, "eleve4", "mdp-04x")
    (sandbox.home / "eleve5" / "notes.ipynb").write_text("{}")
    out = jhub("accounts", "remove", "eleve5").stdout
    archive = out.strip().rsplit(" ", 1)[-1]
    assert "eleve5" not in sandbox.passwd() and not (sandbox.home / "eleve5").exists()
    with tarfile.open(sandbox.srv / archive.removeprefix("/srv/")) as tar:
        assert "eleve5/notes.ipynb" in tar.getnames()


def test_user_changed_password_survives_recreation(jhub, rosters, sandbox):
    import_historical(jhub, rosters, sandbox)
    sandbox.run(["sh", "-c", "echo 'eleve6:my-own-password' | chpasswd"])  # as `passwd` in a terminal would
    jhub("reconcile", "--local-only")
    for name in ("passwd", "shadow", "group", "gshadow"):
        shutil.copy(f"/etc/{name}", sandbox.etc / name)
    jhub("reconcile", "--local-only")
    assert pam(sandbox, "eleve6", "my-own-password")


def test_change_class_and_role_moves_local_groups(jhub, sandbox, tmp_path):
    roster = tmp_path / "r.csv"
    roster.write_text("login;classe\nalice;T1\n")
    jhub("import", "--yes", str(roster), "--credentials", str(tmp_path / "c.csv"))
    assert sandbox.group_members("jh-class-t1") == {"alice"}
    jhub("accounts", "set", "alice", "--classes", "T2", "--role", "teacher")
    assert sandbox.group_members("jh-class-t1") == set() and sandbox.group_members("jh-class-t2") == {"alice"}
    assert "alice" in sandbox.group_members("jh-teachers")


def test_bad_file_exits_2_and_changes_nothing(jhub, rosters, sandbox):
    before = (sandbox.etc / "passwd").read_text()
    proc = jhub("import", "--yes", str(rosters / "bad" / "binary.csv"), check=False)
    assert proc.returncode == 2 and "not a class list" in proc.stderr
    assert (sandbox.etc / "passwd").read_text() == before


def test_credentials_file_is_0600(jhub, sandbox, tmp_path):
    roster = tmp_path / "r.csv"
    roster.write_text("Nom;Prénom;Classe\nDupont;Léa;T1\n")
    jhub("import", "--yes", str(roster), "--credentials", str(tmp_path / "creds.csv"))
    creds = tmp_path / "creds.csv"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    login, password = creds.read_text(encoding="utf-8-sig").splitlines()[1].split(";")[:2]
    assert login == "lea.dupont" and pam(sandbox, login, password)


def test_the_preview_rejects_a_login_that_names_an_existing_group(sandbox, tmp_path):
    roster = sandbox.root / "groupes.csv"
    roster.write_text("tape;Passw0rd-long-1;\nvideo;Passw0rd-long-2;\nnouvel.eleve;Passw0rd-long-3;\n")
    out = json.loads(sandbox.jhub_admin("import", str(roster), "--dry-run", "--json").stdout)
    assert [p["login"] for p in out["create"]] == ["nouvel.eleve"]
    assert {r["login"]: r["reason"] for r in out["rejected"]}["tape"] == "the name of an existing group of the system"


def test_import_refuses_an_existing_credentials_file_before_applying(sandbox):
    (sandbox.root / "c.csv").write_text("old")
    roster = sandbox.root / "r.csv"
    roster.write_text("lea.neuve;Passw0rd-long-9;\n")
    proc = sandbox.jhub_admin("import", "--yes", str(roster), "--credentials", str(sandbox.root / "c.csv"), check=False)
    assert proc.returncode == 2 and "already exists" in proc.stderr and "nothing was applied" in proc.stderr
    assert "lea.neuve" not in sandbox.passwd() and (sandbox.root / "c.csv").read_text() == "old"


DETACHED = "(setsid nohup sleep 600 >/dev/null 2>&1 </dev/null &)"


def uid_processes(uid):
    from jhub_admin_service.accounts.local import processes_of
    return processes_of(uid)


def test_removal_stops_detached_processes_and_archives_deep_and_sparse_homes(jhub, rosters, sandbox):
    import_historical(jhub, rosters, sandbox)
    uid = int(sandbox.passwd()["eleve6"][2])
    sandbox.as_user("eleve6", "mkdir -p ~/$(printf 'd/%.0s' $(seq 1 1100)) && truncate -s 15T ~/a && " + DETACHED)
    assert uid_processes(uid), "the detached process should run"
    out = jhub("accounts", "remove", "eleve6").stdout
    assert uid_processes(uid) == [] and "eleve6" not in sandbox.passwd()
    archive = sandbox.srv / out.strip().rsplit(" ", 1)[-1].removeprefix("/srv/")
    assert archive.stat().st_size < (1 << 20)
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["eleve6/a"].issparse() and members["eleve6/a"].size == 15 << 40
    assert any(name.count("/d") == 1100 for name in members)


def test_disabling_stops_every_process_of_the_account(jhub, rosters, sandbox):
    import_historical(jhub, rosters, sandbox)
    uid = int(sandbox.passwd()["eleve7"][2])
    sandbox.as_user("eleve7", DETACHED)
    assert uid_processes(uid)
    jhub("accounts", "disable", "eleve7")
    assert uid_processes(uid) == []


def test_one_account_that_cannot_be_made_never_stops_the_others(jhub, sandbox, tmp_path):
    roster = tmp_path / "classe.csv"
    roster.write_text("login;password;role;class\neleve.a;Pass-eleve-a1;student;2A\neleve.b;Pass-eleve-b1;student;2A\n"
                      "eleve.c;Pass-eleve-c1;student;2A\n")
    jhub("import", "--yes", str(roster), "--credentials", str(tmp_path / "c.csv"))
    # A recreated container (pristine /etc, same volumes) whose image now has a group named like
    # one account: newusers refuses any batch holding that line.
    for name in ("passwd", "shadow", "group", "gshadow"):
        shutil.copy(f"/etc/{name}", sandbox.etc / name)
    sandbox.run(["groupadd", "eleve.b"])
    proc = jhub("reconcile", "--local-only", check=False)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout.splitlines()[0])
    assert list(report["local"]["failed"]) == ["eleve.b"] and report["local"]["created"] == 2
    assert "eleve.b: not made on this machine" in proc.stderr
    assert "eleve.b" not in sandbox.passwd()
    assert pam(sandbox, "eleve.a", "Pass-eleve-a1") and pam(sandbox, "eleve.c", "Pass-eleve-c1")
    assert sandbox.group_members("jh-students") >= {"eleve.a", "eleve.c"}
    # The same in an import: the new accounts are made, the bad one is reported, no slip for it.
    roster.write_text("login;password;role;class\neleve.d;Pass-eleve-d1;student;2A\n")
    proc = jhub("import", "--yes", "--json", str(roster), "--credentials", str(tmp_path / "d.csv"))
    assert pam(sandbox, "eleve.d", "Pass-eleve-d1")
    assert "eleve.b: not made" in proc.stderr
    assert "eleve.b" not in (tmp_path / "d.csv").read_text()
