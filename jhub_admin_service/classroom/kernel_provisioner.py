"""The teaching kernel's provisioner: each kernel asked of the kernel template first.

jupyter_client starts a kernel through its kernel spec's provisioner; the teaching kernel's spec
names this one (docker/kernel/kernelspec.py). It asks the kernel template
(classroom/kernel_template.py) for a kernel forked with the lycée's libraries already imported,
and starts it the ordinary way (jupyter_client's LocalProvisioner: Popen + exec) when a fork
would not give exactly that kernel, or when the template is gone, hung, or refuses:

- the kernel's command or its interpreter variables are not the template's (STATUS says them);
- the notebook's folder, or a folder of the kernel's path (the school's site packages), holds a
  module that the template imported (a pupil's ``numpy.py``, the school's newer numpy) or a
  ``sitecustomize``: an exec'd kernel would import that one;
- the notebook's folder or the user's configuration holds a matplotlibrc, which matplotlib reads
  when imported.

The forked kernel is not this server's child: ``ForkedKernel`` follows it by its pidfd (and the
template's word on its exit status). Its signals go to its process group, as LocalProvisioner
sends an exec'd kernel's; to the process alone through the pidfd.
"""
import asyncio
import json
import os
import select
import signal
import socket
import subprocess
import time
from typing import Any, Dict, List, Optional

from jupyter_client.provisioning import LocalProvisioner
from traitlets import Float, Unicode

from .kernel_protocol import ACCEPTED, GO, STATUS, module_names, startup_variables

DEFAULT_SOCKET = "/run/jhub-kernels/template.sock"


class TemplateUnavailable(Exception):
    """Why this kernel is exec'd rather than forked (said in the server's log)."""


