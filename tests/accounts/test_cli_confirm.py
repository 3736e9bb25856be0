"""`jhub-admin import` asks before it applies: on a terminal after showing the plan, and only with
--yes without one; away from the product's container (no hub, no registry) it says so first.
The real CLI runs in the sandbox; a terminal is given by script(1)."""
import shlex
import sys

import pytest

pytestmark = pytest.mark.sandbox

ROSTER = "login;password;role\nlea.durand;Lea-Passw0rd-42;student\n"


@pytest.fixture
def roster(sandbox):
    path = sandbox.root / "classe.csv"
    path.write_text(ROSTER, encoding="utf-8")
    return path


def on_terminal(sandbox, answers, *args):
    """The CLI on a pseudo-terminal, answering its questions with `answers` (one per line)."""
    command = shlex.join([sys.executable, "-m", "jhub_admin_service.cli", *map(str, args)])
    return sandbox.run(["script", "-qefc", command, "/dev/null"], check=False, env=sandbox.cli_env(),
                       input=answers)


def registry(sandbox):
    return sandbox.srv / "jupyterhub" / "jhub-admin.sqlite"


def test_without_a_terminal_nothing_is_applied_without_yes(sandbox, roster):
    proc = sandbox.jhub_admin("import", roster, check=False)
    assert proc.returncode == 1
    assert "Nothing applied" in proc.stderr and "--yes" in proc.stderr
    assert "does not look like jhub-admin's container" in proc.stderr
    assert "lea.durand" in proc.stdout  # the plan was shown
    assert "lea.durand" not in sandbox.passwd() and not registry(sandbox).exists()


def test_with_yes_it_applies_and_still_warns_away_from_the_container(sandbox, roster):
    proc = sandbox.jhub_admin("import", roster, "--yes")
    assert "does not look like jhub-admin's container" in proc.stderr
    assert "lea.durand" in sandbox.passwd()


def test_on_a_terminal_it_shows_the_plan_and_a_no_changes_nothing(sandbox, roster):
    proc = on_terminal(sandbox, "n\n", "import", roster)
    assert proc.returncode == 1, proc.stdout
    assert "create" in proc.stdout and "Apply this plan?" in proc.stdout
    assert "lea.durand" not in sandbox.passwd() and not registry(sandbox).exists()


def test_on_a_terminal_away_from_the_container_it_asks_twice(sandbox, roster):
    proc = on_terminal(sandbox, "y\nn\n", "import", roster)
    assert proc.returncode == 1 and "Apply here anyway?" in proc.stdout
    assert "lea.durand" not in sandbox.passwd()
    proc = on_terminal(sandbox, "y\ny\n", "import", roster)
    assert proc.returncode == 0, proc.stdout
    assert "lea.durand" in sandbox.passwd()


def test_in_the_container_one_yes_applies(sandbox, roster):
    sandbox.jhub_admin("reconcile")  # a registry exists, as in the product's container
    assert registry(sandbox).exists()
    proc = on_terminal(sandbox, "y\n", "import", roster)
    assert proc.returncode == 0, proc.stdout
    assert "Apply here anyway?" not in proc.stdout and "lea.durand" in sandbox.passwd()
