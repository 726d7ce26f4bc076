"""
Mailbox: the one bounded queue read with Deferreds, run synchronously.

The first half pins each rule of ``txzpub._mailbox`` with a SynchronousTestCase
and a Clock. The second half runs random programs of owner and consumer steps
(puts, reads of every kind, cancels, timeouts, flushes, closes) and checks
after every step that each item put is delivered once, still queued, dropped
and counted, or discarded by a close, and nothing else.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from twisted.internet.defer import CancelledError, Deferred, ensureDeferred
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from txzpub import ConnectionClosed, OverflowPolicy, ReceiveTimeout, TxzpubError
from txzpub._core._buffer import DEFAULT_MAX_QUEUED, DEFAULT_OVERFLOW
from txzpub._mailbox import DEFAULT_BATCH_LIMIT, Mailbox

from .mailbox_strategies import (
    Advance,
    AsyncBatch,
    AsyncNext,
    Cancel,
    Close,
    Flush,
    Next,
    NextBatch,
    Put,
    Step,
    bounds,
    mailboxPrograms,
)
from .strategies import overflowPolicies

WHAT = "tag b'news'"


def exactly(text: str) -> str:
    return f"^{re.escape(text)}$"


@attrs.define
class Owner:
    """A mailbox and the owner hooks it called, in order."""

    mailbox: Mailbox[int]
    clock: Clock
    calls: list[str]


def owned(
    maxQueued: int = 10,
    overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
    *,
    flushing: bool = True,
) -> Owner:
    """
    A Mailbox[int] whose hooks are recorded; with *flushing*, the test plays
    the owner that flushes at the end of a read batch, else it has no onFlush.
    """
    calls: list[str] = []
    clock = Clock()
    mailbox: Mailbox[int] = Mailbox._create(
        what=WHAT,
        clock=clock,
        maxQueued=maxQueued,
        overflow=overflow,
        onFull=lambda m: calls.append("full"),
        onReadable=lambda m: calls.append("readable"),
        onFlush=(lambda m: calls.append("flush")) if flushing else None,
    )
    return Owner(mailbox, clock, calls)


def captureLog(case: SynchronousTestCase) -> list[dict[str, Any]]:
    """Every twisted.logger event emitted until *case* ends."""
    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    case.addCleanup(globalLogPublisher.removeObserver, events.append)
    return events


def fullWarnings(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in events if "is full" in str(event.get("log_format", ""))]


class ConstructionTests(SynchronousTestCase):
    def test_noPublicConstructor(self) -> None:
        """Only its owner builds a mailbox: one a user built would never receive anything."""
        with self.assertRaisesRegex(
            TypeError, r"^txzpub\._mailbox\.Mailbox cannot be constructed"
        ):
            Mailbox(what=WHAT, clock=Clock())

    def test_defaults(self) -> None:
        mailbox: Mailbox[int] = Mailbox._create(what=WHAT)
        stats = mailbox.statistics()
        self.assertEqual(
            (stats.queued, stats.peak, stats.dropped, stats.waiting),
            (0, 0, 0, 0),
        )
        self.assertEqual((stats.maxQueued, stats.overflow), (DEFAULT_MAX_QUEUED, DEFAULT_OVERFLOW))
        self.assertFalse(mailbox.closed)
        self.assertFalse(mailbox._buffer.full)
        self.assertEqual(DEFAULT_BATCH_LIMIT, 1000)

    def test_boundValidated(self) -> None:
        with pytest.raises(ValueError, match=exactly("maxQueued must be >= 1, not 0 (int)")):
            Mailbox._create(what=WHAT, maxQueued=0)
        with pytest.raises(TypeError, match=exactly("maxQueued must be an int, not True (bool)")):
            Mailbox._create(what=WHAT, maxQueued=True)

    def test_unreadUntilRead(self) -> None:
        """Rule 7: owners with a callback consumer skip a mailbox nobody has read."""
        for read in (
            lambda m: m.next(),
            lambda m: m.nextBatch(),
            lambda m: m.batches(),
            lambda m: m.__aiter__(),
        ):
            mailbox = owned().mailbox
            self.assertFalse(mailbox._reading)
            waiting = read(mailbox)
            self.assertTrue(mailbox._reading)
            if isinstance(waiting, Deferred):
                waiting.cancel()
                self.failureResultOf(waiting, CancelledError)


class NextTests(SynchronousTestCase):
    def test_queuedReturnedAtOnceInOrder(self) -> None:
        mailbox = owned().mailbox
        for n in range(3):
            self.assertFalse(mailbox._put(n))
        self.assertEqual([self.successResultOf(mailbox.next()) for _ in range(3)], [0, 1, 2])
        self.assertEqual(mailbox.statistics().queued, 0)

    def test_waiterGetsTheNextItem(self) -> None:
        mailbox = owned().mailbox
        d = mailbox.next()
        self.assertNoResult(d)
        self.assertEqual(mailbox.statistics().waiting, 1)
        self.assertTrue(mailbox._put(7))  # it ran the consumer's callbacks
        self.assertEqual(self.successResultOf(d), 7)
        self.assertEqual(mailbox.statistics().waiting, 0)

    def test_waitersServedInOrderThenQueue(self) -> None:
        mailbox = owned().mailbox
        first, second = mailbox.next(), mailbox.next()
        for n in range(4):
            mailbox._put(n)
        self.assertEqual((self.successResultOf(first), self.successResultOf(second)), (0, 1))
        self.assertEqual(mailbox.statistics().queued, 2)
        self.assertEqual(self.successResultOf(mailbox.next()), 2)

    def test_callbackReadingAgainKeepsOrder(self) -> None:
        """A consumer that calls next() from its callback queues behind older waiters."""
        mailbox = owned().mailbox
        got: list[tuple[str, int]] = []
        first = mailbox.next()

        def again(item: int) -> None:
            got.append(("first", item))
            mailbox.next().addCallback(lambda later: got.append(("again", later)))

        first.addCallback(again)
        second = mailbox.next()
        second.addCallback(lambda item: got.append(("second", item)))
        for n in range(3):
            mailbox._put(n)
        self.assertEqual(got, [("first", 0), ("second", 1), ("again", 2)])


class CancelTests(SynchronousTestCase):
    def test_cancelFirstOfTwoLosesNothing(self) -> None:
        """Style rule 6: the item skips the cancelled waiter and reaches the second."""
        mailbox = owned().mailbox
        first, second = mailbox.next(), mailbox.next()
        first.cancel()
        self.failureResultOf(first, CancelledError)
        self.assertEqual(mailbox.statistics().waiting, 1)
        mailbox._put(1)
        self.assertEqual(self.successResultOf(second), 1)

    def test_cancelOnlyWaiterKeepsItemQueued(self) -> None:
        mailbox = owned().mailbox
        d = mailbox.next()
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertFalse(mailbox._put(1))
        self.assertEqual(mailbox.statistics().queued, 1)
        self.assertEqual(self.successResultOf(mailbox.next()), 1)

    def test_cancelAfterFiringIsHarmless(self) -> None:
        mailbox = owned().mailbox
        d = mailbox.next()
        mailbox._put(1)
        d.cancel()
        self.assertEqual(self.successResultOf(d), 1)

    def test_cancelledBatchLeavesItsItemsToTheNextReader(self) -> None:
        owner = owned()
        mailbox = owner.mailbox
        batch = mailbox.nextBatch()
        mailbox._put(0)
        single = mailbox.next()  # behind the batch, which the flush is due to serve
        batch.cancel()
        self.failureResultOf(batch, CancelledError)
        mailbox._flush()
        self.assertEqual(self.successResultOf(single), 0)
        self.assertEqual(owner.calls, ["flush"])

    def test_manyCancelledWaitersStayBounded(self) -> None:
        """A loop of cancelled reads does not grow the mailbox (Waiters sweeps them)."""
        mailbox = owned().mailbox
        for _ in range(1000):
            d = mailbox.next()
            d.cancel()
            self.failureResultOf(d, CancelledError)
        self.assertLess(len(mailbox._waiters), 100)
        self.assertEqual(mailbox.statistics().waiting, 0)
        mailbox._put(1)
        self.assertEqual(self.successResultOf(mailbox.next()), 1)


class TimeoutTests(SynchronousTestCase):
    def timedOutMessage(self, seconds: str) -> str:
        return (
            f"nothing arrived for {WHAT} within {seconds} s; no message is lost: "
            "call again to keep waiting"
        )

    def test_timesOutWithReceiveTimeout(self) -> None:
        owner = owned()
        d = owner.mailbox.next(timeout=2)
        owner.clock.advance(1.999)
        self.assertNoResult(d)
        owner.clock.advance(0.001)
        failure = self.failureResultOf(d, ReceiveTimeout)
        self.assertIsInstance(failure.value, TimeoutError)
        self.assertIsInstance(failure.value, TxzpubError)
        self.assertRegex(str(failure.value), exactly(self.timedOutMessage("2")))
        self.assertEqual(owner.mailbox.statistics().waiting, 0)

    def test_itemAfterTimeoutStaysQueued(self) -> None:
        """Rule 3: the item that arrives late is not lost; the next reader gets it."""
        owner = owned()
        d = owner.mailbox.next(timeout=1.5)
        owner.clock.advance(1.5)
        self.failureResultOf(d, ReceiveTimeout)
        owner.mailbox._put(1)
        self.assertEqual(owner.mailbox.statistics().queued, 1)
        self.assertEqual(self.successResultOf(owner.mailbox.next()), 1)

    def test_itemAfterTimeoutGoesToTheNextWaiter(self) -> None:
        owner = owned()
        timed = owner.mailbox.next(timeout=1)
        patient = owner.mailbox.next()
        owner.clock.advance(1)
        self.failureResultOf(timed, ReceiveTimeout)
        owner.mailbox._put(1)
        self.assertEqual(self.successResultOf(patient), 1)

    def test_timerCancelledWhenItemArrivesFirst(self) -> None:
        owner = owned()
        d = owner.mailbox.next(timeout=5)
        self.assertEqual(len(owner.clock.getDelayedCalls()), 1)
        owner.mailbox._put(1)
        self.assertEqual(self.successResultOf(d), 1)
        self.assertEqual(owner.clock.getDelayedCalls(), [])

    def test_queuedItemNeedsNoTimer(self) -> None:
        owner = owned()
        owner.mailbox._put(1)
        self.assertEqual(self.successResultOf(owner.mailbox.next(timeout=5)), 1)
        self.assertEqual(owner.clock.getDelayedCalls(), [])

    def test_zeroTimeoutExpiresOnTheNextTurn(self) -> None:
        owner = owned()
        d = owner.mailbox.next(timeout=0)
        self.assertNoResult(d)
        owner.clock.advance(0)
        failure = self.failureResultOf(d, ReceiveTimeout)
        self.assertRegex(str(failure.value), exactly(self.timedOutMessage("0")))

    def test_cancelBeforeTimeoutIsACancel(self) -> None:
        """Only the deadline turns a cancel into ReceiveTimeout; the user's own cancel stays one."""
        owner = owned()
        d = owner.mailbox.next(timeout=5)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(owner.clock.getDelayedCalls(), [])

    def test_closedMailboxFailsAtOnceWithoutATimer(self) -> None:
        owner = owned()
        owner.mailbox._close(ConnectionClosed(), discard=True)
        self.failureResultOf(owner.mailbox.next(timeout=5), ConnectionClosed)
        self.assertEqual(owner.clock.getDelayedCalls(), [])

    def test_timeoutValidated(self) -> None:
        """The wrong type is a TypeError, a wrong value a ValueError, as for every limit."""
        mailbox = owned().mailbox
        cases: list[tuple[object, type[Exception], str]] = [
            ("1", TypeError, "timeout must be a number of seconds (int or float), not '1' (str)"),
            (
                True,
                TypeError,
                "timeout must be a number of seconds (int or float), not True (bool)",
            ),
            (-1, ValueError, "timeout must be a finite number of seconds >= 0, not -1 (int)"),
            (
                float("inf"),
                ValueError,
                "timeout must be a finite number of seconds >= 0, not inf (float)",
            ),
            (
                float("nan"),
                ValueError,
                "timeout must be a finite number of seconds >= 0, not nan (float)",
            ),
        ]
        for read in (mailbox.next, mailbox.nextBatch):
            for timeout, error, message in cases:
                with pytest.raises(error, match=exactly(message)):
                    read(timeout=timeout)  # type: ignore[arg-type]

    def test_rejectedTimeoutLeavesNoWaiter(self) -> None:
        """A read refused for its timeout leaves no waiter behind to eat the next item."""
        for read in ("next", "nextBatch"):
            mailbox = owned().mailbox
            with pytest.raises(TypeError):
                getattr(mailbox, read)(timeout="1")
            self.assertEqual(mailbox.statistics().waiting, 0, read)
            mailbox._put(1)
            self.assertEqual(self.successResultOf(mailbox.next()), 1, read)

    def test_rejectedTimeoutLosesNoQueuedItem(self) -> None:
        """A read refused for its timeout takes nothing from the queue."""
        for read in ("next", "nextBatch"):
            mailbox = owned().mailbox
            mailbox._put(1)
            mailbox._put(2)
            with pytest.raises(ValueError, match="timeout"):
                getattr(mailbox, read)(timeout=-1)
            self.assertEqual(mailbox.statistics().queued, 2, read)

    def test_nextBatchTimesOut(self) -> None:
        owner = owned()
        d = owner.mailbox.nextBatch(5, timeout=3)
        owner.clock.advance(3)
        failure = self.failureResultOf(d, ReceiveTimeout)
        self.assertRegex(str(failure.value), exactly(self.timedOutMessage("3")))

    def test_nextBatchServedBeforeItsTimeout(self) -> None:
        owner = owned()
        d = owner.mailbox.nextBatch(5, timeout=3)
        owner.mailbox._put(0)
        owner.mailbox._put(1)
        owner.clock.advance(1)
        owner.mailbox._flush()
        self.assertEqual(self.successResultOf(d), [0, 1])
        self.assertEqual(owner.clock.getDelayedCalls(), [])

    def test_batchTimingOutBeforeTheFlushLeavesItsItemsQueued(self) -> None:
        owner = owned()
        d = owner.mailbox.nextBatch(5, timeout=1)
        owner.mailbox._put(0)
        owner.clock.advance(1)
        self.failureResultOf(d, ReceiveTimeout)
        owner.mailbox._flush()
        self.assertEqual(self.successResultOf(owner.mailbox.nextBatch()), [0])


