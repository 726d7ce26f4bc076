"""
Sequenced pub/sub over real sockets: gaps counted exactly, recovered through replay, in order, once.

The lossy network is tests/sequenced_helpers.py's LossyForwarder: an XSUB/XPUB
forwarder that drops a known pseudo-random fraction of the data messages and
records which. Everything runs on inproc, in one context, so no high-water mark
drops anything the forwarder did not (bursts stay well below 1,000 messages).
Publishing a burst happens in one reactor turn, before any heartbeat, so the
subscriber's questions about the latest numbers never race the burst.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import pytest_twisted
import zmq
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred, ensureDeferred
from twisted.internet.task import LoopingCall, deferLater
from twisted.python.failure import Failure

from txzpub import (
    ConfigurationError,
    ConnectionEvent,
    ConnectionEventKind,
    EndpointError,
    Message,
    OverflowPolicy,
    PublishQueueFull,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)
from txzpub._core._stamp import HEARTBEAT_TAG as INTERNAL_HEARTBEAT_TAG

from .helpers import bind, boundAddress, bounded, connect, repeatUntil, until
from .sequenced_helpers import HEARTBEAT_TAG, LossyForwarder

GAP = ConnectionEventKind.GAP
RECOVERED = ConnectionEventKind.RECOVERED
LOST = ConnectionEventKind.LOST
STARTED = ConnectionEventKind.PUBLISHER_STARTED
SILENT = ConnectionEventKind.PUBLISHER_SILENT
RESUMED = ConnectionEventKind.PUBLISHER_RESUMED
STREAM_KINDS = frozenset({GAP, RECOVERED, LOST, STARTED, SILENT, RESUMED})

_names = itertools.count()


def inproc(what: str) -> str:
    return f"inproc://sequenced-{os.getpid()}-{what}-{next(_names)}"


TAGS = (b"alpha", b"beta", b"gamma")
N = 200  # messages per tag: 3 x 200 in one burst stays below every high-water mark
RATE = 0.05
SEED = 2024


def body(tag: bytes, n: int) -> bytes:
    return b"%s:%d" % (tag, n)


def directPair(
    factory: ZmqFactory, replay: bool, **subscriberOptions: Any
) -> tuple[ZmqPubConnection, ZmqSubConnection]:
    """A sequenced publisher and a subscriber over inproc, both replaying or neither."""
    address, replayAddress = inproc("data"), inproc("replay")
    publisher = ZmqPubConnection(
        factory, bind(address), sequenced=True, replay=bind(replayAddress) if replay else None
    )
    subscriber = ZmqSubConnection(
        factory,
        connect(address),
        replay=connect(replayAddress) if replay else None,
        **subscriberOptions,
    )
    return publisher, subscriber


def publishAll(publisher: ZmqPubConnection, tags: Iterable[bytes], count: int) -> None:
    """Numbers 1 to *count* of every tag, interleaved, in one reactor turn."""
    for n in range(1, count + 1):
        for tag in tags:
            publisher.publish(body(tag, n), tag)


def tailRun(dropped: list[int], last: int) -> int:
    """How many of the last numbers up to *last* were all dropped (undetectable without a later one)."""
    run = 0
    while last - run in dropped:
        run += 1
    return run


async def drain(subscriber: ZmqSubConnection, tag: bytes, count: int) -> list[tuple[int, bytes]]:
    """The next *count* messages of *tag*'s queue, as (sequence, body)."""
    subscription = subscriber.subscriptions[tag]
    got: list[tuple[int, bytes]] = []
    for _ in range(count):
        message = await bounded(subscription.next(), f"message {len(got) + 1} of {tag!r}")
        assert message.sequence is not None
        got.append((message.sequence, message.body))
    return got


class EventLog:
    """A subscriber's stream events, collected as they come (events() sees only what follows it)."""

    def __init__(self, subscriber: ZmqSubConnection) -> None:
        self.events: list[ConnectionEvent] = []
        self._stream = subscriber.events()
        self.ended = ensureDeferred(self._collect())

    async def _collect(self) -> None:
        async for event in self._stream:
            if event.kind in STREAM_KINDS:
                self.events.append(event)

    def of(self, *kinds: ConnectionEventKind) -> list[ConnectionEvent]:
        return [event for event in self.events if event.kind in kinds]

    def waitFor(self, kind: ConnectionEventKind, count: int = 1) -> Deferred[None]:
        return until(lambda: len(self.of(kind)) >= count, f"{count} {kind.value} events")

    def settled(self) -> bool:
        """Every GAP has ended in RECOVERED and LOST events adding up to it."""
        return total(self.of(GAP)) == total(self.of(RECOVERED, LOST))


def total(events: Iterable[ConnectionEvent]) -> int:
    return sum(event.value for event in events)


def assertGapsAddUp(events: list[ConnectionEvent]) -> None:
    """Per stream, RECOVERED + LOST never exceed the GAPs before them, and end equal to them."""
    opened: dict[tuple[bytes, bytes], int] = {}
    closed: dict[tuple[bytes, bytes], int] = {}
    for event in events:
        stream = (event.publisher, event.tag)
        if event.kind is GAP:
            opened[stream] = opened.get(stream, 0) + event.value
        elif event.kind in (RECOVERED, LOST):
            closed[stream] = closed.get(stream, 0) + event.value
            assert closed[stream] <= opened.get(stream, 0), (event, events)
    assert opened == closed


