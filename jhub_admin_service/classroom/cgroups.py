"""Per-user cgroups, where the host lets the hub's container have a cgroup subtree of its own.

Docker mounts a container's cgroup file systems read-only, and on Docker 20.10 nothing in
compose.yaml makes them writable without `privileged`. But the host may *lend* a subtree, by a
bind mount into the hub's container at `/run/jhub-cgroups/` (`docker/build.sh up` adds the
compose file that fits the host):

- **cgroup v1** (docker/compose.cgroups-v1.yaml): `/sys/fs/cgroup/<controller>/jhub-users` for
  the memory, pids and cpu controllers, at ROOT/<controller>. Docker makes a missing bind source,
  which on a cgroup file system makes the cgroup, so a host reboot needs nothing done by hand.
  The users' cgroups are ROOT/<controller>/user-<uid>, beside the container's own.
- **cgroup v2** (docker/compose.cgroups-v2.yaml): the container is put in a slice of its own
  (`cgroup_parent: jhub.slice`), which is lent at ROOT/unified. With the host's `nsdelegate`
  (systemd's default), a container in its own cgroup namespace may move a process only within its
  own cgroup, so the users' cgroups are children of the container's cgroup: the hub first moves
  its own processes to a leaf, `hub` (a cgroup with children may hold no process), then gives the
  children the memory, pids and cpu controllers. The container's memory limit then holds the
  users too.

The hub's root writes limits only in that subtree, and moves only its own processes (the kernel
lets root move a process it can see). Each user's server, and everything it starts, runs in
`user-<uid>`, where the kernel itself:
- caps what the user's processes hold together (page cache included) at a hard limit a little
  above the role's limit, and when they reach it, OOM-kills one of *that user's* processes (the
  biggest: in practice the runaway one), never another user's or the hub's. The guard stays
  first (at the role's limit, with a reason for the student); the hard limit catches what
  allocates faster than the guard's scan;
- caps their tasks (pids.max), as RLIMIT_NPROC does, but per server rather than per uid;
- with `cpu_per_user` (ClassroomSpawner's, off by default), shares the CPU per user, not per
  process: four busy loops of one student weigh what one does. Off by default because it did not
  pay in the benches: in four login storms with CPU groups the class waited longer (a median of
  21.9-24.2 s) than in three of four without (19.3-20.1 s; runs here differ by up to 25 %), and
  the noisy neighbour bench showed no gain for the neighbours of busy loops, which the nice levels
  and the guard already keep responsive (docs/performance.md). On v1 the server joins its cpu
  cgroup only once it answers (its kernels and terminals follow); on v2 one cgroup holds every
  controller, so the start is in it too.

Without a lent subtree (find() returns None) the rlimits and the guard work alone: see
docs/classroom.md for which mode is active and why.
"""
import errno
import logging
import os
import signal
from typing import List, Optional

log = logging.getLogger(__name__)

DEFAULT_ROOT = "/run/jhub-cgroups"
#: The controllers of the users' cgroups (cpu only with cpu_per_user); on v1, one lent folder
#: each, ROOT/<controller>.
CONTROLLERS = ("memory", "pids", "cpu")
MIB = 2 ** 20