class BatchTests(SynchronousTestCase):
    def test_queuedReturnedAtOnceUpToTheLimit(self) -> None:
        mailbox = owned().mailbox
        for n in range(5):
            mailbox._put(n)
        self.assertEqual(self.successResultOf(mailbox.nextBatch(3)), [0, 1, 2])
        self.assertEqual(self.successResultOf(mailbox.nextBatch()), [3, 4])

    def test_waitingBatchServedOnFlushWithEverything(self) -> None:
        """Rule 2: one Deferred per read batch, and the owner is asked once per batch."""
        owner = owned()
        d = owner.mailbox.nextBatch(10)
        for n in range(4):
            self.assertFalse(owner.mailbox._put(n))
        self.assertNoResult(d)
        self.assertEqual(owner.calls, ["flush"])
        owner.mailbox._flush()
        self.assertEqual(self.successResultOf(d), [0, 1, 2, 3])
        # The next batch asks again, once.
        d = owner.mailbox.nextBatch(10)
        owner.mailbox._put(4)
        owner.mailbox._put(5)
        self.assertEqual(owner.calls, ["flush", "flush"])
        owner.mailbox._flush()
        self.assertEqual(self.successResultOf(d), [4, 5])

    def test_withoutOnFlushServedAtOnce(self) -> None:
        mailbox = owned(flushing=False).mailbox
        d = mailbox.nextBatch(10)
        mailbox._put(0)
        self.assertEqual(self.successResultOf(d), [0])

    def test_limitLeavesTheRestForTheNextWaiter(self) -> None:
        owner = owned()
        batch = owner.mailbox.nextBatch(2)
        single = owner.mailbox.next()
        for n in range(4):
            owner.mailbox._put(n)
        owner.mailbox._flush()
        self.assertEqual(self.successResultOf(batch), [0, 1])
        self.assertEqual(self.successResultOf(single), 2)
        self.assertEqual(owner.mailbox.statistics().queued, 1)

    def test_limitValidated(self) -> None:
        mailbox = owned().mailbox
        with pytest.raises(ValueError, match=exactly("maxCount must be >= 1, not 0 (int)")):
            mailbox.nextBatch(0)
        with pytest.raises(TypeError, match=exactly("maxCount must be an int, not '2' (str)")):
            mailbox.nextBatch("2")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=exactly("maxCount must be >= 1, not 0 (int)")):
            mailbox.batches(0)
        self.assertEqual(mailbox.statistics().waiting, 0)

    def test_asyncForBatches(self) -> None:
        owner = owned(flushing=False)
        batches: list[list[int]] = []

        async def consume() -> str:
            async for batch in owner.mailbox.batches(2):
                batches.append(batch)
            return "ended"

        for n in range(3):
            owner.mailbox._put(n)
        done = ensureDeferred(consume())
        owner.mailbox._put(3)
        self.assertNoResult(done)
        owner.mailbox._close(ConnectionClosed(), discard=False)
        self.assertEqual(self.successResultOf(done), "ended")
        self.assertEqual(batches, [[0, 1], [2], [3]])


