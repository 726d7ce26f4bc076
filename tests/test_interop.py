"""
txzpub against real foreign peers, both directions: txZMQ 1.0.0 connections
(on their own factory, sharing the reactor) and raw pyzmq sockets.

Foreign peers cannot use txzpub.testing.waitForSubscription, so this module
has its own slow-joiner handshake: publish probes on a LoopingCall until one
arrives, under a deadline. A raw pyzmq SUB socket is read from the reactor by
a LoopingCall doing non-blocking receives; nothing here blocks or sleeps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import pytest_twisted
import txzmq
import zmq
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import LoopingCall

from txzpub import (
    Message,
    SubscriptionClosed,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)
from txzpub.testing import PROBE_PREFIX, waitForSubscription

from .helpers import bind, boundAddress, bounded, connect, repeatUntil

T = TypeVar("T")

#: Tags of this module's own probes (txzpub's waitForSubscription uses PROBE_PREFIX).
INTEROP_PROBE = b"interop.probe."
_probeNumbers = itertools.count()

Received = tuple[bytes, bytes]  # (message, tag), in gotMessage's argument order


def isProbe(tag: bytes) -> bool:
    return tag.startswith((INTEROP_PROBE, PROBE_PREFIX))


def freshProbeTag() -> bytes:
    return INTEROP_PROBE + b"%d." % next(_probeNumbers)


class Inbox:
    """Records gotMessage calls; fires Deferreds for probes and for awaited messages."""

    def __init__(self) -> None:
        self.got: list[Received] = []
        self._probes: dict[bytes, Deferred[None]] = {}
        self._waiting: list[tuple[bytes, Deferred[list[Received]]]] = []

    def add(self, message: bytes, tag: bytes) -> None:
        assert type(message) is bytes
        assert type(tag) is bytes
        if isProbe(tag):
            probe = self._probes.pop(tag, None)
            if probe is not None and not probe.called:
                probe.callback(None)
            return
        self.got.append((message, tag))
        waiting, self._waiting = self._waiting, []
        for body, d in waiting:
            if d.called:  # cancelled by its deadline
                continue
            if message == body:
                d.callback(list(self.got))
            else:
                self._waiting.append((body, d))

    def probed(self, tag: bytes) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self._probes[tag] = d
        return d

    def endsWith(self, body: bytes) -> Deferred[list[Received]]:
        if self.got and self.got[-1][0] == body:
            return succeed(list(self.got))
        d: Deferred[list[Received]] = Deferred()
        self._waiting.append((body, d))
        return bounded(d, f"gotMessage({body!r}, ...)")


class TxzmqSubscriber(txzmq.ZmqSubConnection):
    """A txZMQ subscriber; the inbox exists before txZMQ's constructor first reads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.inbox = Inbox()
        super().__init__(*args, **kwargs)

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self.inbox.add(message, tag)


