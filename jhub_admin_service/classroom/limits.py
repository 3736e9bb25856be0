"""How much of the server one user may take, per role: memory and processes.

Pure, apart from reading the machine's memory and the admin's choices: the values live in the
Settings page's preferences file (service/preferences.py) on the data volume, where the hub's
spawner (classroom/spawner.py) and the guard (classroom/guard.py) read them too.

- **memory**: each process of the user is capped at this many bytes of data (RLIMIT_DATA: a
  Python cell that asks for more gets a MemoryError, and the kernel lives on), and the guard
  stops the kernel of a user whose programs together hold more than this (PSS);
- **processes**: the user's processes and threads together (RLIMIT_NPROC), so that a fork loop
  stops there.
"""
import json
import os
from dataclasses import asdict, dataclass
from typing import Optional

MIB = 1024 * 1024
ROLES = ("student", "teacher")
#: Bounds of what the Settings page accepts.
MEMORY_MB_RANGE = (128, 1024 * 1024)
PROCESSES_RANGE = (32, 100_000)


class LimitRefused(ValueError):
    """A value the Settings page cannot keep."""


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    processes: int

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * MIB


def meminfo_bytes(key: str, meminfo: str = "/proc/meminfo") -> int:
    """A line of /proc/meminfo ("MemTotal", "MemAvailable"), in bytes."""
    with open(meminfo, encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def machine_memory_bytes() -> int:
    """The memory the users share: the container's limit when one is set, else the machine's."""
    total = meminfo_bytes("MemTotal")
    cgroup_limit = cgroup_memory()["limit"]
    return min(total, cgroup_limit) if cgroup_limit else total


#: The container's memory cgroup: (limit file, usage file, the file cache's key in memory.stat).
CGROUP_MEMORY = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current", "inactive_file"),  # v2
                 ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes",
                  "total_inactive_file"))  # v1


def cgroup_memory() -> dict:
    """{"limit": bytes or None, "used": bytes (less the file cache it can drop) or None} of the
    memory cgroup this process is in (a container's), v1 or v2. On v2 the container has a cgroup
    namespace of its own, whose root (/sys/fs/cgroup) is the container's cgroup, however deep
    this process sits in it (the `hub` leaf of classroom/cgroups.py)."""
    for limit_file, usage_file, cache_key in CGROUP_MEMORY:
        try:
            with open(limit_file, encoding="ascii") as f:
                limit = f.read().strip()
            with open(usage_file, encoding="ascii") as f:
                used = int(f.read())
            with open(os.path.join(os.path.dirname(usage_file), "memory.stat"), encoding="ascii") as f:
                cache = int(dict(line.split() for line in f if line.strip()).get(cache_key, 0))
        except (OSError, ValueError):
            continue
        # "max", or a number near 2^63: no limit
        return {"limit": int(limit) if limit.isdigit() and int(limit) < 1 << 60 else None,
                "used": max(0, used - cache)}
    return {"limit": None, "used": None}


def default_limits(memory_bytes: int) -> dict:
    """A sixteenth of the memory for a student (512 MB to 2 GB), twice that for a teacher: a class
    of 35 rarely has more than a dozen heavy notebooks at once, and the guard takes back the rest."""
    student_mb = max(512, min(2048, memory_bytes // 16 // MIB))
    return {"student": Limits(student_mb, 256), "teacher": Limits(min(4096, 2 * student_mb), 512)}


def checked(role: str, memory_mb: object, processes: object) -> Limits:
    if role not in ROLES:
        raise LimitRefused(f"unknown role {role!r}")
    try:
        memory, count = int(str(memory_mb).strip()), int(str(processes).strip())
    except ValueError:
        raise LimitRefused("the limits must be whole numbers") from None
    if not MEMORY_MB_RANGE[0] <= memory <= MEMORY_MB_RANGE[1]:
        raise LimitRefused("the memory limit must be between %d and %d MB" % MEMORY_MB_RANGE)
    if not PROCESSES_RANGE[0] <= count <= PROCESSES_RANGE[1]:
        raise LimitRefused("the process limit must be between %d and %d" % PROCESSES_RANGE)
    return Limits(memory, count)


def limits_from(preferences: dict, memory_bytes: int) -> dict:
    """{role: Limits}: the admin's choices over the defaults; a damaged entry falls back."""
    limits = default_limits(memory_bytes)
    for role, value in (preferences.get("limits") or {}).items():
        try:
            limits[role] = checked(role, value.get("memory_mb"), value.get("processes"))
        except (LimitRefused, AttributeError):
            continue
    return limits


def read_limits(preferences_path: str, memory_bytes: Optional[int] = None) -> dict:
    try:
        with open(preferences_path, encoding="utf-8") as f:
            preferences = json.load(f)
    except (OSError, ValueError):
        preferences = {}
    if not isinstance(preferences, dict):
        preferences = {}
    return limits_from(preferences, memory_bytes or machine_memory_bytes())


def role_of(is_admin: bool, groups: set) -> str:
    """Teachers and admins get the teacher limits; everyone else the student ones."""
    return "teacher" if is_admin or "teachers" in groups else "student"


def to_json(limits: dict) -> dict:
    return {role: asdict(value) for role, value in limits.items()}


def preferences_path(data_dir: str) -> str:
    return os.path.join(data_dir, "jhub-admin-preferences.json")
