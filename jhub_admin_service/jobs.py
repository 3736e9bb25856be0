"""Long work as jobs with progress events, for the admin service.

A job runs as an asyncio task in the service process. Its state (kind, who started it, stage,
counts, percentage, summary, error) is saved in a small JSON file beside the registry, so that
a page reload, or a restart of the service, still finds it. Passwords made by a job are NEVER
saved: they stay in memory (``job.credentials``) until the admin dismisses them, until
``credentials_ttl`` has passed, or until the service stops.

A job still ``queued`` or ``running`` in the file when the service starts was interrupted by a
restart: it is marked ``interrupted``, never reported as running forever.
"""
import asyncio
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable, Optional

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")

#: Share of the percentage given to each stage of the engine's apply(). The stages run side by
#: side (the hashing goes on while the accounts and hub users are made): the percentage is the
#: weighted sum of their progress.
IMPORT_STAGES = {"hashing": 60, "local accounts": 10, "hub": 25, "passwords": 5}
#: Lines of a job's log kept (the tail: what failed is at the end).
LOG_LINES = 400


class JobConflict(RuntimeError):
    """A job of the same group is already running."""

    def __init__(self, job: "Job"):
        what = "an import" if job.kind == "import" else f"a job ({job.kind})"
        super().__init__(f"{what} is already running (job {job.id}, started by {job.user or '?'}); "
                         "wait until it is finished")
        self.job = job


@dataclass
class Job:
    id: str
    kind: str
    user: str = ""
    state: str = "queued"
    created: float = 0.0
    started: float = 0.0
    finished: float = 0.0
    stage: str = ""
    done: int = 0
    total: int = 0
    percent: int = 0
    counts: dict = field(default_factory=dict)  # what the job is doing, e.g. the plan's counts
    summary: dict = field(default_factory=dict)  # the result, e.g. the engine's report (no password)
    error: str = ""
    warnings: list = field(default_factory=list)
    log: list = field(default_factory=list)  # what the job's tools said, its last LOG_LINES lines
    meta: dict = field(default_factory=dict)  # free data for the pages (file name, options...)
    #: Clear passwords made by the job: memory only, shown once, forgotten on dismissal.
    credentials: list = field(default_factory=list, repr=False)
    credentials_dismissed: bool = False
    stages: dict = field(default_factory=dict, repr=False)  # {stage: weight in the percentage}
    fractions: dict = field(default_factory=dict, repr=False)  # {stage: done / total}
    credentials_expire: float = 0.0

    PERSISTED = ("id", "kind", "user", "state", "created", "started", "finished", "stage", "done", "total",
                 "percent", "counts", "summary", "error", "warnings", "log", "meta", "credentials_dismissed")

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def to_json(self) -> dict:
        """Public view (pages, API, file): no password."""
        out = {name: getattr(self, name) for name in self.PERSISTED}
        out["credentials_available"] = bool(self.credentials)
        out["credentials_count"] = len(self.credentials) if self.credentials else self.summary.get("credentials", 0)
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Job":
        return cls(**{k: v for k, v in data.items() if k in cls.PERSISTED})

    def log_line(self, line: str) -> None:
        self.log.append(line)
        del self.log[:-LOG_LINES]

    def progress(self, stage: str, done: int, total: int) -> None:
        """The engine's progress callback: progress(stage, done, total)."""
        self.stage, self.done, self.total = stage, int(done), int(total)
        if stage in self.stages:
            self.fractions[stage] = done / total if total else 1.0
            self.percent = max(self.percent, min(99, int(99 * weighed(self.stages, self.fractions))))


def weighed(stages: dict, fractions: dict) -> float:
    """0 to 1: how far stages ({name: weight}) are, each done by its fraction ({name: 0 to 1})."""
    return sum(weight * fractions.get(name, 0.0) for name, weight in stages.items()) / sum(stages.values())


class JobStore:
    """The jobs' state in a JSON file (mode 0600), written atomically (temporary file + rename)."""

    def __init__(self, path: Optional[str], keep: int = 100):
        self.path = path
        self.keep = keep

    def load(self) -> list:
        if not self.path:
            return []
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("job state %s unreadable (%s): starting with no job history", self.path, exc)
            return []
        return [Job.from_json(item) for item in data.get("jobs", []) if isinstance(item, dict)]

    def save(self, jobs: Iterable[Job]) -> None:
        if not self.path:
            return
        jobs = sorted(jobs, key=lambda j: j.created)[-self.keep:]
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"jobs": [j.to_json() for j in jobs]}, f, ensure_ascii=False)
        os.replace(tmp, self.path)


