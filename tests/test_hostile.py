"""
Hostile input (issue 6): what a peer that ignores txZMQ's framing, or means
harm, can do to a subscriber or a publisher.

1. A scripted socket feeds hostile frame lists through SocketReader into a
   Subscriber (or a txZMQ-style gotMessage subclass): nothing escapes the
   reader, only the test's own consumer errors are logged, and every message is
   accounted for exactly: delivered to each matching subscription's reader,
   still queued, or counted as dropped by the overflow policy.
2. The same over real sockets: a raw pyzmq XPUB sends the garbage over tcp or
   inproc, then a sentinel; the test waits for the sentinel under a deadline.
3. maxMessageSize (ZMQ_MAXMSGSIZE): bad values, the socket option, oversized
   parts refused without being allocated (measured in the process's peak RSS,
   with the publisher in another process), the connection recovering, and a
   publisher refusing a huge subscription.

Nothing here sleeps: every wait is on a Deferred under a deadline.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import zmq
from hypothesis import event, given, settings
from hypothesis import strategies as st
from twisted.internet import protocol
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, formatEvent, globalLogPublisher
from twisted.python.failure import Failure

from txzpub import (
    ConnectionClosed,
    ConnectionEventKind,
    Message,
    OverflowPolicy,
    ZmqConnection,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)
from txzpub._core._framing import decodeFrames
from txzpub._reader import SocketReader
from txzpub._subscriber import Subscriber
from txzpub.testing import waitForSubscription

from .helpers import FakeSocket, bind, boundAddress, bounded, connect, repeatUntil, waitForEvent
from .hostile_strategies import NOT_UTF8, Scenario, scenarios

PAUSE = OverflowPolicy.PAUSE
DROP_NEWEST = OverflowPolicy.DROP_NEWEST
DISCONNECTED = ConnectionEventKind.DISCONNECTED
HANDSHAKE = ConnectionEventKind.HANDSHAKE_SUCCEEDED

#: The last message of a real-socket run: two frames, so any separator leaves it alone.
SENTINEL_TAG = b"\xfe\xfd txzpub hostile sentinel"
SENTINEL = (SENTINEL_TAG, b"end")
SENTINEL_MESSAGE = Message(*SENTINEL)

#: Prefixes cut from frames stay below this on real SUB sockets (see scenarios()).
SOCKET_PREFIX_LIMIT = 64 * 1024

_names = itertools.count()


class UserError(Exception):
    """Raised on purpose by the tests' consumers: the only error the log may show."""


# -- reading a connection the way a scenario says ---------------------------------------


class LegacyRecorder(ZmqSubConnection):
    """A txZMQ-style subscriber: records every gotMessage call, raising now and then."""

    raiseEvery = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.legacyGot: list[tuple[bytes, bytes]] = []
        self.raised = 0
        self.sentinel: Deferred[None] = Deferred()
        super().__init__(*args, **kwargs)

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self.legacyGot.append((message, tag))
        if (tag, message) == SENTINEL:
            if not self.sentinel.called:
                self.sentinel.callback(None)
            return
        if self.raiseEvery and len(self.legacyGot) % self.raiseEvery == 0:
            self.raised += 1
            msg = f"gotMessage call {len(self.legacyGot)}"
            raise UserError(msg)


def subscriberClass(legacy: bool, separator: bytes) -> type[Subscriber]:
    base: type[Subscriber] = LegacyRecorder if legacy else Subscriber
    return type(f"Hostile{base.__name__}", (base,), {"topicSep": separator})


def _ended(failure: Failure) -> None:
    """A reader's pending next() when the connection shuts down: expected."""
    failure.trap(ConnectionClosed)


