"""The Deferred layer, run synchronously: no reactor, no sockets."""

from __future__ import annotations

import pytest
from twisted.internet.defer import CancelledError, Deferred, ensureDeferred
from twisted.trial.unittest import SynchronousTestCase

from txzpub import ConnectionClosed, Message, OverflowPolicy, Subscription, SubscriptionClosed


def makeSubscription(
    maxQueued: int = 10, overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST
) -> tuple[Subscription, list[str]]:
    calls: list[str] = []
    subscription = Subscription._create(
        b"news",
        maxQueued=maxQueued,
        overflow=overflow,
        onFull=lambda s: calls.append("full"),
        onReadable=lambda s: calls.append("readable"),
        onFlush=lambda s: calls.append("flush"),
    )
    return subscription, calls


def msg(n: int) -> Message:
    return Message(b"news", b"%d" % n)


class NextTests(SynchronousTestCase):
    def test_queuedMessageReturnedAtOnce(self) -> None:
        """A message that arrived before next() fires it synchronously."""
        subscription, _ = makeSubscription()
        subscription._reading = True
        subscription._put(msg(1))
        self.assertEqual(self.successResultOf(subscription.next()), msg(1))

    def test_waiterGetsNextMessage(self) -> None:
        subscription, _ = makeSubscription()
        d = subscription.next()
        self.assertNoResult(d)
        subscription._put(msg(1))
        self.assertEqual(self.successResultOf(d), msg(1))
        self.assertEqual(subscription.statistics().queued, 0)

    def test_fifoAcrossWaitersAndQueue(self) -> None:
        subscription, _ = makeSubscription()
        first, second = subscription.next(), subscription.next()
        for n in range(4):
            subscription._put(msg(n))
        self.assertEqual(self.successResultOf(first), msg(0))
        self.assertEqual(self.successResultOf(second), msg(1))
        self.assertEqual(self.successResultOf(subscription.next()), msg(2))
        self.assertEqual(self.successResultOf(subscription.next()), msg(3))

    def test_unreadQueueStoresNothing(self) -> None:
        """Until read, a queue stores nothing; legacy consumers never pay for it."""
        subscription, _ = makeSubscription()
        # The connection only calls _put on unread queues for non-legacy consumers;
        # a fresh Subscription is unread until next() or async for.
        self.assertFalse(subscription._reading)
        d = subscription.next()
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertTrue(subscription._reading)


class CancelTests(SynchronousTestCase):
    def test_cancelFailsWithCancelledError(self) -> None:
        subscription, _ = makeSubscription()
        d = subscription.next()
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(subscription.statistics().waiting, 0)

    def test_cancelFirstOfTwoLosesNothing(self) -> None:
        """The message skips the cancelled waiter and reaches the second one."""
        subscription, _ = makeSubscription()
        first, second = subscription.next(), subscription.next()
        first.cancel()
        subscription._put(msg(1))
        self.failureResultOf(first, CancelledError)
        self.assertEqual(self.successResultOf(second), msg(1))

    def test_cancelOnlyWaiterKeepsMessageQueued(self) -> None:
        subscription, _ = makeSubscription()
        d = subscription.next()
        d.cancel()
        self.failureResultOf(d, CancelledError)
        subscription._put(msg(1))
        self.assertEqual(self.successResultOf(subscription.next()), msg(1))

    def test_cancelAfterFiringIsHarmless(self) -> None:
        subscription, _ = makeSubscription()
        d = subscription.next()
        subscription._put(msg(1))
        d.cancel()
        self.assertEqual(self.successResultOf(d), msg(1))


