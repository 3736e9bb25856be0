"""The restore points' repository itself: where it is (place.py), its key (shown once when it is
made, or given again on a reinstalled server), the sidecar's SSH key for an SFTP place, and the
tunnel through which the helpers reach a repository away from the archives volume (tunnel.py).

A mixin of :class:`manager.RestorePoints`, which gives ``sidecar``, ``log``, ``backups``
(the archives' folder), ``keys_dir`` (the keys' volume), ``status()`` and
``_next_night_from_now()``.
"""
import json
import os
import secrets
import subprocess

from ..refusal import Conflict
from ..validation import ValidationError
from . import restic
from .place import (
    DISK_DIR,
    KNOWN_HOSTS_FILE,
    PLACE_FILE,
    SSH_KEY_FILE,
    is_remote,
    public_place,
    serve_command,
    validate_place,
)
from .tunnel import SOCKET_NAME, TunnelServer


def new_key() -> str:
    """A key that an admin can copy by hand: 8 groups of 4 letters and digits (160 bits)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(8))


def read_text(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


class RepositoryKeys:
    tunnel = None

    @property
    def key_path(self) -> str:
        return os.path.join(self.keys_dir, restic.KEY_FILE)

    def place(self) -> dict:
        return restic.read_place(self.keys_dir) or {"kind": "archives"}

    @property
    def repo(self) -> restic.Repository:
        return restic.repository(self.backups, self.keys_dir, self.place())

    def initialised(self) -> bool:
        """A place was recorded when the repository was made (or its key given), or a repository
        made before places existed is on the archives volume (also: a reinstalled server whose
        archives volume came back, before its key is given)."""
        return restic.read_place(self.keys_dir) is not None or os.path.exists(
            os.path.join(self.backups, restic.REPOSITORY_DIR, "config"))

    def check_reachable(self, place: dict) -> None:
        """Refuse a place that the sidecar itself cannot reach: a second disk that is not
        mounted in it, a remote place without a network that leads out."""
        if place["kind"] == "disk" and not os.path.ismount(DISK_DIR):
            raise Conflict("no second disk is mounted in the sidecar for the restore points: "
                           "see docker/compose.points-disk.yaml", code="no_disk")
        if is_remote(place) and not self._has_egress():
            raise Conflict("the sidecar has no network that leads out, to reach the restore "
                           "points' place: see docker/compose.points-remote.yaml", code="no_network")

    def _has_egress(self) -> bool:
        try:
            return bool(self.sidecar.engine.own_egress_network())
        except Exception as exc:  # Docker does not answer: said by every operation that needs it
            self.log.warning("cannot tell whether the sidecar has a way out: %s", exc)
            return False

    def start_tunnel(self) -> None:
        """The helpers' way to a repository away from the archives volume (tunnel.py)."""
        if not os.path.isdir(self.keys_dir):
            return
        tunnel = TunnelServer(os.path.join(self.keys_dir, SOCKET_NAME), self._serve_command, self.log)
        try:
            tunnel.start()
        except OSError as exc:  # no keys' volume (a read-only folder of the image): no points
            self.log.warning("no tunnel for the restore points' helpers (%s): %s", self.keys_dir, exc)
            return
        self.tunnel = tunnel

    def _serve_command(self):
        place = self.place()
        if place["kind"] == "archives":
            return None
        return serve_command(place), restic.repository(self.backups, self.keys_dir, place).env

    def enable(self, place=None) -> dict:
        """Create the repository at ``place`` (the archives volume by default) and its key; the
        key is returned this once, never again."""
        if not os.path.isdir(self.keys_dir):
            raise Conflict("the sidecar has no volume for the restore points' key "
                           f"({self.keys_dir}); see docs/exports.md", code="no_key_volume")
        if self.initialised():
            raise Conflict("restore points are already on; their key was shown when they were "
                           "turned on", code="already_enabled")
        place = validate_place(place)
        fingerprints = self._prepare_place(place)
        key = new_key()
        self._write_key(key)
        try:
            restic.run(["init"], restic.repository(self.backups, self.keys_dir, place), 300)
        except restic.ResticError:
            os.unlink(self.key_path)
            raise
        self._write_secret(PLACE_FILE, json.dumps(place))
        self._next_night_from_now()
        self.log.info("restore point repository created at %s", public_place(place)["address"])
        return dict(self.status(), key=key, host_key_fingerprints=fingerprints)

    def _prepare_place(self, place: dict) -> list:
        """Refuse a place that the sidecar cannot reach; for an SSH server, record its host key
        (trusted on this first contact, as ssh does, then required): returns its fingerprints."""
        self.check_reachable(place)
        if place["kind"] != "sftp":
            return []
        if not os.path.exists(os.path.join(self.keys_dir, SSH_KEY_FILE)):
            raise Conflict("make the sidecar's SSH key first, and add its public half to the "
                           "server's authorized_keys", code="no_ssh_key")
        scan = subprocess.run(["ssh-keyscan", "-T", "15", "-p", str(place["port"]), place["host"]],
                              capture_output=True, text=True, timeout=60)
        lines = [line for line in scan.stdout.splitlines() if line and not line.startswith("#")]
        if not lines:
            raise restic.ResticError(f"the SSH server {place['host']}:{place['port']} cannot be "
                                     f"reached: {scan.stderr.strip()[-300:]}", "unreachable")
        known = os.path.join(self.keys_dir, KNOWN_HOSTS_FILE)
        self._write_secret(KNOWN_HOSTS_FILE, "\n".join(lines))
        listed = subprocess.run(["ssh-keygen", "-l", "-f", known], capture_output=True, text=True)
        return [line.split()[1] for line in listed.stdout.splitlines() if len(line.split()) > 1]

    def ssh_key(self) -> dict:
        """The sidecar's SSH key for an SFTP place (made once): its public half, for the
        server's authorized_keys."""
        path = os.path.join(self.keys_dir, SSH_KEY_FILE)
        if not os.path.exists(path):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                            "jhub-admin-restore-points", "-f", path],
                           check=True, capture_output=True, timeout=60)
        return {"public_key": read_text(path + ".pub")}

    def adopt_key(self, key: str, place=None) -> dict:
        """The key of an existing repository (a reinstalled server): kept if it opens it. With
        ``place``, the repository is the one at that place (a remote one, found again), and an
        SSH server's host keys are recorded anew; without it, the current place as it is: giving
        the key again never accepts a host key that changed."""
        if not isinstance(key, str) or not 8 <= len(key.strip()) <= 200:
            raise ValidationError("a key is required")
        if place is None and not self.initialised():
            raise Conflict("there is no restore point repository to open", code="no_repository")
        fingerprints = []
        if place is None:
            place = self.place()
        else:
            place = validate_place(place)
            fingerprints = self._prepare_place(place)
        repo = restic.repository(self.backups, self.keys_dir, place).with_key(key.strip())
        restic.run(["cat", "config", "--no-lock"], repo, 120)  # ResticError wrong_key otherwise
        self._write_key(key.strip())
        self._write_secret(PLACE_FILE, json.dumps(place))
        return dict(self.status(), host_key_fingerprints=fingerprints)

    def _write_key(self, key: str) -> None:
        self._write_secret(restic.KEY_FILE, key)

    def _write_secret(self, name: str, text: str) -> None:
        path = os.path.join(self.keys_dir, name)
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(path + ".tmp", path)

    def ready(self) -> None:
        if not self.initialised():
            raise Conflict("restore points are not turned on yet", code="not_enabled")
        if not os.path.exists(self.key_path):
            raise Conflict("the restore points' key is missing on this server: give it again "
                           "(the key shown when they were turned on)", code="key_missing")
