"""The sidecar's operations, independent of HTTP: export, restore, verify,
delete, prune, settings and the daily schedule."""
import datetime as dt
import logging
import os
import platform
import secrets
import shutil
import ssl
import subprocess
import time
from typing import Optional

from .. import __version__
from .engine import DockerEngine, parse_export_output
from .jobs import Cancelled, JobManager, in_thread
from .refusal import Conflict
from .points.manager import RestorePoints, recover_point_job
from .restore import Restore, recover_export
from .space import check_room, estimate_archive_size, free_bytes, parse_disk_use
from .store import ArchiveStore
from .template import disk_use_body, export_body
from .validation import (
    COMPRESSORS,
    VOLUME_TARGETS,
    ValidationError,
    expand_target,
    make_archive_name,
    plan_prune,
    schedule_due,
    validate_archive_name,
    validate_login,
    validate_retention,
    validate_settings,
    validate_sha256,
    validate_school_year,
    validate_target,
)

DEFAULT_LEVELS = {"zstd": 3, "pigz": 6, "gzip": 6}
DEFAULT_RESERVE = 512 << 20


def pick_compressor(preference: str = "auto") -> str:
    """The fastest compressor available in the image: zstd, pigz, gzip."""
    order = list(COMPRESSORS) if preference in ("", "auto") else [preference]
    for name in order:
        if name not in COMPRESSORS:
            raise ValueError(f"unknown compressor {name!r}")
        if shutil.which(name):
            return name
    raise RuntimeError(f"no compressor available (tried {', '.join(order)})")


def _first_line(cmd) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0].strip() if text else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def tool_versions(compressor: str) -> dict:
    return {
        "tar": _first_line(["tar", "--version"]),
        compressor: _first_line([compressor, "--version"]),
        "sha256": f"python hashlib, {ssl.OPENSSL_VERSION}",
        "jhub-admin-sidecar": __version__,
        "python": platform.python_version(),
    }