class CloseTests(SynchronousTestCase):
    def test_discardDropsQueueAndFailsWaiters(self) -> None:
        mailbox = owned().mailbox
        for n in range(3):
            mailbox._put(n)
        reason = ConnectionClosed("bye")
        self.assertEqual(mailbox._close(reason, discard=True), [0, 1, 2])
        self.assertTrue(mailbox.closed)
        self.assertEqual(mailbox.statistics().queued, 0)
        self.assertIs(self.failureResultOf(mailbox.next(), ConnectionClosed).value, reason)
        self.failureResultOf(mailbox.nextBatch(), ConnectionClosed)

    def test_closeFailsEveryWaiter(self) -> None:
        mailbox = owned().mailbox
        waiting = [mailbox.next(), mailbox.nextBatch(), mailbox.next(timeout=3)]
        reason = ConnectionClosed("bye")
        mailbox._close(reason, discard=False)
        for d in waiting:
            self.assertIs(self.failureResultOf(d, ConnectionClosed).value, reason)
        self.assertEqual(mailbox.statistics().waiting, 0)

    def test_keptQueueReadThenFails(self) -> None:
        """Rule 4: a close that keeps the queue lets it be read, then fails at once."""
        mailbox = owned().mailbox
        for n in range(3):
            mailbox._put(n)
        self.assertEqual(mailbox._close(ConnectionClosed("bye"), discard=False), [])
        self.assertTrue(mailbox.closed)
        self.assertEqual(self.successResultOf(mailbox.next()), 0)
        self.assertEqual(self.successResultOf(mailbox.nextBatch()), [1, 2])
        self.failureResultOf(mailbox.next(), ConnectionClosed)

    def test_keptQueueServesWaitersFirst(self) -> None:
        """Items already queued for a waiting batch reach it before the close fails the rest."""
        owner = owned()
        batch = owner.mailbox.nextBatch(2)
        single, last = owner.mailbox.next(), owner.mailbox.next()
        for n in range(3):
            owner.mailbox._put(n)
        owner.mailbox._close(ConnectionClosed(), discard=False)
        self.assertEqual(self.successResultOf(batch), [0, 1])
        self.assertEqual(self.successResultOf(single), 2)
        self.failureResultOf(last, ConnectionClosed)

    def test_discardFailsAWaitingBatch(self) -> None:
        owner = owned()
        batch = owner.mailbox.nextBatch()
        owner.mailbox._put(0)
        self.assertEqual(owner.mailbox._close(ConnectionClosed(), discard=True), [0])
        self.failureResultOf(batch, ConnectionClosed)
        owner.mailbox._flush()  # the flush it asked for comes late: harmless

    def test_closeTwiceKeepsTheFirst(self) -> None:
        mailbox = owned().mailbox
        mailbox._put(0)
        first = ConnectionClosed("first")
        self.assertEqual(mailbox._close(first, discard=False), [])
        self.assertEqual(mailbox._close(ConnectionClosed("second"), discard=True), [])
        self.assertEqual(self.successResultOf(mailbox.next()), 0)
        self.assertIs(self.failureResultOf(mailbox.next(), ConnectionClosed).value, first)

    def test_putAfterCloseIsRefused(self) -> None:
        """Closed means nothing new will arrive: a late put is not queued or delivered."""
        mailbox = owned().mailbox
        mailbox._close(ConnectionClosed(), discard=False)
        self.assertFalse(mailbox._put(0))
        self.assertEqual(mailbox.statistics().queued, 0)

    def test_asyncForEndsOnClose(self) -> None:
        mailbox = owned().mailbox
        received: list[int] = []

        async def consume() -> str:
            async for item in mailbox:
                received.append(item)
            return "ended"

        mailbox._put(0)
        done = ensureDeferred(consume())
        mailbox._put(1)
        self.assertNoResult(done)
        mailbox._close(ConnectionClosed(), discard=True)
        self.assertEqual(self.successResultOf(done), "ended")
        self.assertEqual(received, [0, 1])

    def test_asyncForReadsAKeptQueueThenEnds(self) -> None:
        mailbox = owned().mailbox
        for n in range(3):
            mailbox._put(n)
        mailbox._close(ConnectionClosed(), discard=False)
        received: list[int] = []

        async def consume() -> None:
            async for item in mailbox:
                received.append(item)

        self.successResultOf(ensureDeferred(consume()))
        self.assertEqual(received, [0, 1, 2])

    def test_anextAfterCloseStops(self) -> None:
        mailbox = owned().mailbox
        mailbox._close(ConnectionClosed(), discard=True)
        self.failureResultOf(mailbox.__aiter__().__anext__(), StopAsyncIteration)
        self.failureResultOf(mailbox.batches(3).__anext__(), StopAsyncIteration)


