"""Publisher and subscriber over real inproc, ipc and tcp sockets, on the real reactor."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred

from txzpub import (
    ConnectionClosed,
    Message,
    OverflowPolicy,
    SubscriptionClosed,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)
from txzpub.testing import waitForSubscription

from .helpers import bind, boundAddress, bounded, connect


def makePair(
    factory: ZmqFactory, address: str, **subOptions: object
) -> tuple[ZmqPubConnection, ZmqSubConnection]:
    publisher = ZmqPubConnection(factory, bind(address))
    subscriber = ZmqSubConnection(factory, connect(boundAddress(publisher)), **subOptions)  # type: ignore[arg-type]
    return publisher, subscriber


@pytest.fixture(params=["inproc", "ipc", "tcp"])
def address(request: pytest.FixtureRequest, inprocAddress: str, ipcAddress: str) -> str:
    return {"inproc": inprocAddress, "ipc": ipcAddress, "tcp": "tcp://127.0.0.1:0"}[request.param]


@pytest_twisted.ensureDeferred
async def test_nextOnEveryTransport(factory: ZmqFactory, address: str) -> None:
    publisher, subscriber = makePair(factory, address)
    subscriber.subscribe(b"news")
    await waitForSubscription(publisher, subscriber)
    publisher.publish(b"hello", b"news")
    message = await bounded(subscriber.next(b"news"), "next(b'news')")
    assert message == Message(b"news", b"hello")


@pytest_twisted.ensureDeferred
async def test_asyncForEndsOnShutdown(factory: ZmqFactory) -> None:
    publisher, subscriber = makePair(factory, "tcp://127.0.0.1:0")
    subscription = subscriber.subscribe(b"weather")
    await waitForSubscription(publisher, subscriber)
    for n in range(3):
        publisher.publish(b"%d" % n, b"weather")
    received: list[bytes] = []

    async def consume() -> str:
        async for message in subscription:
            received.append(message.body)
            if len(received) == 3:
                subscriber.shutdown()
        return "ended"

    assert await bounded(Deferred.fromCoroutine(consume()), "the async for loop") == "ended"
    assert received == [b"0", b"1", b"2"]


@pytest_twisted.ensureDeferred
async def test_asyncForOverSubscribeCall(factory: ZmqFactory) -> None:
    """The issue's spelling: ``async for msg in sub.subscribe(b"news")``."""
    publisher, subscriber = makePair(factory, "tcp://127.0.0.1:0")
    subscriber.subscribe(b"news")
    await waitForSubscription(publisher, subscriber)
    publisher.publish(b"one", b"news")

    async def first() -> Message:
        async for message in subscriber.subscribe(b"news"):
            return message
        raise AssertionError

    assert (await bounded(Deferred.fromCoroutine(first()))).body == b"one"


@pytest_twisted.ensureDeferred
async def test_routingMatchesZeroMQPrefixes(factory: ZmqFactory) -> None:
    """b"news" also gets b"newsletter"; a message matching two queues reaches each once."""
    publisher, subscriber = makePair(factory, "tcp://127.0.0.1:0")
    news = subscriber.subscribe(b"news")
    sports = subscriber.subscribe(b"news.sports")
    weather = subscriber.subscribe(b"weather")
    await waitForSubscription(publisher, subscriber)
    publisher.publish(b"a", b"newsletter")
    publisher.publish(b"b", b"news.sports")
    publisher.publish(b"c", b"stocks")  # nobody subscribed: ZeroMQ filters it
    publisher.publish(b"end", b"weather")
    await bounded(weather.next())
    assert [m.body for m in [news.next().result, news.next().result]] == [b"a", b"b"]  # type: ignore[attr-defined]
    assert sports.next().result == Message(b"news.sports", b"b")  # type: ignore[attr-defined]
    assert news.statistics().queued == 0
    assert sports.statistics().queued == 0


@pytest_twisted.ensureDeferred
async def test_fifoPerSubscription(factory: ZmqFactory) -> None:
    publisher, subscriber = makePair(factory, "inproc://fifo")
    subscription = subscriber.subscribe(b"t")
    await waitForSubscription(publisher, subscriber)
    for n in range(500):
        publisher.publish(b"%d" % n, b"t")
    bodies = [(await bounded(subscription.next())).body for _ in range(500)]
    assert bodies == [b"%d" % n for n in range(500)]


