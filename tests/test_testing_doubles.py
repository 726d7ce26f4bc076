"""
txzpub.testing's in-memory connections: the real API, the real queues, a Clock.

Each test builds a MemoryFactory on its own Clock and checks a guarantee of the
real connections through the memory ones, synchronously: nothing here opens a
socket, starts a reactor or sleeps. ``tests/trial_doubles.py`` runs a few of
the same under trial (test_underTrial).
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import unittest
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import CancelledError, Deferred, ensureDeferred
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogEvent, globalLogPublisher
from twisted.python.failure import Failure

import txzpub.testing
from txzpub import (
    ConfigurationError,
    ConnectionClosed,
    ConnectionEventKind,
    EndpointError,
    Message,
    OverflowPolicy,
    ReceiveTimeout,
    Request,
    SubscriberTimeout,
    SubscriptionClosed,
    ZmqDealerConnection,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRequestTimeoutError,
    ZmqRouterConnection,
    ZmqSubConnection,
)
from txzpub.testing import (
    MemoryDealerConnection,
    MemoryFactory,
    MemoryPubConnection,
    MemoryPullConnection,
    MemoryPushConnection,
    MemoryREPConnection,
    MemoryREQConnection,
    MemoryRouterConnection,
    MemorySubConnection,
    waitForSubscription,
)

ROOT = Path(__file__).resolve().parent.parent

PAIRS = [
    (MemoryPubConnection, ZmqPubConnection),
    (MemorySubConnection, ZmqSubConnection),
    (MemoryPushConnection, ZmqPushConnection),
    (MemoryPullConnection, ZmqPullConnection),
    (MemoryREQConnection, ZmqREQConnection),
    (MemoryREPConnection, ZmqREPConnection),
    (MemoryDealerConnection, ZmqDealerConnection),
    (MemoryRouterConnection, ZmqRouterConnection),
]


def bind(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.bind, address)


def connect(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.connect, address)


def result(d: Deferred[Any]) -> Any:
    """The result *d* already has (a failure is raised)."""
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, f"{d!r} has no result yet"
    if isinstance(box[0], Failure):
        box[0].raiseException()
    return box[0]


def failureOf(d: Deferred[Any]) -> BaseException:
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, f"{d!r} has no result yet"
    assert isinstance(box[0], Failure), f"{d!r} succeeded with {box[0]!r}"
    return box[0].value


def hasNoResult(d: Deferred[Any]) -> bool:
    return not d.called


@pytest.fixture
def bus() -> MemoryFactory:
    return MemoryFactory()


@pytest.fixture
def logged() -> Any:
    events: list[LogEvent] = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


def pubsub(bus: MemoryFactory, **options: Any) -> tuple[MemoryPubConnection, MemorySubConnection]:
    pub = MemoryPubConnection(bus, bind("inproc://news"), **options)
    return pub, MemorySubConnection(bus, connect("inproc://news"))


# -- the same classes, the same API ------------------------------------------------------


@pytest.mark.parametrize(("memory", "real"), PAIRS, ids=lambda c: c.__name__)
def test_publicAPIMatchesTheRealClass(memory: type, real: type) -> None:
    """Every public method of the real class is there, with the same parameters."""
    assert issubclass(memory, real)
    names = [n for n in dir(real) if not n.startswith("_") or n in {"__init__", "__aiter__"}]
    for name in names:
        ours, theirs = inspect.getattr_static(memory, name), inspect.getattr_static(real, name)
        if not callable(theirs):
            continue
        assert callable(ours), name
        mine, original = inspect.signature(getattr(memory, name)), inspect.signature(theirs)
        shape = [(p.name, p.kind, p.default) for p in original.parameters.values()]
        assert [(p.name, p.kind, p.default) for p in mine.parameters.values()] == shape, name


def test_factoryAPIMatchesZmqFactory() -> None:
    assert issubclass(MemoryFactory, ZmqFactory)
    for name in ("__init__", "shutdown", "registerForShutdown"):
        ours = inspect.signature(getattr(MemoryFactory, name)).parameters
        theirs = inspect.signature(getattr(ZmqFactory, name)).parameters
        assert [(p.name, p.default) for p in ours.values()] == [
            (p.name, p.default) for p in theirs.values()
        ]


def test_theModuleExampleRuns() -> None:
    """The example test in txzpub.testing's docstring passes as written."""
    docstring = txzpub.testing.__doc__
    assert docstring is not None
    block = docstring.split("::\n", 1)[1].split("\nTo test your own", 1)[0]
    namespace: dict[str, Any] = {}
    exec(inspect.cleandoc("\n" + block), namespace)  # noqa: S102 - our own docstring
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(namespace["NewsTests"])
    outcome = unittest.TestResult()
    suite.run(outcome)
    assert outcome.testsRun == 1
    assert outcome.wasSuccessful(), outcome.failures + outcome.errors


