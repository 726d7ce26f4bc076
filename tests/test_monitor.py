"""Connection lifecycle: whenConnected(), events(), logging, and no leaked monitors."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import pytest_twisted
import zmq
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, ensureDeferred

from txzpub import (
    ConnectionClosed,
    ConnectionEvent,
    ConnectionEventKind,
    ConnectionEvents,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)

from .helpers import bind, boundAddress, bounded, connect, waitForEvent

HANDSHAKE = ConnectionEventKind.HANDSHAKE_SUCCEEDED
DISCONNECTED = ConnectionEventKind.DISCONNECTED


class MonitoredPub(ZmqPubConnection):
    monitored = True


class MonitoredSub(ZmqSubConnection):
    monitored = True


def freeTcpAddress() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def openFds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def address(request: pytest.FixtureRequest, ipcAddress: str) -> str:
    return freeTcpAddress() if request.param == "tcp" else ipcAddress


@pytest.mark.parametrize("address", ["tcp", "ipc"], indirect=True)
@pytest_twisted.inlineCallbacks
def test_whenConnectedBindThenConnect(factory: ZmqFactory, address: str) -> Iterator[object]:
    publisher = ZmqPubConnection(factory, bind(address))
    published = publisher.whenConnected()
    subscriber = ZmqSubConnection(factory)
    subscribed = subscriber.whenConnected()  # before the endpoint: nothing can be missed
    subscriber.addEndpoints([connect(boundAddress(publisher))])

    pubEvent = yield bounded(published, "the publisher's handshake")
    subEvent = yield bounded(subscribed, "the subscriber's handshake")

    assert pubEvent.kind is subEvent.kind is HANDSHAKE
    assert subEvent.endpoint == boundAddress(publisher)
    assert subEvent.code == zmq.EVENT_HANDSHAKE_SUCCEEDED
    again = publisher.whenConnected()
    assert again.called  # already happened: fires at once, with the same event
    assert (yield again) is pubEvent


@pytest.mark.parametrize("address", ["tcp", "ipc"], indirect=True)
@pytest_twisted.inlineCallbacks
def test_whenConnectedConnectThenBind(factory: ZmqFactory, address: str) -> Iterator[object]:
    subscriber = ZmqSubConnection(factory)
    subscribed = subscriber.whenConnected()
    subscriber.addEndpoints([connect(address)])
    assert not subscribed.called  # nobody is listening yet
    publisher = MonitoredPub(factory, bind(address))  # monitored from before the bind
    published = publisher.whenConnected()

    subEvent = yield bounded(subscribed, "the subscriber's handshake")
    pubEvent = yield bounded(published, "the publisher's handshake")

    assert subEvent.kind is pubEvent.kind is HANDSHAKE
    assert subEvent.endpoint == address


@pytest_twisted.inlineCallbacks
def test_eventsReportAPeerClosingAndEndOnShutdown(
    factory: ZmqFactory, logged: list[dict[str, object]]
) -> Iterator[object]:
    subscriber = MonitoredSub(factory, bind("tcp://127.0.0.1:0"))
    address = boundAddress(subscriber)
    stream = subscriber.events()
    assert factory.context is not None
    peer = factory.context.socket(zmq.PUB)
    peer.connect(address)
    try:
        yield waitForEvent(stream, ConnectionEventKind.ACCEPTED)
        yield waitForEvent(stream, HANDSHAKE)
    finally:
        peer.close(linger=0)
    gone = yield waitForEvent(stream, DISCONNECTED)
    assert gone.endpoint == address

    ended = ensureDeferred(_drain(stream))
    subscriber.shutdown()
    yield bounded(ended, "the end of async for")
    assert stream.closed
    with pytest.raises(ConnectionClosed):
        yield stream.next()
    disconnects = [
        e for e in logged if e.get("log_format") == "{connection!r} disconnected from {endpoint}"
    ]
    assert len(disconnects) == 1
    assert disconnects[0]["endpoint"] == address
    assert disconnects[0]["connection"] is subscriber


async def _drain(stream: ConnectionEvents) -> list[ConnectionEvent]:
    return [event async for event in stream]


PEER = """
import sys, time, zmq
socket = zmq.Context().socket(zmq.PUB)
socket.bind(sys.argv[1])
print("ready", flush=True)
while True:
    time.sleep(60)
