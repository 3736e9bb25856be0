"""The teacher's server's grading jobs: "autograde every submission" of an assignment.

A job is a child process of the server (``autograde_all``, as the teacher, in the course's
folder) whose JSON lines are the job's progress. At most one job per course and assignment runs
at a time; jobs live as long as the server (the gradebook keeps what they graded).
"""
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

RUNNER = "jhub_admin_service.courses.grading.autograde_all"
#: How much of the runner's own error output a failed job keeps.
STDERR_TAIL = 8000


class JobRunning(Exception):
    pass


@dataclass
class AutogradeJob:
    course_id: str
    assignment: str
    state: str = "running"  # running, done, failed
    total: Optional[int] = None
    done: int = 0
    failed: List[dict] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    ended: Optional[float] = None
    error: Optional[str] = None

    def to_json(self) -> dict:
        return asdict(self)

    def apply(self, event: dict) -> None:
        """One line of the runner's progress."""
        kind = event.get("event")
        if kind == "start":
            self.total = int(event["total"])
        elif kind == "graded":
            self.done = int(event["done"])
            if not event.get("success"):
                self.failed.append({"student": event.get("student"), "error": event.get("error") or ""})


class AutogradeJobs:
    def __init__(self, log):
        self.log = log
        self.jobs: Dict[Tuple[str, str], AutogradeJob] = {}

    def get(self, course_id: str, assignment: str) -> Optional[AutogradeJob]:
        return self.jobs.get((course_id, assignment))

    def start(self, course_id: str, course_root: str, assignment: str) -> AutogradeJob:
        current = self.get(course_id, assignment)
        if current is not None and current.state == "running":
            raise JobRunning(assignment)
        job = self.jobs[(course_id, assignment)] = AutogradeJob(course_id, assignment)
        asyncio.get_running_loop().create_task(self._run(job, course_root))
        return job

    async def _run(self, job: AutogradeJob, course_root: str) -> None:
        self.log.info("jhub-admin: autograding every submission of %s (%s)", job.assignment, job.course_id)
        stderr = b""
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", RUNNER, "--", job.assignment, cwd=course_root,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)

            async def drain_stderr():
                nonlocal stderr
                while chunk := await proc.stderr.read(65536):
                    stderr = (stderr + chunk)[-STDERR_TAIL:]

            draining = asyncio.ensure_future(drain_stderr())
            async for line in proc.stdout:
                try:
                    job.apply(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue  # not a progress line (a library printing to stdout)
            status = await proc.wait()
            await draining
            job.state = "done" if status == 0 else "failed"
            if status != 0:
                job.error = stderr.decode("utf-8", "replace")
        except Exception as exc:  # noqa: BLE001 (the job reports it; the server goes on)
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
        job.ended = time.time()
        self.log.info("jhub-admin: autograde of %s (%s) %s: %d of %s graded, %d failed", job.assignment,
                      job.course_id, job.state, job.done, job.total, len(job.failed))
