# -*- test-case-name: tests.test_monitor -*-
"""
A connection's peers: ``whenConnected()``, ``events()`` and the one repair
libzmq does not make.

The socket monitor (``_monitor``) starts on first use, or in the
constructor for connections that must not miss an event. libzmq treats a
message part over ``maxMessageSize`` as a protocol error, and after one it
never reconnects a socket that connected; the monitor tells us of the
disconnect, and we connect again after ``reconnectInterval`` unless libzmq
has reconnected by then.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any

import zmq
from twisted.internet.defer import Deferred, fail

from ._core._endpoint import ZmqEndpoint, ZmqEndpointType
from ._core._lifecycle import ConnectionEvent
from ._errors import ConnectionClosed
from ._events import DEFAULT_MAX_EVENTS, ConnectionEvents
from ._monitor import ConnectionMonitor

if TYPE_CHECKING:
    from ._factory import ZmqFactory
    from ._reader import SocketReader

__all__ = ["PeerLifecycle"]


class PeerLifecycle:
    """ZmqConnection's lifecycle API, on the attributes ZmqConnection sets."""

    _closed: bool
    _socket: zmq.Socket[bytes]
    _factory: ZmqFactory
    _endpoints: list[ZmqEndpoint]
    _reader: SocketReader
    _lifecycle: ConnectionMonitor | None
    _reattaching: dict[str, Any]  # address -> IDelayedCall
    maxMessageSize: int | None
    reconnectInterval: int

    def whenConnected(self) -> Deferred[ConnectionEvent]:
        """
        Fire with the first HANDSHAKE_SUCCEEDED event: a peer is connected and
        messages can flow. Fires at once if that already happened while the
        monitor was running; fails with ConnectionClosed on shutdown.

        The monitor starts on the first call (unless ``monitored`` is True), so
        call it before attaching endpoints (or set ``monitored``) to be sure
        to see the first handshake. inproc:// peers have no handshake and
        libzmq reports no events for them: use tcp:// or ipc:// to be told.

        .. versionadded:: 0.1.0
        """
        monitor = self._lifecycleOrNone()
        if monitor is None:
            return fail(ConnectionClosed())
        return monitor.whenConnected()

    def events(self, maxQueued: int = DEFAULT_MAX_EVENTS) -> ConnectionEvents:
        """
        A new async iterator over this connection's lifecycle events (ConnectionEvent),
        from now on; ``async for`` ends when the connection shuts down. It queues
        at most *maxQueued* unread events, dropping the oldest.

        .. versionadded:: 0.1.0
        """
        monitor = self._lifecycleOrNone()
        if monitor is None:
            ended = ConnectionEvents._create(
                f"the events of {self!r}", maxQueued, clock=self._factory.reactor
            )
            ended.close()
            return ended
        return monitor.events(maxQueued)

    def _lifecycleOrNone(self) -> ConnectionMonitor | None:
        """The running monitor, started if needed; None once shut down."""
        if self._closed:
            return None
        if self._lifecycle is None:
            self._lifecycle = self._newMonitor(self._socket)
        return self._lifecycle

    def _newMonitor(self, socket: zmq.Socket[bytes]) -> ConnectionMonitor:
        return ConnectionMonitor(socket, self._factory.reactor, self, self._peerDisconnected)

    def _peerDisconnected(self, address: str) -> None:
        """
        libzmq treats a message part over maxMessageSize as a protocol error,
        and after one it never reconnects a socket that connected: connect it
        again after reconnectInterval, unless libzmq has reconnected by then.
        """
        if self.maxMessageSize is None or self._closed or address in self._reattaching:
            return
        if any(
            e.type == ZmqEndpointType.connect and e.address == address for e in self._endpoints
        ):
            self._reattaching[address] = self._factory.reactor.callLater(
                self.reconnectInterval / 1000, self._reattach, address
            )

    def _reattach(self, address: str) -> None:
        del self._reattaching[address]
        lifecycle = self._lifecycle
        if self._closed or lifecycle is None or not lifecycle.isDisconnected(address):
            return
        with suppress(zmq.ZMQError):
            self._socket.disconnect(address)
        self._socket.connect(address)
        self._reader.kick()

    def _stopLifecycle(self) -> None:
        for pending in self._reattaching.values():
            pending.cancel()
        self._reattaching.clear()
        if self._lifecycle is not None:
            self._lifecycle.stop()