# -- a lossy network ------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_withoutReplayLostIsExactlyWhatTheNetworkDropped(factory: ZmqFactory) -> None:
    with LossyForwarder(factory.context, rate=RATE, seed=SEED, drop=[(b"gamma", N)]) as network:
        publisher = ZmqPubConnection(factory, connect(network.front), sequenced=True)
        subscriber = ZmqSubConnection(factory, connect(network.back))
        subscriptions = {tag: subscriber.subscribe(tag) for tag in TAGS}
        for tag in TAGS:
            await bounded(publisher.waitForSubscribers(1, tag), f"the subscription to {tag!r}")
        publishAll(publisher, TAGS, N)
        await until(lambda: network.received == len(TAGS) * N, "the forwarder to see every one")
        dropped = {tag: network.sequences(tag) for tag in TAGS}
        assert all(dropped[tag] for tag in TAGS)  # the seed drops some of every tag
        # Without replay, losing the last messages of a tag (gamma's N was dropped on
        # purpose) is invisible until a later message of that tag: they are not lost yet.
        undetected = {tag: tailRun(dropped[tag], N) for tag in TAGS}
        assert undetected[b"gamma"] >= 1
        delivered = {tag: N - len(dropped[tag]) for tag in TAGS}
        await until(
            lambda: all(subscriptions[t].statistics().queued == delivered[t] for t in TAGS),
            "every message the network let through",
        )
        for tag in TAGS:
            got = await drain(subscriber, tag, delivered[tag])
            kept = [n for n in range(1, N + 1) if n not in dropped[tag]]
            assert got == [(n, body(tag, n)) for n in kept]  # in order, once, nothing made up
            statistics = subscriptions[tag].statistics()
            assert statistics.lost == len(dropped[tag]) - undetected[tag]
            assert delivered[tag] + statistics.lost == N - undetected[tag]
            assert statistics.recovered == 0
            assert statistics.dropped == 0
        streams = subscriber.streamStatistics()
        assert streams.lost == sum(len(dropped[t]) - undetected[t] for t in TAGS)
        assert (streams.recovered, streams.duplicates, streams.malformed) == (0, 0, 0)
        assert (streams.replayRequests, streams.held) == (0, 0)

        # The next message of gamma reveals its lost tail.
        network.rate = 0
        publisher.publish(body(b"gamma", N + 1), b"gamma")
        assert await drain(subscriber, b"gamma", 1) == [(N + 1, body(b"gamma", N + 1))]
        gamma = subscriptions[b"gamma"].statistics()
        assert gamma.lost == len(dropped[b"gamma"])
        assert delivered[b"gamma"] + 1 + gamma.lost == N + 1
        assert subscriber.streamStatistics().lost == streams.lost + undetected[b"gamma"]


@pytest_twisted.ensureDeferred
async def test_withReplayEveryMessageArrivesInOrderOnce(factory: ZmqFactory) -> None:
    # Force the loss of the last message of beta and of the last two of gamma (tail loss).
    tails = [(b"beta", N), (b"gamma", N - 1), (b"gamma", N)]
    with LossyForwarder(factory.context, rate=RATE, seed=SEED, drop=tails) as network:
        replay = inproc("replay")
        publisher = ZmqPubConnection(
            factory,
            connect(network.front),
            sequenced=True,
            replay=bind(replay),
            heartbeatInterval=0.05,
        )
        subscriber = ZmqSubConnection(factory, connect(network.back), replay=connect(replay))
        log = EventLog(subscriber)
        subscriptions = {tag: subscriber.subscribe(tag) for tag in TAGS}
        for tag in TAGS:
            await bounded(publisher.waitForSubscribers(1, tag), f"the subscription to {tag!r}")
        publishAll(publisher, TAGS, N)
        for tag in TAGS:
            got = await drain(subscriber, tag, N)
            assert got == [(n, body(tag, n)) for n in range(1, N + 1)]
        await until(lambda: network.received == len(TAGS) * N, "the forwarder to see every one")
        for tag in TAGS:
            statistics = subscriptions[tag].statistics()
            assert statistics.recovered == network.count(tag) > 0
            assert statistics.lost == 0
            assert statistics.queued == 0  # nothing delivered twice
        streams = subscriber.streamStatistics()
        assert streams.recovered == len(network.drops)
        assert (streams.lost, streams.duplicates, streams.held) == (0, 0, 0)
        assert streams.replayTimeouts == 0
        assert publisher.replayStatistics().replayed == len(network.drops)
        await until(log.settled, "every gap to end")
        assertGapsAddUp(log.events)
        assert total(log.of(GAP)) == total(log.of(RECOVERED)) == len(network.drops)
        assert log.of(LOST) == []


