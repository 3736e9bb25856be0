"""peers.py on real loopback connections: the owner of the other end, and forwarded headers
believed from root's sockets only. Needs root (a connection from another uid); the uid is a
number with no account (the host's /etc/passwd is not touched)."""
import asyncio
import os
import socket
import subprocess

import pytest
from tornado import web
from tornado.netutil import bind_sockets

from jhub_admin_service.peers import ProxyHeadersServer, peer_uid

UID = 61234
PYTHON = "/usr/bin/python3"  # the system's: the test's own may live where that uid cannot read
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another uid")

#: GET / with forged forwarded headers, as a user's process could send them; prints the answer.
FORGED = ("import sys, urllib.request\n"
          "r = urllib.request.Request(f'http://127.0.0.1:{sys.argv[1]}/', headers={'X-Real-IP': '203.0.113.9', "
          "'X-Forwarded-For': '203.0.113.9', 'X-Forwarded-Proto': 'https'})\n"
          "no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))\n"
          "print(no_proxy.open(r, timeout=20).read().decode())")


class Echo(web.RequestHandler):
    def get(self):
        self.write(f"{self.request.remote_ip} {self.request.protocol}")


def test_the_owner_of_the_other_end_is_known():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(2)
    port = server.getsockname()[1]
    child = subprocess.Popen([PYTHON, "-c", f"import socket, time; s = socket.create_connection(('127.0.0.1', {port})); "
                              "time.sleep(10)"], user=UID, group=UID, extra_groups=[], cwd="/")
    try:
        theirs, _ = server.accept()
        mine = socket.create_connection(("127.0.0.1", port))
        ours, _ = server.accept()
        assert peer_uid(theirs) == UID and peer_uid(ours) == 0
        mine.close()
    finally:
        child.kill()
        child.wait()


def test_forwarded_headers_are_believed_from_root_only():
    async def scenario():
        server = ProxyHeadersServer(web.Application([("/", Echo)]))
        sockets = bind_sockets(0, "127.0.0.1")  # non-blocking, as tornado needs
        server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        try:
            async def forged(**identity):
                proc = await asyncio.create_subprocess_exec(PYTHON, "-c", FORGED, str(port), cwd="/",
                                                            stdout=asyncio.subprocess.PIPE, **identity)
                return (await proc.communicate())[0].decode().strip()
            from_root = await forged()  # the proxy runs as root
            from_user = await forged(user=UID, group=UID, extra_groups=[])
        finally:
            server.stop()
        return from_root, from_user

    from_root, from_user = asyncio.run(scenario())
    assert from_root == "203.0.113.9 https"
    assert from_user == "127.0.0.1 http"