class LegacySubscriber(ZmqSubConnection):
    """The same subscriber on txzpub."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.inbox = Inbox()
        super().__init__(*args, **kwargs)

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self.inbox.add(message, tag)


class RawSubscriber:
    """A raw pyzmq SUB socket, read from the reactor by a LoopingCall (never blocking)."""

    def __init__(self, context: zmq.Context[Any], address: str) -> None:
        self.socket = context.socket(zmq.SUB)
        self.socket.linger = 0
        self.received: list[list[bytes]] = []
        self._waiting: list[tuple[Callable[[list[bytes]], bool], Deferred[None]]] = []
        try:
            self.socket.connect(address)
        except BaseException:
            self.socket.close(linger=0)
            raise
        self._polling = LoopingCall(self._drain)
        self._polling.start(0.002, now=True)

    def _drain(self) -> None:
        while not self.socket.closed:  # a waiter fired below may have closed it
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if not frames[0].startswith(INTEROP_PROBE):
                self.received.append(frames)
            waiting, self._waiting = self._waiting, []
            for matches, d in waiting:
                if d.called:
                    continue
                if matches(frames):
                    d.callback(None)
                else:
                    self._waiting.append((matches, d))

    def until(self, matches: Callable[[list[bytes]], bool], what: str | None) -> Deferred[None]:
        """Fire when a message *matches*; bounded by the deadline unless *what* is None."""
        d: Deferred[None] = Deferred()
        self._waiting.append((matches, d))
        return d if what is None else bounded(d, what)

    def close(self) -> None:
        if self._polling.running:
            self._polling.stop()
        self.socket.close(linger=0)


# -- handshakes ------------------------------------------------------------------------


async def txzmqReaches(publisher: txzmq.ZmqPubConnection, subscriber: ZmqSubConnection) -> None:
    """A txZMQ publisher's messages now reach this txzpub subscriber's subscriptions."""
    tag = freshProbeTag()
    arrived = subscriber.next(tag)
    await repeatUntil(lambda: publisher.publish(b"", tag), arrived, "a txZMQ probe")
    subscriber.unsubscribe(tag)


async def reachesTxzmq(publisher: ZmqPubConnection, subscriber: TxzmqSubscriber) -> None:
    """This txzpub publisher's messages now reach the txZMQ subscriber's subscriptions."""
    tag = freshProbeTag()
    subscriber.subscribe(tag)
    arrived = subscriber.inbox.probed(tag)
    await repeatUntil(lambda: publisher.publish(b"", tag), arrived, "a probe reaching txZMQ")
    subscriber.unsubscribe(tag)


async def rawReaches(publisher: zmq.Socket[Any], subscriber: ZmqSubConnection) -> None:
    tag = freshProbeTag()
    arrived = subscriber.next(tag)
    await repeatUntil(lambda: publisher.send(tag + b"\0"), arrived, "a raw pyzmq probe")
    subscriber.unsubscribe(tag)


async def reachesRaw(publisher: ZmqPubConnection, subscriber: RawSubscriber) -> None:
    tag = freshProbeTag()
    subscriber.socket.subscribe(tag)
    arrived = subscriber.until(lambda frames: frames[0].startswith(tag), None)
    await repeatUntil(lambda: publisher.publish(b"", tag), arrived, "a probe reaching raw SUB")
    subscriber.socket.unsubscribe(tag)


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture
def txzmqFactory(factory: ZmqFactory) -> Iterator[txzmq.ZmqFactory]:
    """txZMQ's factory, on the global reactor, which is also pytest-twisted's and *factory*'s."""
    made = txzmq.ZmqFactory()
    made.lingerPeriod = 0
    assert made.reactor is factory.reactor
    yield made
    made.shutdown()


@pytest.fixture(params=["tcp", "ipc"])
def address(request: pytest.FixtureRequest, ipcAddress: str) -> str:
    """An address to bind; connect to boundAddress() of what bound it."""
    return {"tcp": "tcp://127.0.0.1:0", "ipc": ipcAddress}[request.param]


@pytest.fixture
def rawPublisher(factory: ZmqFactory, address: str) -> Iterator[zmq.Socket[Any]]:
    assert factory.context is not None
    socket = factory.context.socket(zmq.PUB)
    try:
        socket.linger = 0
        socket.bind(address)
        yield socket
    finally:
        socket.close(linger=0)


def txzmqEndpoint(kind: str, address: str) -> txzmq.ZmqEndpoint:
    return txzmq.ZmqEndpoint(kind, address)