@pytest.mark.parametrize("replay", [False, True], ids=["without-replay", "with-replay"])
@pytest_twisted.ensureDeferred
async def test_aPrefixCountsTheLossesOfEveryTagItMatches(
    factory: ZmqFactory, replay: bool
) -> None:
    tags = (b"news.a", b"news.b", b"sport")
    # A gap in each tag, well inside the burst (so even without replay each is seen).
    forced = [(b"news.a", 5), (b"news.a", 6), (b"news.b", 9), (b"sport", 4)]
    with LossyForwarder(factory.context, drop=forced) as network:
        address = inproc("replay")
        publisher = ZmqPubConnection(
            factory,
            connect(network.front),
            sequenced=True,
            replay=bind(address) if replay else None,
        )
        subscriber = ZmqSubConnection(
            factory, connect(network.back), replay=connect(address) if replay else None
        )
        news, newsA, sport = (subscriber.subscribe(t) for t in (b"news", b"news.a", b"sport"))
        for tag in tags:
            await bounded(publisher.waitForSubscribers(1, tag), f"the subscription to {tag!r}")
        publishAll(publisher, tags, 20)
        kept = 20 if replay else 20 - 2
        assert [m.body for m in [await bounded(newsA.next()) for _ in range(kept)]] == [
            body(b"news.a", n) for n in range(1, 21) if replay or n not in (5, 6)
        ]
        await until(
            lambda: news.statistics().queued == (40 if replay else 40 - 3), "news.a and news.b"
        )
        await until(lambda: sport.statistics().queued == (20 if replay else 19), "sport")
        counted = "recovered" if replay else "lost"
        other = "lost" if replay else "recovered"
        assert getattr(news.statistics(), counted) == 3  # news.a's two and news.b's one
        assert getattr(newsA.statistics(), counted) == 2
        assert getattr(sport.statistics(), counted) == 1
        for subscription in (news, newsA, sport):
            assert getattr(subscription.statistics(), other) == 0
        # Once per message in the subscriber's own count, as ZeroMQ delivers once per socket.
        assert getattr(subscriber.streamStatistics(), counted) == 4


# -- events ----------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_withoutReplayAGapIsLostAtOnce(
    factory: ZmqFactory, logged: list[dict[str, object]]
) -> None:
    with LossyForwarder(factory.context, drop=[(b"t", 3), (b"t", 4)]) as network:
        subscriber = ZmqSubConnection(factory, connect(network.back))
        log = EventLog(subscriber)
        publisher = ZmqPubConnection(factory, connect(network.front), sequenced=True)
        publisherId = publisher.publisherId
        assert publisherId is not None
        subscription = subscriber.subscribe(b"t")
        await bounded(publisher.waitForSubscribers(1, b"t"))
        publishAll(publisher, [b"t"], 6)
        got = [(await bounded(subscription.next())).sequence for _ in range(4)]
        assert got == [1, 2, 5, 6]
        await until(lambda: len(log.events) >= 3, "three stream events")
        seen = [(e.kind, e.publisher, e.tag, e.first, e.last, e.value) for e in log.events]
        assert seen == [
            (STARTED, publisherId, b"", 0, 0, 0),
            (GAP, publisherId, b"t", 3, 4, 2),
            (LOST, publisherId, b"t", 3, 4, 2),
        ]
        assert all(event.endpoint == "" for event in log.events)
        # A warning names the publisher, the tag and the numbers.
        warnings = [event for event in logged if "are missing" in str(event.get("log_format"))]
        assert len(warnings) == 1
        warning = warnings[0]
        assert warning["count"] == 2
        assert (warning["tag"], warning["first"], warning["last"]) == (b"t", 3, 4)
        assert warning["publisher"] == publisherId[:4].hex()


@pytest_twisted.ensureDeferred
async def test_withReplayEveryGapEndsInRecoveredAndLostEvents(factory: ZmqFactory) -> None:
    # The buffer keeps 5 messages: number 3 is gone when the subscriber asks, 18 is not.
    with LossyForwarder(factory.context, drop=[(b"t", 3), (b"t", 18)]) as network:
        address = inproc("replay")
        subscriber = ZmqSubConnection(factory, connect(network.back), replay=connect(address))
        log = EventLog(subscriber)
        publisher = ZmqPubConnection(
            factory, connect(network.front), sequenced=True, replay=bind(address), replayDepth=5
        )
        subscription = subscriber.subscribe(b"t")
        await bounded(publisher.waitForSubscribers(1, b"t"))
        publishAll(publisher, [b"t"], 20)
        got = [(await bounded(subscription.next())).sequence for _ in range(19)]
        assert got == [n for n in range(1, 21) if n != 3]
        await until(log.settled, "every gap to end")
        assertGapsAddUp(log.events)
        assert [(e.first, e.last, e.value) for e in log.of(GAP)] == [(3, 3, 1), (18, 18, 1)]
        assert [(e.first, e.last, e.value) for e in log.of(LOST)] == [(3, 3, 1)]
        assert [e.value for e in log.of(RECOVERED)] == [1]
        assert [e.publisher for e in log.of(STARTED)] == [publisher.publisherId]
        assert subscription.statistics().lost == 1
        assert subscription.statistics().recovered == 1
        replayed = publisher.replayStatistics()
        assert (replayed.replayed, replayed.buffered, replayed.replayDepth) == (1, 5, 5)