class Recorder:
    """
    Subscribes a connection to every prefix of *modes* and reads each as told:
    "live" (a next() always waiting), "batch" (a nextBatch() always waiting) or
    "unread". The consumers' callbacks raise UserError every *raiseEvery* calls.
    """

    def __init__(
        self,
        connection: Subscriber,
        modes: dict[bytes, str],
        raiseEvery: int,
        watch: bytes | None = None,
    ) -> None:
        self.connection = connection
        self.modes = modes
        self.raiseEvery = raiseEvery
        self.calls = 0
        self.raised = 0
        #: Fires when the *watch* prefix's reader gets the sentinel message.
        self.sentinel: Deferred[None] = Deferred()
        self._watch = watch
        self.received: dict[bytes, list[Message]] = {prefix: [] for prefix in modes}
        self.subscriptions = {prefix: connection.subscribe(prefix) for prefix in modes}
        for prefix, mode in modes.items():
            if mode == "live":
                self._next(prefix)
            elif mode == "batch":
                self._nextBatch(prefix)

    def _consumed(self, prefix: bytes, messages: Sequence[Message]) -> None:
        if prefix == self._watch and SENTINEL_MESSAGE in messages:
            if not self.sentinel.called:
                self.sentinel.callback(None)
            return
        self.calls += 1
        if self.raiseEvery and self.calls % self.raiseEvery == 0:
            self.raised += 1
            msg = f"consumer call {self.calls}"
            raise UserError(msg)

    def _next(self, prefix: bytes) -> None:
        def got(message: Message) -> None:
            self.received[prefix].append(message)
            self._next(prefix)  # waiting again before anything can raise
            self._consumed(prefix, [message])

        self.subscriptions[prefix].next().addCallbacks(got, _ended)

    def _nextBatch(self, prefix: bytes) -> None:
        def got(messages: list[Message]) -> None:
            self.received[prefix].extend(messages)
            self._nextBatch(prefix)
            self._consumed(prefix, messages)

        self.subscriptions[prefix].nextBatch(1000).addCallbacks(got, _ended)

    def drainUnread(self) -> None:
        """Read what the unread queues hold, as a slow consumer finally would."""
        for prefix, mode in self.modes.items():
            subscription = self.subscriptions[prefix]
            if mode == "unread" and subscription.statistics().queued:
                subscription.nextBatch(10**6).addCallback(self.received[prefix].extend)


# -- the model ----------------------------------------------------------------------------


def expectedDeliveries(
    prefixes: Sequence[bytes], messages: Sequence[Sequence[bytes]], separator: bytes
) -> tuple[dict[bytes, list[Message]], list[tuple[bytes, bytes]]]:
    """
    What each subscription must see (libzmq's prefix filter on the raw first
    frame, then txzpub's decoding), and what gotMessage must see: every message
    matching at least one subscription, once.
    """
    perPrefix: dict[bytes, list[Message]] = {prefix: [] for prefix in prefixes}
    legacy: list[tuple[bytes, bytes]] = []
    for frames in messages:
        message = decodeFrames(frames, separator)
        matching = [prefix for prefix in prefixes if frames[0].startswith(prefix)]
        for prefix in matching:
            perPrefix[prefix].append(message)
        if matching:
            legacy.append((message.body, message.tag))
    return perPrefix, legacy


def isSubsequence(part: Sequence[Message], whole: Sequence[Message]) -> bool:
    remaining = iter(whole)
    return all(any(item == candidate for candidate in remaining) for item in part)


def checkAccounting(
    recorder: Recorder,
    messages: Sequence[Sequence[bytes]],
    separator: bytes,
    overflow: OverflowPolicy,
    maxQueued: int,
) -> None:
    """Every message is delivered to each matching reader, still queued, or counted dropped."""
    connection = recorder.connection
    legacy = isinstance(connection, LegacyRecorder)
    perPrefix, legacyExpected = expectedDeliveries(list(recorder.modes), messages, separator)
    for prefix, mode in recorder.modes.items():
        subscription = recorder.subscriptions[prefix]
        statistics = subscription.statistics()
        queued = list(subscription._items)
        got = recorder.received[prefix]
        expected = perPrefix[prefix]
        where = f"subscription {prefix[:40]!r} ({mode}, {overflow.name}, maxQueued={maxQueued})"
        assert statistics.queued == len(queued), where
        if legacy and mode == "unread":
            # gotMessage's connection feeds only the queues somebody reads.
            assert (got, queued, statistics.dropped) == ([], [], 0), where
            continue
        assert len(got) + len(queued) + statistics.dropped == len(expected), where
        if overflow is PAUSE or mode == "live":
            assert statistics.dropped == 0, where
            assert got + queued == expected, where
        elif mode == "unread":
            assert got == [], where
            kept = expected[:maxQueued] if overflow is DROP_NEWEST else expected[-maxQueued:]
            assert queued == kept, where
        else:  # a waiting nextBatch() collects a whole read batch, so which ones drop varies
            assert isSubsequence(got + queued, expected), where
        if overflow is not PAUSE:
            assert statistics.peak <= maxQueued, where
    if isinstance(connection, LegacyRecorder):
        assert connection.legacyGot == legacyExpected


