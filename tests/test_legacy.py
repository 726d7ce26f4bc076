"""
txZMQ subscriber code, run on txzpub with only its import line changed.

The subclasses below are written the way txZMQ code (and the txZMQ pub/sub
reference) writes them; the tests wrap them in ``observed()`` only to learn,
without sleeping, when a message has arrived.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred, succeed
from twisted.logger import LogLevel

from txzpub import (
    DEFAULT_MAX_QUEUED,
    Message,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)
from txzpub.testing import PROBE_PREFIX, waitForSubscription

from .helpers import bind, boundAddress, bounded, connect

Received = tuple[bytes, bytes]  # (message, tag), in gotMessage's argument order


class Inbox:
    """
    What a gotMessage received, without waitForSubscription's probes.

    A legacy subscriber's gotMessage sees the probes too (its socket is
    subscribed to the probe tag while the handshake runs), so they are skipped;
    test_probesDoNotReachGotMessage shows why that is a bug.
    """

    def __init__(self) -> None:
        self.got: list[Received] = []
        self._waiting: list[tuple[Callable[[list[Received]], bool], Deferred[list[Received]]]] = []

    def add(self, message: bytes, tag: bytes) -> None:
        assert type(message) is bytes
        assert type(tag) is bytes
        if tag.startswith(PROBE_PREFIX):
            return
        self.got.append((message, tag))
        waiting, self._waiting = self._waiting, []
        for done, d in waiting:
            if d.called:  # cancelled by its deadline
                continue
            if done(self.got):
                d.callback(list(self.got))
            else:
                self._waiting.append((done, d))

    def until(self, done: Callable[[list[Received]], bool], what: str) -> Deferred[list[Received]]:
        if done(self.got):
            return succeed(list(self.got))
        d: Deferred[list[Received]] = Deferred()
        self._waiting.append((done, d))
        return bounded(d, what)

    def atLeast(self, count: int) -> Deferred[list[Received]]:
        return self.until(lambda got: len(got) >= count, f"{count} messages in gotMessage")

    def endsWith(self, body: bytes) -> Deferred[list[Received]]:
        return self.until(
            lambda got: bool(got) and got[-1][0] == body, f"gotMessage({body!r}, ...)"
        )


def observed(cls: type[Any]) -> type[Any]:
    """A subclass of the legacy class *cls* that also reports every gotMessage to self.inbox."""

    class Observed(cls):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.inbox = Inbox()
            super().__init__(*args, **kwargs)

        def gotMessage(self, message: bytes, tag: bytes) -> None:
            if tag.startswith(PROBE_PREFIX):
                # waitForSubscription's probes reach a legacy gotMessage, and their
                # 0xFF tag breaks ``tag.decode()``: see test_probesDoNotReachGotMessage.
                return
            super().gotMessage(message, tag)
            self.inbox.add(message, tag)

    Observed.__name__ = f"Observed{cls.__name__}"
    return Observed


def withoutProbes(received: list[Any], tagOf: Callable[[Any], bytes]) -> list[Any]:
    return [each for each in received if not tagOf(each).startswith(PROBE_PREFIX)]


def publisherAndSubscriber(
    factory: ZmqFactory,
    address: str,
    subscriberClass: type[Any],
    publisherClass: type[ZmqPubConnection] = ZmqPubConnection,
) -> tuple[Any, Any]:
    publisher = publisherClass(factory, bind(address))
    subscriber = subscriberClass(factory, connect(boundAddress(publisher)))
    return publisher, subscriber


# -- txZMQ-style subscribers, as their users wrote them ---------------------------------


class NewsSubscriber(ZmqSubConnection):
    """The reference's NewsSubscriber, recording where it printed."""

    def __init__(self, factory: Any, endpoint: Any) -> None:
        super().__init__(factory, endpoint)
        self.lines: list[str] = []
        self.received: list[Received] = []

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self.received.append((message, tag))
        self.lines.append(f"News [{tag.decode()}]: {message.decode()}")


