# -*- test-case-name: tests.test_mailbox -*-
"""
Mailbox: a bounded queue read with Deferreds, under every queue in txzpub.

Each subscription, each lifecycle event stream and the lossless publish
queue is a Mailbox, and so is every queue a new socket pattern needs: the
rules below are proven once, here, as trio's MemoryChannelState sits under
its channels.

Rules:

1. An item goes to the oldest waiting ``next()`` if there is one, else into
   the bounded buffer (``_core._buffer``, with its overflow policy); so single
   waiters exist only while the buffer is empty.
2. A waiting ``nextBatch()`` collects: items arriving while it waits are
   buffered, and it fires once, with all of them (up to its limit), when the
   owner calls ``_flush()`` at the end of the read batch (the owner hears of
   it through ``onFlush``). Waiters of both kinds are served strictly in the
   order they started waiting.
3. Cancelling a waiter, or its ``timeout`` passing, removes exactly that
   waiter: the next item goes to the following waiter or stays queued.
   Nothing is lost (``_waiters`` rule 2).
4. Closing fails every waiter with the closing error, ends ``async for``
   loops, and makes later calls fail at once: after what is queued has been
   read when the close keeps the queue, at once when it discards it.
5. A consumer's exception never escapes into the owner (``_waiters`` rule 3).
6. Under the PAUSE policy a full mailbox calls ``onFull``, and ``onReadable``
   once it has drained to half its bound (or closes): the owner stops and
   restarts reading its socket.
7. Until somebody reads it (``next()``, ``nextBatch()`` or ``async for``), a
   mailbox is *unread* (``_reading`` is False); owners with a callback
   consumer (txZMQ's gotMessage) skip unread mailboxes, which would only fill.

Every delivered item is therefore read once, still queued, or counted in
``statistics().dropped``: the property the tests check over random
interleavings. This layer knows Deferreds and the logger, never the reactor
(the clock for timeouts is injected) or a socket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger

from ._core._buffer import (
    DEFAULT_MAX_QUEUED,
    DEFAULT_OVERFLOW,
    BoundedBuffer,
    OverflowPolicy,
    QueueStatistics,
)
from ._core._checks import checkCount, checkSeconds
from ._core._construction import NoPublicConstructor
from ._errors import ReceiveTimeout
from ._reactors import ReactorTime
from ._waiters import Waiters, deadline, fire

__all__ = ["DEFAULT_BATCH_LIMIT", "Batches", "Mailbox"]

_log = Logger()

T = TypeVar("T")

#: Default most items one nextBatch() returns.
DEFAULT_BATCH_LIMIT = 1000


def _ignore(_: object) -> None:
    """The owner hook of a mailbox whose owner does not care."""


def _deadlineFor(
    timeout: object, clock: ReactorTime | None, what: str
) -> Callable[[Deferred[Any]], Deferred[Any]]:
    """
    Check *timeout* now, before anything waits (a bad one must take nothing),
    and return what gives a waiter rule 3's deadline.
    """
    seconds = checkSeconds(timeout, "timeout")
    if clock is None:  # pragma: no cover - every owner passes its reactor
        msg = f"{what} has no clock, so it cannot time out"
        raise TypeError(msg)

    def timedOut() -> ReceiveTimeout:
        msg = (
            f"nothing arrived for {what} within {seconds:g} s; no message is lost: "
            "call again to keep waiting"
        )
        return ReceiveTimeout(msg)

    return lambda waiter: deadline(waiter, seconds, clock, timedOut)


class _IterationWaiter(Deferred[Any]):
    """A waiting ``async for`` step: closing ends the loop instead of raising."""


class _BatchWaiter(Deferred[Any]):
    """A waiting nextBatch(): served at the end of the read batch (rule 2)."""

    limit = DEFAULT_BATCH_LIMIT
    #: True for a step of ``async for ... in batches()``: closing ends the loop.
    iterating = False


class Batches(Generic[T]):
    """``async for batch in mailbox.batches(n)``: nextBatch() as an async iterator."""

    __slots__ = ("_limit", "_mailbox")

    def __init__(self, mailbox: Mailbox[T], limit: int) -> None:
        self._mailbox = mailbox
        self._limit = limit

    def __aiter__(self) -> Batches[T]:
        return self

    def __anext__(self) -> Deferred[list[T]]:
        return self._mailbox._wait(_BatchWaiter, self._limit, iterating=True)  # noqa: SLF001


class Mailbox(Generic[T], metaclass=NoPublicConstructor):
    """
    A bounded queue of *T* read with Deferreds; see the module rules.

    The public methods are the consumer's; the underscored ones the owner's.
    """

    __slots__ = (
        "_buffer",
        "_clock",
        "_closedBy",
        "_flushPending",
        "_holding",
        "_items",
        "_maxQueued",
        "_onFlush",
        "_onFull",
        "_onReadable",
        "_overflowLogged",
        "_reading",
        "_waiters",
        "_what",
    )

    def __init__(
        self,
        *,
        what: str,
        clock: ReactorTime | None = None,
        maxQueued: int = DEFAULT_MAX_QUEUED,
        overflow: OverflowPolicy = DEFAULT_OVERFLOW,
        onFull: Callable[[Any], object] = _ignore,
        onReadable: Callable[[Any], object] = _ignore,
        onFlush: Callable[[Any], object] | None = None,
    ) -> None:
        # What this mailbox holds, for messages and logs: "tag b'news'".
        self._what = what
        self._clock = clock
        self._buffer: BoundedBuffer[T] = BoundedBuffer(maxQueued, overflow)
        # Hot-path shortcuts into the buffer (see BoundedBuffer.items).
        self._items = self._buffer.items
        self._maxQueued = self._buffer.maxQueued
        self._waiters = Waiters()
        self._closedBy: Exception | None = None
        self._reading = False
        self._overflowLogged = False
        # True while this mailbox holds its owner's reader paused (rule 6).
        self._holding = False
        # True while the owner has been asked to _flush() us (rule 2).
        self._flushPending = False
        self._onFull = onFull
        self._onReadable = onReadable
        # Without an owner that flushes, a batch waiter is served at once.
        self._onFlush = onFlush if onFlush is not None else Mailbox._flush

    # -- the consumer's side -------------------------------------------------

    def next(self, timeout: float | None = None) -> Deferred[T]:
        """
        Fire with the next item; a queued one is returned at once.

        With *timeout* (seconds) it fails with ReceiveTimeout if nothing came
        by then. Cancelling it, or its timeout, loses nothing: the item goes
        to the next reader. Fails with the closing error once closed and
        drained.
        """
        if timeout is None:
            return self._wait(Deferred, 0, iterating=False)
        expire = _deadlineFor(timeout, self._clock, self._what)
        return expire(self._wait(Deferred, 0, iterating=False))

    def nextBatch(
        self, maxCount: int = DEFAULT_BATCH_LIMIT, timeout: float | None = None
    ) -> Deferred[list[T]]:
        """
        Fire with every queued item, oldest first, up to *maxCount* (at least one).

        One Deferred per batch instead of one per item, for high rates. If
        nothing is queued it waits, and fires once the reader has delivered what
        arrived in the same read batch. *timeout*, cancelling and closing behave
        as for next().
        """
        limit = checkCount(maxCount, "maxCount")
        if timeout is None:
            return self._wait(_BatchWaiter, limit, iterating=False)
        expire = _deadlineFor(timeout, self._clock, self._what)
        return expire(self._wait(_BatchWaiter, limit, iterating=False))

    def batches(self, maxCount: int = DEFAULT_BATCH_LIMIT) -> Batches[T]:
        """``async for batch in x.batches(n)``: nextBatch() in a loop, ending on close."""
        limit = checkCount(maxCount, "maxCount")
        self._reading = True
        return Batches(self, limit)

    def __aiter__(self) -> Mailbox[T]:
        self._reading = True
        return self

    def __anext__(self) -> Deferred[T]:
        """Like next(), but closing ends the ``async for`` instead of raising."""
        return self._wait(_IterationWaiter, 0, iterating=True)

    def statistics(self) -> QueueStatistics:
        """A snapshot: queued, peak, dropped, waiting, and the limits."""
        return self._buffer.statistics(waiting=self._waiters.live())

    @property
    def closed(self) -> bool:
        """True once nothing new will ever arrive."""
        return self._closedBy is not None

    def _wait(self, kind: type[Deferred[Any]], limit: int, *, iterating: bool) -> Deferred[Any]:
        """The one way to read: at once from the queue, else a waiter of *kind*."""
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
        waiters = self._waiters  # Waiters.add(), inlined: one call less per message
        waiters.append(waiter)
        if len(waiters) >= waiters.sweepAt:
            waiters.sweep()
        return waiter

    # -- the owner's side --------------------------------------------------------

    def _put(self, item: T) -> bool:  # noqa: C901 - the hot path, inlined on purpose
        """
        Deliver *item* to the oldest waiter or queue it; never raises.

        Returns True when it ran a consumer's callbacks (which may have changed
        anything, so the caller re-reads whatever it cached).
        """
        items = self._items
        if self._flushPending:
            # A nextBatch() heads the waiters and its flush is due: until then
            # everything queues for it (the batch consumer's fast path).
            if len(items) < self._maxQueued:
                items.append(item)
            elif self._buffer.push(item):
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
            fire(waiter, item, self._what)
            return True
        if self._closedBy is not None:  # closed by a consumer earlier in this batch
            return False
        if len(items) < self._maxQueued:
            items.append(item)
        elif self._buffer.push(item):
            self._overflowed()
        if waiters and not self._flushPending:
            self._flushPending = True
            self._onFlush(self)
            return not self._flushPending  # flushed at once: consumers' callbacks ran
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
                fire(waiter, buffer.popMany(waiter.limit), self._what)
            else:
                fire(waiter, buffer.pop(), self._what)
        if self._holding:
            self._releaseIfDrained()

    def _peek(self) -> T | None:
        """The oldest queued item, left in place; for owners that consume synchronously."""
        return self._items[0] if self._items else None

    def _take(self) -> T:
        """Remove and return the oldest queued item; IndexError when empty."""
        item = self._buffer.pop()
        if self._holding:
            self._releaseIfDrained()
        return item

    def _close(self, reason: Exception, *, discard: bool) -> list[T]:
        """
        Close with *reason* (rule 4), once; later calls do nothing.

        Returns what *discard* dropped from the queue, for owners whose items
        carry Deferreds of their own.
        """
        if self._closedBy is not None:
            return []
        self._closedBy = reason
        dropped: list[T] = []
        if discard:
            dropped = list(self._items)
            self._buffer.clear()
            self._flushPending = False
        else:
            self._flush()  # waiters first get what was already queued for them
        if self._holding:  # a closed mailbox must not keep the reader paused
            self._holding = False
            self._onReadable(self)
        waiters = [waiter for waiter in self._waiters if not waiter.called]
        self._waiters.clear()
        for waiter in waiters:
            iterating = type(waiter) is _IterationWaiter or getattr(waiter, "iterating", False)
            waiter.errback(StopAsyncIteration() if iterating else reason)
        return dropped

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
                "The queue of {what} is full ({maxQueued} queued); applying the {policy} "
                "overflow policy. Read it faster, or raise maxQueued.",
                what=self._what,
                maxQueued=buffer.maxQueued,
                policy=buffer.overflow.value,
            )