def checkLog(events: list[dict[str, Any]], raised: int) -> None:
    """Only the consumers' own UserErrors were logged, each exactly once."""
    failures = [event for event in events if "log_failure" in event]
    foreign = [formatEvent(e) for e in failures if not e["log_failure"].check(UserError)]
    assert foreign == [], "txzpub itself logged an error"
    assert len(failures) == raised
    for entry in events:
        if entry.get("log_level") in (LogLevel.warn, LogLevel.error, LogLevel.critical):
            assert "log_failure" in entry or str(entry.get("log_format")).startswith(
                "The queue of {what} is full"
            ), formatEvent(entry)


def describe(scenario: Scenario, recorder: Recorder) -> None:
    """Hypothesis statistics (--hypothesis-show-statistics): which hostile kinds were tried."""
    separator = scenario.separator
    frames = [frame for message in scenario.messages for frame in message]
    kinds = {
        "a message": bool(scenario.messages),
        "3+ frames": any(len(message) >= 3 for message in scenario.messages),
        "an empty frame": b"" in frames,
        "a frame of 64 KB or more": any(len(frame) >= 64 * 1024 for frame in frames),
        "a first frame without the separator": any(
            separator not in message[0] for message in scenario.messages
        ),
        "a non-UTF-8 frame": any(not _isUtf8(frame) for frame in frames),
        "a multi-byte separator": len(separator) > 1,
        "a prefix holding the separator's first byte": any(
            separator[:1] in prefix for prefix in scenario.prefixes
        ),
        "a subscription to b''": b"" in scenario.prefixes,
        "messages dropped": any(s.statistics().dropped for s in recorder.subscriptions.values()),
        "user errors logged": raisedBy(recorder) > 0,
    }
    for kind, present in kinds.items():
        if present:
            event(kind)
    event(f"overflow={scenario.overflow.name}")


def _isUtf8(frame: bytes) -> bool:
    try:
        frame.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def raisedBy(recorder: Recorder) -> int:
    connection = recorder.connection
    return recorder.raised + (connection.raised if isinstance(connection, LegacyRecorder) else 0)


