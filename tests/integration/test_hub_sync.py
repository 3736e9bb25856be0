"""Hub users and groups through the REST API of a real JupyterHub (the repo's jupyterhub_config.py)."""
import json
import sys
import tempfile

import pytest

from hubtools import RunningHub
from sandbox import Sandbox, namespaces_available


@pytest.fixture(scope="module")
def hub():
    if not namespaces_available():
        pytest.skip("needs root and unshare --mount to isolate local accounts from the host")
    box = Sandbox(tempfile.mkdtemp(prefix="jhub-hub-"))
    running = RunningHub(box)
    try:
        yield running.start()
    finally:
        running.stop()
        box.cleanup()


def jhub(hub, *args):
    return hub.sandbox.run([sys.executable, "-m", "jhub_admin_service.cli", *args], env=hub.cli_env())


def import_file(hub, tmp_path, text, *extra):
    roster = tmp_path / "roster.csv"
    roster.write_text(text, encoding="utf-8")
    proc = jhub(hub, "import", str(roster), "--json", "--yes", "--credentials", str(tmp_path / "creds.csv"), *extra)
    return json.loads(proc.stdout)


def users(hub):
    return {u["name"]: u for u in hub.api("GET", "/users")}


def group(hub, name):
    return set(hub.api("GET", f"/groups/{name}")["users"])


def test_import_creates_hub_users_and_groups(hub, rosters, tmp_path):
    proc = jhub(hub, "import", str(rosters / "ent-export-comptes.csv"), "--json", "--yes",
                "--credentials", str(tmp_path / "c.csv"))
    report = json.loads(proc.stdout)
    assert report["hub"]["created"] == 5
    hub_users = users(hub)
    assert {"camille.rousseau", "sophie.lambert", "jules.bonnet"} <= set(hub_users)
    assert group(hub, "teachers") == {"sophie.lambert"}
    assert group(hub, "class-t-nsi") == {"camille.rousseau", "hugo.fournier", "chloe.girard2"}
    assert "jules.bonnet" in group(hub, "students") and group(hub, "class-1-nsi") == {"jules.bonnet"}


def test_reimport_changes_nothing(hub, rosters, tmp_path):
    jhub(hub, "import", str(rosters / "ent-export-comptes.csv"), "--yes", "--credentials", str(tmp_path / "a.csv"))
    before = {name: (u["admin"], sorted(u["groups"])) for name, u in users(hub).items()}
    report = json.loads(jhub(hub, "import", str(rosters / "ent-export-comptes.csv"), "--json", "--yes").stdout)
    assert report["counts"]["create"] == 0 and report["counts"]["update"] == 0
    assert report["hub"]["created"] == 0 and report["local"]["created"] == 0
    assert report["credentials_file"] is None
    after = {name: (u["admin"], sorted(u["groups"])) for name, u in users(hub).items()}
    assert after == before


def test_class_change_moves_group_membership(hub, tmp_path):
    import_file(hub, tmp_path, "login;classe\nmover;2nde1\nstayer;2nde1\n")
    assert group(hub, "class-2nde1") == {"mover", "stayer"}
    report = import_file(hub, tmp_path, "login;classe\nmover;2nde2\nstayer;2nde1\n")
    assert report["counts"]["update"] == 1
    assert group(hub, "class-2nde1") == {"stayer"} and group(hub, "class-2nde2") == {"mover"}


def test_admin_role_makes_a_hub_admin(hub, tmp_path):
    import_file(hub, tmp_path, "login;profil\nchef;admin\nsimple;élève\n")
    hub_users = users(hub)
    assert hub_users["chef"]["admin"] is True and hub_users["simple"]["admin"] is False
    import_file(hub, tmp_path, "login;profil\nchef;prof\n")
    assert users(hub)["chef"]["admin"] is False and "chef" in group(hub, "teachers")


def test_a_teacher_with_admin_rights_from_the_cli(hub, tmp_path):
    import_file(hub, tmp_path, "login;profil;classe\nprof.admin;prof;T NSI\n")
    assert users(hub)["prof.admin"]["admin"] is False
    jhub(hub, "accounts", "set", "prof.admin", "--admin")
    assert users(hub)["prof.admin"]["admin"] is True and "prof.admin" in group(hub, "teachers")
    listed = jhub(hub, "accounts", "list", "--search", "prof.admin").stdout
    assert "teacher+admin" in listed
    jhub(hub, "accounts", "set", "prof.admin", "--no-admin")
    assert users(hub)["prof.admin"]["admin"] is False and "prof.admin" in group(hub, "class-t-nsi")


