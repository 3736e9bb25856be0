"""Desired state (a Roster) against current state (the registry, the local accounts) -> a Plan.

Pure: nothing here touches the machine. Clear passwords ride along in memory for apply(),
and never appear in to_json().
"""
import collections
import difflib
import re
from dataclasses import dataclass, field
from typing import Callable, Collection

from .logins import RESERVED_LOGINS, derive_login, generate_password, unique_login, weak_password
from .registry import NO_PASSWORD, holds_admin
from .roster import Rejection, Roster

COMPARED_FIELDS = ("role", "hub_admin", "classes", "first_name", "last_name", "email", "external_id", "birth_date")
#: Fields that a file without them leaves as they are (a list with names but no class, say).
KEPT_WHEN_EMPTY = ("classes", "email", "first_name", "last_name", "external_id", "birth_date")
#: How alike two spellings of a name must be (difflib's ratio) for a corrected name to be the same
#: person: "PERIN" and "PERRIN" are, "Léa" and "Chloé" are not.
SIMILAR_NAME = 0.75
#: A birth date as class lists write it (11/03/2009, 2009-03-11).
BIRTH_DATE = re.compile(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}|\d{4}-\d{2}-\d{2}")


def french_date(text: str) -> str:
    """A birth date as the registry keeps it, whatever the list's format: "11/03/2009" for
    "11/3/2009", "11.03.2009" and "2009-03-11" alike (a list exported another way changes
    nothing); anything else as it is."""
    text = text.strip()
    if not BIRTH_DATE.fullmatch(text):
        return text
    parts = re.split(r"[/.-]", text)
    day, month, year = reversed(parts) if len(parts[0]) == 4 else parts
    return f"{int(day):02d}/{int(month):02d}/{year}"


@dataclass
class PlannedAccount:
    line: int
    login: str
    role: str
    classes: list
    #: A teacher with admin rights beside (the registry's column of that name).
    hub_admin: bool = False
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    identity_key: str = ""
    external_id: str = ""
    birth_date: str = ""
    #: The line names an existing account with a corrected name (matched by its identifier, or by
    #: birth date and a name spelled alike), rather than a new person.
    renamed: bool = False
    #: "given", "generated", or "kept" (an existing account keeps its password).
    password_source: str = "kept"
    #: Why the password that the file gives is weak (logins.weak_password), "" if it is not.
    weak_password: str = ""
    #: The file and line, when several files make the list.
    where: str = ""
    password: str = field(default="", repr=False)
    changes: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {
            "line": self.line, "where": self.where or str(self.line), "login": self.login, "role": self.role,
            "admin": self.is_admin,
            "classes": list(self.classes), "first_name": self.first_name, "last_name": self.last_name, "email": self.email,
            "password": self.password_source,
        }
        if self.changes:
            out["changes"] = {k: list(v) for k, v in self.changes.items()}
        if self.renamed:
            out["renamed"] = True
        if self.weak_password:
            out["weak_password"] = self.weak_password
        return out

    @property
    def is_admin(self) -> bool:
        return holds_admin(self.role, self.hub_admin)


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


#: Why an import may not touch an admin line (the admin service's own pages do it one by one).
ACTING_ADMIN = "the admin running this import: an import cannot demote it or change its password"
LAST_ADMIN = "the last admin: an import cannot demote it or change its password"


def make_plan(roster: Roster, managed: dict, system_logins: Collection[str], reset_passwords: bool = False,
              new_password: Callable[[], str] = generate_password, system_groups: Collection[str] = (),
              acting_admin: str = "") -> Plan:
    """Compare a roster with the managed accounts.

    managed: {login: Account} from the registry; system_logins: every local account name on the
    machine. A login that exists locally but is not managed belongs to someone else: rejected.
    system_groups: every local group name; a new account named like one (``tape``, ``jh-students``)
    would make newusers refuse the whole batch, or join the group's members to its private group:
    rejected too. acting_admin: the admin who runs the import; neither they nor the last admin
    can be demoted or given a new password by it (:func:`admin_refusal`).
    """
    plan = Plan(roster.format, roster.encoding, roster.delimiter, reset_passwords=reset_passwords,
                rejected=list(roster.rejected))
    explicit = {e.login for e in roster.entries if e.login}
    taken = set(managed) | set(system_logins) | set(system_groups) | RESERVED_LOGINS | explicit
    admins_left = {login for login, a in managed.items() if a.is_admin}
    known, renamed = recognised(roster.entries, managed)
    seen = set()
    for index, entry in enumerate(roster.entries):
        login = entry.login or known.get(index)
        if not login:
            login = unique_login(derive_login(entry.first_name, entry.last_name), taken)
            taken.add(login)
        if login in RESERVED_LOGINS or (login in system_logins and login not in managed):
            plan.rejected.append(Rejection(entry.line, login, "an existing system account not managed by jhub-admin",
                                           entry.where))
            continue
        if login in system_groups and login not in managed:
            plan.rejected.append(Rejection(entry.line, login, "the name of an existing group of the system",
                                           entry.where))
            continue
        seen.add(login)
        current = managed.get(login)
        # A line that does not say whether a teacher is an admin leaves the flag as it is.
        admin = entry.admin if entry.admin is not None else bool(current and current.hub_admin)
        planned = PlannedAccount(
            line=entry.line, where=entry.where, login=login, role=entry.role,
            hub_admin=entry.role == "teacher" and admin,
            classes=list(entry.classes), first_name=entry.first_name, last_name=entry.last_name, email=entry.email,
            identity_key="" if entry.login else entry.identity_key, external_id=entry.external_id,
            birth_date=french_date(entry.birth_date), renamed=index in renamed,
        )
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
        for name in KEPT_WHEN_EMPTY:
            if name in planned.changes and not getattr(planned, name):
                del planned.changes[name]
                setattr(planned, name, getattr(current, name))
        if reset_passwords:
            give_password(planned, entry.password, new_password)
            planned.changes["password"] = ("…", "reset")
        elif current.password_hash == NO_PASSWORD:  # an import was killed before its hashes
            give_password(planned, entry.password, new_password)
            planned.changes["password"] = ("none", "new")
        refusal = admin_refusal(planned, acting_admin, admins_left)
        if refusal:
            plan.rejected.append(Rejection(entry.line, login, refusal, entry.where))
            continue
        (plan.update if planned.changes else plan.unchanged).append(planned)
    plan.absent = [
        PlannedAccount(line=0, login=a.login, role=a.role, hub_admin=a.hub_admin, classes=list(a.classes),
                       first_name=a.first_name, last_name=a.last_name, email=a.email)
        for login, a in sorted(managed.items()) if login not in seen
    ]
    plan.rejected.sort(key=lambda r: r.line)
    return plan