# -- txZMQ publisher -> txzpub subscriber ------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_txzmqPublisherToTxzpubNext(
    factory: ZmqFactory, txzmqFactory: txzmq.ZmqFactory, address: str
) -> None:
    publisher = txzmq.ZmqPubConnection(
        txzmqFactory, txzmqEndpoint(txzmq.ZmqEndpointType.bind, address)
    )
    subscriber = ZmqSubConnection(factory, connect(boundAddress(publisher)))
    news = subscriber.subscribe(b"news")
    await txzmqReaches(publisher, subscriber)

    publisher.publish(b"one", b"news")
    publisher.publish(b"sunny", b"weather")
    publisher.publish(b"two\0with nul", b"news.sports")
    publisher.publish(b"", b"news")
    publisher.send([b"news.multipart", b"two frames"])  # txZMQ's 2-frame compatibility form
    received = [await bounded(subscriber.next(b"news"), "next(b'news')") for _ in range(4)]

    assert received == [
        Message(b"news", b"one"),
        Message(b"news.sports", b"two\0with nul"),
        Message(b"news", b""),
        Message(b"news.multipart", b"two frames"),
    ]
    assert news.statistics().queued == 0


@pytest_twisted.ensureDeferred
async def test_txzmqPublisherToTxzpubGotMessage(
    factory: ZmqFactory, txzmqFactory: txzmq.ZmqFactory, address: str
) -> None:
    publisher = txzmq.ZmqPubConnection(
        txzmqFactory, txzmqEndpoint(txzmq.ZmqEndpointType.bind, address)
    )
    subscriber = LegacySubscriber(factory, connect(boundAddress(publisher)))
    subscriber.subscribe(b"news")
    subscriber.subscribe(b"end")
    await txzmqReaches(publisher, subscriber)

    publisher.publish(b"one", b"news")
    publisher.publish(b"sunny", b"weather")
    publisher.publish(b"two", b"newsletter")
    publisher.publish(b"END", b"end")
    got = await subscriber.inbox.endsWith(b"END")

    assert got == [(b"one", b"news"), (b"two", b"newsletter"), (b"END", b"end")]


# -- txzpub publisher -> txZMQ subscriber ------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_txzpubPublisherToTxzmqGotMessage(
    factory: ZmqFactory, txzmqFactory: txzmq.ZmqFactory, address: str
) -> None:
    publisher = ZmqPubConnection(factory, bind(address))
    subscriber = TxzmqSubscriber(
        txzmqFactory, txzmqEndpoint(txzmq.ZmqEndpointType.connect, boundAddress(publisher))
    )
    subscriber.subscribe(b"news")
    subscriber.subscribe(b"end")
    await reachesTxzmq(publisher, subscriber)

    publisher.publish(b"one", b"news")
    publisher.publish(b"sunny", b"weather")
    publisher.publish("tw\u00f6", "news.sports")
    publisher.publish(b"body\0with nul", b"news")
    publisher.publish(b"END", b"end")
    got = await subscriber.inbox.endsWith(b"END")

    assert got == [
        (b"one", b"news"),
        ("tw\u00f6".encode(), b"news.sports"),
        (b"body\0with nul", b"news"),
        (b"END", b"end"),
    ]


@pytest_twisted.ensureDeferred
async def test_multipartFramingToTxzmq(
    factory: ZmqFactory, txzmqFactory: txzmq.ZmqFactory, address: str
) -> None:
    """txZMQ reads a 2-frame message as [tag, message], so any tag byte survives."""
    publisher = ZmqPubConnection(factory, bind(address), multipartFraming=True)
    subscriber = TxzmqSubscriber(
        txzmqFactory, txzmqEndpoint(txzmq.ZmqEndpointType.connect, boundAddress(publisher))
    )
    subscriber.subscribe(b"news")
    subscriber.subscribe(b"end")
    await reachesTxzmq(publisher, subscriber)

    publisher.publish(b"one", b"news")
    publisher.publish(b"nul\0in body", b"news\0nul in tag")
    publisher.publish(b"", b"news.empty")
    publisher.publish(b"END", b"end")
    got = await subscriber.inbox.endsWith(b"END")

    assert got == [
        (b"one", b"news"),
        (b"nul\0in body", b"news\0nul in tag"),
        (b"", b"news.empty"),
        (b"END", b"end"),
    ]