def test_a_whole_class_disabled_given_passwords_and_removed_from_the_cli(hub, tmp_path):
    import_file(hub, tmp_path, "login;classe\nsortant1;TLEAVE\nsortant2;TLEAVE\nreste;TSTAY\n")
    jhub(hub, "accounts", "disable", "--class", "TLEAVE")
    assert not {"sortant1", "sortant2"} & set(users(hub)) and "reste" in users(hub)
    jhub(hub, "accounts", "enable", "--class", "TLEAVE")
    assert {"sortant1", "sortant2"} <= set(users(hub))
    out = tmp_path / "new.csv"
    jhub(hub, "accounts", "reset-password", "--class", "TLEAVE", "--credentials", str(out))
    assert {line.split(";")[0] for line in out.read_text(encoding="utf-8-sig").splitlines()[1:]} == {
        "sortant1", "sortant2"}
    refused = hub.sandbox.run([sys.executable, "-m", "jhub_admin_service.cli", "accounts", "remove", "--class", "TLEAVE"],
                              env=hub.cli_env(), check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr + refused.stdout  # several: asked first
    jhub(hub, "accounts", "remove", "--class", "TLEAVE", "--yes")
    assert not {"sortant1", "sortant2"} & set(users(hub)) and "reste" in users(hub)
    assert "sortant1" not in hub.sandbox.passwd()


def test_the_absent_pupils_of_a_new_year_s_list_are_marked_as_leaving(hub, tmp_path):
    import_file(hub, tmp_path, "login;role;classe\nannee.reste;student;2NDE9\nannee.part;student;2NDE9\n")
    report = import_file(hub, tmp_path, "login;role;classe\nannee.reste;student;1G9\n", "--absent-leaving")
    assert "annee.part" in report["marked_leaving"] and "annee.reste" not in report["marked_leaving"]
    listed = json.loads(jhub(hub, "accounts", "list", "--json", "--search", "annee.").stdout)
    assert {a["login"]: a["leaving"] for a in listed} == {"annee.reste": False, "annee.part": True}
    jhub(hub, "accounts", "leaving", "annee.part", "--undo")
    assert not json.loads(jhub(hub, "accounts", "list", "--json", "--search", "annee.part").stdout)[0]["leaving"]


def test_disabled_account_leaves_the_hub(hub, tmp_path):
    import_file(hub, tmp_path, "login\nquitter\n")
    jhub(hub, "accounts", "disable", "quitter")
    assert "quitter" not in users(hub)
    jhub(hub, "accounts", "enable", "quitter")
    assert "quitter" in users(hub) and "quitter" in group(hub, "students")


def test_pagination_is_followed(hub, tmp_path):
    lines = "".join(f"page{i:03d}\n" for i in range(450))
    import_file(hub, tmp_path, "login;classe\n" + lines.replace("\n", ";P1\n"))
    assert {f"page{i:03d}" for i in range(450)} <= group(hub, "class-p1")
    # A second import lists 450+ users through several pages and finds nothing to do.
    report = import_file(hub, tmp_path, "login;classe\n" + lines.replace("\n", ";P1\n"))
    assert report["hub"]["created"] == 0 and report["counts"]["unchanged"] == 450


def test_local_only_when_hub_is_down_then_reconcile(rosters, tmp_path, sandbox):
    hub = RunningHub(sandbox)
    env = {**hub.cli_env(), "JUPYTERHUB_API_TOKEN": "not-running-yet"}
    roster = tmp_path / "r.csv"
    roster.write_text("login\nearly\n")
    proc = sandbox.run([sys.executable, "-m", "jhub_admin_service.cli", "import", str(roster), "--yes",
                        "--credentials", str(tmp_path / "c.csv")], env=env)
    assert "not reachable" in proc.stderr and "early" in sandbox.passwd()
    hub.start()
    try:
        # (The admin service also reconciles the hub side when it starts; either way it converges.)
        jhub(hub, "reconcile", "--hub-only")
        assert "early" in users(hub) and "early" in group(hub, "students")
    finally:
        hub.stop()
