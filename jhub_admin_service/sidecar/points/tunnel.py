"""The restore points' tunnel: how a helper container, which has no network and no host folder
(DESIGN.md, invariant 6), reaches a repository that only the sidecar reaches: a second disk
mounted in the sidecar alone, an SFTP server, an S3 store.

restic's rclone backend runs a program and speaks restic's REST protocol on its stdin and
stdout. In a helper, that program is :func:`main` (``jhub-admin-points-tunnel``): it joins its
stdin and stdout to a Unix socket on the keys' volume (mounted read-only in the helper; a socket
is reached all the same). The sidecar's :class:`TunnelServer` answers each connection with
``rclone serve restic --stdio`` for the repository's place, a command that the sidecar alone
chooses: the helper sends bytes of the protocol, never a command, and rclone serves the
repository's files only.
"""
import logging
import os
import socket
import subprocess
import sys
import threading
from collections import deque
from typing import Callable, Optional

SOCKET_NAME = "tunnel.sock"
CHUNK = 1 << 16
log = logging.getLogger("jhub_admin_service.sidecar")


def _pump(read: Callable[[], bytes], write: Callable[[bytes], None], done: Callable[[], None]) -> None:
    """Copy until the end of the input (or a broken output), then ``done()``."""
    try:
        while True:
            data = read()
            if not data:
                break
            write(data)
    except OSError:
        pass
    finally:
        try:
            done()
        except OSError:
            pass


class TunnelServer:
    """Serves the tunnel's socket: each connection gets its own ``rclone serve restic --stdio``
    from ``command_for()`` (``(argv, env)``, or None when the place needs no tunnel)."""

    def __init__(self, path: str, command_for: Callable[[], Optional[tuple]], logger=log):
        self.path = path
        self.command_for = command_for
        self.log = logger
        self.errors = deque(maxlen=20)  # rclone's last words, for the sidecar's own diagnosis
        self._sock = None

    def start(self) -> None:
        if os.path.lexists(self.path):
            os.unlink(self.path)  # left by an earlier sidecar process
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(self.path)
        finally:
            os.umask(old)
        sock.listen(16)
        self._sock = sock
        threading.Thread(target=self._accept, name="points-tunnel", daemon=True).start()

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _accept(self) -> None:
        while self._sock is not None:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                command = self.command_for()
            except Exception as exc:  # a place that cannot be read: the helper's restic fails
                self.log.error("restore points' tunnel: %s", exc)
                return
            if command is None:
                return
            argv, env = command
            proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            stderr = threading.Thread(target=self._stderr, args=(proc,), daemon=True)
            stderr.start()
            to_rclone = threading.Thread(target=_pump, daemon=True, args=(
                lambda: conn.recv(CHUNK), lambda d: (proc.stdin.write(d), proc.stdin.flush()),
                proc.stdin.close))
            to_rclone.start()
            _pump(lambda: os.read(proc.stdout.fileno(), CHUNK), conn.sendall,
                  lambda: conn.shutdown(socket.SHUT_WR))
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            stderr.join(5)

    def _stderr(self, proc) -> None:
        for line in proc.stderr:
            text = line.decode("utf-8", "replace").rstrip()
            if text and "NOTICE" not in text:
                self.errors.append(text)
                self.log.warning("rclone (restore points' tunnel): %s", text)


def main(argv=None) -> int:
    """The helper's end: stdin and stdout joined to the sidecar's socket (restic gives rclone's
    arguments; the sidecar chooses the command, so they are ignored)."""
    path = os.environ.get("JHUB_POINTS_TUNNEL") or os.path.join("/run/jhub-keys", SOCKET_NAME)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        print(f"the sidecar's restore points tunnel does not answer ({path}): {exc}", file=sys.stderr)
        return 1
    stdin, stdout = sys.stdin.buffer.raw, sys.stdout.buffer.raw
    threading.Thread(target=_pump, daemon=True, args=(
        lambda: os.read(stdin.fileno(), CHUNK), sock.sendall, lambda: sock.shutdown(socket.SHUT_WR))).start()

    def write_all(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(stdout.fileno(), view):]

    _pump(lambda: sock.recv(CHUNK), write_all, lambda: None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
