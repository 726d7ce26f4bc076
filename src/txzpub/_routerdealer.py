# -*- test-case-name: tests.test_routerdealer -*-
"""
ROUTER and DEALER, as txZMQ's ZmqRouterConnection and ZmqDealerConnection.

A DEALER sends to its peers in turn and receives from all of them; a ROUTER
knows each peer by its routing id: it receives ``(senderId, frames)`` and
sends to the peer it names. Both read through the Receiver's queue.

A plain ROUTER socket drops, silently, what it cannot deliver: a message for
a peer at its high-water mark or for an unknown peer. These ROUTERs are
created with ROUTER_MANDATORY, so the first waits in the send queue like any
other send at the high-water mark, and the second is logged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import zmq

from ._core._envelope import splitRouted
from ._core._message import asBytes
from ._receiver import Receiver, hookOf
from ._sending import asFrames

__all__ = ["ZmqDealerConnection", "ZmqRouterConnection", "routerMandatory"]


def routerMandatory(socket: zmq.Socket[bytes]) -> None:
    """Make a ROUTER say what it cannot deliver instead of dropping it."""
    socket.set(zmq.ROUTER_MANDATORY, 1)


class ZmqDealerConnection(Receiver[list[bytes]]):
    """
    A DEALER socket: ``sendMsg()``/``sendMultipart()`` to the peers in turn;
    read what comes back with ``next()`` (the frames), ``async for``, or by
    overriding ``gotMessage(*parts)`` the txZMQ way.

    .. versionadded:: 0.1.0
    """

    socketType = zmq.DEALER

    def sendMsg(self, message: bytes | str) -> None:
        """Send a one-frame message (see sendMultipart)."""
        self.sendMultipart([message])

    def sendMultipart(self, parts: Sequence[bytes | str]) -> None:
        """
        Send the frames *parts* as one message, to one peer.

        At the high-water mark it waits in the send queue and leaves in order;
        SendQueueFull when ``maxQueuedSends`` messages already wait.
        """
        self._checkOpen("send")
        self._enqueue(asFrames(parts, "parts"))

    def gotMessage(self, *parts: bytes) -> None:
        """txZMQ's hook: override (or assign) it to receive every message's frames."""

    def _legacyConsumer(self) -> Callable[[list[bytes]], object] | None:
        hook = hookOf(self, "gotMessage", ZmqDealerConnection)
        return None if hook is None else lambda frames: hook(*frames)


class ZmqRouterConnection(Receiver[tuple[bytes, list[bytes]]]):
    """
    A ROUTER socket: ``next()`` fires with ``(senderId, frames)``, and
    ``sendMsg(recipientId, ...)`` answers that peer; or override
    ``gotMessage(senderId, *parts)`` the txZMQ way.

    .. versionadded:: 0.1.0
    """

    socketType = zmq.ROUTER

    def sendMsg(self, recipientId: bytes | str, message: bytes | str) -> None:
        """Send a one-frame message to the peer *recipientId* (see sendMultipart)."""
        self.sendMultipart(recipientId, [message])

    def sendMultipart(self, recipientId: bytes | str, parts: Sequence[bytes | str]) -> None:
        """
        Send the frames *parts* as one message to the peer *recipientId*.

        At that peer's high-water mark it waits in the send queue (in order,
        behind everything queued before it); a message for a peer that is not
        connected is logged and dropped.
        """
        self._checkOpen("send")
        self._enqueue([asBytes(recipientId, "recipientId"), *asFrames(parts, "parts")])

    def gotMessage(self, senderId: bytes, *parts: bytes) -> None:
        """txZMQ's hook: override (or assign) it to receive every message."""

    def _configure(self, socket: zmq.Socket[bytes]) -> None:
        super()._configure(socket)
        routerMandatory(socket)

    #: A ROUTER message is ``(senderId, frames)`` (the codec itself: one call less).
    _decode = staticmethod(splitRouted)

    def _legacyConsumer(self) -> Callable[[tuple[bytes, list[bytes]]], object] | None:
        hook = hookOf(self, "gotMessage", ZmqRouterConnection)
        return None if hook is None else lambda item: hook(item[0], *item[1])
