"""Closing a school year: the steps of a ClosePlan, in the one order that loses nothing.

1. **export**: the sidecar exports everything, named after the year, and the archive is verified
   (its sha256 read again). Nothing below runs without it.
2. **course:ID**, for each course (its teacher's server and processes stopped first, as they
   hold the gradebook open): its grades sheet (read from the gradebook as the teacher,
   year/teacher_side.py, in the course helper's child: one per teacher, one per core at a time)
   kept in the year's folder and in the teacher's home, the year's work moved aside in that home (a new gradebook follows), the exchange folder
   zipped, checked, then emptied.
3. **leavers**: the pupils marked as leaving are removed in one batch. Their homes are already
   in the year's verified export: each one's record names that export, from which the sidecar
   can bring the home back (no second archive is written), and each one's work is kept as a ZIP
   to hand over.
4. **classes**: every pupil leaves their classes and the courses' lists; empty class groups go.
5. **open**, when the close opens the next year in the same step: the next year's lists are
   imported as one (accounts.engine): returning pupils keep their account and join their new
   classes, the courses fill again by class name, newcomers get an account and a slip.

Once the export is verified, the leavers are marked as leaving in the registry (the pupils that the
next year's lists do not name, besides those the admin marked), so that a re-run finds them.
Each step is recorded in the year's journal once it is wholly done; a close killed anywhere and
run again skips what is recorded and converges. The plan is made anew at each run (those removed
are no longer leavers; a step that is done is skipped).
"""
import asyncio
import logging
import os
import time
import zipfile
from typing import Optional

from ..accounts.engine import Progress, Report, noop_progress
from ..files import write_whole
from ..jobs import IMPORT_STAGES, weighed
from ..sidecar.client import ExportsClient, SidecarError
from .course_year import CourseYearError, archive_exchange, empty_exchange, put_away_in_teachers_homes
from .journal import CloseJournal
from .plan import ClosePlan, CourseClose

log = logging.getLogger(__name__)

#: How the job's progress bar weighs each stage (see jobs.Job.progress).
STAGES = {"export": 50, "courses": 25, "remove": 15, "classes": 10}
STAGES_WITH_OPEN = {**STAGES, "open": 20}
#: The longest that an export of everything may take before the close gives up waiting.
EXPORT_TIMEOUT = 6 * 3600


class YearCloseError(RuntimeError):
    pass


