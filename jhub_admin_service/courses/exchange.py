"""The nbgrader exchange and what a course has in it, read and prepared as root.

The root is AdminSettings.exchange_root; nbgrader's own configuration (``Exchange.root``, in
``docker/nbgrader/nbgrader_config.py``) names the same folder.
"""
import os


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
