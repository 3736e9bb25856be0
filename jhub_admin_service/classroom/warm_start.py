"""Warm start: the servers of a class started before the lesson, and kept for it.

At 8:00 a class of 35 logs in at once; a server that runs already answers at once. An admin
starts the servers of the class from the Servers page a few minutes before: the hub's spawner
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
