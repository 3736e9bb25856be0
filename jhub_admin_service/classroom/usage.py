"""What each user's processes use, read from /proc: memory, CPU time, tasks, kernels.

`read_processes()` is the only part that touches the machine; the rest is pure, so that the
guard's decisions are tested on plain records.
"""
import os
import pwd
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

from ..identity import effective_user
from .limits import cgroup_memory, meminfo_bytes

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
#: Local accounts made by jhub-admin start here (accounts/registry.py); system accounts are below.
FIRST_USER_UID = 10000


@dataclass
class Process:
    pid: int
    uid: int
    session: int
    #: Resident bytes (RSS): pages it shares with others (a forked child's, its parent's) count
    #: in each, so a sum over processes is an upper bound (see guard.proportional_memory).
    memory: int
    cpu_seconds: float  # user + system time since it started
    nice: int
    threads: int
    command: str
    #: Time it ran or was ready to run (schedstat): a process that never waits for anything has
    #: as much of it as time passes, however many others share the cores.
    demand_seconds: float = 0.0
    parent: int = 0
    #: The user's Jupyter server: a child of the hub or of the preloading process (root's
    #: processes, see read_processes), never told by its command line, which the user writes.
    server: bool = False

    @property
    def is_kernel(self) -> bool:
        return "ipykernel_launcher" in self.command or " -m ipykernel" in self.command

    @property
    def is_server(self) -> bool:
        return self.server


@dataclass
class UserUsage:
    login: str
    uid: int
    memory: int = 0
    cpu: float = 0.0  # cores used over the last interval
    tasks: int = 0
    processes: List[Process] = field(default_factory=list)

    @property
    def programs_memory(self) -> int:
        """What the user's programs hold: everything but their Jupyter server itself."""
        return sum(p.memory for p in self.processes if not p.is_server)

    def sessions(self) -> Dict[int, List[Process]]:
        out: Dict[int, List[Process]] = {}
        for p in self.processes:
            out.setdefault(p.session, []).append(p)
        return out

    def holders(self) -> List[dict]:
        """What holds the user's memory, heaviest first: each session (a kernel and what it
        started, a terminal, a detached program), but in the server's own session each process
        alone (the server itself is never one). {"pid", "session", "memory", "kernel", "command"}."""
        out = []
        for session, members in self.sessions().items():
            groups = [[p] for p in members if not p.is_server] if any(p.is_server for p in members) else [members]
            for group in groups:
                leader = next((p for p in group if p.is_kernel), None) or next(
                    (p for p in group if p.pid == session), group[0])
                out.append({"pid": leader.pid, "session": session, "memory": sum(p.memory for p in group),
                            "kernel": leader.is_kernel and leader.pid == session, "command": leader.command[:200],
                            "pids": [p.pid for p in group]})
        return sorted(out, key=lambda h: -h["memory"])

    def kernels(self) -> List[dict]:
        """One entry per kernel: its process and what its session (it and its children) holds."""
        out = []
        for session, members in self.sessions().items():
            leader = next((p for p in members if p.is_kernel), None)
            if leader is not None:
                out.append({"pid": leader.pid, "session": session, "memory": sum(p.memory for p in members),
                            "processes": len(members), "command": leader.command[:200],
                            "notebook": notebook_of(leader.pid, uid=self.uid)})
        return sorted(out, key=lambda k: -k["memory"])


def notebook_of(pid: int, proc: str = "/proc", uid: Optional[int] = None) -> str:
    """The notebook that a kernel runs for, as the admin knows it ("TP/devoir.ipynb", from the
    user's home): the path that the Jupyter server gives its kernels in JPY_SESSION_NAME; "" when
    unknown (a kernel of nbgrader's autograder, a console). A process's environment is readable by its own user only
    (root in a container has no CAP_SYS_PTRACE): root reads it as uid (identity.effective_user)."""
    def read() -> list:  # bytes: no codec is imported while the effective ids are the user's
        with open(f"{proc}/{pid}/environ", "rb") as f:
            return f.read(1 << 20).split(b"\0")

    try:
        if uid is not None and os.geteuid() == 0:
            with effective_user(uid, process_gid(pid, proc)):
                environ = read()
        else:
            environ = read()
    except (OSError, ValueError):
        return ""
    name = next((v[len(b"JPY_SESSION_NAME="):] for v in environ if v.startswith(b"JPY_SESSION_NAME=")), b"")
    # The server writes the notebook's full path (its folder, for a session without a notebook).
    name = "" if name.endswith(b"/") else name.decode("utf-8", "replace")
    home = home_of(uid)
    return (name[len(home) + 1:] if home and name.startswith(home + "/") else name)[:200]


