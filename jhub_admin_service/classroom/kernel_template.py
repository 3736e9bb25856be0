"""Teaching kernels forked from a process that has imported the lycée's libraries once.

A lesson's first cell imports numpy, pandas and matplotlib: about 1.3 s of CPU in each kernel,
paid 35 times in the same minute, and some 100 MB that each kernel holds of its own copy. Here
one process, the *template*, started by the hub as root with the teaching kernel's own Python and
environment, imports them and the kernel's own modules (ipykernel, IPython, zmq) once; each
teaching kernel is a child forked from it, as the users' servers are forked from the preloading
process (classroom/preload.py). The child shares the imported pages with every other kernel until
it writes to them, and only starts its kernel.

**Who asks.** A user's server (classroom/kernel_provisioner.py, its kernel provisioner) connects
to the template's Unix socket, which everyone may reach. The system tells who connected
(SO_PEERCRED: pid, uid); nothing the request says about its sender is believed.

**What the child becomes**, as an exec'd kernel would from that server: the server's uid, gid and
groups (read from /proc/<server>/status, so a group added since the server started is not
gained), the limits and cgroups that the hub gave that user's server (the spawner writes them to
SETUPS/<uid>.json, root's), a session of its own, and dumpable again, so that the guard and the
user may read its memory map as they read an exec'd kernel's. Only then does it read the request
(the kernel's command line, environment and folder, and the server's stdout and stderr passed as
file descriptors), so that the template itself never holds a user's environment.

**What differs from a fresh kernel, and how it is made the same:**
- a kernel exec'd in a folder that holds ``numpy.py``, or with other interpreter variables (PYTHON*,
  MPL*, the thread counts of the native libraries), would load something else: the provisioner
  asks for a fork only when the folder shadows no imported module and the variables are the
  template's (written with its pid to STATUS), and the child checks the variables again;
- random generators: Python's reseeds itself in a forked child; numpy's global one is reseeded here;
- threads: the template refuses to serve if an import left a Python thread running, and OpenBLAS
  stops its own before a fork (its pthread_atfork handler) and starts them in the child when used;
- matplotlib: its settings come from the same MATPLOTLIBRC (the French defaults); its backend is
  the inline one that ipykernel names in MPLBACKEND at each start, named here for the import
  (the backend's module itself is imported in the child, which hooks it to its shell); its cache
  and configuration folders are the user's, computed again in the child;
- the school's site packages (/opt/kernel-site/current): when the link moves, the template starts
  itself again (an exec in place, so the kernels it forked stay its children), and meanwhile
  kernels start the ordinary way;
- the memory limit: RLIMIT_DATA counts the pages a child shares with the template until it writes
  them; the child's limit is the user's plus what it inherits (the cgroup and the guard, which
  reads PSS, count what each kernel really holds);
- the kernel's command line and environment, which the guard and the Servers page read from
  /proc, are written over the template's (which has room: it names the kernel's command itself,
  and starts itself once more with a variable that holds 64 kB);
- a kernel ends when its server ends: ipykernel's own watch compares its parent's pid, which here
  is the template's, so the child watches the server's pid itself (a pidfd);
- the hash seed of str and bytes is the template's in every kernel (it cannot change after a
  start); it orders sets of strings, and is not a secret between pupils.

Where the template is gone, hung, refuses, or out of date, the provisioner starts the kernel the
ordinary way: a pupil never sees an error. The template says ACCEPTED as soon as it has forked,
so that a hung one costs a pupil at most a second; a request that the child reads after its
deadline is refused, so that a request given up on never gets a second kernel.

Run by the hub (classroom/spawner.py), with the kernel's Python, from a folder that holds only a
link to this package:
    KERNEL_PYTHON [options] -m jhub_admin_service.classroom.kernel_template SOCKET SETUPS KERNEL_ARGV...
"""
import ctypes
import dataclasses
import gc
import importlib
import json
import locale
import os
import select
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Tuple

from .forkserver import reap_children, run_child
from .process_setup import ProcessSetup

#: What a lesson imports, then what every kernel start imports.
LIBRARIES = ("numpy", "pandas", "matplotlib.pyplot")
KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell")
#: Variables that change how an interpreter starts or how a native library loads: a request whose
#: values differ from the template's gets an exec'd kernel.
STARTUP_PREFIXES = ("PYTHON", "MPL", "MATPLOTLIB", "OPENBLAS_", "OMP_", "MKL_", "LD_")
STATUS = "template.json"
#: Kernels (and requests being read) per user at a time: past it, the user's kernels are exec'd
#: by their server, under the pids limit, so that no one makes the template fork without end.
MAX_KERNELS_PER_USER = 16
REQUEST_TIMEOUT = 5.0
#: The child starts a kernel only if the server still waits this long: never two for one request.
DEADLINE_MARGIN = 1.0
MAX_REQUEST = 1 << 20
#: What the template says as soon as it has forked for a request (the child answers later).
ACCEPTED = b"+"
PR_SET_DUMPABLE = 4