class LogCapture:
    """Every twisted.logger event while active."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> list[dict[str, Any]]:
        globalLogPublisher.addObserver(self.events.append)
        return self.events

    def __exit__(self, *exc: object) -> None:
        globalLogPublisher.removeObserver(self.events.append)


# -- 1. a scripted socket through SocketReader ----------------------------------------------


@pytest.fixture(scope="module")
def fakeReactorFactory() -> Iterator[tuple[ZmqFactory, MemoryReactorClock]]:
    """One factory on a fake reactor for every example (sockets are real, never attached)."""
    reactor = MemoryReactorClock()
    made = ZmqFactory(reactor)
    made.lingerPeriod = 0
    yield made, reactor
    made.shutdown()


def drive(
    reactor: MemoryReactorClock, reader: SocketReader, fake: FakeSocket, recorder: Recorder
) -> int:
    """Run reactor turns until the socket is read dry; unblock a PAUSE by reading. Returns the stalls."""
    for stalls in range(10_000):
        while reactor.getDelayedCalls():
            reactor.advance(0)
        if not fake.incoming:
            return stalls
        assert reader.paused, "messages are left on the socket, yet the reader is not paused"
        recorder.drainUnread()  # a full PAUSE queue holds the reader until somebody reads it
    msg = "the reader never caught up"
    raise AssertionError(msg)


@given(
    scenario=scenarios(maxMessages=20, maxFrames=4, maxPrefix=SOCKET_PREFIX_LIMIT),
    legacy=st.booleans(),
)
def test_hostileFramesThroughReaderAndSubscriber(
    fakeReactorFactory: tuple[ZmqFactory, MemoryReactorClock], scenario: Scenario, legacy: bool
) -> None:
    """
    Hostile frame lists, read by SocketReader in batches of 1 to 256, into a
    Subscriber or a gotMessage subclass with a small queue bound and each
    overflow policy: nothing escapes the reader, it stays registered, and the
    accounting is exact.
    """
    factory, reactor = fakeReactorFactory
    cls = subscriberClass(legacy, scenario.separator)
    connection = cls(factory, maxQueued=scenario.maxQueued, overflow=scenario.overflow)
    with LogCapture() as events:
        try:
            connection._reader.stop()
            fake = FakeSocket()
            reader = SocketReader(
                fake, 1, reactor, connection._receiveBatch, batchSize=scenario.batchSize
            )
            connection._reader = reader
            reader.start()
            if isinstance(connection, LegacyRecorder):
                connection.raiseEvery = scenario.raiseEvery
            recorder = Recorder(connection, dict(scenario.modes), scenario.raiseEvery)
            fake.incoming.extend(list(frames) for frames in scenario.messages)
            reader.doRead()
            if drive(reactor, reader, fake, recorder):
                event("a full PAUSE queue held the reader")

            assert reader.fileno() == 1, "the reader stopped"
            describe(scenario, recorder)
            checkAccounting(
                recorder,
                scenario.messages,
                scenario.separator,
                scenario.overflow,
                scenario.maxQueued,
            )
            checkLog(events, raisedBy(recorder))
        finally:
            connection.shutdown()


def test_unreadQueueOverflowCountsEveryDrop(
    fakeReactorFactory: tuple[ZmqFactory, MemoryReactorClock],
) -> None:
    """A fixed case of the property above: 1,000 hostile messages into queues of 3."""
    factory, reactor = fakeReactorFactory
    messages = [[b""], [b"\xff\xfe"], [b"a\0b"], [b"a", b"b", b"c"], [b"\0" * 5]] * 200
    for policy in (OverflowPolicy.DROP_OLDEST, DROP_NEWEST):
        connection = Subscriber(factory, maxQueued=3, overflow=policy)
        try:
            connection._reader.stop()
            fake = FakeSocket()
            reader = SocketReader(fake, 1, reactor, connection._receiveBatch, batchSize=7)
            connection._reader = reader
            recorder = Recorder(connection, {b"": "unread", b"a": "unread", b"\0": "live"}, 0)
            fake.incoming.extend(messages)
            reader.doRead()
            drive(reactor, reader, fake, recorder)
            checkAccounting(recorder, messages, b"\0", policy, 3)
            assert recorder.subscriptions[b""].statistics().dropped == 997
            assert recorder.subscriptions[b"a"].statistics().dropped == 397
            assert len(recorder.received[b"\0"]) == 200
        finally:
            connection.shutdown()


def test_messageReceivedWithNoFrames(factory: ZmqFactory) -> None:
    """txZMQ's public messageReceived hook, called by user code with an empty list."""
    connection = ZmqSubConnection(factory)
    got: list[tuple[bytes, bytes]] = []
    connection.gotMessage = lambda message, tag: got.append((message, tag))  # type: ignore[method-assign]
    connection.subscribe(b"")
    connection.messageReceived([])
    assert got == [(b"", b"")]


# -- 2. a raw pyzmq XPUB sending garbage over real sockets ---------------------------------