def test_realConnectionsRefuseAMemoryFactory(bus: MemoryFactory) -> None:
    with pytest.raises(TypeError, match=r"^a MemoryFactory has no ZeroMQ context; create"):
        ZmqSubConnection(bus)


def test_memoryConnectionsRefuseOtherFactories() -> None:
    with pytest.raises(TypeError, match=r"^factory must be a txzpub.testing.MemoryFactory"):
        MemorySubConnection(object())  # type: ignore[arg-type]


def test_bindingTwiceIsAddressInUse(bus: MemoryFactory) -> None:
    MemoryPubConnection(bus, bind("inproc://x"))
    with pytest.raises(EndpointError, match=r"^cannot bind to 'inproc://x': Address already"):
        MemoryPubConnection(bus, bind("inproc://x"))
    assert len(bus.connections) == 1


def test_worksOnAMemoryReactorClock() -> None:
    clock = MemoryReactorClock()
    bus = MemoryFactory(clock)
    pub, sub = pubsub(bus)
    received = sub.next(b"")
    pub.publish(b"x")
    clock.advance(0)
    assert result(received) == Message(b"", b"x")
    assert clock.getDelayedCalls() == []


# -- publish and subscribe ------------------------------------------------------------------


def test_deliveryWaitsForTheNextClockTurn(bus: MemoryFactory) -> None:
    pub, sub = pubsub(bus)
    received = sub.next(b"news")
    pub.publish(b"rain", b"news")
    assert hasNoResult(received)
    bus.clock.advance(0)
    assert result(received) == Message(b"news", b"rain")


def test_prefixesRouteAsZeroMQFilters(bus: MemoryFactory) -> None:
    pub, sub = pubsub(bus)
    news, everything = sub.subscribe(b"news"), sub.subscribe(b"")
    pub.publish(b"1", b"newsletter")
    pub.publish(b"2", "weather")
    bus.flush()
    assert result(news.nextBatch()) == [Message(b"newsletter", b"1")]
    assert [m.body for m in result(everything.nextBatch())] == [b"1", b"2"]


def test_aSubscriberOnlyReceivesWhatItSubscribed(bus: MemoryFactory) -> None:
    pub, sub = pubsub(bus)
    pub.publish(b"before", b"news")
    received = sub.next(b"news")
    bus.flush()
    pub.publish(b"after", b"news")
    bus.flush()
    assert result(received).body == b"after"


def test_nextBatchGetsAWholeTurn(bus: MemoryFactory) -> None:
    pub, sub = pubsub(bus)
    batch = sub.subscribe(b"t").nextBatch()
    for n in range(3):
        pub.publish(str(n), b"t")
    bus.flush()
    assert [m.body for m in result(batch)] == [b"0", b"1", b"2"]


def test_timeoutsFireAsTheClockAdvancesAndLoseNothing(bus: MemoryFactory) -> None:
    pub, sub = pubsub(bus)
    waiting = sub.next(b"t", timeout=5)
    bus.clock.advance(4.9)
    assert hasNoResult(waiting)
    bus.clock.advance(0.1)
    assert isinstance(failureOf(waiting), ReceiveTimeout)
    pub.publish(b"late", b"t")
    bus.flush()
    assert result(sub.next(b"t")).body == b"late"


def test_cancellingAWaiterPassesTheMessageOn(bus: MemoryFactory) -> None:
    pub, sub = pubsub(bus)
    first, second = sub.next(b"t"), sub.next(b"t")
    first.cancel()
    pub.publish(b"m", b"t")
    bus.flush()
    assert isinstance(failureOf(first), CancelledError)
    assert result(second).body == b"m"


def test_overflowPoliciesApply(bus: MemoryFactory) -> None:
    pub, _ = pubsub(bus, multipartFraming=True)
    limited = MemorySubConnection(
        bus, connect("inproc://news"), maxQueued=2, overflow=OverflowPolicy.DROP_NEWEST
    )
    queue = limited.subscribe(b"t")
    for n in range(4):
        pub.publish(str(n), b"t")
    bus.flush()
    assert queue.statistics().dropped == 2
    assert [m.body for m in result(queue.nextBatch())] == [b"0", b"1"]


