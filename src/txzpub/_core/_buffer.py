# -*- test-case-name: tests.core.test_buffer -*-
"""
Bounded FIFO buffers with an explicit overflow policy and counters.

Rules:

1. ``maxQueued`` bounds what a buffer holds under the two drop policies; an
   overflowing push drops exactly one item (the oldest, or the one pushed) and
   counts it. Nothing is ever dropped silently: ``dropped`` says how many.
2. Under ``PAUSE`` a push never drops; the buffer only reports that it is full,
   and its owner stops reading the socket, so ZeroMQ's own high-water mark
   applies upstream. It may then exceed ``maxQueued`` by what was already read.
3. A push never raises (it runs inside the reactor's reader loop).
4. ``peak`` is brought up to date when items leave or a snapshot is taken,
   not on every push: between two removals the queue only grows, so its
   largest size is its size just before the next removal.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Generic, TypeVar

import attrs

from ._checks import checkCount, wrongType, wrongValue

__all__ = [
    "DEFAULT_MAX_QUEUED",
    "DEFAULT_OVERFLOW",
    "BoundedBuffer",
    "OverflowPolicy",
    "QueueStatistics",
    "checkOverflow",
]

T = TypeVar("T")

# libzmq's default RCVHWM is 1,000 messages per peer. Ten of those in user
# space absorbs a 100 ms stall of the consumer at 100k msgs/s, while a 1 KB
# message stream still caps a forgotten subscription at about 10 MB.
DEFAULT_MAX_QUEUED = 10_000


class OverflowPolicy(enum.Enum):
    """
    What a full subscription queue does with the next message.

    .. versionadded:: 0.1.0
    """

    #: Drop the oldest queued message: the consumer sees the freshest data.
    DROP_OLDEST = "drop-oldest"
    #: Drop the arriving message: the consumer sees an uninterrupted prefix.
    DROP_NEWEST = "drop-newest"
    #: Stop reading the socket until the consumer catches up, so ZeroMQ's
    #: high-water marks apply (the publisher then drops, as ZeroMQ does).
    PAUSE = "pause"


DEFAULT_OVERFLOW = OverflowPolicy.DROP_OLDEST


def checkOverflow(value: object) -> OverflowPolicy:
    """An OverflowPolicy, or its string value ("drop-oldest", ...)."""
    if isinstance(value, OverflowPolicy):
        return value
    choices = ", ".join(repr(policy.value) for policy in OverflowPolicy)
    expected = f"an OverflowPolicy or one of {choices}"
    if not isinstance(value, str):
        raise wrongType("overflow", expected, value)
    try:
        return OverflowPolicy(value)
    except ValueError:
        raise wrongValue("overflow", expected, value) from None


@attrs.frozen
class QueueStatistics:
    """
    A snapshot of one subscription queue.

    .. versionadded:: 0.1.0
    """

    #: Messages waiting in the queue now.
    queued: int
    #: The most messages the queue has held at once.
    peak: int
    #: Messages the overflow policy dropped, in total.
    dropped: int
    #: ``next()`` calls waiting for a message now.
    waiting: int
    #: The configured bound.
    maxQueued: int
    #: The configured overflow policy.
    overflow: OverflowPolicy
    #: Messages of a sequenced stream that never arrived (gaps not recovered);
    #: local drops are ``dropped``, never ``lost``. Zero for other queues.
    lost: int = 0
    #: Messages of a sequenced stream that arrived late, from the publisher's
    #: replay socket, and were delivered in order. Zero for other queues.
    recovered: int = 0


class BoundedBuffer(Generic[T]):
    """A deque with a bound, an overflow policy and counters; see the module rules."""

    __slots__ = ("_peak", "dropped", "items", "maxQueued", "overflow")

    def __init__(
        self, maxQueued: int = DEFAULT_MAX_QUEUED, overflow: OverflowPolicy = DEFAULT_OVERFLOW
    ) -> None:
        self.maxQueued = checkCount(maxQueued, "maxQueued")
        self.overflow = checkOverflow(overflow)
        #: The queued items, oldest first. Owners may test it for emptiness
        #: directly (cheaper than len(buffer) on a hot path); change it only
        #: through the methods.
        self.items: deque[T] = deque()
        self.dropped = 0
        self._peak = 0

    def push(self, item: T) -> bool:
        """Queue *item*; return True when the buffer overflowed (dropped, or full under PAUSE)."""
        items = self.items
        if len(items) < self.maxQueued:
            items.append(item)
            return False
        overflow = self.overflow
        if overflow is OverflowPolicy.DROP_OLDEST:
            self._notePeak()
            items.popleft()
            items.append(item)
            self.dropped += 1
        elif overflow is OverflowPolicy.DROP_NEWEST:
            self.dropped += 1
        else:
            items.append(item)
        return True

    def pop(self) -> T:
        """Remove and return the oldest item; IndexError when empty."""
        self._notePeak()
        return self.items.popleft()

    def popMany(self, limit: int) -> list[T]:
        """Remove and return up to *limit* of the oldest items."""
        self._notePeak()
        items = self.items
        if limit >= len(items):
            taken = list(items)
            items.clear()
            return taken
        return [items.popleft() for _ in range(limit)]

    def clear(self) -> None:
        """Forget every queued item (the counters stay)."""
        self._notePeak()
        self.items.clear()

    def _notePeak(self) -> None:
        self._peak = max(self._peak, len(self.items))

    @property
    def peak(self) -> int:
        """The most items the buffer has held at once."""
        self._notePeak()
        return self._peak

    @property
    def full(self) -> bool:
        """True when the next push would overflow."""
        return len(self.items) >= self.maxQueued

    def statistics(self, waiting: int = 0) -> QueueStatistics:
        """A snapshot; *waiting* is filled in by the owner, which knows its waiters."""
        return QueueStatistics(
            queued=len(self.items),
            peak=self.peak,
            dropped=self.dropped,
            waiting=waiting,
            maxQueued=self.maxQueued,
            overflow=self.overflow,
        )

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)
