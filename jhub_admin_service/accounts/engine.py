"""AccountManager: the accounts' part of every operation, as steps.

Each change writes the registry first, in one transaction; the effects (local accounts, hub
users and groups) then converge from the registry. ``operations.Operations`` sequences these
steps with the courses' under one lock; this module never calls the courses.
"""
import asyncio
import grp
import logging
import os
import pwd
import threading
import time
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable, Iterator, Optional, Union

from ..hub import HubClient, HubUnreachable
from ..settings import AdminSettings
from . import departures, handover
from . import local as localmod
from .groups import HUB_GROUPS, LOCAL_GROUPS
from .logins import generate_password, login_problem, password_problem
from .passwords import hash_many, hash_password
from .plan import Plan, PlannedAccount, make_plan
from .registry import FIRST_UID, LAST_UID, NO_PASSWORD, Account, Registry
from .roster import ROLES, read_roster, read_rosters

log = logging.getLogger(__name__)

#: The hashing threads' nice value: the work beside them goes first, they take the idle CPU.
HASHING_NICENESS = 10

Progress = Callable[[str, int, int], None]


class AccountError(ValueError):
    """A request about one account that cannot be honoured (unknown login, bad value...)."""


@dataclass
class Report:
    counts: dict = field(default_factory=dict)
    local: dict = field(default_factory=dict)
    hub: dict = field(default_factory=dict)
    credentials: list = field(default_factory=list)  # clear passwords: shown once, never logged
    warnings: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)  # time spent per stage
    enrolled: dict = field(default_factory=dict)  # {course: classes} its teacher's roster line gave it

    def to_json(self) -> dict:
        return {"counts": self.counts, "local": self.local, "hub": self.hub, "warnings": self.warnings,
                "enrolled": self.enrolled,
                "credentials": len(self.credentials), "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.monotonic() - start


def noop_progress(stage: str, done: int, total: int) -> None:
    pass


def credential(account: Union[Account, PlannedAccount], password: str) -> dict:
    """What the credentials file and the slips show of one account (planned or registered)."""
    return {"login": account.login, "password": password, "role": account.role, "classes": list(account.classes),
            "first_name": account.first_name, "last_name": account.last_name, "hub_admin": account.hub_admin,
            "birth_date": account.birth_date, "external_id": account.external_id}


class AccountManager:
    def __init__(self, settings: AdminSettings, registry: Registry, hub: HubClient,
                 local: Optional[localmod.LocalAccounts] = None):
        self.settings = settings
        self.registry = registry
        self.hub = hub
        self.local = local or localmod.LocalAccounts(settings.home_root)

    # Import

    def preview(self, data: Union[bytes, list], reset_passwords: bool = False, acting_admin: str = "") -> Plan:
        """File bytes, or several files ([(name, bytes)]: a new year's lists, previewed as one)
        -> Plan. Raises RosterError when a file is not a class list."""
        roster = read_rosters(data) if isinstance(data, list) else read_roster(data)
        system_logins = {u.pw_name for u in pwd.getpwall()}
        system_groups = {g.gr_name for g in grp.getgrall()}
        return make_plan(roster, self.registry.by_login(), system_logins, reset_passwords=reset_passwords,
                         system_groups=system_groups, acting_admin=acting_admin)

    @asynccontextmanager
    async def applying(self, plan: Plan, report: Report,
                       progress: Progress = noop_progress) -> AsyncIterator[None]:
        """Write the plan to the registry; the body converges the effects; the passwords follow.

        Hashing the passwords is most of an import's CPU: it starts on every core, at a lower
        priority, before the registry is written, and runs while the body makes the local
        accounts, the hub users and the course folders. New accounts are made locked
        (NO_PASSWORD) and get their hash in a second transaction at the end; an import killed
        before that leaves them locked, and importing them again gives them a password
        (make_plan). If the body fails, the hashes are set all the same (a hub that refused its
        users must not leave them locked), then the failure shows.
        """
        with_password = [p for p in plan.create + plan.update if p.password]
        total = len(with_password)
        progress("hashing", 0, total)
        loop = asyncio.get_running_loop()

        def hashed(done):  # called from the hashing thread
            loop.call_soon_threadsafe(progress, "hashing", done, total)

        stop = threading.Event()

        def hash_all():  # in a thread of the executor
            with report.stage("hashing"):
                return hash_many([p.password for p in with_password], self.settings.hash_workers or None,
                                 on_progress=hashed, niceness=HASHING_NICENESS, stop=stop)

        hashing = loop.run_in_executor(None, hash_all)
        try:
            with report.stage("registry"):
                self._write_plan(plan)
        except BaseException:
            stop.set()  # nothing was applied: the hashes are of no use
            hashing.cancel()
            raise
        try:
            yield
        except Exception:
            await self._set_passwords(report, with_password, await hashing, progress)
            raise
        except BaseException:  # cancelled (the service stops, Ctrl-C): the next import finishes
            stop.set()
            hashing.cancel()
            raise
        with report.stage("waiting for the hashes"):
            hashes = await hashing
        await self._set_passwords(report, with_password, hashes, progress)
        failed = report.local.get("failed", {})
        report.credentials = [credential(p, p.password) for p in with_password if p.login not in failed]

    async def _set_passwords(self, report, planned, hashes, progress):
        """The import's second transaction: the hashes in the registry, then in /etc/shadow."""
        progress("passwords", 0, 1)
        with report.stage("passwords"):
            self._write_hashes({p.login: h for p, h in zip(planned, hashes)})
            if self.settings.manage_local_accounts and hashes:
                pushed = await asyncio.get_running_loop().run_in_executor(None, self._reconcile_local)
                report.local["passwords_set"] = report.local.get("passwords_set", 0) + pushed["passwords_set"]
        progress("passwords", 1, 1)

    def _write_plan(self, plan):
        """The plan's accounts and changes in one transaction; new accounts have NO_PASSWORD yet."""
        state = self.local.snapshot() if self.settings.manage_local_accounts else None
        used = self.local.ids_in_use(state) if state else set()
        # The plan was made earlier (a preview page may be minutes old): never adopt an account
        # that appeared on the machine since.
        appeared = [p.login for p in plan.create if state and p.login in state.users]
        if appeared:
            raise AccountError(f"{', '.join(appeared[:10])}: local account(s) created since the preview, "
                               "not by jhub-admin; nothing was applied")
        # nor give a new password to an account that got one since (another import finished it)
        managed = self.registry.by_login()
        finished = [p.login for p in plan.update if p.changes.get("password") == ("none", "new")
                    and p.login in managed and managed[p.login].password_hash != NO_PASSWORD]
        if finished:
            raise AccountError(f"{', '.join(finished[:10])}: given a password since the preview; preview "
                               "the file again; nothing was applied")
        with self.registry.transaction() as db:
            for p in plan.create:
                uid = self.registry.next_uid(db, reserved=used)
                self.registry.insert(db, Account(
                    login=p.login, uid=uid, gid=uid, role=p.role, hub_admin=p.hub_admin, classes=p.classes,
                    first_name=p.first_name, last_name=p.last_name, email=p.email,
                    identity_key=p.identity_key, external_id=p.external_id, birth_date=p.birth_date,
                    password_hash=NO_PASSWORD,
                    hash_pending=False))
            for p in plan.update:
                fields = {name: new for name, (old, new) in p.changes.items() if name != "password"}
                if p.identity_key:  # the person as this list names them, from now on
                    fields["identity_key"] = p.identity_key
                if fields:
                    self.registry.update(db, p.login, **fields)

    def homes_without_account(self) -> list:
        """[(folder, owner uid)]: the homes whose account is gone (kept; their ids never given again)."""
        if not self.settings.manage_local_accounts:
            return []
        return self.local.homes_without_account({a.login: a.uid for a in self.registry.accounts()},
                                                range(FIRST_UID, LAST_UID + 1))

    def _write_hashes(self, hash_of):
        with self.registry.transaction() as db:
            for login, hashed in hash_of.items():
                self.registry.update(db, login, password_hash=hashed, hash_pending=True, initial_password=True)

    # Convergence: local accounts first (the hub only admits users that exist on the system),
    # then the hub's users and groups.

    async def converge_local(self, report: Report, progress: Progress = noop_progress) -> None:
        if self.settings.manage_local_accounts:
            progress("local accounts", 0, 1)
            with report.stage("local accounts"):
                report.local = await asyncio.get_running_loop().run_in_executor(None, self._reconcile_local)
            report.warnings.extend(f"{login}: not made on this machine ({reason}); no password handed out"
                                   for login, reason in report.local["failed"].items())
        progress("local accounts", 1, 1)

    async def converge_hub(self, report: Report, progress: Progress = noop_progress) -> Optional[set]:
        """The hub side; returns the names of the hub's users (None when unknown)."""
        if not self.hub.configured:
            report.warnings.append("JupyterHub API not configured: hub users and groups will be "
                                   "brought in line by `jhub-admin reconcile` once the hub runs.")
            progress("hub", 1, 1)  # nothing to do here
            return None
        progress("hub", 0, 1)
        hub_users = None
        try:
            with report.stage("hub"):
                report.hub, hub_users = await self._reconcile_hub()
        except (OSError, HubUnreachable) as exc:
            report.warnings.append(f"JupyterHub not reachable ({exc}): local accounts are done; hub "
                                   "users and groups will follow with `jhub-admin reconcile`.")
        progress("hub", 1, 1)
        return hub_users

    def _reconcile_local(self):
        """The registry's accounts made on this machine. An account that cannot be made (its name
        or uid taken by someone else) is reported and left out; the others are made all the same."""
        accounts = self.registry.accounts()
        state = self.local.snapshot()
        # newusers writes /etc/passwd and /etc/shadow before /etc/group: one killed in between
        # leaves users with the registry's ids whose private group was never written. They are
        # the registry's own accounts, half made: their group is made now.
        used_gids = {gid for gid, _ in state.groups.values()}
        half_made = [a for a in accounts if a.login in state.users and a.login not in state.groups
                     and (state.users[a.login].pw_uid, state.users[a.login].pw_gid) == (a.uid, a.gid)
                     and a.gid not in used_gids]
        if half_made:
            self.local.make_private_groups(half_made)
            state = self.local.snapshot()
        failed = {a.login: f"a local account {a.login} exists with other ids than the registry's (or without its "
                           "private group); it was not made by jhub-admin as it is, and is left alone"
                  for a in accounts if a.login in state.users
                  and ((state.users[a.login].pw_uid, state.users[a.login].pw_gid) != (a.uid, a.gid)
                       or state.groups.get(a.login, (None,))[0] != a.gid)}
        missing = [a for a in accounts if a.login not in state.users]
        failed.update(self.local.create(missing))
        for login, reason in failed.items():
            log.error("local account %s not made: %s", login, reason)
        accounts = [a for a in accounts if a.login not in failed]
        missing_logins = {a.login for a in missing}
        push, pull = {}, {}
        for a in accounts:
            desired = "!" + a.password_hash if a.disabled else a.password_hash
            current = "!" if a.login in missing_logins else state.shadow.get(a.login, "!")
            if current == desired:
                continue
            if not a.hash_pending and not a.disabled and current[:1] not in ("!", "*", ""):
                pull[a.login] = current  # the user changed it (passwd in a terminal): keep theirs
            else:
                push[a.login] = desired
        self.local.set_hashes(push)
        with self.registry.transaction() as db:
            for login in push:
                self.registry.update(db, login, hash_pending=False)
            for login, current in pull.items():
                self.registry.update(db, login, password_hash=current, hash_pending=False, initial_password=False)
        self.local.set_group_members(LOCAL_GROUPS.membership(accounts, state.groups), state)
        return {"created": len(missing) - len(set(failed) & missing_logins), "passwords_set": len(push),
                "passwords_kept_from_system": len(pull), "failed": failed}

    async def _reconcile_hub(self):
        accounts = self.registry.accounts()
        existing = await self.hub.users()
        active = [a for a in accounts if not a.disabled]
        new = [a for a in active if a.login not in existing]
        await self.hub.create_users([a.login for a in new if not a.is_admin])
        await self.hub.create_users([a.login for a in new if a.is_admin], admin=True)
        flagged = 0
        for a in active:
            if a.login in existing and bool(existing[a.login].get("admin")) != a.is_admin:
                await self.hub.set_admin(a.login, a.is_admin)
                flagged += 1
        removed = 0
        for a in accounts:
            if a.disabled and a.login in existing:
                await self.hub.stop_server(a.login)
                await self.hub.delete_user(a.login)
                removed += 1
        groups = await self.hub.groups()
        wanted = HUB_GROUPS.membership(accounts, groups)
        await self.hub.sync_groups(wanted, groups)
        hub_users = (set(existing) | {a.login for a in new}) - {a.login for a in accounts if a.disabled}
        return {"created": len(new), "admin_flag_changed": flagged, "disabled_removed": removed,
                "groups": len(wanted)}, hub_users

    # One account at a time: registry writes (the caller holds the lock, then converges)

    def get(self, login: str) -> Account:
        account = self.registry.get(login)
        if account is None:
            raise AccountError(f"no account {login!r} is managed by jhub-admin")
        return account

    async def new_password(self, login: str, password: Optional[str] = None) -> tuple:
        """(password, hash) for login: the given password after its check, or a generated one.
        Hashed off the event loop, before the lock is taken."""
        self.get(login)
        password = password or generate_password()
        problem = password_problem(password)
        if problem:
            raise AccountError(problem)
        hashed = await asyncio.get_running_loop().run_in_executor(None, hash_password, password)
        return password, hashed

    def record_password(self, login: str, hashed: str, chosen_by_user: bool = False) -> None:
        """A new hash; an admin's reset gives an initial password, the user's own choice does not."""
        with self.registry.transaction() as db:
            self.registry.update(db, login, password_hash=hashed, hash_pending=True,
                                 initial_password=not chosen_by_user)

    def record_disabled(self, logins: list, disabled: bool) -> None:
        """A disabled account cannot log in (locked hash), and its hub user and server go."""
        self._record_for_each(logins, disabled=disabled)

    def record_leaving(self, logins: list, leaving: bool) -> None:
        """Mark accounts as leaving at the end of the year (or not any more)."""
        self._record_for_each(logins, leaving=leaving)

    def _record_for_each(self, logins: list, **fields) -> None:
        """The same fields for several accounts, in one transaction (all or none)."""
        for login in logins:
            self.get(login)
        with self.registry.transaction() as db:
            for login in logins:
                self.registry.update(db, login, **fields)

    def record_new_passwords(self, hash_of: dict) -> None:
        """An admin's new passwords for several accounts, in one transaction."""
        for login in hash_of:
            self.get(login)
        self._write_hashes(hash_of)

    def record_change(self, login: str, role: Optional[str] = None, classes: Optional[list] = None,
                      admin: Optional[bool] = None) -> None:
        """A new role, classes, or admin rights beside a teacher's role (None: left as it is)."""
        account = self.get(login)
        fields = {}
        if role is not None:
            if role not in ROLES:
                raise AccountError(f"unknown role {role!r}; accepted roles: {', '.join(ROLES)}")
            fields["role"] = role
        role = role or account.role
        if admin and role == "student":
            raise AccountError("a student cannot be an admin; only a teacher can have admin rights beside")
        if admin is not None or role != "teacher":
            fields["hub_admin"] = bool(admin if admin is not None else account.hub_admin) and role == "teacher"
        if classes is not None:
            fields["classes"] = [c.strip() for c in classes if c.strip()]
        with self.registry.transaction() as db:
            self.registry.update(db, login, **fields)

    def record_classes(self, logins: list, classes: list) -> None:
        """The same classes for several accounts."""
        self._record_for_each(logins, classes=[c.strip() for c in classes if c.strip()])

    async def remove_empty_class_groups(self) -> list:
        """Delete the class groups that nobody is in any more (the hub's and the local ones):
        at the year's end, last year's classes go. Returns the hub groups deleted."""
        if self.settings.manage_local_accounts:
            state = self.local.snapshot()
            self.local.delete_groups(sorted(name for name, (_, members) in state.groups.items()
                                            if LOCAL_GROUPS.is_class_group(name) and not members))
        if not self.hub.configured:
            return []
        empty = sorted(name for name, group in (await self.hub.groups()).items()
                       if HUB_GROUPS.is_class_group(name) and not group.get("users"))
        for name in empty:
            await self.hub.delete_group(name)
        return empty

    async def stop_everything_of(self, account: Account, in_hub: bool = True) -> int:
        """Stop the account's server (in_hub False: the hub has no such user any more), then kill
        every process of its uid, detached ones included. Returns how many processes were killed."""
        if self.hub.configured and in_hub:
            try:
                await self.hub.stop_server(account.login)
            except HubUnreachable:
                pass  # no hub, no server: the processes go all the same
        if not self.settings.manage_local_accounts:
            return 0
        return await asyncio.get_running_loop().run_in_executor(None, self.local.stop_processes, account.uid)

    async def remove(self, login: str, in_hub: bool = True, kept_in: Optional[dict] = None,
                     timer: Optional[Report] = None) -> Optional[str]:
        """Stop the server and every process of the account, keep the home (off the event loop: a
        large home must not freeze the admin's pages), delete the local account and home, the
        registry row, then the hub user. in_hub False: the caller knows that the hub has no such
        user any more (three requests fewer per account). kept_in: the verified export of the
        school year ({"name", "sha256"}) that holds the home already, as at the year's close: no
        second copy is written, the record names that export. timer: a Report whose stages add up
        the seconds of each part (a batch's summary). Returns the path of the archive (or of the
        record) that a restore starts from."""
        timer = timer or Report()
        account = self.get(login)
        archive = None
        with timer.stage("stop"):
            await self.stop_everything_of(account, in_hub)
        if self.settings.manage_local_accounts:
            loop = asyncio.get_running_loop()
            if kept_in is None:
                with timer.stage("archive"):
                    archive = await loop.run_in_executor(None, self.local.archive_home, login,
                                                         self.settings.archive_dir)
                    departures.write_record(archive, account)  # what a restore needs, beside the archive
                with timer.stage("zip"):
                    await loop.run_in_executor(None, self._hand_over, account)
            else:
                with timer.stage("zip"):
                    zip_bytes = await loop.run_in_executor(None, self._hand_over, account)
                with timer.stage("record"):
                    archive = departures.write_export_record(self.settings.archive_dir, account, kept_in, zip_bytes)
            with timer.stage("stop"):
                await self.stop_everything_of(account, in_hub)  # nothing of the account may run at userdel
            with timer.stage("userdel"):
                await loop.run_in_executor(None, self._delete_local, login)
            with timer.stage("rm"):
                try:
                    await loop.run_in_executor(None, self.local.remove_home, login)
                except localmod.ShadowToolError as exc:  # archived and deleted: what is left is only disk
                    log.warning("home of %s not wholly removed: %s", login, exc)
        with timer.stage("registry"):
            with self.registry.transaction() as db:
                self.registry.delete(db, account.login)
        if self.hub.configured and in_hub:
            with timer.stage("hub"):
                await self.hub.delete_user(login)
        return archive

    def _delete_local(self, login: str) -> None:
        try:
            pwd.getpwnam(login)
        except KeyError:
            return  # a removal killed after its userdel, run again
        self.local.delete(login)

    def _hand_over(self, account: Account) -> int:
        """The ZIP of the account's own work, kept to hand over (accounts/handover.py); its size."""
        home = self.local.home_of(account.login)
        if not os.path.isdir(home):
            return 0
        os.makedirs(self.settings.handover_dir, mode=0o700, exist_ok=True)
        dest = os.path.join(self.settings.handover_dir, handover.handover_name(account.login, time.time()))
        handover.write_home_zip(home, account.uid, dest)
        return os.path.getsize(dest)

    def restore_problem(self, departed: "departures.Departed") -> Optional[str]:
        """Why departed cannot come back now (None: it can): its login is taken, or a folder
        without its account holds its home's place."""
        record = departed.account
        login = record["login"]
        if self.registry.get(login) is not None or login in {u.pw_name for u in pwd.getpwall()}:
            return f"{login!r} exists: remove or rename that account before restoring this one"
        home = self.local.home_of(login)
        if os.path.lexists(home) and not self.home_is_back(departed):
            return f"a folder {home} is there without its account: it is left as it is"
        return None

    def home_is_back(self, departed: "departures.Departed") -> bool:
        """The home is in place with the record's owner: extracted by an earlier attempt of this
        restore (killed since), or brought back from the year's export by the sidecar."""
        home = self.local.home_of(departed.login)
        return os.path.isdir(home) and not os.path.islink(home) and os.lstat(home).st_uid == departed.account["uid"]

    async def restore(self, departed: "departures.Departed", hashed: str) -> Account:
        """Bring a removed account back from its archive: its home first (extracted with its
        owners and modes, under its old uid when nobody holds it, else a new one), then its
        registry row (no class: the admin gives them; a new initial password). The caller
        converges. Run again after a kill, it goes on: a home already there with the record's
        owner and no account is the one it extracted."""
        record = departed.account
        login = record["login"]
        problem = self.restore_problem(departed)
        if problem:
            raise AccountError(problem)
        home = self.local.home_of(login)
        resumed = self.home_is_back(departed)
        if departed.export is not None and not resumed:
            raise AccountError(f"the home of {login!r} did not come back from the year's export "
                               f"{departed.export['name']}")
        state = self.local.snapshot()
        used = self.local.ids_in_use(state, but_home=login) | {a.uid for a in self.registry.accounts()}
        loop = asyncio.get_running_loop()
        if not resumed:
            await loop.run_in_executor(None, self.local.extract_home, login,
                                       os.path.join(self.settings.archive_dir, departed.archive))
        with self.registry.transaction() as db:
            uid = record["uid"] if not {record["uid"], record["gid"]} & used else self.registry.next_uid(db, used)
            account = Account(login=login, uid=uid, gid=uid, role=record["role"],
                              **{k: record[k] for k in ("first_name", "last_name", "email", "identity_key",
                                                        "external_id")}, password_hash=hashed)
            self.registry.insert(db, account)
        if (uid, uid) != (record["uid"], record["gid"]):
            await loop.run_in_executor(None, self.local.change_owner, home, (record["uid"], record["gid"]), (uid, uid))
        return account

    def first_admin_problem(self, login: str) -> Optional[str]:
        """Why login cannot be the first admin; None when it can (or already is)."""
        problem = login_problem(login)
        if problem:
            return f"{login!r}: {problem}"
        if self.registry.get(login) is None and login in {u.pw_name for u in pwd.getpwall()}:
            return f"{login!r} is an existing system account not managed by jhub-admin"
        return None

    def record_first_admin(self, login: str, hashed: str) -> None:
        used = self.local.ids_in_use(self.local.snapshot()) if self.settings.manage_local_accounts else set()
        with self.registry.transaction() as db:
            uid = self.registry.next_uid(db, reserved=used)
            self.registry.insert(db, Account(login=login, uid=uid, gid=uid, role="admin", password_hash=hashed))