def test_unsubscribingClosesTheQueueAfterItDrains(bus: MemoryFactory) -> None:
    pub, sub = pubsub(bus)
    queue = sub.subscribe(b"t")
    pub.publish(b"kept", b"t")
    bus.flush()
    sub.unsubscribe(b"t")
    pub.publish(b"unseen", b"t")
    bus.flush()
    assert result(queue.next()).body == b"kept"
    assert isinstance(failureOf(queue.next()), SubscriptionClosed)


def test_shutdownFailsWaitersAndEndsAsyncFor(bus: MemoryFactory) -> None:
    pub, sub = pubsub(bus)
    seen: list[bytes] = []

    async def read() -> None:
        async for message in sub.subscribe(b"t"):
            seen.append(message.body)

    loop = ensureDeferred(read())
    waiting = sub.next(b"other")
    pub.publish(b"1", b"t")
    bus.flush()
    sub.shutdown()
    sub.shutdown()  # twice is fine
    assert seen == [b"1"]
    assert result(loop) is None
    assert isinstance(failureOf(waiting), ConnectionClosed)
    assert isinstance(failureOf(sub.next(b"t")), ConnectionClosed)
    with pytest.raises(ConnectionClosed):
        sub.subscribe(b"t")


def test_publishChecksLikeTheRealOne(bus: MemoryFactory) -> None:
    pub, _ = pubsub(bus)
    with pytest.raises(TypeError, match=r"^message must be bytes or str, not 3 \(int\)$"):
        pub.publish(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"contains \(or runs into\) the separator"):
        pub.publish(b"x", b"a\0b")
    pub.shutdown()
    with pytest.raises(ConnectionClosed):
        pub.publish(b"x")
    assert bus.published == []


def test_publishedRecordsEveryPublication(bus: MemoryFactory) -> None:
    pub = MemoryPubConnection(bus, bind("inproc://a"), multipartFraming=True, noDrop=True)
    quiet = MemoryPubConnection(bus)
    pub.publish("one", "t")
    assert result(pub.publishLossless(b"two", b"t\0x")) is None
    quiet.publish(b"three")
    assert bus.published == [
        ("inproc://a", Message(b"t", b"one")),
        ("inproc://a", Message(b"t\0x", b"two")),
        ("", Message(b"", b"three")),
    ]


def test_publishLosslessNeedsNoDrop(bus: MemoryFactory) -> None:
    pub, _ = pubsub(bus)
    with pytest.raises(ConfigurationError):
        pub.publishLossless(b"x")


def test_noLastValueCacheInMemory(bus: MemoryFactory) -> None:
    with pytest.raises(ConfigurationError, match="no last value cache"):
        MemoryPubConnection(bus, lastValueCache=True)


def test_noSequencedStreamsInMemory(bus: MemoryFactory) -> None:
    """Stamps, heartbeats and replay need real sockets: said at once, nothing left behind."""
    with pytest.raises(ConfigurationError, match="no sequenced streams"):
        MemoryPubConnection(bus, bind("inproc://seq"), sequenced=True)
    with pytest.raises(ConfigurationError, match="no sequenced streams"):
        MemorySubConnection(bus, connect("inproc://seq"), replay=connect("inproc://replay"))
    assert not bus.connections
    assert not bus.clock.getDelayedCalls()


def test_thePublisherSeesItsSubscribers(bus: MemoryFactory) -> None:
    sub = MemorySubConnection(bus, connect("inproc://news"))
    sub.subscribe(b"news")
    pub = MemoryPubConnection(bus, bind("inproc://news"))
    changes: list[tuple[bytes, bool]] = []
    pub.onSubscription(lambda prefix, on: changes.append((prefix, on)))
    assert dict(pub.subscriptions) == {b"news": 1}  # subscribed before the publisher bound
    two = pub.waitForSubscribers(2, b"news.sports")
    other = MemorySubConnection(bus, connect("inproc://news"))
    other.subscribe(b"")
    assert hasNoResult(two)
    bus.flush()
    assert result(two) is None
    assert changes == [(b"", True)]
    other.shutdown()
    bus.flush()
    assert dict(pub.subscriptions) == {b"news": 1}
    late = pub.waitForSubscribers(3, timeout=1)
    bus.clock.advance(1)
    assert isinstance(failureOf(late), SubscriberTimeout)


