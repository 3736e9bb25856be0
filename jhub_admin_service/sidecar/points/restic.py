"""restic, driven as a program: the environment that names the repository and its key, the
commands the sidecar runs, their JSON output, and their errors named by cause.

The same functions serve the sidecar's own process (snapshots, ls, forget, check) and the
helper containers that see the volumes (backup, restore). Both open the repository where its
place (place.py) says, from the files on the keys' volume.
"""
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Optional

from .place import PLACE_FILE, rclone_env, repository_url, validate_place
from .tunnel import SOCKET_NAME

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

    STATUS = {"wrong_key": 409, "no_repository": 409, "locked": 409, "no_space": 507,
              "no_point": 404, "repository_exists": 409, "unreachable": 502, "refused": 502, "host_key_changed": 502}

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
    if "no matching id found" in low:
        return ResticError("no such restore point", "no_point")
    if "repository is already locked" in low:
        return ResticError(f"the repository is locked by another operation: {last}", "locked")
    if "config file already exists" in low or "repository master key and config already initialized" in low:
        return ResticError("a restore point repository already exists at this place: give its key "
                           "instead", "repository_exists")
    if "host key verification failed" in low or "knownhosts: key mismatch" in low \
            or "knownhosts: key is unknown" in low:
        return ResticError("the SSH server's host key is not the one recorded when the place was "
                           "set (another machine at its address, or the server reinstalled): "
                           "refused, nothing was sent", "host_key_changed")
    if "permission denied (publickey" in low or "unable to authenticate" in low \
            or "access denied" in low or "invalidaccesskeyid" in low or "signaturedoesnotmatch" in low:
        return ResticError(f"the place refused the sidecar (its key or its host key): {last}", "refused")
    if any(word in low for word in ("connection refused", "no such host", "could not resolve",
                                    "network is unreachable", "connection timed out", "i/o timeout",
                                    "connection closed", "unable to start the sftp session")):
        return ResticError(f"the place of the restore points cannot be reached: {last}", "unreachable")
    return ResticError(last[-2000:])


@dataclass(frozen=True)
class Repository:
    """How to run restic on the repository: its environment and its extended options."""
    env: dict
    options: tuple = ()

    def argv(self, *args) -> list:
        return ["restic", *self.options, *args]

    def with_key(self, key: str) -> "Repository":
        return Repository(dict(self.env, RESTIC_PASSWORD_FILE="", RESTIC_PASSWORD=key), self.options)


def repository(backups: str, keys: str, place: dict, tunnel: bool = False) -> Repository:
    """The repository at ``place``: the key in the keys folder (``keys``), the cache and the
    temporary packs on the archives volume (``backups``; the containers' root file systems are
    read-only). Away from the archives volume, restic runs rclone: itself in the sidecar, or,
    with ``tunnel`` (a helper), the tunnel to the sidecar's rclone."""
    env = {
        "RESTIC_REPOSITORY": repository_url(place, backups),
        "RESTIC_PASSWORD_FILE": os.path.join(keys, KEY_FILE),
        "RESTIC_CACHE_DIR": os.path.join(backups, CACHE_DIR),
        "TMPDIR": os.path.join(backups, TMP_DIR),
        "RESTIC_PROGRESS_FPS": "0.2",
        "HOME": "/nonexistent",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "TZ": os.environ.get("TZ", "UTC"),
    }
    if place["kind"] == "archives":
        return Repository(env)
    if tunnel:
        program = os.path.join(os.path.dirname(sys.executable), "jhub-admin-points-tunnel")
        env["JHUB_POINTS_TUNNEL"] = os.path.join(keys, SOCKET_NAME)
    else:
        program = "rclone"
        env.update(rclone_env(place, keys))
    return Repository(env, ("-o", f"rclone.program={program}"))


def read_place(keys: str) -> Optional[dict]:
    """The place recorded on the keys' volume; None when none was recorded (a repository made
    before places existed is on the archives volume)."""
    try:
        with open(os.path.join(keys, PLACE_FILE)) as f:
            return validate_place(json.load(f))
    except FileNotFoundError:
        return None


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


def run(args: list, repo: Repository, timeout: Optional[float] = None, input: Optional[str] = None) -> str:
    """Run ``restic ARGS``; its stdout, or the :class:`ResticError` that names the cause."""
    for folder in (repo.env.get("RESTIC_CACHE_DIR"), repo.env.get("TMPDIR")):
        if folder:
            os.makedirs(folder, mode=0o700, exist_ok=True)
    try:
        done = subprocess.run(repo.argv(*args), env=repo.env, capture_output=True, text=True,
                              timeout=timeout, input=input)
    except subprocess.TimeoutExpired:
        raise ResticError(f"restic {args[0]} did not finish within {int(timeout)} s") from None
    if done.returncode != 0:
        raise classify(done.stderr, done.returncode)
    return done.stdout


def snapshots(repo: Repository) -> list:
    """The restore points, oldest first: ``{"id", "short_id", "time", "tags", "paths"}``."""
    data = json.loads(run(["snapshots", "--json", "--no-lock", "--host", HOST], repo, 120) or "[]")
    return sorted(data or [], key=lambda s: s.get("time", ""))


def list_folder(repo: Repository, snapshot: str, folder: str) -> tuple:
    """(the snapshot, the entries directly inside ``folder``: an absolute path of its tree),
    from one ``restic ls``."""
    lines = [n for n in json_lines(run(["ls", "--json", "--no-lock", snapshot, folder], repo, 120))
             if isinstance(n, dict)]
    found = next((n for n in lines if n.get("struct_type") == "snapshot"), None)
    if found is None:
        raise ResticError(f"no restore point {snapshot}", "no_point")
    return found, [n for n in lines if n.get("struct_type") == "node" and n.get("path") != folder
                   and os.path.dirname(n.get("path", "")) == folder]
