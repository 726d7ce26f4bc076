"""
The send queue: first its rules with a fake socket, then real sockets whose
peers are absent or slow, so that sends meet a high-water mark.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import pytest_twisted
from twisted.logger import LogLevel
from twisted.trial.unittest import SynchronousTestCase

from txzpub import (
    ConnectionClosed,
    SendQueueFull,
    ZmqDealerConnection,
    ZmqFactory,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqRouterConnection,
)
from txzpub._sendqueue import SendQueue

from .helpers import bind, boundAddress, bounded, connect, until


def exactly(text: str) -> str:
    return f"^{re.escape(text)}$"


class FakeSocket:
    """A send function: takes *room* messages, then reports the high-water mark."""

    def __init__(self, room: int = 0) -> None:
        self.room = room
        self.sent: list[list[bytes]] = []
        self.attempts = 0

    def send(self, frames: list[bytes]) -> bool:
        self.attempts += 1
        if self.room <= 0:
            return False
        self.room -= 1
        self.sent.append(frames)
        return True


class FakeWriter:
    """The reader's side of rule 6: who to tell of POLLOUT, and how often it was kicked."""

    def __init__(self) -> None:
        self.onWritable: Callable[[], bool] | None = None
        self.kicks = 0

    def kick(self) -> None:
        self.kicks += 1


class TooFull(Exception):
    pass


class SendQueueTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.socket = FakeSocket()
        self.writer = FakeWriter()
        self.limits: list[int] = []
        self.queue = self.makeQueue(5)

    def makeQueue(self, maxQueued: int) -> SendQueue:
        def full(limit: int) -> Exception:
            self.limits.append(limit)
            return TooFull(f"full at {limit}")

        return SendQueue(maxQueued, self.socket.send, self.writer, full)

    def test_sentAtOnceWhenNothingWaits(self) -> None:
        self.socket.room = 2
        self.assertIsNone(self.queue.enqueue([b"a"], track=True))
        self.assertIsNone(self.queue.enqueue([b"b", b"c"], track=False))
        self.assertEqual(self.socket.sent, [[b"a"], [b"b", b"c"]])
        self.assertEqual(len(self.queue), 0)
        self.assertIsNone(self.writer.onWritable)
        self.assertEqual(self.writer.kicks, 0)

    def test_heldBackQueuesAndAsksForPollout(self) -> None:
        tracked = self.queue.enqueue([b"a"], track=True)
        assert tracked is not None
        self.assertNoResult(tracked)
        self.assertIsNone(self.queue.enqueue([b"b"], track=False))  # untracked: nothing to hold
        self.assertEqual(len(self.queue), 2)
        self.assertEqual(self.writer.onWritable, self.queue.serve)
        self.assertEqual(self.writer.kicks, 2)

    def test_laterSendsWaitBehindEvenWithRoom(self) -> None:
        """Rule 1: once something waits, nothing overtakes it, even if the socket has room now."""
        self.queue.enqueue([b"first"], track=False)
        self.socket.room = 10
        attempts = self.socket.attempts
        self.queue.enqueue([b"second"], track=False)
        self.assertEqual(self.socket.attempts, attempts)  # never tried
        self.assertEqual(self.socket.sent, [])
        self.assertTrue(self.queue.serve())
        self.assertEqual(self.socket.sent, [[b"first"], [b"second"]])

    def test_fullRaisesTheOwnersErrorAndDropsNothing(self) -> None:
        tracked = [self.queue.enqueue([b"%d" % n], track=True) for n in range(5)]
        with pytest.raises(TooFull, match=exactly("full at 5")):
            self.queue.enqueue([b"5"], track=True)
        self.assertEqual(self.limits, [5])
        self.assertEqual(len(self.queue), 5)
        self.socket.room = 100
        self.assertTrue(self.queue.serve())
        self.assertEqual(self.socket.sent, [[b"%d" % n] for n in range(5)])
        for d in tracked:
            assert d is not None
            self.assertIsNone(self.successResultOf(d))

    def test_servePartialProgress(self) -> None:
        tracked = [self.queue.enqueue([b"%d" % n], track=True) for n in range(4)]
        self.assertFalse(self.queue.serve())  # still no room: nothing left
        self.assertEqual(self.writer.onWritable, self.queue.serve)

        self.socket.room = 2
        self.assertTrue(self.queue.serve())  # two left: progress, but more waits
        self.assertEqual(self.socket.sent, [[b"0"], [b"1"]])
        self.assertEqual(len(self.queue), 2)
        self.assertEqual(self.writer.onWritable, self.queue.serve)
        for d in tracked[:2]:
            assert d is not None
            self.successResultOf(d)
        for d in tracked[2:]:
            assert d is not None
            self.assertNoResult(d)

        self.socket.room = 10
        self.assertTrue(self.queue.serve())  # emptied
        self.assertIsNone(self.writer.onWritable)
        self.assertEqual(len(self.queue), 0)
        self.assertEqual(self.socket.sent, [[b"%d" % n] for n in range(4)])
        for d in tracked[2:]:
            assert d is not None
            self.successResultOf(d)

        # Emptied, it sends at once again.
        self.assertIsNone(self.queue.enqueue([b"after"], track=True))
        self.assertEqual(self.socket.sent[-1], [b"after"])

    def test_serveEmptyIsHarmless(self) -> None:
        self.assertTrue(self.queue.serve())
        self.assertIsNone(self.writer.onWritable)

    def test_callbackMayEnqueueWhileServing(self) -> None:
        """A Deferred fired by serve() may send again: it goes behind what still waits."""
        first = self.queue.enqueue([b"first"], track=True)
        self.queue.enqueue([b"second"], track=False)
        assert first is not None
        first.addCallback(lambda _: self.queue.enqueue([b"third"], track=False))
        self.socket.room = 10
        self.assertTrue(self.queue.serve())
        self.assertEqual(self.socket.sent, [[b"first"], [b"second"], [b"third"]])
        self.assertEqual(len(self.queue), 0)

    def test_closeCountsUnsentAndFailsTracked(self) -> None:
        self.socket.room = 1
        self.assertIsNone(self.queue.enqueue([b"sent"], track=True))
        tracked = self.queue.enqueue([b"a"], track=True)
        self.queue.enqueue([b"b"], track=False)
        other = self.queue.enqueue([b"c"], track=True)
        self.assertEqual(self.queue.close(), 3)
        for d in (tracked, other):
            assert d is not None
            self.failureResultOf(d, ConnectionClosed)
        self.assertEqual(len(self.queue), 0)
        self.assertEqual(self.queue.close(), 0)  # twice is fine
        with pytest.raises(ConnectionClosed):
            self.queue.enqueue([b"late"], track=True)
        self.assertEqual(self.socket.sent, [[b"sent"]])

    def test_closeEmpty(self) -> None:
        self.assertEqual(self.queue.close(), 0)

    def test_boundValidated(self) -> None:
        with pytest.raises(ValueError, match=exactly("maxQueued must be >= 1, not 0 (int)")):
            self.makeQueue(0)
        with pytest.raises(TypeError, match=exactly("maxQueued must be an int, not 2.0 (float)")):
            self.makeQueue(2.0)  # type: ignore[arg-type]