class CloseTests(SynchronousTestCase):
    def test_closeFailsWaiters(self) -> None:
        subscription, _ = makeSubscription()
        waiters = [subscription.next() for _ in range(3)]
        subscription._close(ConnectionClosed("bye"), discard=True)
        for d in waiters:
            self.failureResultOf(d, ConnectionClosed)
        self.assertTrue(subscription.closed)

    def test_nextAfterCloseFailsAtOnce(self) -> None:
        subscription, _ = makeSubscription()
        subscription._reading = True
        subscription._put(msg(1))
        subscription._close(ConnectionClosed("bye"), discard=True)
        self.failureResultOf(subscription.next(), ConnectionClosed)

    def test_unsubscribeCloseDrainsFirst(self) -> None:
        """A full unsubscribe keeps what was queued readable, then fails."""
        subscription, _ = makeSubscription()
        subscription._reading = True
        subscription._put(msg(1))
        subscription._close(SubscriptionClosed("gone"), discard=False)
        self.assertEqual(self.successResultOf(subscription.next()), msg(1))
        self.failureResultOf(subscription.next(), SubscriptionClosed)

    def test_closeTwiceKeepsFirstReason(self) -> None:
        subscription, _ = makeSubscription()
        subscription._close(SubscriptionClosed("first"), discard=False)
        subscription._close(ConnectionClosed("second"), discard=True)
        self.failureResultOf(subscription.next(), SubscriptionClosed)

    def test_putAfterCloseIsIgnored(self) -> None:
        subscription, _ = makeSubscription()
        subscription._reading = True
        subscription._close(ConnectionClosed("bye"), discard=True)
        subscription._put(msg(1))
        self.assertEqual(subscription.statistics().queued, 0)

    def test_asyncForEndsOnClose(self) -> None:
        subscription, _ = makeSubscription()
        received: list[Message] = []

        async def consume() -> str:
            async for message in subscription:
                received.append(message)
            return "ended"

        done = ensureDeferred(consume())
        subscription._put(msg(1))
        subscription._put(msg(2))
        self.assertNoResult(done)
        subscription._close(ConnectionClosed("bye"), discard=True)
        self.assertEqual(self.successResultOf(done), "ended")
        self.assertEqual(received, [msg(1), msg(2)])

    def test_asyncForPropagatesOtherErrors(self) -> None:
        """Only the closing errors end iteration; cancellation still raises."""
        subscription, _ = makeSubscription()

        async def consume() -> None:
            async for _ in subscription:
                pass

        done = ensureDeferred(consume())
        done.cancel()
        self.failureResultOf(done, CancelledError)


class ConsumerErrorTests(SynchronousTestCase):
    def test_raisingCallbackIsLoggedAndDeliveryContinues(self) -> None:
        subscription, _ = makeSubscription()
        d = subscription.next()
        d.addCallback(lambda _: 1 / 0)
        subscription._put(msg(1))
        [error] = self.flushLoggedErrors(ZeroDivisionError)
        self.assertIsNotNone(error)
        # The failure was consumed: no "Unhandled error in Deferred" later.
        self.assertIsNone(self.successResultOf(d))
        subscription._reading = True
        subscription._put(msg(2))
        self.assertEqual(self.successResultOf(subscription.next()), msg(2))

    def test_handledErrorIsNotLogged(self) -> None:
        subscription, _ = makeSubscription()
        d = subscription.next()
        d.addCallback(lambda _: 1 / 0)
        d.addErrback(lambda f: "handled")
        subscription._put(msg(1))
        self.assertEqual(self.flushLoggedErrors(ZeroDivisionError), [])
        self.assertEqual(self.successResultOf(d), "handled")