@pytest_twisted.ensureDeferred
async def test_subscribeTwiceUnsubscribeOnceStillReceives(factory: ZmqFactory) -> None:
    publisher, subscriber = makePair(factory, "tcp://127.0.0.1:0")
    first = subscriber.subscribe(b"news")
    second = subscriber.subscribe(b"news")
    assert first is second
    subscriber.unsubscribe(b"news")
    await waitForSubscription(publisher, subscriber)
    publisher.publish(b"still here", b"news")
    assert (await bounded(subscriber.next(b"news"))).body == b"still here"
    assert not first.closed


@pytest_twisted.ensureDeferred
async def test_fullUnsubscribeClosesSubscription(factory: ZmqFactory) -> None:
    publisher, subscriber = makePair(factory, "tcp://127.0.0.1:0")
    subscription = subscriber.subscribe(b"news")
    subscriber.subscribe(b"end")
    await waitForSubscription(publisher, subscriber)
    pending = subscription.next()
    publisher.publish(b"1", b"news")
    publisher.publish(b"2", b"news")
    publisher.publish(b"", b"end")
    await bounded(subscriber.next(b"end"))
    assert (await pending).body == b"1"
    subscriber.unsubscribe(b"news")
    assert subscription.closed
    assert (await subscription.next()).body == b"2"  # drained first
    with pytest.raises(SubscriptionClosed):
        await subscription.next()
    subscriber.unsubscribe(b"never subscribed")  # ignored, as ZeroMQ ignores it


@pytest_twisted.ensureDeferred
async def test_nextSubscribesOnceAndStays(factory: ZmqFactory) -> None:
    publisher, subscriber = makePair(factory, "tcp://127.0.0.1:0")
    first = subscriber.next(b"news")
    second = subscriber.next(b"news")
    assert subscriber._router.count(b"news") == 1
    await waitForSubscription(publisher, subscriber)
    publisher.publish(b"1", b"news")
    publisher.publish(b"2", b"news")
    assert [(await bounded(first)).body, (await bounded(second)).body] == [b"1", b"2"]
    assert subscriber.subscribe(b"news") is subscriber.subscribe(b"news")


@pytest_twisted.ensureDeferred
async def test_cancelledNextLosesNothing(factory: ZmqFactory) -> None:
    publisher, subscriber = makePair(factory, "tcp://127.0.0.1:0")
    subscriber.subscribe(b"news")
    await waitForSubscription(publisher, subscriber)
    cancelled = subscriber.next(b"news")
    waiting = subscriber.next(b"news")
    cancelled.cancel()
    with pytest.raises(CancelledError):
        await cancelled
    publisher.publish(b"kept", b"news")
    assert (await bounded(waiting)).body == b"kept"


@pytest_twisted.ensureDeferred
async def test_shutdownFailsPendingAndLaterNext(factory: ZmqFactory) -> None:
    publisher, subscriber = makePair(factory, "tcp://127.0.0.1:0")
    pending = [subscriber.next(b"a"), subscriber.next(b"b"), subscriber.subscribe(b"c").next()]
    subscriber.shutdown()
    subscriber.shutdown()  # idempotent
    for d in pending:
        with pytest.raises(ConnectionClosed):
            await d
    with pytest.raises(ConnectionClosed):
        await subscriber.next(b"a")
    with pytest.raises(ConnectionClosed, match="shut down"):
        subscriber.subscribe(b"x")
    subscriber.unsubscribe(b"a")  # harmless after shutdown
    assert subscriber.fileno() == -1
    assert subscriber not in factory.connections
    publisher.shutdown()
    with pytest.raises(ConnectionClosed):
        publisher.publish(b"late")
    with pytest.raises(ConnectionClosed):
        publisher.send(b"late")