class ZmqTestSubConnection(ZmqSubConnection):
    """txZMQ's own test subscriber, with its list made in __init__."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.messages: list[list[bytes]] = []

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self.messages.append([tag, message])


class SmartSubscriber(ZmqSubConnection):
    """The reference's SmartSubscriber: routes each message to its most specific handler."""

    def __init__(self, factory: Any, endpoint: Any) -> None:
        super().__init__(factory, endpoint)
        self.handlers: dict[bytes, Callable[[bytes, bytes], None]] = {}
        self.unhandled: list[Received] = []

    def add_topic_handler(
        self, topic_prefix: bytes, handler_func: Callable[[bytes, bytes], None]
    ) -> None:
        self.handlers[topic_prefix] = handler_func
        self.subscribe(topic_prefix)

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        tag_str = tag.decode()
        best_match = b""
        handler = None
        for topic_prefix, topic_handler in self.handlers.items():
            if tag_str.startswith(topic_prefix.decode()) and len(topic_prefix) > len(best_match):
                best_match = topic_prefix
                handler = topic_handler
        if handler:
            handler(message, tag)
        else:
            self.unhandled.append((message, tag))


class DataPublisher(ZmqPubConnection):
    """The reference's DataPublisher."""

    def publish_json(self, data: Any, topic: bytes) -> None:
        message = json.dumps(data).encode("utf-8")
        self.publish(message, topic)

    def publish_timestamped(self, data: Any, topic: bytes) -> None:
        timestamped = {"timestamp": datetime.now(timezone.utc).isoformat(), "data": data}
        self.publish_json(timestamped, topic)


