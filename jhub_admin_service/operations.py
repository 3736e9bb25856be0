"""Operations: every change of the product, in the one order that holds: accounts, then courses.

The CLI and the service both go through this class. It owns the lock that makes one change at
a time across processes, and says what follows an import, a reconcile or a change:

1. the accounts' registry write (``AccountManager``);
2. the local accounts (the hub admits only users that exist on the system);
3. side by side: the hub's users and groups (CPU in the hub) and the teachers' course folders
   (CPU in the course helper);
4. the courses' hub groups, once the hub knows the users.

Neither manager calls the other; both read the same registry, so a re-run, a crash-and-rerun
or a container start converges to the same state.
"""
import asyncio
import logging
from typing import Callable, Iterable, Optional

from .accounts import departures
from .accounts import local as localmod
from .accounts.engine import AccountError, AccountManager, Progress, Report, noop_progress
from .accounts.logins import generate_password
from .accounts.passwords import hash_many, hash_password
from .accounts.plan import Plan
from .accounts.registry import Registry
from .courses.manager import CourseManager
from .courses.rules import classes_given_to_teachers
from .hub import HubClient, HubUnreachable
from .locks import exclusive
from .settings import AdminSettings
from .sidecar.client import SidecarError
from .year.close import YearCloser
from .year.plan import ClosePlan, Sizes, plan_close

log = logging.getLogger(__name__)
#: The longest that the sidecar may take to bring one home back from a year's export (it reads
#: the whole archive, after a safety export of the homes).
EXPORT_RESTORE_TIMEOUT = 6 * 3600


