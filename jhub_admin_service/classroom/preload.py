"""Users' servers forked from a process that has imported them once.

Nearly all of a user's server start is Python imports (docs/performance.md: about three quarters
of its CPU): JupyterHub's single-user extension, Jupyter Server, JupyterLab, Notebook, nbgrader's
extensions. In a login storm each of 35 starts pays for them again. Here one process of the hub,
started with the users' servers' environment, imports them once and forks a server for each
start, as gunicorn's `--preload` and the standard library's forkserver do: the child gets the
modules already imported, shares their memory with the others until it writes to it, and only
configures and starts its server.

The hub keeps the rest of LocalProcessSpawner's work: the port, the environment, the command
line, the stop (signals to the pid). The fork replaces `Popen` + exec, and the child then does
what the exec'd `jupyterhub-singleuser` would: its ProcessSetup as root (cgroups, limits, the
switch to the user), the user's environment and arguments, then `jupyterhub.singleuser.main()`.

What a module computes of its user when it is imported would be root's in every server. The
preloaded packages were read for it (module and class level reads of the environment, the uid,
the home folder), and each case is handled:
- JupyterHub's HubAuth takes its URL prefix (its cookies' path: "/" would send one user's cookie
  to every server), its API URL and its certificates from the environment as class defaults, and
  jupyterhub.singleuser chooses its application from it: those modules (FRESH_IN_EACH_SERVER) are
  never preloaded but imported by each server, after its environment is set; the preloading
  process refuses to serve if an import brought them in;
- send2trash computes the user's trash folder and uid: reloaded in each server;
- jupyter_client's Session takes its default username from USER: given on the command line;
- the rest read deployment settings (proxies, metrics, timeouts), the same for every server.

Other differences from an exec'd server, and why they are safe:
- the modules are those the preloading process imported: a package in a student's ~/.local
  cannot replace the server's own (the user's site folder is still added, after the system's);
- the preloading process holds no secret, so no server inherits one: it starts with the servers'
  environment only (nothing of the hub's), and it forks before a request is read, so that only
  the child ever holds its user's environment (API token included), which replaces its own
  before the server reads any of it. The server is not dumpable (it became its user without an
  exec), so not even its user may read its memory; its kernels and terminals are exec'd as before;
- the child answers the hub only if the hub still waits for it (DEADLINE_MARGIN): a start that the
  hub gave up on and exec'd never gets a second server;
- RLIMIT_NPROC is checked by the kernel at exec, so a user already over the process limit gets a
  server whose kernels cannot start (exec'd, the server itself would not); with per-user cgroups,
  the pids limit holds either way, and a server's stop ends what its user left behind;
- a server's exit status is logged by this process; the hub sees the pid end (status 0);
- its command line is rewritten (setproctitle) to the one an exec'd server has.

A start waits while the preloading process imports (after the hub's start); where it is gone or
does not answer, the hub starts the server with Popen as before, and starts it again (at most once
a minute); the spawner (classroom/spawner.py) decides.

Run by the hub as: python3 -P -s -m jhub_admin_service.classroom.preload SOCKET
"""
import asyncio
import gc
import importlib
import json
import locale
import os
import signal
import site
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from typing import Dict, List, Optional

import setproctitle

from .forkserver import reap_children, run_child
from .process_setup import ProcessSetup

#: What every server start imports, before its extensions (found from the system configuration).
BASE_MODULES = ("jupyterhub.log", "jupyterhub.httpclient", "jupyterhub.spawner", "jupyter_server.serverapp",
                "jupyter_server.extension.application")
#: Modules that read the user's environment when they are imported (JupyterHub's HubAuth takes its
#: URL prefix, hence its cookie's path, its API URL and its certificates from it as class
#: defaults; jupyterhub.singleuser chooses its application): imported in each server, never here.
FRESH_IN_EACH_SERVER = ("jupyterhub.singleuser", "jupyterhub.services.auth")
MAX_REQUEST = 1 << 20