class ForkedKernel:
    """What LocalProvisioner uses of a Popen, for a kernel that the template forked."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, conn: socket.socket):
        self.pid = pid
        self.returncode: Optional[int] = None
        self._conn = conn  # the template writes the kernel's exit status there
        try:
            self._pidfd: Optional[int] = os.pidfd_open(pid)
        except OSError:
            self._pidfd = None

    def _alive(self) -> bool:
        if self._pidfd is not None:
            return not select.select([self._pidfd], [], [], 0)[0]
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def _exit_status(self) -> int:
        try:
            self._conn.settimeout(0.5)
            line = self._conn.recv(4096).lstrip(ACCEPTED).split(b"\n")[0]
            return int(json.loads(line)["exit"])
        except (OSError, ValueError, KeyError, TypeError):
            return -signal.SIGKILL  # the template is gone: the status is unknown
        finally:
            self._release()

    def _release(self) -> None:
        self._conn.close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def poll(self) -> Optional[int]:
        if self.returncode is None and not self._alive():
            self.returncode = self._exit_status()
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            if self._pidfd is not None:
                signal.pidfd_send_signal(self._pidfd, signum)  # never a process that took its pid
            else:
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def read_status(socket_path: str) -> Dict[str, Any]:
    try:
        with open(os.path.join(os.path.dirname(socket_path), STATUS)) as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise TemplateUnavailable(f"no kernel template ({exc.__class__.__name__})") from exc


def why_not_forked(status: Dict[str, Any], cmd: List[str], env: Dict[str, str], cwd: str) -> Optional[str]:
    """Why a forked kernel would not be the kernel that this command would exec, or None."""
    if [*cmd[:-1], "{connection_file}"] != status.get("argv"):
        return "not the template's kernel command"
    if startup_variables(env) != status.get("startup"):
        return "other interpreter variables than the template's"
    imported = set(status.get("modules", ()))
    # The notebook's folder and the kernel's path come before the image's packages: an exec'd
    # kernel would import what they hold (the school's numpy, a pupil's random.py).
    for folder in [cwd, *[p for p in env.get("PYTHONPATH", "").split(":") if p]]:
        shadowing = sorted(imported.intersection(module_names(folder)))
        if shadowing:
            return f"{os.path.join(folder, shadowing[0])} has the name of what the template imported"
    home = env.get("HOME") or os.path.expanduser("~")
    config = env.get("MPLCONFIGDIR") or os.path.join(home, ".config", "matplotlib")
    if os.path.exists(os.path.join(config, "matplotlibrc")):
        return "the user's own matplotlibrc"
    return None


async def fork_from_template(socket_path: str, cmd: List[str], env: Dict[str, str], cwd: str,
                             timeout: float, accept_timeout: float) -> ForkedKernel:
    """The template's kernel, or TemplateUnavailable. A template that does not say it accepted
    within accept_timeout is hung (a pupil waits no longer); once it has, its child has until
    timeout to answer its pid (the child's own work, slower when the machine is busy), and starts
    the kernel on GO only: a child that answers after this server gave up finds the connection
    closed, and ends."""
    status = read_status(socket_path)
    reason = why_not_forked(status, cmd, env, cwd)
    if reason:
        raise TemplateUnavailable(reason)
    loop = asyncio.get_running_loop()
    deadline = time.time() + timeout
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.setblocking(False)
        await asyncio.wait_for(loop.sock_connect(conn, socket_path), timeout)
        request = json.dumps({"argv": cmd, "env": env, "cwd": cwd}).encode() + b"\n"
        conn.setblocking(True)
        conn.settimeout(timeout)
        socket.send_fds(conn, [request], [1, 2])  # this server's stdout and stderr, as Popen gives
        conn.setblocking(False)
        first = await asyncio.wait_for(loop.sock_recv(conn, 1), accept_timeout)
        reply = await asyncio.wait_for(read_line(loop, conn, first), max(0.1, deadline - time.time()))
        if isinstance(reply.get("pid"), int):
            await loop.sock_sendall(conn, GO)  # this kernel, now: the child starts it only then
    except (OSError, asyncio.TimeoutError, ValueError) as exc:
        conn.close()  # a child that answers later reads no GO, and ends
        raise TemplateUnavailable(f"the kernel template did not answer ({exc!r})") from exc
    if not isinstance(reply.get("pid"), int):
        conn.close()
        raise TemplateUnavailable(f"the kernel template refused: {reply.get('refused', 'no pid')}")
    conn.setblocking(True)
    return ForkedKernel(reply["pid"], conn)


async def read_line(loop: asyncio.AbstractEventLoop, conn: socket.socket, data: bytes = b"") -> dict:
    """The child's answer (the template's ACCEPTED may come before it, or just after)."""
    while b"\n" not in data:
        chunk = await loop.sock_recv(conn, 4096)
        if not chunk:
            break
        data += chunk
    return json.loads(data.lstrip(ACCEPTED).split(b"\n")[0] or b"{}")


class ForkedKernelProvisioner(LocalProvisioner):
    """LocalProvisioner, with the process forked by the kernel template where that gives the same kernel."""

    socket_path = Unicode(DEFAULT_SOCKET, config=True, help="The kernel template's socket.")
    accept_timeout = Float(1.0, config=True, help="Seconds to wait for the template to take the request "
                                                 "(past them it is hung, and the kernel is exec'd).")
    answer_timeout = Float(5.0, config=True, help="Seconds to wait for the template's kernel before an "
                                                 "exec'd start.")

    async def launch_kernel(self, cmd: List[str], **kwargs: Any):
        # As jupyter_client's launcher gives an exec'd kernel: its server's pid.
        env = {**(kwargs.get("env") or os.environ), "JPY_PARENT_PID": str(os.getpid())}
        cwd = str(kwargs.get("cwd") or os.getcwd())
        try:
            process = await fork_from_template(self.socket_path, cmd, env, cwd, self.answer_timeout,
                                               self.accept_timeout)
        except TemplateUnavailable as exc:
            self.log.info("Kernel started without the kernel template: %s", exc)
            return await super().launch_kernel(cmd, **kwargs)
        self.log.info("Kernel forked from the kernel template: process %s", process.pid)
        self.process = process
        self.pid = self.pgid = process.pid  # the child made a session (and a process group) of its own
        self.cwd = cwd
        return self.connection_info
