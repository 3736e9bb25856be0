"""The ENT identities linked to accounts, and those that matched none: two tables of the
registry (accounts/registry.py), written by the hub's authenticator at a login and by the admin
service (unlink, match by hand).

``EntLinks.resolve`` is a login's one decision: it matches the identity (matching.py) against the
registry as it is, records the link of a first login, or records the refusal for the dashboard.
"""
import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Optional, Union

from ..accounts.registry import Registry
from .identity import EntIdentity
from .matching import Candidate, Match, Refused, TAKEN, match, may_open, WRONG_ROLE

#: The dashboard keeps this many refused identities, the latest.
UNMATCHED_KEPT = 500


@dataclass(frozen=True)
class Link:
    issuer: str
    subject: str
    login: str
    ent_login: str
    display_name: str
    how: str
    linked_at: float


@dataclass(frozen=True)
class Unmatched:
    issuer: str
    subject: str
    identity: dict
    reason: str
    login: str
    first_seen: float
    last_seen: float
    attempts: int


class LinkRefused(ValueError):
    """A link an admin asked for that matching would never allow."""


class EntLinks:
    """The links and refusals of one ENT (``issuer``: config.EntConfig.issuer): when the school
    changes its ENT, the other one's subjects never open an account here."""

    def __init__(self, registry: Registry, issuer: str):
        self.registry = registry
        self.issuer = issuer

    # Reads (an older registry opened read-only has no tables yet: nothing linked)

    def _rows(self, sql: str, args=()) -> list:
        try:
            return self.registry.db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []

    def subjects(self) -> dict:
        """ENT subject -> login."""
        return {row["subject"]: row["login"]
                for row in self._rows("SELECT subject, login FROM ent_links WHERE issuer = ?", (self.issuer,))}

    def by_login(self) -> dict:
        return {row["login"]: Link(**dict(row))
                for row in self._rows("SELECT * FROM ent_links WHERE issuer = ?", (self.issuer,))}

    def unmatched(self) -> list:
        rows = self._rows("SELECT * FROM ent_unmatched WHERE issuer = ? ORDER BY last_seen DESC", (self.issuer,))
        return [Unmatched(**{**dict(row), "identity": json.loads(row["identity"])}) for row in rows]

    def unmatched_one(self, subject: str) -> Optional[Unmatched]:
        return next((u for u in self.unmatched() if u.subject == subject), None)

    # A login's decision

    def decide(self, identity: EntIdentity, school_uai: str = "") -> Union[Match, Refused]:
        """The decision without recording anything (the Settings page's Test)."""
        return match(identity, [Candidate.of(a) for a in self.registry.accounts()], self.subjects(), school_uai)

    def resolve(self, identity: EntIdentity, school_uai: str = "") -> Union[Match, Refused]:
        decision = self.decide(identity, school_uai)
        if isinstance(decision, Match) and decision.how == "identifier":
            try:
                self._link(identity, decision.login, "identifier")
            except sqlite3.IntegrityError:  # linked meanwhile to another identity
                decision = Refused(TAKEN, decision.login)
        if isinstance(decision, Refused):
            self._remember(identity, decision)
        return decision

    def last_test(self) -> Optional[dict]:
        rows = self._rows("SELECT value FROM meta WHERE key = 'ent_test'")
        return json.loads(rows[0]["value"]) if rows else None

    # Writes

    def record_test(self, result: dict) -> None:
        """What the admin's Test login answered (one, the last)."""
        with self.registry.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('ent_test', ?)",
                       (json.dumps({**result, "at": time.time()}),))

    def link(self, identity: EntIdentity, login: str) -> None:
        """An admin matches an identity to an account by hand: the same rules as a login."""
        account = self.registry.get(login)
        if account is None:
            raise LinkRefused("no such account")
        if not may_open(identity.kind, Candidate.of(account)):
            raise LinkRefused(WRONG_ROLE)
        self._link(identity, login, "admin")

    def _link(self, identity: EntIdentity, login: str, how: str) -> None:
        with self.registry.transaction() as db:
            if how == "admin":  # the admin's choice replaces the account's previous link
                db.execute("DELETE FROM ent_links WHERE issuer = ? AND login = ?", (self.issuer, login))
            db.execute("INSERT OR REPLACE INTO ent_links (issuer, subject, login, ent_login, display_name, how,"
                       " linked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (self.issuer, identity.subject, login, identity.login, identity.display_name, how, time.time()))
            db.execute("DELETE FROM ent_unmatched WHERE issuer = ? AND subject = ?", (self.issuer, identity.subject))

    def unlink(self, login: str) -> bool:
        """The account's links, whatever ENT made them."""
        with self.registry.transaction() as db:
            return db.execute("DELETE FROM ent_links WHERE login = ?", (login,)).rowcount > 0

    def forget(self, subject: str) -> None:
        with self.registry.transaction() as db:
            db.execute("DELETE FROM ent_unmatched WHERE issuer = ? AND subject = ?", (self.issuer, subject))

    def _remember(self, identity: EntIdentity, refusal: Refused) -> None:
        now = time.time()
        with self.registry.transaction() as db:
            db.execute(
                "INSERT INTO ent_unmatched (issuer, subject, identity, reason, login, first_seen, last_seen)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (issuer, subject) DO UPDATE SET"
                " identity = excluded.identity, reason = excluded.reason, login = excluded.login,"
                " last_seen = excluded.last_seen, attempts = attempts + 1",
                (self.issuer, identity.subject, json.dumps(identity.to_json()), refusal.reason, refusal.login,
                 now, now))
            db.execute("DELETE FROM ent_unmatched WHERE rowid NOT IN"
                       " (SELECT rowid FROM ent_unmatched ORDER BY last_seen DESC LIMIT ?)", (UNMATCHED_KEPT,))
