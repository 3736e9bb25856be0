"""The users' servers: JupyterHub's local process spawner, with the limits of a classroom.

- **Limits the kernel enforces** on every process the user's server starts (kernels, terminals,
  their children), set between fork and exec, as root, before the switch to the user:
  RLIMIT_DATA a little under the role's limit (a cell that asks for more memory gets a
  MemoryError; its kernel lives on) and
  RLIMIT_NPROC (a fork loop stops there), from the role's limits (classroom/limits.py, set on
  the service's Settings page). They need no cgroup, so they work in an unprivileged container
  on a cgroup v1 host with Docker 20.10 as well as anywhere else.
- **The hub first**: users' processes run at a lower CPU priority (nice) than the hub and the
  proxy, and are the first that the kernel's OOM killer picks (oom_score_adj 1000), should the
  container reach its memory limit all the same.
- **Kernels on Unix sockets**: 35 students starting their kernels at once over TCP would race
  for the same free ports (a kernel that loses dies with "Address already in use"). The users'
  servers talk to their kernels over IPC (`--ServerKernelManager.transport=ipc`, jupyterhub_config.py), in a
  runtime folder of the user's own under /run/jupyter (short paths: a Unix socket's path has at
  most 107 bytes, which a home folder with a long login would pass).
- **Preloaded servers**: a server start is mostly imports; the servers are forked from one process
  that has imported them once (classroom/preload.py), and exec'd as before where it cannot.
- **Kernels forked with the lycée's libraries imported**: the teaching kernel's provisioner
  asks a kernel template, which the hub starts here, for a fork (classroom/kernel_template.py);
  the template gives each kernel the limits and cgroups that the hub wrote for its user's server.
- **A port of its own**: each start gets a port that no other start under way holds, below the
  system's ephemeral range, and is called ready only when *its* server answers
  (classroom/server_ports.py).
- **A queue of starts**: 35 students logging in at once would start 35 servers side by side on 2
  cores, each slowed by all the others. Here at most `concurrent_starts` start together, each
  until it answers; the others wait their turn on the spawn page, which says so. JupyterHub's
  own limit (`concurrent_spawn_limit`, which answers 429) is lifted in jupyterhub_config.py.

- **Per-user cgroups**, where the host lends a cgroup subtree to the container
  (classroom/cgroups.py): the server joins the user's own cgroup before it becomes the user, so
  that the kernel caps the user's processes together (and, with cpu_per_user, once it answers,
  shares the CPU per user).

What the kernel cannot count without cgroups (a user's processes together, CPU hogs) is the
guard's work (classroom/guard.py).
"""
import asyncio
import dataclasses
import functools
import json
import os
import pwd
import shlex

from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.utils import url_path_join
from traitlets import Bool, Integer, Unicode, default

from . import cgroups, kernel_protocol, kernel_template, preload
from . import limits as limitsmod
from ..files import write_whole
from .kernel_provisioner import DEFAULT_SOCKET as KERNEL_TEMPLATE_SOCKET
from .process_setup import ProcessSetup
from .server_ports import PortBook, until_it_answers

#: What a kernel holds besides the data it asks for (its libraries' code, Python itself): one
#: process may reserve the user's limit less this (at least half of the limit), so that a kernel
#: at its cap still holds less than the limit and a runaway cell ends in a MemoryError rather
#: than in the guard stopping the kernel; several processes together are the guard's.
KERNEL_ALLOWANCE = 160 * 2 ** 20


def process_data_limit(user_limit: int) -> int:
    return max(user_limit // 2, user_limit - KERNEL_ALLOWANCE)


def make_runtime_dir(root: str, login: str) -> str:
    """ROOT/UID, the user's own (0700), in a folder only root writes (so no one plants a link)."""
    user = pwd.getpwnam(login)
    os.makedirs(root, mode=0o755, exist_ok=True)
    path = os.path.join(root, str(user.pw_uid))
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, user.pw_uid, user.pw_gid)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    return path


def remove_server_files(runtime_dir: str, pid: int) -> None:
    """What a server leaves in its runtime folder when it ends without its own cleanup (a
    preloaded server's exit skips it, a killed one never runs it): its connection file (which
    holds its token) and its browser page."""
    for name in (f"jpserver-{pid}.json", f"jpserver-{pid}-open.html"):
        try:
            os.unlink(os.path.join(runtime_dir, name))
        except FileNotFoundError:
            pass