class DataSubscriber(ZmqSubConnection):
    """The reference's DataSubscriber, recording where it printed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[str, Any, bytes]] = []

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        try:
            data = json.loads(message.decode("utf-8"))
            self.handle_json_message(data, tag)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self.handle_raw_message(message, tag)

    def handle_json_message(self, data: Any, tag: bytes) -> None:
        if "timestamp" in data:
            self.seen.append(("timestamped", data, tag))
        else:
            self.seen.append(("json", data, tag))

    def handle_raw_message(self, message: bytes, tag: bytes) -> None:
        self.seen.append(("raw", message, tag))


# -- the tests --------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_gotMessageOncePerMessageAcrossOverlappingSubscriptions(
    factory: ZmqFactory, inprocAddress: str
) -> None:
    publisher, subscriber = publisherAndSubscriber(
        factory, inprocAddress, observed(NewsSubscriber)
    )
    subscriber.subscribe(b"news")
    subscriber.subscribe(b"news.sports")  # a second subscription matching news.sports*
    subscriber.subscribe(b"news")  # and the first one twice, as ZeroMQ allows
    subscriber.subscribe(b"end")
    await waitForSubscription(publisher, subscriber)

    publisher.publish(b"goal", b"news.sports")
    publisher.publish(b"sunny", b"weather")
    publisher.publish(b"vote", b"news.politics")
    publisher.publish(b"plain", b"news")
    publisher.publish(b"match report", b"news.sports.football")
    publisher.publish(b"END", b"end")
    await subscriber.inbox.endsWith(b"END")

    expected = [
        (b"goal", b"news.sports"),
        (b"vote", b"news.politics"),
        (b"plain", b"news"),
        (b"match report", b"news.sports.football"),
        (b"END", b"end"),
    ]
    assert subscriber.inbox.got == expected
    assert subscriber.received == expected
    assert subscriber.lines == [
        f"News [{tag.decode()}]: {message.decode()}" for message, tag in expected
    ]


@pytest_twisted.ensureDeferred
async def test_messagesListMadeInInit(factory: ZmqFactory, inprocAddress: str) -> None:
    publisher, subscriber = publisherAndSubscriber(
        factory, inprocAddress, observed(ZmqTestSubConnection)
    )
    assert subscriber.messages == []
    subscriber.subscribe(b"tag")
    await waitForSubscription(publisher, subscriber)

    publisher.publish(b"xyz", b"different-tag")
    publisher.publish(b"abcd", b"tag1")
    publisher.publish(b"efgh", b"tag2")
    await subscriber.inbox.endsWith(b"efgh")

    assert subscriber.messages == [
        [b"tag1", b"abcd"],
        [b"tag2", b"efgh"],
    ]


@pytest_twisted.ensureDeferred
async def test_smartSubscriberRoutesToMostSpecificHandler(
    factory: ZmqFactory, inprocAddress: str
) -> None:
    publisher, subscriber = publisherAndSubscriber(
        factory, inprocAddress, observed(SmartSubscriber)
    )
    handled: list[tuple[str, bytes, bytes]] = []

    def handlerFor(name: str) -> Callable[[bytes, bytes], None]:
        return lambda message, tag: handled.append((name, message, tag))

    subscriber.add_topic_handler(b"news", handlerFor("news"))
    subscriber.add_topic_handler(b"news.breaking", handlerFor("breaking"))
    subscriber.add_topic_handler(b"news.sports", handlerFor("sports"))
    subscriber.add_topic_handler(b"weather", handlerFor("weather"))
    await waitForSubscription(publisher, subscriber)

    publisher.publish(b"market crash", b"news.breaking")
    publisher.publish(b"goal", b"news.sports")
    publisher.publish(b"sunny", b"weather.local")
    publisher.publish(b"elections", b"news.politics")
    publisher.publish(b"AAPL 150", b"stocks.AAPL")  # not subscribed: never arrives
    publisher.publish(b"END", b"news.end")
    await subscriber.inbox.endsWith(b"END")

    assert handled == [
        ("breaking", b"market crash", b"news.breaking"),
        ("sports", b"goal", b"news.sports"),
        ("weather", b"sunny", b"weather.local"),
        ("news", b"elections", b"news.politics"),
        ("news", b"END", b"news.end"),
    ]
    assert subscriber.unhandled == []


@pytest.mark.parametrize("when", ["beforeHandshake", "afterHandshake"])
@pytest_twisted.ensureDeferred
async def test_gotMessageAssignedOnInstanceAfterSubscribe(
    factory: ZmqFactory, inprocAddress: str, when: str
) -> None:
    """txZMQ's example: ``s.subscribe(b""); s.gotMessage = doPrint``."""
    publisher, subscriber = publisherAndSubscriber(factory, inprocAddress, ZmqSubConnection)
    inbox = Inbox()
    subscriber.subscribe(b"")
    if when == "beforeHandshake":
        subscriber.gotMessage = inbox.add
    await waitForSubscription(publisher, subscriber)
    if when == "afterHandshake":
        subscriber.gotMessage = inbox.add

    publisher.publish(b"one", b"news")
    publisher.publish(b"untagged")
    publisher.publish(b"three", b"weather")
    await inbox.endsWith(b"three")

    assert inbox.got == [(b"one", b"news"), (b"untagged", b""), (b"three", b"weather")]


