"""What the two forking processes share: the preloading process (classroom/preload.py, servers) and
the kernel template (classroom/kernel_template.py, kernels). Standard library only: the template
runs in the teaching kernel's Python, which has none of the servers' packages."""
import atexit
import os
import sys
import threading
from typing import Callable, List, NoReturn, Tuple


def reap_children(exited: List[Tuple[int, int]]) -> None:
    """A SIGCHLD handler's work: every ended child's (pid, exit status), without blocking."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        exited.append((pid, os.waitstatus_to_exitcode(status)))


def run_child(work: Callable[[], int]) -> NoReturn:
    """In a forked child: run work, then end as an interpreter ends (never back into the parent's
    loop, whatever work raised)."""
    code = 1
    try:
        code = work()
    except BaseException as exc:  # noqa: B036 (SystemExit included: this child ends here)
        code = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 1
        if not isinstance(exc, SystemExit):
            sys.excepthook(*sys.exc_info())
    finally:
        try:
            # What the interpreter does at its end: join the other threads, then atexit (a
            # kernel's history is saved there).
            threading._shutdown()
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