@pytest_twisted.ensureDeferred
async def test_aPublisherThatStopsBeatingIsReportedSilent(
    factory: ZmqFactory, logged: list[dict[str, object]]
) -> None:
    address, replay = inproc("data"), inproc("replay")
    # With replay= the subscriber hears heartbeats at once, before any message.
    subscriber = ZmqSubConnection(factory, connect(address), replay=connect(replay))
    log = EventLog(subscriber)
    publisher = ZmqPubConnection(
        factory, bind(address), sequenced=True, replay=bind(replay), heartbeatInterval=0.05
    )
    publisherId = publisher.publisherId
    await log.waitFor(STARTED)
    assert log.of(STARTED)[0].publisher == publisherId
    publisher.shutdown()
    await log.waitFor(SILENT)
    silent = log.of(SILENT)[0]
    assert silent.publisher == publisherId
    assert silent.value >= 150  # ms: three heartbeat intervals
    assert log.of(GAP, LOST, RESUMED) == []
    assert any("has been silent" in str(event.get("log_format")) for event in logged)


@pytest_twisted.ensureDeferred
async def test_aLatestNumberAheadOfTheDataPathIsNoGap(factory: ZmqFactory) -> None:
    """
    A subscriber asks a quiet publisher for its latest numbers; the answer comes straight
    from the publisher, while the messages published just before may still be on their
    way through a proxy. Those are in flight, not lost: the answer counts only once a
    heartbeat sent after it has come down the data path, behind them.
    """
    with LossyForwarder(factory.context) as network:
        address = inproc("replay")
        publisher = ZmqPubConnection(
            factory,
            connect(network.front),
            sequenced=True,
            replay=bind(address),
            heartbeatInterval=0.02,
        )
        subscriber = ZmqSubConnection(factory, connect(network.back), replay=connect(address))
        log = EventLog(subscriber)
        subscription = subscriber.subscribe(b"t")
        await bounded(publisher.waitForSubscribers(1, b"t"))
        publishAll(publisher, [b"t"], 3)
        assert await drain(subscriber, b"t", 3) == [(n, body(b"t", n)) for n in (1, 2, 3)]
        # A subscriber knows a publisher's heartbeat interval, and so when it falls silent,
        # from its first heartbeat: let one through before anything else.
        beats = network.heartbeats
        await until(lambda: network.heartbeats > beats, "a heartbeat after the messages")
        # The link stalls (in order: nothing overtakes anything). The subscriber finds the
        # publisher silent; a few heartbeats wait in the link, then three messages behind them.
        network.hold()
        await log.waitFor(SILENT)
        await until(lambda: network.heldHeartbeats >= 4, "heartbeats held in the link")
        # Heartbeats still on their way to the forwarder are ahead of the messages too:
        # this many at least.
        ahead = network.heldHeartbeats
        for n in (4, 5, 6):
            publisher.publish(body(b"t", n), b"t")
        await until(lambda: network.heldMessages == 3, "the messages held behind them")
        # Let the heartbeats ahead of the messages through one at a time, each seen (the
        # publisher resumes) before the next: quiet ones make the subscriber ask for the
        # latest numbers, which are 6 while 4 to 6 are still in the link.
        for passed in range(1, ahead + 1):
            network.release(1)
            await log.waitFor(RESUMED, passed)
            await log.waitFor(SILENT, passed + 1)
        assert subscriber.streamStatistics().replayRequests >= 1  # it did ask
        network.release()
        got = await drain(subscriber, b"t", 3)
        assert got == [(n, body(b"t", n)) for n in (4, 5, 6)]
        assert log.of(GAP, LOST, RECOVERED) == []
        streams = subscriber.streamStatistics()
        assert (streams.lost, streams.recovered, streams.duplicates) == (0, 0, 0)
        assert (subscription.statistics().lost, subscription.statistics().recovered) == (0, 0)


# -- publishers restarting, publishers side by side ---------------------------------------------


def bindAgain(factory: ZmqFactory, address: str, **options: object) -> Deferred[ZmqPubConnection]:
    """A publisher bound to *address* once the old socket's port is free, under the deadline."""
    bound: Deferred[ZmqPubConnection] = Deferred()

    def attempt() -> None:
        if bound.called:
            return
        try:
            publisher = ZmqPubConnection(factory, bind(address), **options)  # type: ignore[arg-type]
        except EndpointError:
            return  # the closed socket still holds the port
        bound.callback(publisher)

    return repeatUntil(attempt, bound, f"binding {address} again")