@pytest.mark.parametrize("multipartFraming", [False, True])
@pytest_twisted.ensureDeferred
async def test_messageReceivedOverrideSeesFramesAndSuperDelivers(
    factory: ZmqFactory, inprocAddress: str, multipartFraming: bool
) -> None:
    class RawSubscriber(ZmqSubConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.frames: list[list[bytes]] = []
            self.inbox = Inbox()

        def messageReceived(self, message: list[bytes]) -> None:
            self.frames.append(list(message))
            super().messageReceived(message)

        def gotMessage(self, message: bytes, tag: bytes) -> None:
            self.inbox.add(message, tag)

    publisher = ZmqPubConnection(factory, bind(inprocAddress), multipartFraming=multipartFraming)
    subscriber = RawSubscriber(factory, connect(inprocAddress))
    subscriber.subscribe(b"news")
    subscriber.subscribe(b"news.sports")
    await waitForSubscription(publisher, subscriber)

    publisher.publish(b"one", b"news")
    publisher.publish(b"two", b"news.sports")
    await subscriber.inbox.endsWith(b"two")

    frames = withoutProbes(subscriber.frames, lambda each: each[0])
    if multipartFraming:
        assert frames == [[b"news", b"one"], [b"news.sports", b"two"]]
    else:
        assert frames == [[b"news\0one"], [b"news.sports\0two"]]
    assert subscriber.inbox.got == [(b"one", b"news"), (b"two", b"news.sports")]


@pytest_twisted.ensureDeferred
async def test_instanceGotMessageShadowsTheSubclassOne(
    factory: ZmqFactory, inprocAddress: str
) -> None:
    """As with any Python method, an instance attribute wins over the class's."""
    publisher, subscriber = publisherAndSubscriber(factory, inprocAddress, NewsSubscriber)
    subscriber.subscribe(b"news")
    await waitForSubscription(publisher, subscriber)
    inbox = Inbox()
    subscriber.gotMessage = inbox.add

    publisher.publish(b"one", b"news")
    publisher.publish(b"two", b"news")
    await inbox.endsWith(b"two")

    assert inbox.got == [(b"one", b"news"), (b"two", b"news")]
    assert [tag for _, tag in subscriber.received if not tag.startswith(PROBE_PREFIX)] == []


@pytest_twisted.ensureDeferred
async def test_raisingMessageReceivedIsLoggedAndDeliveryContinues(
    factory: ZmqFactory, inprocAddress: str, logged: list[dict[str, object]]
) -> None:
    class FragileRawSubscriber(ZmqSubConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.inbox = Inbox()

        def messageReceived(self, message: list[bytes]) -> None:
            if message[0].endswith(b"boom"):
                raise ValueError("cannot handle boom")
            super().messageReceived(message)

        def gotMessage(self, message: bytes, tag: bytes) -> None:
            self.inbox.add(message, tag)

    publisher, subscriber = publisherAndSubscriber(factory, inprocAddress, FragileRawSubscriber)
    subscriber.subscribe(b"t")
    await waitForSubscription(publisher, subscriber)

    publisher.publish(b"before", b"t")
    publisher.publish(b"boom", b"t")
    publisher.publish(b"after", b"t")
    await subscriber.inbox.endsWith(b"after")

    assert subscriber.inbox.got == [(b"before", b"t"), (b"after", b"t")]
    failures = [event for event in logged if "log_failure" in event]
    assert len(failures) == 1
    assert "messageReceived" in str(failures[0]["log_format"])
    assert failures[0]["log_failure"].check(ValueError)  # type: ignore[attr-defined]


class UnboundedPublisher(ZmqPubConnection):
    highWaterMark = 0  # txZMQ's default: queue everything, so a burst is never dropped


class UnboundedNewsSubscriber(NewsSubscriber):
    highWaterMark = 0


@pytest_twisted.ensureDeferred
async def test_legacySubscriberPaysNothingForQueuesUntilItReadsOne(
    factory: ZmqFactory, inprocAddress: str, logged: list[dict[str, object]]
) -> None:
    count = 3 * DEFAULT_MAX_QUEUED
    publisher, subscriber = publisherAndSubscriber(
        factory, inprocAddress, observed(UnboundedNewsSubscriber), UnboundedPublisher
    )
    bulk = subscriber.subscribe(b"bulk")
    other = subscriber.subscribe(b"bulk.sub")  # a second, overlapping queue
    await waitForSubscription(publisher, subscriber)

    for n in range(count):
        publisher.publish(b"%d" % n, b"bulk.sub" if n % 2 else b"bulk")
    got = await subscriber.inbox.atLeast(count)

    assert [message for message, _ in got] == [b"%d" % n for n in range(count)]
    for subscription in (bulk, other):
        statistics = subscription.statistics()
        assert (statistics.queued, statistics.peak, statistics.dropped) == (0, 0, 0)
    serious = (LogLevel.warn, LogLevel.error, LogLevel.critical)
    assert [event for event in logged if event.get("log_level") in serious] == []
    assert not any("is full" in str(event.get("log_format")) for event in logged)

    # Once the connection reads a tag with next(), that queue receives too.
    first = subscriber.next(b"bulk")
    publisher.publish(b"after-0", b"bulk")
    assert await bounded(first, "next(b'bulk')") == Message(b"bulk", b"after-0")
    for n in range(1, 6):
        publisher.publish(b"after-%d" % n, b"bulk.sub")
    got = await subscriber.inbox.endsWith(b"after-5")

    assert got[count:] == [(b"after-%d" % n, b"bulk" if n == 0 else b"bulk.sub") for n in range(6)]
    assert bulk.statistics().queued == 5
    assert other.statistics().queued == 0  # still unread, so still storing nothing
    bodies = [(await subscriber.next(b"bulk")).body for _ in range(5)]
    assert bodies == [b"after-%d" % n for n in range(1, 6)]
    assert bulk.statistics().dropped == 0


@pytest_twisted.ensureDeferred
async def test_raisingGotMessageIsLoggedAndDeliveryContinues(
    factory: ZmqFactory, inprocAddress: str, logged: list[dict[str, object]]
) -> None:
    class FragileSubscriber(ZmqSubConnection):
        def gotMessage(self, message: bytes, tag: bytes) -> None:
            if message == b"boom":
                raise ValueError("cannot handle boom")

    publisher, subscriber = publisherAndSubscriber(
        factory, inprocAddress, observed(FragileSubscriber)
    )
    subscriber.subscribe(b"t")
    await waitForSubscription(publisher, subscriber)

    publisher.publish(b"before", b"t")
    publisher.publish(b"boom", b"t")
    publisher.publish(b"after", b"t")
    publisher.publish(b"boom", b"t")
    publisher.publish(b"last", b"t")
    await subscriber.inbox.endsWith(b"last")

    # observed() records after the original gotMessage returns, so "boom" is missing.
    assert subscriber.inbox.got == [(b"before", b"t"), (b"after", b"t"), (b"last", b"t")]
    failures = [event for event in logged if "log_failure" in event]
    assert len(failures) == 2
    for event in failures:
        assert "gotMessage" in str(event["log_format"])
        assert event["log_failure"].check(ValueError)  # type: ignore[attr-defined]
        assert event["tag"] == b"t"


@pytest_twisted.ensureDeferred
async def test_strTagsAndMessages(factory: ZmqFactory, inprocAddress: str) -> None:
    publisher, subscriber = publisherAndSubscriber(
        factory, inprocAddress, observed(ZmqTestSubConnection)
    )
    subscriber.subscribe("news")
    await waitForSubscription(publisher, subscriber)

    publisher.publish("héllo wörld", "news")
    publisher.publish("second", "news.local")
    await subscriber.inbox.endsWith(b"second")
    assert subscriber.inbox.got == [
        ("héllo wörld".encode(), b"news"),
        (b"second", b"news.local"),
    ]

    # next() takes a str tag too, and reads the same subscription.
    waiting = subscriber.next("news")
    publisher.publish("third", "news")
    assert await bounded(waiting, "next('news')") == Message(b"news", b"third")


@pytest_twisted.ensureDeferred
async def test_jsonAndTimestampedDataPattern(factory: ZmqFactory, inprocAddress: str) -> None:
    publisher, subscriber = publisherAndSubscriber(
        factory, inprocAddress, observed(DataSubscriber), DataPublisher
    )
    for topic in (b"weather", b"stocks", b"raw", b"end"):
        subscriber.subscribe(topic)
    await waitForSubscription(publisher, subscriber)

    before = datetime.now(timezone.utc)
    publisher.publish_timestamped(
        {"temperature": 25.5, "humidity": 60, "location": "NYC"}, b"weather.NYC"
    )
    publisher.publish_json({"symbol": "AAPL", "price": 150.25, "volume": 1000}, b"stocks.AAPL")
    publisher.publish(b"\xff\xfe not json", b"raw.bytes")
    publisher.publish(b"{broken json", b"raw.text")
    publisher.publish(b"END", b"end")
    await subscriber.inbox.endsWith(b"END")

    seen = subscriber.seen
    assert [(kind, tag) for kind, _, tag in seen] == [
        ("timestamped", b"weather.NYC"),
        ("json", b"stocks.AAPL"),
        ("raw", b"raw.bytes"),
        ("raw", b"raw.text"),
        ("raw", b"end"),
    ]
    timestamped = seen[0][1]
    assert timestamped["data"] == {"temperature": 25.5, "humidity": 60, "location": "NYC"}
    assert datetime.fromisoformat(timestamped["timestamp"]) >= before
    assert seen[1][1] == {"symbol": "AAPL", "price": 150.25, "volume": 1000}
    assert seen[2][1] == b"\xff\xfe not json"


def test_legacyNamesImportFromTxzpub() -> None:
    """The names txZMQ pub/sub code imports all exist, with txZMQ's signatures."""
    endpoint = ZmqEndpoint(ZmqEndpointType.connect, "tcp://127.0.0.1:5555")
    assert endpoint.type == "connect"
    assert endpoint.address == "tcp://127.0.0.1:5555"
    assert ZmqSubConnection.gotMessage.__code__.co_varnames[:3] == ("self", "message", "tag")


@pytest_twisted.ensureDeferred
async def test_probesDoNotReachGotMessage(
    factory: ZmqFactory, inprocAddress: str, logged: list[dict[str, object]]
) -> None:
    """
    txzpub.testing promises that only a subscriber to b"" sees the probes. But a
    legacy gotMessage is called for every message its socket receives, and the
    socket is subscribed to the probe tag during the handshake, so the reference's
    NewsSubscriber (``tag.decode()``) gets a probe and raises UnicodeDecodeError.
    """
    publisher, subscriber = publisherAndSubscriber(factory, inprocAddress, NewsSubscriber)
    subscriber.subscribe(b"news")
    await waitForSubscription(publisher, subscriber)
    waiting = subscriber.next(b"news")
    publisher.publish(b"hello", b"news")
    await bounded(waiting, "next(b'news')")  # the probe, if delivered, came before it

    assert [event["log_format"] for event in logged if "log_failure" in event] == []
    assert [tag for _, tag in subscriber.received if tag.startswith(PROBE_PREFIX)] == []


@pytest_twisted.ensureDeferred
async def test_gotMessageAssignedMidBatchGetsTheRestOfIt(
    factory: ZmqFactory, inprocAddress: str
) -> None:
    """
    Read the first message with next(), then switch to gotMessage: every message
    delivered after the assignment must reach it. Over inproc, both messages are
    in the socket before the reader runs, so they are read in one batch.
    """
    publisher, subscriber = publisherAndSubscriber(factory, inprocAddress, ZmqSubConnection)
    subscriber.subscribe(b"first")
    subscriber.subscribe(b"second")
    await waitForSubscription(publisher, subscriber)
    inbox = Inbox()
    first = subscriber.next(b"first")

    def switchToGotMessage(message: Message) -> Message:
        subscriber.gotMessage = inbox.add
        return message

    first.addCallback(switchToGotMessage)
    publisher.publish(b"one", b"first")
    publisher.publish(b"two", b"second")
    assert await bounded(first, "next(b'first')") == Message(b"first", b"one")
    # Resumed inside the delivery of "one"; "two" comes next. A later message,
    # read in a later batch, tells when "two" has been delivered.
    third = subscriber.next(b"first")
    publisher.publish(b"three", b"first")
    assert await bounded(third, "next(b'first')") == Message(b"first", b"three")
    assert inbox.got == [(b"two", b"second")]  # got []: "two" only went to its queue
