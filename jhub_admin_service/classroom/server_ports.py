"""The users' servers' ports, chosen so that no two servers ever share one.

JupyterHub's ``random_port()`` asks the system for a free port (``bind`` to port 0) and lets it
go: the server binds it later, a second or more in a login storm. Two things could take it
meanwhile:

- **another server's start**: the system may hand the same free port to the next start. The
  second server fails to bind and ends (its ``port_retries`` is 0), but the hub's first check may
  already have reached the first server there, which answers any address with a 404: the hub
  calls the second server ready and routes its pupil to the first one ("the lab page answered
  404", issue 23);
- **an outgoing connection** (the hub, the proxy): its source port comes from the same range,
  the system's ephemeral ports.

So the ports come from below the ephemeral range, which no outgoing connection uses, and each is
held for its start until that server answers or the start fails; and a start is up only when its
server answers its own API address with a 200.
"""
import asyncio
import logging
import random
import socket
from typing import Awaitable, Callable, Optional, Set, Tuple

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

#: Linux's default ephemeral range starts at 32768; below it and above the well-known services.
DEFAULT_RANGE = (20000, 32767)


def ephemeral_range(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> Tuple[int, int]:
    try:
        with open(path) as f:
            low, high = (int(part) for part in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def usable_range(wanted: Tuple[int, int] = DEFAULT_RANGE) -> Tuple[int, int]:
    """The wanted range, cut where the system's ephemeral range begins (an admin may have widened it)."""
    low, high = wanted
    ephemeral_low, ephemeral_high = ephemeral_range()
    if ephemeral_low <= high and low <= ephemeral_high:
        high = min(high, ephemeral_low - 1)
    if high - low < 100:  # nothing sensible left: the whole wanted range, collisions still held off
        return wanted
    return low, high


def is_free(port: int, host: str = "") -> bool:
    """Nothing listens there (nor holds it): a bind succeeds."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class PortBook:
    """The ports handed to starts still under way (one book for all the hub's spawners)."""

    def __init__(self, port_range: Tuple[int, int] = DEFAULT_RANGE, attempts: int = 200):
        self.port_range = usable_range(port_range)
        self.attempts = attempts
        self.held: Set[int] = set()

    def take(self) -> int:
        low, high = self.port_range
        for _ in range(self.attempts):
            port = random.randint(low, high)
            if port not in self.held and is_free(port):
                self.held.add(port)
                return port
        raise OSError(f"no free port for a server between {low} and {high}")

    def release(self, port: int) -> None:
        self.held.discard(port)


async def until_it_answers(url: str, poll: Callable[[], Awaitable[Optional[int]]], timeout: float,
                           name: str, log: logging.Logger) -> None:
    """Wait until the server answers ``url`` (its own API address) with a 200, or its process
    ends (``poll()`` is not None), or ``timeout`` passes. Any other answer is not this server yet:
    another server's 404, a timeout."""
    client = AsyncHTTPClient()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await poll() is not None:
            return  # JupyterHub reports the exit itself
        try:
            await client.fetch(url, request_timeout=2, follow_redirects=False)
            return
        except HTTPClientError as exc:
            if exc.code != 599:
                log.warning("%s's server is not up yet: %s answered %s", name, url, exc.code)
        except OSError:
            pass
        await asyncio.sleep(0.2)
