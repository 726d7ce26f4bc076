# -*- test-case-name: tests.test_monitor -*-
"""
Lifecycle values: what happened to a connection's peer, as plain data.

libzmq's socket monitor reports numbered events; ``_monitor`` maps its
numbers to these values, so nothing here knows ZeroMQ or the reactor.
"""

from __future__ import annotations

import enum

import attrs

__all__ = ["ConnectionEvent", "ConnectionEventKind"]


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
