"""What a student or a stranger cannot make the admin service do (a real hub in a sandbox)."""
import socket

import pytest

from servicetools import PREFIX, STUDENT

pytestmark = [pytest.mark.hub, pytest.mark.sandbox]


def raw_upload(hub, path, headers=(), announced=200 * 1024 * 1024, sent=64 * 1024, timeout=20):
    """POST announcing a huge body, send only its first bytes, and read the answer's status line.
    A service that waited for the body would never answer: the socket's timeout fails the test."""
    host, port = "127.0.0.1", int(hub.url.rsplit(":", 1)[1])
    with socket.create_connection((host, port), timeout=timeout) as s:
        head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {announced}",
                "Content-Type: text/csv", *headers, "", ""]
        s.sendall("\r\n".join(head).encode() + b"x" * sent)
        return s.recv(4096).decode("latin-1").split("\r\n", 1)[0]


@pytest.mark.parametrize("who", ["anonymous", "student"])
def test_an_upload_from_someone_not_an_admin_is_refused_before_its_body_is_read(running, who):
    _, hub = running
    headers = () if who == "anonymous" else (f"Authorization: token {hub.user_token(STUDENT)}",)
    for path in ("import", "api/imports"):
        status = raw_upload(hub, PREFIX + path, headers)
        # The service answers 403 and closes the connection without reading the rest; the proxy,
        # still sending the body, may see the connection close first and answer 503 itself.
        # Either way the answer comes though the client sent 64 KiB of the 200 MB it announced.
        assert status.startswith(("HTTP/1.1 403", "HTTP/1.1 503")), (path, status)