def home_of(uid: Optional[int]) -> str:
    try:
        return pwd.getpwuid(uid).pw_dir.rstrip("/") if uid is not None else ""
    except KeyError:
        return ""


def parse_stat(text: str) -> Optional[dict]:
    """The fields of /proc/PID/stat that matter here (the command may hold spaces and parentheses)."""
    try:
        rest = text[text.rindex(")") + 2:].split()
        return {"parent": int(rest[1]), "session": int(rest[3]), "cpu_seconds": (int(rest[11]) + int(rest[12])) / TICKS,
                "nice": int(rest[16]), "threads": int(rest[17]), "memory": int(rest[21]) * PAGE}
    except (ValueError, IndexError):
        return None


def process_uid(pid, proc: str = "/proc") -> int:
    """The process's real uid. Not the owner of /proc/PID: a process that became its user without
    an exec (a preloaded server, classroom/preload.py) is not dumpable, and depending on the
    kernel its /proc/PID may then be root's."""
    return _real_id(pid, "Uid:", proc)


def process_gid(pid, proc: str = "/proc") -> int:
    """The process's real gid (the guard acts with it: identity.effective_user)."""
    return _real_id(pid, "Gid:", proc)


def _real_id(pid, field: str, proc: str) -> int:
    with open(f"{proc}/{pid}/status", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise ValueError(f"no {field} in {proc}/{pid}/status")


def starts_servers(argv: List[bytes]) -> bool:
    """A root process that starts users' servers: the hub, or the preloading process."""
    # The preloading process's title is one string (setproctitle): "python3 -m jhub_admin_...".
    return any(os.path.basename(arg) == b"jupyterhub" for arg in argv[:2]) or any(
        b" -m jhub_admin_service.classroom.preload" in arg or arg == b"jhub_admin_service.classroom.preload"
        for arg in argv[:6])


def read_processes(min_uid: int = FIRST_USER_UID, proc: str = "/proc") -> List[Process]:
    """Every process of a uid >= min_uid (one that ends meanwhile is skipped), each user's server
    marked by its parent."""
    out, server_parents = [], set()
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            uid = process_uid(name, proc)
            if uid == 0:
                with open(f"{proc}/{name}/cmdline", "rb") as f:
                    if starts_servers(f.read().split(b"\0")):
                        server_parents.add(int(name))
            if uid < min_uid:
                continue
            with open(f"{proc}/{name}/stat", encoding="utf-8", errors="replace") as f:
                stat = parse_stat(f.read())
            with open(f"{proc}/{name}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            with open(f"{proc}/{name}/schedstat", encoding="ascii") as f:
                running, waiting = f.read().split()[:2]
        except (OSError, ValueError):
            continue
        if stat is not None:
            out.append(Process(pid=int(name), uid=uid, command=command,
                               demand_seconds=(int(running) + int(waiting)) / 1e9, **stat))
    for p in out:
        p.server = p.parent in server_parents
    return out


def by_user(processes: Iterable[Process], previous_cpu: Dict[int, float], interval: float) -> Dict[str, UserUsage]:
    """Per login: memory, tasks, and cores used since the last scan (previous_cpu: pid -> seconds)."""
    users: Dict[int, UserUsage] = {}
    for p in processes:
        usage = users.get(p.uid)
        if usage is None:  # one lookup per user, not per process: this runs every second
            try:
                login = pwd.getpwuid(p.uid).pw_name
            except KeyError:
                login = str(p.uid)
            usage = users[p.uid] = UserUsage(login, p.uid)
        usage.processes.append(p)
        usage.memory += p.memory
        usage.tasks += p.threads
        usage.cpu += max(0.0, p.cpu_seconds - previous_cpu.get(p.pid, p.cpu_seconds)) / interval
    return {usage.login: usage for usage in users.values()}


def memory_status(total: int, users_cgroups: int = 0) -> dict:
    """The memory the users share (total: the container's limit, or the machine's) and what is left
    of it; in a container with a limit, what the container's cgroup holds besides its file cache,
    plus users_cgroups: what the users' own cgroups hold, outside the container's (cgroups.py)."""
    available = meminfo_bytes("MemAvailable")
    used = cgroup_memory()["used"]
    if used is not None:
        available = min(available, max(0, total - used - users_cgroups))
    return {"total": total, "available": available,
            "used_percent": round(100 * (total - available) / total) if total else None}