class PauseTests(SynchronousTestCase):
    def test_fullOnceThenReadableAtHalf(self) -> None:
        """Rule 6: PAUSE drops nothing, asks for a pause once, and releases at half."""
        owner = owned(maxQueued=4, overflow=OverflowPolicy.PAUSE)
        mailbox = owner.mailbox
        for n in range(4):
            mailbox._put(n)
        self.assertTrue(mailbox._buffer.full)
        self.assertEqual(owner.calls, [])
        mailbox._put(4)
        mailbox._put(5)
        self.assertEqual(owner.calls, ["full"])
        self.assertEqual((mailbox.statistics().queued, mailbox.statistics().dropped), (6, 0))
        for n in range(3):
            self.assertEqual(self.successResultOf(mailbox.next()), n)
        self.assertEqual(owner.calls, ["full"])  # 3 queued: more than half of 4
        self.assertEqual(self.successResultOf(mailbox.next()), 3)
        self.assertEqual(owner.calls, ["full", "readable"])
        self.assertFalse(mailbox._buffer.full)

    def test_boundOfOneDrainsToEmpty(self) -> None:
        owner = owned(maxQueued=1, overflow=OverflowPolicy.PAUSE)
        owner.mailbox._put(0)
        owner.mailbox._put(1)
        self.assertEqual(owner.calls, ["full"])
        self.successResultOf(owner.mailbox.next())
        self.assertEqual(owner.calls, ["full"])
        self.successResultOf(owner.mailbox.next())
        self.assertEqual(owner.calls, ["full", "readable"])

    def test_releasedByEveryWayOut(self) -> None:
        """next(), nextBatch(), a flush to waiters and _take() all release the pause."""

        def byBatch(owner: Owner) -> None:
            self.successResultOf(owner.mailbox.nextBatch(2))

        def byTake(owner: Owner) -> None:
            owner.mailbox._take()
            owner.mailbox._take()

        def byFlush(owner: Owner) -> None:
            # A batch waiter made while the flush is due waits behind nothing.
            owner.mailbox.nextBatch(1).addCallback(lambda _: None)
            owner.mailbox._flush()
            self.successResultOf(owner.mailbox.next())

        for drain in (byBatch, byTake, byFlush):
            owner = owned(maxQueued=2, overflow=OverflowPolicy.PAUSE)
            for n in range(3):
                owner.mailbox._put(n)
            self.assertEqual(owner.calls, ["full"])
            drain(owner)
            self.assertEqual(owner.calls, ["full", "readable"], drain.__name__)

    def test_closeReleases(self) -> None:
        for discard in (True, False):
            owner = owned(maxQueued=1, overflow=OverflowPolicy.PAUSE)
            owner.mailbox._put(0)
            owner.mailbox._put(1)
            owner.mailbox._close(ConnectionClosed(), discard=discard)
            self.assertEqual(owner.calls, ["full", "readable"])

    def test_closeWithoutPauseCallsNothing(self) -> None:
        owner = owned(maxQueued=1, overflow=OverflowPolicy.PAUSE)
        owner.mailbox._put(0)
        owner.mailbox._close(ConnectionClosed(), discard=False)
        self.assertEqual(owner.calls, [])

    def test_dropPoliciesNeverPause(self) -> None:
        for policy in (OverflowPolicy.DROP_OLDEST, OverflowPolicy.DROP_NEWEST):
            owner = owned(maxQueued=2, overflow=policy)
            for n in range(5):
                owner.mailbox._put(n)
            self.assertEqual(owner.calls, [])
            self.assertEqual(owner.mailbox.statistics().dropped, 3)

    def test_dropOldestKeepsTheNewest(self) -> None:
        mailbox = owned(maxQueued=2).mailbox
        for n in range(5):
            mailbox._put(n)
        self.assertEqual(self.successResultOf(mailbox.nextBatch()), [3, 4])

    def test_dropNewestKeepsTheOldest(self) -> None:
        mailbox = owned(maxQueued=2, overflow=OverflowPolicy.DROP_NEWEST).mailbox
        for n in range(5):
            mailbox._put(n)
        self.assertEqual(self.successResultOf(mailbox.nextBatch()), [0, 1])

    def test_overflowWhileAFlushIsDue(self) -> None:
        """Items that queue for a waiting batch obey the bound and policy too."""
        owner = owned(maxQueued=2)
        d = owner.mailbox.nextBatch()
        for n in range(4):
            owner.mailbox._put(n)
        self.assertEqual(owner.mailbox.statistics().dropped, 2)
        owner.mailbox._flush()
        self.assertEqual(self.successResultOf(d), [2, 3])


