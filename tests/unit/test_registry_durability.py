"""A commit to the registry survives the death of the process that made it (issue 26).

The service holds two registries open (its reader and its operations'); another process of the
stack (the CLI, the password service) opens the registry and closes it; then the service commits
an import's accounts and is killed. Before the fix, opening the second registry's file with
os.open/os.close dropped the service's SQLite locks, the other process's close took itself for
the last connection and deleted the WAL, and the commit went to the deleted WAL: gone with the
process, while the local accounts it led to stayed.
"""
import signal
import sqlite3
import subprocess
import sys

SERVICE = r"""
import os, signal, sys
from jhub_admin_service.accounts.registry import Account, Registry
path = sys.argv[1]
operations = Registry(path)
operations.accounts()
reader = Registry(path)  # the service's second registry (service/context.py)
reader.accounts()
print("open", flush=True)
sys.stdin.readline()  # meanwhile, another process opens and closes the registry
with operations.transaction() as db:
    for i in range(610):
        operations.insert(db, Account(login=f"new{i:04d}", uid=20000 + i, gid=20000 + i, role="student",
                                      password_hash="!"))
print(len(reader.accounts()), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
OTHER = "import sys; from jhub_admin_service.accounts.registry import Registry; r = Registry(sys.argv[1]); " \
        "r.accounts(); r.close()"


def test_a_commit_survives_a_kill_after_another_process_closed_the_registry(tmp_path):
    path = str(tmp_path / "jhub-admin.sqlite")
    service = subprocess.Popen([sys.executable, "-c", SERVICE, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        assert service.stdout.readline().strip() == "open"
        subprocess.run([sys.executable, "-c", OTHER, path], check=True, timeout=60)
        service.stdin.write("go\n")
        service.stdin.flush()
        assert service.stdout.readline().strip() == "610"  # committed, as the service saw it
        assert service.wait(timeout=60) == -signal.SIGKILL
    finally:
        service.kill()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 610
    assert oct((tmp_path / "jhub-admin.sqlite").stat().st_mode & 0o777) == "0o600"
