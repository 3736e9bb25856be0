"""The archives directory (/backups): listing, metadata, atomic commit,
verification, deletion, settings.  Plain file operations, no Docker."""
from __future__ import annotations

import hashlib
import json
import os

from .validation import (
    ARCHIVE_NAME_RE,
    DEFAULT_SETTINGS,
    ValidationError,
    validate_archive_name,
    validate_settings,
)

CHUNK = 1024 * 1024
SETTINGS_FILE = ".settings.json"
STATE_FILE = ".state.json"
TMP_PREFIX = ".tmp-"


class ArchiveNotFound(LookupError):
    pass


def sha256_file(path: str, progress=None) -> str:
    h = hashlib.sha256()
    done = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(CHUNK)
            if not block:
                break
            h.update(block)
            done += len(block)
            if progress is not None:
                progress(done)
    return h.hexdigest()


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: str, data, mode: int = 0o600) -> None:
    directory = os.path.dirname(path)
    tmp = os.path.join(directory, TMP_PREFIX + os.path.basename(path).lstrip("."))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(directory)


class ArchiveStore:
    """Archives live in one flat directory: ``NAME`` (the archive, visible
    only once complete), ``NAME.json`` (its metadata) and, while a job runs,
    ``.tmp-NAME``.  Names are validated by the strict regex before any path
    is built, so no caller-supplied string ever reaches the file system."""

    def __init__(self, directory: str):
        self.directory = os.path.abspath(directory)

    # paths -----------------------------------------------------------------
    def path(self, name: str) -> str:
        return os.path.join(self.directory, validate_archive_name(name))

    def meta_path(self, name: str) -> str:
        return self.path(name) + ".json"

    def tmp_path(self, name: str) -> str:
        return os.path.join(self.directory, TMP_PREFIX + validate_archive_name(name))

    # listing -----------------------------------------------------------------
    def names(self) -> list:
        try:
            entries = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted(e for e in entries if ARCHIVE_NAME_RE.match(e))

    def meta(self, name: str) -> dict:
        path = self.path(name)
        if not os.path.isfile(path):
            raise ArchiveNotFound(name)
        try:
            with open(self.meta_path(name), encoding="utf-8") as f:
                meta = json.load(f)
        except (OSError, ValueError):
            st = os.stat(path)
            meta = {"name": name, "size": st.st_size, "created_ts": st.st_mtime,
                    "sha256": None, "incomplete_metadata": True}
        meta["name"] = name
        return meta

    def list(self) -> list:
        out = []
        for name in self.names():
            try:
                out.append(self.meta(name))
            except ArchiveNotFound:
                continue
        out.sort(key=lambda m: (m.get("created_ts") or 0, m["name"]), reverse=True)
        return out

    # writing -----------------------------------------------------------------
    def commit(self, name: str, meta: dict, fsync: bool = True) -> dict:
        """Make a finished temporary archive visible: fsync it, write its
        metadata, then rename ``.tmp-NAME`` to ``NAME`` (atomic)."""
        tmp = self.tmp_path(name)
        final = self.path(name)
        if os.path.exists(final):
            raise FileExistsError(final)
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.chmod(tmp, 0o600)
        meta = dict(meta, name=name, size=os.stat(tmp).st_size)
        write_json_atomic(self.meta_path(name), meta)
        os.rename(tmp, final)
        _fsync_dir(self.directory)
        return meta

    def discard_tmp(self, name: str) -> None:
        try:
            os.unlink(self.tmp_path(name))
        except FileNotFoundError:
            pass

    def delete(self, name: str) -> None:
        path = self.path(name)
        if not os.path.isfile(path):
            raise ArchiveNotFound(name)
        os.unlink(path)
        try:
            os.unlink(self.meta_path(name))
        except FileNotFoundError:
            pass
        _fsync_dir(self.directory)

    def cleanup(self) -> list:
        """Remove leftovers of interrupted jobs: temporary files and metadata
        without an archive.  Returns the removed names."""
        removed = []
        try:
            entries = os.listdir(self.directory)
        except FileNotFoundError:
            return removed
        for e in entries:
            full = os.path.join(self.directory, e)
            if e.startswith(TMP_PREFIX) and os.path.isfile(full):
                os.unlink(full)
                removed.append(e)
            elif e.endswith(".json") and ARCHIVE_NAME_RE.match(e[:-5]) and e[:-5] not in entries:
                os.unlink(full)
                removed.append(e)
        return removed

    # verification --------------------------------------------------------------
    def verify(self, name: str, progress=None) -> dict:
        meta = self.meta(name)
        path = self.path(name)
        size = os.stat(path).st_size
        actual = sha256_file(path, progress)
        recorded = meta.get("sha256")
        ok = recorded is not None and actual == recorded and size == meta.get("size")
        return {"name": name, "ok": ok, "sha256": actual, "recorded_sha256": recorded,
                "size": size, "recorded_size": meta.get("size")}

    # settings ------------------------------------------------------------------
    def read_json(self, fname: str, default):
        try:
            with open(os.path.join(self.directory, fname), encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return default

    def load_settings(self) -> dict:
        data = self.read_json(SETTINGS_FILE, None)
        if not isinstance(data, dict):
            return json.loads(json.dumps(DEFAULT_SETTINGS))
        try:
            return validate_settings(data, DEFAULT_SETTINGS)
        except ValidationError:
            return json.loads(json.dumps(DEFAULT_SETTINGS))

    def save_settings(self, settings: dict) -> None:
        write_json_atomic(os.path.join(self.directory, SETTINGS_FILE), settings)

    def load_state(self) -> dict:
        data = self.read_json(STATE_FILE, {})
        return data if isinstance(data, dict) else {}

    def save_state(self, state: dict) -> None:
        write_json_atomic(os.path.join(self.directory, STATE_FILE), state)

