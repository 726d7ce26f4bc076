# -*- test-case-name: tests.test_legacy -*-
"""
The txZMQ adapter: ZmqSubConnection with ``gotMessage(message, tag)``.

txZMQ code overrides gotMessage in a subclass, or assigns it on an instance
(``conn.gotMessage = f``, as txZMQ's own example does, even after
subscribing). Either way it receives every message exactly once. Whether
gotMessage is overridden is looked up per batch and again whenever user code
ran, so assigning it late (even from a callback) works, and a connection that
never overrides it pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Callable

from ._connection import ZmqConnection
from ._subscriber import Subscriber

__all__ = ["ZmqSubConnection"]


class ZmqSubConnection(Subscriber):
    """
    Subscribes to topics: read them with ``next(tag)`` or a Subscription, or
    override ``gotMessage`` the txZMQ way.

    .. versionadded:: 0.1.0
    """

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        """
        txZMQ's hook: override (or assign) it to receive every message once.

        The default does nothing, because new code reads subscriptions with
        ``next()`` or ``async for`` instead. A gotMessage that raises is logged
        and delivery continues.
        """

    def messageReceived(self, message: list[bytes]) -> None:
        """
        txZMQ's hook for raw frames: decodes *message* and delivers it.

        Override it to see every message's frames before decoding; call this
        implementation from yours to deliver it as usual.
        """
        self._deliver([message])
        if self._toFlush:
            self._flushBatchWaiters()

    def _legacyConsumer(self) -> Callable[[bytes, bytes], object] | None:
        assigned: Callable[[bytes, bytes], object] | None = self.__dict__.get("gotMessage")
        if assigned is not None:
            return assigned
        if type(self).gotMessage is not ZmqSubConnection.gotMessage:
            return self.gotMessage
        return None

    def _receiveBatch(self, batch: list[list[bytes]]) -> None:
        if (
            type(self).messageReceived is not ZmqSubConnection.messageReceived
            or "messageReceived" in self.__dict__
        ):
            ZmqConnection._receiveBatch(self, batch)  # noqa: SLF001 - messageReceived per message
            return
        super()._receiveBatch(batch)
