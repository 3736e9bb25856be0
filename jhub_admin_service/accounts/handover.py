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
from dataclasses import dataclass

SUFFIX = ".zip"


@dataclass
class Handover:
    name: str
    login: str
    created: float
    size: int
    expires: float

    def to_json(self) -> dict:
        return {"name": self.name, "login": self.login, "created": self.created, "size": self.size,
                "expires": self.expires}


def write_home_zip(home: str, uid: int, dest: str) -> int:
    """The owner's own files of home into the ZIP dest (made 0600, written whole or not at all).
    Returns how many files it holds."""
    partial = dest + ".partial"
    count = 0
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for folder, dirs, files in os.walk(home, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(f for f in files if not f.startswith(".")):
                    path = os.path.join(folder, name)
                    if own_regular_file_into(archive, path, os.path.relpath(path, home), uid):
                        count += 1
        os.rename(partial, dest)
    except BaseException:
        try:
            os.unlink(partial)
        except FileNotFoundError:
            pass
        raise
    return count


def own_regular_file_into(archive: zipfile.ZipFile, path: str, name: str, uid: int) -> bool:
    """Add path as name if it is a regular file of uid's, opened without following a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:  # a link, a socket, a file gone: not the pupil's work
        return False
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != uid:
            return False
        info = zipfile.ZipInfo(name, date_time=time.localtime(max(st.st_mtime, 315532800))[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            while chunk := f.read(1 << 20):
                member.write(chunk)
    return True


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
