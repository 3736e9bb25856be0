"""A restore as a job, its journal, and the recovery of the jobs that a stop or a restart of the
sidecar interrupted.

A restore verifies the archive (a restore point needs not: restic checks each piece it reads),
takes a safety export, then runs helpers (scripts.py; a point's extraction is restic's,
points/helper.py):
``extract`` into staging folders, ``swap`` by renames, ``discard`` of the staging folders (the
``cleanup`` after a swap, or the ``rollback`` of an extraction). Before each helper, the job's
file on the archives volume (its ``journal``) records the step begun, so that whatever stops the
sidecar (SIGTERM, a crash, the host's restart), the next start knows what to do:

===================  =================================================================
journal step         at the next start
===================  =================================================================
(none)               nothing was touched yet: the job is marked rolled back
extract, rollback    the staging folders are discarded: rolled back, volumes unchanged
swap                 the swap is run again (idempotent), then the cleanup: completed
cleanup              the restore was complete: the staging folders are discarded
===================  =================================================================

At SIGTERM the running step is cut short when it can be undone (verification, safety export,
extraction: the staging folders are discarded at once) and waited for when it cannot (the swap,
a few renames).
"""
import os
import time

from .jobs import (
    COMPLETED_AFTER_RESTART,
    RECOVERY_PENDING,
    ROLLED_BACK_AFTER_RESTART,
    Cancelled,
)
from .engine import HelperFailed
from .template import point_extract_body, restore_body

#: The journal's steps, and the helper script (scripts.py) that each runs.
HELPER_OF_STEP = {"extract": "extract", "swap": "swap", "cleanup": "discard", "rollback": "discard"}


