"""The CLI's dry run: plan JSON on stdout, exit statuses, and nothing created."""
import json
import subprocess
import sys

import pytest


def dry_run(path, registry):
    return subprocess.run([sys.executable, "-m", "jhub_admin_service.cli", "--registry", str(registry),
                           "import", str(path), "--dry-run", "--json"], capture_output=True, text=True)


@pytest.mark.parametrize("name,creates,rejects", [
    ("comptes-historique.csv", 15, 0),
    ("siecle-eleves-par-division.csv", 10, 0),
    ("ent-export-comptes.csv", 5, 0),
    ("bad/system-and-invalid.csv", 1, 7),
    ("bad/duplicates.csv", 1, 2),
    ("bad/unknown-role.csv", 0, 1),
])
def test_dry_run_json(rosters, tmp_path, name, creates, rejects):
    registry = tmp_path / "registry.sqlite"
    proc = dry_run(rosters / name, registry)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert len(plan["create"]) == creates and len(plan["rejected"]) == rejects
    for entry in plan["create"]:
        assert {"line", "login", "role", "classes"} <= entry.keys()
        assert entry["password"] in ("given", "generated")
    for r in plan["rejected"]:
        assert r["line"] > 0 and r["reason"]
    assert not registry.exists()


def test_given_passwords_never_printed(rosters, tmp_path):
    proc = dry_run(rosters / "comptes-historique.csv", tmp_path / "r.sqlite")
    assert "mdp-01x" not in proc.stdout + proc.stderr


def test_not_a_class_list_exits_2_with_one_message(rosters, tmp_path):
    proc = dry_run(rosters / "bad" / "binary.csv", tmp_path / "r.sqlite")
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "not a class list" in proc.stderr


def test_missing_file_exits_2(tmp_path):
    proc = dry_run(tmp_path / "nope.csv", tmp_path / "r.sqlite")
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_the_credentials_file_is_new_and_holds_no_formula(tmp_path):
    from jhub_admin_service.accounts.credentials import credentials_csv, write_credentials

    target = tmp_path / "elsewhere.csv"
    link = tmp_path / "creds.csv"
    link.symlink_to(target)  # planted, dangling
    people = [{"login": "a.b", "password": "p", "role": "student", "classes": [], "first_name": "=1+1",
               "last_name": "@SUM(A1)"}]
    with pytest.raises(FileExistsError):
        write_credentials(str(link), people)
    assert not target.exists()
    (tmp_path / "old.csv").write_text("kept")
    with pytest.raises(FileExistsError):
        write_credentials(str(tmp_path / "old.csv"), people)
    assert (tmp_path / "old.csv").read_text() == "kept"
    assert ";'=1+1;'@SUM(A1)" in credentials_csv(people)

