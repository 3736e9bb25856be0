"""The kernels' websockets in each user's server, safe from "Restart the kernel and run all cells"
pressed as soon as a notebook opens.

Every assignment's header asks pupils to do exactly that before handing in, and many do it the
moment the notebook shows. JupyterLab then opens the notebook's websocket while the kernel
restarts, and a second one with the same session id once the restart is done. Two races of
jupyter_server 2's ZMQChannelsWebsocketConnection then left the pupil's cells at "[*]", for a
minute or for good (9 tries in 15 on this machine; tests/e2e/test_e2e_classroom.py):

- **The kernel_info that never comes.** The first socket asks the kernel for its kernel_info;
  the restart kills that kernel before it answers. jupyter_server shares one pending request
  among a kernel's sockets (kernel_manager._kernel_info_future), so the second socket waited on
  it too, until kernel_info_timeout (60 s). Here a request asked of a kernel process that has
  since been replaced is given up at once (as jupyter_server's own timeout gives it up: an empty
  reply) and asked again of the running kernel.
- **Two sockets, one ZMQ identity.** The first socket's ZMQ channels stay open until tornado has
  finished its open() (which waits for the kernel's first activity) and then its on_close. They
  carry the session id as their identity, like the second socket's, and ipykernel's
  ROUTER_HANDOVER gives an identity to whichever peer connects last: when the first socket's
  channels reconnected to the restarted kernel after the second's, the kernel answered the socket
  that JupyterLab had closed. Here a socket that a newer one of the same session replaces
  releases its channels as soon as the new one connects, and its pending nudge is stopped.

Besides, what the client sent on the replaced socket is read with the protocol that the socket
negotiated: jupyter_server forgot it once the socket was closed, read the v1 binary frames as the
legacy protocol, and failed with a MemoryError.

Named by docker/jupyter/jupyter_server_config.json (ServerApp.kernel_websocket_connection_class,
jupyter_server's own setting for it).
"""
import asyncio
from typing import Any, Optional

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection


def kernel_process(kernel_manager) -> Any:
    """The kernel's process as its provisioner holds it: another object after each restart."""
    return getattr(getattr(kernel_manager, "provisioner", None), "process", None)


class RestartSafeKernelConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's kernel websocket connection, with the races above closed."""

    _replaced: Optional["RestartSafeKernelConnection"] = None  # the previous socket of this session
    _nudging = None  # the pending nudge of this connection's channels (a task)
    _negotiated: Optional[str] = None  # the socket's subprotocol, kept once the socket is closed
    _connected = False  # its channels opened, and counted by the kernel manager
    _released = False

    # the kernel_info request --------------------------------------------------------------------
    def request_kernel_info(self):
        manager = self.kernel_manager
        pending = getattr(manager, "_kernel_info_future", None)
        if (pending is not None and not pending.done()
                and getattr(manager, "_kernel_info_process", None) is not kernel_process(manager)):
            self.log.info("Kernel %s restarted before answering its kernel_info: asking again", self.kernel_id)
            pending.set_result({})
            del manager._kernel_info_future
        future = super().request_kernel_info()
        if getattr(manager, "_kernel_info_future", None) is self._kernel_info_future:
            manager._kernel_info_process = kernel_process(manager)
        return future

    # a socket that a newer one of its session replaces ----------------------------------------
    async def _register_session(self):
        previous = self._open_sessions.get(f"{self.kernel_id}:{self.session.session}")
        await super()._register_session()  # sets self.session_key to that key
        connection = getattr(previous, "connection", None)
        if previous is not self.websocket_handler and isinstance(connection, RestartSafeKernelConnection):
            self._replaced = connection

    def connect(self):
        if self._open_sessions.get(self.session_key) not in (None, self.websocket_handler):
            # Replaced while it waited for the kernel's kernel_info: its client has left, and its
            # channels would take the new socket's identity. Nothing is counted or opened.
            self.log.info("Kernel socket %s replaced before it connected", self.session_key)
            self._released = True
            if self.kernel_info_channel is not None and not self.kernel_info_channel.closed():
                self.kernel_info_channel.close()
            self.websocket_handler.close()
            done = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        self._negotiated = super().subprotocol
        connected = super().connect()
        replaced, self._replaced = self._replaced, None
        if replaced is not None and replaced._connected:
            # After this socket's own connect (which counted it), so that the replaced one's
            # channels are closed rather than kept in the server's buffer for a reconnection.
            replaced.release()
        self._connected = True
        return connected

    def nudge(self):
        self._nudging = super().nudge()
        return self._nudging

    def release(self) -> None:
        """Close this connection's channels now, without waiting for its socket's on_close."""
        if self._nudging is not None and not self._nudging.done():
            self._nudging.cancel()
        self.disconnect()

    def disconnect(self):
        if self._released:  # released, then closed by tornado: counted off once
            return
        self._released = True
        super().disconnect()
        # A kernel's last socket hands its channels to the server's buffer (start_buffering): they
        # are no longer this connection's, whatever its pending callbacks do.
        self.channels = {}

    @property
    def subprotocol(self):
        current = super().subprotocol
        return current if current is not None else self._negotiated
