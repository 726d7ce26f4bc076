"""
Differential tests: the hot paths put on (and take off) the wire exactly what
the sans-IO core says (style habit 17).

The publisher's publish(), publishLossless() and last value cache replay must
send ``encodeMessage(tag, body, ...)`` byte for byte, and refuse what it refuses
with the same ValueError; the subscriber's ``_deliver`` inlines the one-frame
case of ``decodeFrames`` and must build the same Message.

Everything here is synchronous. The publishers run on a MemoryReactorClock
(nothing is scheduled on the real reactor) and are read by a raw pyzmq SUB
socket over inproc://. The slow joiner is handled by a handshake, not a sleep:
the test reads the XPUB's subscription messages itself (``doRead()``) until
the raw socket's subscription has arrived, waiting in ``zmq poll`` under a
deadline. Sockets are expensive for Hypothesis, so one pair per configuration
lives for the whole module, and each example ends by checking that the next
message on the wire is a sentinel: nothing extra was sent.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import zmq
from hypothesis import example, given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from txzpub import Message, ZmqFactory, ZmqPubConnection, ZmqSubConnection
from txzpub._core._framing import DEFAULT_SEPARATOR, decodeFrames, encodeMessage

from .helpers import DEADLINE, bind, boundAddress
from .strategies import bodies, frames

#: Socket round trips per example: keep the module to a few seconds.
WIRE_EXAMPLES = settings(max_examples=50)

#: The two publisher separators: txZMQ's, and a multi-byte one with a border
#: (b"a:" + b"::" holds b"::" at index 1, so one-frame framing must refuse b"a:").
PUBLISHER_SEPARATORS = (DEFAULT_SEPARATOR, b"::")

#: Subscriber separators: one byte, bordered, and border-free multi-byte.
SUBSCRIBER_SEPARATORS = (DEFAULT_SEPARATOR, b"::", b"\0\1", b"<|>")

#: Published after each example; the next message on the wire must be this one.
SENTINEL_TAG = b"~sentinel"
SENTINEL_BODY = b"end"

_names = itertools.count()


class ColonPublisher(ZmqPubConnection):
    topicSep = b"::"


PUBLISHER_CLASSES: dict[bytes, type[ZmqPubConnection]] = {
    DEFAULT_SEPARATOR: ZmqPubConnection,
    b"::": ColonPublisher,
}

#: (separator, multipartFraming) of each publisher configuration. Hypothesis
#: draws one per example, and an explicit example pins each: pytest-twisted
#: breaks @pytest.mark.parametrize combined with @given (see test_buffer).
CONFIGURATIONS = [
    (separator, multipart) for separator in PUBLISHER_SEPARATORS for multipart in (False, True)
]
configurations = st.sampled_from(CONFIGURATIONS)


# -- helpers ---------------------------------------------------------------------------


def fired(d: Deferred[Any]) -> Any:
    """The result *d* already has (raising its failure): a synchronous successResultOf."""
    results: list[object] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    result = results[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


def asBytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def readSubscriptionsUntil(
    publisher: ZmqPubConnection, done: Callable[[], bool], what: str
) -> None:
    """
    Have *publisher* read its subscription messages until *done*: a bounded wait
    in zmq poll (the XPUB socket is readable when one is queued), never a sleep.
    """
    deadline = time.monotonic() + DEADLINE
    publisher.doRead()
    while not done():
        left = deadline - time.monotonic()
        if left <= 0:
            msg = f"{what} did not reach the publisher within {DEADLINE} s"
            raise AssertionError(msg)
        publisher.socket.poll(int(left * 1000) + 1, zmq.POLLIN)
        publisher.doRead()


class Wire:
    """A publisher and a raw pyzmq SUB socket that reads what it puts on the wire."""

    def __init__(self, factory: ZmqFactory, publisher: ZmqPubConnection) -> None:
        assert factory.context is not None
        self.publisher = publisher
        self.raw: zmq.Socket[bytes] = factory.context.socket(zmq.SUB)
        self.raw.linger = 0
        self.raw.connect(boundAddress(publisher))

    def subscribe(self, prefix: bytes) -> None:
        """Subscribe the raw socket, and return once the publisher has seen it."""
        self.raw.subscribe(prefix)
        readSubscriptionsUntil(
            self.publisher,
            lambda: self.publisher.subscriptions.get(prefix, 0) >= 1,
            f"the raw SUB's subscription to {prefix!r}",
        )

    def receive(self) -> list[bytes]:
        """The next message's frames, waiting in zmq poll at most DEADLINE seconds."""
        if not self.raw.poll(int(DEADLINE * 1000), zmq.POLLIN):
            msg = f"nothing reached the raw SUB socket within {DEADLINE} s"
            raise AssertionError(msg)
        return self.raw.recv_multipart(zmq.NOBLOCK)

    def assertNothingElseSent(self, prefix: bytes = b"") -> None:
        """Publish a sentinel: one pipe is FIFO, so it must be the next message."""
        publisher = self.publisher
        tag = prefix + SENTINEL_TAG
        publisher.publish(SENTINEL_BODY, tag)
        expected = encodeMessage(
            tag,
            SENTINEL_BODY,
            separator=publisher.topicSep,
            multipart=publisher.multipartFraming,
        )
        assert self.receive() == expected

    def close(self) -> None:
        self.raw.close(linger=0)
        self.publisher.shutdown()