class HostilePublisher:
    """
    A raw pyzmq XPUB that sends whatever frames it is given, and whose
    subscriptions (read by a SocketReader, never polled) say when every
    subscription of the subscriber has arrived: no probe messages needed.
    """

    def __init__(self, context: zmq.Context[Any], address: str, reactor: Any) -> None:
        self.socket = context.socket(zmq.XPUB)
        try:
            self.socket.linger = 0
            self.socket.sndhwm = 0  # never drop: every message must be accounted for
            self.socket.set(zmq.XPUB_VERBOSE, 1)
            self.socket.bind(address)
        except BaseException:
            self.socket.close(linger=0)
            raise
        self.address = self.socket.get(zmq.LAST_ENDPOINT).decode()
        self.subscribed: set[bytes] = set()
        self._waiting: list[tuple[set[bytes], Deferred[None]]] = []
        self._reader = SocketReader(
            self.socket, int(self.socket.get(zmq.FD)), reactor, self._onBatch, prefix="hostile"
        )
        self._reader.start()

    def _onBatch(self, batch: list[list[bytes]]) -> None:
        for frames in batch:
            if frames[0][:1] == b"\x01":
                self.subscribed.add(frames[0][1:])
        waiting, self._waiting = self._waiting, []
        for prefixes, d in waiting:
            if d.called:
                continue
            if prefixes <= self.subscribed:
                d.callback(None)
            else:
                self._waiting.append((prefixes, d))

    def whenSubscribed(self, prefixes: set[bytes]) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self._waiting.append((prefixes, d))
        self._onBatch([])
        return bounded(d, f"{len(prefixes)} subscriptions at the hostile publisher")

    def send(self, frames: Sequence[bytes]) -> None:
        self.socket.send_multipart(frames, zmq.NOBLOCK)

    def close(self) -> None:
        self._reader.stop()
        self.socket.close(linger=0)


async def runOverSockets(scenario: Scenario, legacy: bool, transport: str) -> Recorder:
    """Send *scenario*'s messages and a sentinel from a raw XPUB; check the accounting."""
    from twisted.internet import reactor

    assert SENTINEL_TAG not in scenario.prefixes
    assert not any(frames[0].startswith(SENTINEL_TAG) for frames in scenario.messages)
    modes = dict(scenario.modes)
    if scenario.overflow is PAUSE:
        # An unread full PAUSE queue holds the reader until somebody reads it: here nobody does.
        modes = {prefix: "batch" if mode == "unread" else mode for prefix, mode in modes.items()}
    modes[SENTINEL_TAG] = "unread" if legacy else "live"
    factory = ZmqFactory(reactor)
    factory.lingerPeriod = 0
    assert factory.context is not None
    address = "tcp://127.0.0.1:0" if transport == "tcp" else f"inproc://hostile-{next(_names)}"
    publisher: HostilePublisher | None = None
    with LogCapture() as events:
        try:
            publisher = HostilePublisher(factory.context, address, reactor)
            cls = subscriberClass(legacy, scenario.separator)
            connection = cls(
                factory,
                connect(publisher.address),
                maxQueued=scenario.maxQueued,
                overflow=scenario.overflow,
            )
            if isinstance(connection, LegacyRecorder):
                connection.raiseEvery = scenario.raiseEvery
            recorder = Recorder(connection, modes, scenario.raiseEvery, watch=SENTINEL_TAG)
            await publisher.whenSubscribed(set(modes))

            sent = [*scenario.messages, SENTINEL]
            for frames in sent:
                publisher.send(frames)
            if isinstance(connection, LegacyRecorder):
                await bounded(connection.sentinel, "the sentinel, through gotMessage")
            else:
                await bounded(recorder.sentinel, "the sentinel, through next()")

            checkAccounting(
                recorder, sent, scenario.separator, scenario.overflow, scenario.maxQueued
            )
            checkLog(events, raisedBy(recorder))
        finally:
            if publisher is not None:
                publisher.close()
            factory.shutdown()
    return recorder


def withoutSentinel(scenario: Scenario) -> bool:
    return SENTINEL_TAG not in scenario.prefixes and not any(
        frames[0].startswith(SENTINEL_TAG) for frames in scenario.messages
    )


@settings(max_examples=25)
@given(
    scenario=scenarios(
        maxMessages=30, maxFrames=50, maxHuge=100 * 1024, maxPrefix=SOCKET_PREFIX_LIMIT
    ).filter(withoutSentinel),
    legacy=st.booleans(),
    transport=st.sampled_from(["tcp", "inproc"]),
)
@pytest_twisted.ensureDeferred
async def test_hostilePublisherOverRealSockets(
    scenario: Scenario, legacy: bool, transport: str
) -> None:
    """
    A raw XPUB sends 1- to 50-frame messages of empty, separator-only, non-UTF-8
    and 100 KB frames (tags without a separator included), over tcp or inproc:
    the subscriber accounts for every one, exactly.
    """
    describe(scenario, await runOverSockets(scenario, legacy, transport))


