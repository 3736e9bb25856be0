"""A leaver's work, to hand over: a ZIP of their home that opens on Windows without any tool,
kept for a time that the admin sets, then deleted (their personal data has an end).

The ZIP is made by root from a home that its owner filled, so it takes only what is the
owner's own work: regular files that the account owns, reached without following any link (a
pupil's link to /etc/shadow, or to a teacher's file, is left out), and no hidden file or folder
(caches, settings, the kernel's history). The tar.gz archive of the removal keeps everything
else, for a restore.
"""
import os
import stat
import time
import zipfile
import zlib
from dataclasses import dataclass
from typing import Optional

SUFFIX = ".zip"
ZIP_LEVEL = 1
#: What is tried to tell whether a file is worth compressing.
SAMPLE = 64 * 1024
#: The most that one ZIP takes in (bytes of files); the rest is named in NOTE.
MAX_BYTES = 4 << 30
TOO_BIG = "too big"
NOTE = "LISEZMOI - fichiers non inclus.txt"
NOTE_TEXT = ("Ces fichiers ne sont pas dans ce ZIP (trop gros, ou creux) ; l'archive complète du dossier "
             "reste chez l'administrateur.\nThese files are not in this ZIP (too large, or sparse); the whole "
             "folder's archive stays with the administrator.\n\n")


@dataclass
class Handover:
    name: str
    login: str
    created: float
    size: int
    expires: float


def write_home_zip(home: str, uid: Optional[int], dest: str, max_bytes: int = MAX_BYTES) -> int:
    """The owner's own files of home into the ZIP dest (made 0600, written whole or not at all);
    uid None: every owner's (a course's exchange folder, which its pupils fill).
    Returns how many files it holds. What is left out for its size (a sparse file is not work:
    `truncate -s 15T` costs its owner nothing and would cost the ZIP 15 TB of zeros; beyond
    max_bytes in all) is named in a note inside the ZIP."""
    partial = dest + ".partial"
    count, total, left_out = 0, 0, []
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in own_files(home):
                name = os.path.relpath(path, home)
                added = own_regular_file_into(archive, path, name, uid, max_bytes - total)
                if added is TOO_BIG:
                    left_out.append(name)
                elif added is not None:
                    count, total = count + 1, total + added
            if left_out:
                archive.writestr(NOTE, NOTE_TEXT + "".join(f"- {name}\n" for name in left_out))
        os.rename(partial, dest)
    except BaseException:
        try:
            os.unlink(partial)
        except FileNotFoundError:
            pass
        raise
    return count


def own_files(home: str):
    """Every non-hidden file path under home, depth first, without following a link or
    recursing (a home may nest folders thousands deep)."""
    stack = [home]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            else:
                yield entry.path


def own_regular_file_into(archive: zipfile.ZipFile, path: str, name: str, uid: Optional[int], room: int):
    """Add path as name if it is a regular file of uid's (uid None: anyone's), opened without
    following a link, not sparse, and within room bytes. Returns its size, TOO_BIG, or None (not
    the owner's work)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:  # a link, a socket, a file gone: not the pupil's work
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or (uid is not None and st.st_uid != uid):
            return None
        if st.st_size > room or st.st_blocks * 512 < st.st_size // 2:
            return TOO_BIG
        info = zipfile.ZipInfo(name, date_time=time.localtime(max(st.st_mtime, 315532800))[:6])
        chunk = f.read(1 << 20)
        info.compress_type = zipfile.ZIP_DEFLATED if shrinks(chunk) else zipfile.ZIP_STORED
        # The fastest deflate level: a year's close hands over hundreds of homes. (The
        # attribute's name since Python 3.13, and before.)
        try:
            info.compress_level = ZIP_LEVEL
        except AttributeError:
            info._compresslevel = ZIP_LEVEL
        with archive.open(info, "w", force_zip64=True) as member:
            while chunk:
                member.write(chunk)
                chunk = f.read(1 << 20)
    return st.st_size


def shrinks(head: bytes) -> bool:
    """Whether deflate gains anything on a file that starts with head: a pupil's photos, videos
    and archives are stored as they are, not compressed again for nothing."""
    sample = head[:SAMPLE]
    return len(zlib.compress(sample, ZIP_LEVEL)) < len(sample) * 0.9 if sample else False


def handover_name(login: str, when: float) -> str:
    return f"{login}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(when))}{SUFFIX}"


def listed(folder: str, keep_days: int) -> list:
    """The ZIPs kept in folder, newest first, each with the time it expires."""
    out = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return out
    for entry in entries:
        if not entry.name.endswith(SUFFIX) or not entry.is_file(follow_symlinks=False):
            continue
        st = entry.stat(follow_symlinks=False)
        login = entry.name[:-len(SUFFIX)].rsplit("-", 2)[0]
        out.append(Handover(entry.name, login, st.st_mtime, st.st_size, st.st_mtime + keep_days * 86400))
    return sorted(out, key=lambda h: h.created, reverse=True)


def delete_expired(folder: str, keep_days: int, now: float = None) -> list:
    """Delete the ZIPs past their time; returns their names."""
    now = time.time() if now is None else now
    gone = []
    for handover in listed(folder, keep_days):
        if handover.expires <= now:
            os.unlink(os.path.join(folder, handover.name))
            gone.append(handover.name)
    return gone