@pytest_twisted.ensureDeferred
async def test_factoryShutdownClosesEverything() -> None:
    made = ZmqFactory(reactor)
    publisher, subscriber = makePair(made, "tcp://127.0.0.1:0")
    other = ZmqSubConnection(made, connect(boundAddress(publisher)))
    pending = [subscriber.next(b"a"), other.next(b"b")]

    async def loop() -> str:
        async for _ in other.subscribe(b"c"):
            pass
        return "ended"

    looping = Deferred.fromCoroutine(loop())
    made.shutdown()
    made.shutdown()  # idempotent
    for d in pending:
        with pytest.raises(ConnectionClosed):
            await d
    assert await looping == "ended"
    assert made.connections == set()
    assert publisher.socket.closed
    with pytest.raises(ConnectionClosed, match="factory was shut down"):
        ZmqSubConnection(made)


@pytest_twisted.ensureDeferred
async def test_consumerErrorLoggedAndDeliveryContinues(
    factory: ZmqFactory, logged: list[dict[str, object]]
) -> None:
    publisher, subscriber = makePair(factory, "tcp://127.0.0.1:0")
    subscriber.subscribe(b"t")
    await waitForSubscription(publisher, subscriber)
    exploding = subscriber.next(b"t")
    exploding.addCallback(lambda _: 1 / 0)
    publisher.publish(b"1", b"t")
    publisher.publish(b"2", b"t")
    assert (await bounded(subscriber.next(b"t"))).body == b"2"
    failures = [e for e in logged if "log_failure" in e]
    assert len(failures) == 1
    assert failures[0]["log_failure"].check(ZeroDivisionError)  # type: ignore[attr-defined]


@pytest_twisted.ensureDeferred
async def test_dropOldestBoundsMemoryAndCounts(
    factory: ZmqFactory, logged: list[dict[str, object]]
) -> None:
    publisher, subscriber = makePair(factory, "inproc://drop", maxQueued=100)
    flood = subscriber.subscribe(b"flood")
    flood.next().addCallback(lambda _: None)  # read once: the queue is in use
    subscriber.subscribe(b"end")
    await waitForSubscription(publisher, subscriber)
    for n in range(900):
        publisher.publish(b"%d" % n, b"flood")
    publisher.publish(b"", b"end")
    await bounded(subscriber.next(b"end"))
    stats = flood.statistics()
    assert (stats.queued, stats.dropped, stats.maxQueued) == (100, 799, 100)
    assert (await flood.next()).body == b"800"  # the oldest survivor
    assert sum("is full" in str(e.get("log_format")) for e in logged) == 1


@pytest_twisted.ensureDeferred
async def test_pausePolicyLosesNothing(factory: ZmqFactory) -> None:
    """PAUSE stops reading instead of dropping; every message arrives, in order."""
    publisher, subscriber = makePair(
        factory, "inproc://pause", maxQueued=10, overflow=OverflowPolicy.PAUSE
    )
    subscription = subscriber.subscribe(b"t")
    await waitForSubscription(publisher, subscriber)
    paused: Deferred[None] = Deferred()
    pause = subscriber._reader.pause

    def observedPause() -> None:
        pause()
        if not paused.called:
            paused.callback(None)

    subscriber._reader.pause = observedPause  # type: ignore[method-assign]
    started = subscription.next()  # start using the queue, without reading yet
    started.cancel()
    started.addErrback(lambda _: None)
    for n in range(500):  # within ZeroMQ's 1,000-message HWM on each side
        publisher.publish(b"%d" % n, b"t")
    await bounded(paused, "the reader pausing")
    assert subscriber._reader.paused
    bodies = [(await bounded(subscription.next())).body for _ in range(500)]
    assert bodies == [b"%d" % n for n in range(500)]
    stats = subscription.statistics()
    assert stats.dropped == 0
    assert stats.peak <= 10 + subscriber.readBatchSize
    assert not subscriber._reader.paused


