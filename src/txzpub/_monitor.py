# -*- test-case-name: tests.test_monitor -*-
"""
Connection lifecycle from ZeroMQ's socket monitor, read on the reactor.

libzmq reports what happens to a socket's peers (connected, accepted,
handshake succeeded, disconnected, ...) as two-frame messages on an inproc
PAIR socket (``zmq.Socket.get_monitor_socket()``). ConnectionMonitor reads
that socket with a SocketReader, like any other ZeroMQ socket (no threads),
turns each message into a ConnectionEvent, and hands it to:

1. ``whenConnected()`` waiters: the first HANDSHAKE_SUCCEEDED fires them all,
   and is remembered, so later calls fire at once.
2. Every ConnectionEvents stream (``events()``): each stream has its own
   bounded queue (drop-oldest, counted), so a slow reader costs bounded memory.
3. twisted.logger: disconnects, reconnects and failed handshakes are logged.

Stopping disables the monitor, closes its socket (before the monitored socket
closes), fails pending ``whenConnected()`` with ConnectionClosed and ends
every stream.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from contextlib import suppress

import zmq
from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from zmq.utils.monitor import parse_monitor_message

from ._core._lifecycle import ConnectionEvent, ConnectionEventKind
from ._errors import ConnectionClosed
from ._events import DEFAULT_MAX_EVENTS, ConnectionEvents
from ._reactors import ZmqReactor
from ._reader import SocketReader
from ._waiters import Waiters

__all__ = ["ConnectionMonitor", "handshakeReason"]

_log = Logger()

# Monitor events are few; small batches keep a burst from delaying other sockets.
_MONITOR_BATCH = 64


_KINDS: dict[int, ConnectionEventKind] = {
    zmq.EVENT_CONNECTED: ConnectionEventKind.CONNECTED,
    zmq.EVENT_CONNECT_DELAYED: ConnectionEventKind.CONNECT_DELAYED,
    zmq.EVENT_CONNECT_RETRIED: ConnectionEventKind.CONNECT_RETRIED,
    zmq.EVENT_LISTENING: ConnectionEventKind.LISTENING,
    zmq.EVENT_BIND_FAILED: ConnectionEventKind.BIND_FAILED,
    zmq.EVENT_ACCEPTED: ConnectionEventKind.ACCEPTED,
    zmq.EVENT_ACCEPT_FAILED: ConnectionEventKind.ACCEPT_FAILED,
    zmq.EVENT_CLOSED: ConnectionEventKind.CLOSED,
    zmq.EVENT_CLOSE_FAILED: ConnectionEventKind.CLOSE_FAILED,
    zmq.EVENT_DISCONNECTED: ConnectionEventKind.DISCONNECTED,
    zmq.EVENT_HANDSHAKE_SUCCEEDED: ConnectionEventKind.HANDSHAKE_SUCCEEDED,
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: ConnectionEventKind.HANDSHAKE_FAILED,
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: ConnectionEventKind.HANDSHAKE_FAILED,
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: ConnectionEventKind.HANDSHAKE_FAILED,
    zmq.EVENT_MONITOR_STOPPED: ConnectionEventKind.MONITOR_STOPPED,
}


# Why a handshake failed, for the log (libzmq's ZMQ_PROTOCOL_ERROR_* and ZAP statuses).
_HANDSHAKE_REASONS = {
    zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: "the peer uses another security mechanism "
    "(CURVE on one side only?)",
    zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: "CURVE decryption failed (wrong server key?)",
    zmq.PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE: "CURVE key exchange failed (wrong server key?)",
    300: "the server's authenticator asked the client to retry later",
    400: "the server's authenticator refused the client's key or address",
    500: "the server's authenticator failed",
}
# libzmq's ZMQ_PROTOCOL_ERROR_* codes start here; HANDSHAKE_FAILED_NO_DETAIL carries an errno.
_PROTOCOL_ERRORS = 0x10000000


def handshakeReason(value: int) -> str:
    """A readable reason for a HANDSHAKE_FAILED event's *value*."""
    if value in _HANDSHAKE_REASONS:
        return _HANDSHAKE_REASONS[value]
    if 0 < value < _PROTOCOL_ERRORS:
        name = errno.errorcode.get(value, str(value))
        return (
            f"the connection closed during the handshake ({name}: {os.strerror(value)}; "
            "CURVE on one side only, or the wrong server key?)"
        )
    return f"code {value:#x}"


