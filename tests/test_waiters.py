"""
Waiters, fire() and deadline(): the rules every Deferred txzpub hands out follows.

Run synchronously: plain Deferreds, a Clock, and trial's check that nothing
was logged as an error unless the test flushed it.
"""

from __future__ import annotations

import gc
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from txzpub._waiters import _SWEEP_AT, Waiters, deadline, fire


class Expired(TimeoutError):
    """The caller's own timeout error, as deadline() users define one."""


def recording(waiters: Waiters, log: list[str], name: str) -> Deferred[Any]:
    """A waiter added to *waiters* that appends ``name=result`` to *log* when it fires."""
    d: Deferred[Any] = Deferred()
    d.addBoth(lambda result: log.append(f"{name}={result}"))
    return waiters.add(d)


class WaitersTests(SynchronousTestCase):
    def test_fifo(self) -> None:
        """Rule 1: served in the order they started waiting."""
        waiters = Waiters()
        first, second, third = (waiters.add(Deferred()) for _ in range(3))
        self.assertIs(waiters.popLive(), first)
        self.assertIs(waiters.popLive(), second)
        self.assertIs(waiters.popLive(), third)
        self.assertIsNone(waiters.popLive())

    def test_addReturnsTheWaiter(self) -> None:
        waiters = Waiters()
        d: Deferred[int] = Deferred()
        self.assertIs(waiters.add(d), d)
        self.assertEqual(list(waiters), [d])

    def test_cancelledSkippedLazily(self) -> None:
        """Rule 2: a cancel needs no canceller; the waiter is skipped when its turn comes."""
        waiters = Waiters()
        first, second = waiters.add(Deferred()), waiters.add(Deferred())
        first.cancel()
        self.failureResultOf(first, CancelledError)
        self.assertEqual(len(waiters), 2)  # still there ...
        self.assertEqual(waiters.live(), 1)  # ... but not waiting
        self.assertIs(waiters.popLive(), second)
        self.assertEqual(len(waiters), 0)

    def test_onlyCancelledMeansNone(self) -> None:
        waiters = Waiters()
        d = waiters.add(Deferred())
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertIsNone(waiters.popLive())
        self.assertEqual(len(waiters), 0)

    def test_loopOfCancelledWaitersStaysBounded(self) -> None:
        """Rule 2: a loop of timed-out calls does not grow the line without bound."""
        waiters = Waiters()
        alive = [waiters.add(Deferred()) for _ in range(3)]
        longest = 0
        for _ in range(1000):
            d = waiters.add(Deferred())
            d.cancel()
            self.failureResultOf(d, CancelledError)
            longest = max(longest, len(waiters))
        self.assertLessEqual(longest, _SWEEP_AT)
        self.assertEqual(waiters.live(), 3)
        # The sweep kept the live ones, in order.
        self.assertEqual([waiters.popLive() for _ in range(3)], alive)

    def test_manyLiveWaitersAreKept(self) -> None:
        """The sweep threshold grows with the live waiters, so none is ever dropped."""
        waiters = Waiters()
        alive = [waiters.add(Deferred()) for _ in range(500)]
        for _ in range(500):
            d = waiters.add(Deferred())
            d.cancel()
            self.failureResultOf(d, CancelledError)
        self.assertEqual(waiters.live(), 500)
        self.assertLessEqual(len(waiters), 2 * 500 + 1)
        self.assertEqual([waiter for waiter in waiters if not waiter.called], alive)

    def test_releaseFiresReadyInOrder(self) -> None:
        waiters = Waiters()
        log: list[str] = []
        a, b, c = (recording(waiters, log, name) for name in "abc")
        waiters.release(lambda waiter: waiter is not b, "go", "a test")
        self.assertEqual(log, ["a=go", "c=go"])
        self.assertEqual(list(waiters), [b])
        self.assertNoResult(b)
        self.assertEqual([self.successResultOf(a), self.successResultOf(c)], [None, None])

    def test_releaseKeepsOrderWhenACallbackAddsAWaiter(self) -> None:
        """The waiters a release kept are older than one a callback added during it."""
        waiters = Waiters()
        log: list[str] = []
        added: list[Deferred[Any]] = []
        first: Deferred[Any] = Deferred()
        first.addCallback(lambda _: added.append(waiters.add(Deferred())))
        waiters.add(first)
        kept = waiters.add(Deferred())
        last = recording(waiters, log, "last")
        waiters.release(lambda waiter: waiter is not kept, "go", "a test")
        self.assertEqual(log, ["last=go"])
        self.assertEqual(list(waiters), [kept, *added])
        self.assertEqual(len(added), 1)
        self.assertIsNone(self.successResultOf(last))

    def test_releaseSkipsAWaiterACallbackCancelled(self) -> None:
        waiters = Waiters()
        log: list[str] = []
        first: Deferred[Any] = Deferred()
        second = Deferred()
        first.addCallback(lambda _: second.cancel())
        waiters.add(first)
        waiters.add(second)
        second.addErrback(lambda failure: log.append(failure.type.__name__))
        waiters.release(lambda _: True, "go", "a test")  # no AlreadyCalledError
        self.assertEqual(log, ["CancelledError"])
        self.assertEqual(len(waiters), 0)

    def test_fireAllWithAValue(self) -> None:
        waiters = Waiters()
        log: list[str] = []
        for name in "ab":
            recording(waiters, log, name)
        cancelled = waiters.add(Deferred())
        cancelled.cancel()
        self.failureResultOf(cancelled, CancelledError)
        waiters.fireAll(1, "a test")
        self.assertEqual(log, ["a=1", "b=1"])
        self.assertEqual(len(waiters), 0)

    def test_fireAllWithAnExceptionErrbacks(self) -> None:
        waiters = Waiters()
        first, second = waiters.add(Deferred()), waiters.add(Deferred())
        error = ValueError("closed")
        waiters.fireAll(error, "a test")
        self.assertIs(self.failureResultOf(first, ValueError).value, error)
        self.assertIs(self.failureResultOf(second, ValueError).value, error)
        # The owner of each waiter handles (or reports) the error: nothing was logged.
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_fireAllOnNothing(self) -> None:
        Waiters().fireAll(None, "a test")


class FireTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def failures(self) -> list[dict[str, Any]]:
        return [event for event in self.events if "log_failure" in event]

    def test_firesWithTheResult(self) -> None:
        d: Deferred[int] = Deferred()
        fire(d, 3, "a test")
        self.assertEqual(self.successResultOf(d), 3)
        self.assertEqual(self.failures(), [])

    def test_unhandledConsumerErrorLoggedOnceAndConsumed(self) -> None:
        """Rule 3: logged here, once, naming what was awaited; never 'Unhandled error'."""
        d: Deferred[int] = Deferred()
        d.addCallback(lambda _: 1 / 0)
        fire(d, 3, "next() on tag b'news'")
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        [event] = self.failures()
        self.assertEqual(event["what"], "next() on tag b'news'")
        self.assertIsNone(self.successResultOf(d))
        # Collecting the Deferred reports nothing more.
        del d
        gc.collect()
        self.assertEqual(len(self.failures()), 1)
        self.assertEqual(self.flushLoggedErrors(ZeroDivisionError), [])

    def test_handledErrorNotLogged(self) -> None:
        d: Deferred[int] = Deferred()
        d.addCallback(lambda _: 1 / 0)
        d.addErrback(lambda _: "handled")
        fire(d, 3, "a test")
        self.assertEqual(self.failures(), [])
        self.assertEqual(self.successResultOf(d), "handled")

    def test_cancelledErrorConsumedQuietly(self) -> None:
        """A consumer chain that ends cancelled is no error worth logging."""
        d: Deferred[int] = Deferred()

        def cancelled(_: int) -> None:
            raise CancelledError

        d.addCallback(cancelled)
        fire(d, 3, "a test")
        self.assertEqual(self.failures(), [])
        self.assertIsNone(self.successResultOf(d))

    def test_pausedChainLeftToItsOwner(self) -> None:
        """A callback that returns a Deferred pauses the chain; fire() leaves it alone."""
        inner: Deferred[int] = Deferred()
        d: Deferred[int] = Deferred()
        d.addCallback(lambda _: inner)
        fire(d, 3, "a test")
        self.assertNoResult(d)
        inner.callback(4)
        self.assertEqual(self.successResultOf(d), 4)
        self.assertEqual(self.failures(), [])


class DeadlineTests(SynchronousTestCase):
    def test_noDeadline(self) -> None:
        clock = Clock()
        d: Deferred[int] = Deferred()
        self.assertIs(deadline(d, None, clock, Expired), d)
        self.assertEqual(clock.getDelayedCalls(), [])
        clock.advance(1000)
        self.assertNoResult(d)
        d.callback(1)
        self.assertEqual(self.successResultOf(d), 1)

    def test_alreadyFiredNeedsNoTimer(self) -> None:
        clock = Clock()
        d: Deferred[int] = Deferred()
        d.callback(1)
        self.assertIs(deadline(d, 5, clock, Expired), d)
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual(self.successResultOf(d), 1)

    def test_expiresWithTheCallersError(self) -> None:
        """Rule 4: the timeout becomes the caller's own TimeoutError subclass."""
        clock = Clock()
        waiters = Waiters()
        d = deadline(waiters.add(Deferred()), 2, clock, lambda: Expired("too slow"))
        clock.advance(1.999)
        self.assertNoResult(d)
        clock.advance(0.001)
        failure = self.failureResultOf(d, Expired)
        self.assertEqual(str(failure.value), "too slow")
        self.assertEqual(clock.getDelayedCalls(), [])
        # ... through the same cancellation as rule 2: the waiter is skipped.
        self.assertEqual(waiters.live(), 0)
        self.assertIsNone(waiters.popLive())

    def test_firesFirstCancelsTheTimer(self) -> None:
        clock = Clock()
        d: Deferred[int] = Deferred()
        deadline(d, 2, clock, Expired)
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        d.callback(1)
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual(self.successResultOf(d), 1)

    def test_failsFirstCancelsTheTimerAndKeepsTheError(self) -> None:
        clock = Clock()
        d: Deferred[int] = Deferred()
        deadline(d, 2, clock, Expired)
        d.errback(ValueError("closed"))
        self.assertEqual(clock.getDelayedCalls(), [])
        self.failureResultOf(d, ValueError)

    def test_userCancelStaysACancel(self) -> None:
        clock = Clock()
        d: Deferred[int] = Deferred()
        deadline(d, 2, clock, Expired)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_zeroSecondsExpiresOnTheNextTurn(self) -> None:
        clock = Clock()
        d: Deferred[int] = Deferred()
        deadline(d, 0, clock, Expired)
        self.assertNoResult(d)
        clock.advance(0)
        self.failureResultOf(d, Expired)