@pytest_twisted.ensureDeferred
async def test_floodDoesNotStarveReactor(factory: ZmqFactory) -> None:
    """Other reactor work runs between read batches during a flood."""

    class Deep(ZmqPubConnection):
        highWaterMark = 0

    class DeepSub(ZmqSubConnection):
        highWaterMark = 0

    publisher = Deep(factory, bind("inproc://flood"))
    subscriber = DeepSub(factory, connect("inproc://flood"))
    subscription = subscriber.subscribe(b"f")
    await waitForSubscription(publisher, subscriber)
    total = 5000
    seen = {"count": 0, "atTimer": -1}
    timerRan: Deferred[None] = Deferred()

    def onTimer() -> None:
        seen["atTimer"] = seen["count"]
        timerRan.callback(None)

    async def consume() -> None:
        async for _ in subscription:
            seen["count"] += 1
            if seen["count"] == 1:
                reactor.callLater(0, onTimer)
            if seen["count"] == total:
                return

    consuming = Deferred.fromCoroutine(consume())
    for n in range(total):
        publisher.publish(b"%d" % n, b"f")
    await bounded(consuming)
    await timerRan
    assert 0 < seen["atTimer"] <= 2 * subscriber.readBatchSize


@pytest_twisted.ensureDeferred
async def test_multipartFramingCarriesAnyTag(factory: ZmqFactory) -> None:
    publisher = ZmqPubConnection(factory, bind("tcp://127.0.0.1:0"), multipartFraming=True)
    subscriber = ZmqSubConnection(factory, connect(boundAddress(publisher)))
    subscriber.subscribe(b"a\0")
    await waitForSubscription(publisher, subscriber)
    publisher.publish(b"body\0with\0nuls", b"a\0b")
    assert await bounded(subscriber.next(b"a\0")) == Message(b"a\0b", b"body\0with\0nuls")


@pytest_twisted.ensureDeferred
async def test_nextBatchOverRealSockets(factory: ZmqFactory) -> None:
    """A batch consumer gets every message, in order, in few Deferreds."""
    publisher, subscriber = makePair(factory, "inproc://batches")
    subscription = subscriber.subscribe(b"b")
    await waitForSubscription(publisher, subscriber)
    for n in range(1000):
        publisher.publish(b"%d" % n, b"b")
    received: list[bytes] = []
    calls = 0
    while len(received) < 1000:
        batch = await bounded(subscription.nextBatch(500))
        calls += 1
        assert 1 <= len(batch) <= 500
        received.extend(m.body for m in batch)
    assert received == [b"%d" % n for n in range(1000)]
    assert calls <= 1000 // subscriber.readBatchSize + 4


@pytest_twisted.ensureDeferred
async def test_prefixReachingPastTheTagMatchesRawFrames(factory: ZmqFactory) -> None:
    """A prefix containing the separator filters on the body too, exactly as ZeroMQ does."""
    publisher, subscriber = makePair(factory, "inproc://rawprefix")
    hello = subscriber.subscribe(b"news\0hel")
    everything = subscriber.subscribe(b"news")
    await waitForSubscription(publisher, subscriber)
    publisher.publish(b"world", b"news")
    publisher.publish(b"hello", b"news")
    assert [(await bounded(everything.next())).body for _ in range(2)] == [b"world", b"hello"]
    assert (await bounded(hello.next())).body == b"hello"
    assert hello.statistics().queued == 0


@pytest_twisted.ensureDeferred
async def test_multiByteSeparatorPrefixes(factory: ZmqFactory) -> None:
    """With topicSep b"::", a prefix ending in b":" reaches into the separator."""

    class Pub(ZmqPubConnection):
        topicSep = b"::"

    class Sub(ZmqSubConnection):
        topicSep = b"::"

    publisher = Pub(factory, bind("inproc://multibyte"))
    subscriber = Sub(factory, connect("inproc://multibyte"))
    colon = subscriber.subscribe(b"news:")
    plain = subscriber.subscribe(b"news")
    await waitForSubscription(publisher, subscriber)
    publisher.publish(b"a", b"news")  # frame b"news::a": both prefixes match
    publisher.publish(b"b", b"newsx")  # b"newsx::b": only b"news"
    assert [(await bounded(plain.next())).tag for _ in range(2)] == [b"news", b"newsx"]
    assert await bounded(colon.next()) == Message(b"news", b"a")
    assert colon.statistics().queued == 0
