"""An exclusive lock across processes (the CLI and the service), on a file beside the state it guards."""
import fcntl
import os
import time
from contextlib import contextmanager


class Busy(RuntimeError):
    """Another jhub-admin operation holds the lock."""


@contextmanager
def exclusive(path: str, wait: float = 0.0, message: str = "another jhub-admin operation is running; "
                                                              "try again when it is finished"):
    """Hold the lock file ``path``; wait up to ``wait`` seconds for it, then raise Busy(message)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as lock:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy(message) from None
                time.sleep(0.2)
        yield