@pytest_twisted.ensureDeferred
async def test_aRestartedPublisherIsANewOneWithoutFalseGaps(factory: ZmqFactory) -> None:
    replays = [inproc("replay-before"), inproc("replay-after")]
    first = ZmqPubConnection(
        factory, bind("tcp://127.0.0.1:0"), sequenced=True, replay=bind(replays[0])
    )
    address = boundAddress(first)
    subscriber = ZmqSubConnection(
        factory, connect(address), replay=[connect(each) for each in replays]
    )
    log = EventLog(subscriber)
    subscription = subscriber.subscribe(b"t")
    await bounded(first.waitForSubscribers(1, b"t"))
    publishAll(first, [b"t"], 10)
    before = [await bounded(subscription.next()) for _ in range(10)]
    assert [(m.sequence, m.publisher) for m in before] == [
        (n, first.publisherId) for n in range(1, 11)
    ]
    first.shutdown()  # killed, numbers and all

    second = await bindAgain(factory, address, sequenced=True, replay=bind(replays[1]))
    assert second.publisherId != first.publisherId
    await bounded(second.waitForSubscribers(1, b"t"), "the subscriber to reconnect")
    publishAll(second, [b"t"], 5)
    after = [await bounded(subscription.next()) for _ in range(5)]
    assert [(m.sequence, m.publisher, m.body) for m in after] == [
        (n, second.publisherId, body(b"t", n)) for n in range(1, 6)
    ]
    await log.waitFor(STARTED, 2)
    assert [e.publisher for e in log.of(STARTED)] == [first.publisherId, second.publisherId]
    assert log.of(GAP, LOST, RECOVERED) == []
    streams = subscriber.streamStatistics()
    assert (streams.lost, streams.recovered, streams.duplicates) == (0, 0, 0)
    assert (subscription.statistics().lost, subscription.statistics().recovered) == (0, 0)
    assert second.replayStatistics().replayed == 0


@pytest_twisted.ensureDeferred
async def test_twoPublishersGapsAreRecoveredFromTheRightOne(factory: ZmqFactory) -> None:
    count = 150
    ownTags = {b"A": (b"a.1", b"a.2"), b"B": (b"b.1", b"b.2")}
    # Random losses, plus one loss and one tail loss forced in each publisher's tags.
    forced = [(b"a.1", 5), (b"a.2", count), (b"b.1", 5), (b"b.2", count)]
    with LossyForwarder(factory.context, rate=RATE, seed=SEED, drop=forced) as network:
        replays = {name: inproc(f"replay-{name.decode()}") for name in ownTags}
        publishers = {
            name: ZmqPubConnection(
                factory,
                connect(network.front),
                sequenced=True,
                replay=bind(replays[name]),
                heartbeatInterval=0.05,
            )
            for name in ownTags
        }
        subscriber = ZmqSubConnection(
            factory,
            connect(network.back),
            replay=[connect(replays[b"A"]), connect(replays[b"B"])],
        )
        allTags = [tag for tags in ownTags.values() for tag in tags]
        subscriptions = {tag: subscriber.subscribe(tag) for tag in allTags}
        for name, tags in ownTags.items():
            for tag in tags:
                await bounded(publishers[name].waitForSubscribers(1, tag))
        for name, tags in ownTags.items():
            publishAll(publishers[name], tags, count)
        for tag in allTags:
            got = await drain(subscriber, tag, count)
            assert got == [(n, body(tag, n)) for n in range(1, count + 1)]
        await until(lambda: network.received == len(allTags) * count, "every message")
        for name, publisher in publishers.items():
            dropped = network.count(publisher=publisher.publisherId)
            assert dropped == sum(network.count(tag) for tag in ownTags[name]) >= 2
            statistics = publisher.replayStatistics()
            assert statistics.replayed == dropped  # each gap asked of its own publisher
            assert statistics.refused == 0
        # Until it learns whose is whose, the subscriber asks both: one says "not mine".
        assert sum(p.replayStatistics().notMine for p in publishers.values()) >= 1
        for tag in allTags:
            assert subscriptions[tag].statistics().recovered == network.count(tag)
            assert subscriptions[tag].statistics().lost == 0
        streams = subscriber.streamStatistics()
        assert (streams.publishers, streams.streams) == (2, 4)
        assert streams.recovered == len(network.drops)
        assert (streams.lost, streams.duplicates, streams.replayTimeouts) == (0, 0, 0)


# -- working with what exists ---------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_theLastValueRepeatReachesTheLateJoinerOnly(factory: ZmqFactory) -> None:
    address = inproc("lvc")
    publisher = ZmqPubConnection(factory, bind(address), sequenced=True, lastValueCache=True)
    early = ZmqSubConnection(factory, connect(address))
    earlyNews = early.subscribe(b"news")
    await bounded(publisher.waitForSubscribers(1, b"news"))
    publishAll(publisher, [b"news.a"], 3)
    assert [(await bounded(earlyNews.next())).sequence for _ in range(3)] == [1, 2, 3]

    late = ZmqSubConnection(factory, connect(address))
    lateNews = late.subscribe(b"news")
    repeat = await bounded(lateNews.next(), "the cached value")
    assert repeat == Message(b"news.a", body(b"news.a", 3))
    assert (repeat.sequence, repeat.publisher) == (3, publisher.publisherId)
    # The early subscriber got the repeat too, and dropped it: it had number 3.
    await until(lambda: early.streamStatistics().duplicates == 1, "the repeat dropped")
    publisher.publish(body(b"news.a", 4), b"news.a")
    assert (await bounded(earlyNews.next())).sequence == 4  # not 3 again
    assert (await bounded(lateNews.next())).sequence == 4
    for subscriber, news in ((early, earlyNews), (late, lateNews)):
        assert news.statistics().queued == 0
        assert (news.statistics().lost, news.statistics().recovered) == (0, 0)
        assert subscriber.streamStatistics().lost == 0
    assert late.streamStatistics().duplicates == 0


