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

import enum
import errno
import os
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import attrs
import zmq
from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from zmq.utils.monitor import parse_monitor_message

from ._errors import ConnectionClosed
from ._reader import SocketReader

__all__ = [
    "DEFAULT_MAX_EVENTS",
    "ConnectionEvent",
    "ConnectionEventKind",
    "ConnectionEvents",
    "ConnectionMonitor",
]

_log = Logger()

#: Default bound of each events() stream's queue.
DEFAULT_MAX_EVENTS = 1000

# Monitor events are few; small batches keep a burst from delaying other sockets.
_MONITOR_BATCH = 64


class ConnectionEventKind(enum.Enum):
    """
    What happened to a connection's peer (libzmq's ZMQ_EVENT_* names).

    .. versionadded:: 0.1.0
    """

    CONNECTED = "connected"
    CONNECT_DELAYED = "connect delayed"
    CONNECT_RETRIED = "connect retried"
    LISTENING = "listening"
    BIND_FAILED = "bind failed"
    ACCEPTED = "accepted"
    ACCEPT_FAILED = "accept failed"
    CLOSED = "closed"
    CLOSE_FAILED = "close failed"
    DISCONNECTED = "disconnected"
    #: The ZMTP handshake with a peer completed: messages can flow.
    HANDSHAKE_SUCCEEDED = "handshake succeeded"
    #: No detail, protocol or authentication failure; ``value`` says which.
    HANDSHAKE_FAILED = "handshake failed"
    MONITOR_STOPPED = "monitor stopped"
    #: An event this version of txzpub does not name; ``code`` has libzmq's number.
    OTHER = "other"


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


@attrs.frozen
class ConnectionEvent:
    """
    One lifecycle event of a connection's socket.

    ``endpoint`` is the address concerned (for a bound socket, its own bound
    address); ``value`` is libzmq's event value (a file descriptor, an errno,
    a reconnect interval, or a handshake error code, depending on ``kind``);
    ``code`` is libzmq's ZMQ_EVENT_* number.

    .. versionadded:: 0.1.0
    """

    kind: ConnectionEventKind
    endpoint: str
    value: int = 0
    code: int = 0


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


class ConnectionEvents:
    """
    An async iterator over a connection's lifecycle events, from ``events()``.

    It sees the events that happen after it was created; it keeps at most
    ``maxQueued`` unread ones, dropping the oldest (counted in ``dropped``).
    ``async for`` ends when the connection shuts down (or after close());
    ``next()`` then fails with ConnectionClosed.

    .. versionadded:: 0.1.0
    """

    def __init__(self, maxQueued: int = DEFAULT_MAX_EVENTS) -> None:
        if type(maxQueued) is not int or maxQueued < 1:
            msg = f"maxQueued must be a positive int, not {maxQueued!r}"
            raise ValueError(msg)
        self._items: deque[ConnectionEvent] = deque()
        self._maxQueued = maxQueued
        self._waiters: deque[tuple[Deferred[ConnectionEvent], bool]] = deque()
        self._ended = False
        self._onClose: Any = None
        #: Events dropped because the queue was full.
        self.dropped = 0

    def __aiter__(self) -> ConnectionEvents:
        return self

    def __anext__(self) -> Deferred[ConnectionEvent]:
        return self._wait(iterating=True)

    def next(self) -> Deferred[ConnectionEvent]:
        """The next event; fails with ConnectionClosed once the stream has ended."""
        return self._wait(iterating=False)

    @property
    def ended(self) -> bool:
        """True once the connection shut down or close() was called."""
        return self._ended

    def close(self) -> None:
        """Stop receiving events; queued ones can still be read, then iteration ends."""
        if self._ended:
            return
        self._ended = True
        onClose, self._onClose = self._onClose, None
        if onClose is not None:
            onClose(self)
        waiters, self._waiters = self._waiters, deque()
        for waiter, iterating in waiters:
            if not waiter.called:
                waiter.errback(StopAsyncIteration() if iterating else ConnectionClosed())

    def _wait(self, *, iterating: bool) -> Deferred[ConnectionEvent]:
        if self._items:
            return succeed(self._items.popleft())
        if self._ended:
            return fail(StopAsyncIteration() if iterating else ConnectionClosed())

        def cancel(d: Deferred[ConnectionEvent]) -> None:
            with suppress(ValueError):
                self._waiters.remove((d, iterating))

        waiter: Deferred[ConnectionEvent] = Deferred(cancel)
        self._waiters.append((waiter, iterating))
        return waiter

    def _put(self, event: ConnectionEvent) -> None:
        if self._ended:
            return
        if self._waiters:
            waiter, _ = self._waiters.popleft()
            waiter.callback(event)
            return
        if len(self._items) >= self._maxQueued:
            self._items.popleft()
            self.dropped += 1
        self._items.append(event)


class ConnectionMonitor:
    """Reads *socket*'s monitor on *reactor*; see the module docstring."""

    def __init__(
        self,
        socket: zmq.Socket[bytes],
        reactor: Any,
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
        self._waiters: list[Deferred[ConnectionEvent]] = []
        self._streams: list[ConnectionEvents] = []
        self._disconnected: set[str] = set()
        self._onDisconnected = onDisconnected
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

        def cancel(d: Deferred[ConnectionEvent]) -> None:
            with suppress(ValueError):
                self._waiters.remove(d)

        waiter: Deferred[ConnectionEvent] = Deferred(cancel)
        self._waiters.append(waiter)
        return waiter

    def events(self, maxQueued: int = DEFAULT_MAX_EVENTS) -> ConnectionEvents:
        stream = ConnectionEvents(maxQueued)
        if self._socket is None:
            stream.close()
        else:
            stream._onClose = self._streams.remove  # noqa: SLF001
            self._streams.append(stream)
        return stream

    def stop(self) -> None:
        """Disable and close the monitor; call it before closing the monitored socket."""
        socket, self._socket = self._socket, None
        if socket is None:
            return
        self._reader.stop()
        with suppress(zmq.ZMQError):
            socket.disable_monitor()
        self._monitor.close(linger=0)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.errback(ConnectionClosed())
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
                waiters, self._waiters = self._waiters, []
                for waiter in waiters:
                    waiter.callback(event)
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
        for stream in list(self._streams):
            stream._put(event)  # noqa: SLF001