def seededScenario(seed: int, count: int) -> Scenario:
    """*count* random hostile messages, reproducible from *seed*."""
    rng = random.Random(seed)
    separator = [b"\0", b"::", b"|", b"\xff"][seed % 4]

    def hugeOrNormal() -> bytes:
        if rng.random() < 0.05:
            return b"T" * 100_000 + separator + b"huge tag"
        return normal()

    def normal() -> bytes:
        return b"t%d" % rng.randrange(12) + separator + rng.randbytes(rng.randrange(20))

    kinds: list[Callable[[], bytes]] = [
        lambda: b"",
        lambda: rng.randbytes(rng.randrange(1, 40)),
        lambda: rng.choice(NOT_UTF8) + rng.randbytes(3),
        lambda: separator * rng.randrange(1, 4),
        lambda: b"no separator %d" % rng.randrange(30),
        hugeOrNormal,
        normal,
        normal,
        normal,
        normal,
    ]

    def frame() -> bytes:
        return rng.choice(kinds)()

    messages = []
    for _ in range(count):
        frames = 1 if rng.random() < 0.6 else rng.randrange(2, 51)
        messages.append(tuple(frame() for _ in range(frames)))
    prefixes = [b"", b"t1", b"t1" + separator, separator[:1], NOT_UTF8[0], b"T" * 1000, b"no"]
    modes = dict(zip(prefixes, itertools.cycle(["live", "batch", "unread"]), strict=False))
    return Scenario(
        separator=separator,
        prefixes=frozenset(prefixes),
        messages=tuple(messages),
        modes=modes,
        overflow=list(OverflowPolicy)[seed % 3],
        maxQueued=1 + seed % 5,
        batchSize=256,
        raiseEvery=5,
    )


@pytest.mark.parametrize("legacy", [False, True], ids=["next", "gotMessage"])
@pytest.mark.parametrize("seed", range(3))
@pytest_twisted.ensureDeferred
async def test_seededFloodOverRealSockets(seed: int, legacy: bool) -> None:
    """400 seeded hostile messages per run, each overflow policy, tcp and inproc."""
    await runOverSockets(seededScenario(seed, 400), legacy, ["tcp", "inproc"][seed % 2])


# -- 3. maxMessageSize ---------------------------------------------------------------------


class Puller(ZmqConnection):
    socketType = zmq.PULL


CLASSES = [Puller, ZmqPubConnection, Subscriber, ZmqSubConnection]


def openFds() -> int:
    return len(os.listdir("/proc/self/fd"))


def freePort() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize("value", [0, -1, True, False, 1.5, "10", b"10", float("nan")])
@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_badMaxMessageSize(factory: ZmqFactory, cls: type[ZmqConnection], value: object) -> None:
    """
    Refused, as keyword or class attribute, with the error naming the value (a
    TypeError for a non-int, a ValueError for an int below 1); nothing opened.
    """
    error = ValueError if type(value) is int else TypeError
    assert factory.context is not None
    warm = factory.context.socket(zmq.PUB)  # libzmq's threads and fds exist before counting
    try:
        port = freePort()
        address = f"tcp://127.0.0.1:{port}"
        fds = openFds()
        with pytest.raises(error, match="^maxMessageSize must be ") as caught:
            cls(factory, bind(address), maxMessageSize=value)  # type: ignore[arg-type]
        assert repr(value) in str(caught.value)
        bad = type("Bad", (cls,), {"maxMessageSize": value})
        with pytest.raises(error, match="^maxMessageSize must be "):
            bad(factory, bind(address))
        assert factory.connections == set()
        assert openFds() == fds
        cls(factory, bind(address)).shutdown()  # the address was never taken
    finally:
        warm.close(linger=0)


def test_maxMessageSizeBeyondInt64(factory: ZmqFactory) -> None:
    with pytest.raises(ValueError, match="maxMessageSize"):
        ZmqSubConnection(factory, maxMessageSize=2**63)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_maxMessageSizeReachesTheSocket(factory: ZmqFactory, cls: type[ZmqConnection]) -> None:
    """Default: libzmq's -1 (no limit); keyword; class attribute; keyword over attribute."""
    limited = type("Limited", (cls,), {"maxMessageSize": 4096})
    made = [
        (cls(factory), -1),
        (cls(factory, maxMessageSize=1), 1),
        (cls(factory, maxMessageSize=2**63 - 1), 2**63 - 1),
        (limited(factory), 4096),
        (limited(factory, maxMessageSize=1024), 1024),
    ]
    for connection, expected in made:
        assert connection.socket.get(zmq.MAXMSGSIZE) == expected
        connection.shutdown()


