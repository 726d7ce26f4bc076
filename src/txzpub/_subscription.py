# -*- test-case-name: tests.test_subscription -*-
"""
Subscription: the Mailbox of one subscribed tag.

All queueing, waiting, cancelling and closing rules are the Mailbox's; a
subscription adds its tag, whether it is a hidden probe, and the counts of
its sequenced streams (lost, recovered) that its subscriber keeps.
"""

from __future__ import annotations

import attrs

from ._core._buffer import QueueStatistics
from ._core._message import Message
from ._mailbox import Mailbox

__all__ = ["Subscription"]


class Subscription(Mailbox[Message]):
    """
    The queue of one subscribed tag: the same queue that the connection's
    ``next(tag)`` reads. Get one from ``ZmqSubConnection.subscribe(tag)`` or
    ``ZmqSubConnection.subscriptions``; it cannot be constructed directly.

    Each message goes to one reader of the queue: two ``async for`` loops on
    one subscription share its messages rather than each getting all of them.
    ``next()`` fails with ConnectionClosed once the connection is shut down, or
    with SubscriptionClosed once the tag is fully unsubscribed and its queue
    drained.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_hidden", "_lost", "_recovered", "tag")
    _getOneFrom = "ZmqSubConnection.subscribe(tag)"

    def __init__(self, tag: bytes, **options: object) -> None:
        super().__init__(what=f"tag {tag!r}", **options)  # type: ignore[arg-type]
        #: The topic prefix this queue receives, as bytes.
        self.tag = tag
        # Hidden subscriptions (test probes) are not the user's: their messages
        # never reach a legacy gotMessage.
        self._hidden = False
        # Counted by the subscriber's sequenced streams.
        self._lost = 0
        self._recovered = 0

    def statistics(self) -> QueueStatistics:
        """A snapshot: queued, peak, dropped, waiting, the limits, lost and recovered."""
        snapshot = super().statistics()
        if self._lost or self._recovered:
            return attrs.evolve(snapshot, lost=self._lost, recovered=self._recovered)
        return snapshot

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Subscription tag={self.tag!r} {state} queued={len(self._buffer)}>"