@pytest.mark.parametrize("replay", [False, True], ids=["without-replay", "with-replay"])
@pytest_twisted.ensureDeferred
async def test_subscribingAgainIsNoGap(factory: ZmqFactory, replay: bool) -> None:
    publisher, subscriber = directPair(factory, replay)
    log = EventLog(subscriber)
    subscription = subscriber.subscribe(b"t")
    await bounded(publisher.waitForSubscribers(1, b"t"))
    published: list[int] = []

    def publishOne() -> None:
        published.append(len(published) + 1)
        publisher.publish(body(b"t", published[-1]), b"t")

    flowing = LoopingCall(publishOne)
    flowing.start(0.002)
    try:
        first = [(await bounded(subscription.next())).sequence for _ in range(5)]
        assert first == [1, 2, 3, 4, 5]
        # From a fresh reactor turn, not from inside the delivery of a batch.
        await deferLater(reactor, 0, lambda: None)
        subscriber.unsubscribe(b"t")
        await until(lambda: b"t" not in publisher.subscriptions, "the unsubscribe upstream")
        left = len(published)
        await until(lambda: len(published) > left + 5, "messages published to nobody")
        again = subscriber.subscribe(b"t")
        resumed = (await bounded(again.next(), "a message after subscribing again")).sequence
        assert resumed is not None
        assert resumed > left + 5
        rest = [(await bounded(again.next())).sequence for _ in range(5)]
        assert rest == list(range(resumed + 1, resumed + 6))
    finally:
        flowing.stop()
    assert (again.statistics().lost, again.statistics().recovered) == (0, 0)
    streams = subscriber.streamStatistics()
    assert (streams.lost, streams.recovered, streams.duplicates) == (0, 0, 0)
    assert log.of(GAP, LOST, RECOVERED) == []


@pytest.mark.parametrize("replay", [False, True], ids=["without-replay", "with-replay"])
@pytest_twisted.ensureDeferred
async def test_unsubscribingWhileABatchIsDeliveredIsNoGap(
    factory: ZmqFactory, replay: bool
) -> None:
    publisher, subscriber = directPair(factory, replay)
    subscription = subscriber.subscribe(b"t")
    await bounded(publisher.waitForSubscribers(1, b"t"))
    publishAll(publisher, [b"t"], 10)  # one batch at the subscriber
    assert (await bounded(subscription.next())).sequence == 1
    # This runs in next()'s callback, inside the delivery of the batch that holds 2 to 10:
    # an async for loop that unsubscribes and breaks does the same.
    subscriber.unsubscribe(b"t")
    await until(lambda: b"t" not in publisher.subscriptions, "the unsubscribe upstream")
    for n in range(11, 21):  # nobody listens
        publisher.publish(body(b"t", n), b"t")
    again = subscriber.subscribe(b"t")
    await bounded(publisher.waitForSubscribers(1, b"t"))
    publisher.publish(body(b"t", 21), b"t")
    assert (await bounded(again.next())).sequence == 21  # not 11, replayed
    streams = subscriber.streamStatistics()
    assert (streams.lost, streams.recovered) == (0, 0)


@pytest_twisted.ensureDeferred
async def test_messagesCarryTheirNumberAndPublisher(factory: ZmqFactory) -> None:
    address = inproc("data")
    sequenced = ZmqPubConnection(factory, bind(address), sequenced=True)
    plain = ZmqPubConnection(factory, bind(inproc("plain")))
    subscriber = ZmqSubConnection(factory, connect(address))
    subscriber.addEndpoints([connect(plain.endpoints[0].address)])
    subscription = subscriber.subscribe(b"t")
    await bounded(sequenced.waitForSubscribers(1, b"t"))
    await bounded(plain.waitForSubscribers(1, b"t"))
    publisherId = sequenced.publisherId
    assert type(publisherId) is bytes
    assert len(publisherId) == 16
    assert plain.publisherId is None
    sequenced.publish(b"one", b"t")
    sequenced.publish(b"two", b"t")
    one, two = [await bounded(subscription.next()) for _ in range(2)]
    assert (one.sequence, one.publisher) == (1, publisherId)
    assert (two.sequence, two.publisher) == (2, publisherId)
    assert one == Message(b"t", b"one")
    assert hash(one) == hash(Message(b"t", b"one"))
    assert one.extra == ()  # the stamp is not an extra frame
    plain.publish(b"three", b"t")
    three = await bounded(subscription.next())
    assert three == Message(b"t", b"three")
    assert (three.sequence, three.publisher) == (None, None)


