"""SocketReader under a fake reactor and a scripted socket: the edge-trigger rules."""

from __future__ import annotations

import errno

import pytest
import zmq
from twisted.internet.testing import MemoryReactorClock

from txzpub._reader import GUARDED_READS, SEND_CHECKS, SocketReader

from .helpers import FakeSocket


def makeReader(
    batchSize: int = 4, onBatch: object = None
) -> tuple[SocketReader, FakeSocket, MemoryReactorClock, list[list[list[bytes]]]]:
    socket = FakeSocket()
    reactor = MemoryReactorClock()
    batches: list[list[list[bytes]]] = []
    reader = SocketReader(
        socket,
        42,
        reactor,
        onBatch or batches.append,
        batchSize=batchSize,  # type: ignore[arg-type]
    )
    return reader, socket, reactor, batches


def fill(socket: FakeSocket, count: int) -> None:
    for n in range(count):
        socket.incoming.append([b"m%d" % n])


def test_startRegistersAndChecksOnNextTurn() -> None:
    """Messages already waiting when registered are read without an FD edge."""
    reader, socket, reactor, batches = makeReader()
    fill(socket, 2)
    reader.start()
    assert reader in reactor.readers
    assert batches == []  # never from inside the constructor's call stack
    reactor.advance(0)
    assert batches == [[[b"m0"], [b"m1"]]]


def test_batchIsBoundedAndRearmsWithCallLater() -> None:
    """A flood is read in bounded batches, one per reactor turn."""
    reader, socket, reactor, batches = makeReader(batchSize=4)
    fill(socket, 10)
    reader.doRead()
    assert [len(b) for b in batches] == [4]
    assert len(reactor.getDelayedCalls()) == 1
    reactor.advance(0)
    reactor.advance(0)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert reactor.getDelayedCalls() == []


def test_floodReadsEventsAFewTimesPerBatchNotPerMessage() -> None:
    reader, socket, reactor, batches = makeReader(batchSize=100)
    fill(socket, 50)
    reader.doRead()
    assert socket.eventsCalls == GUARDED_READS + 1  # the guarded reads, then the re-arm
    assert socket.recvCalls == 51  # 50 messages and the EAGAIN that ends the flood


def test_spuriousWakeupCostsOneEventsRead() -> None:
    """No recv, so no EAGAIN exception (pyzmq's costliest way to say 'nothing')."""
    reader, socket, reactor, batches = makeReader()
    reader.doRead()
    assert batches == []
    assert (socket.eventsCalls, socket.recvCalls) == (1, 0)
    assert reactor.getDelayedCalls() == []


def test_quietSocketEndsOnEventsNotOnEagain() -> None:
    reader, socket, reactor, batches = makeReader()
    fill(socket, 2)
    reader.doRead()
    assert batches == [[[b"m0"], [b"m1"]]]
    assert (socket.eventsCalls, socket.recvCalls) == (3, 2)
    assert reactor.getDelayedCalls() == []  # the last EVENTS read re-armed the edge


def test_raisingConsumerDoesNotStopReader(logged: list[dict[str, object]]) -> None:
    """Rule 4: the re-arm survives a consumer raising."""

    def explode(batch: list[list[bytes]]) -> None:
        raise RuntimeError(batch)

    reader, socket, reactor, _ = makeReader(batchSize=2, onBatch=explode)
    reader.start()
    fill(socket, 5)
    reader.doRead()
    reactor.advance(0)
    reactor.advance(0)
    assert not socket.incoming
    failures = [e for e in logged if "log_failure" in e]
    assert len(failures) == 3
    assert reader in reactor.readers


def test_kickCoalescesToOneCallPerTurn() -> None:
    reader, socket, reactor, _ = makeReader()
    for _ in range(100):
        reader.kick()
    assert len(reactor.getDelayedCalls()) == 1


def test_doReadCancelsPendingKick() -> None:
    reader, socket, reactor, batches = makeReader()
    reader.kick()
    fill(socket, 1)
    reader.doRead()
    assert reactor.getDelayedCalls() == []
    assert batches == [[[b"m0"]]]


def test_pauseAndResume() -> None:
    reader, socket, reactor, batches = makeReader(batchSize=2)
    reader.start()
    fill(socket, 5)
    reader.doRead()
    reader.pause()
    assert reader not in reactor.readers
    assert reactor.getDelayedCalls() == []
    reader.doRead()  # a late edge while paused reads nothing
    assert sum(map(len, batches)) == 2
    reader.resume()
    assert reader in reactor.readers
    reactor.advance(0)
    reactor.advance(0)
    assert sum(map(len, batches)) == 5


