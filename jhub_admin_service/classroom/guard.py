"""The guard: what the kernel's per-process limits (classroom/spawner.py) cannot see.

A managed service of the hub (jupyterhub_config.py), as root in the hub's container. Every
second it reads what each user's processes use (classroom/usage.py) and:

- **memory**: when a user's programs (their processes but the Jupyter server itself) together hold
  more than the role's limit, it stops what holds the most: a kernel's whole session (the kernel
  and what it started), a terminal or a detached program; never the user's server (known by its
  parent, the hub or the preloading process, not by its command line, which the user writes),
  another user's process, or the hub. The user's next cell says why
  (docker/kernel/extensions/jhub_kernel_guard.py reads the reason left for the user);
- **CPU**: a process that keeps a core busy for `busy_seconds` gets the lowest priority (nice 19):
  it goes on with the CPU that nobody else wants, and everyone else stays responsive;
- **OOM order**: users' processes keep an OOM score of 1000 (the spawner sets it, but a user may
  write their own processes' score back down), so that the hub and the proxy are the last the
  kernel's OOM killer picks;
- **per-user cgroups** (classroom/cgroups.py, where the host delegates a subtree): when the
  kernel's OOM killer took a process in a user's cgroup (its hard limit, above the role's limit,
  reached faster than a scan), it logs it and leaves the reason for the user;
- writes what it sees (per user: memory, CPU, tasks, kernels; the machine's memory; its last
  actions) to a JSON file that the admin service's Servers page shows.

Every action is logged with the user, the process and the reason.
"""
import grp
import json
import logging
import os
import pwd
import signal
import time
from collections import deque
from typing import Dict, List, Optional

from traitlets import Float, Integer, Unicode, default
from traitlets.config import Application

from ..identity import effective_user
from . import cgroups
from . import limits as limitsmod
from . import usage as usagemod

log = logging.getLogger("jhub_admin_service.guard")

REASONS_DIR = "/run/jhub-guard"


def resident_memory(user: usagemod.UserUsage) -> Dict[int, int]:
    """pid -> resident set (RSS) of each of the user's programs: an upper bound, as pages that
    processes share (a forked child's, its parent's) count in each."""
    return {p.pid: p.memory for p in user.processes if not p.is_server}


