# -*- test-case-name: tests.test_connection -*-
"""
txzpub's exceptions, split by who caused the error.

This is the bottom layer: it imports only the standard library, so every other
layer can raise these. Messages say what happened and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "ConnectionClosed",
    "EndpointError",
    "SecurityError",
    "SubscriptionClosed",
    "TxzpubError",
]


class TxzpubError(Exception):
    """Base class of every error txzpub raises on purpose."""


class ConnectionClosed(TxzpubError):
    """
    You shut the connection (or its factory) down.

    Pending ``next()`` Deferreds fail with it, ``async for`` loops end, and any
    later ``next()`` fails with it at once. Create a new connection to receive
    again.
    """

    def __init__(self, message: str = "") -> None:
        super().__init__(message or "the connection was shut down; create a new connection")


class SubscriptionClosed(TxzpubError):
    """
    The subscription was unsubscribed completely (its reference count fell to
    zero), so its queue will never receive again. Subscribe again for a new one.
    """


class EndpointError(TxzpubError, ValueError):
    """
    An endpoint could not be used: an unknown endpoint type, a malformed
    address, or a bind that the operating system refused (address in use).

    It is a ValueError, so code that validates input the usual way catches it.
    """


class SecurityError(TxzpubError, ValueError):
    """
    Security settings that cannot work: a malformed CURVE key or certificate,
    a secret key where only a public one was given (or the reverse), a libzmq
    built without CURVE, or a second ZAP handler in one ZeroMQ context.

    It is a ValueError, so code that validates input the usual way catches it.
    The message never contains a key.
    """
