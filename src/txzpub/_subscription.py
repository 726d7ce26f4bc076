# -*- test-case-name: tests.test_subscription -*-
"""
Subscription: one subscribed tag's bounded queue, read with Deferreds.

Rules:

1. A message goes to the oldest waiting ``next()`` if there is one, else into
   the bounded buffer; so single waiters exist only while the buffer is empty.
2. A waiting ``nextBatch()`` collects: messages arriving while it waits are
   buffered, and it fires once, with all of them (up to its limit), when the
   owner calls ``_flush()`` at the end of the read batch. Waiters of both kinds
   are served strictly in the order they started waiting.
3. Cancelling a waiter removes exactly that waiter: the next message goes to
   the following waiter or stays queued. Nothing is lost.
4. Closing fails every waiter with the closing error, ends ``async for``
   loops, and makes later calls fail at once (after draining what is queued,
   when the close keeps the queue: a full unsubscribe does).
5. A consumer's exception never escapes into the reader: when a waiter's
   Deferred ends in a failure that nobody handled, it is logged and consumed.
6. Until somebody reads it (``next()``, ``nextBatch()`` or ``async for``), a
   queue is *unread*; the owner does not feed unread queues of a legacy
   ``gotMessage`` consumer, which must not pay for queues it never reads.

This layer knows Deferreds and the logger, never the reactor or the socket.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._core._buffer import BoundedBuffer, OverflowPolicy, QueueStatistics, validateCount

if TYPE_CHECKING:
    from ._core._message import Message

__all__ = ["DEFAULT_BATCH_LIMIT", "Subscription"]

_log = Logger()

#: Default most messages one nextBatch() returns.
DEFAULT_BATCH_LIMIT = 1000

# Waiters (live or cancelled) that trigger a sweep of the cancelled ones.
_PURGE_AT = 64


def _checkLimit(maxCount: object) -> int:
    return validateCount(maxCount, "maxCount")


class _IterationWaiter(Deferred[Any]):
    """A waiting ``async for`` step: closing ends the loop instead of raising."""


class _BatchWaiter(Deferred[Any]):
    """A waiting nextBatch(): served at the end of the read batch (rule 2)."""

    limit = DEFAULT_BATCH_LIMIT
    #: True for a step of ``async for ... in batches()``: closing ends the loop.
    iterating = False


class _Batches:
    """``async for batch in subscription.batches(n)``: nextBatch() as an async iterator."""

    __slots__ = ("_limit", "_subscription")

    def __init__(self, subscription: Subscription, limit: int) -> None:
        self._subscription = subscription
        self._limit = limit

    def __aiter__(self) -> _Batches:
        return self

    def __anext__(self) -> Deferred[list[Message]]:
        return self._subscription._wait(_BatchWaiter, self._limit, iterating=True)  # noqa: SLF001


class Subscription:
    """
    A handle on one subscribed tag's queue: the same queue that the
    connection's ``next(tag)`` reads. Get one from
    ``ZmqSubConnection.subscribe(tag)``; do not construct it yourself.

    Each message goes to one reader of the queue: two ``async for`` loops on
    one subscription share its messages rather than each getting all of them.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_buffer",
        "_closedBy",
        "_flushPending",
        "_hidden",
        "_holding",
        "_items",
        "_maxQueued",
        "_onFlush",
        "_onFull",
        "_onReadable",
        "_overflowLogged",
        "_purgeAt",
        "_reading",
        "_waiters",
        "tag",
    )

    def __init__(
        self,
        tag: bytes,
        *,
        maxQueued: int,
        overflow: OverflowPolicy,
        onFull: Callable[[Subscription], object],
        onReadable: Callable[[Subscription], object],
        onFlush: Callable[[Subscription], object],
    ) -> None:
        #: The topic prefix this queue receives, as bytes.
        self.tag = tag
        self._buffer: BoundedBuffer[Message] = BoundedBuffer(maxQueued, overflow)
        # Hot-path shortcuts into the buffer (see BoundedBuffer.items).
        self._items = self._buffer.items
        self._maxQueued = maxQueued
        self._waiters: deque[Deferred[Any]] = deque()
        self._purgeAt = _PURGE_AT
        self._closedBy: Exception | None = None
        self._reading = False
        self._overflowLogged = False
        # Hidden subscriptions (test probes) are not the user's: their messages
        # never reach a legacy gotMessage.
        self._hidden = False
        # True while this queue holds the reader paused (PAUSE policy).
        self._holding = False
        # True while the owner has been asked to _flush() us (rule 2).
        self._flushPending = False
        self._onFull = onFull
        self._onReadable = onReadable
        self._onFlush = onFlush

    def __repr__(self) -> str:
        state = "closed" if self._closedBy is not None else "open"
        return f"<Subscription tag={self.tag!r} {state} queued={len(self._buffer)}>"

    # -- the consumer's side -------------------------------------------------

    def next(self) -> Deferred[Message]:
        """
        Fire with the next Message of this subscription.

        A queued message is returned at once. Cancelling the Deferred errbacks it
        with CancelledError and loses no message. Fails with ConnectionClosed
        once the connection is shut down, or SubscriptionClosed once the tag is
        fully unsubscribed and its queue drained.
        """
        return self._wait(Deferred, 0, iterating=False)

    def nextBatch(self, maxCount: int = DEFAULT_BATCH_LIMIT) -> Deferred[list[Message]]:
        """
        Fire with every queued message, oldest first, up to *maxCount* (at least one).

        For high-rate consumers: one Deferred per batch instead of one per
        message. If nothing is queued it waits, and fires once the reader has
        delivered what arrived in the same read batch. Cancelling and closing
        behave as for next().
        """
        return self._wait(_BatchWaiter, _checkLimit(maxCount), iterating=False)

    def batches(self, maxCount: int = DEFAULT_BATCH_LIMIT) -> _Batches:
        """``async for batch in subscription.batches(n)``: nextBatch() in a loop."""
        limit = _checkLimit(maxCount)
        self._reading = True
        return _Batches(self, limit)

    def __aiter__(self) -> Subscription:
        self._reading = True
        return self

    def __anext__(self) -> Deferred[Message]:
        """Like next(), but the end of the subscription ends the ``async for``."""
        return self._wait(_IterationWaiter, 0, iterating=True)

    def _wait(self, kind: type[Deferred[Any]], limit: int, *, iterating: bool) -> Deferred[Any]:
        """
        The one way to read: at once from the queue, else a waiter of *kind*.

        Cancelled waiters stay in the deque until a delivery skips them; that is
        cheaper than giving every waiter a canceller (rule 3 still holds).
        """
        self._reading = True
        if self._items and not self._waiters:
            buffer = self._buffer
            result = buffer.popMany(limit) if limit else buffer.pop()
            if self._holding:
                self._releaseIfDrained()
            return succeed(result)
        if self._closedBy is not None and not self._items:
            return fail(StopAsyncIteration() if iterating else self._closedBy)
        waiter = kind()
        if limit:
            waiter.limit = limit  # type: ignore[attr-defined]
            waiter.iterating = iterating  # type: ignore[attr-defined]
        waiters = self._waiters
        waiters.append(waiter)
        if len(waiters) >= self._purgeAt:
            self._purgeCancelled()
        return waiter

    def _purgeCancelled(self) -> None:
        """Drop cancelled waiters, so a loop of timed-out next() calls cannot pile them up."""
        live = [waiter for waiter in self._waiters if not waiter.called]
        self._waiters = deque(live)
        self._purgeAt = max(_PURGE_AT, 2 * len(live))

    def statistics(self) -> QueueStatistics:
        """A snapshot of this queue: queued, peak, dropped, waiting, and its limits."""
        return self._buffer.statistics(waiting=sum(not w.called for w in self._waiters))

    @property
    def closed(self) -> bool:
        """True once the subscription will never receive again."""
        return self._closedBy is not None

    # -- the connection's side -------------------------------------------------

    def _put(self, message: Message) -> bool:  # noqa: C901 - hot path, inlined on purpose
        """
        Deliver *message* to the oldest waiter or queue it; never raises.

        Returns True when it ran a consumer's callbacks (which may have changed
        anything, so the caller re-reads whatever it cached).
        """
        items = self._items
        if self._flushPending:
            # A nextBatch() heads the waiters and its flush is due: until then
            # everything queues for it (the batch consumer's fast path).
            if len(items) < self._maxQueued:
                items.append(message)
            elif self._buffer.push(message):
                self._overflowed()
            return False
        waiters = self._waiters
        while waiters:
            waiter = waiters[0]
            if waiter.called:  # cancelled
                waiters.popleft()
                continue
            if type(waiter) is _BatchWaiter:
                break
            waiters.popleft()
            self._fire(waiter, message)
            return True
        if self._closedBy is not None:  # closed by a consumer earlier in this batch
            return False
        if len(items) < self._maxQueued:
            items.append(message)
        elif self._buffer.push(message):
            self._overflowed()
        if waiters and not self._flushPending:
            self._flushPending = True
            self._onFlush(self)
        return False

    def _flush(self) -> None:
        """Serve the waiters from the buffer, in order (the end of a read batch)."""
        self._flushPending = False
        buffer, items, waiters = self._buffer, self._items, self._waiters
        while items and waiters:
            waiter = waiters.popleft()
            if waiter.called:  # cancelled
                continue
            if type(waiter) is _BatchWaiter:
                self._fire(waiter, buffer.popMany(waiter.limit))
            else:
                self._fire(waiter, buffer.pop())
        if self._holding:
            self._releaseIfDrained()

    def _fire(self, waiter: Deferred[Any], result: object) -> None:
        waiter.callback(result)
        failure = waiter.result
        if waiter.paused or not isinstance(failure, Failure):
            return
        # The consumer's chain ended in an error nobody handled: log it here and
        # consume it, so Twisted does not also report "Unhandled error in Deferred".
        waiter.addErrback(lambda _: None)
        if not isinstance(failure.value, CancelledError):
            _log.failure(
                "A callback on next() for tag {tag!r} raised; delivery continues",
                failure=failure,
                tag=self.tag,
            )

    def _releaseIfDrained(self) -> None:
        buffer = self._buffer
        if len(buffer) <= buffer.maxQueued // 2:
            self._holding = False
            self._onReadable(self)

    def _overflowed(self) -> None:
        buffer = self._buffer
        if buffer.overflow is OverflowPolicy.PAUSE and not self._holding:
            self._holding = True
            self._onFull(self)
        if not self._overflowLogged:
            self._overflowLogged = True
            _log.warn(
                "Subscription {tag!r} is full ({maxQueued} messages queued); applying the "
                "{policy} overflow policy. Read it faster, or raise maxQueued.",
                tag=self.tag,
                maxQueued=buffer.maxQueued,
                policy=buffer.overflow.value,
            )

    def _close(self, reason: Exception, *, discard: bool) -> None:
        """Close with *reason*; fail every waiter; *discard* also drops what is queued."""
        if self._closedBy is not None:
            return
        self._closedBy = reason
        if discard:
            self._buffer.clear()
            self._flushPending = False
        else:
            self._flush()  # waiters first get what was already queued for them
        if self._holding:  # a closed queue must not keep the reader paused
            self._holding = False
            self._onReadable(self)
        waiters = [waiter for waiter in self._waiters if not waiter.called]
        self._waiters.clear()
        for waiter in waiters:
            iterating = type(waiter) is _IterationWaiter or getattr(waiter, "iterating", False)
            waiter.errback(StopAsyncIteration() if iterating else reason)
