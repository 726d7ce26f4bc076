# -*- test-case-name: tests.test_errors -*-
"""
txzpub's exceptions, split by who caused the error.

This is the bottom layer: it imports only the standard library, so every other
layer can raise these. Each subclasses a builtin where the meaning matches (a
timeout is a TimeoutError, a bad endpoint a ValueError), so code that catches
errors the usual way catches ours. Messages say what happened and what to do.
Argument errors are plain TypeError and ValueError, made by ``_core._checks``.
"""

from __future__ import annotations

__all__ = [
    "AlreadyReplied",
    "ConfigurationError",
    "ConnectionClosed",
    "EndpointError",
    "PublishQueueFull",
    "ReceiveTimeout",
    "SecurityError",
    "SendQueueFull",
    "SubscriberTimeout",
    "SubscriptionClosed",
    "TooManyRequests",
    "TxzpubError",
    "ZmqRequestTimeoutError",
]


class TxzpubError(Exception):
    """
    Base class of every error txzpub raises on purpose.

    .. versionadded:: 0.1.0
    """


class ConnectionClosed(TxzpubError):
    """
    You shut the connection (or its factory) down.

    Pending ``next()`` Deferreds fail with it, ``async for`` loops end, and any
    later ``next()`` fails with it at once. Create a new connection to receive
    again.

    .. versionadded:: 0.1.0
    """

    def __init__(self, message: str = "") -> None:
        super().__init__(message or "the connection was shut down; create a new connection")


class SubscriptionClosed(TxzpubError):
    """
    The subscription was unsubscribed completely (its reference count fell to
    zero), so its queue will never receive again. Subscribe again for a new one.

    .. versionadded:: 0.1.0
    """


class ReceiveTimeout(TxzpubError, TimeoutError):
    """
    ``next(timeout=...)`` or ``nextBatch(timeout=...)`` waited *timeout*
    seconds and nothing arrived. No message is lost: one that arrives later
    goes to the next reader. Call again to keep waiting.

    .. versionadded:: 0.1.0
    """


class SubscriberTimeout(TxzpubError, TimeoutError):
    """
    ``waitForSubscribers(count, tag, timeout)`` gave up: fewer than *count*
    subscriptions matching *tag* had reached the publisher after *timeout*
    seconds. Check that the subscribers connect to the right address and
    subscribe to a prefix of the tag.

    .. versionadded:: 0.1.0
    """


class SendQueueFull(TxzpubError):
    """
    A send could not even be queued. Messages that meet a peer's high-water
    mark wait in the connection's local queue, in order, until the peer
    catches up; that queue is bounded too (``maxQueuedSends``), and it is
    full. Send more slowly (wait for replies, or for the peer), or raise the
    bound.

    .. versionadded:: 0.1.0
    """


class PublishQueueFull(SendQueueFull):
    """
    publishLossless() could not even queue the message: ``maxPending`` messages
    already wait for slow subscribers. Wait for earlier publishLossless()
    Deferreds before publishing more, or raise ``maxPending``.

    .. versionadded:: 0.1.0
    """


class ZmqRequestTimeoutError(TxzpubError, TimeoutError):
    """
    ``sendMsg(..., timeout=...)`` got no reply in time (txZMQ's name). A reply
    that comes later is dropped; the request's id is never reused, so it can
    never be taken for the reply to a newer request.

    .. versionadded:: 0.1.0
    """


class TooManyRequests(TxzpubError):
    """
    ``sendMsg()`` refused a request: ``maxPending`` requests already await
    their replies. Wait for some of them (or let them time out) before sending
    more, or raise ``maxPending``.

    .. versionadded:: 0.1.0
    """


class AlreadyReplied(TxzpubError):
    """
    ``Request.reply()`` was called a second time; a request has one reply.

    .. versionadded:: 0.1.0
    """


class ConfigurationError(TxzpubError, RuntimeError):
    """
    A method needs an option the connection was not created with, such as
    ``publishLossless()`` on a publisher without ``noDrop=True``. Create the
    connection with that option.

    .. versionadded:: 0.1.0
    """


class EndpointError(TxzpubError, ValueError):
    """
    An endpoint could not be used: an unknown endpoint type, a malformed
    address, or a bind that the operating system refused (address in use).

    It is a ValueError, so code that validates input the usual way catches it.

    .. versionadded:: 0.1.0
    """


class SecurityError(TxzpubError, ValueError):
    """
    Security settings that cannot work: a malformed CURVE key or certificate,
    a secret key where only a public one was given (or the reverse), a libzmq
    built without CURVE, or a second ZAP handler in one ZeroMQ context.

    It is a ValueError, so code that validates input the usual way catches it.
    The message never contains a key.

    .. versionadded:: 0.1.0
    """
