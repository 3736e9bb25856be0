"""A course's year put away: its exchange folder (as root, through file descriptors, never
following a pupil's link) and its teacher's folder (as the teacher, teacher_side.py)."""
import json
import os
import shutil
import stat
import subprocess

from ..accounts import handover
from ..courses.as_teacher import last_error_line, run_module_as
from ..courses.exchange_rules import COURSE_FOLDERS
from . import teacher_side

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: Moving a course's year within a home is renames and one small file.
TEACHER_SIDE_TIMEOUT = 120


class CourseYearError(RuntimeError):
    pass


def archive_exchange(exchange_root: str, course_id: str, dest: str) -> int:
    """Every pupil's and the teacher's files of the course's exchange folder into the ZIP dest
    (written whole or not at all); returns how many files. Nothing to archive: no ZIP, 0."""
    folder = os.path.join(exchange_root, course_id)
    if not os.path.isdir(folder) or os.path.islink(folder):
        return 0
    os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
    return handover.write_home_zip(folder, None, dest)


def empty_exchange(exchange_root: str, course_id: str) -> int:
    """Delete what the course's outbound, inbound and feedback folders hold; the folders stay
    (with their owner and modes, as the course sync made them). Returns how many entries went."""
    gone = 0
    try:
        root_fd = os.open(os.path.join(exchange_root, course_id), _DIR_FLAGS)
    except (FileNotFoundError, NotADirectoryError, OSError):
        return 0  # no folder (or a link planted in its place: the course sync moves it aside)
    try:
        for sub, _ in COURSE_FOLDERS:
            if not sub:
                continue
            try:
                fd = os.open(sub, _DIR_FLAGS, dir_fd=root_fd)
            except OSError:
                continue
            try:
                for name in os.listdir(fd):
                    if stat.S_ISDIR(os.lstat(name, dir_fd=fd).st_mode):
                        shutil.rmtree(name, dir_fd=fd)
                    else:
                        os.unlink(name, dir_fd=fd)
                    gone += 1
            finally:
                os.close(fd)
    finally:
        os.close(root_fd)
    return gone


def put_away_in_teacher_home(teacher: str, course_id: str, school_year: str, sheet: bytes) -> dict:
    """teacher_side.put_away, as the teacher; CourseYearError when it cannot be done."""
    try:
        proc = run_module_as(teacher, teacher_side.__name__, [course_id, school_year], TEACHER_SIDE_TIMEOUT, sheet)
    except KeyError:
        raise CourseYearError(f"{course_id}: its teacher {teacher} has no local account") from None
    except subprocess.TimeoutExpired:
        raise CourseYearError(f"{course_id}: not put away in {TEACHER_SIDE_TIMEOUT} s") from None
    if proc.returncode != 0:
        raise CourseYearError(f"{course_id}: not put away in {teacher}'s home ({last_error_line(proc)})")
    return json.loads(proc.stdout)
