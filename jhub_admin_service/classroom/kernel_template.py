"""Teaching kernels forked from a process that has imported the lycée's libraries once.

A lesson's first cell imports numpy, pandas and matplotlib: about 1.3 s of CPU in each kernel,
paid 35 times in the same minute, and some 100 MB that each kernel holds of its own copy. Here
one process, the *template*, started by the hub as root with the teaching kernel's own Python and
environment, imports them and the kernel's own modules (ipykernel, IPython, zmq) once; each
teaching kernel is a child forked from it (classroom/kernel_child.py), as the users' servers are
forked from the preloading process (classroom/preload.py). The child shares the imported pages
with every other kernel until it writes to them, and only starts its kernel.

**Who asks.** A user's server (classroom/kernel_provisioner.py, its kernel provisioner) connects
to the template's Unix socket, which everyone may reach. The system tells who connected
(SO_PEERCRED: pid, uid); nothing the request says about its sender is believed. The template
forks only for a user whose server the hub set up (SETUPS/<uid>.json), at most
MAX_KERNELS_PER_USER at a time and FORKS_PER_MINUTE a minute each; the child becomes the user
before it reads anything the user sent.

**Root imports only the image's code.** The kernel's PYTHONPATH names the school's site packages
(/opt/kernel-site/current), which anyone's wheel may fill: the template is started without it
(the hub hands it over as KERNEL_PATH), and each child puts it on its path once it is the user.
A fork is asked only where that gives the kernel an exec would: the provisioner execs the kernel
when a folder of the path, or the notebook's, holds a module that the template imported (a school
that upgrades numpy gets exec'd kernels, with its numpy).

**What differs from a fresh kernel, and how it is made the same:**
- a kernel exec'd in a folder that holds ``numpy.py`` or a ``matplotlibrc``, or with other
  interpreter variables (PYTHON*, MPL*, the thread counts of the native libraries), would load
  something else: the provisioner asks for a fork only when nothing of the kind differs from the
  template (STATUS lists its modules and variables), and the child checks the variables again;
- random generators: Python's reseeds itself in a forked child; numpy's global one is reseeded;
- threads: the template refuses to serve if an import left a Python thread running, and OpenBLAS
  stops its own before a fork (its pthread_atfork handler) and starts them in the child when used;
- matplotlib: its settings come from the same MATPLOTLIBRC (the French defaults); its backend is
  the inline one that ipykernel names in MPLBACKEND at each start, named here for the import
  (the backend's module itself is imported in the child, which hooks it to its shell); its cache
  and configuration folders are the user's, computed again in the child;
- the school's site packages: when their ``current`` link moves, the template starts itself again
  (an exec in place, so the kernels it forked stay its children), and meanwhile kernels start the
  ordinary way;
- the memory limit: RLIMIT_DATA counts the pages a child shares with the template until it writes
  them; the child's limit is the user's plus what it inherits (the cgroup and the guard, which
  reads PSS, count what each kernel really holds). A process the kernel starts inherits that
  limit too (at most some 165 MB more than under an exec'd kernel);
- the kernel's command line and environment, which the guard and the Servers page read from
  /proc, are written over the template's (which has room: it names the kernel's command itself,
  and starts itself once more with a variable that holds 64 kB);
- a kernel ends when its server ends: ipykernel's own watch compares its parent's pid, which here
  is the template's, so the child watches the server's pid itself (a pidfd);
- the hash seed of str and bytes is the template's in every kernel (it cannot change after a
  start); it orders sets of strings, and is not a secret between pupils;
- the pids limit: a kernel is forked by root, then moved into the user's cgroup, so a user at
  their pids limit may still get up to MAX_KERNELS_PER_USER kernels from here.

**The exchange**, on one connection per kernel: the server sends its request (one JSON line, its
stdout and stderr attached); the template answers ACCEPTED at once (a server that hears nothing
is facing a hung template, and execs its kernel after a second); the child answers its pid, then
starts the kernel only on the server's GO, so that a request the server gave up on never gets a
second kernel; when the kernel ends, the template sends its exit status.

Run by the hub (classroom/spawner.py), with the kernel's Python, from a folder that holds only a
link to this package:
    KERNEL_PYTHON [options] -m jhub_admin_service.classroom.kernel_template SOCKET SETUPS KERNEL_ARGV...
"""
import gc
import importlib
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from collections import defaultdict, deque
from typing import Deque, Dict, List, Optional, Tuple

