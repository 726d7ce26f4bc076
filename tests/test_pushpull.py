"""PUSH and PULL over real inproc, ipc and tcp sockets, on the real reactor."""

from __future__ import annotations

import re

import pytest
import pytest_twisted
from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import LogLevel

from txzpub import (
    ConnectionClosed,
    OverflowPolicy,
    ReceiveTimeout,
    ZmqFactory,
    ZmqPullConnection,
    ZmqPushConnection,
)

from .helpers import bind, boundAddress, bounded, connect, until


def exactly(text: str) -> str:
    return f"^{re.escape(text)}$"


def makePair(
    factory: ZmqFactory,
    address: str,
    pullClass: type[ZmqPullConnection] = ZmqPullConnection,
    pushClass: type[ZmqPushConnection] = ZmqPushConnection,
    **pullOptions: object,
) -> tuple[ZmqPushConnection, ZmqPullConnection]:
    puller = pullClass(factory, bind(address), **pullOptions)  # type: ignore[arg-type]
    pusher = pushClass(factory, connect(boundAddress(puller)))
    return pusher, puller


async def pullAll(puller: ZmqPullConnection, count: int) -> list[list[bytes]]:
    got: list[list[bytes]] = []
    while len(got) < count:
        got.extend(await bounded(puller.nextBatch(), f"message {len(got)} of {count}"))
    return got


