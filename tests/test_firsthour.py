"""
What a new user meets first: reading statistics without side effects,
next() with a timeout, and txZMQ's IReadDescriptor surface (doRead()).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted
import zmq
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IFileDescriptor, IReadDescriptor
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from zope.interface.verify import verifyClass, verifyObject

from txzpub import (
    ConnectionClosed,
    Message,
    ReceiveTimeout,
    Subscription,
    ZmqConnection,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)
from txzpub.testing import waitForSubscription

from .helpers import bind, bounded, connect, publisherOnFreePort


@pytest.fixture
def clock() -> MemoryReactorClock:
    return MemoryReactorClock()


@pytest.fixture
def fakeFactory(clock: MemoryReactorClock) -> Iterator[ZmqFactory]:
    """A factory on a memory reactor: time moves only when the test advances it."""
    made = ZmqFactory(clock)
    made.lingerPeriod = 0
    yield made
    made.shutdown()


def failureOf(d: Deferred[Any]) -> Failure:
    failures: list[Failure] = []
    d.addErrback(failures.append)
    assert failures, f"{d!r} has not failed"
    return failures[0]


# -- sub.subscriptions: statistics without side effects --------------------------------


def test_subscriptionsMapsTagsToTheirSubscription(fakeFactory: ZmqFactory) -> None:
    subscriber = ZmqSubConnection(fakeFactory)
    assert dict(subscriber.subscriptions) == {}
    news = subscriber.subscribe(b"news")
    subscriber.subscribe("weather")
    assert subscriber.subscriptions[b"news"] is news
    assert set(subscriber.subscriptions) == {b"news", b"weather"}
    assert len(subscriber.subscriptions) == 2
    assert b"sport" not in subscriber.subscriptions
    assert isinstance(subscriber.subscriptions[b"weather"], Subscription)


def test_readingStatisticsAddsNoReference(fakeFactory: ZmqFactory) -> None:
    """One subscribe, statistics read through the mapping, one unsubscribe: gone."""
    subscriber = ZmqSubConnection(fakeFactory)
    subscriber.subscribe(b"news")
    stats = subscriber.subscriptions[b"news"].statistics()
    assert (stats.queued, stats.dropped, stats.waiting) == (0, 0, 0)
    subscriber.unsubscribe(b"news")
    assert b"news" not in subscriber.subscriptions
    assert subscriber._router.count(b"news") == 0


def test_subscriptionsIsReadOnlyAndLive(fakeFactory: ZmqFactory) -> None:
    subscriber = ZmqSubConnection(fakeFactory)
    view = subscriber.subscriptions
    with pytest.raises(TypeError):
        view[b"news"] = None  # type: ignore[index]
    subscriber.subscribe(b"news")
    assert list(view) == [b"news"]
    subscriber.shutdown()
    assert dict(view) == {}


def test_legacySubclassKeepsItsOwnSubscriptionsAttribute(fakeFactory: ZmqFactory) -> None:
    class Legacy(ZmqSubConnection):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.subscriptions = ["mine"]  # type: ignore[assignment]

    subscriber = Legacy(fakeFactory)
    assert subscriber.subscriptions == ["mine"]


@pytest_twisted.ensureDeferred
async def test_probesAreNotListed(factory: ZmqFactory) -> None:
    """waitForSubscription()'s probe subscription is txzpub's, not the user's."""
    publisher, address = publisherOnFreePort(factory)
    subscriber = ZmqSubConnection(factory, connect(address))
    subscriber.subscribe(b"news")
    seen: list[list[bytes]] = []
    publisher.onSubscription(lambda prefix, on: seen.append([prefix]))
    probing = waitForSubscription(publisher, subscriber)
    assert list(subscriber.subscriptions) == [b"news"]
    await probing


@pytest_twisted.ensureDeferred
async def test_publisherStopsCountingAfterOneUnsubscribe(factory: ZmqFactory) -> None:
    """The documented way to read statistics leaves the publisher's counts right."""
    publisher, address = publisherOnFreePort(factory)
    subscriber = ZmqSubConnection(factory, connect(address))
    subscriber.subscribe(b"news")
    await bounded(publisher.waitForSubscribers(1, b"news"), "the subscription")
    assert subscriber.subscriptions[b"news"].statistics().queued == 0
    gone: Deferred[None] = Deferred()
    publisher.onSubscription(lambda prefix, on: None if on or gone.called else gone.callback(None))
    subscriber.unsubscribe(b"news")
    await bounded(gone, "the unsubscription")
    assert dict(publisher.subscriptions) == {}


# -- next(tag, timeout) -----------------------------------------------------------------