def test_stopUnregistersAndCancels() -> None:
    reader, socket, reactor, batches = makeReader()
    reader.start()
    reader.stop()
    assert reader not in reactor.readers
    assert reactor.getDelayedCalls() == []
    assert reader.fileno() == -1
    fill(socket, 1)
    reader.doRead()
    assert batches == []


def test_stopFromInsideConsumerEndsBatch() -> None:
    """A consumer that shuts the connection down mid-batch stops the re-arm."""
    holder: list[SocketReader] = []

    def stopping(batch: list[list[bytes]]) -> None:
        holder[0].stop()

    reader, socket, reactor, _ = makeReader(batchSize=2, onBatch=stopping)
    holder.append(reader)
    fill(socket, 5)
    reader.start()
    reactor.advance(0)
    assert reactor.getDelayedCalls() == []
    assert len(socket.incoming) == 3


def test_socketErrorStopsReaderAndLogs(logged: list[dict[str, object]]) -> None:
    reader, socket, reactor, _ = makeReader()
    reader.start()
    fill(socket, 1)
    socket.failWith = zmq.ZMQError(errno.ENOTSOCK)
    reactor.advance(0)
    assert reader not in reactor.readers
    assert any("log_failure" in e for e in logged)


def test_connectionLostAllowsReRegistration() -> None:
    reader, socket, reactor, _ = makeReader()
    reader.start()
    reactor.removeReader(reader)
    reader.connectionLost(None)  # type: ignore[arg-type]
    reader.pause()
    reader.resume()
    assert reader in reactor.readers


def test_multipartMessagesKeepTheirFrames() -> None:
    reader, socket, reactor, batches = makeReader(batchSize=3)
    socket.incoming.extend([[b"a", b"b", b"c"], [b""], [b"t", b"body"], [b"x"]])
    reader.doRead()
    reactor.advance(0)
    assert batches == [[[b"a", b"b", b"c"], [b""], [b"t", b"body"]], [[b"x"]]]


@pytest.mark.parametrize("batchSize", [1, 7, 256])
def test_everyMessageDeliveredInOrder(batchSize: int) -> None:
    reader, socket, reactor, batches = makeReader(batchSize=batchSize)
    fill(socket, 1000)
    reader.start()
    while reactor.getDelayedCalls():
        reactor.advance(0)
    assert [m for b in batches for m in b] == [[b"m%d" % n] for n in range(1000)]


class FakeTimer:
    """A timer whose readings advance by what the consumer 'spends'."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_slowBatchesShrinkAndFastOnesRegrow() -> None:
    """The time budget: a slow consumer gets smaller batches, so timers stay on time."""
    timer = FakeTimer()
    perMessage = {"cost": 0.001}
    sizes: list[int] = []

    def consume(batch: list[list[bytes]]) -> None:
        sizes.append(len(batch))
        timer.now += perMessage["cost"] * len(batch)

    socket = FakeSocket()
    reactor = MemoryReactorClock()
    reader = SocketReader(socket, 1, reactor, consume, batchSize=64, timeBudget=0.005, timer=timer)
    fill(socket, 2000)
    reader.doRead()
    for _ in range(8):
        reader.doRead()
    assert sizes[:5] == [64, 32, 16, 8, 4]  # 1 ms per message: down to within budget
    assert max(sizes[5:]) <= 4
    perMessage["cost"] = 0.0
    for _ in range(10):
        reader.doRead()
    assert sizes[-1] == 64  # fast again: back up to the full batch


def test_afterSendChecksAtOnceWithoutAnExtraTurn() -> None:
    """Rule 3 after a send: one EVENTS read now, no callLater when nothing waits."""
    reader, socket, reactor, batches = makeReader()
    reader.afterSend()
    assert socket.eventsCalls == 1
    assert reactor.getDelayedCalls() == []


def test_afterSendSeeingMessagesSchedulesARead() -> None:
    reader, socket, reactor, batches = makeReader()
    fill(socket, 1)
    reader.afterSend()
    assert batches == []  # never read from inside the sender's call
    reactor.advance(0)
    assert batches == [[[b"m0"]]]


def test_aBurstOfSendsFallsBackToOneTurn() -> None:
    """Past SEND_CHECKS sends between two turns, one scheduled check serves the rest."""
    reader, socket, reactor, batches = makeReader()
    for _ in range(SEND_CHECKS + 10):
        reader.afterSend()
    assert socket.eventsCalls == SEND_CHECKS
    assert len(reactor.getDelayedCalls()) == 1
    reactor.advance(0)
    reader.afterSend()  # a turn ran: checks start over
    assert socket.eventsCalls == SEND_CHECKS + 2