class Collected(list[list[bytes]]):
    """Messages a legacy hook received, and a Deferred that fires once there are *count*."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.expected = count
        self.done: Deferred[None] = Deferred()

    def __call__(self, message: list[bytes]) -> None:
        self.append(message)
        if len(self) == self.expected:
            self.done.callback(None)


@pytest.fixture(params=["inproc", "ipc", "tcp"])
def address(request: pytest.FixtureRequest, inprocAddress: str, ipcAddress: str) -> str:
    return {"inproc": inprocAddress, "ipc": ipcAddress, "tcp": "tcp://127.0.0.1:0"}[request.param]


@pytest_twisted.ensureDeferred
async def test_nextOnEveryTransport(factory: ZmqFactory, address: str) -> None:
    pusher, puller = makePair(factory, address)
    pusher.push(b"one")
    pusher.push([b"two", "frames"])
    assert await bounded(puller.next()) == [b"one"]
    assert await bounded(puller.next()) == [b"two", b"frames"]


@pytest_twisted.ensureDeferred
async def test_nextTimeout(factory: ZmqFactory, inprocAddress: str) -> None:
    pusher, puller = makePair(factory, inprocAddress)
    with pytest.raises(
        ReceiveTimeout,
        match=exactly(
            "nothing arrived for ZmqPullConnection.next() within 0.01 s; no message is lost: "
            "call again to keep waiting"
        ),
    ):
        await bounded(puller.next(timeout=0.01))
    pusher.push(b"later")
    assert await bounded(puller.next(timeout=5)) == [b"later"]
    with pytest.raises(ValueError, match=r"^timeout must be a finite number of seconds >= 0"):
        puller.next(timeout=-1)


@pytest_twisted.ensureDeferred
async def test_nextBatchInOrder(factory: ZmqFactory, inprocAddress: str) -> None:
    pusher, puller = makePair(factory, inprocAddress)
    total = 1000
    for n in range(total):
        pusher.push(b"%d" % n)
    got = await pullAll(puller, total)
    assert got == [[b"%d" % n] for n in range(total)]
    with pytest.raises(ReceiveTimeout):
        await bounded(puller.nextBatch(timeout=0.01))


@pytest_twisted.ensureDeferred
async def test_nextBatchMaxCount(factory: ZmqFactory, inprocAddress: str) -> None:
    pusher, puller = makePair(factory, inprocAddress)
    for n in range(10):
        pusher.push(b"%d" % n)
    await until(lambda: puller.statistics().queued == 10, "ten queued messages")
    assert await puller.nextBatch(4) == [[b"%d" % n] for n in range(4)]
    assert await puller.nextBatch(100) == [[b"%d" % n] for n in range(4, 10)]


@pytest_twisted.ensureDeferred
async def test_asyncForEndsAtShutdown(factory: ZmqFactory, inprocAddress: str) -> None:
    pusher, puller = makePair(factory, inprocAddress)
    for n in range(3):
        pusher.push(b"%d" % n)
    received: list[list[bytes]] = []

    async def consume() -> str:
        async for message in puller:
            received.append(message)
            if len(received) == 3:
                puller.shutdown()
        return "ended"

    assert await bounded(Deferred.fromCoroutine(consume()), "the async for loop") == "ended"
    assert received == [[b"0"], [b"1"], [b"2"]]


@pytest_twisted.ensureDeferred
async def test_batchesEndAtShutdown(factory: ZmqFactory, inprocAddress: str) -> None:
    pusher, puller = makePair(factory, inprocAddress)
    for n in range(5):
        pusher.push(b"%d" % n)
    received: list[list[bytes]] = []

    async def consume() -> str:
        async for batch in puller.batches(2):
            assert 1 <= len(batch) <= 2
            received.extend(batch)
            if len(received) == 5:
                puller.shutdown()
        return "ended"

    assert await bounded(Deferred.fromCoroutine(consume()), "the async for loop") == "ended"
    assert received == [[b"%d" % n] for n in range(5)]


@pytest_twisted.ensureDeferred
async def test_statistics(factory: ZmqFactory, inprocAddress: str) -> None:
    pusher, puller = makePair(factory, inprocAddress, maxQueued=50)
    stats = puller.statistics()
    assert (stats.queued, stats.peak, stats.dropped, stats.waiting) == (0, 0, 0, 0)
    assert (stats.maxQueued, stats.overflow) == (50, OverflowPolicy.PAUSE)

    waiting = [puller.next(), puller.next()]
    assert puller.statistics().waiting == 2
    for n in range(7):
        pusher.push(b"%d" % n)
    assert [await bounded(d) for d in waiting] == [[b"0"], [b"1"]]
    await until(lambda: puller.statistics().queued == 5, "five queued messages")
    stats = puller.statistics()
    assert (stats.queued, stats.peak, stats.dropped, stats.waiting) == (5, 5, 0, 0)
    await puller.nextBatch()
    stats = puller.statistics()
    assert (stats.queued, stats.peak, stats.dropped) == (0, 5, 0)


class ShallowPush(ZmqPushConnection):
    highWaterMark = 10


class ShallowPull(ZmqPullConnection):
    highWaterMark = 10


@pytest_twisted.ensureDeferred
async def test_pauseDefaultLosesNothing(factory: ZmqFactory, inprocAddress: str) -> None:
    """A slow consumer: the reader pauses, the PUSH's sends wait, nothing is dropped."""
    pusher, puller = makePair(factory, inprocAddress, ShallowPull, ShallowPush, maxQueued=10)
    total = 3000
    for n in range(total):
        pusher.push(b"%d" % n)
    await until(lambda: puller._reader.paused, "the reader to pause")
    stats = puller.statistics()
    # PAUSE keeps the rest of the read batch it was reading when the queue filled.
    assert 10 <= stats.queued <= 10 + puller.readBatchSize
    assert stats.dropped == 0
    assert pusher._outbox is not None
    assert len(pusher._outbox) > total // 2  # backpressure reached the pusher

    got: list[list[bytes]] = []
    while len(got) < total:  # slow: one at a time
        got.append(await bounded(puller.next(), f"message {len(got)} of {total}"))
    assert got == [[b"%d" % n] for n in range(total)]
    stats = puller.statistics()
    assert (stats.queued, stats.dropped) == (0, 0)
    assert 10 <= stats.peak <= 10 + puller.readBatchSize
    await until(lambda: len(pusher._outbox) == 0, "the send queue to empty")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overflow", "kept"),
    [
        (OverflowPolicy.DROP_OLDEST, range(15, 20)),
        ("drop-oldest", range(15, 20)),
        (OverflowPolicy.DROP_NEWEST, range(5)),
        ("drop-newest", range(5)),
    ],
)
@pytest_twisted.ensureDeferred
async def test_dropPoliciesCountWhatTheyDrop(
    factory: ZmqFactory,
    inprocAddress: str,
    overflow: OverflowPolicy | str,
    kept: range,
    logged: list[dict[str, object]],
) -> None:
    pusher, puller = makePair(factory, inprocAddress, maxQueued=5, overflow=overflow)
    for n in range(20):
        pusher.push(b"%d" % n)
    await until(
        lambda: puller.statistics().queued + puller.statistics().dropped == 20,
        "all twenty messages read",
    )
    stats = puller.statistics()
    assert (stats.queued, stats.dropped, stats.peak) == (5, 15, 5)
    assert not puller._reader.paused
    assert await puller.nextBatch() == [[b"%d" % n] for n in kept]
    full = [event for event in logged if "is full" in str(event.get("log_format"))]
    assert len(full) == 1  # logged on the first overflow only