@pytest_twisted.ensureDeferred
async def test_heartbeatsAreInvisible(factory: ZmqFactory) -> None:
    assert HEARTBEAT_TAG == INTERNAL_HEARTBEAT_TAG  # the wire format the forwarder knows
    address = inproc("data")
    publisher = ZmqPubConnection(factory, bind(address), sequenced=True, heartbeatInterval=0.01)
    subscriber = ZmqSubConnection(factory, connect(address))
    log = EventLog(subscriber)
    everything = subscriber.subscribe(b"")  # matches the heartbeats' tag too
    raw = factory.context.socket(zmq.SUB)
    try:
        raw.connect(address)
        raw.subscribe(HEARTBEAT_TAG)
        await bounded(publisher.waitForSubscribers(1))
        # Nothing is published yet: the publisher is heard through its heartbeats.
        await log.waitFor(STARTED)
        beats: list[list[bytes]] = []

        def readBeats() -> bool:
            while raw.poll(0):
                beats.append(raw.recv_multipart())
            return len(beats) >= 3

        readBeats()
        beats.clear()
        # A raw subscriber sees more heartbeats go by, to the txzpub subscriber too.
        await until(readBeats, "three more heartbeats")
        assert all(frames[0] == HEARTBEAT_TAG and len(frames) == 3 for frames in beats)
        publisher.publish(b"only", b"x")  # after those heartbeats, on the same pipe
        assert await bounded(everything.next()) == Message(b"x", b"only")
        assert everything.statistics().queued == 0  # no heartbeat was delivered
        assert list(subscriber.subscriptions) == [b""]
        assert dict(publisher.subscriptions) == {b"": 1}
        streams = subscriber.streamStatistics()
        assert (streams.publishers, streams.streams, streams.malformed) == (1, 1, 0)
    finally:
        raw.close(0)


@pytest_twisted.ensureDeferred
async def test_heartbeatSubscriptionsAreNeverCounted(factory: ZmqFactory) -> None:
    address, replay = inproc("data"), inproc("replay")
    publisher = ZmqPubConnection(factory, bind(address), sequenced=True, replay=bind(replay))
    waiting = publisher.waitForSubscribers(1, HEARTBEAT_TAG)
    # With replay= the subscriber subscribes to the heartbeats at once, before any of its own.
    subscriber = ZmqSubConnection(factory, connect(address), replay=connect(replay))
    raw = factory.context.socket(zmq.SUB)
    try:
        raw.connect(address)
        raw.subscribe(HEARTBEAT_TAG)
        raw.subscribe(b"z")
        subscriber.subscribe(b"z")
        # Subscriptions from one peer arrive in order: once z is counted twice,
        # both heartbeat subscriptions have reached the publisher too.
        await bounded(publisher.waitForSubscribers(2, b"z"))
        assert dict(publisher.subscriptions) == {b"z": 2}
        assert not waiting.called
    finally:
        raw.close(0)
        waiting.cancel()
    with pytest.raises(CancelledError):
        await waiting


@pytest_twisted.ensureDeferred
async def test_aRawSubscriberSeesTheStampAsAThirdFrame(factory: ZmqFactory) -> None:
    address = inproc("data")
    publisher = ZmqPubConnection(factory, bind(address), sequenced=True)
    raw = factory.context.socket(zmq.SUB)
    try:
        raw.connect(address)
        raw.subscribe(b"t")
        await bounded(publisher.waitForSubscribers(1, b"t"))
        publisher.publish(b"hello", b"t")
        publisher.publish(b"again", b"t")
        received: list[list[bytes]] = []

        def receive() -> bool:
            while raw.poll(0):
                received.append(raw.recv_multipart())
            return len(received) >= 2

        await until(receive, "the raw subscriber to receive both")
    finally:
        raw.close(0)
    stamp = b"\xa7tz1D" + (publisher.publisherId or b"")
    assert received == [
        [b"t", b"hello", stamp + (1).to_bytes(8, "big")],
        [b"t", b"again", stamp + (2).to_bytes(8, "big")],
    ]


class StalledPublisher(ZmqPubConnection):
    highWaterMark = 10
    maxPending = 5


class StalledSubscriber(ZmqSubConnection):
    highWaterMark = 10


@pytest_twisted.ensureDeferred
async def test_aRefusedPublishLosslessUsesNoNumber(factory: ZmqFactory) -> None:
    address = inproc("lossless")
    publisher = StalledPublisher(factory, bind(address), noDrop=True, sequenced=True)
    subscriber = StalledSubscriber(
        factory, connect(address), maxQueued=10, overflow=OverflowPolicy.PAUSE
    )
    subscription = subscriber.subscribe(b"t")
    await bounded(publisher.waitForSubscribers(1, b"t"))
    refused: list[int] = []

    def refusal(n: int) -> Callable[[Failure], None]:
        def refusedOne(failure: Failure) -> None:
            failure.trap(PublishQueueFull)
            refused.append(n)

        return refusedOne

    # Nobody reads: ZeroMQ's pipe, the subscriber's queue and the publisher's queue fill up.
    sent = []
    for n in range(1, 201):
        d = publisher.publishLossless(body(b"t", n), b"t")
        sent.append(d.addErrback(refusal(n)))
    assert refused  # the publisher's queue was full
    accepted = [n for n in range(1, 201) if n not in refused]
    got = [await bounded(subscription.next()) for _ in range(len(accepted))]
    assert [m.body for m in got] == [body(b"t", n) for n in accepted]
    assert [m.sequence for m in got] == list(range(1, len(accepted) + 1))  # no number skipped
    for d in sent:
        await bounded(d)
    after = publisher.publishLossless(b"after", b"t")
    message = await bounded(subscription.next())
    assert (message.body, message.sequence) == (b"after", len(accepted) + 1)
    await bounded(after)
    assert subscription.statistics().lost == 0
    assert subscriber.streamStatistics().lost == 0


