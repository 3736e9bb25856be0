"""The free-space check before an export: an export is refused (507), with the figures, when the
archives volume could not hold it and still keep a reserve.

The archive's size is estimated from the volumes' disk use, measured by a helper (du, see
scripts.DISK_USE): the allocated bytes, so that a sparse file counts for its data only (exports
store holes as holes, tar --sparse), plus a tar header and its padding per entry and tar's last
record. Compression is not counted: an archive of notebooks is smaller, one of photos or of
already compressed files is not, and a full disk is what the check is there to avoid. The
reserve keeps room for everything else on that disk (in a school, the homes and the hub's
database are usually on the same file system as the archives).
"""
import os
import re

from .engine import HelperFailed
from .refusal import NoSpace

USE_LINE = re.compile(r"^JHUB-USE (\w+) (\d+) (\d+)$", re.M)
TAR_ENTRY_BYTES = 1024  # a 512-byte header, and up to 511 bytes of padding of its data
TAR_TAIL_BYTES = 1 << 20  # the last record (1 MiB records, see export_pipe.py)


def parse_disk_use(stdout: str, targets) -> dict:
    """``{target: (allocated bytes, entries)}`` from the disk-use helper's output."""
    found = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in USE_LINE.finditer(stdout)}
    missing = [t for t in targets if t not in found]
    if missing:
        raise HelperFailed(f"could not measure the disk use of {', '.join(missing)}: {stdout[-500:]!r}")
    return {t: found[t] for t in targets}


def estimate_archive_size(use: dict) -> int:
    """An upper bound of the archive's size, before compression."""
    return TAR_TAIL_BYTES + sum(used + entries * TAR_ENTRY_BYTES for used, entries in use.values())


def free_bytes(directory: str) -> int:
    """Bytes that an unprivileged writer may still use on the file system of ``directory``."""
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def mib(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MiB"


def check_room(needed: int, free: int, reserve: int) -> dict:
    """Raise :class:`NoSpace` unless ``needed`` bytes fit in ``free`` with ``reserve`` left."""
    figures = {"needed": needed, "free": free, "reserve": reserve}
    if free - needed < reserve:
        raise NoSpace(
            f"not enough free space on the archives volume: this export needs up to {mib(needed)} "
            f"(the volumes' disk use, before compression), {mib(free)} are free and "
            f"{mib(reserve)} are kept free for the rest of the server. Download and delete old "
            "archives (or apply the retention), then try again", code="no_space", **figures)
    return figures