class OverflowLogTests(SynchronousTestCase):
    def test_firstOverflowLoggedOnce(self) -> None:
        events = captureLog(self)
        for policy in OverflowPolicy:
            events.clear()
            owner = owned(maxQueued=2, overflow=policy)
            for n in range(10):
                owner.mailbox._put(n)
            [warning] = fullWarnings(events)
            self.assertEqual(
                (warning["what"], warning["maxQueued"], warning["policy"]),
                (WHAT, 2, policy.value),
            )
            self.assertEqual(warning["log_level"].name, "warn")

    def test_noOverflowNoWarning(self) -> None:
        events = captureLog(self)
        owner = owned(maxQueued=2)
        owner.mailbox._put(0)
        owner.mailbox._put(1)
        self.assertEqual(fullWarnings(events), [])


class ConsumerErrorTests(SynchronousTestCase):
    def test_raisingCallbackLoggedAndNextItemDelivered(self) -> None:
        """Rule 5: the error is logged (once) and consumed; the owner carries on."""
        events = captureLog(self)
        mailbox = owned().mailbox
        d = mailbox.next()
        d.addCallback(lambda _: 1 / 0)
        self.assertTrue(mailbox._put(0))  # no exception reaches the owner
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        failures = [event for event in events if "log_failure" in event]
        self.assertEqual([event["what"] for event in failures], [WHAT])
        self.assertIsNone(self.successResultOf(d))  # consumed: no "Unhandled error"
        later = mailbox.next()
        mailbox._put(1)
        self.assertEqual(self.successResultOf(later), 1)

    def test_raisingBatchConsumerDoesNotStopTheFlush(self) -> None:
        owner = owned()
        batch = owner.mailbox.nextBatch(1)
        batch.addCallback(lambda _: 1 / 0)
        single = owner.mailbox.next()
        owner.mailbox._put(0)
        owner.mailbox._put(1)
        owner.mailbox._flush()
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(self.successResultOf(single), 1)

    def test_handledErrorNotLogged(self) -> None:
        mailbox = owned().mailbox
        d = mailbox.next()
        d.addCallback(lambda _: 1 / 0)
        d.addErrback(lambda _: "handled")
        mailbox._put(0)
        self.assertEqual(self.flushLoggedErrors(ZeroDivisionError), [])
        self.assertEqual(self.successResultOf(d), "handled")


