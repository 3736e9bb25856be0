"""The servers' ports (classroom/server_ports.py): no two starts share one, and a start is up only
when its own server answers, never because another server answered 404 on its port (the pupil
routed to someone else's server, issue 23)."""
import asyncio
import logging
import socket

import pytest
import tornado.web
from tornado.httpserver import HTTPServer

from jhub_admin_service.classroom import server_ports
from jhub_admin_service.classroom.server_ports import PortBook, until_it_answers

log = logging.getLogger(__name__)


def test_ports_in_hand_are_never_handed_twice_and_stay_below_the_ephemeral_range():
    book = PortBook(attempts=2000)
    ephemeral_low, _ = server_ports.ephemeral_range()
    ports = [book.take() for _ in range(300)]
    assert len(set(ports)) == 300
    assert all(book.port_range[0] <= port < ephemeral_low for port in ports)
    book.release(ports[0])
    assert ports[0] not in book.held and len(book.held) == 299


def test_a_port_someone_listens_on_is_not_handed_out():
    low = server_ports.usable_range()[0]
    with socket.socket() as listener:
        listener.bind(("", low))
        listener.listen()
        book = PortBook(port_range=(low, low + 1), attempts=50)
        assert {book.take()} == {low + 1}
        with pytest.raises(OSError):
            book.take()


class Answer(tornado.web.RequestHandler):
    def initialize(self, status):
        self.status = status

    def get(self):
        self.set_status(self.status)
        self.finish('{"version": "2"}' if self.status == 200 else "not here")


async def serve(status):
    app = tornado.web.Application([(r"/.*", Answer, {"status": status})])
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = HTTPServer(app)
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]


def test_another_servers_404_is_not_up_the_start_waits_until_its_process_ends():
    async def scenario():
        server, port = await serve(404)
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + 1.5

        async def poll():  # the starting server's process, which fails to bind and ends
            return 1 if loop.time() > ends_at else None

        started = loop.time()
        await until_it_answers(f"http://127.0.0.1:{port}/user/b/api", poll, 30, "b", log)
        server.stop()
        return loop.time() - started

    waited = asyncio.run(scenario())
    assert waited >= 1.5  # returned because the process ended, not at the first 404


def test_its_own_servers_200_is_up():
    async def scenario():
        server, port = await serve(200)
        calls = []

        async def poll():
            calls.append(1)
            return None

        await until_it_answers(f"http://127.0.0.1:{port}/user/a/api", poll, 30, "a", log)
        server.stop()
        return len(calls)

    assert asyncio.run(scenario()) == 1
