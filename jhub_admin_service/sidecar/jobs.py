"""Jobs: long operations (export, restore) run one at a time in a worker
thread, with progress the client can poll."""
import asyncio
import os
import secrets
import time
from collections import OrderedDict

MAX_JOBS_KEPT = 100


class Job:
    def __init__(self, kind: str, params: dict):
        self.id = secrets.token_hex(8)
        self.kind = kind
        self.params = dict(params)
        self.state = "queued"
        self.phase = ""
        self.created = time.time()
        self.started = None
        self.finished = None
        self.progress_path = None  # a file whose size is the progress
        self.bytes = 0
        self.total_bytes = None
        self.result = None
        self.error = None

    def to_json(self) -> dict:
        done = self.bytes
        if self.state == "running" and self.progress_path:
            try:
                done = os.stat(self.progress_path).st_size
            except OSError:
                pass
        return {
            "id": self.id, "kind": self.kind, "params": self.params,
            "state": self.state, "phase": self.phase,
            "created": self.created, "started": self.started, "finished": self.finished,
            "bytes": done, "total_bytes": self.total_bytes,
            "result": self.result, "error": self.error,
        }


class JobManager:
    def __init__(self, log):
        self.log = log
        self.jobs: "OrderedDict[str, Job]" = OrderedDict()
        self._lock = asyncio.Lock()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def get(self, job_id: str):
        return self.jobs.get(job_id)

    def list(self) -> list:
        return [j.to_json() for j in reversed(self.jobs.values())]

    def submit(self, kind: str, params: dict, work) -> Job:
        """``work(job)`` is a blocking function run in a thread, one job at a
        time (exports and restores of the same volumes must not overlap)."""
        job = Job(kind, params)
        self.jobs[job.id] = job
        while len(self.jobs) > MAX_JOBS_KEPT:
            oldest = next(iter(self.jobs))
            if self.jobs[oldest].state in ("queued", "running"):
                break
            self.jobs.popitem(last=False)
        asyncio.ensure_future(self._run(job, work))
        return job

    async def _run(self, job: Job, work):
        async with self._lock:
            job.state = "running"
            job.started = time.time()
            self.log.info("job %s %s started %s", job.id, job.kind, job.params)
            loop = asyncio.get_running_loop()
            try:
                job.result = await loop.run_in_executor(None, work, job)
                job.state = "done"
                self.log.info("job %s %s done %s", job.id, job.kind, job.result)
            except Exception as e:  # reported to the client, logged here
                job.state = "failed"
                job.error = str(e) or type(e).__name__
                self.log.error("job %s %s failed: %s", job.id, job.kind, job.error)
            finally:
                job.finished = time.time()
                job.progress_path = None