class Restore:
    def __init__(self, sidecar):
        self.sidecar = sidecar
        self.log = sidecar.log

    # the job ----------------------------------------------------------------------------
    def run(self, job, name: str, sha256: str, targets: list, user) -> dict:
        """A restore from an archive: verified first."""
        meta = self.sidecar.store.meta(name)
        try:
            self._verify(job, name, sha256, meta)
        except Cancelled as e:
            raise Cancelled(f"{e}; nothing was restored") from None
        return self._restore(job, {"archive": name, "targets": targets, "user": user,
                                   "compressor": meta.get("compression", self.sidecar.compressor)})

    def run_point(self, job, point: str, targets: list, user) -> dict:
        """A restore from a restore point (restic checks each piece it reads against its hash)."""
        return self._restore(job, {"point": point, "targets": targets, "user": user})

    def _restore(self, job, journal: dict) -> dict:
        """Safety export, then extract, swap, cleanup, each journalled (``journal`` names the
        source: an ``archive`` or a ``point``)."""
        sc = self.sidecar
        targets, user = journal["targets"], journal["user"]
        name = journal.get("archive") or f"restore point {journal['point'][:8]}"
        try:
            job.update(phase="safety export")
            safety_target = targets[0] if len(targets) == 1 else "all"
            safety = sc._export(job, safety_target, "safety")
        except Cancelled as e:
            raise Cancelled(f"{e}; nothing was restored") from None
        source = {k: journal[k] for k in ("archive", "point") if k in journal}
        result = {**source, "restored": [], "safety_archive": safety["name"], "targets": targets, "user": user}
        job.update(phase="restore", result=result)  # the safety archive's name, whatever follows
        job.progress_path = None
        disc = sc.engine.discover()
        if user is None:
            sc._check_not_in_use(targets)  # again: the hub may have been started meanwhile
        try:
            self._step(job, disc, journal, "extract", cancel=job.cancel)
        except BaseException as e:
            self._rollback(job, disc, journal)  # nothing else was touched
            if isinstance(e, Cancelled):
                raise Cancelled("the sidecar was stopped while the content was extracted into "
                                "staging folders, which were removed; nothing was restored") from None
            raise
        try:  # never cut short: a few renames, and a restart would finish it anyway
            stdout = self._step(job, disc, journal, "swap")
        except HelperFailed as e:
            raise HelperFailed(f"{e}; the sidecar finishes this restore at its next start") from None
        result = dict(result, restored=restored_lines(stdout))
        job.update(result=result)
        try:
            self._step(job, disc, journal, "cleanup", cancel=job.cancel)
            job.update(journal=None)
        except Cancelled:  # the restore is complete; the next start removes the staging folders
            pass
        self.log.info("restore of %s (%s%s) done; safety export %s", name, ",".join(targets),
                      f" user {user}" if user else "", safety["name"])
        return result

    def _verify(self, job, name, sha256, meta) -> None:
        job.update(phase="verify", total_bytes=meta.get("size"))

        def progress(n):
            if job.cancel.is_set():
                raise Cancelled("the sidecar was stopped during the archive's verification")
            job.bytes = n

        check = self.sidecar.store.verify(name, progress)
        if not check["ok"] or check["sha256"] != sha256:
            raise HelperFailed(f"archive {name} is corrupt: sha256 {check['sha256']}, "
                               f"recorded {check['recorded_sha256']}")

    def _step(self, job, disc, journal: dict, step: str, cancel=None) -> str:
        """Record the step in the journal (fsynced), then run its helper."""
        journal = dict(journal, step=step)
        job.update(journal=journal)
        if step == "extract" and journal.get("point"):
            body = point_extract_body(image=disc.image, project=disc.project, job_id=job.id,
                                      volumes=disc.volumes, backups_volume=disc.backups_volume,
                                      keys_volume=disc.keys_volume, targets=journal["targets"],
                                      snapshot=journal["point"], user=journal["user"])
        else:
            body = restore_body(image=disc.image, project=disc.project, job_id=job.id,
                                volumes=disc.volumes, backups_volume=disc.backups_volume,
                                targets=journal["targets"], archive=journal.get("archive"),
                                compressor=journal.get("compressor"), user=journal["user"],
                                step=HELPER_OF_STEP[step])
        stdout, _ = self.sidecar.engine.run_helper(body, timeout=self.sidecar.helper_timeout,
                                                   cancel=cancel, on_started=self._failpoint(step))
        return stdout

    def _rollback(self, job, disc, journal) -> None:
        """Remove the staging folders; on failure the journal stays open for the next start."""
        try:
            self._step(job, disc, journal, "rollback")
            job.update(journal=None)
        except Exception as e:
            self.log.error("job %s: staging folders not removed (%s); retried at the next start",
                           job.id, e)

    def _failpoint(self, step: str):
        """The crash tests' failpoint: the process dies while the step's helper runs."""
        if self.sidecar.failpoint != f"exit-during-{step}":
            return None

        def die():
            self.log.warning("failpoint %s: exiting now", self.sidecar.failpoint)
            os._exit(70)
        return die

    # the recovery, at start -----------------------------------------------------------------
    def recover(self, job) -> None:
        """Finish or roll back a job that a stop or a restart interrupted; idempotent."""
        step = (job.journal or {}).get("step")
        now = time.time()
        try:
            if step in ("swap", "cleanup"):
                self._recover_forward(job, step)
            else:
                if step in ("extract", "rollback"):
                    self._step(job, self.sidecar.engine.discover(), job.journal, "rollback")
                job.update(journal=None)
                if job.state in ("queued", "running"):
                    job.update(state="failed", finished=now, recovery=ROLLED_BACK_AFTER_RESTART,
                               error=f"interrupted by a restart of the sidecar during the "
                                     f"{job.phase or 'start'} and rolled back: nothing was restored")
        except Exception as e:
            job.update(state="failed", finished=job.finished or now, recovery=RECOVERY_PENDING,
                       error=f"interrupted by a restart of the sidecar at step {step}; finishing "
                             f"it failed ({e}); the sidecar tries again at its next start")
            self.log.error("job %s: recovery failed: %s", job.id, e)
            return
        self.log.info("job %s recovered: %s %s", job.id, job.state, job.recovery)

    def _recover_forward(self, job, step: str) -> None:
        disc = self.sidecar.engine.discover()
        result = dict(job.result or {})
        if step == "swap":
            stdout = self._step(job, disc, job.journal, "swap")
            result["restored"] = restored_lines(stdout)
        self._step(job, disc, job.journal, "cleanup")
        fields = {"journal": None, "result": result}
        if job.state != "done":  # a restore that was complete keeps its outcome
            fields.update(state="done", error=None, finished=time.time(),
                          recovery=COMPLETED_AFTER_RESTART)
        job.update(**fields)


def recover_export(job) -> None:
    """An export that a restart interrupted: its temporary file is removed at start."""
    job.update(state="failed", finished=time.time(), recovery=ROLLED_BACK_AFTER_RESTART,
               error="interrupted by a restart of the sidecar; its partial archive was removed")


def restored_lines(stdout: str) -> list:
    return [line.split(" ", 1)[1] for line in stdout.splitlines()
            if line.startswith("JHUB-RESTORED ")]
