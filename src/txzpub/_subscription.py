# -*- test-case-name: tests.test_subscription -*-
"""
Subscription: one subscribed tag's bounded queue, read with Deferreds.

Rules:

1. A message goes to the oldest waiting ``next()`` if there is one, else into
   the bounded buffer; so waiters exist only while the buffer is empty.
2. Cancelling a waiting ``next()`` removes exactly that waiter: the next
   message goes to the following waiter or stays queued. Nothing is lost.
3. Closing fails every waiter with the closing error, ends ``async for``
   loops, and makes later ``next()`` calls fail at once (after draining what
   is queued, when the close keeps the queue: a full unsubscribe does).
4. A consumer's exception never escapes into the reader: when a ``next()``
   Deferred ends in a failure that nobody handled, it is logged and consumed.
5. Until somebody reads it (``next()`` or ``async for``), a queue of a
   *passive* subscription stores nothing: legacy ``gotMessage`` consumers
   subscribe without ever reading the queue, and must not pay for it.

This layer knows Deferreds and the logger, never the reactor or the socket.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING

from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._core._buffer import BoundedBuffer, OverflowPolicy, QueueStatistics
from ._errors import ConnectionClosed, SubscriptionClosed

if TYPE_CHECKING:
    from ._core._message import Message

__all__ = ["Subscription"]

_log = Logger()

_ENDS_ITERATION = (ConnectionClosed, SubscriptionClosed)


def _endIteration(failure: Failure) -> Message:
    if isinstance(failure.value, _ENDS_ITERATION):
        raise StopAsyncIteration
    failure.raiseException()
    raise AssertionError  # unreachable: raiseException() always raises


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
        "_hidden",
        "_holding",
        "_onFull",
        "_onReadable",
        "_overflowLogged",
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
        onFull: Callable[[Subscription], None],
        onReadable: Callable[[Subscription], None],
    ) -> None:
        #: The topic prefix this queue receives, as bytes.
        self.tag = tag
        self._buffer: BoundedBuffer[Message] = BoundedBuffer(maxQueued, overflow)
        self._waiters: deque[Deferred[Message]] = deque()
        self._closedBy: Exception | None = None
        # Set by the first next() or async for; legacy gotMessage consumers never
        # set it, so their queues store nothing (rule 5).
        self._reading = False
        self._overflowLogged = False
        # Hidden subscriptions (test probes) are not the user's: their messages
        # never reach a legacy gotMessage.
        self._hidden = False
        # True while this queue holds the reader paused (PAUSE policy).
        self._holding = False
        self._onFull = onFull
        self._onReadable = onReadable

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
        self._reading = True
        buffer = self._buffer
        if buffer:
            message = buffer.pop()
            if self._holding and len(buffer) <= buffer.maxQueued // 2:
                self._holding = False
                self._onReadable(self)
            return succeed(message)
        if self._closedBy is not None:
            return fail(self._closedBy)
        waiter: Deferred[Message] = Deferred(self._cancelWaiter)
        self._waiters.append(waiter)
        return waiter

    def __aiter__(self) -> Subscription:
        self._reading = True
        return self

    def __anext__(self) -> Deferred[Message]:
        """Like next(), but the end of the subscription ends the ``async for``."""
        return self.next().addErrback(_endIteration)

    def statistics(self) -> QueueStatistics:
        """A snapshot of this queue: queued, peak, dropped, waiting, and its limits."""
        return self._buffer.statistics(waiting=len(self._waiters))

    @property
    def closed(self) -> bool:
        """True once the subscription will never receive again."""
        return self._closedBy is not None

    # -- the connection's side -------------------------------------------------

    def _cancelWaiter(self, waiter: Deferred[Message]) -> None:
        # Deferred errbacks the waiter with CancelledError after this returns.
        with suppress(ValueError):  # already fired, or removed by _close
            self._waiters.remove(waiter)

    def _put(self, message: Message) -> bool:
        """
        Deliver *message* to the oldest waiter or queue it; never raises.

        Returns True when it ran a consumer's callbacks (which may have changed
        anything, so the caller re-reads whatever it cached).
        """
        waiters = self._waiters
        if waiters:
            waiter = waiters.popleft()
            waiter.callback(message)
            failure = waiter.result
            if waiter.paused or not isinstance(failure, Failure):
                return True
            # The consumer's chain ended in an error nobody handled: log it here and
            # consume it, so Twisted does not also report "Unhandled error in Deferred".
            waiter.addErrback(lambda _: None)
            if not isinstance(failure.value, CancelledError):
                _log.failure(
                    "A callback on next() for tag {tag!r} raised; delivery continues",
                    failure=failure,
                    tag=self.tag,
                )
            return True
        if self._closedBy is None and self._buffer.push(message):
            self._overflowed()
        return False

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
        if self._holding:  # a closed queue must not keep the reader paused
            self._holding = False
            self._onReadable(self)
        if discard:
            self._buffer.clear()
        waiters = list(self._waiters)
        self._waiters.clear()
        for waiter in waiters:
            waiter.errback(reason)
