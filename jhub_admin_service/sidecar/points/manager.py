"""The restore points of the sidecar: the nightly point and its retention, the weekly check,
browsing a point, and one file brought back as a job (the repository's key and place: keys.py).

The sidecar runs restic itself for what needs only the repository (it reaches the repository
wherever its place is): init, snapshots, ls, forget --prune, check, unlock. What needs the
volumes runs in helper containers (template.point_*_body, helper.py). Jobs share the
sidecar's one job slot with exports and restores.
"""
import datetime as dt
import os
import re
import shutil
import time

from ..jobs import ROLLED_BACK_AFTER_RESTART, Cancelled, in_thread
from ..engine import HelperFailed
from ..refusal import NoSpace
from ..space import free_bytes, mib
from ..store import write_json_atomic
from ..template import point_backup_body, point_restore_file_body
from ..validation import VOLUME_TARGETS, ValidationError, validate_login
from . import restic
from .keys import RepositoryKeys, read_text
from .place import DISK_DIR, SSH_KEY_FILE, public_place
from .policy import (
    DEFAULT_POINT_SETTINGS,
    check_due,
    forget_flags,
    point_due,
    validate_point_settings,
    validate_relpath,
    validate_snapshot,
)

SETTINGS_FILE = ".points-settings.json"
STATE_FILE = ".points-state.json"
TIME_RE = re.compile(r"\A(?P<second>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?P<frac>\.\d+)?"
                     r"(?P<zone>Z|[+-]\d\d:\d\d)\Z")
#: How many points' summaries (bytes added, files) are remembered for the page.
SUMMARIES_KEPT = 400


def point_time(snapshot_time: str) -> dt.datetime:
    """A point's time, local (restic prints it with nanoseconds and a zone)."""
    match = TIME_RE.match(snapshot_time or "")
    if not match:
        raise ValueError(f"unexpected restic time {snapshot_time!r}")
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    return dt.datetime.fromisoformat(f"{match['second']}{(match['frac'] or '')[:7]}{zone}").astimezone()


def describe_point(snap: dict) -> dict:
    """A point as the API shows it, from restic's snapshot (``snapshots`` or ``ls``)."""
    when = point_time(snap["time"])
    return {"id": snap["id"], "short_id": snap.get("short_id", snap["id"][:8]), "time": snap.get("time"),
            "timestamp": when.timestamp(), "date": when.date().isoformat(), "tags": snap.get("tags") or []}


