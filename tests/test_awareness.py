"""
Subscriber awareness: ZmqPubConnection (XPUB underneath) counts its peers'
subscriptions, waits for subscribers, and reports subscription events.

Real sockets on the real reactor; nothing sleeps. Waiting for a count to
change is waiting for the publisher's own subscription events.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted
import txzmq
import zmq
from twisted.internet.defer import CancelledError, Deferred, succeed

from txzpub import (
    ConnectionClosed,
    SubscriberTimeout,
    TxzpubError,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)

from .helpers import DEADLINE, bounded, connect, publisherOnFreePort
from .test_interop import RawSubscriber, TxzmqSubscriber

#: Repetitions of the slow-joiner scenario.
REPETITIONS = 50


def countsReach(
    publisher: ZmqPubConnection, expected: dict[bytes, int], what: str = ""
) -> Deferred[None]:
    """Fire once ``publisher.subscriptions`` equals *expected* (checked on every event)."""
    if dict(publisher.subscriptions) == expected:
        return succeed(None)
    d: Deferred[None] = Deferred()

    def check(prefix: bytes, subscribed: bool) -> None:
        if not d.called and dict(publisher.subscriptions) == expected:
            unregister()
            d.callback(None)

    unregister = publisher.onSubscription(check)
    return bounded(d, what or f"subscriptions == {expected!r}")


@pytest.fixture
def txzmqFactory(factory: ZmqFactory) -> Iterator[txzmq.ZmqFactory]:
    made = txzmq.ZmqFactory()
    made.lingerPeriod = 0
    yield made
    made.shutdown()


# -- counts ------------------------------------------------------------------------------


def test_subscriptionsIsReadOnlyAndStartsEmpty(factory: ZmqFactory) -> None:
    publisher, _ = publisherOnFreePort(factory)
    assert dict(publisher.subscriptions) == {}
    with pytest.raises(TypeError):
        publisher.subscriptions[b"x"] = 1  # type: ignore[index]
    assert publisher.socket.type == zmq.XPUB


def test_legacySubclassMayOwnTheNameSubscriptions(factory: ZmqFactory) -> None:
    class Legacy(ZmqPubConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.subscriptions = ["mine"]  # type: ignore[assignment]
            super().__init__(*args, **kwargs)

    publisher = Legacy(factory)
    assert publisher.subscriptions == ["mine"]


def test_readerStartsLazilyAndMissesNothing(factory: ZmqFactory) -> None:
    """No reader until publish() or the awareness API; what queued before is counted."""
    from twisted.internet import reactor

    readers = set(reactor.getReaders())
    publisher, address = publisherOnFreePort(factory)
    assert set(reactor.getReaders()) == readers
    assert factory.context is not None
    raw = factory.context.socket(zmq.SUB)
    raw.linger = 0
    try:
        raw.connect(address)
        raw.subscribe(b"early")
        # A bounded wait for the subscription to be queued in the XPUB (not a sleep).
        assert publisher.socket.poll(int(DEADLINE * 1000), zmq.POLLIN)
        assert dict(publisher.subscriptions) == {b"early": 1}
        assert len(set(reactor.getReaders()) - readers) == 1
    finally:
        raw.close(linger=0)


@pytest_twisted.ensureDeferred
async def test_countsFollowTxzpubSubscribers(factory: ZmqFactory) -> None:
    publisher, address = publisherOnFreePort(factory)
    first = ZmqSubConnection(factory, connect(address))
    second = ZmqSubConnection(factory, connect(address))
    first.subscribe(b"news")
    first.subscribe(b"news")  # counted once: the subscriber sends a prefix upstream once
    second.subscribe(b"news")
    second.subscribe(b"")
    await countsReach(publisher, {b"news": 2, b"": 1})

    first.unsubscribe(b"news")  # one reference left: nothing goes upstream
    second.unsubscribe(b"news")
    await countsReach(publisher, {b"news": 1, b"": 1})
    first.unsubscribe(b"news")
    await countsReach(publisher, {b"": 1})

    second.shutdown()  # a peer that goes away takes its subscriptions with it
    await countsReach(publisher, {})


@pytest_twisted.ensureDeferred
async def test_countsFollowRawPyzmqSubscribers(factory: ZmqFactory) -> None:
    publisher, address = publisherOnFreePort(factory)
    assert factory.context is not None
    raws = [RawSubscriber(factory.context, address) for _ in range(3)]
    try:
        for raw in raws:
            raw.socket.subscribe(b"a")
        raws[0].socket.subscribe(b"b")
        await countsReach(publisher, {b"a": 3, b"b": 1})
        raws[1].socket.unsubscribe(b"a")  # not the last one: still seen (XPUB_VERBOSER)
        await countsReach(publisher, {b"a": 2, b"b": 1})
        raws[0].close()  # disconnect: libzmq unsubscribes what it held
        await countsReach(publisher, {b"a": 1})
    finally:
        for raw in raws:
            raw.close()


@pytest_twisted.ensureDeferred
async def test_countsFollowTxzmqSubscribers(
    factory: ZmqFactory, txzmqFactory: txzmq.ZmqFactory
) -> None:
    publisher, address = publisherOnFreePort(factory)
    endpoint = txzmq.ZmqEndpoint(txzmq.ZmqEndpointType.connect, address)
    first = TxzmqSubscriber(txzmqFactory, endpoint)
    second = TxzmqSubscriber(txzmqFactory, endpoint)
    first.subscribe(b"stocks")
    second.subscribe(b"stocks")
    await countsReach(publisher, {b"stocks": 2})
    first.unsubscribe(b"stocks")
    await countsReach(publisher, {b"stocks": 1})
    second.shutdown()
    await countsReach(publisher, {})


@pytest_twisted.ensureDeferred
async def test_onSubscriptionReportsEventsUntilUnregistered(factory: ZmqFactory) -> None:
    publisher, address = publisherOnFreePort(factory)
    seen: list[tuple[bytes, bool]] = []
    unregister = publisher.onSubscription(lambda prefix, on: seen.append((prefix, on)))
    publisher.onSubscription(lambda prefix, on: 1 / 0)  # logged; the others still run
    sub = ZmqSubConnection(factory, connect(address))
    sub.subscribe(b"x")
    await countsReach(publisher, {b"x": 1})
    sub.unsubscribe(b"x")
    await countsReach(publisher, {})
    assert seen == [(b"x", True), (b"x", False)]
    unregister()
    unregister()  # twice is fine
    sub.subscribe(b"y")
    await countsReach(publisher, {b"y": 1})
    assert seen == [(b"x", True), (b"x", False)]
    with pytest.raises(TypeError):
        publisher.onSubscription(42)  # type: ignore[arg-type]


# -- waitForSubscribers ------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_waitForSubscribersFiresOnMatchingPrefixes(factory: ZmqFactory) -> None:
    publisher, address = publisherOnFreePort(factory)
    assert publisher.waitForSubscribers(0).called
    ready = publisher.waitForSubscribers(3, b"news.world")
    subs = [ZmqSubConnection(factory, connect(address)) for _ in range(4)]
    subs[0].subscribe(b"weather")  # does not match
    subs[1].subscribe(b"")
    subs[2].subscribe(b"news")
    await countsReach(publisher, {b"weather": 1, b"": 1, b"news": 1})
    assert not ready.called
    subs[3].subscribe("news.world")
    await bounded(ready, "three subscribers to news.world")
    # Already satisfied: fires at once.
    assert publisher.waitForSubscribers(2, "news.world.today").called


@pytest_twisted.ensureDeferred
async def test_waitForSubscribersTimesOut(factory: ZmqFactory) -> None:
    publisher, _ = publisherOnFreePort(factory)
    with pytest.raises(SubscriberTimeout, match=r"only 0 of 2 subscription\(s\) matching b'x'"):
        await bounded(publisher.waitForSubscribers(2, b"x", timeout=0.05), "the timeout")
    assert issubclass(SubscriberTimeout, TxzpubError)
    assert issubclass(SubscriberTimeout, TimeoutError)


@pytest_twisted.ensureDeferred
async def test_waitForSubscribersFailsOnShutdown(factory: ZmqFactory) -> None:
    publisher, _ = publisherOnFreePort(factory)
    waiting = publisher.waitForSubscribers(1, timeout=5)
    publisher.shutdown()
    with pytest.raises(ConnectionClosed):
        await waiting
    with pytest.raises(ConnectionClosed):
        await publisher.waitForSubscribers()
    assert dict(publisher.subscriptions) == {}


@pytest_twisted.ensureDeferred
async def test_waitForSubscribersFailsOnFactoryShutdown(factory: ZmqFactory) -> None:
    publisher, _ = publisherOnFreePort(factory)
    waiting = publisher.waitForSubscribers(1)
    factory.shutdown()
    with pytest.raises(ConnectionClosed):
        await waiting


def test_waitForSubscribersCancels(factory: ZmqFactory) -> None:
    from twisted.internet import reactor

    publisher, _ = publisherOnFreePort(factory)
    before = len(reactor.getDelayedCalls())
    waiting = publisher.waitForSubscribers(1, timeout=60)
    waiting.cancel()
    failures: list[Any] = []
    waiting.addErrback(failures.append)
    assert failures[0].check(CancelledError)
    assert len(reactor.getDelayedCalls()) <= before  # the timeout timer is gone


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((-1,), ValueError),
        ((1.5,), TypeError),
        (("2",), TypeError),
        ((1, b"", -1), ValueError),
        ((1, b"", "1"), TypeError),
        ((1, 3), TypeError),
    ],
)
def test_waitForSubscribersRefusesBadArguments(
    factory: ZmqFactory, args: tuple[Any, ...], error: type[Exception]
) -> None:
    publisher, _ = publisherOnFreePort(factory)
    with pytest.raises(error):
        publisher.waitForSubscribers(*args)


# -- the slow joiner, cured ----------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_lateJoinerGetsTheFirstMessageEveryTime(factory: ZmqFactory) -> None:
    """A subscriber connecting after the publisher started gets the first message, 50 times."""
    publisher, address = publisherOnFreePort(factory)
    losses = 0
    for n in range(REPETITIONS):
        tag = b"round.%d" % n
        sub = ZmqSubConnection(factory, connect(address))
        first = sub.next(tag)
        await bounded(publisher.waitForSubscribers(1, tag, timeout=5), f"round {n}")
        publisher.publish(b"first", tag)
        try:
            message = await bounded(first, f"the first message of round {n}", seconds=5)
        except TimeoutError:
            losses += 1
        else:
            assert (message.tag, message.body) == (tag, b"first")
        sub.shutdown()
    assert losses == 0


@pytest_twisted.ensureDeferred
async def test_rawPyzmqSubReceivesAfterWaitForSubscribers(factory: ZmqFactory) -> None:
    publisher, address = publisherOnFreePort(factory)
    assert factory.context is not None
    raw = RawSubscriber(factory.context, address)
    try:
        raw.socket.subscribe(b"t")
        await bounded(publisher.waitForSubscribers(1, b"t.1"))
        arrived = raw.until(lambda frames: frames == [b"t.1\0hello"], "hello on raw SUB")
        publisher.publish(b"hello", b"t.1")
        await arrived
        assert raw.received == [[b"t.1\0hello"]]
    finally:
        raw.close()


@pytest_twisted.ensureDeferred
async def test_subscriptionsArriveWhilePublishingContinuously(factory: ZmqFactory) -> None:
    """Sends may swallow the FD's edge; subscriptions still get read during a flood."""
    from twisted.internet.task import LoopingCall

    publisher, address = publisherOnFreePort(factory)

    def flood() -> None:
        for _ in range(200):
            publisher.publish(b"x", b"noise")

    flooding = LoopingCall(flood)
    flooding.start(0, now=True)
    try:
        for n in range(1, 6):
            sub = ZmqSubConnection(factory, connect(address))
            sub.subscribe(b"wanted")
            await bounded(publisher.waitForSubscribers(n, b"wanted"), f"subscriber {n}")
    finally:
        flooding.stop()
