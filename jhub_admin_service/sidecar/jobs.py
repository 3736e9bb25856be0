"""Jobs: long operations (export, restore) run one at a time in a worker thread, with progress
the client can poll.

Every job is also a small JSON file on the archives volume, ``.jobs/ID.json``, rewritten
atomically (tmp + fsync + rename) whenever its state, phase, result or journal changes. After a
restart of the sidecar ``GET /api/jobs/ID`` still answers with the job's state and result (a
restore's safety archive included), and the startup recovery (restore.py) finishes or rolls back
the jobs that the restart interrupted.

One job at a time, and no queue: a request for another job while one is queued or running is
refused (409 ``busy``), and every request for a job is refused (503 ``stopping``) once SIGTERM
has arrived, so that the sidecar only has its one running job to finish or roll back.
"""
import asyncio
import contextlib
import json
import os
import re
import secrets
import threading
import time
from collections import OrderedDict

from .refusal import Conflict, Stopping
from .store import TMP_PREFIX, write_json_atomic

MAX_JOBS_KEPT = 100
JOBS_DIR = ".jobs"
ACTIVE = ("queued", "running")
JOB_FILE_RE = re.compile(r"\A([0-9a-f]{16})\.json\Z")

#: What happened to a job that a stop or a restart of the sidecar interrupted (``recovery``).
ROLLED_BACK_AT_STOP = "rolled_back_at_stop"
ROLLED_BACK_AFTER_RESTART = "rolled_back_after_restart"
COMPLETED_AFTER_RESTART = "completed_after_restart"
RECOVERY_PENDING = "pending"  # the recovery itself failed: tried again at the next start


async def in_thread(fn, *args):
    """A blocking function run off the sidecar's event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


class Cancelled(Exception):
    """The sidecar is stopping: the job's current step was interrupted (the message says what
    was rolled back)."""


class Job:
    #: The fields of the JSON answer and of the job's file.
    FIELDS = ("id", "kind", "params", "state", "phase", "created", "started", "finished", "bytes",
              "total_bytes", "result", "error", "recovery", "journal")

    def __init__(self, kind: str, params: dict):
        self.id = secrets.token_hex(8)
        self.kind = kind
        self.params = dict(params)
        self.state = "queued"
        self.phase = ""
        self.created = time.time()
        self.started = None
        self.finished = None
        self.bytes = 0
        self.total_bytes = None
        self.result = None
        self.error = None
        self.recovery = None
        self.journal = None  # a restore's last step begun, for the startup recovery (restore.py)
        self.progress_path = None  # a file whose size is the progress
        self.cancel = threading.Event()  # set at SIGTERM
        self.on_change = None  # saves the job's file

    def update(self, **fields) -> None:
        """Change fields and save the job's file."""
        for name, value in fields.items():
            if name not in self.FIELDS:
                raise AttributeError(name)
            setattr(self, name, value)
        if self.on_change is not None:
            self.on_change(self)

    def to_json(self) -> dict:
        data = {name: getattr(self, name) for name in self.FIELDS}
        if self.state == "running" and self.progress_path:
            try:
                data["bytes"] = os.stat(self.progress_path).st_size
            except OSError:
                pass
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Job":
        job = cls(data["kind"], data.get("params") or {})
        for name in cls.FIELDS:
            if name in data:
                setattr(job, name, data[name])
        return job


class JobStore:
    """The jobs' files: ``DIR/.jobs/ID.json``."""

    def __init__(self, backup_dir: str):
        self.directory = os.path.join(os.path.abspath(backup_dir), JOBS_DIR)
        self._lock = threading.Lock()  # the loop and the worker thread both save

    def path(self, job_id: str) -> str:
        return os.path.join(self.directory, f"{job_id}.json")

    def save(self, job: Job) -> None:
        with self._lock:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            write_json_atomic(self.path(job.id), job.to_json())

    def remove(self, job_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(job_id))

    def load(self) -> list:
        """Every job saved, oldest first; unreadable files and temporaries are removed."""
        try:
            entries = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        jobs = []
        for entry in entries:
            full = os.path.join(self.directory, entry)
            if entry.startswith(TMP_PREFIX):  # a save interrupted before its rename
                os.unlink(full)
                continue
            match = JOB_FILE_RE.match(entry)
            if not match:
                continue
            try:
                with open(full, encoding="utf-8") as f:
                    job = Job.from_json(json.load(f))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if job.id == match.group(1):
                jobs.append(job)
        return sorted(jobs, key=lambda j: j.created or 0)