class Sidecar:
    def __init__(self, *, store: ArchiveStore, engine: DockerEngine, jobs: JobManager,
                 compressor="auto", level=None, threads=0, fsync=True,
                 helper_timeout=6 * 3600, reserve=DEFAULT_RESERVE, failpoint="", log=None,
                 keys_dir="/srv/sidecar-keys"):
        self.store = store
        self.engine = engine
        self.jobs = jobs
        self.log = log or logging.getLogger("jhub_admin_service.sidecar")
        self.compressor = pick_compressor(compressor)
        self.level = DEFAULT_LEVELS[self.compressor] if level is None else int(level)
        self.threads = int(threads)
        self.fsync = fsync
        self.helper_timeout = helper_timeout
        self.reserve = int(reserve)
        self.failpoint = failpoint  # see restore.Restore._failpoint
        self.tools = tool_versions(self.compressor)
        self.restore = Restore(self)
        self.points = RestorePoints(self, keys_dir)

    # info -----------------------------------------------------------------------
    def info(self) -> dict:
        return {"compressor": self.compressor, "level": self.level, "tools": self.tools,
                "discovery": self.engine.discover().to_json(), "busy": self.jobs.busy,
                "stopping": self.jobs.stopping, "free_space_reserve": self.reserve}

    # admission ----------------------------------------------------------------------
    def check_space(self, targets: list) -> dict:
        """Refuse (507) an export of ``targets`` that the archives volume could not hold."""
        disc = self.engine.discover()
        body = disk_use_body(image=disc.image, project=disc.project, job_id=secrets.token_hex(8),
                             volumes=disc.volumes, targets=targets)
        stdout, _ = self.engine.run_helper(body, timeout=self.helper_timeout)
        needed = estimate_archive_size(parse_disk_use(stdout, targets))
        figures = check_room(needed, free_bytes(self.store.directory), self.reserve)
        self.log.info("room for an export of %s: %s", ",".join(targets), figures)
        return figures

    def recover(self) -> None:
        """At start: finish or roll back the jobs that a stop or a restart interrupted."""
        for job in self.jobs.unfinished():
            if job.kind == "restore":
                self.restore.recover(job)
            elif job.kind.startswith("point"):
                recover_point_job(job)
            else:
                recover_export(job)

    # export ---------------------------------------------------------------------
    async def start_export(self, target: str, kind: str = "manual", school_year: Optional[str] = None):
        """A job, or a refusal: another job (409), no room (507), stopping (503). With a
        school_year, the export that closes that year (kind "year", never pruned)."""
        validate_target(target)
        params = {"target": target, "kind": kind}
        if school_year is not None:
            params.update(kind="year", school_year=validate_school_year(school_year))
        with self.jobs.admission():
            await in_thread(self.check_space, expand_target(target))
            return self.jobs.submit("export", params, lambda job: self._export(job, **params))

    def _export(self, job, target: str, kind: str, school_year: Optional[str] = None) -> dict:
        t0 = time.monotonic()
        disc = self.engine.discover()
        targets = expand_target(target)
        now = dt.datetime.now(dt.timezone.utc)
        name = make_archive_name(target, now, secrets.token_hex(3), self.compressor, school_year)
        tmp = self.store.tmp_path(name)
        body = export_body(image=disc.image, project=disc.project, job_id=job.id,
                           volumes=disc.volumes, backups_volume=disc.backups_volume,
                           targets=targets, tmp_name=os.path.basename(tmp),
                           compressor=self.compressor, level=self.level,
                           threads=self.threads)
        job.progress_path = tmp
        job.update(phase=f"export {target}")
        started = time.monotonic()
        try:
            stdout, stderr = self.engine.run_helper(body, timeout=self.helper_timeout,
                                                    cancel=job.cancel)
            helper_done = time.monotonic()
            sha, tar_status = parse_export_output(stdout)
            meta = {
                "target": target, "targets": targets, "kind": kind, "sha256": sha,
                **({"school_year": school_year} if school_year else {}),
                "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "created_ts": now.timestamp(),
                "compression": self.compressor, "compression_level": self.level,
                "format": "tar (GNU format, numeric owners, modes preserved)",
                "members": [f"{t}/" for t in targets],
                "tools": self.tools, "volumes": {t: disc.volumes[t] for t in targets},
                "duration_s": round(time.monotonic() - started, 3),
                "warnings": stderr.strip()[-2000:] if tar_status == 1 else "",
                "job": job.id,
            }
            meta["timings_s"] = {"discovery": round(started - t0, 3),
                                 "helper": round(helper_done - started, 3)}
            meta = self.store.commit(name, meta, fsync=self.fsync)
            meta["timings_s"]["commit"] = round(time.monotonic() - helper_done, 3)
        except Cancelled:
            self.store.discard_tmp(name)
            raise Cancelled(f"the sidecar was stopped during the export of {target}; its partial "
                            "archive was removed") from None
        except BaseException:
            self.store.discard_tmp(name)
            raise
        job.bytes = meta["size"]
        self.log.info("export %s -> %s (%d bytes, sha256 %s)", target, name, meta["size"], sha)
        return meta

    # restore ----------------------------------------------------------------------
    async def start_restore(self, name: str, sha256: str, user=None, targets=None):
        validate_archive_name(name)
        sha256 = validate_sha256(sha256)
        meta = self.store.meta(name)  # ArchiveNotFound -> 404
        archived = meta.get("targets") or expand_target(meta.get("target", ""))
        if user is not None:
            validate_login(user)
            if "home" not in archived:
                raise ValidationError(f"archive {name} holds no home volume")
            if targets not in (None, ["home"], "home"):
                raise ValidationError("a single user's restore applies to the home target only")
            targets = ["home"]
        elif targets is None:
            targets = list(archived)
        else:
            if isinstance(targets, str):
                targets = expand_target(targets)
            if not isinstance(targets, list) or not targets:
                raise ValidationError("targets must be a non-empty list")
            for t in targets:
                if t not in archived:
                    raise ValidationError(f"archive {name} holds no {t!r} volume")
        if meta.get("sha256") != sha256:
            raise ValidationError(
                "confirmation refused: the sha256 given is not the archive's recorded sha256")
        params = {"archive": name, "targets": targets, "user": user}
        with self.jobs.admission():
            if user is None:
                await in_thread(self._check_not_in_use, targets)
            await in_thread(self.check_space, targets)  # the safety export's room
            return self.jobs.submit("restore", params,
                                    lambda job: self.restore.run(job, name, sha256, targets, user))

    async def start_point_restore(self, point: str, confirm: str, user=None, targets=None):
        """Whole volumes, or one user's home, from a restore point, with the journal and the
        safety export of an archive's restore. ``confirm``: the point's short id, typed."""
        self.points.ready()
        if user is not None:
            validate_login(user)
            if targets not in (None, ["home"], "home"):
                raise ValidationError("a single user's restore applies to the home target only")
            targets = ["home"]
        elif targets is None:
            targets = list(VOLUME_TARGETS)
        elif isinstance(targets, str):
            targets = expand_target(targets)
        if not isinstance(targets, list) or not targets or any(t not in VOLUME_TARGETS for t in targets):
            raise ValidationError(f"targets must be a non-empty list of {', '.join(VOLUME_TARGETS)}")
        found = await in_thread(self.points.point, point)
        if confirm != found["short_id"]:
            raise ValidationError("confirmation refused: type the restore point's code "
                                  f"({found['short_id']}) to confirm")
        params = {"point": found["id"], "targets": targets, "user": user}
        with self.jobs.admission():
            if user is None:
                await in_thread(self._check_not_in_use, targets,
                                f"jhub-admin points restore-volumes {found['short_id']} --confirm {found['short_id']}")
            await in_thread(self.check_space, targets)  # the safety export's room
            return self.jobs.submit("restore", params,
                                    lambda job: self.restore.run_point(job, found["id"], targets, user))

    def _check_not_in_use(self, targets, command="jhub-admin exports restore ARCHIVE --sha256 SHA256"):
        """A full restore replaces a volume's content: never under a running hub, whose
        databases (hub, account registry) and users' servers have files open there. One user's
        home may be restored while the hub runs."""
        disc = self.engine.discover()
        users = sorted({name for t in targets for name in self.engine.containers_using(disc.volumes[t])})
        if users:
            raise Conflict(
                f"the volumes to restore are in use by running container(s) {', '.join(users)}. Stop them first "
                "(docker compose stop hub), restore from a shell (docker compose run --rm --no-deps "
                f"hub {command}), then start them again "
                "(docker compose start hub)", code="volume_in_use", containers=users)

    # archives ---------------------------------------------------------------------
    def list(self):
        return self.store.list()

    def verify(self, name: str) -> dict:
        res = self.store.verify(validate_archive_name(name))
        self.log.info("verify %s: %s", name, "ok" if res["ok"] else "MISMATCH")
        return res

    def delete(self, name: str) -> dict:
        validate_archive_name(name)
        if self.jobs.busy:
            raise Conflict("a job is running; try again when it is finished", code="busy")
        self.store.delete(name)
        self.log.info("deleted archive %s", name)
        return {"deleted": name}

    def prune(self, keep=None, days=None) -> dict:
        if keep is None and days is None:
            rules = self.store.load_settings()["retention"]
        else:
            rules = validate_retention(keep, days)
        if self.jobs.busy:
            raise Conflict("a job is running; try again when it is finished", code="busy")
        kept, deleted = plan_prune(self.store.list(), rules["keep"], rules["days"])
        for arch in deleted:
            self.store.delete(arch["name"])
            self.log.info("pruned archive %s", arch["name"])
        return {"retention": rules, "kept": [a["name"] for a in kept],
                "deleted": [a["name"] for a in deleted]}

    # settings and schedule --------------------------------------------------------
    def get_settings(self) -> dict:
        settings = self.store.load_settings()
        settings["last_scheduled_run"] = self.store.load_state().get("last_scheduled_run")
        return settings

    def set_settings(self, data: dict) -> dict:
        data = {k: v for k, v in data.items() if k != "last_scheduled_run"}
        settings = validate_settings(data, self.store.load_settings())
        self.store.save_settings(settings)
        # The next run is the next occurrence of the time, not "right now".
        now = dt.datetime.now()
        hh, mm = map(int, settings["schedule"]["time"].split(":"))
        state = self.store.load_state()
        if (now.hour, now.minute) >= (hh, mm):
            state["last_scheduled_run"] = now.date().isoformat()
        else:
            state.pop("last_scheduled_run", None)
        self.store.save_state(state)
        self.log.info("settings changed: %s", settings)
        return self.get_settings()

    async def scheduled_tick(self, now=None):
        """Called every minute: start the nightly restore point, then the daily export, when
        they are due (one job at a time: the export starts at a later tick)."""
        now = now or dt.datetime.now()
        if await self.points.tick(now) is not None:
            return None
        settings = self.store.load_settings()
        state = self.store.load_state()
        if not schedule_due(settings, now, state.get("last_scheduled_run")) or self.jobs.busy \
                or self.jobs.stopping:
            return None
        state["last_scheduled_run"] = now.date().isoformat()
        self.store.save_state(state)
        target = settings["schedule"]["target"]
        retention = settings["retention"]

        def work(job):
            meta = self._export(job, target, "scheduled")
            kept, deleted = plan_prune(self.store.list(), retention["keep"], retention["days"])
            for arch in deleted:
                self.store.delete(arch["name"])
                self.log.info("pruned archive %s (schedule)", arch["name"])
            return dict(meta, pruned=[a["name"] for a in deleted])

        self.log.info("scheduled export of %s", target)
        params = {"target": target, "kind": "scheduled"}
        try:
            with self.jobs.admission():
                await in_thread(self.check_space, expand_target(target))
                return self.jobs.submit("export", params, work)
        except Exception as e:  # no room, Docker away...: a failed job says it on the page
            self.log.error("scheduled export of %s refused: %s", target, e)
            return self.jobs.record_refusal("export", params, f"scheduled export refused: {e}")