def test_nextTimesOutAndLosesNothing(fakeFactory: ZmqFactory, clock: MemoryReactorClock) -> None:
    subscriber = ZmqSubConnection(fakeFactory)
    waiting = subscriber.next(b"news", timeout=2)
    clock.advance(1.9)
    assert not waiting.called
    clock.advance(0.1)
    failure = failureOf(waiting)
    assert isinstance(failure.value, ReceiveTimeout)
    assert isinstance(failure.value, TimeoutError)
    assert str(failure.value) == (
        "nothing arrived for tag b'news' within 2 s; no message is lost: call again to keep waiting"
    )
    subscriber.messageReceived([b"news\0late"])  # arrives after the timeout
    arrived: list[Message] = []
    subscriber.next(b"news").addCallback(arrived.append)
    assert arrived == [Message(b"news", b"late")]


def test_messageBeforeTheTimeoutCancelsTheTimer(
    fakeFactory: ZmqFactory, clock: MemoryReactorClock
) -> None:
    subscriber = ZmqSubConnection(fakeFactory)
    waiting = subscriber.next(b"news", timeout=5)
    subscriber.messageReceived([b"news\0soon"])
    arrived: list[Message] = []
    waiting.addCallback(arrived.append)
    assert arrived == [Message(b"news", b"soon")]
    timers = [call for call in clock.getDelayedCalls() if call.getTime() >= 5]
    assert timers == []  # only the reader's own kick is left


def test_nextBatchTimeout(fakeFactory: ZmqFactory, clock: MemoryReactorClock) -> None:
    subscription = ZmqSubConnection(fakeFactory).subscribe(b"news")
    waiting = subscription.nextBatch(10, timeout=0.5)
    clock.advance(0.5)
    assert isinstance(failureOf(waiting).value, ReceiveTimeout)


@pytest.mark.parametrize(
    ("timeout", "error"), [("1", TypeError), (True, TypeError), (-1, ValueError)]
)
def test_timeoutChecked(fakeFactory: ZmqFactory, timeout: object, error: type) -> None:
    subscriber = ZmqSubConnection(fakeFactory)
    with pytest.raises(error, match="^timeout must be "):
        subscriber.next(b"news", timeout=timeout)  # type: ignore[arg-type]


def test_timeoutAfterShutdownFailsWithConnectionClosed(fakeFactory: ZmqFactory) -> None:
    subscriber = ZmqSubConnection(fakeFactory)
    subscriber.shutdown()
    assert isinstance(failureOf(subscriber.next(b"x", timeout=1)).value, ConnectionClosed)


# -- txZMQ's IReadDescriptor surface ---------------------------------------------------------


@pytest.mark.parametrize("cls", [ZmqConnection, ZmqSubConnection, ZmqPubConnection])
def test_connectionsAreReadDescriptors(cls: type) -> None:
    assert verifyClass(IReadDescriptor, cls)
    assert verifyClass(IFileDescriptor, cls)


class Puller(ZmqConnection):
    socketType = zmq.PULL

    def __init__(self, *args: Any) -> None:
        self.received: list[list[bytes]] = []
        super().__init__(*args)

    def messageReceived(self, message: list[bytes]) -> None:
        self.received.append(message)


def test_doReadReadsWhatIsWaiting(fakeFactory: ZmqFactory, inprocAddress: str) -> None:
    """On a memory reactor nothing reads the socket, unless somebody calls doRead()."""
    puller = Puller(fakeFactory, bind(inprocAddress))
    assert verifyObject(IReadDescriptor, puller)
    assert fakeFactory.context is not None
    pusher = fakeFactory.context.socket(zmq.PUSH)
    try:
        pusher.connect(inprocAddress)
        pusher.send_multipart([b"a", b"b"])
        pusher.send(b"c")
        assert puller.received == []
        puller.doRead()
        assert puller.received == [[b"a", b"b"], [b"c"]]
        assert puller.logPrefix() == "ZMQ"
        assert puller.fileno() > 0
    finally:
        pusher.close(linger=0)


def test_doReadNeverRaises(
    fakeFactory: ZmqFactory, inprocAddress: str, logged: list[dict[str, object]]
) -> None:
    class Raising(Puller):
        def messageReceived(self, message: list[bytes]) -> None:
            raise ValueError(message)

    puller = Raising(fakeFactory, bind(inprocAddress))
    assert fakeFactory.context is not None
    pusher = fakeFactory.context.socket(zmq.PUSH)
    try:
        pusher.connect(inprocAddress)
        pusher.send(b"boom")
        puller.doRead()  # the handler's error is logged, not raised
    finally:
        pusher.close(linger=0)
    assert any("log_failure" in event for event in logged)
    puller.shutdown()
    puller.doRead()  # after shutdown: nothing to do, and no error
    puller.connectionLost(Failure(ConnectionClosed()))
    assert puller.fileno() == -1
