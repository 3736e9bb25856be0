"""The nbgrader exchange and what a course has in it, read and prepared as root.

The root is AdminSettings.exchange_root; nbgrader's own configuration (``Exchange.root``, in
``docker/nbgrader/nbgrader_config.py``) names the same folder.

Every course's folders in it are made and checked here, as ``exchange_rules`` says, through
file descriptors: names are read with lstat and folders opened with O_NOFOLLOW, so a link a
student plants is never followed, and nothing is ever chowned through one.
"""
import logging
import os
import pwd
import secrets
import stat
from contextlib import contextmanager
from typing import List, Optional

from .exchange_rules import COURSE_FOLDERS, REPAIRS, Found, course_problems, describe_repair, problem_of

log = logging.getLogger(__name__)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: Moved-aside folders go into a new root-only folder of the exchange root named with this prefix
#: and 128 random bits: the same filesystem (the exchange is a volume of its own), a name no
#: student can guess or make first, hidden from nbgrader's course listing (a dot name).
MOVED_ASIDE_PREFIX = ".moved-aside-"


class ExchangeError(Exception):
    pass


def prepare_exchange(root: str) -> str:
    """Make the exchange root exist with mode 1777, owned by root (at every container start)."""
    os.makedirs(root, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(root, 0, 0)
    os.chmod(root, 0o1777)
    return root


def count_assignments(course_dir: str) -> int:
    """Assignments of a course: the folders in its source/ (read as root; 0 when unreadable)."""
    try:
        with os.scandir(os.path.join(course_dir, "source")) as it:
            return sum(1 for e in it if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return 0


def released_assignments(root: str, course_id: str) -> list:
    """The assignments of a course that its teacher released into the exchange."""
    try:
        with os.scandir(os.path.join(root, course_id, "outbound")) as it:
            return sorted(e.name for e in it if e.is_dir())
    except OSError:
        return []


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _lstat(dir_fd: int, name: str) -> Optional[Found]:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return Found.from_lstat(st, _owner_name(st.st_uid))


@contextmanager
def _opened_dir(name: str, dir_fd: Optional[int] = None):
    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def course_folder_problems(root: str, course_id: str, teacher_uid: int) -> list:
    """What is wrong with a course's folders in the exchange, read only (the Courses page)."""
    found = {}
    try:
        with _opened_dir(root) as root_fd:
            found[""] = _lstat(root_fd, course_id)
            if found[""] is not None and found[""].kind == "folder":
                with _opened_dir(course_id, root_fd) as course_fd:
                    for sub, _ in COURSE_FOLDERS[1:]:
                        found[sub] = _lstat(course_fd, sub)
    except FileNotFoundError:
        pass  # no exchange yet: every folder is missing
    except OSError as exc:
        log.warning("cannot read the exchange folders of %s: %s", course_id, exc)
        return []
    return course_problems(course_id, found, teacher_uid)


def secure_course_folder(root: str, course_id: str, teacher: pwd.struct_passwd) -> List[str]:
    """Make a course's folders in the exchange its teacher's, with nbgrader's modes. Returns the
    repairs of folders that were there but wrong, one line each (also logged)."""
    with _opened_dir(root) as root_fd:
        repair = _CourseFolderRepair(root_fd, course_id, teacher.pw_name, teacher.pw_uid, teacher.pw_gid)
        course_fd = repair.secure(root_fd, "", COURSE_FOLDERS[0][1])
        try:
            for sub, mode in COURSE_FOLDERS[1:]:
                os.close(repair.secure(course_fd, sub, mode))
        finally:
            os.close(course_fd)
    for line in repair.done:
        log.warning("exchange repaired: %s", line)
    return repair.done


class _CourseFolderRepair:
    """One course's folders made or repaired, each under the file descriptor of its parent."""

    def __init__(self, root_fd: int, course_id: str, teacher: str, uid: int, gid: int):
        self.root_fd, self.course_id, self.teacher, self.uid, self.gid = root_fd, course_id, teacher, uid, gid
        self.done: List[str] = []

    def secure(self, parent_fd: int, sub: str, mode: int) -> int:
        """The folder `sub` of the course (the course folder itself for ""), as it must be; its fd."""
        name = sub or self.course_id
        for _ in range(3):  # a student racing the repair makes us look again, a few times
            problem = problem_of(_lstat(parent_fd, name), self.uid, mode)
            action = REPAIRS[problem["problem"]] if problem else "keep"
            if action == "move_aside":  # recorded at once: a retry below must not lose it
                moved_to = self.move_aside(parent_fd, name)
                self.done.append(describe_repair(self.course_id, sub, problem, self.teacher, moved_to))
            if action in ("create", "move_aside"):
                try:
                    # Root's and 0700 until it is the teacher's: in the sticky exchange root, no
                    # student can remove or replace a folder root made.
                    os.mkdir(name, 0o700, dir_fd=parent_fd)
                except FileExistsError:
                    continue
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
            except OSError:  # replaced by a link or a file since the lstat
                continue
            st = os.fstat(fd)
            if action in ("create", "move_aside"):
                os.fchown(fd, self.uid, self.gid)
            elif st.st_uid != self.uid:  # replaced since the lstat
                os.close(fd)
                continue
            if action != "keep":
                os.fchmod(fd, mode)
            if action == "chmod":
                self.done.append(describe_repair(self.course_id, sub, problem, self.teacher))
            elif action == "create":
                log.info("%s", describe_repair(self.course_id, sub, problem, self.teacher))  # nothing was wrong
            return fd
        raise ExchangeError(f"{self.course_id}: {name} in the exchange keeps being replaced; not secured")

    def move_aside(self, parent_fd: int, name: str) -> str:
        """Move `name` into a new root-only folder of the exchange root; its new path there."""
        holder = f"{MOVED_ASIDE_PREFIX}{self.course_id}-{secrets.token_hex(16)}"
        os.mkdir(holder, 0o700, dir_fd=self.root_fd)
        with _opened_dir(holder, self.root_fd) as holder_fd:
            os.rename(name, name, src_dir_fd=parent_fd, dst_dir_fd=holder_fd)
            moved = os.stat(name, dir_fd=holder_fd, follow_symlinks=False)
            if stat.S_ISDIR(moved.st_mode):
                # Only a folder is made root's: a file may be a hard link to one of the
                # student's own, and a link is never followed.
                with _opened_dir(name, holder_fd) as fd:
                    os.fchown(fd, 0, 0)
                    os.fchmod(fd, 0o700)
        return f"{holder}/{name}"
