"""Who is at the other end of a loopback connection: the proxy, or a user's process.

Users' servers, kernels and terminals run in the hub's container, so they share its loopback
with the proxy: from a student's terminal, the services' and the hub's ports answer like the
proxy's. The address cannot tell them apart; the socket's owner can. The kernel lists every TCP
socket of the network namespace with its owner's uid (/proc/net/tcp): the peer of a connection
is the socket whose local address is the connection's remote one. The proxy (and the hub) run
as root; every user's process runs as its user.

So forwarded headers (X-Forwarded-For, X-Real-IP, X-Forwarded-Proto) are believed only from
root's sockets, and a login attempt's client is the proxy's last X-Forwarded-For entry (the
address it saw), or the local user's uid (docs/architecture.md, "What a user's process can reach").
"""
import ipaddress
import socket
import weakref
from typing import Optional

from tornado.httpserver import HTTPServer

TCP_TABLES = {socket.AF_INET: "/proc/self/net/tcp", socket.AF_INET6: "/proc/self/net/tcp6"}


def proc_address(host: str, port: int) -> str:
    """An address as /proc/net/tcp writes it: the address's 32-bit words in host order, in hex."""
    packed = ipaddress.ip_address(host.split("%", 1)[0]).packed
    words = [packed[i:i + 4] for i in range(0, len(packed), 4)]
    return "".join(word[::-1].hex().upper() for word in words) + f":{port:04X}"


def peer_uid(sock: socket.socket) -> Optional[int]:
    """The uid that owns the other end of a loopback TCP connection, or None (not local, gone)."""
    try:
        peer = sock.getpeername()
        table = TCP_TABLES[sock.family]
        wanted = proc_address(peer[0], peer[1])
        with open(table, encoding="ascii") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[1] == wanted:
                    return int(fields[7])
    except (OSError, KeyError, ValueError, IndexError, StopIteration):
        return None
    return None


def from_proxy(sock: Optional[socket.socket]) -> bool:
    return sock is not None and peer_uid(sock) == 0


def login_client(request) -> str:
    """Whom a login attempt comes from: the address the proxy saw (the last X-Forwarded-For entry,
    which it appends), or "uid N" for a local process that came straight to the hub."""
    sock = getattr(getattr(request.connection, "stream", None), "socket", None)
    uid = peer_uid(sock) if sock is not None else None
    if uid is not None and uid != 0:
        return f"uid {uid}"
    forwarded = request.headers.get("X-Forwarded-For", "")
    return forwarded.split(",")[-1].strip() or request.remote_ip or ""


class ProxyHeadersServer(HTTPServer):
    """tornado's HTTPServer with xheaders believed only on connections from root's sockets (the
    proxy): a user's process that comes to a service's port directly is taken as itself."""

    def initialize(self, *args, **kwargs):
        kwargs["xheaders"] = True
        super().initialize(*args, **kwargs)
        self._from_proxy = weakref.WeakKeyDictionary()  # per connection: asked once

    def start_request(self, server_conn, request_conn):
        trusted = self._from_proxy.get(server_conn)
        if trusted is None:
            sock = getattr(getattr(request_conn, "stream", None), "socket", None)
            trusted = self._from_proxy[server_conn] = from_proxy(sock)
        self.xheaders = trusted  # read by HTTPServer.start_request below, in this same call
        return super().start_request(server_conn, request_conn)