class RestorePoints(RepositoryKeys):
    def __init__(self, sidecar, keys_dir: str):
        self.sidecar = sidecar
        self.log = sidecar.log
        self.backups = sidecar.store.directory
        self.keys_dir = keys_dir

    # files --------------------------------------------------------------------------------
    def _read(self, name: str) -> dict:
        data = self.sidecar.store.read_json(name, {})
        return data if isinstance(data, dict) else {}

    def _write(self, name: str, data: dict) -> None:
        write_json_atomic(os.path.join(self.backups, name), data)

    def settings(self) -> dict:
        try:
            return validate_point_settings(self._read(SETTINGS_FILE), DEFAULT_POINT_SETTINGS)
        except ValidationError:
            return validate_point_settings({}, DEFAULT_POINT_SETTINGS)

    def set_settings(self, data: dict) -> dict:
        settings = validate_point_settings(data, self.settings())
        self._write(SETTINGS_FILE, settings)
        self._next_night_from_now()
        self.log.info("restore point settings changed: %s", settings)
        return self.status()

    def status(self) -> dict:
        state = self._read(STATE_FILE)
        ssh_public = os.path.join(self.keys_dir, SSH_KEY_FILE + ".pub")
        initialised = self.initialised()
        # Whether the sidecar has a way out matters only to the form that turns points on: it
        # asks Docker, and the dashboard and every pupil's home page read this status.
        return {"available": os.path.isdir(self.keys_dir) and shutil.which("restic") is not None,
                "initialised": initialised, "key_present": os.path.exists(self.key_path),
                "place": public_place(self.place()), "disk_available": os.path.ismount(DISK_DIR),
                "network_available": None if initialised else self._has_egress(),
                "ssh_public_key": read_text(ssh_public),
                "settings": self.settings(), "last_run": state.get("last_run"),
                "last_check": state.get("last_check"), "last_point": state.get("last_point")}

    def _next_night_from_now(self) -> None:
        """The first nightly point is the next occurrence of its time, not right now (the
        afternoon's lessons go on): as for the daily export."""
        now = dt.datetime.now()
        state = self._read(STATE_FILE)
        hh, mm = map(int, self.settings()["time"].split(":"))
        if (now.hour, now.minute) >= (hh, mm):
            state["last_run"] = now.date().isoformat()
        else:
            state.pop("last_run", None)
        self._write(STATE_FILE, state)

    # reading ------------------------------------------------------------------------------
    def points(self) -> list:
        """Newest first, each with what its night added (when this sidecar made it)."""
        self.ready()
        summaries = self._read(STATE_FILE).get("summaries", {})
        return [dict(describe_point(snap), summary=summaries.get(snap.get("short_id")))
                for snap in reversed(restic.snapshots(self.repo))]

    def point(self, snapshot: str) -> dict:
        snapshot = validate_snapshot(snapshot)
        for p in self.points():
            if p["id"].startswith(snapshot):
                return p
        raise ValidationError(f"no restore point {snapshot}")

    def browse(self, snapshot: str, user: str, path: str = "") -> dict:
        """The entries of one folder of a home in a point (one restic command: each opens the
        key, about half a second)."""
        snapshot = validate_snapshot(snapshot)
        self.ready()
        user, path = validate_login(user), validate_relpath(path, allow_empty=True)
        folder = f"/src/home/{user}" + (f"/{path}" if path else "")
        snap, nodes = restic.list_folder(self.repo, snapshot, folder)
        point = describe_point(snap)
        entries = [{"name": n["name"], "type": n.get("type"), "size": n.get("size"),
                    "mtime": n.get("mtime")} for n in nodes if not n["name"].startswith(".jhub-restore-")]
        entries.sort(key=lambda e: (e["type"] != "dir", e["name"].lower()))
        return {"point": point, "user": user, "path": path, "entries": entries}

    # jobs ---------------------------------------------------------------------------------
    # (coroutines: a job is submitted on the sidecar's event loop, its checks run in threads)
    async def start_point(self, tag: str = "manual"):
        self.ready()
        with self.sidecar.jobs.admission():
            await in_thread(self._check_room)
            return self.sidecar.jobs.submit("point", {"tag": tag}, lambda job: self._make_point(job, tag))

    async def start_check(self):
        self.ready()
        with self.sidecar.jobs.admission():
            return self.sidecar.jobs.submit("point-check", {}, self._check)

    async def start_restore_file(self, snapshot: str, user: str, path: str, lang: str = "fr", by: str = ""):
        self.ready()
        user, path = validate_login(user), validate_relpath(path)
        point = await in_thread(self.point, snapshot)
        if lang not in ("fr", "en"):
            raise ValidationError("lang must be fr or en")
        params = {"point": point["id"], "user": user, "path": path, "by": by}
        with self.sidecar.jobs.admission():
            return self.sidecar.jobs.submit(
                "point-restore", params, lambda job: self._restore_file(job, point, user, path, lang))

    def _check_room(self) -> None:
        """The archives volume keeps restic's cache and temporary packs whatever the place; a
        second disk is checked too. (A remote store's full disk is restic's error: no_space.)"""
        folders = [self.backups] + ([DISK_DIR] if self.place()["kind"] == "disk" else [])
        for folder in folders:
            free, reserve = free_bytes(folder), self.sidecar.reserve
            if free < reserve:
                raise NoSpace(f"not enough free space for a restore point on {folder}: "
                              f"{mib(free)} free, {mib(reserve)} kept free for the rest of the "
                              "server", code="no_space", needed=0, free=free, reserve=reserve)

    def _make_point(self, job, tag: str) -> dict:
        timings = {}
        clock = time.monotonic()
        disc = self.sidecar.engine.discover()
        body = point_backup_body(image=disc.image, project=disc.project, job_id=job.id,
                                 volumes=disc.volumes, backups_volume=disc.backups_volume,
                                 keys_volume=disc.keys_volume, targets=list(VOLUME_TARGETS), tag=tag)
        job.update(phase="backup")
        try:
            stdout, _ = self._in_helper(lambda: self.sidecar.engine.run_helper(
                body, timeout=self.sidecar.helper_timeout, cancel=job.cancel))
        except Cancelled:
            raise Cancelled("the sidecar was stopped during the restore point; the repository "
                            "keeps its earlier points, and the next one completes") from None
        summary = next(restic.json_lines(line[len("JHUB-POINT "):])[0]
                       for line in stdout.splitlines() if line.startswith("JHUB-POINT "))
        timings["backup"], clock = round(time.monotonic() - clock, 3), time.monotonic()
        timings["restic_backup"] = round(summary.get("total_duration") or 0, 3)
        short_id = summary["snapshot_id"]
        state = self._read(STATE_FILE)
        summaries = state.setdefault("summaries", {})
        summaries[short_id] = {k: summary.get(k) for k in (
            "files_new", "files_changed", "files_unmodified", "data_added", "total_bytes_processed",
            "total_files_processed", "incomplete", "databases")}
        for old in list(summaries)[:-SUMMARIES_KEPT]:
            del summaries[old]
        state["last_point"] = {"id": short_id, "time": time.time(), "tag": tag}
        self._write(STATE_FILE, state)
        job.update(phase="retention")
        weekly = tag == "nightly" and check_due((state.get("last_check") or {}).get("time"), time.time())
        # Forgetting a point removes one small file; pruning the data that no point uses any
        # more rewrites the index: once a week, with the check.
        forgotten = self._forget(prune=weekly)
        timings["retention"], clock = round(time.monotonic() - clock, 3), time.monotonic()
        result = {"point": short_id, "summary": summaries[short_id], "forgotten": forgotten,
                  "pruned": weekly, "timings_s": timings}
        if weekly:
            result["check"] = self._check(job)
            timings["check"] = round(time.monotonic() - clock, 3)
        self.log.info("restore point %s: %s", short_id, result)
        return result

    def _forget(self, prune: bool) -> list:
        """The retention policy; with ``prune``, the data that no point uses any more is removed."""
        flags = forget_flags(self.settings()["keep"])
        out = self._unlocked(lambda: restic.run(
            ["forget", "--json", "--host", HOST_GROUP[0], "--group-by", HOST_GROUP[1],
             *(["--prune"] if prune else []), *flags], self.repo, 6 * 3600))
        removed = []
        for group in restic.json_lines(out):
            for item in group if isinstance(group, list) else [group]:
                removed += [s["id"] for s in (item.get("remove") or [])]
        return removed

    def _unlocked(self, run):
        """``run()``; when a lock stops it, the locks are removed and it runs once more. The
        sidecar runs one job at a time, so a lock is one that a killed job left: stale. (Each
        restic command opens the key with a deliberately slow derivation, about half a second:
        none is run when not needed.)"""
        try:
            return run()
        except (HelperFailed, restic.ResticError) as exc:
            if "locked" not in str(exc):
                raise
            self.log.warning("removing the locks that a killed job left: %s", exc)
            restic.run(["unlock", "--remove-all"], self.repo, 120)
            return run()

    def _in_helper(self, run):
        """``run()``, a helper's restic; when it fails away from the archives volume, rclone's
        own words stayed in the sidecar (tunnel.py): the sidecar opens the repository itself, and
        the cause it meets (unreachable, refused, a changed host key) is the job's error."""
        try:
            return self._unlocked(run)
        except HelperFailed:
            if self.place()["kind"] != "archives":
                restic.run(["cat", "config", "--no-lock"], self.repo, 120)
            raise

    def _check(self, job) -> dict:
        job.update(phase="check")
        started = time.time()
        try:
            self._unlocked(lambda: restic.run(["check"], self.repo, 6 * 3600))
            outcome = {"time": started, "ok": True, "message": ""}
        except restic.ResticError as exc:
            outcome = {"time": started, "ok": False, "message": str(exc), "code": exc.code}
        state = self._read(STATE_FILE)
        state["last_check"] = outcome
        self._write(STATE_FILE, state)
        self.log.log(20 if outcome["ok"] else 40, "restore point check: %s", outcome)
        if not outcome["ok"]:
            raise restic.ResticError(f"the check of the restore points failed: {outcome['message']}")
        return outcome

    def _restore_file(self, job, point: dict, user: str, path: str, lang: str) -> dict:
        disc = self.sidecar.engine.discover()
        body = point_restore_file_body(image=disc.image, project=disc.project, job_id=job.id,
                                       volumes=disc.volumes, backups_volume=disc.backups_volume,
                                       keys_volume=disc.keys_volume, snapshot=point["id"], user=user,
                                       path=path, point_date=dt.date.fromisoformat(point["date"]),
                                       lang=lang)
        job.update(phase="restore")
        stdout, _ = self._in_helper(lambda: self.sidecar.engine.run_helper(
            body, timeout=self.sidecar.helper_timeout))
        placed = next(line.split(" ", 1)[1] for line in stdout.splitlines()
                      if line.startswith("JHUB-PLACED "))
        self.log.info("%s of %s restored from point %s as %s", path, user, point["short_id"], placed)
        return {"user": user, "path": path, "placed": placed, "point": point["id"],
                "point_date": point["date"]}

    # the schedule -------------------------------------------------------------------------
    async def tick(self, now: dt.datetime):
        """Called every minute by the sidecar: the nightly point when it is due."""
        if not self.initialised() or not os.path.exists(self.key_path):
            return None
        state = self._read(STATE_FILE)
        if not point_due(self.settings(), now, state.get("last_run")) or self.sidecar.jobs.busy \
                or self.sidecar.jobs.stopping:
            return None
        state["last_run"] = now.date().isoformat()
        self._write(STATE_FILE, state)
        try:
            return await self.start_point("nightly")
        except Exception as exc:  # no room...: a failed job says it on the page
            self.log.error("nightly restore point refused: %s", exc)
            return self.sidecar.jobs.record_refusal("point", {"tag": "nightly"},
                                                    f"nightly restore point refused: {exc}")


#: forget works on the points of the product's host, grouped by host only: the paths of a point
#: change when a database appears, and a new group would escape the retention.
HOST_GROUP = (restic.HOST, "host")


def recover_point_job(job) -> None:
    """A restore point's job that a restart interrupted: restic's repository stays consistent
    (a killed backup leaves only unused data, pruned later; its lock is removed by the next job)."""
    job.update(state="failed", finished=time.time(), recovery=ROLLED_BACK_AFTER_RESTART,
               error="interrupted by a restart of the sidecar; the repository keeps its earlier "
                     "restore points, and the next job completes")