class SynchronousOwnerTests(SynchronousTestCase):
    def test_peekAndTake(self) -> None:
        mailbox = owned().mailbox
        self.assertIsNone(mailbox._peek())
        mailbox._put(0)
        mailbox._put(1)
        self.assertEqual(mailbox._peek(), 0)
        self.assertEqual(mailbox.statistics().queued, 2)  # peek leaves it in place
        self.assertEqual(mailbox._take(), 0)
        self.assertEqual(mailbox._peek(), 1)
        self.assertEqual(mailbox._take(), 1)
        self.assertIsNone(mailbox._peek())
        with pytest.raises(IndexError):
            mailbox._take()

    def test_statistics(self) -> None:
        mailbox = owned(maxQueued=3, overflow=OverflowPolicy.DROP_NEWEST).mailbox
        waiting = [mailbox.next(), mailbox.next()]
        waiting[0].cancel()
        self.failureResultOf(waiting[0], CancelledError)
        self.assertEqual(mailbox.statistics().waiting, 1)
        for n in range(6):
            mailbox._put(n)
        stats = mailbox.statistics()
        self.assertEqual(
            (stats.queued, stats.peak, stats.dropped, stats.waiting, stats.maxQueued),
            (3, 3, 2, 0, 3),
        )
        self.assertIs(stats.overflow, OverflowPolicy.DROP_NEWEST)
        self.assertTrue(mailbox._buffer.full)


# -- random programs -------------------------------------------------------------

_runs = itertools.count()


@attrs.define(eq=False)
class Reader:
    """One Deferred a program's consumer was handed, and what became of it."""

    number: int
    kind: str  # "next", "batch", "anext" (async for) or "abatch" (async for ... batches())
    limit: int
    timeout: float | None
    startedAt: float
    deferred: Deferred[Any] = attrs.field(init=False)
    got: list[int] | None = None
    failure: Failure | None = None
    results: int = 0
    cancelled: bool = False
    timedOut: bool = False

    @property
    def iterating(self) -> bool:
        return self.kind in {"anext", "abatch"}