def log(message: str) -> None:
    print(f"[kernel template {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def startup_variables(env: Dict[str, str]) -> Dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(STARTUP_PREFIXES)}


def path_targets() -> List[str]:
    """Where the kernel's path folders lead now (the site packages' ``current`` link moves)."""
    return [os.path.realpath(p) for p in os.environ.get("PYTHONPATH", "").split(":") if p]


# ---- the template --------------------------------------------------------------------------------

#: The backend that ipykernel names in MPLBACKEND at each start (when the user has not named one),
#: which matplotlib reads when imported.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


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


#: A variable of the template's own start, only to make room for a kernel's environment.
ENVIRONMENT_ROOM = "JHUB_KERNEL_ENVIRONMENT_ROOM"
ROOM_BYTES = 64 * 1024


class ProcessTitle:
    """The memory of this process's command line and environment, as its start laid them out
    (what /proc/PID/cmdline and /proc/PID/environ show, whatever os.environ holds later): written
    over in each child with its kernel's, which the guard and the Servers page read (the
    notebook's name is the kernel's JPY_SESSION_NAME)."""

    def __init__(self):
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # arg_start, arg_end, env_start, env_end: fields 48 to 51 of proc(5)
        self.arguments = (int(fields[45]), int(fields[46]))
        self.environment = (int(fields[47]), int(fields[48]))

    @staticmethod
    def _write(area: Tuple[int, int], items: List[str]) -> None:
        start, end = area
        room, text = end - start, b""
        for item in items:  # whole items only, as many as fit
            encoded = item.encode("utf-8", "surrogateescape") + b"\0"
            if len(text) + len(encoded) >= room:
                break
            text += encoded
        ctypes.memmove(start, text + b"\0" * (room - len(text)), room)

    def write(self, argv: List[str], env: Dict[str, str]) -> None:
        self._write(self.arguments, argv)
        first = "JPY_SESSION_NAME"  # what the Servers page reads, should the room run out
        self._write(self.environment, [f"{k}={v}" for k, v in sorted(env.items(), key=lambda kv: kv[0] != first)])


def peer_of(conn: socket.socket) -> Tuple[int, int, int]:
    pid, uid, gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return pid, uid, gid


class Template:
    def __init__(self, socket_path: str, setups: str, kernel_argv: List[str]):
        self.socket_path = socket_path
        self.setups = setups
        self.kernel_argv = kernel_argv
        self.parent = os.getppid()
        self.startup = startup_variables(dict(os.environ))
        self.targets = path_targets()
        self.title = ProcessTitle()
        self.kernels: Dict[int, Tuple[int, socket.socket]] = {}  # child pid -> (uid, connection)
        self.exited: List[Tuple[int, int]] = []
        self.listener: Optional[socket.socket] = None

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
        modules = sorted({name.split(".")[0] for name in sys.modules})
        status = {"pid": os.getpid(), "argv": self.kernel_argv, "startup": self.startup, "modules": modules}
        path = os.path.join(os.path.dirname(self.socket_path), STATUS)
        with open(path + ".tmp", "w") as f:
            json.dump(status, f)
        os.chmod(path + ".tmp", 0o644)
        os.replace(path + ".tmp", path)

    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, self.reap)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
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
            if path_targets() != self.targets:
                self.start_again()
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            self.answer(conn)

    def start_again(self) -> None:
        """The site packages changed: this process is out of date. It execs itself in place, so that
        the kernels it forked stay its children; meanwhile the servers exec their kernels."""
        log("the kernel's site packages changed: starting again")
        os.unlink(self.socket_path)
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])

    def answer(self, conn: socket.socket) -> None:
        peer_pid, uid, _gid = peer_of(conn)
        if uid == 0 or sum(1 for u, _ in self.kernels.values() if u == uid) >= MAX_KERNELS_PER_USER:
            conn.close()  # root execs its own; a user past the cap gets exec'd kernels
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
            other.close()
        run_child(lambda: serve_request(conn, peer_pid, uid, self))


# ---- the child: becomes the server's kernel --------------------------------------------------------

class Refused(Exception):
    pass


def server_credentials(pid: int, uid: int) -> Tuple[int, List[int]]:
    """The server's gid and groups, if that process is still the user's (its pid was not reused)."""
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    if {int(u) for u in fields["Uid"].split()} != {uid}:
        raise Refused("the asking process is not the user's server any more")
    return int(fields["Gid"].split()[0]), [int(g) for g in fields.get("Groups", "").split()]