class JobManager:
    """Start, follow and forget jobs. One job at a time per ``group`` (e.g. "accounts")."""

    def __init__(self, path: Optional[str] = None, credentials_ttl: float = 24 * 3600, save_interval: float = 0.5):
        self.store = JobStore(path)
        self.credentials_ttl = credentials_ttl
        self.save_interval = save_interval
        self.jobs = {}
        self._tasks = {}
        self._last_save = 0.0
        self.interrupted_at_start = []
        for job in self.store.load():
            if job.state in ACTIVE:
                job.state = "interrupted"
                job.error = job.error or "interrupted: the admin service was restarted while this job ran"
                job.finished = job.finished or time.time()
                self.interrupted_at_start.append(job)
            self.jobs[job.id] = job
        if self.interrupted_at_start:
            log.warning("jobs interrupted by a restart: %s", ", ".join(j.id for j in self.interrupted_at_start))
            self.save(force=True)

    # Queries

    def get(self, job_id: str) -> Optional[Job]:
        job = self.jobs.get(job_id)
        if job is not None:
            self._expire(job)
        return job

    def list(self, kind: Optional[str] = None) -> list:
        jobs = [j for j in self.jobs.values() if kind is None or j.kind == kind]
        for j in jobs:
            self._expire(j)
        return sorted(jobs, key=lambda j: j.created, reverse=True)

    def running(self, group: Optional[str] = None) -> Optional[Job]:
        for job in self.jobs.values():
            if job.active and (group is None or job.meta.get("group") == group):
                return job
        return None

    # Changes

    def _new(self, kind, user, meta=None):
        job = Job(id=time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3), kind=kind, user=user,
                  created=time.time(), meta=dict(meta or {}))
        self.jobs[job.id] = job
        return job

    def start(self, kind: str, work: Callable[[Job], Awaitable[None]], user: str = "", group: Optional[str] = None,
              stages: Optional[dict] = None, counts: Optional[dict] = None, meta: Optional[dict] = None) -> Job:
        """Run ``await work(job)`` as a job and return it at once (state "running").

        ``work`` reports progress through ``job.progress(stage, done, total)``, and may set
        ``job.summary``, ``job.warnings`` and ``job.credentials``. An exception fails the job with
        its message. Raises JobConflict when a job of the same group is active.
        """
        if group is not None:
            current = self.running(group)
            if current is not None:
                raise JobConflict(current)
        job = self._new(kind, user, {**(meta or {}), "group": group})
        job.stages = dict(stages or {})
        job.counts = dict(counts or {})
        job.state, job.started = "running", time.time()
        self.save(force=True)
        self._tasks[job.id] = asyncio.ensure_future(self._run(job, work))
        return job

    async def _run(self, job, work):
        original = job.progress

        def progress(stage, done, total):
            original(stage, done, total)
            self.save()

        job.progress = progress
        try:
            await work(job)
        except asyncio.CancelledError:
            job.state, job.error = "interrupted", "interrupted: the admin service is stopping"
            raise
        except Exception as exc:  # reported to the admin, with its message
            log.exception("job %s (%s) failed", job.id, job.kind)
            job.state, job.error = "failed", str(exc) or exc.__class__.__name__
        else:
            job.state, job.percent = "done", 100
        finally:
            job.progress = original
            job.finished = time.time()
            if job.credentials:
                job.credentials_expire = time.time() + self.credentials_ttl
            self._tasks.pop(job.id, None)
            self.save(force=True)

    def record(self, kind: str, user: str = "", summary: Optional[dict] = None,
               credentials: Optional[Iterable[dict]] = None, meta: Optional[dict] = None) -> Job:
        """A job that is already done (e.g. one password reset), to hold its credentials."""
        job = self._new(kind, user, meta)
        job.state, job.percent = "done", 100
        job.started = job.finished = job.created
        job.summary = dict(summary or {})
        job.credentials = list(credentials or [])
        job.credentials_expire = time.time() + self.credentials_ttl
        self.save(force=True)
        return job

    def dismiss(self, job_id: str) -> Optional[Job]:
        """Forget the job's passwords."""
        job = self.jobs.get(job_id)
        if job is not None:
            job.credentials = []
            job.credentials_dismissed = True
            self.save(force=True)
        return job

    def _expire(self, job):
        if job.credentials and job.credentials_expire and time.time() > job.credentials_expire:
            job.credentials = []
            job.credentials_dismissed = True

    def save(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_save < self.save_interval:
            return
        self._last_save = now
        try:
            self.store.save(list(self.jobs.values()))
        except OSError as exc:
            log.warning("cannot save the job state to %s: %s", self.store.path, exc)

    async def wait(self, job_id: str, timeout: Optional[float] = None) -> Job:
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        return self.jobs[job_id]

    async def shutdown(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            try:
                await task
            except BaseException:
                pass
        self.save(force=True)
