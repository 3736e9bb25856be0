"""CourseManager: writes the course tables, then converges their effects with ``sync()``.

The effects: the exchange root, the course folders and gradebooks in each teacher's home
(written by one batch process per teacher, running AS the teacher, so every file there stays
the teacher's), and the hub groups ``formgrade-<course>`` (its teacher) and
``nbgrader-<course>`` (its students). The manager is given the registry, the hub client and the
settings; it never calls the accounts engine. ``operations.Operations`` runs it after the
accounts, under the same lock.
"""
import asyncio
import logging
import os
import pwd
from typing import Awaitable, Iterable, List, Optional

from ..accounts.registry import Registry
from ..hub import HubClient
from ..settings import AdminSettings
from .gradebook_reader import GradebookUnreadable, read_as_teacher
from .grades import Sheet, Student, grades_sheet, question_sheet
from .exchange import (ExchangeError, count_assignments, course_folder_problems, prepare_exchange,
                       released_assignments, secure_course_folder)
from .rules import (Course, CourseError, course_id_problem, departures, members, missing_default_courses,
                    plan_enrol, plan_unenrol, wanted_course_groups)
from .store import CourseStore
from .teacher_homes import TeacherBatchError, apply_as_teachers, course_files_present

log = logging.getLogger(__name__)

#: The edition of the example notebooks a teacher is given once (teacher_homes.give_examples_once);
#: changing it makes the next sync visit every teacher.
EXAMPLES_EDITION = 1