def memory_victims(users: Dict[str, usagemod.UserUsage], limits_of, settled=lambda pid: True,
                   measure=resident_memory) -> List[tuple]:
    """[(user, holder, reason)] for every user over their memory limit: what holds the most of it
    (usage.UserUsage.holders: a kernel and what it started, a terminal, a detached program),
    never the server. Stopping the biggest kernel when a terminal holds the memory would free
    nothing, and each new kernel would be stopped again. settled(pid): whether a holder runs for
    long enough to be judged (a kernel that was just restarted is small). The sum of resident
    sets is an upper bound: measure(user) gives what each of the user's programs really holds
    (pid -> bytes), asked only of those over the limit by that bound; the holders are weighed by
    it too (a kernel forked from the kernel template shares most of its resident pages).
    reason: what the user's next cell tells them (jhub_kernel_guard.py) and the log says."""
    out = []
    for user in users.values():
        limit = limits_of(user.login).memory_bytes
        if user.programs_memory <= limit:
            continue
        holders = [h for h in user.holders() if settled(h["pid"])]
        held = measure(user) if holders else {}
        used = sum(held.values())
        if used > limit:
            resident = resident_memory(user)  # for a process whose share could not be read
            for holder in holders:
                holder["memory"] = sum(held.get(pid, resident.get(pid, 0)) for pid in holder["pids"])
            holder = max(holders, key=lambda h: h["memory"])
            reason = {"kind": "memory" if holder["kernel"] else "memory-program", "used_mb": used // 2 ** 20,
                      "limit_mb": limit // 2 ** 20, "kernel_mb": holder["memory"] // 2 ** 20}
            if not holder["kernel"]:
                reason["command"] = holder["command"][:80]
            out.append((user, holder, reason))
    return out


def proportional_memory(user: usagemod.UserUsage) -> Dict[int, int]:
    """pid -> what each of the user's programs holds, its share of the pages it shares (PSS, from
    /proc/PID/smaps_rollup); a process that ends meanwhile is left out; if none can be read, their
    resident sets. Reading another user's smaps needs CAP_SYS_PTRACE, which a container has not:
    the guard reads them as the user (identity.effective_user)."""
    held = {}
    for p in user.processes:
        if p.is_server:
            continue
        try:
            # Bytes: no codec is imported while the guard's effective ids are the user's.
            with effective_user(user.uid, usagemod.process_gid(p.pid)), open(f"/proc/{p.pid}/smaps_rollup", "rb") as f:
                held[p.pid] = next(int(line.split()[1]) * 1024 for line in f if line.startswith(b"Pss:"))
        except (OSError, StopIteration, ValueError):
            continue
    return held or resident_memory(user)


def busy_processes(history: Dict[int, deque], processes: List[usagemod.Process], busy_seconds: float,
                   busy_share: float, lowered: int) -> List[usagemod.Process]:
    """Processes that wanted a core (ran, or waited for one) at least busy_share of the last
    busy_seconds: loops that never wait, however many share the cores; not yet lowered.
    history: pid -> deque of (time, demand_seconds), kept up to date here."""
    now = time.monotonic()
    alive = {p.pid for p in processes}
    for pid in [pid for pid in history if pid not in alive]:
        del history[pid]
    out = []
    for p in processes:
        samples = history.setdefault(p.pid, deque())
        samples.append((now, p.demand_seconds))
        while len(samples) > 2 and now - samples[1][0] >= busy_seconds:
            samples.popleft()
        span = now - samples[0][0]
        if p.nice < lowered and span >= busy_seconds and (p.demand_seconds - samples[0][1]) / span >= busy_share:
            out.append(p)
    return out


def lower_priority(pid: int, uid: int, nice: int) -> bool:
    """Give a user's process the lowest priority, as the user (identity.effective_user: root in a
    container may not renice another user's process; the guard forks nothing a user could stop)."""
    try:
        with effective_user(uid, usagemod.process_gid(pid)):
            os.setpriority(os.PRIO_PROCESS, pid, nice)
        return True
    except (OSError, ValueError):  # ended meanwhile
        return False


def keep_oom_first(processes: List[usagemod.Process], score: int = 1000) -> None:
    for p in processes:
        try:
            with open(f"/proc/{p.pid}/oom_score_adj", "r+", encoding="ascii") as f:
                if int(f.read()) < score:
                    f.seek(0)
                    f.write(str(score))
        except (OSError, ValueError):
            continue


def stop_kernel(kernel_pid: int, uid: int, reason: dict) -> bool:
    """Stop a kernel and what it started (its session), if it still is this user's kernel; leave the
    reason where the user's next kernel reads it. Shared with the Servers page."""
    try:
        if usagemod.process_uid(kernel_pid) != uid:
            return False
        session = os.getsid(kernel_pid)
        if session != kernel_pid:  # a kernel leads its own session (jupyter_client starts it so)
            return False
        leave_reason(uid, reason)
        os.killpg(session, signal.SIGKILL)
        return True
    except (OSError, ValueError):
        return False


def stop_holder(holder: dict, uid: int, reason: dict) -> bool:
    """Stop what holds a user's memory: a kernel's session (stop_kernel), or the processes of a
    terminal or a detached program, each if it is still the user's; leave the reason."""
    if holder["kernel"]:
        return stop_kernel(holder["pid"], uid, reason)
    stopped = False
    for pid in holder["pids"]:
        try:
            if usagemod.process_uid(pid) == uid:
                os.kill(pid, signal.SIGKILL)
                stopped = True
        except (OSError, ValueError):
            continue
    if stopped:
        leave_reason(uid, reason)
    return stopped


def leave_reason(uid: int, reason: dict, folder: str = REASONS_DIR) -> None:
    """/run/jhub-guard/UID, the user's own (0600), made without following a link."""
    os.makedirs(folder, mode=0o711, exist_ok=True)
    fd = os.open(os.path.join(folder, str(uid)), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchown(fd, uid, -1)
        os.write(fd, json.dumps({"time": time.time(), **reason}).encode())
    finally:
        os.close(fd)


class Guard(Application):
    name = "jhub-guard"
    description = "Keeps one user's processes from taking the server from the others."

    preferences_path = Unicode(help="The service's preferences file (each role's limits).").tag(config=True)
    snapshot_path = Unicode(os.path.join(REASONS_DIR, "usage.json"),
                            help="Where the Servers page reads what the guard sees.").tag(config=True)
    interval = Float(1.0, help="Seconds between two scans.").tag(config=True)
    busy_seconds = Float(10.0, help="A process busy this long on one core gets the lowest priority.").tag(
        config=True)
    busy_share = Float(0.9, help="Share of the time a process must want a core to count as busy.").tag(config=True)
    lowered_nice = Integer(19, help="The priority given to a busy process.").tag(config=True)
    settle_seconds = Float(5.0, help="A kernel younger than this is not stopped (it was just (re)started), "
                                      "and a user who lost a kernel loses no other for this long.").tag(config=True)

    reasons_dir = Unicode(REASONS_DIR, help="Where each user's next kernel finds why one was stopped.").tag(
        config=True)
    cgroup_root = Unicode(cgroups.DEFAULT_ROOT, help="The delegated cgroup subtree, if any (classroom/cgroups.py).").tag(
        config=True)

    @default("preferences_path")
    def _preferences_path(self):
        data_dir = os.environ.get("JHUB_DATA_DIR") or "/srv/jupyterhub"
        return limitsmod.preferences_path(data_dir)

    def initialize(self, argv=None):
        super().initialize(argv)
        self.events = deque(maxlen=100)
        self.history: Dict[int, deque] = {}
        self.previous_cpu: Dict[int, float] = {}
        self.first_seen: Dict[int, float] = {}
        self.last_stop: Dict[str, float] = {}
        self.memory = limitsmod.machine_memory_bytes()
        tree = cgroups.UserCgroups.find(self.cgroup_root)
        # OOM kills before this start were reported by the guard that ran then. Keyed by the
        # cgroup itself: one removed at a server's stop and remade at its start counts from 0.
        self.oom_kills: Dict[tuple, int] = {(uid, tree.identity(uid)): tree.oom_kills(uid)
                                            for uid in tree.users()} if tree else {}

    def limits_of(self, teachers: set):
        limits = limitsmod.read_limits(self.preferences_path, self.memory)
        return lambda login: limits["teacher" if login in teachers else "student"]

    def record(self, kind: str, user: str, pid: int, reason: str) -> None:
        log.warning("%s: user %s, pid %d: %s", kind, user, pid, reason)
        self.events.appendleft({"time": time.time(), "kind": kind, "user": user, "pid": pid, "reason": reason})

    def scan(self) -> dict:
        processes = usagemod.read_processes()
        users = usagemod.by_user(processes, self.previous_cpu, self.interval)
        self.previous_cpu = {p.pid: p.cpu_seconds for p in processes}
        limits_of = self.limits_of(teacher_logins())
        keep_oom_first(processes)
        now = time.monotonic()
        self.first_seen = {p.pid: self.first_seen.get(p.pid, now) for p in processes}
        calm = {login: u for login, u in users.items() if now - self.last_stop.get(login, -1e9) >= self.settle_seconds}
        for user, holder, reason in memory_victims(calm, limits_of,
                                                   lambda pid: now - self.first_seen[pid] >= self.settle_seconds,
                                                   proportional_memory):
            if stop_holder(holder, user.uid, reason):
                self.last_stop[user.login] = now
                what = "this kernel" if holder["kernel"] else f"this program ({holder['command'][:80]})"
                self.record("memory", user.login, holder["pid"],
                            f"the user's processes held {reason['used_mb']} MB, over the limit of "
                            f"{reason['limit_mb']} MB: {what} ({reason['kernel_mb']} MB) stopped")
        tree = cgroups.UserCgroups.find(self.cgroup_root)
        if tree is not None:
            self.report_oom_kills(tree)
        for p in busy_processes(self.history, processes, self.busy_seconds, self.busy_share, self.lowered_nice):
            if not lower_priority(p.pid, p.uid, self.lowered_nice):
                continue
            login = next((u.login for u in users.values() if u.uid == p.uid), str(p.uid))
            self.record("cpu", login, p.pid, f"wanted a core without a pause for {self.busy_seconds:.0f} s: priority lowered "
                                             f"to nice {self.lowered_nice} ({p.command[:80]})")
        return self.snapshot(users, limits_of, tree)

    def report_oom_kills(self, tree: cgroups.UserCgroups) -> None:
        seen = {}
        for uid in tree.users():
            key = (uid, tree.identity(uid))
            seen[key] = count = tree.oom_kills(uid)
            if count <= self.oom_kills.get(key, 0):
                continue
            try:
                login = pwd.getpwuid(uid).pw_name
            except KeyError:
                continue
            hard = tree.memory_limit(uid) // 2 ** 20
            leave_reason(uid, {"kind": "cgroup-memory", "limit_mb": hard}, self.reasons_dir)
            self.record("memory", login, 0, f"the kernel's OOM killer stopped a process in the user's cgroup, at its "
                                            f"hard limit of {hard} MB")
        self.oom_kills = seen

    def snapshot(self, users, limits_of, tree: Optional[cgroups.UserCgroups] = None) -> dict:
        return {
            "time": time.time(),
            "mode": tree.mode if tree else "rlimits",
            "memory": usagemod.memory_status(self.memory, tree.memory_used() if tree else 0),
            "users": sorted(({"login": u.login, "memory": u.memory, "cpu": round(u.cpu, 2), "tasks": u.tasks,
                              "processes": len(u.processes), "limit": limits_of(u.login).memory_bytes,
                              "kernels": u.kernels()} for u in users.values()), key=lambda u: -u["memory"]),
            "events": list(self.events),
        }

    def write(self, data: dict) -> None:
        os.makedirs(os.path.dirname(self.snapshot_path), mode=0o711, exist_ok=True)
        tmp = self.snapshot_path + ".tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, self.snapshot_path)

    def start(self):
        logging.basicConfig(level=logging.INFO, format="[%(levelname).1s %(asctime)s %(name)s] %(message)s")
        log.info("guarding users' processes every %.1f s; limits from %s", self.interval, self.preferences_path)
        while True:
            started = time.monotonic()
            try:
                self.write(self.scan())
            except Exception:  # noqa: BLE001 (one bad scan must not end the guard)
                log.exception("scan failed")
            time.sleep(max(0.05, self.interval - (time.monotonic() - started)))


def teacher_logins() -> set:
    """Members of the local teachers' and admins' groups (accounts/groups.py)."""
    members = set()
    for name in ("jh-teachers", "jh-admins"):
        try:
            members.update(grp.getgrnam(name).gr_mem)
        except KeyError:
            continue
    return members


def read_snapshot(path: str = os.path.join(REASONS_DIR, "usage.json"), max_age: float = 10.0) -> Optional[dict]:
    """What the guard last saw, or None when it does not run (or has not for max_age seconds)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if time.time() - data.get("time", 0) <= max_age else None


main = Guard.launch_instance

if __name__ == "__main__":
    main()
