"""Async client of the Docker-socket sidecar (exports and restores), used by the hub's side.

The admin service's Exports page and the ``jhub-admin exports`` commands use
this module; it is the only way the rest of the product reaches the sidecar.
It sits beside the sidecar so that the two sides share their vocabulary
(``validation.TARGETS``); it imports neither the docker SDK nor the server.

Configuration: the sidecar's URL and the secret file come from AdminSettings
(``sidecar_url``, ``sidecar_secret_file``); the secret is sent as
``Authorization: Bearer <secret>``.

Example (inside a tornado handler)::

    client = ExportsClient.from_settings(settings)
    job = await client.export("all")                 # {"id", "state", "bytes", ...}
    job = await client.wait_job(job["id"])           # until done / failed
    archives = await client.list_archives()          # newest first
    await client.stream(name, write)                 # chunk by chunk, bounded memory

Every method raises :class:`SidecarError` (with ``status`` and the sidecar's
message) when the sidecar refuses or fails; :class:`SidecarUnavailable` when
it cannot be reached.
"""
import asyncio
import hashlib
import inspect
import json
import os
import time
from typing import Awaitable, Callable, Optional, Union
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from ..settings import AdminSettings
from .validation import TARGETS

#: Bytes fetched per HTTP range request when streaming an archive.
STREAM_RANGE = 8 * 1024 * 1024


class SidecarError(Exception):
    """The sidecar answered with an error.  ``status`` is the HTTP status
    (400 bad input, 401 secret, 404 unknown archive, 409 busy/refused
    volume, 500 failed job, 503 discovery), ``message`` its explanation."""

    def __init__(self, status: int, message: str, code: str = "", detail: dict = None):
        super().__init__(f"{message} (HTTP {status})")
        self.status = status
        self.message = message
        self.code = code  # for a refusal (409): e.g. "busy", "volume_in_use"
        self.detail = detail or {}


class SidecarUnavailable(SidecarError):
    def __init__(self, message: str):
        super().__init__(599, message)


