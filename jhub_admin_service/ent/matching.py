"""Which account an ENT identity logs into, or why none (pure).

The class lists decide who has an account; the ENT only says who is at the keyboard. An identity
matches, in this order:
1. the account it was linked to at its first login (or by an admin);
2. the one account whose list identifier (the ENT export's, the SIECLE number: ``external_id``)
   equals one of the identifiers the ENT gives (its directory's, its own).
It never matches on a display name, and two accounts with the same identifier match neither.

Then, whatever matched:
- a pupil's identity (or one whose ENT gave no type) only ever opens a pupil's account: never a
  teacher's, never an admin's; staff open only staff accounts; parents and guests nothing;
- when the school's UAI is set, an identity of another school (or of none) is refused;
- a disabled account is refused, and an account already linked to another identity too.
"""
from dataclasses import dataclass
from typing import Iterable, Mapping, Union

from .identity import OTHER, PUPIL, STAFF, UNKNOWN, EntIdentity, fold

# Why an identity is refused: the French page and the dashboard say each in words.
OTHER_SCHOOL = "other_school"
NOT_A_MEMBER = "not_pupil_or_staff"
UNKNOWN_PERSON = "no_account"
AMBIGUOUS = "several_accounts"
WRONG_ROLE = "wrong_role"
DISABLED = "disabled"
TAKEN = "linked_to_another"


@dataclass(frozen=True)
class Candidate:
    """What matching needs of an account (accounts/registry.Account has it all)."""
    login: str
    role: str
    is_admin: bool = False
    external_id: str = ""
    disabled: bool = False

    @classmethod
    def of(cls, account) -> "Candidate":
        return cls(login=account.login, role=account.role, is_admin=account.is_admin,
                   external_id=account.external_id, disabled=account.disabled)


@dataclass(frozen=True)
class Match:
    login: str
    #: "link" (known identity) or "identifier" (first login: the link is to be recorded).
    how: str


@dataclass(frozen=True)
class Refused:
    reason: str
    #: The account concerned, when there is one (never shown to the person refused).
    login: str = ""


def may_open(kind: str, candidate: Candidate) -> bool:
    """Whether an identity of this kind may open this account."""
    if candidate.is_admin or candidate.role in ("teacher", "admin"):
        return kind == STAFF
    return kind in (PUPIL, UNKNOWN)


def school_refuses(identity: EntIdentity, school_uai: str) -> bool:
    return bool(school_uai) and school_uai.strip().upper() not in identity.uais


def match(identity: EntIdentity, accounts: Iterable[Candidate], links: Mapping[str, str],
          school_uai: str = "") -> Union[Match, Refused]:
    """``links``: ENT subject -> login, as recorded."""
    if school_refuses(identity, school_uai):
        return Refused(OTHER_SCHOOL)
    if identity.kind == OTHER:
        return Refused(NOT_A_MEMBER)
    by_login = {c.login: c for c in accounts}
    found, how = _find(identity, by_login, links)
    if isinstance(found, Refused):
        return found
    if not may_open(identity.kind, found):
        return Refused(WRONG_ROLE, found.login)
    if found.disabled:
        return Refused(DISABLED, found.login)
    if how == "identifier" and found.login in links.values():
        return Refused(TAKEN, found.login)
    return Match(found.login, how)


def _find(identity: EntIdentity, by_login: Mapping[str, Candidate], links: Mapping[str, str]):
    linked = links.get(identity.subject)
    if linked and linked in by_login:
        return by_login[linked], "link"
    wanted = {fold(i) for i in identity.identifiers} - {""}
    same = [c for c in by_login.values() if c.external_id and fold(c.external_id) in wanted]
    if len(same) > 1:
        return Refused(AMBIGUOUS, ",".join(sorted(c.login for c in same))), ""
    if not same:
        return Refused(UNKNOWN_PERSON), ""
    return same[0], "identifier"

