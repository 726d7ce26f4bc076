"""
Sequenced connections' lifecycle: what they start (heartbeats, timers, replay
sockets) ends with them, and a constructor that fails leaves nothing behind.

The factories here run on a MemoryReactorClock, so every timer a connection
starts is visible (``getDelayedCalls``) and time moves only when told; the
sockets are real (inproc), read by hand with ``doRead()``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import zmq
from twisted.internet.testing import MemoryReactorClock

from txzpub import EndpointError, ZmqFactory, ZmqPubConnection, ZmqSubConnection
from txzpub._core._stamp import HEARTBEAT_TAG, parseHeartbeat

from .helpers import bind, connect


@pytest.fixture
def clock() -> MemoryReactorClock:
    return MemoryReactorClock()  # type: ignore[no-untyped-call]


@pytest.fixture
def clocked(clock: MemoryReactorClock) -> Iterator[ZmqFactory]:
    factory = ZmqFactory(clock)
    yield factory
    factory.shutdown()


def busyAddress(factory: ZmqFactory) -> tuple[zmq.Socket[bytes], str]:
    """A tcp address something already listens on."""
    holder: zmq.Socket[bytes] = factory.context.socket(zmq.ROUTER)
    holder.bind("tcp://127.0.0.1:0")
    return holder, holder.get_string(zmq.LAST_ENDPOINT)


def test_aPublisherWhoseReplayEndpointFailsLeavesNothing(clocked: ZmqFactory) -> None:
    holder, taken = busyAddress(clocked)
    try:
        with pytest.raises(EndpointError, match="Address already in use"):
            ZmqPubConnection(
                clocked, bind("inproc://seq-fails"), sequenced=True, replay=bind(taken)
            )
        assert not clocked.connections
        assert clocked.reactor.getDelayedCalls() == []  # type: ignore[attr-defined]
    finally:
        holder.close(linger=0)


def test_aSubscriberWhoseReplayEndpointFailsLeavesNothing(clocked: ZmqFactory) -> None:
    holder, taken = busyAddress(clocked)
    try:
        with pytest.raises(EndpointError, match="Address already in use"):
            ZmqSubConnection(clocked, connect("inproc://nobody"), replay=[bind(taken)])
        assert not clocked.connections
    finally:
        holder.close(linger=0)


def test_heartbeatsRunFromTheStartAndStopAtShutdown(
    clock: MemoryReactorClock, clocked: ZmqFactory
) -> None:
    """A heartbeat at once, then one per interval, on the reserved tag; none after shutdown."""
    publisher = ZmqPubConnection(
        clocked, bind("inproc://beats"), sequenced=True, heartbeatInterval=0.5
    )
    raw: zmq.Socket[bytes] = clocked.context.socket(zmq.SUB)
    raw.connect("inproc://beats")
    raw.subscribe(HEARTBEAT_TAG)
    try:
        publisher.subscriptions  # noqa: B018 - reads the subscription: the beat will reach raw
        # A subscriber that connects sees the first beat of the next interval at the latest.
        beats = []
        for _ in range(4):
            clock.advance(0.5)
            while raw.poll(0):
                beats.append(raw.recv_multipart())
        assert beats
        for frames in beats:
            tag, body, stamp = frames
            beat = parseHeartbeat(stamp)
            assert (tag, body) == (HEARTBEAT_TAG, b"")
            assert beat is not None
            assert beat.publisher == publisher.publisherId
            assert beat.interval == 0.5
        assert publisher.subscriptions == {}  # the heartbeat subscription is never counted
        publisher.shutdown()
        assert clock.getDelayedCalls() == []
    finally:
        raw.close(linger=0)


def test_aReplayingSubscriberCancelsEveryTimerAtShutdown(
    clock: MemoryReactorClock, clocked: ZmqFactory
) -> None:
    """Silence watches and replay timeouts are the subscriber's: they end with it."""
    publisher = ZmqPubConnection(
        clocked,
        bind("inproc://timers"),
        sequenced=True,
        replay=bind("inproc://timers-replay"),
        heartbeatInterval=0.1,
    )
    subscriber = ZmqSubConnection(
        clocked, connect("inproc://timers"), replay=connect("inproc://timers-replay")
    )
    subscriber.subscribe(b"t")
    for _ in range(20):  # subscriptions, heartbeats and latest-number queries go round
        clock.advance(0.1)
        publisher.doRead()
        subscriber.doRead()
        publisher.publish(b"x", b"t")
    assert subscriber.streamStatistics().publishers == 1
    publisher.shutdown()
    subscriber.shutdown()
    assert clock.getDelayedCalls() == []
    assert not clocked.connections


class _Shallow(ZmqPubConnection):
    highWaterMark = 5


def test_aHeartbeatNeverOvertakesWhatWaitsInTheSendQueue(
    clock: MemoryReactorClock, clocked: ZmqFactory
) -> None:
    """
    A heartbeat vouches for everything published before it (a subscriber's
    tail-loss check waits for one): while lossless publishes wait for a slow
    subscriber, heartbeats are skipped, so none arrives among them.
    """
    publisher = _Shallow(
        clocked, bind("inproc://overtake"), sequenced=True, noDrop=True, heartbeatInterval=0.1
    )
    raw: zmq.Socket[bytes] = clocked.context.socket(zmq.SUB)
    raw.set(zmq.RCVHWM, 5)
    raw.connect("inproc://overtake")
    raw.subscribe(b"")
    try:
        publisher.subscriptions  # noqa: B018 - reads the subscription
        clock.advance(0)  # the first heartbeat
        sent = [publisher.publishLossless(b"%d" % n, b"t") for n in range(100)]
        assert not sent[-1].called  # most wait in the send queue
        received: list[list[bytes]] = []
        stamping = publisher._stamping  # to beat at the worst moment
        assert stamping is not None
        for _ in range(200):
            while raw.poll(0):  # the peer reads: ZeroMQ has room again...
                received.append(raw.recv_multipart())
            stamping._heartbeat()  # ...when a heartbeat falls due
            clock.advance(0.1)  # the reader serves the send queue
            publisher.doRead()
            if sent[-1].called:
                break
        while raw.poll(0):
            received.append(raw.recv_multipart())
        assert sent[-1].called
        tags = [frames[0] for frames in received]
        first, last = tags.index(b"t"), len(tags) - 1 - tags[::-1].index(b"t")
        assert tags[first : last + 1] == [b"t"] * 100  # no heartbeat in between
        assert HEARTBEAT_TAG in tags[:first]  # there were heartbeats, just not among them
    finally:
        raw.close(linger=0)
        publisher.shutdown()
