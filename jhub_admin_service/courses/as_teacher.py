"""Run one of the product's modules as a teacher: their uid and gid, no other group, an
environment of three variables, started from / with ``python -I`` (nothing is imported from the
teacher's folders). Whatever reads or writes in a teacher's home does it through here, never as
root: the teacher could have put a link to any file there."""
import os
import pwd
import subprocess
import sys
from typing import Optional


def run_module_as(login: str, module: str, args: list, timeout: float,
                  stdin: Optional[bytes] = None) -> subprocess.CompletedProcess:
    """``python -I -m module args`` as login; stdout and stderr captured as bytes. Raises KeyError
    (no such local account) or subprocess.TimeoutExpired."""
    user = pwd.getpwnam(login)
    env = {"HOME": user.pw_dir, "LANG": os.environ.get("LANG", "C.UTF-8"), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-I", "-m", module, *args], user=user.pw_uid, group=user.pw_gid,
                          extra_groups=[], env=env, cwd="/", input=stdin, capture_output=True, timeout=timeout)


def last_error_line(proc: subprocess.CompletedProcess) -> str:
    """The last line of what the module said on stderr (its reason), for the caller's message."""
    text = proc.stderr.decode("utf-8", "replace") if isinstance(proc.stderr, bytes) else proc.stderr
    return (text.strip().splitlines() or ["?"])[-1]
