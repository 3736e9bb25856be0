"""What a removal keeps to bring an account back: a record of the account (its login, ids, role,
names and identifiers, never its password hash: a restored account gets a new password, shown
once with its slip), and where its home is kept:

- beside the record, the tar.gz of the home (local.py's archive_home): a removal during the year;
- in the school year's export (the record names it and its sha256): a leaver removed by the
  year's close, whose home that verified export already holds. The sidecar brings the home back
  from it (a one-user restore); no second copy is written.

A record is written only once its home is kept whole; the listing shows only those, newest
first. Both are deleted with the handover ZIPs' period (settings.handover_days). Pure reads and
writes of those files; the restore itself is the engine's and the sidecar's.
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
#: The record of a leaver whose home is in the year's export (no tar.gz beside it).
RECORD_NAME = re.compile(r"\A[a-z_][a-z0-9_.-]*-\d{8}-\d{6}\.account\.json\Z")


@dataclass
class Departed:
    #: What names it in archive_dir: the tar.gz's file name, or the record's when the home is in
    #: a year's export.
    archive: str
    account: dict  # FIELDS
    removed: float
    size: int
    #: {"name", "sha256"}: the year's export that holds the home (None: the tar.gz holds it).
    export: Optional[dict] = None

    @property
    def login(self) -> str:
        return self.account["login"]


def record_of(account: Account) -> dict:
    return {name: getattr(account, name) for name in FIELDS}


def write_record(archive_path: str, account: Account) -> None:
    write_whole(archive_path[:-len(SUFFIX)] + RECORD_SUFFIX,
                json.dumps(record_of(account), ensure_ascii=False).encode("utf-8"))


def write_export_record(archive_dir: str, account: Account, export: dict, size: int,
                        when: Optional[float] = None) -> str:
    """The record of an account whose home the year's export holds; returns its path."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    path = os.path.join(archive_dir, f"{account.login}-{stamp}{RECORD_SUFFIX}")
    record = {**record_of(account), "export": {"name": export["name"], "sha256": export["sha256"]}, "size": size}
    os.makedirs(archive_dir, mode=0o700, exist_ok=True)
    write_whole(path, json.dumps(record, ensure_ascii=False).encode("utf-8"))
    return path


def _kept_by_export(name: str, present: set) -> bool:
    """A record without its tar.gz: its home is in a year's export."""
    return bool(RECORD_NAME.match(name)) and name[:-len(RECORD_SUFFIX)] + SUFFIX not in present


def listed(archive_dir: str) -> list:
    """The archives of removed accounts that can be restored (those with a record), newest first."""
    out = []
    try:
        names = os.listdir(archive_dir)
    except FileNotFoundError:
        return out
    present = set(names)
    for name in names:
        if (ARCHIVE_NAME.match(name) and name[:-len(SUFFIX)] + RECORD_SUFFIX in present) \
                or _kept_by_export(name, present):
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
    present = set(names)
    for name in names:
        path = os.path.join(archive_dir, name)
        if not (ARCHIVE_NAME.match(name) or _kept_by_export(name, present)):
            continue
        if os.lstat(path).st_mtime + keep_days * 86400 <= now:
            # The year's export itself is the school's record and stays (see year/close.py).
            victims = [path[:-len(SUFFIX)] + RECORD_SUFFIX, path] if name.endswith(SUFFIX) else [path]
            for victim in victims:
                try:
                    os.unlink(victim)
                except FileNotFoundError:
                    pass
            gone.append(name)
    return gone


def find(archive_dir: str, name: str) -> Optional[Departed]:
    """One removed account by its archive's name, or by its record's name when a year's export
    holds its home (None when either is missing or unreadable)."""
    by_export = bool(RECORD_NAME.match(name or ""))
    if not (by_export or ARCHIVE_NAME.match(name or "")):
        return None
    path = os.path.join(archive_dir, name)
    try:
        with open(path if by_export else path[:-len(SUFFIX)] + RECORD_SUFFIX, encoding="utf-8") as f:
            record = json.load(f)
        st = os.stat(path)
        if by_export and os.path.exists(path[:-len(RECORD_SUFFIX)] + SUFFIX):
            return None  # named by its tar.gz
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or set(FIELDS) - set(record):
        return None
    export = record.get("export") if by_export else None
    if by_export and not (isinstance(export, dict) and isinstance(export.get("name"), str)
                          and isinstance(export.get("sha256"), str)):
        return None
    size = record.get("size") if by_export else st.st_size
    return Departed(name, {k: record[k] for k in FIELDS}, st.st_mtime, size if isinstance(size, int) else 0,
                    {"name": export["name"], "sha256": export["sha256"]} if by_export else None)