def test_waitForSubscriptionWorksInMemory(bus: MemoryFactory) -> None:
    pub, sub = pubsub(bus)
    sub.subscribe(b"t")
    ready = waitForSubscription(pub, sub, timeout=1)
    bus.clock.advance(0)
    assert result(ready) is None
    assert bus.clock.getDelayedCalls() == []


def test_txzmqStyleSubclassesMixIn(bus: MemoryFactory) -> None:
    class NewsSubscriber(ZmqSubConnection):  # the application's own class
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.got: list[tuple[bytes, bytes]] = []

        def gotMessage(self, message: bytes, tag: bytes) -> None:
            self.got.append((tag, message))

    class MemoryNews(NewsSubscriber, MemorySubConnection):
        pass

    pub = MemoryPubConnection(bus, bind("inproc://news"))
    sub = MemoryNews(bus, connect("inproc://news"))
    sub.subscribe(b"news")
    pub.publish(b"rain", b"news")
    bus.flush()
    assert sub.got == [(b"news", b"rain")]


def test_gotMessageAssignedOnTheInstance(bus: MemoryFactory) -> None:
    pub, sub = pubsub(bus)
    got: list[bytes] = []
    sub.gotMessage = lambda message, tag: got.append(message)  # type: ignore[method-assign]
    sub.subscribe(b"")
    pub.publish(b"m")
    bus.flush()
    assert got == [b"m"]


# -- pipelines -----------------------------------------------------------------------------


def test_pushRoundRobinsAndWaitsForAPeer(bus: MemoryFactory) -> None:
    push = MemoryPushConnection(bus, bind("inproc://work"))
    push.push(b"early")
    push.push([b"two", "frames"])
    bus.flush()
    first = MemoryPullConnection(bus, connect("inproc://work"))
    second = MemoryPullConnection(bus, connect("inproc://work"))
    push.push(b"third")
    push.push(b"fourth")
    bus.flush()
    assert result(first.nextBatch()) == [[b"early"], [b"two", b"frames"], [b"third"]]
    assert result(second.next()) == [b"fourth"]
    assert [frames for _, frames in bus.sent] == [
        [b"early"],
        [b"two", b"frames"],
        [b"third"],
        [b"fourth"],
    ]
    assert {address for address, _ in bus.sent} == {"inproc://work"}


def test_aFullPauseQueueStopsDeliveryUntilDrained(bus: MemoryFactory) -> None:
    push = MemoryPushConnection(bus, bind("inproc://work"))
    pull = MemoryPullConnection(bus, connect("inproc://work"), maxQueued=2)
    for n in range(3):  # one read batch: all of it is queued, then reading pauses
        push.push(str(n))
    bus.flush()
    for n in range(3, 6):
        push.push(str(n))
    bus.flush()
    assert pull.statistics().queued == 3
    assert pull.statistics().dropped == 0
    assert result(pull.next()) == [b"0"]
    assert result(pull.next()) == [b"1"]  # drained to half: reading resumes
    bus.flush()
    assert [f[0] for f in result(pull.nextBatch())] == [b"2", b"3", b"4", b"5"]


def test_onPullReceivesEveryMessage(bus: MemoryFactory, logged: list[LogEvent]) -> None:
    push = MemoryPushConnection(bus, bind("inproc://work"))
    pull = MemoryPullConnection(bus, connect("inproc://work"))
    got: list[list[bytes]] = []

    def onPull(frames: list[bytes]) -> None:
        got.append(frames)
        if frames == [b"bad"]:
            raise RuntimeError

    pull.onPull = onPull  # type: ignore[method-assign,assignment]
    for each in (b"a", b"bad", b"c"):
        push.push(each)
    bus.flush()
    assert got == [[b"a"], [b"bad"], [b"c"]]
    assert any("handler raised" in str(e.get("log_format")) for e in logged)


# -- requests and replies --------------------------------------------------------------------


def reqrep(bus: MemoryFactory) -> tuple[MemoryREQConnection, MemoryREPConnection]:
    rep = MemoryREPConnection(bus, bind("inproc://svc"))
    return MemoryREQConnection(bus, connect("inproc://svc")), rep


def test_serveAnswersInOneTurn(bus: MemoryFactory) -> None:
    req, rep = reqrep(bus)
    rep.serve(lambda command, symbol: [b"ok", symbol])
    reply = req.sendMsg(b"price", "AAPL", timeout=5)
    assert hasNoResult(reply)
    bus.flush()
    assert result(reply) == [b"ok", b"AAPL"]
    assert bus.sent == [("inproc://svc", [b"price", b"AAPL"]), ("inproc://svc", [b"ok", b"AAPL"])]
    assert bus.clock.getDelayedCalls() == []