class JobManager:
    def __init__(self, log, store: JobStore = None):
        self.log = log
        self.store = store
        self.jobs: "OrderedDict[str, Job]" = OrderedDict()
        self.stopping = False
        self._admitting = False
        self._tasks = set()
        if store is not None:
            for job in store.load():
                self._keep(job)

    def _keep(self, job: Job) -> None:
        job.on_change = self.store.save if self.store is not None else None
        self.jobs[job.id] = job

    @property
    def busy(self) -> bool:
        return self._admitting or self.active() is not None

    def active(self):
        """The queued or running job, if any."""
        return next((j for j in self.jobs.values() if j.state in ACTIVE), None)

    def get(self, job_id: str):
        return self.jobs.get(job_id)

    def list(self) -> list:
        return [j.to_json() for j in reversed(self.jobs.values())]

    def unfinished(self) -> list:
        """Jobs of a previous process left queued or running, or with a restore's journal open."""
        return [j for j in self.jobs.values() if j.state in ACTIVE or j.journal]

    @contextlib.contextmanager
    def admission(self):
        """Hold the one job slot while a request is checked (the free space, ...) and its job
        submitted; refuse when the sidecar is stopping or the slot is taken."""
        if self.stopping:
            raise Stopping("the sidecar is stopping (SIGTERM): it accepts no new job; try again "
                           "when it has restarted", code="stopping")
        pending = next((j for j in self.jobs.values() if j.journal), None)
        if pending is not None and pending.state not in ACTIVE:
            raise Conflict(f"restore job {pending.id} could not be finished or rolled back; the "
                           "sidecar tries again at its next start (restart it)",
                           code="recovery_pending", job=pending.id)
        active = self.active()
        if active is not None or self._admitting:
            what = f"job {active.id} ({active.kind}) is {active.state}" if active else "a job is starting"
            raise Conflict(f"{what}; try again when it is finished", code="busy",
                           job=active.id if active else None)
        self._admitting = True
        try:
            yield
        finally:
            self._admitting = False

    def submit(self, kind: str, params: dict, work) -> Job:
        """``work(job)`` is a blocking function run in a thread. Callers hold :meth:`admission`
        (or have checked :attr:`busy`)."""
        job = Job(kind, params)
        self._keep(job)
        job.update()
        self._forget_old()
        task = asyncio.ensure_future(self._run(job, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def record_refusal(self, kind: str, params: dict, error: str) -> Job:
        """A job refused before it started (a scheduled export without room), kept to be seen."""
        job = Job(kind, params)
        self._keep(job)
        now = time.time()
        job.update(state="failed", error=error, started=now, finished=now)
        self._forget_old()
        return job

    def _forget_old(self) -> None:
        finished = [j for j in self.jobs.values() if j.state not in ACTIVE and not j.journal]
        for job in finished[:max(0, len(self.jobs) - MAX_JOBS_KEPT)]:
            del self.jobs[job.id]
            if self.store is not None:
                self.store.remove(job.id)

    async def _run(self, job: Job, work) -> None:
        if job.cancel.is_set():
            job.update(state="failed", finished=time.time(), recovery=ROLLED_BACK_AT_STOP,
                       error="the sidecar was stopped before the job started")
            return
        job.update(state="running", started=time.time())
        self.log.info("job %s %s started %s", job.id, job.kind, job.params)
        outcome = {}
        try:
            outcome["result"] = await asyncio.get_running_loop().run_in_executor(None, work, job)
            outcome["state"] = "done"
            self.log.info("job %s %s done %s", job.id, job.kind, outcome["result"])
        except Cancelled as e:
            outcome.update(state="failed", error=str(e), recovery=ROLLED_BACK_AT_STOP)
            self.log.warning("job %s %s stopped and rolled back: %s", job.id, job.kind, e)
        except Exception as e:  # reported to the client, logged here
            outcome.update(state="failed", error=str(e) or type(e).__name__)
            self.log.error("job %s %s failed: %s", job.id, job.kind, outcome["error"])
        finally:
            done = job.to_json()["bytes"]
            job.progress_path = None
            job.update(bytes=done, finished=time.time(), **outcome)

    async def shutdown(self, timeout: float) -> bool:
        """SIGTERM: refuse new jobs, ask the running one to stop (it finishes or rolls back its
        step), and wait for it up to ``timeout`` seconds. True when no job is left running."""
        self.stopping = True
        for job in self.jobs.values():
            if job.state in ACTIVE:
                job.cancel.set()
        tasks = [t for t in self._tasks if not t.done()]
        if not tasks:
            return True
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        return not pending