class LegacyPull(ZmqPullConnection):
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.received = Collected(100)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def onPull(self, message: list[bytes]) -> None:
        self.received(message)


@pytest_twisted.ensureDeferred
async def test_legacyOnPullSubclass(factory: ZmqFactory, inprocAddress: str) -> None:
    pusher, puller = makePair(factory, inprocAddress, LegacyPull)
    assert isinstance(puller, LegacyPull)
    for n in range(100):
        pusher.push([b"%d" % n, b"x"])
    await bounded(puller.received.done)
    assert puller.received == [[b"%d" % n, b"x"] for n in range(100)]
    stats = puller.statistics()
    assert (stats.queued, stats.peak, stats.dropped) == (0, 0, 0)  # stored nothing


@pytest_twisted.ensureDeferred
async def test_legacyOnPullAssigned(factory: ZmqFactory, inprocAddress: str) -> None:
    """txZMQ's examples assign the hook on the instance."""
    pusher, puller = makePair(factory, inprocAddress)
    received = Collected(100)
    puller.onPull = received  # type: ignore[method-assign]
    for n in range(100):
        pusher.push(b"%d" % n)
    await bounded(received.done)
    assert received == [[b"%d" % n] for n in range(100)]
    stats = puller.statistics()
    assert (stats.queued, stats.peak, stats.dropped) == (0, 0, 0)


@pytest_twisted.ensureDeferred
async def test_raisingOnPullIsLoggedAndDeliveryContinues(
    factory: ZmqFactory, inprocAddress: str, logged: list[dict[str, object]]
) -> None:
    pusher, puller = makePair(factory, inprocAddress)
    received = Collected(2)

    def onPull(message: list[bytes]) -> None:
        if message == [b"boom"]:
            raise ValueError(message)
        received(message)

    puller.onPull = onPull  # type: ignore[method-assign]
    for body in (b"before", b"boom", b"after"):
        pusher.push(body)
    await bounded(received.done)
    assert received == [[b"before"], [b"after"]]
    failures = [event for event in logged if "log_failure" in event]
    assert len(failures) == 1
    assert failures[0]["log_failure"].check(ValueError)  # type: ignore[attr-defined]
    assert "handler raised" in str(failures[0]["log_format"])


@pytest_twisted.ensureDeferred
async def test_onPullTakesEverythingNextNothing(factory: ZmqFactory, inprocAddress: str) -> None:
    """With the hook, the queue stores nothing, even while somebody calls next()."""
    pusher, puller = makePair(factory, inprocAddress, LegacyPull)
    assert isinstance(puller, LegacyPull)
    reading = puller.next()
    pusher.push(b"hooked")
    await until(lambda: len(puller.received) == 1, "the hook's call")
    assert puller.received == [[b"hooked"]]
    assert not reading.called
    assert puller.statistics().peak == 0
    reading.cancel()
    with pytest.raises(CancelledError):
        await reading


class RawPull(ZmqPullConnection):
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.raw = Collected(2)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def messageReceived(self, message: list[bytes]) -> None:
        self.raw(message)


@pytest_twisted.ensureDeferred
async def test_messageReceivedOverrideGetsRawFrames(
    factory: ZmqFactory, inprocAddress: str
) -> None:
    pusher, puller = makePair(factory, inprocAddress, RawPull)
    assert isinstance(puller, RawPull)
    reading = puller.next()  # the queue is read, yet the override takes everything
    pusher.push([b"raw", b"", b"frames"])
    pusher.push("text")
    await bounded(puller.raw.done)
    assert puller.raw == [[b"raw", b"", b"frames"], [b"text"]]
    assert not reading.called
    assert puller.statistics().peak == 0
    reading.cancel()
    with pytest.raises(CancelledError):
        await reading


class PassingPull(ZmqPullConnection):
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.raw: list[list[bytes]] = []
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def messageReceived(self, message: list[bytes]) -> None:
        self.raw.append(message)
        super().messageReceived(message)  # as its docstring says: deliver it as usual


@pytest_twisted.ensureDeferred
async def test_messageReceivedOverrideCallingSuperDelivers(
    factory: ZmqFactory, inprocAddress: str, logged: list[dict[str, object]]
) -> None:
    pusher, puller = makePair(factory, inprocAddress, PassingPull)
    assert isinstance(puller, PassingPull)
    pusher.push([b"deliver", b"too"])
    got = await bounded(puller.next(), "the message passed on by the override", seconds=1)
    assert got == [b"deliver", b"too"]
    assert puller.raw == [[b"deliver", b"too"]]
    assert [event for event in logged if "log_failure" in event] == []