class LimitedSubscriber(ZmqSubConnection):
    """The class-attribute form: every part over 1 KB drops the connection."""

    maxMessageSize = 1024
    monitored = True
    reconnectInterval = 10  # so a reconnection, if any, comes at once


@pytest.mark.parametrize(
    "subscriberBinds",
    [
        pytest.param(True, id="subscriberBinds"),
        pytest.param(
            False,
            id="subscriberConnects",
        ),
    ],
)
@pytest_twisted.ensureDeferred
async def test_oversizedPartDropsTheConnectionOnly(
    factory: ZmqFactory, logged: list[dict[str, object]], subscriberBinds: bool
) -> None:
    """
    A 2 KB message never reaches a subscriber limited to 1 KB; its monitor and
    log show the disconnect; small messages published afterwards arrive again.
    """
    if subscriberBinds:
        subscriber = LimitedSubscriber(factory, bind("tcp://127.0.0.1:0"))
        publisher = ZmqPubConnection(factory, connect(boundAddress(subscriber)))
    else:
        publisher = ZmqPubConnection(factory, bind("tcp://127.0.0.1:0"))
        subscriber = LimitedSubscriber(factory, connect(boundAddress(publisher)))
    assert subscriber.socket.get(zmq.MAXMSGSIZE) == 1024
    stream = subscriber.events()
    queue = subscriber.subscribe(b"t")
    await waitForSubscription(publisher, subscriber)

    publisher.publish(b"x" * 2048, b"t")
    await waitForEvent(stream, DISCONNECTED)
    assert any("disconnected from" in formatEvent(event) for event in logged)
    counter = itertools.count()
    first = await repeatUntil(
        lambda: publisher.publish(b"small %d" % next(counter), b"t"),
        queue.next(),
        "a small message after the oversized one",
        2.0,
    )
    assert first.body.startswith(b"small ")
    assert all(message.body.startswith(b"small ") for message in queue._items)


CHILD_PUBLISHER = r"""
import os, sys, time, zmq
address, size = sys.argv[1], int(sys.argv[2])
context = zmq.Context()
publisher = context.socket(zmq.XPUB)
publisher.linger = 0
publisher.connect(address)
poller = zmq.Poller()
poller.register(publisher, zmq.POLLIN)
poller.register(0, zmq.POLLIN)
sentBig, count, deadline = False, 0, time.monotonic() + 30
while time.monotonic() < deadline:
    ready = dict(poller.poll(5))
    if 0 in ready and not os.read(0, 1):
        break  # the test closed our stdin: done
    if publisher in ready:
        if publisher.recv()[:1] == b"\x01" and not sentBig:
            publisher.send(b"t\0" + bytes(size))  # one part of size + 2 bytes
            sentBig = True
            sys.stdout.write("sent-big\n")
            sys.stdout.flush()
    elif sentBig:
        count += 1
        publisher.send(b"t\0small %d" % count)
publisher.close()
context.term()
"""