class YearCloser:
    def __init__(self, operations, exports: Optional[ExportsClient], lang: str = "fr"):
        self.ops = operations
        self.exports = exports
        self.lang = lang

    async def run(self, plan: ClosePlan, progress: Progress = noop_progress, next_lists=None,
                  acting_admin: str = "") -> dict:
        """Run the plan's steps that the journal does not hold yet; returns the summary.
        next_lists: the next year's lists (bytes, or [(name, bytes)]) that plan.next_year
        previewed, imported once the year is closed."""
        journal = CloseJournal(self.ops.settings.years_dir, plan.school_year)
        warnings: list = []
        seconds = {}
        clock = time.monotonic()

        def lap(step):
            nonlocal clock
            seconds[step], clock = round(time.monotonic() - clock, 2), time.monotonic()

        export = await self.export(journal, plan.school_year, progress)
        lap("export")
        unmarked = [leaver.login for leaver in plan.leavers if not self.ops.registry.get(leaver.login).leaving]
        if unmarked:
            await self.ops.set_leaving(unmarked, True)
        await self.courses(journal, plan.courses, progress, warnings)
        lap("courses")
        removed, removal_seconds = await self.leavers(journal, plan, progress, warnings)
        lap("leavers")
        classes = await self.classes(journal, progress, warnings)
        lap("classes")
        opened = await self.open_next_year(next_lists, acting_admin, progress, warnings) if next_lists else None
        if next_lists:
            lap("open")
        if not warnings:
            journal.finish()
        summary = {"school_year": plan.school_year, "export": export, "removed": removed,
                   "classes": classes, "courses": [c.course_id for c in plan.courses], "warnings": warnings,
                   "finished": bool(journal.finished), "seconds": seconds,
                   "removal_seconds": removal_seconds}
        if opened is not None:
            summary["opened"], summary["credentials"] = opened
        return summary

    # 1. The year's export, verified

    async def export(self, journal: CloseJournal, school_year: str, progress: Progress) -> dict:
        if journal.done("export"):
            return journal.done("export")
        if self.exports is None:
            raise YearCloseError("no sidecar here: the year can only be closed after a verified export")
        progress("export", 0, 100)
        job = await self._export_job(school_year)
        job = await self.exports.wait_job(job["id"], poll=0.5, timeout=EXPORT_TIMEOUT,
                                          progress=lambda j: progress("export", 10, 100))
        if job["state"] != "done":
            raise YearCloseError(f"the year's export failed: {job.get('error') or job['state']}")
        name = job["result"]["name"]
        progress("export", 70, 100)
        check = await self.exports.verify(name)
        if not check.get("ok"):
            raise YearCloseError(f"the year's export {name} does not verify (sha256 {check.get('sha256')} "
                                 f"instead of {check.get('recorded_sha256')}); nothing else was done")
        result = {"name": name, "sha256": check["sha256"], "size": check.get("size")}
        journal.record("export", result)
        progress("export", 100, 100)
        return result

    async def _export_job(self, school_year: str) -> dict:
        """A new export of the year, or the one that a close interrupted before it was recorded
        (still running in the sidecar, or done): never a second one."""
        for job in await self.exports.jobs():
            params = job.get("params") or {}
            if job.get("kind") == "export" and params.get("school_year") == school_year \
                    and job.get("state") in ("queued", "running", "done"):
                return job
        try:
            return await self.exports.export("all", school_year=school_year)
        except SidecarError as exc:
            raise YearCloseError(f"the sidecar refused the year's export: {exc}") from None

    # 2. Each course

    async def courses(self, journal: CloseJournal, courses: list, progress: Progress, warnings: list) -> None:
        """Every course not done yet, in one run of the course helper (each teacher's courses in a
        child of theirs), then each course's exchange, one after the other."""
        todo = [c for c in courses if not journal.done(f"course:{c.course_id}")]
        done = len(courses) - len(todo)
        progress("courses", done, len(courses))
        if not todo:
            return
        # A teacher's running server holds the year's gradebook open (the Formgrader's engine):
        # it would go on writing to the file put away. Stopped first, it opens the new one next.
        for teacher in sorted({c.teacher for c in todo}):
            account = self.ops.registry.get(teacher)
            if account is not None:
                await self.ops.accounts.stop_everything_of(account)
        loop = asyncio.get_running_loop()
        batch = [(c.teacher, c.course_id, self.ops.courses.enrolled_students(c.course_id),
                  read_if_there(grades_sheet_path(journal.folder, c.course_id))) for c in todo]
        reports = await loop.run_in_executor(None, put_away_in_teachers_homes, journal.school_year, batch,
                                             self.lang, self.ops.settings.lang)
        for course in todo:
            report = reports[course.course_id]
            if isinstance(report, CourseYearError):
                warnings.append(f"{report}; its exchange folder is left as it is (run the close again)")
            else:
                await self.course(journal, course, report, warnings)
            done += 1
            progress("courses", done, len(courses))

    async def course(self, journal: CloseJournal, course: CourseClose, teacher: dict, warnings: list) -> None:
        """What follows a course's year put away in its teacher's home: its sheet kept here, its
        exchange folder zipped, checked and emptied, the step recorded."""
        loop = asyncio.get_running_loop()
        path = grades_sheet_path(journal.folder, course.course_id)
        if teacher["sheet"] and not os.path.exists(path):
            await loop.run_in_executor(None, write_whole, path, teacher["sheet"])
        elif not teacher["sheet"]:
            warnings.append(f"{course.course_id}: no grades sheet ({teacher.get('no_sheet')})")
        dest = os.path.join(journal.folder, "exchange", f"{course.course_id}.zip")
        files = await loop.run_in_executor(None, archive_exchange, self.ops.settings.exchange_root,
                                           course.course_id, dest)
        if files and not zip_is_sound(dest):
            raise YearCloseError(f"{course.course_id}: the ZIP of its exchange folder does not read back")
        emptied = await loop.run_in_executor(None, empty_exchange, self.ops.settings.exchange_root, course.course_id)
        journal.record(f"course:{course.course_id}", {
            "teacher": course.teacher, "sheet": bool(teacher["sheet"]), "moved": teacher["moved"],
            "exchange_files": files, "exchange_entries_removed": emptied})

    # 3. Leavers, 4. classes

    async def leavers(self, journal: CloseJournal, plan: ClosePlan, progress: Progress, warnings: list) -> tuple:
        """The plan's leavers (those still there: the plan is made anew at each run), each
        removed with its home kept in the year's export; the journal holds every one removed.
        Returns (every one removed, this run's seconds by part of a removal)."""
        before = (journal.done("leavers") or {}).get("removed", [])
        logins = [leaver.login for leaver in plan.leavers]
        timer = Report()
        # The classes' step converges next, unless a run before did it already.
        archives, failed = await self.ops.remove_many(logins, progress, journal.done("export"), timer,
                                                      converge_after=bool(journal.done("classes"))) \
            if logins else ({}, {})
        seconds = {k: round(v, 2) for k, v in timer.seconds.items()}
        if logins:
            log.info("%d leavers removed; seconds by part: %s", len(archives), seconds)
        warnings.extend(f"{login}: not removed ({why}); it stays disabled" for login, why in failed.items())
        removed = sorted(set(before) | set(archives))
        if logins and not failed:
            journal.record("leavers", {"removed": removed})
        return removed, seconds

    async def classes(self, journal: CloseJournal, progress: Progress, warnings: list) -> dict:
        if journal.done("classes"):
            return journal.done("classes")
        progress("classes", 0, 1)
        result = await self.ops.end_classes()
        warnings.extend(result.pop("warnings"))
        journal.record("classes", result)
        progress("classes", 1, 1)
        return result

    # 5. The next year

    async def open_next_year(self, next_lists, acting_admin: str, progress: Progress, warnings: list) -> tuple:
        """The next year's lists imported as one, on the closed year (planned again now: the
        leavers are gone and the classes empty). Not journalled: an import run again changes
        nothing more. Returns (the plan's counts and who was renamed, the new credentials)."""
        plan = self.ops.preview(next_lists, acting_admin=acting_admin)
        if plan.rejected:
            raise YearCloseError(f"{len(plan.rejected)} line(s) of the next year's lists are rejected now; the "
                                 "year is closed: correct them and import the lists from the Import page")
        report = await self.ops.import_plan(plan, weighed_as_one_stage("open", IMPORT_STAGES, progress))
        warnings.extend(report.warnings)
        renamed = sorted(p.login for p in plan.update if p.renamed)
        return {"counts": plan.counts(), "renamed": renamed}, report.credentials


def weighed_as_one_stage(name: str, stages: dict, progress: Progress) -> Progress:
    """A progress callback that reports an operation's own weighed stages as one stage, name, in
    percent."""
    fractions = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage in stages:
            fractions[stage] = done / total if total else 1.0
            progress(name, int(100 * weighed(stages, fractions)), 100)

    return report


def grades_sheet_path(year_folder: str, course_id: str) -> str:
    return os.path.join(year_folder, "grades", f"{course_id}.xlsx")


def read_if_there(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def zip_is_sound(path: str) -> bool:
    """Every member of the ZIP reads back with its CRC."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile):
        return False