def test_aDeferredHandlerRepliesWhenItFires(bus: MemoryFactory) -> None:
    req, rep = reqrep(bus)
    later: Deferred[bytes] = Deferred()
    rep.serve(lambda *parts: later)
    reply = req.sendMsg(b"q")
    bus.flush()
    assert hasNoResult(reply)
    later.callback(b"a")
    bus.flush()
    assert result(reply) == [b"a"]


def test_requestsFromNextAreRepliedInAnyOrder(bus: MemoryFactory) -> None:
    req, rep = reqrep(bus)
    one, two = req.sendMsg(b"1"), req.sendMsg(b"2")
    bus.flush()
    first, second = result(rep.nextBatch())
    assert isinstance(first, Request)
    second.reply(b"two")
    first.reply(b"one")
    bus.flush()
    assert (result(one), result(two)) == ([b"one"], [b"two"])


def test_legacyGotMessageAndReply(bus: MemoryFactory) -> None:
    req, rep = reqrep(bus)
    rep.gotMessage = lambda messageId, *parts: rep.reply(messageId, b"re", *parts)  # type: ignore[method-assign]
    reply = req.sendMsg(b"x")
    bus.flush()
    assert result(reply) == [b"re", b"x"]


def test_requestTimeoutsFireOnTheClock(bus: MemoryFactory) -> None:
    req, _ = reqrep(bus)
    reply = req.sendMsg(b"x", timeout=2)
    bus.flush()
    bus.clock.advance(2)
    assert isinstance(failureOf(reply), ZmqRequestTimeoutError)


def test_shutdownFailsPendingRequests(bus: MemoryFactory) -> None:
    req, _ = reqrep(bus)
    reply = req.sendMsg(b"x")
    bus.shutdown()
    bus.shutdown()
    assert isinstance(failureOf(reply), ConnectionClosed)
    assert bus.closed
    with pytest.raises(ConnectionClosed):
        MemoryPullConnection(bus)


# -- ROUTER and DEALER ------------------------------------------------------------------------


def test_routerKnowsDealersByIdentity(bus: MemoryFactory, logged: list[LogEvent]) -> None:
    router = MemoryRouterConnection(bus, bind("inproc://broker"))
    named = MemoryDealerConnection(bus, connect("inproc://broker"), identity=b"worker-1")
    anonymous = MemoryDealerConnection(bus, connect("inproc://broker"))
    named.sendMsg(b"ready")
    anonymous.sendMultipart([b"also", b"ready"])
    bus.flush()
    (first, frames), (second, more) = result(router.nextBatch())
    assert (first, frames) == (b"worker-1", [b"ready"])
    assert more == [b"also", b"ready"]
    assert len(second) == 5
    assert second.startswith(b"\0")
    router.sendMultipart(second, [b"job"])
    router.sendMsg(b"nobody", b"lost")
    bus.flush()
    assert result(anonymous.next()) == [b"job"]
    assert hasNoResult(named.next())
    assert any("No peer with routing id" in str(e.get("log_format")) for e in logged)


# -- lifecycle ----------------------------------------------------------------------------


def test_whenConnectedFiresWhenAPeerAttaches(bus: MemoryFactory) -> None:
    push = MemoryPushConnection(bus, bind("inproc://work"))
    connected = push.whenConnected()
    assert hasNoResult(connected)
    MemoryPullConnection(bus, connect("inproc://work"))
    event = result(connected)
    assert (event.kind, event.endpoint) == (
        ConnectionEventKind.HANDSHAKE_SUCCEEDED,
        "inproc://work",
    )
    assert result(push.whenConnected()) == event
    lonely = MemoryPushConnection(bus)
    waiting = lonely.whenConnected()
    lonely.shutdown()
    assert isinstance(failureOf(waiting), ConnectionClosed)
    with pytest.raises(NotImplementedError, match="no socket monitor"):
        push.events()


# -- under trial ---------------------------------------------------------------------------


def test_underTrial(tmp_path: Path) -> None:
    """tests/trial_doubles.py passes under trial, in its own process."""
    run = subprocess.run(  # noqa: S603 - our own interpreter and test module
        [
            sys.executable,
            "-b",
            "-m",
            "twisted.trial",
            "--temp-directory",
            str(tmp_path / "_trial"),
            "tests.trial_doubles",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    counted = re.search(r"PASSED \(successes=(\d+)\)", report)
    assert counted, report
    assert int(counted.group(1)) >= 5, report