class ChildPublisher(protocol.ProcessProtocol):
    """The publisher in its own process, so its 64 MB never counts in ours."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.sentBig: Deferred[None] = Deferred()
        self.ended: Deferred[None] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.out += data
        if b"sent-big\n" in self.out and not self.sentBig.called:
            self.sentBig.callback(None)

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason: Failure) -> None:
        self.ended.callback(None)


def memoryStatus() -> dict[str, int]:
    """VmHWM (peak RSS) and VmRSS of this process, in bytes."""
    found = {}
    with Path("/proc/self/status").open(encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                found[name] = int(value.split()[0]) * 1024
    return found


def resetPeakRss() -> None:
    try:
        with Path("/proc/self/clear_refs").open("w", encoding="ascii") as clear:
            clear.write("5")  # Linux: reset VmHWM to the current RSS
    except OSError as error:
        pytest.skip(f"cannot reset the peak RSS here: {error}")


BIG = 64 * 1024 * 1024


@pytest.mark.parametrize("limit", [1024, None], ids=["limited", "unlimitedControl"])
@pytest_twisted.ensureDeferred
async def test_oversizedPartIsNeverAllocated(factory: ZmqFactory, limit: int | None) -> None:
    """
    A 64 MB message from a publisher in another process: with maxMessageSize
    the subscriber's peak RSS barely moves (libzmq refuses the part from its
    header) and small messages arrive after it; without, the peak grows by tens
    of megabytes (the control, showing that the measurement sees it).
    """
    from twisted.internet import reactor

    subscriber = Subscriber(factory, bind("tcp://127.0.0.1:0"), maxMessageSize=limit)
    stream = subscriber.events()
    subscriber.subscribe(b"t")
    arrived = subscriber.next(b"t")
    resetPeakRss()
    before = memoryStatus()
    child = ChildPublisher()
    process = reactor.spawnProcess(
        child,
        sys.executable,
        [sys.executable, "-c", CHILD_PUBLISHER, boundAddress(subscriber), str(BIG)],
        env=None,
    )
    try:
        await bounded(child.sentBig, "the child's 64 MB message")
        first = await bounded(arrived, "the first message")
        after = memoryStatus()
        growth = after["VmHWM"] - before["VmHWM"]
        if limit is None:
            assert len(first.body) == BIG
            # At least one copy of it: in a long-lived process some may land in memory
            # that was already resident, so not always all of the two or three copies.
            assert growth >= BIG // 2, f"peak RSS grew by {growth:,} bytes only"
        else:
            assert first.body.startswith(b"small ")
            assert growth < 8 * 1024 * 1024, f"peak RSS grew by {growth:,} bytes"
            await waitForEvent(stream, DISCONNECTED)
    finally:
        process.closeStdin()
        try:
            await bounded(child.ended, "the child publisher's exit")
        except TimeoutError:
            process.signalProcess("KILL")
            raise
    assert child.err == b"", child.err.decode(errors="replace")


@pytest_twisted.ensureDeferred
async def test_publisherRefusesHugeSubscription(factory: ZmqFactory) -> None:
    """
    An XPUB receives subscriptions as inbound messages, so maxMessageSize also
    bounds them: a peer subscribing to a 2 KB prefix is disconnected before the
    prefix is stored, and well-behaved subscribers carry on.
    """
    publisher = ZmqPubConnection(factory, bind("tcp://127.0.0.1:0"), maxMessageSize=1024)
    stream = publisher.events()
    seen: list[tuple[bytes, bool]] = []
    publisher.onSubscription(lambda prefix, subscribed: seen.append((prefix, subscribed)))
    assert factory.context is not None
    hostile = factory.context.socket(zmq.SUB)
    try:
        hostile.linger = 0
        hostile.subscribe(b"ok")
        hostile.subscribe(b"H" * 2048)
        hostile.connect(boundAddress(publisher))
        await waitForEvent(stream, DISCONNECTED)

        good = ZmqSubConnection(factory, connect(boundAddress(publisher)))
        good.subscribe(b"good")
        await publisher.waitForSubscribers(count=1, tag=b"good.news", timeout=10)
        publisher.publish(b"hello", b"good.news")
        assert await bounded(good.next(b"good"), "good news") == Message(b"good.news", b"hello")
        assert all(len(prefix) < 1024 for prefix, _ in seen)
        assert (b"good", True) in seen
        assert b"H" * 2048 not in publisher.subscriptions
    finally:
        hostile.close(linger=0)


def test_hugeSubscriptionTagIsRefusedNotFatal() -> None:
    """A 300 KB tag must be refused (ValueError) rather than crash the process on shutdown."""
    code = (
        "from twisted.internet.testing import MemoryReactorClock\n"
        "from txzpub import ZmqFactory, ZmqSubConnection\n"
        "factory = ZmqFactory(MemoryReactorClock())\n"
        "try:\n"
        "    ZmqSubConnection(factory).subscribe(b'x' * 300_000)\n"
        "except ValueError:\n"
        "    pass\n"
        "factory.shutdown()\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-500:])