class Run:
    """A program run against one Mailbox, with the bookkeeping its invariants need."""

    def __init__(self, policy: OverflowPolicy, bound: int, *, flushing: bool) -> None:
        self.policy, self.bound, self.flushing = policy, bound, flushing
        self.clock = Clock()
        self.what = f"mailbox #{next(_runs)}"
        self.mailbox: Mailbox[int] = Mailbox._create(
            what=self.what,
            clock=self.clock,
            maxQueued=bound,
            overflow=policy,
            onFull=self.onFull,
            onReadable=self.onReadable,
            onFlush=self.onFlush if flushing else None,
        )
        self.reason = ConnectionClosed("closed by the program")
        self.puts = 0
        self.delivered: list[int] = []  # in the order consumers received them
        self.discarded: list[int] = []  # returned by _close(discard=True)
        self.refused: list[int] = []  # put after the close
        self.readers: list[Reader] = []
        self.callbackErrors: list[BaseException] = []
        self.flushDue = False
        self.paused = False
        self.pauses = 0
        self.closed = False

    # -- the owner's hooks

    def onFull(self, mailbox: object) -> None:
        assert self.policy is OverflowPolicy.PAUSE, "only PAUSE pauses the reader"
        assert not self.paused, "onFull twice without onReadable"
        assert len(self.mailbox._items) > self.bound, "onFull before the bound was passed"
        self.paused = True
        self.pauses += 1

    def onReadable(self, mailbox: object) -> None:
        assert self.paused, "onReadable without onFull"
        if not self.mailbox.closed:
            assert len(self.mailbox._items) <= self.bound // 2, "onReadable before half drained"
        self.paused = False

    def onFlush(self, mailbox: object) -> None:
        assert not self.flushDue, "asked twice for one flush"
        self.flushDue = True

    # -- the steps

    def run(self, step: Step) -> None:
        if isinstance(step, Put):
            for _ in range(step.count):
                self.put()
        elif isinstance(step, Next):
            self.read("next", 1, step.timeout, then=step.then)
        elif isinstance(step, NextBatch):
            self.read("batch", step.limit, step.timeout)
        elif isinstance(step, AsyncNext):
            self.read("anext", 1, None)
        elif isinstance(step, AsyncBatch):
            self.read("abatch", step.limit, None)
        elif isinstance(step, Cancel):
            self.cancel(step.pick)
        elif isinstance(step, Advance):
            self.advance(step.seconds)
        elif isinstance(step, Flush):
            self.flush()
        else:
            self.close(discard=step.discard)

    def put(self) -> None:
        item = self.puts
        self.puts += 1
        before, closed = self.results(), self.closed
        ranCallbacks = self.mailbox._put(item)
        if closed:
            self.refused.append(item)
            assert not ranCallbacks
        elif self.flushing:
            # With an owner that flushes, True means exactly "a consumer ran".
            assert ranCallbacks == (self.results() != before), (ranCallbacks, before)

    def read(self, kind: str, limit: int, timeout: float | None, *, then: str = "") -> Reader:
        reader = Reader(len(self.readers), kind, limit, timeout, self.clock.seconds())
        self.readers.append(reader)
        mailbox = self.mailbox
        if kind == "next":
            d: Deferred[Any] = mailbox.next(timeout)
        elif kind == "batch":
            d = mailbox.nextBatch(limit, timeout)
        elif kind == "anext":
            d = mailbox.__aiter__().__anext__()
        else:
            d = mailbox.batches(limit).__anext__()
        reader.deferred = d

        def gotItems(result: int | list[int]) -> None:
            reader.results += 1
            reader.got = result if isinstance(result, list) else [result]
            self.delivered.extend(reader.got)
            # What the consumer does next, from its callback: it re-enters the mailbox.
            # The mailbox logs and swallows what a callback raises (rule 5), so a
            # failed check in here is kept for check() to report.
            try:
                if then == "next":
                    self.read("next", 1, None)
                elif then == "cancel":
                    self.cancel(0)
                elif then:
                    self.close(discard=then == "discard")
            except BaseException as error:
                self.callbackErrors.append(error)
                raise

        def gotFailure(failure: Failure) -> None:
            reader.results += 1
            reader.failure = failure

        d.addCallbacks(gotItems, gotFailure)
        return reader

    def cancel(self, pick: int) -> None:
        """Cancel a waiting reader, or, if none waits, one that has fired (harmless)."""
        pending = [reader for reader in self.readers if not reader.deferred.called]
        if not pending:
            if self.readers:
                reader = self.readers[pick % len(self.readers)]
                reader.deferred.cancel()
                assert reader.results == 1
            return
        reader = pending[pick % len(pending)]
        reader.cancelled = True
        reader.deferred.cancel()
        assert reader.failure is not None
        assert reader.failure.check(CancelledError), reader.failure

    def advance(self, seconds: float) -> None:
        waiting = [reader for reader in self.readers if not reader.deferred.called]
        self.clock.advance(seconds)
        now = self.clock.seconds()
        for reader in waiting:
            if reader.timeout is not None and reader.startedAt + reader.timeout <= now:
                assert reader.failure is not None, reader
                assert reader.failure.check(ReceiveTimeout), reader.failure
                reader.timedOut = True
            else:
                assert not reader.deferred.called, reader

    def flush(self) -> None:
        """The owner's read batch ends: it flushes the mailbox if asked to."""
        if self.flushDue:
            self.flushDue = False
            self.mailbox._flush()

    def close(self, *, discard: bool) -> None:
        pending = [reader for reader in self.readers if not reader.deferred.called]
        discarded = self.mailbox._close(self.reason, discard=discard)
        if not discard and self.mailbox._items:
            # The queue it keeps went to the waiters first: the close failed none.
            assert not any(reader.failure and self.failedByClose(reader) for reader in pending)
        if self.closed:
            assert discarded == [], "a second close changes nothing"
            return
        self.closed = True
        self.flushDue = False
        self.discarded.extend(discarded)

    # -- the invariants

    def failedByClose(self, reader: Reader) -> bool:
        assert reader.failure is not None
        if reader.iterating:
            return reader.failure.check(StopAsyncIteration) is not None
        return reader.failure.value is self.reason

    def results(self) -> int:
        return sum(reader.results for reader in self.readers)

    def check(self) -> None:  # noqa: C901, PLR0912 - one invariant per branch
        if self.callbackErrors:
            raise self.callbackErrors[0]
        mailbox = self.mailbox
        stats = mailbox.statistics()
        queued = list(mailbox._items)
        assert stats.queued == len(queued)
        assert mailbox.closed == self.closed

        # Every item put is exactly one of: delivered once, queued, discarded by
        # the close, refused after it, or dropped by the policy and counted.
        accounted = self.delivered + queued + self.discarded + self.refused
        assert len(set(accounted)) == len(accounted), accounted
        assert set(accounted) <= set(range(self.puts))
        assert self.puts - len(accounted) == stats.dropped

        # FIFO: items leave in the order they came, and all before any still queued.
        assert self.delivered == sorted(self.delivered)
        assert queued == sorted(queued)
        if self.delivered and queued:
            assert self.delivered[-1] < queued[0]

        if self.policy is OverflowPolicy.PAUSE:
            assert stats.dropped == 0
            if self.paused:
                assert stats.queued > self.bound // 2, "paused although drained to half"
            elif not self.closed:  # a close releases the pause whatever is queued
                assert stats.queued <= self.bound
        else:
            assert stats.queued <= self.bound

        # Readers: each fired at most once, with what its state allows.
        pending = [reader for reader in self.readers if not reader.deferred.called]
        assert stats.waiting == len(pending)
        assert len(self.clock.getDelayedCalls()) == sum(
            reader.timeout is not None for reader in pending
        )
        for reader in self.readers:
            assert reader.results == int(reader.deferred.called), reader
            if reader.got is not None:
                assert not reader.cancelled, reader
                assert not reader.timedOut, reader
                assert 1 <= len(reader.got) <= reader.limit, reader
            elif reader.failure is not None:
                if reader.cancelled:
                    assert reader.failure.check(CancelledError), reader
                elif reader.timedOut:
                    assert reader.failure.check(ReceiveTimeout), reader
                else:
                    assert self.closed, reader
                    if reader.iterating:
                        assert reader.failure.check(StopAsyncIteration), reader
                    else:
                        assert reader.failure.value is self.reason, reader

        # Waiters are served in the order they started waiting.
        firsts = [reader.got[0] for reader in self.readers if reader.got]
        assert firsts == sorted(firsts), firsts

        if self.closed:
            assert not pending, "a closed mailbox keeps no waiter"
        if not self.flushDue:
            assert not (queued and pending), "an item waits while a reader waits"


