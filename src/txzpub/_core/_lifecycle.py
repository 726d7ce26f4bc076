# -*- test-case-name: tests.test_monitor -*-
"""
Lifecycle values: what happened to a connection's peer, as plain data.

libzmq's socket monitor reports numbered events; ``_monitor`` maps its
numbers to these values, so nothing here knows ZeroMQ or the reactor. A
subscriber reports what it finds in sequenced streams with the same values.
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
    #: A sequenced stream skipped numbers: ``value`` messages, ``first`` to
    #: ``last``, of ``tag`` from ``publisher`` are missing. Each gap ends in
    #: RECOVERED and LOST events whose values add up to its own.
    GAP = "gap"
    #: ``value`` messages of a gap came back from the publisher's replay socket.
    RECOVERED = "recovered"
    #: ``value`` messages, ``first`` to ``last``, will never arrive (counted in
    #: the matching subscriptions' ``statistics().lost``).
    LOST = "lost"
    #: A sequenced publisher not heard before: a new one, or one restarted.
    PUBLISHER_STARTED = "publisher started"
    #: A sequenced publisher missed three heartbeats (``value``: the ms waited).
    PUBLISHER_SILENT = "publisher silent"
    #: A silent publisher was heard again.
    PUBLISHER_RESUMED = "publisher resumed"
    #: An event this version of txzpub does not name; ``code`` has libzmq's number.
    OTHER = "other"


@attrs.frozen
class ConnectionEvent:
    """
    One lifecycle event of a connection's socket, or of a sequenced stream.

    ``endpoint`` is the address concerned (for a bound socket, its own bound
    address); ``value`` is libzmq's event value (a file descriptor, an errno,
    a reconnect interval, or a handshake error code, depending on ``kind``);
    ``code`` is libzmq's ZMQ_EVENT_* number.

    A subscriber's stream events (GAP, RECOVERED, LOST and the PUBLISHER_*
    kinds) name the ``publisher`` identity and, for gaps, the ``tag`` and the
    sequence numbers ``first`` to ``last``; ``value`` is how many messages.

    .. versionadded:: 0.1.0
    """

    kind: ConnectionEventKind
    endpoint: str
    value: int = 0
    code: int = 0
    publisher: bytes = b""
    tag: bytes = b""
    first: int = 0
    last: int = 0