def recognised(entries: list, managed: dict) -> tuple:
    """Which lines without a login name an existing account: ({line index: login}, {indexes of
    the renamed}). An account is never given to a line of another role, nor to two lines.

    1. Names and birth date (or class), exactly as the account was made.
    2. The list's stable identifier (INE, ELENOET), when it is on one line of the file and one
       account only, and the line agrees with the account on something besides it (the birth
       date or class, or a name spelled alike): a list of row numbers is not an identifier.
    3. A corrected last name: for a line still unknown, the one account that no line names, with
       the same birth date (a real date, not a class), the same first name and a last name spelled
       alike ("PERIN" -> "PERRIN"). Twins differ by their first names: neither is taken for the
       other, even when only one is in the file. Anything less sure makes a new account, which an
       admin can remove; a pupil's files are never handed to someone else on a guess."""
    by_identity = {a.identity_key: a for a in managed.values() if a.identity_key}
    by_external = collections.defaultdict(list)
    for a in managed.values():
        if a.external_id:
            by_external[a.external_id].append(a)
    in_file = collections.Counter(e.external_id for e in entries if e.external_id and not e.login)
    named = {e.login for e in entries if e.login}
    known = {}

    def take(index, account):
        if account is not None and account.login not in named and account.role == entries[index].role:
            known[index] = account.login
            named.add(account.login)

    for index, entry in enumerate(entries):
        if not entry.login:
            take(index, by_identity.get(entry.identity_key))
    for index, entry in enumerate(entries):
        if entry.login or index in known or in_file[entry.external_id] != 1 or len(by_external[entry.external_id]) != 1:
            continue
        account = by_external[entry.external_id][0]
        if agrees(entry.identity_key, account.identity_key):
            take(index, account)
    renamed = {index for index, login in known.items()
               if names_of(entries[index].identity_key) != names_of(managed[login].identity_key)
               and managed[login].identity_key}
    for index, entry in enumerate(entries):
        if entry.login or index in known:
            continue
        alike_ = [a for a in managed.values() if a.login not in named and a.role == entry.role
                  and corrected_last_name(entry.identity_key, a.identity_key)]
        if len(alike_) == 1:
            take(index, alike_[0])
            renamed.add(index)
    return known, renamed


def key_parts(key: str) -> tuple:
    """An identity key's (last name, first name, birth date or classes)."""
    return tuple((key.split("|") + ["", "", ""])[:3])


def corrected_last_name(key: str, other: str) -> bool:
    """Two identity keys (last|first|birth date) of one person whose last name was corrected."""
    (last, first, tail), (other_last, other_first, other_tail) = key_parts(key), key_parts(other)
    return (bool(BIRTH_DATE.fullmatch(tail)) and tail == other_tail and first == other_first
            and last != other_last and alike(last, other_last))


def agrees(key: str, other: str) -> bool:
    """A line and an account that share an identifier agree on the birth date or class, or on a
    name spelled alike."""
    (last, first, tail), (other_last, other_first, other_tail) = key_parts(key), key_parts(other)
    return (bool(tail) and tail == other_tail) or alike(last, other_last) or alike(first, other_first)


def names_of(key: str) -> tuple:
    return key_parts(key)[:2]


def alike(a: str, b: str) -> bool:
    return bool(a and b) and difflib.SequenceMatcher(None, a, b).ratio() >= SIMILAR_NAME


def admin_refusal(planned: PlannedAccount, acting_admin: str, admins_left: set) -> str:
    """Why this update may not be applied, if it changes the role, the admin rights or the password
    of the acting admin, or demotes or changes the password of the last admin left; keeps
    ``admins_left`` up to date with the demotions."""
    login = planned.login
    if login not in admins_left:
        return ""
    demoted = not planned.is_admin
    if not ({"role", "hub_admin", "password"} & planned.changes.keys()):
        return ""
    if login == acting_admin:
        return ACTING_ADMIN
    if admins_left == {login} and (demoted or "password" in planned.changes):
        return LAST_ADMIN
    if demoted:
        admins_left.discard(login)
    return ""


def give_password(planned: PlannedAccount, given: str, new_password: Callable[[], str]) -> None:
    planned.password_source = "given" if given else "generated"
    planned.password = given or new_password()
    planned.weak_password = (weak_password(given) or "") if given else ""