class CourseManager:
    """Courses from the CLI, the service and the import path: reads, registry writes, sync()."""

    def __init__(self, settings: AdminSettings, registry: Registry, hub: HubClient):
        self.settings = settings
        self.registry = registry
        self.hub = hub
        self.store = CourseStore(registry)

    def accounts(self) -> dict:
        return self.registry.by_login()

    def list(self) -> list:
        accounts = self.accounts()
        out = []
        for c in self.store.courses():
            item = c.to_json()
            item["members"] = sorted(members(c, accounts))
            item["n_students"] = len(item["members"])
            item["assignments"] = count_assignments(os.path.join(self.settings.home_root, c.teacher, c.course_id))
            item["released"] = released_assignments(self.settings.exchange_root, c.course_id)
            item["exchange_problems"] = self.exchange_problems(c)
            out.append(item)
        return out

    def grades(self, course_id: str, assignment: Optional[str] = None, lang: str = "fr") -> Sheet:
        """The course's grades sheet (or one assignment's, question by question), read from the
        teacher's gradebook as the teacher (gradebook_reader); GradebookUnreadable if it cannot be."""
        course = self._course(course_id)
        accounts = self.accounts()
        try:
            home = pwd.getpwnam(course.teacher).pw_dir
        except KeyError:
            raise GradebookUnreadable(f"{course_id}: its teacher {course.teacher} has no local account") from None
        data = read_as_teacher(course.teacher, os.path.join(home, course_id), course_id, assignment)
        enrolled = self.enrolled_students(course_id)
        if assignment:
            return question_sheet(course_id, assignment, data, enrolled, lang)
        return grades_sheet(course_id, data, enrolled, lang)

    def enrolled_students(self, course_id: str) -> List[Student]:
        """The course's students as its grades sheet names them (the disabled too), each with the
        classes of theirs that the course teaches."""
        course, accounts = self._course(course_id), self.accounts()
        enrolled = []
        for login in members(course, accounts, include_disabled=True):
            a = accounts[login]
            in_course = [k for k in a.classes if k in course.classes] or a.classes
            enrolled.append(Student(login, a.last_name or "", a.first_name or "", ", ".join(in_course)))
        return enrolled

    def exchange_problems(self, course: Course) -> list:
        """What is wrong with the course's folders in the exchange (the next sync repairs it)."""
        if not self.settings.manage_local_accounts:
            return []
        try:
            uid = pwd.getpwnam(course.teacher).pw_uid
        except KeyError:
            return []  # no local teacher yet: the sync says so
        return course_folder_problems(self.settings.exchange_root, course.course_id, uid)

    # Writes to the registry

    def _teacher(self, login):
        a = self.registry.get(login)
        if a is None:
            raise CourseError(f"no account {login!r} is managed by jhub-admin")
        if a.role not in ("teacher", "admin"):
            raise CourseError(f"{login!r} is a {a.role}, not a teacher")
        return a

    def _course(self, course_id):
        c = self.store.get(course_id)
        if c is None:
            raise CourseError(f"no course {course_id!r}")
        return c

    def create(self, course_id: str, teacher: str, as_default: bool = False) -> None:
        problem = course_id_problem(course_id)
        if problem:
            raise CourseError(f"{course_id!r}: {problem}")
        self._teacher(teacher)
        existing = self.store.get(course_id)
        if existing is not None:
            raise CourseError(f"course {course_id!r} already exists (teacher: {existing.teacher})")
        own = [c for c in self.store.courses() if c.teacher == teacher]
        with self.registry.transaction() as db:
            self.store.insert(db, course_id, teacher, is_default=not own)
            if as_default:
                self.store.set_default(db, teacher, course_id)
                # The automatic course gives way when the admin names the teacher's course, as
                # long as nobody was enrolled in it (its folder, if any, stays in the home).
                for c in own:
                    if c.auto and not (c.classes or c.students):
                        self.store.delete(db, c.course_id)

    def ensure_default_courses(self) -> List[tuple]:
        todo = missing_default_courses(self.accounts(), self.store.courses())
        if todo:
            with self.registry.transaction() as db:
                for cid, teacher in todo:
                    self.store.insert(db, cid, teacher, is_default=True, auto=True)
        return todo

    def enrol_teachers_classes(self, teacher_classes: dict) -> List[tuple]:
        """Each teacher's default course takes the classes given ({teacher: classes}: the class
        column of their roster line); [(course_id, classes added)]."""
        self.ensure_default_courses()
        accounts = self.accounts()
        default = {c.teacher: c for c in self.store.courses() if c.is_default}
        done = []
        with self.registry.transaction() as db:
            for teacher, classes in sorted(teacher_classes.items()):
                course = default.get(teacher)
                added = [k for k in classes if course is not None and k not in course.classes]
                if added:
                    self.store.set_enrolment(db, course.course_id, *plan_enrol(course, accounts, added, ()))
                    done.append((course.course_id, added))
        return done

    def enrol(self, course_id: str, classes: Iterable[str] = (), students: Iterable[str] = ()) -> None:
        course = self._course(course_id)
        new = plan_enrol(course, self.accounts(), classes, students)
        with self.registry.transaction() as db:
            self.store.set_enrolment(db, course_id, *new)

    def unenrol(self, course_id: str, classes: Iterable[str] = (), students: Iterable[str] = ()) -> None:
        course = self._course(course_id)
        new = plan_unenrol(course, self.accounts(), classes, students)
        with self.registry.transaction() as db:
            self.store.set_enrolment(db, course_id, *new)

    def end_pupil_enrolments(self) -> None:
        """At the year's end every course lets its pupils go: those enrolled or unenrolled one by
        one are forgotten; the class names that it teaches stay, for next year's lists to fill."""
        with self.registry.transaction() as db:
            for course in self.store.courses():
                self.store.set_enrolment(db, course.course_id, course.classes, [], [])

    # Convergence

    async def sync(self, local: bool = True, hub: bool = True, force: bool = False,
                   hub_users_ready: Optional[Awaitable[Optional[set]]] = None) -> dict:
        """Default courses, then the teachers' homes (as the teachers), then the hub groups.

        ``hub_users_ready``: an awaitable that the hub groups wait for (the accounts' own hub
        sync, which runs meanwhile: a course group can only hold users the hub knows). It gives
        the names of the hub's users, or None to read them from the hub."""
        report = {"default_courses": [cid for cid, _ in self.ensure_default_courses()], "warnings": []}
        accounts = self.accounts()
        courses = self.store.courses()
        if local:
            prepare_exchange(self.settings.exchange_root)
            if self.settings.manage_local_accounts:
                report["exchange_repairs"] = self.secure_exchange(courses, report["warnings"])
                # The helper process does the work: off the event loop (the service).
                loop = asyncio.get_running_loop()
                todo = self.homes_to_update(courses, accounts, report["warnings"], force)
                results = await loop.run_in_executor(None, apply_as_teachers, todo, self.settings.lang)
                report["homes"] = self.record_homes(todo, results, report["warnings"])
        hub_users = None
        if hub_users_ready is not None:
            try:
                hub_users = await hub_users_ready
            except Exception:  # noqa: BLE001 (the accounts' hub sync failed: it reports it itself)
                return report
        if hub and self.hub.configured:
            report["hub"] = await self.sync_hub(courses, accounts, hub_users)
        return report

    def secure_exchange(self, courses: Iterable[Course], warnings: List[str]) -> List[str]:
        """Every course's folders in the exchange, the teacher's before any student can make them
        (at every sync: a few lstat per course). The repairs are warnings too: a squatted folder
        is something the admin should hear of."""
        repairs = []
        for c in courses:
            try:
                teacher = pwd.getpwnam(c.teacher)
            except KeyError:
                continue  # no local teacher yet: homes_to_update says so
            try:
                repairs += secure_course_folder(self.settings.exchange_root, c.course_id, teacher)
            except (OSError, ExchangeError) as exc:
                warnings.append(f"{c.course_id}: exchange folder not secured ({exc})")
        warnings.extend(repairs)
        return repairs

    def homes_to_update(self, courses: Iterable[Course], accounts: dict, warnings: List[str],
                        force: bool = False) -> List[tuple]:
        """[(teacher, spec)] for each teacher whose courses changed since the last sync (or whose
        course files are missing)."""
        all_students = sorted(login for login, a in accounts.items() if a.role == "student")
        by_teacher = {}
        for c in courses:
            by_teacher.setdefault(c.teacher, []).append(c)
        last = self.store.last_specs()
        todo = []
        for teacher, own in sorted(by_teacher.items()):
            a = accounts.get(teacher)
            if a is None or a.disabled:
                continue
            try:
                home = pwd.getpwnam(teacher).pw_dir
            except KeyError:
                warnings.append(f"{teacher}: no local account yet; run `jhub-admin reconcile` first")
                continue
            spec = {"home": home, "examples": EXAMPLES_EDITION, "courses": [
                {"course_id": c.course_id, "is_default": c.is_default, "classes": sorted(c.classes),
                 "students": [{"id": s, "first_name": accounts[s].first_name, "last_name": accounts[s].last_name}
                              for s in sorted(members(c, accounts, include_disabled=True))]}
                for c in sorted(own, key=lambda c: (not c.is_default, c.course_id))]}
            previous = last.get(teacher)
            if not force and previous == spec and course_files_present(spec):
                continue
            before = {c["course_id"]: [s["id"] for s in c["students"]] for c in (previous or {}).get("courses", [])}
            for c in spec["courses"]:
                # Students leave a gradebook only if jhub-admin put them there (never one the
                # teacher added), and keep their grades there (teacher_homes.teacher_apply).
                managed = before.get(c["course_id"], all_students) if previous else all_students
                c["departed"] = departures(managed, [s["id"] for s in c["students"]], accounts)
            todo.append((teacher, spec))
        return todo

    def record_homes(self, todo: Iterable[tuple], results: dict, warnings: List[str]) -> dict:
        """Remember what each teacher's batch wrote (to skip them next time); {teacher: report}."""
        out = {}
        with self.registry.transaction() as db:
            for teacher, spec in todo:
                result = results[teacher]
                if isinstance(result, TeacherBatchError):
                    warnings.append(str(result))
                    continue
                out[teacher] = result
                for c in spec["courses"]:
                    del c["departed"]
                self.store.save_spec(db, teacher, spec)
        return out

    async def sync_hub(self, courses: Iterable[Course], accounts: dict, hub_users: Optional[set] = None) -> dict:
        hub = self.hub
        wanted = wanted_course_groups(courses, accounts)
        existing = await hub.groups()
        # Hub users first: a course group cannot hold a user the hub does not know yet.
        users = hub_users if hub_users is not None else set(await hub.users())
        wanted = {g: {u for u in m if u in users} for g, m in wanted.items()}
        await hub.sync_groups(wanted, existing)
        return {"groups": len(wanted)}