def hard_limit(memory_bytes: int) -> int:
    """The cgroup's hard limit for a role's memory limit: above it, so that the guard (which stops
    a kernel at the limit and says why) acts first; the margin also holds the Jupyter server and
    the page cache, which the cgroup counts and the guard does not."""
    return memory_bytes + max(256 * MIB, memory_bytes // 4)


def _write(path: str, value: str) -> None:
    with open(path, "w", encoding="ascii") as f:
        f.write(value)


def _read(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read()


def _writable(path: str) -> bool:
    try:
        return os.path.isdir(path) and not os.statvfs(path).f_flag & os.ST_RDONLY and os.access(path, os.W_OK)
    except OSError:
        return False


def own_cgroup_in(slice_folder: str) -> Optional[str]:
    """The folder of this container's own cgroup in the lent slice: the child whose processes
    (read through the mount, so in this container's pid namespace) include this process, directly
    or in its `hub` leaf. Other containers' processes are not listed here at all."""
    me = str(os.getpid())
    try:
        children = [e.path for e in os.scandir(slice_folder) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return None
    for child in children:
        for procs in (os.path.join(child, "cgroup.procs"), os.path.join(child, HUB_LEAF, "cgroup.procs")):
            try:
                if me in _read(procs).split():
                    return child
            except OSError:
                continue
    return None


#: cgroup v2: the leaf that the container's own processes move to (classroom/cgroups.py doc).
HUB_LEAF = "hub"


class UserCgroups:
    """The lent subtree: version 1 (ROOT/memory, ROOT/pids, ROOT/cpu) or 2 (the container's own
    cgroup, found in ROOT/unified)."""

    def __init__(self, version: int, root: str = DEFAULT_ROOT, own: Optional[str] = None, cpu_per_user: bool = False):
        self.version = version
        self.root = root
        self.own = own  # v2: the container's own cgroup folder
        self.controllers = CONTROLLERS if cpu_per_user else CONTROLLERS[:2]

    @classmethod
    def find(cls, root: str = DEFAULT_ROOT, cpu_per_user: bool = False) -> Optional["UserCgroups"]:
        """The subtree mounted at root, if the host lent one and it is writable here (None, never an
        error, otherwise: a login never fails for a cgroup)."""
        try:
            return cls._find(root, cpu_per_user)
        except OSError as exc:
            log.warning("no per-user cgroups: %s", exc)
            return None

    @classmethod
    def _find(cls, root: str, cpu_per_user: bool) -> Optional["UserCgroups"]:
        unified = os.path.join(root, "unified")
        if os.path.isdir(unified) and _writable(unified):
            own = own_cgroup_in(unified)
            if own is None:
                log.warning("%s holds no cgroup of this container: no per-user cgroups (is the hub's "
                            "cgroup_parent the lent slice?)", unified)
                return None
            available = _read(os.path.join(own, "cgroup.controllers")).split()
            if all(c in available for c in ("memory", "pids")):
                return cls(2, root, own, cpu_per_user)
            log.warning("%s lacks the memory or pids controller (has: %s): no per-user cgroups", own,
                        " ".join(available) or "none")
            return None
        folders = [os.path.join(root, c) for c in (CONTROLLERS if cpu_per_user else CONTROLLERS[:2])]
        if all(os.path.exists(os.path.join(f, "cgroup.procs")) and _writable(f) for f in folders):
            return cls(1, root, cpu_per_user=cpu_per_user)
        return None

    @property
    def mode(self) -> str:
        return f"cgroup v{self.version}"

    # The subtree

    def parents(self) -> List[str]:
        return [self.own] if self.version == 2 else [os.path.join(self.root, c) for c in self.controllers]

    def setup(self, total_bytes: int) -> None:
        """v1: cap the users together at total_bytes. v2: move the container's own processes to its
        `hub` leaf and give the children the controllers (the container's own memory limit, set by
        Docker, holds the users together)."""
        if self.version == 1:
            self._set_v1_memory(os.path.join(self.root, "memory"), total_bytes)
            # The users left the container's pids cgroup: the subtree keeps its limit for them.
            try:
                container_pids = _read("/sys/fs/cgroup/pids/pids.max").strip()
            except OSError:
                container_pids = "max"
            _write(os.path.join(self.root, "pids", "pids.max"), container_pids)
            return
        leaf = os.path.join(self.own, HUB_LEAF)
        os.makedirs(leaf, exist_ok=True)
        for _ in range(20):  # a process may fork while the others move
            pids = _read(os.path.join(self.own, "cgroup.procs")).split()
            if not pids:
                break
            for pid in pids:
                try:
                    _write(os.path.join(leaf, "cgroup.procs"), pid)
                except ProcessLookupError:
                    continue
        available = _read(os.path.join(self.own, "cgroup.controllers")).split()
        _write(os.path.join(self.own, "cgroup.subtree_control"),
               " ".join("+" + c for c in self.controllers if c in available))

    def folders(self, uid: int) -> List[str]:
        name = f"user-{uid}"
        return [os.path.join(p, name) for p in self.parents()]

    def prepare(self, uid: int, memory_bytes: int, processes: int) -> List[str]:
        """Make the user's cgroup with the role's limits; returns the cgroup.procs files that the
        server's process joins (spawner's preexec_fn, before it becomes the user): v1's memory and
        pids, not yet cpu (cpu_procs)."""
        for folder in self.folders(uid):
            os.makedirs(folder, exist_ok=True)
        limit = hard_limit(memory_bytes)
        if self.version == 2:
            folder = self.folders(uid)[0]
            _write(os.path.join(folder, "memory.max"), str(limit))
            if os.path.exists(os.path.join(folder, "memory.swap.max")):
                _write(os.path.join(folder, "memory.swap.max"), "0")  # a runaway must not swap the server
            _write(os.path.join(folder, "pids.max"), str(processes))
            return [os.path.join(folder, "cgroup.procs")]
        memory, pids = self.folders(uid)[:2]
        self._set_v1_memory(memory, limit)
        if not os.path.exists(os.path.join(memory, "memory.memsw.limit_in_bytes")):
            # Without swap accounting the limit caps RAM only: a runaway would swap rather than stop.
            _write(os.path.join(memory, "memory.swappiness"), "0")
        _write(os.path.join(pids, "pids.max"), str(processes))
        return [os.path.join(memory, "cgroup.procs"), os.path.join(pids, "cgroup.procs")]

    def cpu_procs(self, uid: int) -> List[str]:
        """v1 with cpu_per_user: the cpu cgroup.procs file the server joins once it answers (see the
        module's doc); otherwise none (v2: a process has one cgroup for every controller)."""
        folders = self.folders(uid)
        return [os.path.join(folders[2], "cgroup.procs")] if self.version == 1 and len(folders) > 2 else []

    @staticmethod
    def _set_v1_memory(folder: str, limit: int) -> None:
        """memory.limit_in_bytes and (with swap accounting) memory.memsw.limit_in_bytes, which must
        never be below it: the order of the two writes depends on whether the limit goes up."""
        files = [os.path.join(folder, "memory.limit_in_bytes")]
        memsw = os.path.join(folder, "memory.memsw.limit_in_bytes")
        if os.path.exists(memsw):
            files.append(memsw)
        try:
            for path in files:
                _write(path, str(limit))
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            for path in reversed(files):
                _write(path, str(limit))

    def stop_all(self, uid: int) -> int:
        """SIGKILL what is left in the user's cgroup once their server stopped (a kernel whose
        server was killed, a `nohup` job): it would share the next server's limits. Returns how
        many processes were sent the signal."""
        pids = set()
        for folder in self.folders(uid):
            try:
                pids.update(int(p) for p in _read(os.path.join(folder, "cgroup.procs")).split())
            except (OSError, ValueError):
                continue
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def remove(self, uid: int) -> None:
        """Remove the user's cgroup once it is empty (a process left behind keeps it)."""
        for folder in self.folders(uid):
            try:
                os.rmdir(folder)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.debug("cgroup %s kept: %s", folder, exc)

    # What the guard and the dashboard read

    def users(self) -> List[int]:
        """The uids that have a cgroup here."""
        try:
            names = os.listdir(self.parents()[0])
        except OSError:
            return []
        return sorted(int(n[5:]) for n in names if n.startswith("user-") and n[5:].isdigit())

    def identity(self, uid: int) -> Optional[int]:
        """Which cgroup `user-<uid>` is now (its inode): a removed and remade one counts from 0."""
        try:
            return os.stat(self.folders(uid)[0]).st_ino
        except OSError:
            return None

    def oom_kills(self, uid: int) -> int:
        """How many processes the kernel's OOM killer took in the user's cgroup (0 if none or gone)."""
        folder = self.folders(uid)[0]
        name, key = ("memory.events", "oom_kill") if self.version == 2 else ("memory.oom_control", "oom_kill")
        try:
            for line in _read(os.path.join(folder, name)).splitlines():
                field, _, value = line.partition(" ")
                if field == key:
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def memory_limit(self, uid: int) -> int:
        """The user's cgroup's hard limit as the kernel holds it (0 if gone)."""
        name = "memory.max" if self.version == 2 else "memory.limit_in_bytes"
        try:
            return int(_read(os.path.join(self.folders(uid)[0], name)))
        except (OSError, ValueError):
            return 0

    def memory_used(self) -> int:
        """What the users' processes hold together, outside the container's own memory cgroup (v1),
        less the file cache the kernel can drop; 0 on v2, where the container's cgroup holds them."""
        if self.version == 2:
            return 0
        parent = self.parents()[0]
        try:
            used = int(_read(os.path.join(parent, "memory.usage_in_bytes")))
            stats = dict(line.split() for line in _read(os.path.join(parent, "memory.stat")).splitlines() if line)
            return max(0, used - int(stats.get("total_inactive_file", 0)))
        except (OSError, ValueError):
            return 0


def join(procs_files: List[str], pid: Optional[int] = None) -> None:
    """Move a process (by default the calling one, in a preexec_fn) into the cgroups; the children
    it starts afterwards follow."""
    pid = str(pid or os.getpid())
    for path in procs_files:
        _write(path, pid)