def inherited_data() -> int:
    """The private data that the child holds from the template (VmData, bytes)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmData:"))


def read_request(conn: socket.socket) -> Tuple[dict, List[int]]:
    message, fds, _flags, _addr = socket.recv_fds(conn, 65536, 2)
    chunks, size = [message], len(message)
    while message:
        message = conn.recv(65536)
        size += len(message)
        if size > MAX_REQUEST:
            raise Refused("request too large")
        chunks.append(message)
    return json.loads(b"".join(chunks)), fds


def serve_request(conn: socket.socket, server_pid: int, uid: int, template: Template) -> int:
    conn.settimeout(REQUEST_TIMEOUT)
    try:
        with open(os.path.join(template.setups, f"{uid}.json")) as f:
            setup = ProcessSetup.from_json(json.load(f))
        # RLIMIT_DATA counts the template's private pages that the child shares until it writes
        # them (the libraries: some 160 MB): on top of the user's limit, so that they are not
        # counted once per pupil. The cgroup and the guard (PSS) count what the child really holds.
        setup = dataclasses.replace(setup, data_limit=setup.data_limit + inherited_data())
        gid, groups = server_credentials(server_pid, uid)
        os.setsid()  # as Popen(start_new_session=True): the server signals the kernel's group
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

        def become_the_user():
            os.setgroups(groups)
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)

        setup.apply(become_the_user)
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        request, fds = read_request(conn)
        argv, env, cwd = list(request["argv"]), dict(request["env"]), str(request["cwd"])
        if [*argv[:-1], "{connection_file}"] != template.kernel_argv:
            raise Refused("not the teaching kernel's command")
        if startup_variables(env) != template.startup:
            raise Refused("other interpreter variables than the template's")
        if time.time() > float(request["deadline"]) - DEADLINE_MARGIN:
            raise Refused("the request came after its deadline")
    except (OSError, ValueError, KeyError, TypeError, Refused) as exc:
        log(f"process {os.getpid()} refused a request of uid {uid}: {exc}")
        try:
            conn.sendall(json.dumps({"refused": str(exc)}).encode() + b"\n")
        except OSError:
            pass
        return 2
    for target, fd in zip((1, 2), fds):  # the server's stdout and stderr, as an exec'd kernel's
        os.dup2(fd, target)
        os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
    conn.close()
    template.title.write(argv, env)
    return become_kernel(argv, env, cwd, server_pid)


def become_kernel(argv: List[str], env: Dict[str, str], cwd: str, server_pid: int) -> int:
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        locale.setlocale(locale.LC_CTYPE, "")
    except locale.Error:
        pass
    refresh_state()
    watch_server(server_pid)
    del sys.path[0]  # this package's folder; ipykernel adds the notebook's folder, as for any kernel
    login = os.environ.get("USER") or str(os.getuid())
    sys.argv = [argv[argv.index("ipykernel_launcher") - 1], *argv[argv.index("ipykernel_launcher") + 1:],
                f"--Session.username={login}"]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
    return 0


def refresh_state() -> None:
    """What the imports computed from the template's environment, computed again from the user's."""
    import matplotlib
    import numpy

    # Their cache and configuration folders (font cache, tex cache): the user's home, as in an
    # exec'd kernel; matplotlib computes each once and keeps it.
    for name, message in (("get_cachedir", "CACHEDIR=%s"), ("get_configdir", "CONFIGDIR=%s")):
        getter = getattr(matplotlib, name)
        setattr(matplotlib, name, matplotlib._logged_cached(message)(getattr(getter, "__wrapped__", getter)))
    tempfile.tempdir = None
    numpy.random.seed()  # the global generator: two pupils never draw the same numbers


def watch_server(server_pid: int) -> None:
    """End with the server, as ipykernel's own parent poller would for an exec'd kernel."""
    try:
        pidfd = os.pidfd_open(server_pid)
    except OSError:
        return

    def wait():
        select.select([pidfd], [], [])
        os._exit(1)

    threading.Thread(target=wait, name="server watch", daemon=True).start()


def main() -> None:
    if ENVIRONMENT_ROOM not in os.environ:
        # Once, before any import: a start whose environment has room for a kernel's.
        os.execve(sys.executable, sys.orig_argv, {**os.environ, ENVIRONMENT_ROOM: "." * ROOM_BYTES})
    del os.environ[ENVIRONMENT_ROOM]
    socket_path, setups, *kernel_argv = sys.argv[1:]
    started = time.process_time()
    failed = preload()
    log(f"imported {len(sys.modules)} modules in {time.process_time() - started:.2f} s of CPU"
        + (f"; could not import: {', '.join(failed)}" if failed else ""))
    if threading.active_count() > 1:
        log(f"an import started {threading.active_count() - 1} thread(s): not forking; kernels are exec'd")
        sys.exit(1)
    Template(socket_path, setups, kernel_argv).serve()


if __name__ == "__main__":
    main()
