# -*- test-case-name: tests.test_pushpull -*-
"""
PUSH and PULL: a pipeline, as txZMQ's ZmqPushConnection and ZmqPullConnection.

A PUSH connection hands each message to one of its connected PULL peers, in
turn. Its sends never block and never fail at the high-water mark: they wait
in the connection's send queue (``_sending``). A PULL connection queues what
arrives (``_receiver``), pausing its reader when the queue is full, so
pushers slow down instead of anything being dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import zmq

from ._connection import ZmqConnection
from ._receiver import Receiver, hookOf

__all__ = ["ZmqPullConnection", "ZmqPushConnection"]


class ZmqPushConnection(ZmqConnection):
    """
    Pushes messages to PULL peers, each message to one of them, as txZMQ's.

    .. versionadded:: 0.1.0
    """

    socketType = zmq.PUSH

    def push(self, message: bytes | str | Sequence[bytes | str]) -> None:
        """
        Push *message* (bytes, or a list of frames) to one of the peers.

        Never blocks: at the peers' high-water mark (or while no peer is
        connected) it waits in the send queue and leaves in order; raises
        SendQueueFull when ``maxQueuedSends`` messages already wait, and
        ConnectionClosed after shutdown.
        """
        self.send(message)


class ZmqPullConnection(Receiver[list[bytes]]):
    """
    Pulls messages from PUSH peers: read each message's frames with
    ``next()``, ``nextBatch()`` or ``async for frames in pull``, or override
    ``onPull`` the txZMQ way.

    .. versionadded:: 0.1.0
    """

    socketType = zmq.PULL

    def onPull(self, message: list[bytes]) -> None:
        """
        txZMQ's hook: override (or assign) it to receive every message's frames.

        The default does nothing: new code reads with ``next()`` or
        ``async for``. An onPull that raises is logged and delivery continues.
        """

    def _legacyConsumer(self) -> Callable[[list[bytes]], object] | None:
        return hookOf(self, "onPull", ZmqPullConnection)
