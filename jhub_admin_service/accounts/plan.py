"""Desired state (a Roster) against current state (the registry, the local accounts) -> a Plan.

Pure: nothing here touches the machine. Clear passwords ride along in memory for apply(),
and never appear in to_json().
"""
from dataclasses import dataclass, field
from typing import Callable, Collection

from .logins import RESERVED_LOGINS, derive_login, generate_password, unique_login
from .registry import NO_PASSWORD
from .roster import Rejection, Roster

COMPARED_FIELDS = ("role", "classes", "first_name", "last_name", "email")


@dataclass
class PlannedAccount:
    line: int
    login: str
    role: str
    classes: list
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    identity_key: str = ""
    #: "given", "generated", or "kept" (an existing account keeps its password).
    password_source: str = "kept"
    password: str = field(default="", repr=False)
    changes: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {
            "line": self.line, "login": self.login, "role": self.role, "classes": list(self.classes),
            "first_name": self.first_name, "last_name": self.last_name, "email": self.email,
            "password": self.password_source,
        }
        if self.changes:
            out["changes"] = {k: list(v) for k, v in self.changes.items()}
        return out


@dataclass
class Plan:
    format: str
    encoding: str
    delimiter: str
    create: list = field(default_factory=list)
    update: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    absent: list = field(default_factory=list)
    rejected: list = field(default_factory=list)
    reset_passwords: bool = False

    def counts(self) -> dict:
        return {k: len(getattr(self, k)) for k in ("create", "update", "unchanged", "absent", "rejected")}

    def to_json(self) -> dict:
        return {
            "format": self.format, "encoding": self.encoding, "delimiter": self.delimiter,
            "reset_passwords": self.reset_passwords,
            "counts": self.counts(),
            "create": [a.to_json() for a in self.create],
            "update": [a.to_json() for a in self.update],
            "unchanged": [a.to_json() for a in self.unchanged],
            "absent": [a.to_json() for a in self.absent],
            "rejected": [r.to_json() for r in self.rejected],
        }


def make_plan(roster: Roster, managed: dict, system_logins: Collection[str], reset_passwords: bool = False,
              new_password: Callable[[], str] = generate_password, system_groups: Collection[str] = ()) -> Plan:
    """Compare a roster with the managed accounts.

    managed: {login: Account} from the registry; system_logins: every local account name on the
    machine. A login that exists locally but is not managed belongs to someone else: rejected.
    system_groups: every local group name; a new account named like one (``tape``, ``jh-students``)
    would make newusers refuse the whole batch, or join the group's members to its private group:
    rejected too.
    """
    plan = Plan(roster.format, roster.encoding, roster.delimiter, reset_passwords=reset_passwords,
                rejected=list(roster.rejected))
    by_identity = {a.identity_key: a for a in managed.values() if a.identity_key}
    explicit = {e.login for e in roster.entries if e.login}
    taken = set(managed) | set(system_logins) | set(system_groups) | RESERVED_LOGINS | explicit
    seen = set()
    for entry in roster.entries:
        login = entry.login
        if not login:
            known = by_identity.get(entry.identity_key)
            if known is not None and known.login not in seen:
                login = known.login
            else:
                login = unique_login(derive_login(entry.first_name, entry.last_name), taken)
                taken.add(login)
        if login in RESERVED_LOGINS or (login in system_logins and login not in managed):
            plan.rejected.append(Rejection(entry.line, login, "an existing system account not managed by jhub-admin"))
            continue
        if login in system_groups and login not in managed:
            plan.rejected.append(Rejection(entry.line, login, "the name of an existing group of the system"))
            continue
        seen.add(login)
        planned = PlannedAccount(
            line=entry.line, login=login, role=entry.role, classes=list(entry.classes),
            first_name=entry.first_name, last_name=entry.last_name, email=entry.email,
            identity_key="" if entry.login else entry.identity_key,
        )
        current = managed.get(login)
        if current is None:
            give_password(planned, entry.password, new_password)
            plan.create.append(planned)
            continue
        planned.changes = {
            name: (getattr(current, name), getattr(planned, name))
            for name in COMPARED_FIELDS
            if getattr(current, name) != getattr(planned, name)
        }
        # A file with names but no class or e-mail leaves those as they are.
        for name in ("classes", "email", "first_name", "last_name"):
            if name in planned.changes and not getattr(planned, name):
                del planned.changes[name]
                setattr(planned, name, getattr(current, name))
        if reset_passwords:
            give_password(planned, entry.password, new_password)
            planned.changes["password"] = ("…", "reset")
        elif current.password_hash == NO_PASSWORD:  # an import was killed before its hashes
            give_password(planned, entry.password, new_password)
            planned.changes["password"] = ("none", "new")
        (plan.update if planned.changes else plan.unchanged).append(planned)
    plan.absent = [
        PlannedAccount(line=0, login=a.login, role=a.role, classes=list(a.classes),
                       first_name=a.first_name, last_name=a.last_name, email=a.email)
        for login, a in sorted(managed.items()) if login not in seen
    ]
    plan.rejected.sort(key=lambda r: r.line)
    return plan


def give_password(planned: PlannedAccount, given: str, new_password: Callable[[], str]) -> None:
    planned.password_source = "given" if given else "generated"
    planned.password = given or new_password()