class Wires:
    """One Wire per configuration, made on first use and kept for the module."""

    def __init__(self, factory: ZmqFactory) -> None:
        self._factory = factory
        self._made: dict[tuple[bytes, bool, str], Wire] = {}

    @contextmanager
    def use(self, separator: bytes, multipart: bool, kind: str = "plain") -> Iterator[Wire]:
        """
        The configuration's Wire for one example. If the example fails, the
        wire may still carry its messages: it is thrown away, so the examples
        Hypothesis runs next (shrinking) start clean.
        """
        key = (separator, multipart, kind)
        wire = self._made.get(key)
        if wire is None:
            wire = self._made[key] = self._make(separator, multipart, kind)
        try:
            yield wire
        except BaseException:
            del self._made[key]
            wire.close()
            raise

    def _make(self, separator: bytes, multipart: bool, kind: str) -> Wire:
        address = f"inproc://txzpub-wire-{os.getpid()}-{next(_names)}"
        publisher = PUBLISHER_CLASSES[separator](
            self._factory,
            bind(address),
            multipartFraming=multipart,
            noDrop=kind == "noDrop",
            lastValueCache=kind == "lastValue",
        )
        wire = Wire(self._factory, publisher)
        if kind != "lastValue":  # the cache's tests subscribe per example
            wire.subscribe(b"")
        return wire

    def close(self) -> None:
        for wire in self._made.values():
            wire.close()


@pytest.fixture(scope="module")
def fakeFactory() -> Iterator[ZmqFactory]:
    """Real sockets, fake reactor: what the library schedules never runs, nor leaks."""
    made = ZmqFactory(MemoryReactorClock())  # type: ignore[no-untyped-call]
    made.lingerPeriod = 0
    yield made
    made.shutdown()


@pytest.fixture(scope="module")
def wires(fakeFactory: ZmqFactory) -> Iterator[Wires]:
    made = Wires(fakeFactory)
    yield made
    made.close()


# -- strategies ------------------------------------------------------------------------

#: Pieces of both separators, so tags hold, end in, or run into them often.
_TAG_PIECES = st.sampled_from([b"a", b"b", b"\0", b":", b"::"])


def pieceTags(maxPieces: int = 6) -> st.SearchStrategy[bytes]:
    return st.lists(_TAG_PIECES, max_size=maxPieces).map(b"".join)


def wireTags() -> st.SearchStrategy[bytes | str]:
    """Tags as publish() takes them: bytes, sometimes str; some one frame cannot carry."""
    return st.one_of(
        pieceTags(), st.binary(max_size=16), st.text(alphabet="ab:\0\xe9", max_size=6)
    )


