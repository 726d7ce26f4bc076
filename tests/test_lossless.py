"""noDrop publishers: publishLossless() waits at the high-water mark instead of dropping."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred

from txzpub import (
    ConfigurationError,
    ConnectionClosed,
    OverflowPolicy,
    PublishQueueFull,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)
from txzpub.testing import waitForSubscription

from .helpers import bind, bounded, connect


class ShallowPub(ZmqPubConnection):
    highWaterMark = 10


class ShallowSub(ZmqSubConnection):
    highWaterMark = 10


def stalledPair(
    factory: ZmqFactory, address: str, **pubOptions: object
) -> tuple[ZmqPubConnection, ZmqSubConnection]:
    """inproc (no kernel buffers): the pipe holds ~20 messages, the queue 10 more."""
    publisher = ShallowPub(factory, bind(address), noDrop=True, **pubOptions)  # type: ignore[arg-type]
    subscriber = ShallowSub(factory, connect(address), maxQueued=10, overflow=OverflowPolicy.PAUSE)
    return publisher, subscriber


@pytest_twisted.ensureDeferred
async def test_stalledSubscriberLosesNothingAndPushesBack(factory: ZmqFactory) -> None:
    publisher, subscriber = stalledPair(factory, "inproc://lossless")
    subscription = subscriber.subscribe(b"t")
    await waitForSubscription(publisher, subscriber)
    started = subscription.next()  # the queue is in use; nobody reads it for now
    started.cancel()
    started.addErrback(lambda _: None)
    total = 1000
    sent = [publisher.publishLossless(b"%d" % n, b"t") for n in range(total)]
    # Backpressure: ZeroMQ holds ~20 and our queue 10 (+1 read batch); the rest waits.
    waitingBefore = sum(not d.called for d in sent)
    assert waitingBefore > total // 2
    bodies = [(await bounded(subscription.next())).body for _ in range(total)]
    assert bodies == [b"%d" % n for n in range(total)]  # all of them, in order
    await bounded(sent[-1], "the last publishLossless() to be handed over")
    assert all(d.called for d in sent)
    assert subscription.statistics().dropped == 0


@pytest_twisted.ensureDeferred
async def test_fullQueueFailsClearly(factory: ZmqFactory) -> None:
    publisher, subscriber = stalledPair(factory, "inproc://lossless-full")
    publisher.maxPending = 5
    subscription = subscriber.subscribe(b"t")
    await waitForSubscription(publisher, subscriber)
    started = subscription.next()
    started.cancel()
    started.addErrback(lambda _: None)
    sent = [publisher.publishLossless(b"x", b"t") for _ in range(200)]
    refused = [d for d in sent if d.called and d.result is not None]  # type: ignore[attr-defined]
    assert refused
    with pytest.raises(PublishQueueFull, match=r"maxPending=5.*wait for earlier"):
        await refused[0]
    for d in refused[1:]:
        d.addErrback(lambda _: None)
    publisher.shutdown()
    closed: list[object] = []
    for d in sent:
        if d not in refused:
            d.addErrback(lambda f: closed.append(f.trap(ConnectionClosed)))
    assert closed  # the ones still queued at shutdown failed with ConnectionClosed


def test_needsNoDrop(factory: ZmqFactory) -> None:
    publisher = ZmqPubConnection(factory)
    with pytest.raises(ConfigurationError, match=r"needs a publisher created with noDrop=True"):
        publisher.publishLossless(b"x")


@pytest_twisted.ensureDeferred
async def test_unblockedPublishFiresAtOnce(factory: ZmqFactory) -> None:
    publisher = ZmqPubConnection(factory, bind("inproc://lossless-free"), noDrop=True)
    d: Deferred[None] = publisher.publishLossless("hello", "news")
    assert d.called
    await d
    with pytest.raises(TypeError, match=r"^message must be bytes or str"):
        publisher.publishLossless(3)  # type: ignore[arg-type]