# -- real sockets ----------------------------------------------------------------------


async def pullAll(puller: ZmqPullConnection, count: int) -> list[list[bytes]]:
    got: list[list[bytes]] = []
    while len(got) < count:
        got.extend(await bounded(puller.nextBatch(), f"message {len(got)} of {count}"))
    return got


class ShallowPush(ZmqPushConnection):
    highWaterMark = 10


class ShallowPull(ZmqPullConnection):
    highWaterMark = 10


class ShallowDealer(ZmqDealerConnection):
    highWaterMark = 10


class ShallowRouter(ZmqRouterConnection):
    highWaterMark = 10


@pytest.fixture(params=["inproc", "ipc", "tcp"])
def address(request: pytest.FixtureRequest, inprocAddress: str, ipcAddress: str) -> str:
    return {"inproc": inprocAddress, "ipc": ipcAddress, "tcp": "tcp://127.0.0.1:0"}[request.param]


@pytest_twisted.ensureDeferred
async def test_pushWithoutPeerQueuesUntilPullConnects(factory: ZmqFactory, address: str) -> None:
    """A PUSH with no peer cannot send at all: everything waits, then leaves in order."""
    pusher = ZmqPushConnection(factory, bind(address))
    total = 500
    for n in range(total):
        pusher.push(b"%d" % n)
    assert pusher._outbox is not None
    assert len(pusher._outbox) == total  # nothing left: nobody to take it

    puller = ZmqPullConnection(factory, connect(boundAddress(pusher)))
    got = await pullAll(puller, total)
    assert got == [[b"%d" % n] for n in range(total)]
    await until(lambda: len(pusher._outbox) == 0, "the send queue to empty")  # type: ignore[arg-type]


@pytest_twisted.ensureDeferred
async def test_pushConnectedBeforePullBinds(factory: ZmqFactory, ipcAddress: str) -> None:
    """Connected to an address nobody has bound yet: held back until the PULL binds."""
    pusher = ShallowPush(factory, connect(ipcAddress))
    total = 300
    for n in range(total):
        pusher.push([b"part", b"%d" % n])
    assert pusher._outbox is not None
    assert len(pusher._outbox) > 0  # more than the pipe holds

    puller = ShallowPull(factory, bind(ipcAddress))
    got = await pullAll(puller, total)
    assert got == [[b"part", b"%d" % n] for n in range(total)]


