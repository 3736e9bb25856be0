"""How the product acts as one of its users: the only module that switches ids.

Root in a container with Docker's default capabilities may neither renice another user's process
(no CAP_SYS_NICE) nor read its memory map (no CAP_SYS_PTRACE), and must never open a user's files
as root (a link they planted would lead anywhere). Two forms, each for one kind of work:

- ``effective_user(uid, gid)``: one system call that the kernel checks against the user (renice
  their process, read its smaps), made by the calling process itself with only its effective ids
  switched. The real and saved ids stay root, so the user can neither signal nor trace it (kill
  and ptrace compare with those), and there is no child to wait for: the resource guard cannot be
  frozen by a pupil who stops what it forked. Nothing of the user's is parsed or run meanwhile.
- ``drop_to(login, home)`` in a child, and ``run_module_as(login, ...)``: work on a user's files
  (a teacher's course, their gradebook), which may read configuration that the user wrote. The
  child becomes the user for good (real, effective and saved ids, no other group), so nothing it
  reads can make it root again. Its user may stop it: the parent's wait always has a deadline,
  after which the child is killed (courses/teacher_homes.py, subprocess's timeout here).
"""
import os
import pwd
import subprocess
import sys
from contextlib import contextmanager
from typing import Optional


@contextmanager
def effective_user(uid: int, gid: int):
    """The calling process's effective uid and gid (hence its file-system ids) are the user's for
    the block; back to root after. Single-threaded callers only (the guard): Python's seteuid
    changes the ids of every thread of the process."""
    if os.geteuid() != 0:
        raise PermissionError("only root can act as another user")
    os.setegid(gid)
    try:
        os.seteuid(uid)
        try:
            yield
        finally:
            os.seteuid(0)
    finally:
        os.setegid(0)


def drop_to(login: str, home: str) -> None:
    """Make this (child) process the user for good: groups, gid, then uid; their home, their
    environment's names. Refuses root and a home that is not the account's."""
    pw = pwd.getpwnam(login)
    if pw.pw_uid == 0:
        raise PermissionError("jhub-admin never works in a user's files as root")
    if pw.pw_dir != home:
        raise PermissionError(f"{login}'s home is {pw.pw_dir}, not {home}")
    if os.geteuid() == 0:
        os.setgroups(os.getgrouplist(login, pw.pw_gid))
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    elif os.geteuid() != pw.pw_uid:
        raise PermissionError(f"only root can work in {login}'s home")
    os.environ.update(HOME=home, USER=login, LOGNAME=login)
    os.chdir(home)


def run_module_as(login: str, module: str, args: list, timeout: float,
                  stdin: Optional[bytes] = None) -> subprocess.CompletedProcess:
    """``python -I -m module args`` as login (their uid and gid, no other group, an environment of
    three variables, started from /: nothing is imported from their folders); stdout and stderr
    captured as bytes. Raises KeyError (no such local account) or subprocess.TimeoutExpired (the
    child was killed)."""
    user = pwd.getpwnam(login)
    env = {"HOME": user.pw_dir, "LANG": os.environ.get("LANG", "C.UTF-8"), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-I", "-m", module, *args], user=user.pw_uid, group=user.pw_gid,
                          extra_groups=[], env=env, cwd="/", input=stdin, capture_output=True, timeout=timeout)


def last_error_line(proc: subprocess.CompletedProcess) -> str:
    """The last line of what the module said on stderr (its reason), for the caller's message."""
    text = proc.stderr.decode("utf-8", "replace") if isinstance(proc.stderr, bytes) else proc.stderr
    return (text.strip().splitlines() or ["?"])[-1]
