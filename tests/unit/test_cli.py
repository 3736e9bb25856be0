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