from .forkserver import reap_children, run_child
from .kernel_child import ProcessTitle, serve_request
from .kernel_protocol import ACCEPTED, KERNEL_PATH, STARTUP_MODULES, STATUS, log, startup_variables

#: What a lesson imports, then what every kernel start imports.
LIBRARIES = ("numpy", "pandas", "matplotlib.pyplot")
KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell")
#: Kernels (and requests being read) per user at a time, and forks per user a minute: past them,
#: the user's kernels are exec'd by their server, under the pids limit.
MAX_KERNELS_PER_USER = 16
FORKS_PER_MINUTE = 30
#: The backend that ipykernel names in MPLBACKEND at each start (when the user has not named one),
#: which matplotlib reads when imported.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
#: A variable of the template's own start, only to make room for a kernel's environment.
ENVIRONMENT_ROOM = "JHUB_KERNEL_ENVIRONMENT_ROOM"
ROOM_BYTES = 64 * 1024


def preload() -> List[str]:
    failed = []
    named = "MPLBACKEND" in os.environ
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    for name in (*KERNEL_MODULES, *LIBRARIES):
        try:
            importlib.import_module(name)
        except Exception as exc:  # a kernel start will say why, in the pupil's notebook
            failed.append(f"{name} ({exc!r})")
    if not named:  # as the servers' environment has it: ipykernel sets it again in each kernel
        del os.environ["MPLBACKEND"]
    gc.collect()
    gc.freeze()  # the imported objects stay shared: no child's collector writes to their pages
    return failed


def peer_of(conn: socket.socket) -> Tuple[int, int, int]:
    pid, uid, gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return pid, uid, gid


def own_children() -> Dict[int, int]:
    """pid -> uid of this process's children (those it forked before it exec'd itself again)."""
    children, me = {}, str(os.getpid())
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[1] == me:
                    children[int(name)] = os.stat(f"/proc/{name}").st_uid
        except (OSError, IndexError):
            continue
    return children