def log(message: str) -> None:
    print(f"[preload {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- the hub's side ------------------------------------------------------------------------------

def can_preload(argv: List[str]) -> bool:
    """Only the standard command: `jupyterhub-singleuser [options]`."""
    return bool(argv) and os.path.basename(argv[0]) == "jupyterhub-singleuser"


class Preloader:
    """The hub's handle on the preloading process: started once, asked for one server per start.
    Also the handle on the kernel template (classroom/kernel_template.py), with its own command,
    in a folder that every user may enter."""

    def __init__(self, socket_path: str, environment: Dict[str, str], command: Optional[List[str]] = None,
                 folder_mode: int = 0o700, cwd: str = "/"):
        self.socket_path = socket_path
        self.environment = environment
        self.command = command or [sys.executable, "-P", "-s", "-m", __name__, socket_path]
        self.folder_mode = folder_mode
        self.cwd = cwd
        self._proc: Optional[subprocess.Popen] = None
        self._started = 0.0

    #: A process that keeps ending is not started again more often than this (seconds): each
    #: start costs its imports' CPU, and the servers are exec'd meanwhile.
    RESTART_INTERVAL = 60

    def ensure_running(self) -> None:
        if self._proc is not None and (self._proc.poll() is None
                                       or time.monotonic() - self._started < self.RESTART_INTERVAL):
            return
        self._started = time.monotonic()
        folder = os.path.dirname(self.socket_path)
        os.makedirs(folder, mode=self.folder_mode, exist_ok=True)
        os.chmod(folder, self.folder_mode)  # 0700: only root may ask for a server
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        self._proc = subprocess.Popen(self.command, env=self.environment, stdin=subprocess.DEVNULL,
                                      close_fds=True, cwd=self.cwd)

    def ready(self) -> bool:
        """Running and listening (it listens once its imports are done)."""
        return self._proc is not None and self._proc.poll() is None and os.path.exists(self.socket_path)

    async def wait_ready(self, timeout: float) -> bool:
        """Wait while it imports (a start waiting for it costs less than one exec'd start)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.ready():
            if self._proc is None or self._proc.poll() is not None or loop.time() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    async def launch(self, argv: List[str], env: Dict[str, str], setup: ProcessSetup,
                     timeout: float = 10) -> int:
        """Fork one server; its pid. OSError if the preloading process cannot."""
        reader, writer = await asyncio.open_unix_connection(self.socket_path)
        try:
            # Past the deadline the hub has exec'd the server instead: a late fork must not start a second one.
            request = {"argv": argv, "env": env, "setup": setup.to_json(), "deadline": time.time() + timeout}
            writer.write(json.dumps(request).encode())
            writer.write_eof()
            await writer.drain()
            try:
                reply = json.loads(await asyncio.wait_for(reader.readline(), timeout) or b"{}")
            except (asyncio.TimeoutError, ValueError) as exc:
                raise OSError(f"no answer from the preloading process ({exc!r})") from exc
        finally:
            writer.close()
        if not isinstance(reply.get("pid"), int):
            raise OSError("the preloading process gave no pid")
        return reply["pid"]

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)


# ---- the preloading process ---------------------------------------------------------------------

def enabled_server_extensions() -> List[str]:
    """The modules of the server extensions enabled in the system's Jupyter configuration (the
    roles' profiles only turn some off)."""
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.extension.config import ExtensionConfigManager

    manager = ExtensionConfigManager(read_config_path=jupyter_config_path())
    names = [name for name, enabled in manager.get_jpserver_extensions().items() if enabled]
    modules = []
    for name in names:
        modules.append(name)
        try:
            points = importlib.import_module(name)._jupyter_server_extension_points()
        except Exception:  # an extension without points (or broken) is the server's to report
            continue
        modules.extend(p["module"] for p in points if isinstance(p.get("module"), str))
    return modules


def is_fresh(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in FRESH_IN_EACH_SERVER)


def preload() -> List[str]:
    """Import what a server start imports; the modules that failed (a server start will say why)."""
    failed = []
    for name in (*BASE_MODULES, *enabled_server_extensions()):
        if is_fresh(name):
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed.append(f"{name} ({exc!r})")
    # What is imported stays as it is: the collector leaves it alone, in every child too, so
    # the pages stay shared and no child spends CPU walking them.
    gc.collect()
    gc.freeze()
    return failed


class Server:
    """Listens on a Unix socket (in a folder only root enters) for {"argv", "env", "setup"} and
    forks a server for each, answering its pid. One thread: forking it is safe."""

    def __init__(self, socket_path: str):
        self.socket_path = socket_path
        self.parent = os.getppid()
        self.exited: List[tuple] = []
        self.listener: Optional[socket.socket] = None

    def reap(self, *_signal) -> None:
        reap_children(self.exited)

    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, self.reap)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.socket_path)
        os.chmod(self.socket_path, 0o600)
        self.listener.listen(64)
        self.listener.settimeout(1)
        log(f"listening on {self.socket_path}")
        while os.getppid() == self.parent:  # the hub is gone: so is this (its servers live on)
            for pid, code in self.exited:
                log(f"server process {pid} ended (exit status {code})")
            self.exited.clear()
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            with conn:
                self.answer(conn)

    def answer(self, conn: socket.socket) -> None:
        """Fork first, then let the child read the request: this process never holds a user's
        environment (their API token), so no later server inherits another user's secrets."""
        if os.fork() == 0:
            self.listener.close()
            run_child(lambda: serve_request(conn))


#: The child answers only if the hub has this long left before it gives up and execs the server
#: itself: never two servers for one start.
DEADLINE_MARGIN = 2.0


