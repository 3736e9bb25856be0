"""restic, driven as a program: the environment that names the repository and its key, the
commands the sidecar runs, their JSON output, and their errors named by cause.

The same functions serve the sidecar's own process (the repository is on its archives volume:
snapshots, ls, forget, check) and the helper containers that see the volumes (backup, restore).
"""
import json
import os
import subprocess
from typing import Optional

#: Where the repository, restic's cache and its temporary packs live on the archives volume.
REPOSITORY_DIR = "restore-points"
CACHE_DIR = ".restic-cache"
TMP_DIR = ".restic-tmp"
KEY_FILE = "restore-points.key"
#: Every snapshot is made under this host name, whatever container made it: restic finds the
#: previous snapshot of the same host and paths, and reads only the files that changed since.
HOST = "jhub-admin"


class ResticError(RuntimeError):
    """A restic command failed. ``code``: wrong_key, no_space, no_repository, locked, failed."""

    STATUS = {"wrong_key": 409, "no_repository": 409, "locked": 409, "no_space": 507}

    def __init__(self, message: str, code: str = "failed"):
        super().__init__(message)
        self.code = code
        self.detail = {}
        self.status = self.STATUS.get(code, 500)


def classify(stderr: str, returncode: int) -> ResticError:
    """The cause of a failure, from restic's message (restic 0.14 exits 1 for most errors)."""
    text = (stderr or "").strip()
    low = text.lower()
    last = text.splitlines()[-1] if text else f"restic exited with status {returncode}"
    if "wrong password" in low or "no key found" in low:
        return ResticError("the restore points' key does not open the repository (wrong key): "
                           "nothing was read or restored", "wrong_key")
    if "no space left on device" in low or "disk quota exceeded" in low:
        return ResticError(f"no space left on the restore points' disk: {last}", "no_space")
    if "is there a repository at the following location" in low or "repository does not exist" in low:
        return ResticError("no restore point repository at this place yet", "no_repository")
    if "repository is already locked" in low:
        return ResticError(f"the repository is locked by another operation: {last}", "locked")
    return ResticError(last[-2000:])


def environment(backups: str, keys: str) -> dict:
    """restic's environment: the repository on the archives volume (``backups``), the key in the
    keys folder (``keys``), the cache and the temporary packs on the archives volume (the
    containers' root file systems are read-only)."""
    return {
        "RESTIC_REPOSITORY": os.path.join(backups, REPOSITORY_DIR),
        "RESTIC_PASSWORD_FILE": os.path.join(keys, KEY_FILE),
        "RESTIC_CACHE_DIR": os.path.join(backups, CACHE_DIR),
        "TMPDIR": os.path.join(backups, TMP_DIR),
        "RESTIC_PROGRESS_FPS": "0.2",
        "HOME": "/nonexistent",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "TZ": os.environ.get("TZ", "UTC"),
    }


def json_lines(stdout: str) -> list:
    """restic --json prints one object (or array) per line; status lines are kept too."""
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith(("{", "[")):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def backup_summary(stdout: str) -> dict:
    for message in reversed(json_lines(stdout)):
        if isinstance(message, dict) and message.get("message_type") == "summary":
            return message
    raise ResticError(f"restic backup printed no summary: {stdout[-500:]!r}")


def run(args: list, env: dict, timeout: Optional[float] = None, input: Optional[str] = None) -> str:
    """Run ``restic ARGS``; its stdout, or the :class:`ResticError` that names the cause."""
    for folder in (env.get("RESTIC_CACHE_DIR"), env.get("TMPDIR")):
        if folder:
            os.makedirs(folder, mode=0o700, exist_ok=True)
    try:
        done = subprocess.run(["restic", *args], env=env, capture_output=True, text=True,
                              timeout=timeout, input=input)
    except subprocess.TimeoutExpired:
        raise ResticError(f"restic {args[0]} did not finish within {int(timeout)} s") from None
    if done.returncode != 0:
        raise classify(done.stderr, done.returncode)
    return done.stdout


def snapshots(env: dict) -> list:
    """The restore points, oldest first: ``{"id", "short_id", "time", "tags", "paths"}``."""
    data = json.loads(run(["snapshots", "--json", "--no-lock", "--host", HOST], env, 120) or "[]")
    return sorted(data or [], key=lambda s: s.get("time", ""))


def list_folder(env: dict, snapshot: str, folder: str) -> list:
    """The entries directly inside ``folder`` (an absolute path of the snapshot's tree)."""
    nodes = json_lines(run(["ls", "--json", "--no-lock", snapshot, folder], env, 120))
    return [n for n in nodes if isinstance(n, dict) and n.get("struct_type") == "node"
            and n.get("path") != folder and os.path.dirname(n.get("path", "")) == folder]
