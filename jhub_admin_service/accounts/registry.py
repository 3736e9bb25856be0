"""The account registry: the source of truth for the accounts jhub-admin manages.

A SQLite file on the data volume. It holds password hashes, never clear passwords.
Every write is one transaction, so a killed import leaves either all or none of its rows.
"""
import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Iterator, Optional

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    login TEXT PRIMARY KEY,
    uid INTEGER NOT NULL UNIQUE,
    gid INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('student', 'teacher', 'admin')),
    -- 1 for a teacher who is also one of the hub's admins (the role stays 'teacher').
    hub_admin INTEGER NOT NULL DEFAULT 0,
    classes TEXT NOT NULL DEFAULT '[]',
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    identity_key TEXT NOT NULL DEFAULT '',
    -- The person's identifier in the school's lists (ENT Id, INE): what a corrected name keeps.
    external_id TEXT NOT NULL DEFAULT '',
    -- As the class list wrote it (11/03/2009): what tells two pupils of the same name apart.
    birth_date TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    -- 1 while the hash here must still be pushed to /etc/shadow (a reset not yet applied).
    hash_pending INTEGER NOT NULL DEFAULT 1,
    -- 1 while the account still has the password an admin chose or generated.
    initial_password INTEGER NOT NULL DEFAULT 1,
    disabled INTEGER NOT NULL DEFAULT 0,
    -- 1 for an account that leaves at the end of the year (marked by an admin).
    leaving INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS accounts_identity ON accounts (identity_key);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- An ENT identity (its ENT's subject) linked to an account at its first login or by an admin
-- (ent/links.py); removed with the account, so that a later account of that login is not theirs.
-- Subjects are one ENT's (issuer: its protocol and address): another ENT's same subject is another person.
CREATE TABLE IF NOT EXISTS ent_links (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    login TEXT NOT NULL,
    ent_login TEXT NOT NULL DEFAULT '',
    display_name TEXT NOT NULL DEFAULT '',
    how TEXT NOT NULL,
    linked_at REAL NOT NULL,
    PRIMARY KEY (issuer, subject),
    UNIQUE (issuer, login)
);
-- ENT identities that logged in and matched no account, for the admin to match or import.
CREATE TABLE IF NOT EXISTS ent_unmatched (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    identity TEXT NOT NULL,
    reason TEXT NOT NULL,
    login TEXT NOT NULL DEFAULT '',
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (issuer, subject)
);
"""
#: Columns added since a registry's file was first made: (name, definition), added at open.
ADDED_COLUMNS = (("hub_admin", "INTEGER NOT NULL DEFAULT 0"), ("external_id", "TEXT NOT NULL DEFAULT ''"),
                 ("leaving", "INTEGER NOT NULL DEFAULT 0"), ("birth_date", "TEXT NOT NULL DEFAULT ''"))
FLAGS = ("hub_admin", "hash_pending", "initial_password", "disabled", "leaving")
DEFAULT_PATH = "/srv/jupyterhub/jhub-admin.sqlite"
#: The password_hash of an account made before its password was hashed: locked, like a new
#: account of newusers. An import sets its hash when ready; if it was killed first, the next
#: import of the account gives it a password.
NO_PASSWORD = "!"
FIRST_UID = 10000
LAST_UID = 59999


def holds_admin(role: str, hub_admin: bool) -> bool:
    """An admin of the hub: the admin role, or a teacher given admin rights."""
    return role == "admin" or (role == "teacher" and bool(hub_admin))


@dataclass
class Account:
    login: str
    uid: int
    gid: int
    role: str
    classes: list = field(default_factory=list)
    #: A teacher with the hub's admin rights beside their courses.
    hub_admin: bool = False
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    identity_key: str = ""
    external_id: str = ""
    #: DD/MM/YYYY whatever the list wrote (plan.french_date): tells namesakes apart on slips.
    birth_date: str = ""
    password_hash: str = field(default="", repr=False)
    hash_pending: bool = True
    initial_password: bool = True
    disabled: bool = False
    leaving: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Account":
        # Only the columns this version knows: a registry that a newer version opened has more.
        data = {name: row[name] for name in row.keys() if name in ACCOUNT_FIELDS}
        data["classes"] = json.loads(data["classes"])
        for flag in FLAGS:
            if flag in data:  # a read-only view of a registry older than the column has none
                data[flag] = bool(data[flag])
        return cls(**data)

    @property
    def is_admin(self) -> bool:
        return holds_admin(self.role, self.hub_admin)

    def to_json(self) -> dict:
        """The public view: no hash."""
        return {
            "login": self.login, "uid": self.uid, "role": self.role, "admin": self.is_admin,
            "classes": list(self.classes), "first_name": self.first_name, "last_name": self.last_name, "email": self.email,
            "disabled": self.disabled, "leaving": self.leaving, "initial_password": self.initial_password,
            "created_at": self.created_at, "updated_at": self.updated_at,
        }


ACCOUNT_FIELDS = {f.name for f in fields(Account)}


def create_private(path: str) -> None:
    """Make the registry's file (mode 0600) if it does not exist yet, without ever opening it if it
    does. Closing any descriptor of a file drops every POSIX lock the process holds on it, those
    of SQLite's open connections too: another process closing its own connection then believes it
    is the last one, checkpoints and deletes the WAL, and this process's next commits go to the
    deleted WAL, lost when it is killed (an import's registry rows were, while its local accounts
    stayed: issue 26)."""
    if os.path.exists(path):
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    except FileExistsError:  # made meanwhile by another process
        pass


def add_columns(db: sqlite3.Connection) -> None:
    """Bring a registry made by an older version up to the schema (CREATE TABLE IF NOT EXISTS
    leaves an existing table as it is)."""
    present = {row[1] for row in db.execute("PRAGMA table_info(accounts)")}
    for name, definition in ADDED_COLUMNS:
        if name not in present:
            try:
                db.execute(f"ALTER TABLE accounts ADD COLUMN {name} {definition}")
            except sqlite3.OperationalError as exc:  # added meanwhile by another process
                if "duplicate column" not in str(exc):
                    raise


class Registry:
    """Open (and create on first write) the registry at path.

    With readonly=True a missing file is not created: an empty registry is assumed, which is
    what a dry run against a fresh server needs.
    """

    def __init__(self, path: str = DEFAULT_PATH, readonly: bool = False):
        self.path = path
        self.readonly = readonly
        self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            if self.readonly and not os.path.exists(self.path):
                self._db = sqlite3.connect(":memory:", check_same_thread=False)
                self._db.executescript(SCHEMA)
            elif self.readonly:
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            else:
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
                create_private(self.path)
                self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(SCHEMA)
                add_columns(self._db)
            self._db.row_factory = sqlite3.Row
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # Reads

    def accounts(self, role: Optional[str] = None, klass: Optional[str] = None,
                 search: Optional[str] = None) -> list:
        rows = self.db.execute("SELECT * FROM accounts ORDER BY login").fetchall()
        accounts = [Account.from_row(r) for r in rows]
        if role:
            accounts = [a for a in accounts if a.role == role]
        if klass:
            accounts = [a for a in accounts if klass in a.classes]
        if search:
            needle = search.lower()
            accounts = [a for a in accounts
                        if needle in f"{a.login} {a.first_name} {a.last_name} {a.email}".lower()]
        return accounts

    def by_login(self) -> dict:
        return {a.login: a for a in self.accounts()}

    def get(self, login: str) -> Optional[Account]:
        row = self.db.execute("SELECT * FROM accounts WHERE login = ?", (login,)).fetchone()
        return Account.from_row(row) if row else None

    def classes(self) -> list:
        return sorted({c for a in self.accounts() for c in a.classes})

    # Writes (each inside a transaction supplied by the caller or opened here)

    def next_uid(self, db: sqlite3.Connection, reserved: Iterable[int] = ()) -> int:
        """The lowest free uid at or after the last one handed out, skipping ids used locally."""
        row = db.execute("SELECT value FROM meta WHERE key = 'next_uid'").fetchone()
        uid = json.loads(row[0]) if row else FIRST_UID
        used = {r[0] for r in db.execute("SELECT uid FROM accounts")} | set(reserved)
        while uid in used:
            uid += 1
        if uid > LAST_UID:
            raise RuntimeError("no free uid left in the managed range")
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_uid', ?)", (json.dumps(uid + 1),))
        return uid

    def insert(self, db: sqlite3.Connection, account: Account) -> None:
        now = time.time()
        db.execute(
            "INSERT INTO accounts (login, uid, gid, role, hub_admin, classes, first_name, last_name, email,"
            " identity_key, external_id, birth_date, password_hash, hash_pending, initial_password, disabled,"
            " leaving, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (account.login, account.uid, account.gid, account.role, int(account.hub_admin),
             json.dumps(account.classes),
             account.first_name, account.last_name, account.email, account.identity_key, account.external_id,
             account.birth_date, account.password_hash, int(account.hash_pending), int(account.initial_password),
             int(account.disabled), int(account.leaving), now, now),
        )

    def update(self, db: sqlite3.Connection, login: str, **fields: Any) -> None:
        if "classes" in fields:
            fields["classes"] = json.dumps(fields["classes"])
        for flag in FLAGS:
            if flag in fields:
                fields[flag] = int(fields[flag])
        fields["updated_at"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in fields)
        db.execute(f"UPDATE accounts SET {assignments} WHERE login = ?", (*fields.values(), login))

    def delete(self, db: sqlite3.Connection, login: str) -> None:
        db.execute("DELETE FROM accounts WHERE login = ?", (login,))
        db.execute("DELETE FROM ent_links WHERE login = ?", (login,))