class OverflowTests(SynchronousTestCase):
    def test_dropOldestCountsAndKeepsNewest(self) -> None:
        subscription, calls = makeSubscription(maxQueued=3)
        subscription._reading = True
        for n in range(5):
            subscription._put(msg(n))
        stats = subscription.statistics()
        self.assertEqual((stats.queued, stats.dropped, stats.peak), (3, 2, 3))
        self.assertEqual(self.successResultOf(subscription.next()), msg(2))
        self.assertEqual(calls, [])

    def test_dropNewestKeepsOldest(self) -> None:
        subscription, _ = makeSubscription(maxQueued=3, overflow=OverflowPolicy.DROP_NEWEST)
        subscription._reading = True
        for n in range(5):
            subscription._put(msg(n))
        self.assertEqual(subscription.statistics().dropped, 2)
        self.assertEqual(self.successResultOf(subscription.next()), msg(0))

    def test_pauseHoldsThenReleasesAtHalf(self) -> None:
        """PAUSE drops nothing, asks for a pause once, and releases at half full."""
        subscription, calls = makeSubscription(maxQueued=4, overflow=OverflowPolicy.PAUSE)
        subscription._reading = True
        for n in range(6):
            subscription._put(msg(n))
        self.assertEqual(calls, ["full"])
        self.assertEqual(subscription.statistics().dropped, 0)
        self.assertEqual(subscription.statistics().queued, 6)
        received = [self.successResultOf(subscription.next()) for _ in range(4)]
        self.assertEqual(received, [msg(n) for n in range(4)])
        self.assertEqual(calls, ["full", "readable"])

    def test_closingReleasesPause(self) -> None:
        subscription, calls = makeSubscription(maxQueued=1, overflow=OverflowPolicy.PAUSE)
        subscription._reading = True
        subscription._put(msg(1))
        subscription._put(msg(2))
        subscription._close(SubscriptionClosed("gone"), discard=False)
        self.assertEqual(calls, ["full", "readable"])


@pytest.mark.parametrize("policy", list(OverflowPolicy))
def test_firstOverflowLoggedOnce(policy: OverflowPolicy, logged: list[dict[str, object]]) -> None:
    subscription, _ = makeSubscription(maxQueued=2, overflow=policy)
    subscription._reading = True
    for n in range(10):
        subscription._put(msg(n))
    warnings = [e for e in logged if "is full" in str(e.get("log_format", ""))]
    assert len(warnings) == 1
    assert warnings[0]["policy"] == policy.value


def test_repr() -> None:
    subscription, _ = makeSubscription()
    assert repr(subscription) == "<Subscription tag=b'news' open queued=0>"


def test_nextReturnsDeferred() -> None:
    subscription, _ = makeSubscription()
    d = subscription.next()
    assert isinstance(d, Deferred)
    d.cancel()
    d.addErrback(lambda f: None)


def flushing() -> tuple[Subscription, list[Subscription]]:
    """A Subscription whose flush requests are collected, as the connection does."""
    pending: list[Subscription] = []
    subscription = Subscription._create(
        b"news",
        maxQueued=100,
        overflow=OverflowPolicy.DROP_OLDEST,
        onFull=lambda s: None,
        onReadable=lambda s: None,
        onFlush=pending.append,
    )
    return subscription, pending


