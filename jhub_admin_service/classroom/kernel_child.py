"""A child of the kernel template (kernel_template.py): it becomes the asking server's user, reads
the server's request, and becomes that user's teaching kernel.

In this order, so that nothing the user sent is read or used as root:
1. the asking server is found by its pidfd (a pid that ends meanwhile is not trusted), its uid
   must be the connection's, and its gid and groups are taken as an exec'd kernel would inherit
   them; the limits, cgroups, nice and OOM score are those the hub wrote for that user's server
   (its cgroups must be joined, or the kernel is exec'd by the server instead);
2. a session of its own, then the user's ids (groups, gid, uid: all of real, effective, saved),
   then dumpable again, as an exec'd kernel is (the guard reads its memory map as the user);
3. the request (one JSON line, the server's stdout and stderr attached): the kernel's command,
   environment and folder, checked against the template's; then the pid to the server, and the
   kernel starts only on the server's GO;
4. the environment is switched, then the command line and environment that /proc shows are
   written over the template's, then the kernel runs.
"""
import ctypes
import dataclasses
import json
import locale
import os
import select
import signal
import socket
import sys
import tempfile
import threading
from typing import Dict, List, Tuple

from .kernel_protocol import GO, MAX_REQUEST, REQUEST_TIMEOUT, log, startup_variables
from .process_setup import ProcessSetup

PR_SET_DUMPABLE = 4


class Refused(Exception):
    pass


class ProcessTitle:
    """The memory of this process's command line and environment, as its start laid them out
    (what /proc/PID/cmdline and /proc/PID/environ show, whatever os.environ holds later): written
    over in each child with its kernel's, which the guard and the Servers page read (the
    notebook's name is the kernel's JPY_SESSION_NAME). Read in the template, where /proc/self is
    still root's to read."""

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
        """Only once the C library's environment no longer points into this memory."""
        self._write(self.arguments, argv)
        first = "JPY_SESSION_NAME"  # what the Servers page reads, should the room run out
        self._write(self.environment, [f"{k}={v}" for k, v in sorted(env.items(), key=lambda kv: kv[0] != first)])


def open_server(pid: int, uid: int) -> Tuple[int, int, List[int]]:
    """A pidfd of the asking server, its gid and groups, if that process is the user's and lives."""
    pidfd = os.pidfd_open(pid)
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        if {int(u) for u in fields["Uid"].split()} != {uid} or select.select([pidfd], [], [], 0)[0]:
            raise Refused("the asking process is not the user's server any more")
        return pidfd, int(fields["Gid"].split()[0]), [int(g) for g in fields.get("Groups", "").split()]
    except BaseException:
        os.close(pidfd)
        raise


def inherited_data() -> int:
    """The private data that the child holds from the template (VmData, bytes)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmData:"))


def read_request(conn: socket.socket) -> Tuple[dict, List[int]]:
    """One JSON line, with the descriptors attached to its first part."""
    message, fds, _flags, _addr = socket.recv_fds(conn, 65536, 2)
    data = message
    while message and b"\n" not in data:
        message = conn.recv(65536)
        data += message
        if len(data) > MAX_REQUEST:
            raise Refused("request too large")
    return json.loads(data.split(b"\n")[0]), fds


def serve_request(conn: socket.socket, server_pid: int, uid: int, template) -> int:
    conn.settimeout(REQUEST_TIMEOUT)
    try:
        with open(os.path.join(template.setups, f"{uid}.json")) as f:
            setup = ProcessSetup.from_json(json.load(f))
        # RLIMIT_DATA counts the template's private pages that the child shares until it writes
        # them (the libraries: some 160 MB): on top of the user's limit, so that they are not
        # counted once per pupil. The cgroup and the guard (PSS) count what the child really holds.
        setup = dataclasses.replace(setup, data_limit=setup.data_limit + inherited_data())
        server, gid, groups = open_server(server_pid, uid)
        os.setsid()  # as Popen(start_new_session=True): the server signals the kernel's group
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

        def become_the_user():
            os.setgroups(groups)
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)

        setup.apply(become_the_user, cgroups_required=True)
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        request, fds = read_request(conn)
        argv, env, cwd = list(request["argv"]), dict(request["env"]), str(request["cwd"])
        if [*argv[:-1], "{connection_file}"] != template.kernel_argv:
            raise Refused("not the teaching kernel's command")
        if startup_variables(env) != template.startup:
            raise Refused("other interpreter variables than the template's")
        conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
        if conn.recv(1) != GO:
            raise Refused("the server gave up on this request")
    except (OSError, ValueError, KeyError, TypeError, Refused) as exc:
        log(f"process {os.getpid()} refused a request of uid {uid}: {exc}")
        try:
            conn.sendall(json.dumps({"refused": str(exc)}).encode() + b"\n")
        except OSError:
            pass
        return 2
    conn.close()
    for target, fd in zip((1, 2), fds):  # the server's stdout and stderr, as an exec'd kernel's
        os.dup2(fd, target)
        os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return become_kernel(argv, env, cwd, server, template)


def become_kernel(argv: List[str], env: Dict[str, str], cwd: str, server: int, template) -> int:
    os.environ.clear()  # the C library's copies too (unsetenv), before that memory is written over
    os.environ.update(env)
    template.title.write(argv, env)
    os.chdir(cwd)
    try:
        locale.setlocale(locale.LC_CTYPE, "")
    except locale.Error:
        pass
    refresh_state()
    watch_server(server)
    # The kernel's PYTHONPATH in place of this package's folder, as an exec'd kernel's path has
    # it; ipykernel then puts the notebook's folder first, as for any kernel.
    sys.path[0:1] = template.kernel_paths
    login = os.environ.get("USER") or str(os.getuid())
    launcher = argv.index("ipykernel_launcher")
    sys.argv = [argv[launcher - 1], *argv[launcher + 1:], f"--Session.username={login}"]
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


def watch_server(pidfd: int) -> None:
    """End with the server, as ipykernel's own parent poller would for an exec'd kernel."""
    def wait():
        select.select([pidfd], [], [])
        os._exit(1)

    threading.Thread(target=wait, name="server watch", daemon=True).start()