class Legacy(ZmqSubConnection):
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.got: list[tuple[bytes, bytes]] = []
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self.got.append((tag, message))


@pytest_twisted.ensureDeferred
async def test_gotMessageGetsRecoveredMessagesInOrderOnce(factory: ZmqFactory) -> None:
    with LossyForwarder(factory.context, rate=RATE, seed=SEED + 1, drop=[(b"beta", N)]) as network:
        address = inproc("replay")
        publisher = ZmqPubConnection(
            factory,
            connect(network.front),
            sequenced=True,
            replay=bind(address),
            heartbeatInterval=0.05,
        )
        subscriber = Legacy(factory, connect(network.back), replay=connect(address))
        for tag in TAGS:
            subscriber.subscribe(tag)
            await bounded(publisher.waitForSubscribers(1, tag))
        publishAll(publisher, TAGS, N)
        await until(lambda: len(subscriber.got) >= len(TAGS) * N, "every message")
        for tag in TAGS:
            assert [b for t, b in subscriber.got if t == tag] == [
                body(tag, n) for n in range(1, N + 1)
            ]
        assert len(subscriber.got) == len(TAGS) * N
        assert network.count() > len(TAGS)
        assert subscriber.streamStatistics().recovered == network.count()
        assert subscriber.streamStatistics().lost == 0


@pytest.mark.parametrize("replay", [False, True], ids=["without-replay", "with-replay"])
@pytest_twisted.ensureDeferred
async def test_aLocalQueueDropIsDroppedNotLost(factory: ZmqFactory, replay: bool) -> None:
    publisher, subscriber = directPair(
        factory, replay, maxQueued=5, overflow=OverflowPolicy.DROP_OLDEST
    )
    subscription = subscriber.subscribe(b"t")
    await bounded(publisher.waitForSubscribers(1, b"t"))
    publishAll(publisher, [b"t"], 50)  # nobody reads
    await until(lambda: subscription.statistics().dropped == 45, "the queue to drop 45")
    statistics = subscription.statistics()
    assert (statistics.queued, statistics.lost, statistics.recovered) == (5, 0, 0)
    newest = [(await bounded(subscription.next())).sequence for _ in range(5)]
    assert newest == [46, 47, 48, 49, 50]
    streams = subscriber.streamStatistics()
    assert (streams.lost, streams.recovered, streams.duplicates) == (0, 0, 0)


# -- bad options ------------------------------------------------------------------------------------


def test_badOptions(factory: ZmqFactory) -> None:
    before = set(factory.connections)
    with pytest.raises(TypeError, match=r"^sequenced must be True or False, not 'yes' \(str\)$"):
        ZmqPubConnection(factory, sequenced="yes")  # type: ignore[arg-type]
    with pytest.raises(
        ConfigurationError, match=r"^replay= needs a publisher created with sequenced=True$"
    ):
        ZmqPubConnection(factory, replay=bind(inproc("replay")))
    with pytest.raises(ValueError, match=r"^replayDepth must be >= 1, not 0 \(int\)$"):
        ZmqPubConnection(factory, sequenced=True, replayDepth=0)
    with pytest.raises(ValueError, match=r"^replayBytes must be >= 1, not 0 \(int\)$"):
        ZmqPubConnection(factory, sequenced=True, replayBytes=0)
    with pytest.raises(
        ValueError,
        match=r"^heartbeatInterval must be a number of seconds >= 0.001, not 0 \(int\)$",
    ):
        ZmqPubConnection(factory, sequenced=True, heartbeatInterval=0)
    with pytest.raises(
        ValueError,
        match=r"^replayTimeout must be a finite number of seconds >= 0, not -1 \(int\)$",
    ):
        ZmqSubConnection(factory, replayTimeout=-1)
    with pytest.raises(
        TypeError,
        match=r"^endpoint must be a ZmqEndpoint\(type, address\), "
        r"not 'tcp://127.0.0.1:5555' \(str\)$",
    ):
        ZmqSubConnection(factory, replay="tcp://127.0.0.1:5555")  # type: ignore[arg-type]
    assert set(factory.connections) == before  # nothing half-built was left behind
    with pytest.raises(
        ConfigurationError,
        match=r"^replayStatistics\(\) needs a publisher created with sequenced=True$",
    ):
        ZmqPubConnection(factory).replayStatistics()