#: How a program ends: its owner's read batch ends, or it closes the mailbox
#: mid-batch (a flush still due), keeping or discarding the queue.
ENDINGS = ("flush", "close", "discard")


def runProgram(
    program: list[Step],
    policy: OverflowPolicy,
    bound: int,
    *,
    flushing: bool,
    ending: str = "flush",
) -> Run:
    events: list[dict[str, Any]] = []
    observe: Callable[[dict[str, Any]], None] = events.append
    globalLogPublisher.addObserver(observe)
    try:
        run = Run(policy, bound, flushing=flushing)
        run.check()
        for step in program:
            run.run(step)
            run.check()
        if ending == "flush":
            run.flush()
        else:
            run.close(discard=ending == "discard")
        run.check()
        # Then everything still queued is read, each at once.
        while run.mailbox.statistics().queued:
            reader = run.read("next", 1, None)
            assert reader.got is not None, "a queued item is returned at once"
            run.check()
        run.close(discard=False)
        run.check()
    finally:
        globalLogPublisher.removeObserver(observe)
    assert all(reader.deferred.called for reader in run.readers)
    assert run.puts == len(run.delivered) + len(run.discarded) + len(run.refused) + (
        run.mailbox.statistics().dropped
    )
    # The first overflow, and only it, is logged.
    overflowed = run.mailbox.statistics().dropped > 0 or run.pauses > 0
    mine = [event for event in fullWarnings(events) if event.get("what") == run.what]
    assert len(mine) == int(overflowed)
    return run


def always(
    steps: list[Step],
    policy: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
    bound: int = 5,
    *,
    flushing: bool = True,
    ending: str = "flush",
) -> Any:
    """An interleaving the property always runs, whatever it draws."""
    return example(steps, policy, bound, flushing, ending)


@given(
    program=mailboxPrograms(),
    policy=overflowPolicies(),
    bound=bounds(),
    flushing=st.booleans(),
    ending=st.sampled_from(ENDINGS),
)
# A next() made while a batch waits for its flush must not jump the line.
@always([NextBatch(1, None), Put(2), Next(None), Flush()])
# A batch served at the flush takes no more than its limit.
@always([NextBatch(1, None), Put(3), Flush()])
# A close that keeps the queue serves the waiting batch before failing the rest.
@always([NextBatch(4, None), Next(None), Put(2)], ending="close")
# The item skips the cancelled first waiter.
@always([Next(None), Next(None), Cancel(0), Put(1)])
# PAUSE releases at half the bound, not before.
@always([Put(6), Next(None), Next(None)], OverflowPolicy.PAUSE, 4)
# A consumer closes the mailbox from its callback in the middle of a flush.
@always([NextBatch(1, None), Next(None, then="close"), Next(None), Put(3), Flush()])
# A consumer cancels the next waiter from its callback; the item after stays queued.
@always([Next(None, then="cancel"), Next(None), Put(2)], flushing=False)
def test_everyItemAccountedFor(
    program: list[Step], policy: OverflowPolicy, bound: int, flushing: bool, ending: str
) -> None:
    """Rules 1 to 6 over random interleavings of owner and consumer steps."""
    runProgram(program, policy, bound, flushing=flushing, ending=ending)


def test_programExample() -> None:
    """One program by hand, so a reader sees what the property runs."""
    run = runProgram(
        [
            NextBatch(2, 1.0),
            Put(1),
            Next(None, then="next"),
            Put(1),
            Put(1),
            Advance(1.0),
            Flush(),
            Put(1),
            Cancel(1),
            Put(1),
            Close(discard=False),
            Put(1),
        ],
        OverflowPolicy.DROP_OLDEST,
        bound=3,
        flushing=True,
    )
    # The batch timed out before its flush, so the next() got item 0 and, reading
    # again, item 1; the put after the close was refused.
    assert [reader.got for reader in run.readers[:3]] == [None, [0], [1]]
    assert run.readers[0].timedOut
    assert run.refused == [5]
    assert run.delivered == [0, 1, 2, 3, 4]
