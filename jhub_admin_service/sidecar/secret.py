"""The shared secret between the hub (admin service) and the sidecar.

Whichever of hub or sidecar starts first creates the file with ``O_EXCL``
and mode 0600; the other one reads it.  The hub's entrypoint can call::

    python -m jhub_admin_service.sidecar.secret /srv/jupyterhub/secrets/sidecar.secret

which prints nothing and exits 0 when the file exists or was created.
"""
import hmac
import os
import secrets
import sys
import time

MIN_SECRET_LENGTH = 32


class SecretError(RuntimeError):
    pass


def read_secret(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        value = f.read().strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise SecretError(
            f"secret in {path} is too short ({len(value)} < {MIN_SECRET_LENGTH} characters)"
        )
    return value


def ensure_secret(path: str, wait: float = 5.0) -> str:
    """Return the secret stored at ``path``, creating it first if absent.

    Creation is race-free: ``O_CREAT | O_EXCL`` with mode 0600, the value is
    written and fsynced.  If another process created the file at the same
    time, wait up to ``wait`` seconds for its content.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return wait_for_secret(path, wait)
    try:
        os.fchmod(fd, 0o600)
        value = secrets.token_urlsafe(48)
        os.write(fd, (value + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return value


def wait_for_secret(path: str, timeout: float = 60.0) -> str:
    """Wait until ``path`` holds a valid secret (created by the other side)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return read_secret(path)
        except (FileNotFoundError, SecretError):
            if time.monotonic() >= deadline:
                raise
        time.sleep(0.2)


def load_or_create(path: str, timeout: float = 60.0) -> str:
    """Create the secret if the file system allows it, else wait for it
    (the sidecar mounts the secrets volume read-only in compose)."""
    try:
        return ensure_secret(path)
    except OSError as e:
        if isinstance(e, FileExistsError):
            raise
        return wait_for_secret(path, timeout)


def check_bearer(header, secret: str) -> bool:
    """Constant-time check of an ``Authorization: Bearer <secret>`` header."""
    if not secret or not isinstance(header, str):
        return False
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode("utf-8"), secret.encode("utf-8"))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m jhub_admin_service.sidecar.secret PATH", file=sys.stderr)
        return 2
    try:
        ensure_secret(argv[0])
    except (OSError, SecretError) as e:
        print(f"cannot create or read the sidecar secret: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