def wireBodies() -> st.SearchStrategy[bytes | str]:
    return st.one_of(bodies(), st.text(max_size=8))


# -- the publisher ---------------------------------------------------------------------


def checkPublish(
    wire: Wire, publish: Callable[[bytes | str, bytes | str], object], tag: Any, body: Any
) -> object:
    """
    Call ``publish(body, tag)`` and check the wire against encodeMessage: the
    same frames, or the same ValueError and nothing sent. Returns what publish returned.
    """
    publisher = wire.publisher
    try:
        expected = encodeMessage(
            asBytes(tag),
            asBytes(body),
            separator=publisher.topicSep,
            multipart=publisher.multipartFraming,
        )
    except ValueError as refused:
        with pytest.raises(ValueError, match=f"^{re.escape(str(refused))}$") as raised:
            publish(body, tag)
        assert type(raised.value) is ValueError
        returned = None
    else:
        returned = publish(body, tag)
        assert wire.receive() == expected
    wire.assertNothingElseSent()
    return returned


def everyConfiguration(tag: bytes, body: bytes) -> Callable[[Any], Any]:
    """An explicit (config, tag, body) example for each configuration."""

    def decorate(test: Any) -> Any:
        for config in CONFIGURATIONS:
            test = example(config=config, tag=tag, body=body)(test)
        return test

    return decorate


@WIRE_EXAMPLES
@given(config=configurations, tag=wireTags(), body=wireBodies())
@everyConfiguration(b"", b"")
@everyConfiguration(b"a\0b", b"x")  # one frame cannot carry NUL in a tag
@everyConfiguration(b"a:", b"x")  # ... nor a tag running into b"::"
@example(config=(b"::", False), tag=b"news", body=b"\0::body\0")
def test_publishSendsTheEncodedFrames(
    wires: Wires, config: tuple[bytes, bool], tag: bytes | str, body: bytes | str
) -> None:
    with wires.use(*config) as wire:
        assert checkPublish(wire, wire.publisher.publish, tag, body) is None


@WIRE_EXAMPLES
@given(config=configurations, tag=wireTags(), body=wireBodies())
@everyConfiguration(b"news", b"hi")
@everyConfiguration(b"a\0b", b"x")
@everyConfiguration(b"a:", b"x")
def test_publishLosslessSendsTheEncodedFrames(
    wires: Wires, config: tuple[bytes, bool], tag: bytes | str, body: bytes | str
) -> None:
    """Nobody is at a high-water mark: every Deferred has fired with None already."""
    with wires.use(*config, "noDrop") as wire:
        returned = checkPublish(wire, wire.publisher.publishLossless, tag, body)
    if returned is not None:
        assert isinstance(returned, Deferred)
        assert fired(returned) is None


_namespaces = itertools.count()


_REPLAY_EXAMPLE = [(b"t", b"v1"), (b"t", b"v2"), (b"u", b"w1"), (b"a:", b"?"), (b"a\0", b"?")]


@WIRE_EXAMPLES
@given(config=configurations, published=st.lists(st.tuples(pieceTags(4), bodies()), max_size=6))
@example(config=CONFIGURATIONS[0], published=_REPLAY_EXAMPLE)
@example(config=CONFIGURATIONS[1], published=_REPLAY_EXAMPLE)
@example(config=CONFIGURATIONS[2], published=_REPLAY_EXAMPLE)
@example(config=CONFIGURATIONS[3], published=_REPLAY_EXAMPLE)
def test_lastValueReplaySendsTheEncodedFrames(
    wires: Wires, config: tuple[bytes, bool], published: list[tuple[bytes, bytes]]
) -> None:
    """
    A new subscription receives, for each tag it matches, exactly the frames a
    publish of that tag's last message sends; a refused publish is not cached.
    Each example works under a fresh namespace, so earlier ones never match.
    """
    separator, multipart = config
    namespace = b"ns%d/" % next(_namespaces)
    with wires.use(separator, multipart, "lastValue") as wire:
        last: dict[bytes, bytes] = {}
        for suffix, body in published:
            tag = namespace + suffix
            try:
                encodeMessage(tag, body, separator=separator, multipart=multipart)
            except ValueError as refused:
                with pytest.raises(ValueError, match=f"^{re.escape(str(refused))}$"):
                    wire.publisher.publish(body, tag)
            else:
                wire.publisher.publish(body, tag)  # nobody subscribes to namespace yet
                last[tag] = body
        wire.subscribe(namespace)
        replayed = [wire.receive() for _ in last]
        expected = [
            encodeMessage(tag, body, separator=separator, multipart=multipart)
            for tag, body in last.items()
        ]
        assert sorted(replayed) == sorted(expected)
        wire.assertNothingElseSent(namespace)
        wire.raw.unsubscribe(namespace)