def serve_request(conn: socket.socket) -> int:
    """In the forked child: read the hub's request; if it is sound and in time, answer the pid and
    become the server it asks for. Without an answer the hub execs the server."""
    with conn:
        conn.settimeout(5)
        try:
            request = json.loads(read_all(conn))
            argv, env = list(request["argv"]), dict(request["env"])
            setup = ProcessSetup.from_json(request["setup"])
            late = time.time() > float(request["deadline"]) - DEADLINE_MARGIN
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log(f"process {os.getpid()} refused a request: {exc!r}")
            return 2
        if late:
            log(f"process {os.getpid()} refused a request for {setup.login}'s server: it came after its deadline")
            return 2
        conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
    log(f"server of {setup.login}: process {os.getpid()}")
    return become_server(argv, env, setup)


def read_all(conn: socket.socket) -> bytes:
    chunks, size = [], 0
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REQUEST:
            raise ValueError("request too large")
        chunks.append(chunk)


def become_server(argv: List[str], env: Dict[str, str], setup: ProcessSetup) -> int:
    """In the forked child: what exec'ing `jupyterhub-singleuser` would have given, then run it."""
    from jupyterhub.spawner import set_user_setuid

    os.setsid()  # as Popen(start_new_session=True): the hub's signals are its own
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    setup.apply(set_user_setuid(setup.login))
    os.environ.clear()
    os.environ.update(env)
    try:
        locale.setlocale(locale.LC_CTYPE, "")
    except locale.Error:  # a locale the system lacks: Python's own start falls back to C
        pass
    user_site = sysconfig.get_path("purelib", "posix_user", vars={
        "userbase": env.get("PYTHONUSERBASE") or os.path.join(env.get("HOME", "/nonexistent"), ".local")})
    if os.path.isdir(user_site):
        site.addsitedir(user_site)
    refresh_user_state(setup.login)
    sys.argv = argv
    # What ps, the guard and the Servers page see (and would see of an exec'd server).
    setproctitle.setproctitle(" ".join([sys.executable, *argv]))
    from jupyterhub.singleuser import main  # imported here, with the user's environment

    return main([*argv[1:], *per_user_arguments(setup.login)]) or 0


def per_user_arguments(login: str) -> List[str]:
    """Class defaults that preloaded classes computed from root's environment when imported,
    given again from the user's (found by tests/e2e: every trait default and module global that
    names the preloading process's home, after the imports)."""
    # jupyter_client's Session took its default username from the preloading process's USER.
    arguments = [f"--Session.username={login}"]
    if "jupyterlab.labapp" in sys.modules:
        # JupyterLab's settings and workspaces folders (/root/.jupyter/lab/…: saving a setting
        # answered 500). These functions read the environment, now the user's, when called.
        from jupyterlab.commands import get_user_settings_dir, get_workspaces_dir

        arguments += [f"--LabApp.user_settings_dir={get_user_settings_dir()}",
                      f"--LabApp.workspaces_dir={get_workspaces_dir()}"]
    return arguments


def refresh_user_state(login: str) -> None:
    """Preloaded modules that computed something of the user when imported compute it again."""
    trash = sys.modules.get("send2trash.plat_other")
    if trash is not None:
        # Its trash folder and uid (deleting a file in JupyterLab moves it there): root's, else.
        importlib.reload(trash)
    # The user's site folder, as an exec'd server sees it (jupyter_core adds its share/jupyter and
    # etc/jupyter to the Jupyter paths): the preloading process runs without it (-s), and site
    # cached root's.
    site.USER_BASE = site.USER_SITE = None
    site.getusersitepackages()
    site.ENABLE_USER_SITE = "PYTHONNOUSERSITE" not in os.environ


def main() -> None:
    socket_path = sys.argv[1]
    # Here, where the command line and the environment are still those of the exec, so that
    # setproctitle can take their room for the servers' titles.
    setproctitle.setproctitle(" ".join([sys.executable, "-m", __spec__.name, socket_path]))
    started = time.process_time()
    failed = preload()
    log(f"imported {len(sys.modules)} modules in {time.process_time() - started:.2f} s of CPU"
        + (f"; could not import: {', '.join(failed)}" if failed else ""))
    leaked = sorted(m for m in sys.modules if is_fresh(m))
    if leaked:
        log(f"an import brought in {', '.join(leaked)}, which must be imported per server: servers are exec'd")
        sys.exit(1)
    if threading.active_count() > 1:
        # A fork copies one thread only: whatever the others held would stay locked in every server.
        log(f"an import started {threading.active_count() - 1} thread(s): not forking; servers are exec'd")
        sys.exit(1)
    Server(socket_path).serve()


if __name__ == "__main__":
    main()