"""


@pytest_twisted.inlineCallbacks
def test_eventsReportAKilledPeerAndItsReturn(
    factory: ZmqFactory, logged: list[dict[str, object]]
) -> Iterator[object]:
    address = freeTcpAddress()
    subscriber = MonitoredSub(factory, connect(address))
    stream = subscriber.events()

    def startPeer() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", PEER, address])  # noqa: S603

    peer = startPeer()
    try:
        first = yield waitForEvent(stream, HANDSHAKE)
        peer.kill()
        peer.wait()
        gone = yield waitForEvent(stream, DISCONNECTED)
        peer = startPeer()
        back = yield waitForEvent(stream, HANDSHAKE)
    finally:
        peer.kill()
        peer.wait()
    assert first.endpoint == gone.endpoint == back.endpoint == address
    formats = [e.get("log_format") for e in logged]
    assert "{connection!r} disconnected from {endpoint}" in formats
    assert "{connection!r} reconnected to {endpoint}" in formats


@pytest_twisted.inlineCallbacks
def test_eachStreamSeesEveryEvent(factory: ZmqFactory) -> Iterator[object]:
    publisher = MonitoredPub(factory, bind("tcp://127.0.0.1:0"))
    one, two = publisher.events(), publisher.events()
    subscriber = ZmqSubConnection(factory, connect(boundAddress(publisher)))
    first = yield waitForEvent(one, HANDSHAKE)
    second = yield waitForEvent(two, HANDSHAKE)
    assert first is second
    subscriber.shutdown()


def test_streamsAreBoundedAndDropTheOldest() -> None:
    stream = ConnectionEvents._create("the events", maxQueued=2)
    events = [ConnectionEvent(DISCONNECTED, f"tcp://x:{n}", n) for n in range(5)]
    for event in events:
        stream._put(event)
    assert stream.statistics().dropped == 3
    assert stream.next().result is events[3]  # type: ignore[attr-defined]
    assert stream.next().result is events[4]  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"^maxQueued must be >= 1, not 0 \(int\)$"):
        ConnectionEvents._create("the events", 0)


def test_eventsBoundIsChecked(factory: ZmqFactory) -> None:
    """A bound of the wrong type is a TypeError, as for every other bound."""
    publisher = ZmqPubConnection(factory)
    with pytest.raises(TypeError, match=r"^maxQueued must be an int, not 'x' \(str\)$"):
        publisher.events("x")  # type: ignore[arg-type]


def test_closedStreamKeepsWhatItQueued() -> None:
    stream = ConnectionEvents._create("the events")
    event = ConnectionEvent(HANDSHAKE, "inproc://x")
    stream._put(event)
    stream.close()
    stream._put(event)
    assert stream.next().result is event  # type: ignore[attr-defined]
    failure = stream.next().result  # type: ignore[attr-defined]
    assert failure.check(ConnectionClosed)


def test_cancellingWhenConnectedLosesNothing(factory: ZmqFactory, inprocAddress: str) -> None:
    publisher = ZmqPubConnection(factory, bind(inprocAddress))
    cancelled = publisher.whenConnected()
    cancelled.cancel()
    assert cancelled.result.check(CancelledError)  # type: ignore[attr-defined]
    cancelled.addErrback(lambda _: None)
    pending = publisher.whenConnected()
    publisher.shutdown()
    assert pending.result.check(ConnectionClosed)  # type: ignore[attr-defined]
    pending.addErrback(lambda _: None)


def test_afterShutdown(factory: ZmqFactory, inprocAddress: str) -> None:
    publisher = ZmqPubConnection(factory, bind(inprocAddress))
    publisher.shutdown()
    failed = publisher.whenConnected()
    assert failed.result.check(ConnectionClosed)  # type: ignore[attr-defined]
    failed.addErrback(lambda _: None)
    assert publisher.events().closed


def test_factoryShutdownStopsMonitors(inprocAddress: str) -> None:
    made = ZmqFactory(reactor)
    made.lingerPeriod = 0
    subscriber = MonitoredSub(made, connect(inprocAddress))
    stream = subscriber.events()
    waiting = subscriber.whenConnected()
    made.shutdown()
    assert stream.closed
    assert waiting.result.check(ConnectionClosed)  # type: ignore[attr-defined]
    waiting.addErrback(lambda _: None)
    assert subscriber._lifecycle is not None
    assert subscriber._lifecycle.stopped


def test_unmonitoredConnectionsPayNothing(factory: ZmqFactory, inprocAddress: str) -> None:
    readers = set(reactor.getReaders())
    publisher = ZmqPubConnection(factory, bind(inprocAddress))
    assert publisher._lifecycle is None
    assert set(reactor.getReaders()) == readers  # a PUB has no reader, and no monitor
    publisher.events()
    assert len(set(reactor.getReaders()) - readers) == 1  # the monitor's
    publisher.shutdown()
    assert set(reactor.getReaders()) == readers


def test_monitorsDoNotLeak(factory: ZmqFactory) -> None:
    readers = set(reactor.getReaders())

    def cycle() -> None:
        subscriber = ZmqSubConnection(factory, bind("tcp://127.0.0.1:0"))
        subscriber.events()
        subscriber.whenConnected().addErrback(lambda _: None)
        subscriber.shutdown()

    cycle()  # warm up whatever libzmq allocates once per context
    gc.collect()
    fds = openFds()
    for _ in range(50):
        cycle()
    gc.collect()
    assert set(reactor.getReaders()) == readers
    assert factory.connections == set()
    # A leaked monitor costs at least one fd per cycle; allow for unrelated noise.
    assert openFds() - fds < 10
