"""What a removal keeps to bring an account back: beside the tar.gz of its home (local.py's
archive_home), a record of the account: its login, ids, role, names and identifiers, never its
password hash (a restored account gets a new password, shown once with its slip).

A record is written only once the archive is whole; the listing shows only archives that have
one, newest first. Both are deleted with the handover ZIPs' period (settings.handover_days). Pure reads and writes of those two files; the restore itself is the engine's.
"""
import json
import os
import re
import time
from dataclasses import dataclass
from typing import Optional

from ..files import write_whole
from .registry import Account

SUFFIX = ".tar.gz"
RECORD_SUFFIX = ".account.json"
#: What a record keeps of an account (no hash, no flag: a restored account starts afresh).
FIELDS = ("login", "uid", "gid", "role", "first_name", "last_name", "email", "identity_key", "external_id")
ARCHIVE_NAME = re.compile(r"\A[a-z_][a-z0-9_.-]*-\d{8}-\d{6}\.tar\.gz\Z")


@dataclass
class Departed:
    archive: str  # the archive's file name in archive_dir
    account: dict  # FIELDS
    removed: float
    size: int

    @property
    def login(self) -> str:
        return self.account["login"]


def write_record(archive_path: str, account: Account) -> None:
    record = {name: getattr(account, name) for name in FIELDS}
    write_whole(archive_path[:-len(SUFFIX)] + RECORD_SUFFIX, json.dumps(record, ensure_ascii=False).encode("utf-8"))


def listed(archive_dir: str) -> list:
    """The archives of removed accounts that can be restored (those with a record), newest first."""
    out = []
    try:
        names = os.listdir(archive_dir)
    except FileNotFoundError:
        return out
    present = set(names)
    for name in names:
        if ARCHIVE_NAME.match(name) and name[:-len(SUFFIX)] + RECORD_SUFFIX in present:
            found = find(archive_dir, name)
            if found is not None:
                out.append(found)
    return sorted(out, key=lambda d: d.removed, reverse=True)


def delete_expired(archive_dir: str, keep_days: int, now: Optional[float] = None) -> list:
    """Delete the archives of removed accounts (and their records) past keep_days: personal data
    has an end, as the ZIPs handed over do. Returns the archives' names."""
    now = time.time() if now is None else now
    gone = []
    try:
        names = os.listdir(archive_dir)
    except FileNotFoundError:
        return gone
    for name in names:
        path = os.path.join(archive_dir, name)
        if ARCHIVE_NAME.match(name) and os.lstat(path).st_mtime + keep_days * 86400 <= now:
            for victim in (path[:-len(SUFFIX)] + RECORD_SUFFIX, path):
                try:
                    os.unlink(victim)
                except FileNotFoundError:
                    pass
            gone.append(name)
    return gone


def find(archive_dir: str, name: str) -> Optional[Departed]:
    """One archive and its record, by the archive's name (None when either is missing or unreadable)."""
    if not ARCHIVE_NAME.match(name or ""):
        return None
    path = os.path.join(archive_dir, name)
    try:
        with open(path[:-len(SUFFIX)] + RECORD_SUFFIX, encoding="utf-8") as f:
            record = json.load(f)
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or set(FIELDS) - set(record):
        return None
    return Departed(name, {k: record[k] for k in FIELDS}, st.st_mtime, st.st_size)