class Template:
    def __init__(self, socket_path: str, setups: str, kernel_argv: List[str], kernel_paths: List[str]):
        self.socket_path = socket_path
        self.setups = setups
        self.kernel_argv = kernel_argv
        self.kernel_paths = kernel_paths
        self.parent = os.getppid()
        self.startup = {**startup_variables(dict(os.environ)), "PYTHONPATH": ":".join(kernel_paths)}
        self.targets = self.path_targets()
        self.title = ProcessTitle()
        # child pid -> (uid, connection: None for a child of the process before an exec in place)
        self.kernels: Dict[int, Tuple[int, Optional[socket.socket]]] = {
            pid: (uid, None) for pid, uid in own_children().items()}
        self.forks: Dict[int, Deque[float]] = defaultdict(deque)  # uid -> times of the last forks
        self.exited: List[Tuple[int, int]] = []
        self.listener: Optional[socket.socket] = None

    def path_targets(self) -> List[str]:
        """Where the kernel's path folders lead now (the site packages' ``current`` link moves)."""
        return [os.path.realpath(p) for p in self.kernel_paths]

    def reap(self, *_signal) -> None:
        reap_children(self.exited)

    def tell_exits(self) -> None:
        """Each ended kernel's exit status to its server, if it still listens."""
        while self.exited:
            pid, code = self.exited.pop()
            _uid, conn = self.kernels.pop(pid, (None, None))
            if conn is not None:
                try:
                    conn.setblocking(False)
                    conn.send(json.dumps({"exit": code}).encode() + b"\n")
                except OSError:
                    pass
                conn.close()

    def write_status(self) -> None:
        modules = sorted({name.split(".")[0] for name in sys.modules} | set(STARTUP_MODULES))
        status = {"pid": os.getpid(), "argv": self.kernel_argv, "startup": self.startup, "modules": modules}
        path = os.path.join(os.path.dirname(self.socket_path), STATUS)
        with open(path + ".tmp", "w") as f:
            json.dump(status, f)
        os.chmod(path + ".tmp", 0o644)
        os.replace(path + ".tmp", path)

    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, self.reap)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        self.reap()  # children that ended while this process exec'd itself again
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.socket_path)
        os.chmod(self.socket_path, 0o666)  # every user's server asks; the system says who asked
        self.listener.listen(64)
        self.listener.settimeout(1)
        self.write_status()
        log(f"listening on {self.socket_path}")
        while os.getppid() == self.parent:  # the hub is gone: so is this (its kernels live on)
            self.tell_exits()
            if self.path_targets() != self.targets:
                self.start_again()
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError as exc:  # out of descriptors, say: this request is exec'd, not the template
                log(f"accept failed: {exc}")
                time.sleep(0.1)
                continue
            try:
                self.answer(conn)
            except OSError as exc:  # the fork failed (no memory, the container's pids limit)
                log(f"no kernel forked: {exc}")
                conn.close()

    def start_again(self) -> None:
        """The site packages changed: this process is out of date. It execs itself in place, so that
        the kernels it forked stay its children; meanwhile the servers exec their kernels."""
        log("the kernel's site packages changed: starting again")
        os.unlink(self.socket_path)
        os.environ[KERNEL_PATH] = ":".join(self.kernel_paths)
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])

    def may_fork_for(self, uid: int) -> bool:
        """Root execs its own kernels; a user whose server the hub did not set up, or past the caps,
        gets exec'd kernels."""
        if uid == 0 or not os.path.exists(os.path.join(self.setups, f"{uid}.json")):
            return False
        if sum(1 for u, _ in self.kernels.values() if u == uid) >= MAX_KERNELS_PER_USER:
            return False
        recent, now = self.forks[uid], time.monotonic()
        while recent and now - recent[0] > 60:
            recent.popleft()
        if len(recent) >= FORKS_PER_MINUTE:
            return False
        recent.append(now)
        return True

    def answer(self, conn: socket.socket) -> None:
        peer_pid, uid, _gid = peer_of(conn)
        if not self.may_fork_for(uid):
            conn.close()
            return
        pid = os.fork()
        if pid:
            self.kernels[pid] = (uid, conn)
            try:
                conn.send(ACCEPTED)  # at once: a server that hears nothing is facing a hung template
            except OSError:
                pass
            return
        self.listener.close()
        for _uid, other in self.kernels.values():
            if other is not None:
                other.close()
        run_child(lambda: serve_request(conn, peer_pid, uid, self))


def main() -> None:
    if ENVIRONMENT_ROOM not in os.environ:
        # Once, before any import: a start whose environment has room for a kernel's.
        os.execve(sys.executable, sys.orig_argv, {**os.environ, ENVIRONMENT_ROOM: "." * ROOM_BYTES})
    del os.environ[ENVIRONMENT_ROOM]
    kernel_paths = [p for p in os.environ.pop(KERNEL_PATH, "").split(":") if p]
    if "PYTHONPATH" in os.environ:
        log("started with a PYTHONPATH: root would import from it; not forking, kernels are exec'd")
        sys.exit(1)
    socket_path, setups, *kernel_argv = sys.argv[1:]
    started = time.process_time()
    failed = preload()
    log(f"imported {len(sys.modules)} modules in {time.process_time() - started:.2f} s of CPU"
        + (f"; could not import: {', '.join(failed)}" if failed else ""))
    if threading.active_count() > 1:
        log(f"an import started {threading.active_count() - 1} thread(s): not forking; kernels are exec'd")
        sys.exit(1)
    Template(socket_path, setups, kernel_argv, kernel_paths).serve()


if __name__ == "__main__":
    main()