class ClassroomSpawner(LocalProcessSpawner):
    preferences_path = Unicode(help="The service's preferences file, which holds each role's limits.").tag(
        config=True)
    nice = Integer(5, help="CPU niceness of users' processes (the hub and the proxy stay at 0).").tag(config=True)
    oom_score_adj = Integer(1000, help="OOM score adjustment of users' processes (1000: picked first).").tag(
        config=True)
    concurrent_starts = Integer(help="How many servers start at the same time; the others queue.").tag(config=True)
    runtime_root = Unicode("/run/jupyter", help="Where each user's Jupyter runtime folder is made (kernels' "
                                                "connection files and sockets).").tag(config=True)
    cgroup_root = Unicode(cgroups.DEFAULT_ROOT, help="Where the host's delegated cgroup subtree is mounted, if it "
                                                     "is (classroom/cgroups.py).").tag(config=True)
    cpu_per_user = Bool(False, help="With per-user cgroups, share the CPU per user rather than per process "
                                    "(classroom/cgroups.py says what it costs a login storm).").tag(config=True)
    preload_servers = Bool(True, help="Fork the users' servers from a process that has imported them once "
                                      "(classroom/preload.py) rather than exec each one.").tag(config=True)
    preload_socket = Unicode("/run/jhub-admin/preload.sock", help="Where the hub asks the preloading process "
                                                                  "for a server.").tag(config=True)
    preload_wait = Integer(30, help="Seconds a start waits for the preloading process to finish its imports "
                                    "before the server is exec'd instead.").tag(config=True)
    fork_kernels = Bool(True, help="Fork the teaching kernels from a process that has imported the lycée's "
                                   "libraries once (classroom/kernel_template.py).").tag(config=True)
    kernel_spec = Unicode("/opt/venv/share/jupyter/kernels/python3/kernel.json",
                          help="The teaching kernel's spec, whose command and environment the template takes.").tag(
        config=True)
    kernel_template_socket = Unicode(KERNEL_TEMPLATE_SOCKET, help="Where the servers ask the kernel template for "
                                                                  "a kernel.").tag(config=True)
    kernel_template_folder = Unicode("/opt/jhub-admin/kernel-template", help="The template's working folder, "
                                     "which holds only a link to this package (docker/Dockerfile).").tag(config=True)
    kernel_setups = Unicode("/run/jhub-admin/kernel-setups", help="Where each user's process setup is written for "
                                                                  "the kernel template (root's only).").tag(config=True)
    compute_threads = Integer(2, help="Threads of numpy's and pandas' native libraries in each kernel "
                                      "(OpenBLAS, OpenMP): one kernel never takes every core.").tag(config=True)

    @default("concurrent_starts")
    def _concurrent_starts(self):
        # Twice the CPUs the hub may use: a start also waits on disk and on the hub, and 4 slots
        # on 2 cores gave a better median than 2 in the login storm bench (docs/performance.md).
        return 2 * len(os.sched_getaffinity(0))

    _queue = None  # one asyncio.Semaphore for all the spawners of the hub
    _waiting = 0

    @classmethod
    def start_slots(cls, size: int) -> asyncio.Semaphore:
        if cls._queue is None:
            cls._queue = asyncio.Semaphore(size)
        return cls._queue

    def user_limits(self) -> limitsmod.Limits:
        role = limitsmod.role_of(bool(self.user.admin), {g.name for g in self.user.groups})
        return limitsmod.read_limits(self.preferences_path)[role]

    def runtime_dir(self) -> str:
        return os.path.join(self.runtime_root, str(pwd.getpwnam(self.user.name).pw_uid))

    def get_env(self):
        env = super().get_env()
        env["JUPYTER_RUNTIME_DIR"] = self.runtime_dir()
        env.update(self.compute_threads_environment())
        return env

    def process_setup(self, name: str) -> ProcessSetup:
        """What the server's process is given before it becomes the user (classroom/process_setup.py)."""
        limits = self._limits
        make_runtime_dir(self.runtime_root, name)
        setup = ProcessSetup(login=name, cgroup_procs=tuple(self.user_cgroup(name, limits)),
                             oom_score_adj=self.oom_score_adj, nice=self.nice,
                             data_limit=process_data_limit(limits.memory_bytes), process_limit=limits.processes)
        self.write_kernel_setup(name, setup)
        return setup

    def write_kernel_setup(self, name: str, setup: ProcessSetup) -> None:
        """What the kernel template gives this user's kernels: the server's setup, and the cpu
        cgroup that the server joins once it answers."""
        if not self.fork_kernels:
            return
        kernels = dataclasses.replace(setup, cgroup_procs=(*setup.cgroup_procs, *self._cpu_procs))
        write_whole(self.kernel_setup_path(name), json.dumps(kernels.to_json()).encode())

    def make_preexec_fn(self, name):
        return functools.partial(self.process_setup(name).apply, super().make_preexec_fn(name))

    _cgroups_setup = False

    _cpu_procs: list = []

    def user_cgroup(self, login: str, limits: limitsmod.Limits) -> list:
        """The user's cgroup made with the role's limits (the cgroup.procs files to join at once),
        or [] where the host lent no subtree, or it failed: a login never fails for a cgroup."""
        self._cpu_procs = []
        tree = cgroups.UserCgroups.find(self.cgroup_root, self.cpu_per_user)
        if tree is None:
            return []
        try:
            if not ClassroomSpawner._cgroups_setup:
                tree.setup(limitsmod.machine_memory_bytes())
                ClassroomSpawner._cgroups_setup = True
            uid = pwd.getpwnam(login).pw_uid
            procs = tree.prepare(uid, limits.memory_bytes, limits.processes)
            self._cpu_procs = tree.cpu_procs(uid)
            return procs
        except OSError as exc:
            self.log.warning("no cgroup for %s (%s): the rlimits and the guard apply alone", login, exc)
            return []

    def join_cpu_group(self) -> None:
        """Once the server answers, it joins the user's cpu cgroup (v1, cpu_per_user): its kernels follow."""
        if not self._cpu_procs or not self.pid:  # (pid 0 would move the hub itself)
            return
        try:
            cgroups.join(self._cpu_procs, self.pid)
        except OSError as exc:
            self.log.warning("%s's server keeps sharing the CPU per process (%s)", self.user.name, exc)

    def kernel_setup_path(self, name: str) -> str:
        return os.path.join(self.kernel_setups, f"{pwd.getpwnam(name).pw_uid}.json")

    async def stop(self, now=False):
        pid = self.pid
        await super().stop(now=now)
        try:  # no more kernels from the template for a user without a server (nor their old cgroup)
            os.unlink(self.kernel_setup_path(self.user.name))
        except (KeyError, FileNotFoundError):
            pass
        if pid and await self.poll() is not None:
            try:
                remove_server_files(self.runtime_dir(), pid)
            except KeyError:  # the account is gone, and its runtime folder with it
                pass
        tree = cgroups.UserCgroups.find(self.cgroup_root, self.cpu_per_user)
        if tree is not None:
            try:
                uid = pwd.getpwnam(self.user.name).pw_uid
            except KeyError:  # the account is gone already (its removal stopped its processes)
                return
            left = tree.stop_all(uid)
            if left:
                self.log.info("%d process(es) of %s left after their server stopped: killed", left, self.user.name)
            for _ in range(20):  # the kernel frees a cgroup shortly after its last process ends
                tree.remove(uid)
                if not tree.identity(uid):
                    break
                await asyncio.sleep(0.1)

    async def start(self):
        self._limits = self.user_limits()
        # JupyterHub passes it on as MEM_LIMIT, which the server's resource display shows.
        self.mem_limit = self._limits.memory_bytes
        slots = self.start_slots(self.concurrent_starts)
        self._in_line = True
        ClassroomSpawner._waiting += 1
        try:
            await slots.acquire()
        finally:
            ClassroomSpawner._waiting -= 1
            self._in_line = False
        try:
            ip, port = await self.start_process()
            await self._until_it_answers(f"http://{ip}:{port}" + url_path_join(self.server.base_url, "api"))
            if await self.poll() is not None:
                # Said here: returned as started, JupyterHub would answer the start with a bare 500.
                raise RuntimeError(f"the server of {self.user.name} ended before it answered (see the hub's log)")
            self.join_cpu_group()
            return ip, port
        finally:
            slots.release()
            self.port_book().release(self.port)

    _ports = None  # one PortBook for all the spawners of the hub

    @classmethod
    def port_book(cls) -> PortBook:
        if cls._ports is None:
            cls._ports = PortBook()
        return cls._ports

    _preloader = None  # one preloading process for all the spawners of the hub

    def preloader(self):
        """The preloading process, started with the first spawner (at the hub's start if it has users
        with servers, else at the first login), or None."""
        if not self.preload_servers:
            return None
        if ClassroomSpawner._preloader is None:
            ClassroomSpawner._preloader = preload.Preloader(self.preload_socket, self.servers_environment())
        return self.running(ClassroomSpawner._preloader, "the servers' preloading process", "servers")

    def running(self, process: preload.Preloader, what: str, exec_d: str):
        """The process, started again if it ended (at most once a minute), or None if it cannot start."""
        try:
            process.ensure_running()
        except OSError as exc:
            self.log.warning("%s did not start (%s): %s are exec'd", what, exc, exec_d)
            return None
        return process

    def servers_environment(self) -> dict:
        """The servers' own environment, without anything per user, and nothing of the hub's."""
        env = {k: os.environ[k] for k in self.env_keep if k in os.environ}
        env.update({k: v for k, v in self.environment.items() if isinstance(v, str)})
        env.update(self.compute_threads_environment())
        return env

    def compute_threads_environment(self) -> dict:
        return {name: str(self.compute_threads) for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                             "MKL_NUM_THREADS")}

    _kernel_template = None  # one kernel template for all the spawners of the hub

    def kernel_template(self):
        """The kernel template, started with the first spawner and again at any start that finds
        it gone (at most once a minute), or None: the kernels are then exec'd by their servers."""
        if not self.fork_kernels:
            return None
        if ClassroomSpawner._kernel_template is None:
            try:
                with open(self.kernel_spec) as f:
                    spec = json.load(f)
                argv = list(spec["argv"])
                options = argv[1:argv.index("-m")]  # the kernel's interpreter options (-X...)
            except (OSError, ValueError, KeyError) as exc:
                self.log.warning("no kernel template (%s): kernels are exec'd", exc)
                return None
            command = [argv[0], *options, "-m", kernel_template.__name__, self.kernel_template_socket,
                       self.kernel_setups, *argv]
            env = {**self.servers_environment(), **spec.get("env", {})}
            # Its path holds the school's site packages, anyone's code: never root's to import from.
            env[kernel_protocol.KERNEL_PATH] = env.pop("PYTHONPATH", "")
            ClassroomSpawner._kernel_template = preload.Preloader(
                self.kernel_template_socket, env, command=command, folder_mode=0o755, cwd=self.kernel_template_folder)
        return self.running(ClassroomSpawner._kernel_template, "the kernel template", "kernels")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.preloader()  # ready before the first login, if it can be
        self.kernel_template()

    async def start_process(self):
        """LocalProcessSpawner.start, with the process forked by the preloading process (waiting
        for its imports if need be); exec'd as LocalProcessSpawner does if it is gone, does not
        answer, or fails."""
        self.kernel_template()  # started again if it ended
        preloader = self.preloader()
        preloaded = (preloader is not None and not self.shell_cmd and preload.can_preload(self.cmd)
                     and await preloader.wait_ready(self.preload_wait))
        # A new port at each start (the last one may be another server's now), after the wait.
        self.port = self.port_book().take()
        if not preloaded:
            return await super().start()
        env = self.get_env()
        argv = [*self.cmd, *self.get_args()]
        self.log.info("Spawning %s (preloaded)", shlex.join(argv))
        try:
            self.pid = await preloader.launch(argv, env, self.process_setup(self.user.name))
        except OSError as exc:
            self.log.warning("preloaded start of %s failed (%s): exec'd instead", self.user.name, exc)
            return await super().start()
        self.proc = None  # not the hub's child: poll() and stop() go by the pid
        return (self.ip or "127.0.0.1", self.port)

    async def _until_it_answers(self, url: str) -> None:
        """Hold the start's slot until the server answers its own API address (or its process ends)."""
        await until_it_answers(url, self.poll, self.http_timeout, self.user.name, self.log)

    _in_line = False

    async def progress(self):
        """What the spawn page shows while the server waits its turn, then starts."""
        while self._in_line:
            # English: the spawn page puts its events in the reader's language (hubpages/script_words.py).
            yield {"progress": 10, "message": f"Waiting for a start slot ({self._waiting} in line)…"}
            await asyncio.sleep(1)
        yield {"progress": 50, "message": "Starting your server…"}