class BatchTests(SynchronousTestCase):
    def test_queuedMessagesReturnedAtOnceUpToLimit(self) -> None:
        subscription, _ = flushing()
        subscription._reading = True
        for n in range(5):
            subscription._put(msg(n))
        self.assertEqual(self.successResultOf(subscription.nextBatch(3)), [msg(0), msg(1), msg(2)])
        self.assertEqual(self.successResultOf(subscription.nextBatch()), [msg(3), msg(4)])

    def test_waitingBatchFiresOnceWithTheWholeReadBatch(self) -> None:
        """Rule 2: one Deferred per read batch, not per message."""
        subscription, pending = flushing()
        d = subscription.nextBatch(10)
        for n in range(4):
            subscription._put(msg(n))
        self.assertNoResult(d)
        self.assertEqual(pending, [subscription])  # asked once, not per message
        subscription._flush()
        self.assertEqual(self.successResultOf(d), [msg(n) for n in range(4)])

    def test_limitLeavesTheRestQueued(self) -> None:
        subscription, _ = flushing()
        d = subscription.nextBatch(2)
        for n in range(5):
            subscription._put(msg(n))
        subscription._flush()
        self.assertEqual(self.successResultOf(d), [msg(0), msg(1)])
        self.assertEqual(subscription.statistics().queued, 3)

    def test_waitersServedInOrderAcrossKinds(self) -> None:
        subscription, _ = flushing()
        single = subscription.next()
        batch = subscription.nextBatch(2)
        later = subscription.next()
        for n in range(5):
            subscription._put(msg(n))
        subscription._flush()
        self.assertEqual(self.successResultOf(single), msg(0))
        self.assertEqual(self.successResultOf(batch), [msg(1), msg(2)])
        self.assertEqual(self.successResultOf(later), msg(3))
        self.assertEqual(self.successResultOf(subscription.next()), msg(4))

    def test_nextQueuesBehindWaitingBatch(self) -> None:
        """A next() made while a batch waits for its flush must not jump the queue."""
        subscription, _ = flushing()
        batch = subscription.nextBatch()
        subscription._put(msg(0))
        single = subscription.next()
        self.assertNoResult(single)
        subscription._flush()
        self.assertEqual(self.successResultOf(batch), [msg(0)])
        self.assertNoResult(single)
        single.cancel()
        self.failureResultOf(single, CancelledError)

    def test_cancelledBatchLosesNothing(self) -> None:
        subscription, _ = flushing()
        cancelled = subscription.nextBatch()
        waiting = subscription.nextBatch()
        cancelled.cancel()
        self.failureResultOf(cancelled, CancelledError)
        subscription._put(msg(0))
        subscription._flush()
        self.assertEqual(self.successResultOf(waiting), [msg(0)])

    def test_closeFailsBatchWaitersAfterServingQueued(self) -> None:
        subscription, _ = flushing()
        served = subscription.nextBatch()
        subscription._put(msg(0))
        subscription._close(SubscriptionClosed("gone"), discard=False)
        self.assertEqual(self.successResultOf(served), [msg(0)])
        self.failureResultOf(subscription.nextBatch(), SubscriptionClosed)

    def test_shutdownFailsBatchWaiters(self) -> None:
        subscription, _ = flushing()
        d = subscription.nextBatch()
        subscription._close(ConnectionClosed("bye"), discard=True)
        self.failureResultOf(d, ConnectionClosed)

    def test_batchesAsyncIterator(self) -> None:
        subscription, _ = flushing()
        seen: list[list[Message]] = []

        async def consume() -> str:
            async for batch in subscription.batches(10):
                seen.append(batch)
            return "ended"

        done = ensureDeferred(consume())
        subscription._put(msg(0))
        subscription._put(msg(1))
        subscription._flush()
        subscription._close(ConnectionClosed("bye"), discard=True)
        self.assertEqual(self.successResultOf(done), "ended")
        self.assertEqual(seen, [[msg(0), msg(1)]])


@pytest.mark.parametrize(
    ("limit", "error", "text"),
    [
        (0, ValueError, r"^maxCount must be >= 1, not 0 \(int\)$"),
        ("9", TypeError, r"^maxCount must be an int, not '9' \(str\)$"),
    ],
)
def test_batchLimitValidated(limit: object, error: type[Exception], text: str) -> None:
    subscription, _ = flushing()
    with pytest.raises(error, match=text):
        subscription.nextBatch(limit)  # type: ignore[arg-type]
    with pytest.raises(error, match=text):
        subscription.batches(limit)  # type: ignore[arg-type]


def test_cancelledWaitersDoNotPileUp() -> None:
    """A loop of timed-out (cancelled) next() calls on a quiet topic stays bounded."""
    subscription, _ = makeSubscription()
    for _ in range(10_000):
        d = subscription.next()
        d.cancel()
        d.addErrback(lambda f: None)
    assert len(subscription._waiters) < 100
    assert subscription.statistics().waiting == 0
    live = subscription.next()
    subscription._put(msg(1))
    assert live.result == msg(1)  # type: ignore[attr-defined]
