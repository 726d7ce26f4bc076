# -*- test-case-name: tests.test_connection -*-
"""
Endpoints, as txZMQ spelled them: a type (bind or connect) and an address.

ZmqEndpoint stays a NamedTuple because txZMQ users compare and print them as
namedtuples; validation happens when a connection uses one, not here, so code
that builds endpoints the old way keeps working.
"""

from __future__ import annotations

from typing import NamedTuple

from .._errors import EndpointError
from ._checks import wrongType

__all__ = ["ZmqEndpoint", "ZmqEndpointType", "checkEndpoint"]


class ZmqEndpointType:
    """
    How a socket attaches to an address: ``bind`` (listen) or ``connect``.

    .. versionadded:: 0.1.0
    """

    bind = "bind"
    connect = "connect"


class ZmqEndpoint(NamedTuple):
    """
    A ZeroMQ address (``tcp://127.0.0.1:5555``, ``ipc:///tmp/x``, ``inproc://name``)
    and whether to bind or connect to it.

    .. versionadded:: 0.1.0
    """

    type: str
    address: str


def checkEndpoint(endpoint: object) -> ZmqEndpoint:
    """Return *endpoint* as a ZmqEndpoint, or raise EndpointError saying what is wrong."""
    if not isinstance(endpoint, tuple) or len(endpoint) != 2:
        raise wrongType("endpoint", "a ZmqEndpoint(type, address)", endpoint)
    kind, address = endpoint
    if not isinstance(kind, str) or kind not in (ZmqEndpointType.bind, ZmqEndpointType.connect):
        msg = (
            f"unknown endpoint type {kind!r} in {endpoint!r}; "
            "use ZmqEndpointType.bind or ZmqEndpointType.connect"
        )
        raise EndpointError(msg)
    if isinstance(address, bytes):
        try:
            address = address.decode("utf-8")
        except UnicodeDecodeError:
            msg = f"endpoint address must be UTF-8 text, not {address!r}"
            raise EndpointError(msg) from None
    if not isinstance(address, str) or "://" not in address:
        msg = (
            f"endpoint address must be a ZeroMQ address such as 'tcp://127.0.0.1:5555', "
            f"'ipc:///tmp/name' or 'inproc://name', not {address!r}"
        )
        raise EndpointError(msg)
    return ZmqEndpoint(kind, address)
