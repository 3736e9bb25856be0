"""Warm start: the servers of a class started before the lesson, and kept for it.

At 8:00 a class of 35 logs in at once; a server that runs already answers at once. An admin
(from the Servers page, by class) or a teacher (from the "My class" page, by course) starts the
servers of the class a few minutes before: the hub's spawner
starts them at the pace the server can take (ClassroomSpawner.concurrent_starts at a time), and
this job waits until they are ready, then records activity on them until the end of the time
chosen, so that the idle culler leaves them alone until the lesson has begun (after that, the
students' own activity counts).
"""
import asyncio
import datetime
import logging
import time
from typing import Callable, Iterable

log = logging.getLogger(__name__)

#: How often the kept servers are marked active (the culler checks every few minutes).
KEEP_EVERY = 300.0
READY_TIMEOUT = 900.0
#: The longest a warm start may keep servers (a school day).
MAX_KEEP_MINUTES = 480
#: Jobs of this kind (one at a time per class or course: the job's group).
JOB_KIND = "warm start"


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


async def warm_start(hub, logins: Iterable[str], keep_minutes: float, progress: Callable[[str, int, int], None],
                     poll: float = 2.0, keep_every: float = KEEP_EVERY) -> dict:
    """Start these users' servers, report how many are ready, keep them until keep_minutes after
    the start. Returns {"ready": [...], "not_ready": [...]}."""
    logins = sorted(set(logins))
    total = len(logins)
    progress("ready", 0, total)
    failed = {}
    for login in logins:
        try:
            await hub.start_server(login)
        except Exception as exc:  # noqa: BLE001 (one server that cannot start never stops the others)
            failed[login] = str(exc)
            log.warning("warm start of %s: %s", login, exc)
    deadline = time.monotonic() + keep_minutes * 60
    ready = set()
    ready_by = time.monotonic() + READY_TIMEOUT
    while len(ready) + len(failed) < total and time.monotonic() < min(deadline, ready_by):
        servers = await hub.running_servers()
        ready = {login for login in logins if servers.get(login, {}).get("ready")}
        progress("ready", len(ready), total)
        await asyncio.sleep(poll)
    while time.monotonic() < deadline:
        await asyncio.sleep(min(keep_every, max(0.0, deadline - time.monotonic())))
        servers = await hub.running_servers()
        for login in logins:
            if servers.get(login, {}).get("ready"):
                await hub.mark_active(login, now_iso())
    return {"ready": sorted(ready), "not_ready": sorted(set(logins) - ready - set(failed)), "failed": failed}


def keep_minutes(value) -> int:
    """The minutes to keep the servers, from a form or a JSON body; ValueError says what is wrong."""
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        raise ValueError("minutes must be a whole number") from None
    if not 1 <= minutes <= MAX_KEEP_MINUTES:
        raise ValueError(f"minutes must be between 1 and {MAX_KEEP_MINUTES}")
    return minutes


def start_job(jobs, hub, logins: Iterable[str], minutes: int, user: str, group: str, meta: dict):
    """The warm start as a job of a JobManager (one at a time per group); returns the job."""
    logins = sorted(set(logins))

    async def work(job):
        job.summary = await warm_start(hub, logins, minutes, job.progress)

    return jobs.start(JOB_KIND, work, user=user, group=group, stages={"ready": 100},
                      counts={"servers": len(logins)},
                      meta={**meta, "minutes": minutes, "until": time.time() + minutes * 60})