def _read_secret(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as e:
        raise SidecarUnavailable(f"cannot read the sidecar secret {path}: {e}") from None


Chunk = Callable[[bytes], Union[None, Awaitable[None]]]


class ExportsClient:
    """Client of the sidecar API.  All methods are coroutines.

    Archives are dicts as recorded by the sidecar: ``name``, ``target``
    (home/exchange/data/all), ``targets``, ``size``, ``sha256``, ``created``
    (ISO UTC), ``created_ts``, ``kind`` (manual/scheduled/safety),
    ``compression``, ``tools``...  Jobs are dicts: ``id``, ``kind``
    (export/restore), ``state`` (queued/running/done/failed), ``phase``,
    ``bytes`` (written so far), ``result`` (the archive's metadata, or the
    restore summary with ``safety_archive``), ``error``.
    """

    def __init__(self, url: str, secret_file: str = "", secret: Optional[str] = None,
                 request_timeout: float = 300.0):
        self.url = url.rstrip("/")
        self._secret = secret
        self.secret_file = secret_file
        self.request_timeout = request_timeout
        self.http = AsyncHTTPClient()

    @classmethod
    def from_settings(cls, settings: AdminSettings) -> "ExportsClient":
        return cls(settings.sidecar_url, settings.sidecar_secret_file)

    @classmethod
    def if_configured(cls, settings: AdminSettings) -> Optional["ExportsClient"]:
        """A client, or None when no sidecar is configured here."""
        return cls.from_settings(settings) if settings.sidecar_configured else None

    # plumbing -----------------------------------------------------------------------
    @property
    def secret(self) -> str:
        if self._secret is None:
            self._secret = _read_secret(self.secret_file)
        return self._secret

    def _headers(self, extra=None) -> dict:
        h = {"Authorization": f"Bearer {self.secret}", "Accept": "application/json"}
        if extra:
            h.update(extra)
        return h

    async def _request(self, method: str, path: str, body=None, timeout=None):
        kwargs = {}
        if body is not None:
            kwargs["body"] = json.dumps(body)
            headers = self._headers({"Content-Type": "application/json"})
        else:
            headers = self._headers()
            if method in ("POST", "PUT"):
                kwargs["body"] = ""
        req = HTTPRequest(self.url + path, method=method, headers=headers,
                          request_timeout=timeout or self.request_timeout,
                          connect_timeout=10, **kwargs)
        try:
            resp = await self.http.fetch(req, raise_error=False)
        except (OSError, asyncio.TimeoutError) as e:
            raise SidecarUnavailable(f"sidecar unreachable at {self.url}: {e}") from None
        if resp.code == 599:
            raise SidecarUnavailable(f"sidecar unreachable at {self.url}: {resp.error}")
        try:
            data = json.loads(resp.body or b"{}")
        except ValueError:
            data = {"error": (resp.body or b"")[:200].decode("utf-8", "replace")}
        if resp.code >= 400:
            detail = data.get("detail")
            raise SidecarError(resp.code, data.get("error") or resp.reason or "error",
                               code=str(data.get("code") or ""), detail=detail if isinstance(detail, dict) else None)
        return data

    @staticmethod
    def _name(name: str) -> str:
        # Quoted so that "/" or ".." reach the sidecar as data and get refused there.
        return quote(str(name), safe="")

    # operations -------------------------------------------------------------------------
    async def health(self) -> bool:
        """True when the sidecar answers (no secret needed)."""
        try:
            resp = await self.http.fetch(self.url + "/health", request_timeout=10,
                                         raise_error=False)
        except OSError:
            return False
        return resp.code == 200

    async def info(self) -> dict:
        """Image, compose project, discovered volumes, compressor, tool versions."""
        return await self._request("GET", "/api/info")

    async def list_archives(self) -> list:
        """All archives, newest first."""
        return (await self._request("GET", "/api/archives"))["archives"]

    async def get_archive(self, name: str) -> dict:
        return await self._request("GET", "/api/archives/" + self._name(name))

    async def export(self, target: str = "all", school_year: Optional[str] = None) -> dict:
        """Start an export of ``home``, ``exchange``, ``data`` or ``all``; with ``school_year``
        ("2026-2027"), the export that closes that year (named after it, never pruned).
        Returns the job (poll it with :meth:`job` or :meth:`wait_job`)."""
        body = {"target": target, **({"school_year": school_year} if school_year else {})}
        return (await self._request("POST", "/api/exports", body))["job"]

    async def jobs(self) -> list:
        return (await self._request("GET", "/api/jobs"))["jobs"]

    async def job(self, job_id: str) -> dict:
        return await self._request("GET", "/api/jobs/" + self._name(job_id))

    async def wait_job(self, job_id: str, poll: float = 1.0, timeout: Optional[float] = None,
                       progress: Optional[Callable[[dict], None]] = None) -> dict:
        """Poll a job until it is done or failed; ``progress(job)`` is called
        at each poll.  Returns the final job (check ``job["state"]``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = await self.job(job_id)
            if progress is not None:
                progress(job)
            if job["state"] in ("done", "failed"):
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise SidecarError(504, f"job {job_id} still {job['state']} after {timeout}s")
            await asyncio.sleep(poll)

    async def verify(self, name: str) -> dict:
        """Recompute the archive's sha256: ``{"ok", "sha256", "recorded_sha256", "size"}``."""
        return await self._request("POST", f"/api/archives/{self._name(name)}/verify",
                                   timeout=3600)

    async def delete(self, name: str) -> dict:
        return await self._request("DELETE", "/api/archives/" + self._name(name))

    async def restore(self, name: str, sha256: str, user: Optional[str] = None,
                      targets: Optional[list] = None) -> dict:
        """Start a restore; ``sha256`` must be the archive's recorded sha256
        (the confirmation).  With ``user``, only that user's home is
        restored.  A safety export is taken first.  Returns the job."""
        body = {"sha256": sha256}
        if user is not None:
            body["user"] = user
        if targets is not None:
            body["targets"] = targets
        return (await self._request("POST", f"/api/archives/{self._name(name)}/restore",
                                    body))["job"]

    async def prune(self, keep: Optional[int] = None, days: Optional[int] = None) -> dict:
        """Apply a retention policy (default: the saved settings).  The newest
        archive is never deleted.  Returns ``{"kept": [...], "deleted": [...]}``."""
        body = {}
        if keep is not None:
            body["keep"] = keep
        if days is not None:
            body["days"] = days
        return await self._request("POST", "/api/prune", body)

    async def get_settings(self) -> dict:
        """``{"schedule": {"enabled", "time": "HH:MM", "target"},
        "retention": {"keep", "days"}, "last_scheduled_run"}``"""
        return await self._request("GET", "/api/settings")

    async def set_settings(self, settings: dict) -> dict:
        """Update (partially) the schedule and retention settings."""
        return await self._request("PUT", "/api/settings", settings)

    # restore points (restic snapshots) ----------------------------------------------------
    async def points(self, status_only: bool = False) -> dict:
        """``{"status": {"initialised", "key_present", "settings", "last_check", ...},
        "points": [{"id", "short_id", "time", "timestamp", "date", "tags", "summary"}],
        "error"?}``; ``status_only``: without the points (no restic run)."""
        return await self._request("GET", "/api/points" + ("?status_only=1" if status_only else ""))

    async def enable_points(self, place: Optional[dict] = None) -> dict:
        """Create the repository at ``place`` (``{"kind": "archives" | "disk" | "sftp" | "s3",
        ...}``, the archives volume by default); the answer holds its ``key``, this once."""
        return await self._request("POST", "/api/points/enable", {"place": place} if place else None)

    async def set_points_key(self, key: str, place: Optional[dict] = None) -> dict:
        """Give the key of an existing repository (refused with code ``wrong_key``), at
        ``place`` when it is not on this server yet (a reinstalled server)."""
        return await self._request("PUT", "/api/points/key", dict({"key": key}, **({"place": place} if place else {})))

    async def points_ssh_key(self) -> dict:
        """The sidecar's SSH key for an SFTP place: ``{"public_key"}``."""
        return await self._request("POST", "/api/points/ssh-key")

    async def make_point(self) -> dict:
        return (await self._request("POST", "/api/points"))["job"]

    async def check_points(self) -> dict:
        return (await self._request("POST", "/api/points/check"))["job"]

    async def set_points_settings(self, settings: dict) -> dict:
        """``{"enabled", "time", "keep": {"daily", "weekly", "monthly"}, "pupils_may_restore"}``"""
        return await self._request("PUT", "/api/points/settings", settings)

    async def point_files(self, point: str, user: str, path: str = "") -> dict:
        """One folder of a user's home in a point: ``{"point", "user", "path", "entries"}``."""
        query = f"user={quote(user, safe='')}&path={quote(path, safe='')}"
        return await self._request("GET", f"/api/points/{self._name(point)}/files?{query}")

    async def restore_point_file(self, point: str, user: str, path: str, lang: str = "fr",
                                 by: str = "") -> dict:
        """Bring back a file or folder beside the current one (a job; its result's ``placed``
        is the new name, relative to the home)."""
        return (await self._request("POST", f"/api/points/{self._name(point)}/restore",
                                    {"user": user, "path": path, "lang": lang, "by": by}))["job"]

    async def restore_point_volumes(self, point: str, confirm: str, targets: Optional[list] = None,
                                    user: Optional[str] = None) -> dict:
        """Whole volumes (default: all) or one user's home from a point, as an archive's restore
        (a safety export first, journalled steps). ``confirm``: the point's ``short_id``."""
        body = {"confirm": confirm}
        if targets is not None:
            body["targets"] = targets
        if user is not None:
            body["user"] = user
        return (await self._request("POST", f"/api/points/{self._name(point)}/restore-volumes", body))["job"]

    async def stream(self, name: str, on_chunk: Chunk, range_size: int = STREAM_RANGE) -> dict:
        """Stream an archive to ``on_chunk(bytes)`` (a function or coroutine
        function), chunk by chunk, with memory bounded by ``range_size``: the
        archive is fetched in HTTP range requests and the next range is only
        requested once ``on_chunk`` has returned (in a tornado handler:
        ``async def on_chunk(b): self.write(b); await self.flush()``).

        Returns the archive's metadata; raises :class:`SidecarError` if the
        bytes received do not match the recorded sha256."""
        meta = await self.get_archive(name)
        size = meta["size"]
        digest = hashlib.sha256()
        offset = 0
        while offset < size:
            end = min(offset + range_size, size) - 1
            pieces = []
            req = HTTPRequest(
                f"{self.url}/api/archives/{self._name(name)}/download",
                headers=self._headers({"Range": f"bytes={offset}-{end}",
                                       "Accept": "application/octet-stream"}),
                streaming_callback=pieces.append, request_timeout=self.request_timeout,
                connect_timeout=10)
            try:
                resp = await self.http.fetch(req, raise_error=False)
            except OSError as e:
                raise SidecarUnavailable(f"sidecar unreachable: {e}") from None
            if resp.code not in (200, 206):
                raise SidecarError(resp.code, f"download of {name} failed: {resp.reason}")
            for piece in pieces:
                digest.update(piece)
                offset += len(piece)
                ret = on_chunk(piece)
                if inspect.isawaitable(ret):
                    await ret
            pieces.clear()
            if resp.code == 200:  # server ignored the range: it sent everything
                break
        if offset != size or digest.hexdigest() != meta.get("sha256"):
            raise SidecarError(502, f"archive {name}: received {offset} bytes, sha256 {digest.hexdigest()}; "
                                    f"expected {size}, {meta.get('sha256')}")
        return meta

    async def download(self, name: str, path: str) -> dict:
        """Download an archive to ``path`` (written as ``path.part`` then
        renamed once the sha256 matches)."""
        part = path + ".part"
        with open(part, "wb") as f:
            try:
                meta = await self.stream(name, f.write)
            except BaseException:
                f.close()
                os.unlink(part)
                raise
        os.replace(part, path)
        return meta


__all__ = ["ExportsClient", "SidecarError", "SidecarUnavailable", "TARGETS"]