@pytest_twisted.ensureDeferred
async def test_dealerBurstAtSmallHighWaterMarkLosesNothing(factory: ZmqFactory) -> None:
    router = ShallowRouter(factory, bind("tcp://127.0.0.1:0"), maxQueued=50)
    dealer = ShallowDealer(factory, connect(boundAddress(router)), identity=b"burst")
    total = 20_000
    for n in range(total):
        dealer.sendMsg(b"%d" % n)
    assert dealer._outbox is not None
    assert len(dealer._outbox) > 0  # the burst outran ZeroMQ's queues

    got: list[tuple[bytes, list[bytes]]] = []
    while len(got) < total:
        got.extend(await bounded(router.nextBatch(), f"message {len(got)} of {total}"))
    assert [sender for sender, _ in got] == [b"burst"] * total
    assert [frames for _, frames in got] == [[b"%d" % n] for n in range(total)]
    assert router.statistics().dropped == 0
    await until(lambda: len(dealer._outbox) == 0, "the send queue to empty")  # type: ignore[arg-type]


class BoundedPush(ZmqPushConnection):
    maxQueuedSends = 5


def test_maxQueuedSendsBoundsTheQueue(factory: ZmqFactory, inprocAddress: str) -> None:
    pusher = BoundedPush(factory, bind(inprocAddress))
    for n in range(5):
        pusher.push(b"%d" % n)
    with pytest.raises(
        SendQueueFull,
        match=exactly(
            "5 messages already wait for peers at their high-water mark (maxQueuedSends=5); "
            "send more slowly, wait for the peers, or raise maxQueuedSends"
        ),
    ):
        pusher.push(b"refused")
    assert len(pusher._outbox) == 5  # type: ignore[arg-type]


def test_maxQueuedSendsKeyword(factory: ZmqFactory, inprocAddress: str) -> None:
    """Every sending connection takes the bound as a keyword."""
    dealer = ZmqDealerConnection(factory, connect(inprocAddress), maxQueuedSends=3)
    # Connected to an address nobody bound: the pipe takes a high-water mark's worth first.
    sent = 0

    def fill() -> None:
        nonlocal sent
        while sent < 10_000:
            dealer.sendMsg(b"x")
            sent += 1

    with pytest.raises(SendQueueFull, match=r"\(maxQueuedSends=3\); send more slowly"):
        fill()
    assert dealer._outbox is not None
    assert len(dealer._outbox) == 3
    assert sent > 3

    pusher = ZmqPushConnection(factory, bind(inprocAddress + "-push"), maxQueuedSends=2)
    pusher.push(b"1")
    pusher.push(b"2")
    with pytest.raises(SendQueueFull, match=r"\(maxQueuedSends=2\); send more slowly"):
        pusher.push(b"3")


@pytest_twisted.ensureDeferred
async def test_shutdownWithQueuedMessagesWarns(
    factory: ZmqFactory, inprocAddress: str, logged: list[dict[str, object]]
) -> None:
    pusher = ZmqPushConnection(factory, bind(inprocAddress))
    for n in range(7):
        pusher.push(b"%d" % n)
    pusher.shutdown()
    pusher.shutdown()  # twice is fine, and warns once
    warnings = [
        event
        for event in logged
        if event.get("log_level") is LogLevel.warn and "still queued" in str(event["log_format"])
    ]
    assert len(warnings) == 1
    assert warnings[0]["count"] == 7
    assert warnings[0]["connection"] == "ZmqPushConnection"
    with pytest.raises(ConnectionClosed, match=r"^cannot send: "):
        pusher.push(b"late")
    # Nothing hangs: a new connection on the same factory still works, and the
    # factory fixture's shutdown must return.
    other = ZmqPushConnection(factory, bind(inprocAddress + "-after"))
    other.shutdown()


@pytest_twisted.ensureDeferred
async def test_shutdownWithoutQueuedMessagesIsQuiet(
    factory: ZmqFactory, inprocAddress: str, logged: list[dict[str, object]]
) -> None:
    pusher = ZmqPushConnection(factory, bind(inprocAddress))
    puller = ZmqPullConnection(factory, connect(inprocAddress))
    pusher.push(b"one")
    assert await bounded(puller.next()) == [b"one"]
    pusher.shutdown()
    assert not any("still queued" in str(event.get("log_format")) for event in logged)


@pytest_twisted.ensureDeferred
async def test_factoryShutdownWithQueuedMessagesDoesNotHang(
    inprocAddress: str, logged: list[dict[str, object]]
) -> None:
    from twisted.internet import reactor

    made = ZmqFactory(reactor)
    made.lingerPeriod = 0
    pusher = ZmqPushConnection(made, bind(inprocAddress))
    dealer = ZmqDealerConnection(made, connect(inprocAddress + "-nobody"))
    for n in range(2000):
        pusher.push(b"%d" % n)
        dealer.sendMsg(b"%d" % n)
    made.shutdown()
    counts = sorted(
        int(event["count"])  # type: ignore[call-overload]
        for event in logged
        if "still queued" in str(event.get("log_format"))
    )
    assert counts[-1] == 2000  # the PUSH: no peer ever took anything
    assert len(counts) == 2  # the DEALER's pipe took some; the rest is counted