@pytest_twisted.ensureDeferred
async def test_cancelledNextLosesNothing(factory: ZmqFactory, inprocAddress: str) -> None:
    pusher, puller = makePair(factory, inprocAddress)
    cancelled = puller.next()
    waiting = puller.next()
    cancelled.cancel()
    with pytest.raises(CancelledError):
        await cancelled
    pusher.push(b"kept")
    assert await bounded(waiting) == [b"kept"]
    pusher.push(b"next")
    timedOut = puller.next(timeout=0)  # a zero timeout: the next turn
    with pytest.raises(ReceiveTimeout):
        await bounded(timedOut)
    assert await bounded(puller.next()) == [b"next"]


@pytest_twisted.ensureDeferred
async def test_shutdown(factory: ZmqFactory, inprocAddress: str) -> None:
    pusher, puller = makePair(factory, inprocAddress)
    pending = [puller.next(), puller.nextBatch(), puller.next(timeout=30)]
    puller.shutdown()
    puller.shutdown()  # idempotent
    for d in pending:
        with pytest.raises(ConnectionClosed):
            await d
    with pytest.raises(ConnectionClosed):
        await puller.next()
    with pytest.raises(ConnectionClosed):
        await puller.nextBatch()
    assert puller.fileno() == -1
    assert puller not in factory.connections
    puller.doRead()  # harmless after shutdown

    async def loop() -> int:
        count = 0
        async for _ in puller:
            count += 1
        return count

    assert await bounded(Deferred.fromCoroutine(loop())) == 0

    pusher.shutdown()
    with pytest.raises(
        ConnectionClosed,
        match=exactly("cannot send: the connection was shut down; create a new connection"),
    ):
        pusher.push(b"late")


@pytest_twisted.ensureDeferred
async def test_shutdownDiscardsQueued(factory: ZmqFactory, inprocAddress: str) -> None:
    pusher, puller = makePair(factory, inprocAddress)
    pusher.push(b"unread")
    await until(lambda: puller.statistics().queued == 1, "one queued message")
    puller.shutdown()
    with pytest.raises(ConnectionClosed):
        await puller.next()
    assert puller.statistics().queued == 0


def test_badArguments(factory: ZmqFactory, inprocAddress: str) -> None:
    pusher = ZmqPushConnection(factory, bind(inprocAddress))
    with pytest.raises(TypeError, match=exactly("message must be bytes or str, not 123 (int)")):
        pusher.push(123)  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=exactly("message must be at least one frame, not [] (list)")
    ):
        pusher.push([])
    with pytest.raises(
        TypeError, match=exactly("message frame must be bytes or str, not None (NoneType)")
    ):
        pusher.push([b"ok", None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=exactly("maxQueued must be >= 1, not 0 (int)")):
        ZmqPullConnection(factory, connect(inprocAddress), maxQueued=0)
    with pytest.raises(TypeError, match=exactly("maxQueued must be an int, not '5' (str)")):
        ZmqPullConnection(factory, connect(inprocAddress), maxQueued="5")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError,
        match=exactly(
            "overflow must be an OverflowPolicy or one of 'drop-oldest', 'drop-newest', "
            "'pause', not 'x' (str)"
        ),
    ):
        ZmqPullConnection(factory, connect(inprocAddress), overflow="x")
    with pytest.raises(TypeError, match=r"^overflow must be an OverflowPolicy or one of"):
        ZmqPullConnection(factory, connect(inprocAddress), overflow=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=exactly("maxQueuedSends must be >= 1, not 0 (int)")):
        ZmqPullConnection(factory, connect(inprocAddress), maxQueuedSends=0)
    with pytest.raises(ValueError, match=exactly("maxQueuedSends must be >= 1, not 0 (int)")):
        ZmqPushConnection(factory, connect(inprocAddress), maxQueuedSends=0)
    # None of the refused constructors left a connection behind.
    assert factory.connections == {pusher}


@pytest_twisted.ensureDeferred
async def test_noWarningsInTheOrdinaryCase(
    factory: ZmqFactory, inprocAddress: str, logged: list[dict[str, object]]
) -> None:
    pusher, puller = makePair(factory, inprocAddress)
    for n in range(100):
        pusher.push(b"%d" % n)
    assert len(await pullAll(puller, 100)) == 100
    serious = (LogLevel.warn, LogLevel.error, LogLevel.critical)
    assert [event for event in logged if event.get("log_level") in serious] == []