@pytest_twisted.ensureDeferred
async def test_relayThroughBothLibraries(
    factory: ZmqFactory, txzmqFactory: txzmq.ZmqFactory, address: str
) -> None:
    """txZMQ -> txzpub -> txZMQ at once, both factories driving sockets on one reactor."""
    source = txzmq.ZmqPubConnection(
        txzmqFactory, txzmqEndpoint(txzmq.ZmqEndpointType.bind, address)
    )
    relayIn = ZmqSubConnection(factory, connect(boundAddress(source)))
    relayOut = ZmqPubConnection(factory, bind("tcp://127.0.0.1:0"))
    sink = TxzmqSubscriber(
        txzmqFactory, txzmqEndpoint(txzmq.ZmqEndpointType.connect, boundAddress(relayOut))
    )
    relayIn.subscribe(b"in.")
    sink.subscribe(b"out.")
    await txzmqReaches(source, relayIn)
    await reachesTxzmq(relayOut, sink)

    def relay(message: bytes, tag: bytes) -> None:
        if not isProbe(tag):
            relayOut.publish(message.upper(), b"out." + tag[len(b"in.") :])

    relayIn.gotMessage = relay  # txZMQ's example: assigned after subscribe()
    for n in range(50):
        source.publish(b"message %d" % n, b"in.%d" % (n % 3))
    got = await sink.inbox.endsWith(b"MESSAGE 49")

    assert got == [(b"MESSAGE %d" % n, b"out.%d" % (n % 3)) for n in range(50)]


# -- raw pyzmq PUB -> txzpub subscriber ------------------------------------------------------

ODD_SHAPES = [
    ([b"no separator"], Message(b"", b"no separator")),
    ([b""], Message(b"", b"")),
    ([b"\0leading separator"], Message(b"", b"leading separator")),
    ([b"a\0b\0c"], Message(b"a", b"b\0c")),
    ([b"t2", b"body\0with nul"], Message(b"t2", b"body\0with nul")),
    ([b"", b""], Message(b"", b"")),
    ([b"t3", b"b3", b"x1"], Message(b"t3", b"b3", (b"x1",))),
    ([b"t4", b"b4", b"x1", b""], Message(b"t4", b"b4", (b"x1", b""))),
]


def sendOddShapes(rawPublisher: zmq.Socket[Any]) -> None:
    for frames, _ in ODD_SHAPES:
        rawPublisher.send_multipart(frames)
    rawPublisher.send(b"done\0ok")  # a normal message last: the subscriber still works


@pytest_twisted.ensureDeferred
async def test_rawPublisherOddShapesToNext(
    factory: ZmqFactory, rawPublisher: zmq.Socket[Any]
) -> None:
    subscriber = ZmqSubConnection(factory, connect(rawPublisher.get(zmq.LAST_ENDPOINT).decode()))
    subscriber.subscribe(b"")
    await rawReaches(rawPublisher, subscriber)

    sendOddShapes(rawPublisher)

    received = []
    while not received or received[-1] != Message(b"done", b"ok"):
        message = await bounded(subscriber.next(b""), "next(b'')")
        if not isProbe(message.tag):
            received.append(message)
    assert received == [message for _, message in ODD_SHAPES] + [Message(b"done", b"ok")]


@pytest_twisted.ensureDeferred
async def test_rawPublisherOddShapesToGotMessage(
    factory: ZmqFactory, rawPublisher: zmq.Socket[Any]
) -> None:
    subscriber = LegacySubscriber(factory, connect(rawPublisher.get(zmq.LAST_ENDPOINT).decode()))
    subscriber.subscribe(b"")
    await rawReaches(rawPublisher, subscriber)

    sendOddShapes(rawPublisher)
    got = await subscriber.inbox.endsWith(b"ok")

    expected = [(message.body, message.tag) for _, message in ODD_SHAPES]
    assert got == [*expected, (b"ok", b"done")]


# -- txzpub publisher -> raw pyzmq SUB ----------------------------------------------------


