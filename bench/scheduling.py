"""How the import bench is scheduled: as in the product's container, not by session.

The product runs in a Docker container, that is in a cgroup, where the kernel schedules
processes by their nice value. On a bare machine, in the root cgroup, the kernel's autogroup
makes each session a scheduling group of its own instead.
"""
import os
from pathlib import Path

AUTOGROUP = Path("/proc/sys/kernel/sched_autogroup_enabled")


def cpu_cgroup_dir():
    """This machine's cgroup folder for the CPU controller (v1 or v2), or None."""
    v1, v2 = Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup")
    if (v1 / "tasks").exists():
        return v1
    if (v2 / "cgroup.controllers").exists():
        return v2
    return None


def in_root_cgroup():
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers in ("cpu", "cpu,cpuacct", "cpuacct,cpu", ""):
            if path != "/":
                return False
    return True


def scheduled_by_session():
    """Whether the kernel's autogroup schedules this process's sessions apart (root cgroup)."""
    return AUTOGROUP.exists() and AUTOGROUP.read_text().strip() == "1" and in_root_cgroup()


def schedule_as_in_the_container(name="jhub-admin-bench"):
    """Move this process (and so everything it starts) into a cgroup of its own.

    The product runs in a Docker container, that is in a cgroup, where the kernel schedules
    processes by their nice value. On a bare machine, in the root cgroup, the kernel's autogroup
    makes each session a scheduling group of its own instead: the test hub (a session of its own)
    and the importer then get equal shares whatever their nice values, and the hashing, at a
    lower priority to leave the CPU to the hub, would take half of it. Returns a function that
    undoes the move, or None when nothing was needed or possible."""
    root = cpu_cgroup_dir()
    if root is None or not scheduled_by_session():
        return None
    if root == Path("/sys/fs/cgroup") and "cpu" not in (root / "cgroup.subtree_control").read_text().split():
        print("(cgroup v2 without the cpu controller for child groups: the hub and the importer are "
              "scheduled by session)")
        return None
    group = root / name
    try:
        group.mkdir(exist_ok=True)
        (group / "cgroup.procs").write_text(str(os.getpid()))  # the whole process, every thread
    except OSError as exc:
        print(f"(could not leave the root cgroup: {exc}; the hub and the importer are scheduled by session)")
        return None

    def back():
        (root / "cgroup.procs").write_text(str(os.getpid()))
        try:
            group.rmdir()
        except OSError:  # a process of the bench is still there
            pass
    return back
