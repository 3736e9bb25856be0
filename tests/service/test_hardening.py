"""What a student or a stranger cannot make the admin service do (a real hub in a sandbox)."""
import socket
import time

import pytest

from servicetools import PREFIX, STUDENT

pytestmark = [pytest.mark.hub, pytest.mark.sandbox]


def raw_upload(hub, path, headers=(), announced=200 * 1024 * 1024, sent=64 * 1024, timeout=20):
    """POST announcing a huge body, send only its first bytes, and read the answer: (status line,
    seconds). A service that read the body first would never answer."""
    host, port = "127.0.0.1", int(hub.url.rsplit(":", 1)[1])
    with socket.create_connection((host, port), timeout=timeout) as s:
        head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {announced}",
                "Content-Type: text/csv", *headers, "", ""]
        start = time.monotonic()
        s.sendall("\r\n".join(head).encode() + b"x" * sent)
        answer = s.recv(4096).decode("latin-1")
        return answer.split("\r\n", 1)[0], time.monotonic() - start


@pytest.mark.parametrize("who", ["anonymous", "student"])
def test_an_upload_from_someone_not_an_admin_is_refused_before_its_body_is_read(running, who):
    _, hub = running
    headers = () if who == "anonymous" else (f"Authorization: token {hub.user_token(STUDENT)}",)
    for path in ("import", "api/imports"):
        status, seconds = raw_upload(hub, PREFIX + path, headers)
        assert status.startswith("HTTP/1.1 403"), (path, status)
        assert seconds < 10, seconds