@pytest.mark.parametrize(("separator", "multipart"), CONFIGURATIONS)  # no @given here
def test_lateJoinerGetsTheEncodedLastValues(
    fakeFactory: ZmqFactory, separator: bytes, multipart: bool
) -> None:
    """A raw SUB that connects (over tcp) after the publishes gets the last value of each tag."""
    publisher = PUBLISHER_CLASSES[separator](
        fakeFactory, bind("tcp://127.0.0.1:0"), multipartFraming=multipart, lastValueCache=True
    )
    try:
        publisher.publish(b"v1", b"news")
        publisher.publish(b"v2", b"news")
        publisher.publish(b"w1", b"weather")
        wire = Wire(fakeFactory, publisher)
        try:
            wire.subscribe(b"")
            replayed = [wire.receive(), wire.receive()]
            expected = [
                encodeMessage(b"news", b"v2", separator=separator, multipart=multipart),
                encodeMessage(b"weather", b"w1", separator=separator, multipart=multipart),
            ]
            assert sorted(replayed) == sorted(expected)
            wire.assertNothingElseSent()
        finally:
            wire.raw.close(linger=0)
    finally:
        publisher.shutdown()


def test_lateJoinerGetsTheLastLosslessValue(fakeFactory: ZmqFactory) -> None:
    """The cache keeps "the last message of every tag", whichever method published it."""
    publisher = ZmqPubConnection(
        fakeFactory, bind("tcp://127.0.0.1:0"), lastValueCache=True, noDrop=True
    )
    try:
        assert fired(publisher.publishLossless(b"v1", b"news")) is None  # nobody listens
        wire = Wire(fakeFactory, publisher)
        try:
            wire.subscribe(b"")
            wire.publisher.publish(SENTINEL_BODY, SENTINEL_TAG)
            assert wire.receive() == encodeMessage(b"news", b"v1")  # got the sentinel instead
        finally:
            wire.raw.close(linger=0)
    finally:
        publisher.shutdown()


# -- the subscriber --------------------------------------------------------------------