@pytest.mark.parametrize(
    ("multipartFraming", "wire"),
    [
        (False, [[b"tag\0body"], [b"tag.2\0"], [b"tag\0nul\0inside"]]),
        (True, [[b"tag", b"body"], [b"tag.2", b""], [b"tag", b"nul\0inside"]]),
    ],
)
@pytest_twisted.ensureDeferred
async def test_txzpubPublisherToRawSubscriberWireFormat(
    factory: ZmqFactory, multipartFraming: bool, wire: list[list[bytes]]
) -> None:
    publisher = ZmqPubConnection(
        factory, bind("tcp://127.0.0.1:0"), multipartFraming=multipartFraming
    )
    assert factory.context is not None
    subscriber = RawSubscriber(factory.context, boundAddress(publisher))
    try:
        subscriber.socket.subscribe(b"tag")
        await reachesRaw(publisher, subscriber)

        done = subscriber.until(lambda frames: frames == wire[-1], "the last message")
        publisher.publish(b"body", b"tag")
        publisher.publish(b"ignored", b"other")
        publisher.publish(b"", b"tag.2")
        publisher.publish(b"nul\0inside", b"tag")
        await done

        assert subscriber.received == wire
    finally:
        subscriber.close()


# -- routing matches ZeroMQ's --------------------------------------------------------------

SCENARIOS = {
    "prefix": [("subscribe", b"news")],
    "twiceThenOnce": [("subscribe", b"news"), ("subscribe", b"news"), ("unsubscribe", b"news")],
    "shorterDropped": [("subscribe", b"news"), ("subscribe", b"new"), ("unsubscribe", b"new")],
    "nested": [("subscribe", b"news"), ("subscribe", b"newsletter")],
    "neverSubscribed": [("subscribe", b"news"), ("unsubscribe", b"weather")],
}
TAGS = [
    b"newsletter",
    b"news",
    b"new",
    b"weather",
    b"news.sports",
    b"ne",
    b"newsletters.daily",
    b"n",
    b"",
    b"xnews",
]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest_twisted.ensureDeferred
async def test_routingMatchesZeroMQ(factory: ZmqFactory, scenario: str) -> None:
    """
    The same subscribe/unsubscribe calls on a txzpub subscriber and on a raw
    pyzmq SUB socket select the same messages from one publisher.
    """
    publisher = ZmqPubConnection(factory, bind("tcp://127.0.0.1:0"))
    subscriber = ZmqSubConnection(factory, connect(boundAddress(publisher)))
    assert factory.context is not None
    raw = RawSubscriber(factory.context, boundAddress(publisher))
    try:
        for operation, tag in SCENARIOS[scenario]:
            getattr(subscriber, operation)(tag)
            getattr(raw.socket, operation)(tag)
        await waitForSubscription(publisher, subscriber)
        await reachesRaw(publisher, raw)

        rawDone = raw.until(lambda frames: frames == [b"news.end\0END"], "raw news.end")
        for tag in TAGS:
            publisher.publish(b"body of " + tag, tag)
        publisher.publish(b"END", b"news.end")

        viaNext = []
        while not viaNext or viaNext[-1] != b"news.end":
            message = await bounded(subscriber.next(b"news"), "next(b'news')")
            assert message.body == b"body of " + message.tag or message.tag == b"news.end"
            viaNext.append(message.tag)
        await rawDone

        expected = [tag for tag in TAGS if tag.startswith(b"news")] + [b"news.end"]
        assert viaNext == expected
        viaRaw = [frames[0].partition(b"\0")[0] for frames in raw.received]
        assert viaRaw == expected
        if scenario == "nested":
            letters = [(await subscriber.next(b"newsletter")).tag for _ in range(2)]
            assert letters == [b"newsletter", b"newsletters.daily"]
        if scenario == "twiceThenOnce":
            news = subscriber.subscribe(b"news")  # the same subscription, a third reference
            subscriber.unsubscribe(b"news")
            subscriber.unsubscribe(b"news")  # the last reference: the queue closes
            with pytest.raises(SubscriptionClosed):
                await news.next()
    finally:
        raw.close()
