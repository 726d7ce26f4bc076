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