class Operations:
    def __init__(self, settings: AdminSettings, registry: Optional[Registry] = None, readonly: bool = False,
                 lock_wait: float = 0.0):
        self.settings = settings
        self.registry = registry or Registry(settings.registry_path, readonly=readonly)
        self.hub = HubClient(settings.hub_api_url, settings.hub_api_token)
        self.accounts = AccountManager(settings, self.registry, self.hub)
        self.courses = CourseManager(settings, self.registry, self.hub)
        #: Seconds to wait for another operation to finish: the service answers Busy at once;
        #: the CLI waits (the container's start, or the service's own reconcile after a restart,
        #: holds the lock for a few seconds).
        self.lock_wait = lock_wait

    def locked(self):
        """One writer at a time across processes (the CLI and the service share the registry)."""
        return exclusive(self.settings.registry_path + ".lock", self.lock_wait)

    # The sequence

    async def _converge(self, report: Report, progress: Progress = noop_progress, local: bool = True,
                        hub: bool = True, courses: bool = True) -> None:
        """courses False: the courses follow at a later convergence (a batch's first step)."""
        if local:
            await self.accounts.converge_local(report, progress)
        else:
            progress("local accounts", 1, 1)  # nothing to do here
        hub_users = asyncio.ensure_future(self.accounts.converge_hub(report, progress)) if hub else None
        try:
            if courses:
                with report.stage("courses"):
                    await self._converge_courses(report, local, hub, hub_users)
        except asyncio.CancelledError:
            if hub_users is not None:
                hub_users.cancel()
            raise
        if hub_users is not None:
            await hub_users  # its errors are the operation's

    async def _converge_courses(self, report, local, hub, hub_users_ready):
        """The courses follow every account change; their problems are warnings, never the
        accounts' failure (``jhub-admin courses sync`` finishes them)."""
        try:
            result = await self.courses.sync(local=local, hub=hub, hub_users_ready=hub_users_ready)
            report.warnings.extend(result.get("warnings", []))
        except Exception as exc:  # noqa: BLE001 (the accounts are done)
            log.exception("course sync failed")
            report.warnings.append(f"courses not synchronised ({exc}); run `jhub-admin courses sync`")

    # Accounts

    def preview(self, data, reset_passwords: bool = False, acting_admin: str = "") -> Plan:
        """One file's bytes, or several files ([(name, bytes)]) previewed as one list."""
        return self.accounts.preview(data, reset_passwords, acting_admin)

    async def import_plan(self, plan: Plan, progress: Progress = noop_progress) -> Report:
        """Apply a previewed plan; the report holds the new passwords, to be shown once."""
        with self.locked():
            report = Report(counts=plan.counts())
            async with self.accounts.applying(plan, report, progress):
                # A teacher's classes on their roster line: their default course takes them.
                report.enrolled = dict(self.courses.enrol_teachers_classes(classes_given_to_teachers(plan)))
                await self._converge(report, progress)
            return report

    async def reconcile(self, local: bool = True, hub: bool = True, progress: Progress = noop_progress) -> Report:
        with self.locked():
            report = Report()
            await self._converge(report, progress, local=local, hub=hub)
            return report

    async def reset_password(self, login: str, password: Optional[str] = None) -> str:
        """Set a new password (generated unless given); returns it, to be shown once."""
        password, hashed = await self.accounts.new_password(login, password)
        with self.locked():
            self.accounts.record_password(login, hashed)
            await self._converge(Report())
        return password

    async def change_own_password(self, login: str, new_password: str) -> None:
        """A user's own choice of password (the caller checked the current one)."""
        account = self.accounts.get(login)
        if account.disabled:
            raise AccountError(f"{login!r} is disabled")
        _, hashed = await self.accounts.new_password(login, new_password)
        with self.locked():
            self.accounts.record_password(login, hashed, chosen_by_user=True)
            await self.accounts.converge_local(Report())  # a password is only the system's business

    async def set_disabled(self, login: str, disabled: bool) -> None:
        """A disabled account cannot log in, its server is stopped and every process of its uid
        killed (a detached one too)."""
        await self.set_disabled_many([login], disabled)

    async def set_disabled_many(self, logins: list, disabled: bool) -> None:
        """Disable or enable several accounts at once: one registry transaction, one convergence."""
        with self.locked():
            self.accounts.record_disabled(logins, disabled)
            await self._converge(Report())
            if disabled:
                for login in logins:
                    await self.accounts.stop_everything_of(self.accounts.get(login))

    async def set_leaving(self, logins: list, leaving: bool) -> None:
        """Mark accounts as leaving at the end of the year, or not any more: the registry only."""
        with self.locked():
            self.accounts.record_leaving(logins, leaving)

    async def reset_passwords(self, logins: list, progress: Progress = noop_progress) -> dict:
        """New generated passwords for several accounts: {login: password}, to be shown once.
        Hashed on every core before the lock; recorded in one transaction; one convergence."""
        for login in logins:
            self.accounts.get(login)
        passwords = {login: generate_password() for login in logins}
        loop = asyncio.get_running_loop()
        hashes = await loop.run_in_executor(None, lambda: hash_many(
            list(passwords.values()), on_progress=lambda done: progress("hashing", done, len(logins))))
        with self.locked():
            self.accounts.record_new_passwords(dict(zip(passwords, hashes)))
            await self._converge(Report(), progress)
        return passwords

    async def change(self, login: str, role: Optional[str] = None, classes: Optional[list] = None,
                     admin: Optional[bool] = None) -> None:
        """A new role, classes, or admin rights for a teacher (None: left as it is)."""
        with self.locked():
            self.accounts.record_change(login, role=role, classes=classes, admin=admin)
            await self._converge(Report())

    async def set_classes(self, logins: list, classes: list) -> None:
        """Give several accounts the same classes (a class list without classes, say), at once."""
        with self.locked():
            self.accounts.record_classes(logins, classes)
            await self._converge(Report())

    async def remove(self, login: str) -> Optional[str]:
        """Remove one account (see remove_many); returns its home's archive."""
        archives, failed = await self.remove_many([login])
        if failed:
            raise AccountError(failed[login])
        return archives[login]

    async def remove_many(self, logins: list, progress: Progress = noop_progress,
                          kept_in: Optional[dict] = None, timer: Optional[Report] = None,
                          converge_after: bool = True) -> tuple:
        """Disable the accounts first, in one transaction and one convergence (they can no longer
        log in, their servers and hub users go), then, one account after the other, archive the
        home and delete the account everywhere (its registry row last of all), then converge once.
        A removal killed or failing halfway leaves each account whole, disabled, or removed with
        its home archived; never one that a reconcile would bring back able to log in. One that
        fails (a home that cannot be archived) stays disabled, and the others go on. kept_in: the
        year's verified export, which holds every home already (engine.remove). timer: a Report
        that adds up the seconds of each part of the removals. converge_after False: the caller
        converges next (the year's close ends the classes), so a removal run to its end does not.
        Returns
        ({login: the archive's path}, {login: why it was not removed})."""
        with self.locked():
            self.accounts.record_disabled(logins, True)
            # Local and hub only: they can no longer log in and their servers go; the courses
            # follow the removals at the last convergence.
            await self._converge(Report(), courses=False)
            # The convergence deleted the hub users of disabled accounts: ask the hub once which
            # are left, rather than three times per account.
            in_hub = await self._hub_user_names()
            archives, failed = {}, {}
            try:
                for done, login in enumerate(logins):
                    progress("remove", done, len(logins))
                    try:
                        archives[login] = await self.accounts.remove(login, in_hub is None or login in in_hub, kept_in,
                                                                     timer)
                    except (AccountError, OSError, localmod.ShadowToolError) as exc:
                        log.error("removal of %s failed: %s", login, exc)
                        failed[login] = str(exc)
                progress("remove", len(logins), len(logins))
            finally:
                if converge_after or len(archives) + len(failed) < len(logins):
                    await self._converge(Report())
            return archives, failed

    async def end_classes(self) -> dict:
        """The year's end for classes: every account leaves its classes (pupils, and the teachers
        given them by last year's lists; a course keeps the class names it teaches), the courses
        forget their pupils enrolled one by one (in one transaction), everything converges, then
        the class groups left empty go."""
        with self.locked():
            in_classes = [a for a in self.registry.accounts() if a.classes]
            self.accounts.record_classes([a.login for a in in_classes], [])
            self.courses.end_pupil_enrolments()
            report = Report()
            await self._converge(report)
            with report.stage("empty groups"):
                groups = await self.accounts.remove_empty_class_groups()
            return {"pupils": sum(a.role == "student" for a in in_classes), "accounts": len(in_classes),
                    "groups_removed": groups, "warnings": report.warnings,
                    "seconds": {k: round(v, 2) for k, v in report.seconds.items()}}

    async def restore_account(self, archive_name: str, exports=None) -> tuple:
        """A removed account back from what its removal kept: (account, its new password, to be
        shown once). Its home comes back as it was, from its tar.gz, or from the year's export
        through the sidecar (exports: its client) for a leaver of a year's close; it has no class."""
        departed = departures.find(self.settings.archive_dir, archive_name)
        if departed is None:
            raise AccountError(f"no archive {archive_name!r} of a removed account to restore")
        if departed.export is not None and not self.accounts.home_is_back(departed):
            await self._home_from_export(departed, exports)
        password = generate_password()
        hashed = await asyncio.get_running_loop().run_in_executor(None, hash_password, password)
        with self.locked():
            account = await self.accounts.restore(departed, hashed)
            await self._converge(Report())
        return account, password

    async def _home_from_export(self, departed: departures.Departed, exports,
                                progress: Progress = noop_progress) -> None:
        """The sidecar's one-user restore of the home from the year's export (verified, with its
        safety export first, as every restore). Refused before anything when the login is taken."""
        problem = self.accounts.restore_problem(departed)
        if problem:
            raise AccountError(problem)
        export = departed.export
        if exports is None:
            raise AccountError(f"the home of {departed.login!r} is in the year's export {export['name']}: "
                               "the sidecar is needed to bring it back")
        try:
            job = await exports.restore(export["name"], export["sha256"], user=departed.login)
            job = await exports.wait_job(job["id"], poll=1.0, timeout=EXPORT_RESTORE_TIMEOUT)
        except SidecarError as exc:
            raise AccountError(f"the sidecar could not restore the home of {departed.login!r} from "
                               f"{export['name']}: {exc}") from None
        if job["state"] != "done":
            raise AccountError(f"the sidecar's restore of the home of {departed.login!r} from {export['name']} "
                               f"failed: {job.get('error') or job['state']}")

    async def _hub_user_names(self) -> Optional[set]:
        """The hub's user names; None when there is no hub to ask."""
        if not self.hub.configured:
            return set()
        try:
            return set(await self.hub.users())
        except (OSError, HubUnreachable):
            return None

    async def bootstrap_admin(self, login: str, password: Optional[str] = None) -> Optional[str]:
        """Create the first admin once. Returns its password when it was just created, else None."""
        problem = self.accounts.first_admin_problem(login)
        if problem:
            raise AccountError(problem)
        if self.registry.get(login) is not None:
            return None
        password = password or generate_password()
        hashed = await asyncio.get_running_loop().run_in_executor(None, hash_password, password)
        with self.locked():
            self.accounts.record_first_admin(login, hashed)
            await self._converge(Report())
        return password

    # Courses: each change is written, then the courses converge (the accounts are unchanged)

    async def change_courses(self, change: Callable[[CourseManager], None], local: bool = True,
                             hub: bool = True, force: bool = False) -> dict:
        """Run change(course_manager) (a registry write, or nothing), then sync the courses.
        Returns the sync's report ({"warnings": [...], ...})."""
        with self.locked():
            change(self.courses)
            return await self.courses.sync(local=local, hub=hub, force=force)

    async def create_course(self, course_id: str, teacher: str, as_default: bool = False) -> dict:
        return await self.change_courses(lambda cm: cm.create(course_id, teacher, as_default))

    async def enrol(self, course_id: str, classes: Iterable[str] = (), students: Iterable[str] = ()) -> dict:
        return await self.change_courses(lambda cm: cm.enrol(course_id, list(classes), list(students)))

    async def unenrol(self, course_id: str, classes: Iterable[str] = (), students: Iterable[str] = ()) -> dict:
        return await self.change_courses(lambda cm: cm.unenrol(course_id, list(classes), list(students)))

    async def sync_courses(self, local: bool = True, hub: bool = True, force: bool = False) -> dict:
        return await self.change_courses(lambda cm: None, local=local, hub=hub, force=force)

    # The school year

    def plan_year_close(self, school_year: str, sizes: Sizes = Sizes(), next_lists=None,
                        acting_admin: str = "") -> ClosePlan:
        """What closing school_year does, from the registry and the courses (no effect); with
        next_lists (bytes, or [(name, bytes)]), opening the next year with them in the same step."""
        next_year = self.preview(next_lists, acting_admin=acting_admin) if next_lists else None
        return plan_close(school_year, self.registry.accounts(), self.courses.store.courses(), sizes, next_year)

    async def close_year(self, plan: ClosePlan, exports, progress: Progress = noop_progress, lang: str = "fr",
                         next_lists=None, acting_admin: str = "") -> dict:
        """Run a close's steps (year/close.py), then the next year's import when next_lists are
        given: each step takes the lock for itself, so that the export's long wait never holds
        the accounts."""
        return await YearCloser(self, exports, lang).run(plan, progress, next_lists, acting_admin)
