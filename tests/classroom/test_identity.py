"""identity.effective_user on real processes: what the guard does as a user, and what that user
can then do to the guard (nothing). Needs root; the uid is a number with no account (the host's
/etc/passwd is not touched)."""
import os
import subprocess

import pytest

from jhub_admin_service.identity import effective_user

UID = GID = 61234  # no such account: only numbers reach the kernel

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch ids")

#: Waits for a line, then asks the kernel whether it may signal the given process (kill 0).
SIGNAL_THE_PARENT = ("import os, sys\nsys.stdin.readline()\ntry:\n    os.kill(int(sys.argv[1]), 0)\n"
                     "    print('allowed')\nexcept PermissionError:\n    print('refused')")
#: The system's Python: the test's own may live where the user cannot read (/root).
PYTHON = "/usr/bin/python3"


def as_the_user(code, *args):
    return subprocess.Popen([PYTHON, "-c", code, *map(str, args)], user=UID, group=GID, extra_groups=[],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd="/")


def test_the_users_process_is_reniced_and_read_as_the_user_and_the_ids_come_back():
    sleeper = as_the_user("import time; time.sleep(30)")
    try:
        with effective_user(UID, GID):
            assert (os.geteuid(), os.getegid()) == (UID, GID)
            os.setpriority(os.PRIO_PROCESS, sleeper.pid, 19)
            with open(f"/proc/{sleeper.pid}/smaps_rollup", "rb") as f:  # no codec to import as the user
                assert any(line.startswith(b"Pss:") for line in f)
        assert os.getpriority(os.PRIO_PROCESS, sleeper.pid) == 19
        assert (os.geteuid(), os.getegid(), os.getuid()) == (0, 0, 0)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_while_acting_as_the_user_the_user_can_neither_signal_nor_trace_this_process():
    """kill(2) and ptrace compare with the real and saved ids, which stay root: there is nothing a
    pupil could stop (a forked child that became them could be, and froze the guard)."""
    child = as_the_user(SIGNAL_THE_PARENT, os.getpid())
    with effective_user(UID, GID):
        told = child.communicate(b"now\n", timeout=30)[0].strip()
    assert told == b"refused"
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as f:
        assert next(line for line in f if line.startswith("Uid:")).split()[1:] == ["0", "0", "0", "0"]