class RecordingSubscriber(ZmqSubConnection):
    """A txZMQ-style subscriber: gotMessage records (message, tag)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.got: list[tuple[bytes, bytes]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self.got.append((message, tag))


def withSeparator(base: type[ZmqSubConnection], separator: bytes) -> type[ZmqSubConnection]:
    return type(f"{base.__name__}Sep", (base,), {"topicSep": separator})


@pytest.fixture(scope="module")
def subscribers(fakeFactory: ZmqFactory) -> Iterator[dict[bytes, ZmqSubConnection]]:
    """One socketless subscriber to b"" per separator (no endpoint: no traffic)."""
    made = {
        sep: withSeparator(ZmqSubConnection, sep)(fakeFactory) for sep in SUBSCRIBER_SEPARATORS
    }
    for subscriber in made.values():
        subscriber.subscribe(b"")
    yield made
    for subscriber in made.values():
        subscriber.shutdown()


@pytest.fixture(scope="module")
def legacySubscribers(fakeFactory: ZmqFactory) -> Iterator[dict[bytes, RecordingSubscriber]]:
    made: dict[bytes, RecordingSubscriber] = {
        sep: withSeparator(RecordingSubscriber, sep)(fakeFactory)  # type: ignore[misc]
        for sep in SUBSCRIBER_SEPARATORS
    }
    for subscriber in made.values():
        subscriber.subscribe(b"")
    yield made
    for subscriber in made.values():
        subscriber.shutdown()


#: Pieces of every subscriber separator, so frames hold them (or halves of them) often.
_FRAME_PIECES = st.sampled_from([b"a", b"b", b"\0", b"\1", b":", b"::", b"<", b"|", b">"])


def wireFrames() -> st.SearchStrategy[bytes]:
    return st.one_of(st.lists(_FRAME_PIECES, max_size=8).map(b"".join), frames())


def framesFor(separator: bytes) -> st.SearchStrategy[list[bytes]]:
    """What a peer may send a subscriber using *separator*: 0, 1, 2 or 3+ frames."""
    return st.one_of(
        st.lists(wireFrames(), min_size=1, max_size=1),
        st.builds(lambda tag, body: [tag + separator + body], wireFrames(), wireFrames()),
        st.lists(wireFrames(), min_size=2, max_size=2),
        st.lists(wireFrames(), min_size=3, max_size=6),
        st.just([]),
    )


def received() -> st.SearchStrategy[tuple[bytes, list[bytes]]]:
    """(separator, frames) for one message."""
    return st.sampled_from(SUBSCRIBER_SEPARATORS).flatmap(
        lambda sep: st.tuples(st.just(sep), framesFor(sep))
    )


def receivedBatch() -> st.SearchStrategy[tuple[bytes, list[list[bytes]]]]:
    """(separator, batch): several messages as the reader hands them over."""
    return st.sampled_from(SUBSCRIBER_SEPARATORS).flatmap(
        lambda sep: st.tuples(st.just(sep), st.lists(framesFor(sep), max_size=8))
    )


def assertSameMessage(got: Message, expected: Message) -> None:
    assert got == expected
    assert got.extra == expected.extra  # Message equality covers it; say so anyway
    assert type(got.tag) is bytes
    assert type(got.body) is bytes


@WIRE_EXAMPLES
@given(case=received())
@example(case=(b"\0", [b"news\0hi\0there"]))
@example(case=(b"::", [b"a:::b"]))
@example(case=(b"::", [b"no separator"]))
@example(case=(b"\0", [b""]))
@example(case=(b"\0", [b"t", b"b", b"", b"x"]))
@example(case=(b"\0", []))
def test_deliverDecodesAsTheCore(
    subscribers: dict[bytes, ZmqSubConnection], case: tuple[bytes, list[bytes]]
) -> None:
    separator, frameList = case
    subscriber = subscribers[separator]
    subscriber.messageReceived(list(frameList))
    assertSameMessage(fired(subscriber.next()), decodeFrames(frameList, separator))
    assert subscriber.subscriptions[b""].statistics().queued == 0  # delivered exactly once


@WIRE_EXAMPLES
@given(case=receivedBatch())
def test_deliverBatchDecodesAsTheCore(
    subscribers: dict[bytes, ZmqSubConnection], case: tuple[bytes, list[list[bytes]]]
) -> None:
    """The reader's path: a whole batch through _receiveBatch, in order."""
    separator, batch = case
    subscriber = subscribers[separator]
    subscriber._receiveBatch([list(frameList) for frameList in batch])
    for frameList in batch:
        assertSameMessage(fired(subscriber.next()), decodeFrames(frameList, separator))
    assert subscriber.subscriptions[b""].statistics().queued == 0


@WIRE_EXAMPLES
@given(case=received())
@example(case=(b"\0", [b"news\0hi"]))
@example(case=(b"\0", [b"no separator"]))
@example(case=(b"::", [b"t", b"b", b"x"]))
def test_gotMessageGetsTheCoreDecoding(
    legacySubscribers: dict[bytes, RecordingSubscriber], case: tuple[bytes, list[bytes]]
) -> None:
    separator, frameList = case
    subscriber = legacySubscribers[separator]
    subscriber.got.clear()
    subscriber.messageReceived(list(frameList))
    decoded = decodeFrames(frameList, separator)
    assert subscriber.got == [(decoded.body, decoded.tag)]