def _toEvent(frames: list[bytes]) -> ConnectionEvent | None:
    try:
        parsed = parse_monitor_message(frames)
    except Exception:  # noqa: BLE001 - a malformed monitor message is skipped, never fatal
        return None
    code = int(parsed["event"])
    raw = parsed.get("endpoint", b"")
    endpoint = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    kind = _KINDS.get(code, ConnectionEventKind.OTHER)
    return ConnectionEvent(kind, endpoint, int(parsed.get("value", 0)), code)


class ConnectionMonitor:
    """Reads *socket*'s monitor on *reactor*; see the module docstring."""

    def __init__(
        self,
        socket: zmq.Socket[bytes],
        reactor: ZmqReactor,
        owner: object,
        onDisconnected: Callable[[str], object] | None = None,
    ) -> None:
        monitor = socket.get_monitor_socket()
        try:
            fd = int(monitor.get(zmq.FD))
        except BaseException:
            monitor.close(linger=0)
            with suppress(zmq.ZMQError):
                socket.disable_monitor()
            raise
        self._socket: zmq.Socket[bytes] | None = socket
        self._monitor = monitor
        self._owner = owner
        self._connected: ConnectionEvent | None = None
        self._waiters = Waiters()
        self._streams: list[ConnectionEvents] = []
        self._disconnected: set[str] = set()
        self._onDisconnected = onDisconnected
        self._clock = reactor
        self._reader = SocketReader(monitor, fd, reactor, self._onBatch, _MONITOR_BATCH, "ZMQM")
        self._reader.start()

    @property
    def stopped(self) -> bool:
        return self._socket is None

    def isDisconnected(self, endpoint: str) -> bool:
        """True if *endpoint*'s peer disconnected and no handshake has succeeded since."""
        return endpoint in self._disconnected

    def whenConnected(self) -> Deferred[ConnectionEvent]:
        if self._connected is not None:
            return succeed(self._connected)
        if self._socket is None:
            return fail(ConnectionClosed())
        return self._waiters.add(Deferred())

    def events(self, maxQueued: int = DEFAULT_MAX_EVENTS) -> ConnectionEvents:
        stream = ConnectionEvents._create(
            f"the events of {self._owner!r}", maxQueued, self._forget, clock=self._clock
        )
        if self._socket is None:
            stream.close()
        else:
            self._streams.append(stream)
        return stream

    def _forget(self, stream: ConnectionEvents) -> None:
        if stream in self._streams:
            self._streams.remove(stream)

    def stop(self) -> None:
        """Disable and close the monitor; call it before closing the monitored socket."""
        socket, self._socket = self._socket, None
        if socket is None:
            return
        self._reader.stop()
        with suppress(zmq.ZMQError):
            socket.disable_monitor()
        self._monitor.close(linger=0)
        self._waiters.fireAll(ConnectionClosed(), "whenConnected()")
        for stream in list(self._streams):
            stream.close()

    def _onBatch(self, batch: list[list[bytes]]) -> None:
        for frames in batch:
            if self._socket is None:
                return
            event = _toEvent(frames)
            if event is not None:
                self._dispatch(event)

    def _dispatch(self, event: ConnectionEvent) -> None:
        kind = event.kind
        if kind is ConnectionEventKind.HANDSHAKE_SUCCEEDED:
            if event.endpoint in self._disconnected:
                self._disconnected.discard(event.endpoint)
                _log.info(
                    "{connection!r} reconnected to {endpoint}",
                    connection=self._owner,
                    endpoint=event.endpoint,
                    connectionEvent=event,
                )
            if self._connected is None:
                self._connected = event
                self._waiters.fireAll(event, "whenConnected()")
        elif kind is ConnectionEventKind.DISCONNECTED:
            self._disconnected.add(event.endpoint)
            if self._onDisconnected is not None:
                self._onDisconnected(event.endpoint)
            _log.info(
                "{connection!r} disconnected from {endpoint}",
                connection=self._owner,
                endpoint=event.endpoint,
                connectionEvent=event,
            )
        elif kind is ConnectionEventKind.HANDSHAKE_FAILED:
            _log.warn(
                "{connection!r}: handshake with a peer at {endpoint} failed: {reason}",
                connection=self._owner,
                endpoint=event.endpoint,
                reason=handshakeReason(event.value),
                connectionEvent=event,
            )
        self.report(event)

    def report(self, event: ConnectionEvent) -> None:
        """Put *event* in every events() stream (the owner's stream events come here too)."""
        for stream in list(self._streams):
            stream._put(event)
