"""Password hashing with the system's libcrypt (libxcrypt), the same code PAM's pam_unix uses.

Hashes are computed here, in parallel threads (ctypes releases the GIL during the C call),
then handed to ``chpasswd -e`` in one batch: no clear password ever reaches a process
argument, a pipe or a file.
"""
import ctypes
import ctypes.util
import hmac
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Optional

#: yescrypt is Debian 12's default (pam_unix "yescrypt", login.defs ENCRYPT_METHOD).
DEFAULT_PREFIX = b"$y$"
_CRYPT_DATA_SIZE = 32768  # sizeof(struct crypt_data) in libxcrypt
_OUTPUT_SIZE = 256

_lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1", use_errno=True)
_lib.crypt_rn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
_lib.crypt_rn.restype = ctypes.c_char_p
_lib.crypt_gensalt_rn.argtypes = [
    ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
]
_lib.crypt_gensalt_rn.restype = ctypes.c_char_p


def _crypt(password, setting):
    data = ctypes.create_string_buffer(_CRYPT_DATA_SIZE)
    result = _lib.crypt_rn(password.encode("utf-8"), setting, data, _CRYPT_DATA_SIZE)
    if not result or result.startswith(b"*"):
        raise ValueError("libcrypt refused to hash this password")
    return result.decode("ascii")


def hash_password(password: str, prefix: bytes = DEFAULT_PREFIX) -> str:
    """A crypt(3) hash of password, with a fresh random salt."""
    out = ctypes.create_string_buffer(_OUTPUT_SIZE)
    rbytes = os.urandom(16)
    setting = _lib.crypt_gensalt_rn(prefix, 0, rbytes, len(rbytes), out, _OUTPUT_SIZE)
    if not setting:
        raise OSError(ctypes.get_errno(), "crypt_gensalt failed")
    return _crypt(password, setting)


def verify_password(password: str, hashed: str) -> bool:
    """True when password matches a crypt(3) hash (locked hashes starting with '!' never match)."""
    if not hashed or hashed[0] in "!*":
        return False
    try:
        return hmac.compare_digest(_crypt(password, hashed.encode("ascii")), hashed)
    except ValueError:
        return False


class HashingStopped(RuntimeError):
    """hash_many was asked to stop (the operation it served failed)."""


def _lower_priority(niceness):
    """Lower the calling thread's CPU priority to niceness, never raise it (Linux: a thread's id
    is a valid PRIO_PROCESS)."""
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, max(niceness, os.getpriority(os.PRIO_PROCESS, thread)))
    except (OSError, AttributeError):
        pass


def hash_many(passwords: Iterable[str], workers: Optional[int] = None, prefix: bytes = DEFAULT_PREFIX,
              on_progress: Optional[Callable[[int], None]] = None, niceness: int = 0,
              stop: Optional[threading.Event] = None) -> list:
    """Hash a list of passwords on every core; results keep the input order.

    ``on_progress(done)`` is called from this thread about a hundred times, for a progress bar.
    ``niceness`` > 0 runs the hashing threads at a lower priority, so that work running beside
    them (the hub, the shadow tools) goes first and the hashing takes the idle CPU.
    ``stop``, a threading.Event: once set, the remaining passwords raise HashingStopped.
    """
    passwords = list(passwords)
    workers = workers or os.cpu_count() or 1
    step = max(1, len(passwords) // 100)
    hashes = []

    def one(password):
        if stop is not None and stop.is_set():
            raise HashingStopped("password hashing stopped")
        return hash_password(password, prefix)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(passwords))),
                            initializer=_lower_priority if niceness else None,
                            initargs=(niceness,) if niceness else ()) as pool:
        for hashed in pool.map(one, passwords):
            hashes.append(hashed)
            if on_progress and (len(hashes) % step == 0 or len(hashes) == len(passwords)):
                on_progress(len(hashes))
    return hashes
