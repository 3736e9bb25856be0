"""Disk use of the volumes and of each home, measured by du(1) in the background.

A page never waits for du: it shows the last measure (None until the first one ends) and starts a
new one when that measure is older than `refresh` seconds (AdminSettings.disk_measure_seconds). du counts the blocks a file really holds, so a
sparse file (`truncate -s 15T`) weighs what it stores, not what it announces.
"""
import asyncio
import os
import shutil
import time
from typing import Awaitable, Callable, Optional

DU_TIMEOUT = 300

#: what (a folder, or "homes:" + a folder) -> {"value": ..., "measured": float, "task": Task | None}
_measures = {}


async def _du(*args: str) -> Optional[str]:
    proc = await asyncio.create_subprocess_exec(
        "du", "-x", "-B1", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), DU_TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        return None
    return out.decode("utf-8", "replace")


def _cached(key: str, measure: Callable[[], Awaitable], refresh: float) -> object:
    entry = _measures.setdefault(key, {"value": None, "measured": 0.0, "task": None})
    stale = time.time() - entry["measured"] > refresh
    if stale and (entry["task"] is None or entry["task"].done()):
        async def run():
            entry["value"] = await measure()
            entry["measured"] = time.time()
        entry["task"] = asyncio.ensure_future(run())
    return entry["value"]


def folder_size(path: str, refresh: float) -> Optional[int]:
    """The bytes a folder holds (None while the first measure runs)."""
    async def measure():
        out = await _du("-s", path) if os.path.isdir(path) else None
        try:
            return int(out.split()[0])
        except (AttributeError, IndexError, ValueError):
            return None
    return _cached(path, measure, refresh)


def home_sizes(home_root: str, refresh: float) -> dict:
    """{login: bytes} for every folder of home_root, from one du run ({} until it ends)."""
    async def measure():
        out = await _du("--max-depth=1", home_root) if os.path.isdir(home_root) else None
        sizes = {}
        for line in (out or "").splitlines():
            size, _, path = line.partition("\t")
            name = os.path.relpath(path, home_root)
            if size.isdigit() and name not in (".", "") and "/" not in name:
                sizes[name] = int(size)
        return sizes
    return _cached("homes:" + home_root, measure, refresh) or {}


def disk(path: str, refresh: float) -> dict:
    out = {"path": path, "exists": os.path.isdir(path), "used": None, "total": None, "free": None,
           "percent": None, "size": None}
    if out["exists"]:
        usage = shutil.disk_usage(path)
        # What is used is what is not free to the users: the blocks reserved for root count as
        # used, so that the bar and "X free of Y" beside it tell the same story.
        out.update(used=usage.used, total=usage.total, free=usage.free,
                   percent=round(100 * (usage.total - usage.free) / usage.total) if usage.total else None,
                   size=folder_size(path, refresh))
    return out
