"""
Reactor shutdown with messages in flight: lingerPeriod is honoured, nothing hangs.

Each test runs a program from tests/programs in a subprocess (its own reactor,
a factory registered with ``registerForShutdown()``), with a raw pyzmq peer in
the test process over tcp on 127.0.0.1, and follows it through its stdout
events (see tests/programs/_child.py); no sleeps, every wait under a deadline.

Publisher side (linger_publisher.py): it publishes 10,000 messages of 1 KB in one
reactor turn and calls reactor.stop() at once, with most of them still queued in
libzmq: the peer reads nothing before that, and its 100-message receive pipe, its
16 KB receive buffer and the publisher's kernel send buffer (4 MB at most here,
net.ipv4.tcp_wmem) hold at most about 4,200 of the 10 MB, so at least about
5,800 messages are still in the publisher's libzmq queue when the reactor stops:

a. a live peer that reads (from the moment the publisher stops), lingerPeriod
   5,000 ms: every message arrives, in order, and the process exits long before
   the linger period is up (it waits only as long as sending takes);
b. a peer that never reads, lingerPeriod 1,000 ms: the process exits after about
   the linger period (it did wait: something was queued), within a margin;
   a peer that goes away as the publisher stops: it exits within the linger
   period and a margin (at once when libzmq sees the disconnect before the
   context terminates and drops that peer's queue; after the linger period
   when the termination comes first: both happen, the bound holds for both);
c. lingerPeriod 0 with a peer that never reads: it exits at once.

Subscriber side (stopping_subscriber.py): the reactor stops while a Subscriber
has 5,000 messages queued, 5,000 more arriving, and next(), nextBatch(),
``async for``, ``@inlineCallbacks`` and ``async def`` consumers waiting: no hang,
each waiter fails with ConnectionClosed (or its loop ends), the queue is
discarded, and nothing is reported as "Unhandled error in Deferred".
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import pytest
import zmq

from .programs._running import Program, running

pytestmark = pytest.mark.filterwarnings(
    # The figures go to the JUnit XML with record_property, which only its default xunit2
    # format refuses (a warning, an error here): with --junitxml, add -o junit_family=xunit1.
    "ignore:record_property is incompatible:pytest.PytestWarning"
)

COUNT = 10_000
SIZE = 1024
#: How long a program may take to start, get its subscriber and publish (seconds).
STARTUP = 20.0
#: What exiting may take beyond the linger period: the shutdown triggers, the
#: context's termination, the interpreter's exit, all on a loaded CI machine.
MARGIN = 2.0


class Peers:
    """Raw pyzmq SUB peers in the test process, held (and closed) until the test ends."""

    def __init__(self) -> None:
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.sockets: list[zmq.Socket[bytes]] = []

    def sub(self, endpoint: str) -> zmq.Socket[bytes]:
        """
        A SUB to everything, with a 100-message receive pipe and a 16 KB kernel
        receive buffer (no autotuning): until it reads, it holds back only a
        sliver of a 10 MB burst, and the rest stays queued at the publisher.
        """
        socket = self._socket(zmq.SUB)
        socket.set(zmq.RCVHWM, 100)
        socket.set(zmq.RCVBUF, 16 * 1024)
        socket.subscribe(b"")
        socket.connect(endpoint)
        return socket

    def xpub(self) -> zmq.Socket[bytes]:
        """An XPUB on a free port that never blocks nor drops (SNDHWM 0)."""
        socket = self._socket(zmq.XPUB)
        socket.set(zmq.SNDHWM, 0)
        socket.bind("tcp://127.0.0.1:*")
        return socket

    def _socket(self, kind: int) -> zmq.Socket[bytes]:
        socket = self.context.socket(kind)
        socket.set(zmq.LINGER, 0)
        self.sockets.append(socket)  # pyzmq's context only holds it weakly
        return socket

    def close(self) -> None:
        for socket in self.sockets:
            socket.close(linger=0)
        self.context.term()


@pytest.fixture
def peers() -> Iterator[Peers]:
    made = Peers()
    yield made
    made.close()


def timings(program: Program) -> tuple[float, float]:
    """(reactor.stop() to reactor.run() returning, reactor.stop() to the process's exit), s."""
    stopping, stopped = program.event("stopping"), program.event("stopped")
    assert stopping is not None, program
    assert stopped is not None, program
    assert program.exitedAt is not None
    return stopped["t"] - stopping["t"], program.exitedAt - stopping["t"]


def assertCleanExit(program: Program, status: int) -> None:
    assert status == 0, program
    for bad in ("Traceback", "Unhandled error", "Warning"):
        assert bad not in program.stderr, program
    stopped = program.event("stopped")
    assert stopped is not None, program
    assert stopped["factoryClosed"], program


def report(
    record: Callable[[str, object], None], case: str, linger: int, program: Program
) -> tuple[float, float]:
    shutdown, exited = timings(program)
    sys.stderr.write(
        f"shutdown, {case}: lingerPeriod {linger} ms; reactor.stop() -> reactor.run() returned "
        f"{1000 * shutdown:.0f} ms, -> process exited {1000 * exited:.0f} ms\n"
    )
    record("linger_ms", linger)
    record("stop_to_run_returned_ms", round(1000 * shutdown, 1))
    record("stop_to_exit_ms", round(1000 * exited, 1))
    return shutdown, exited


def test_lingerDeliversEverythingToALivePeer(
    peers: Peers, record_property: Callable[[str, object], None]
) -> None:
    """(a) The peer starts reading only once the publisher has stopped its reactor."""
    linger = 5000
    with running("linger_publisher.py", {"count": COUNT, "size": SIZE, "linger": linger}) as pub:
        sub = peers.sub(pub.waitFor("bound", STARTUP)["endpoint"])
        pub.waitFor("stopping", STARTUP)
        received: list[int] = []

        def drain() -> None:
            while True:
                try:
                    frame = sub.recv(zmq.NOBLOCK)
                except zmq.Again:
                    return
                assert frame[:4] == b"seq\0", frame[:16]
                received.append(int.from_bytes(frame[4:12], "big"))

        status = pub.finish(linger / 1000 + MARGIN + STARTUP, {sub: drain})
        # The process has sent everything; the last bytes may still be on their way.
        pub.until(lambda: len(received) >= COUNT, "every message", 10, {sub: drain})
        shutdown, exited = report(record_property, "a live peer", linger, pub)
    assertCleanExit(pub, status)
    assert received == list(range(COUNT))
    record_property("received", len(received))
    # Prompt: it waited for the messages to leave, not for the linger period.
    assert exited < linger / 1000, (shutdown, exited)


@pytest.mark.parametrize("how", ["stalled", "gone"])
def test_lingerBoundsTheWaitForAPeerThatDoesNotRead(
    peers: Peers,
    record_property: Callable[[str, object], None],
    how: str,
) -> None:
    """(b) A peer that never reads, or goes away as the publisher stops."""
    linger = 1000
    with running("linger_publisher.py", {"count": COUNT, "size": SIZE, "linger": linger}) as pub:
        sub = peers.sub(pub.waitFor("bound", STARTUP)["endpoint"])
        pub.waitFor("stopping", STARTUP)
        if how == "gone":
            sub.close(linger=0)
        status = pub.finish(linger / 1000 + MARGIN)
        shutdown, exited = report(record_property, f"a {how} peer", linger, pub)
    assertCleanExit(pub, status)
    assert exited <= linger / 1000 + MARGIN, (shutdown, exited)
    if how == "stalled":
        # It did wait: messages were still queued, and linger kept them that long.
        assert shutdown >= 0.8 * linger / 1000, (shutdown, exited)


def test_zeroLingerExitsAtOnce(
    peers: Peers, record_property: Callable[[str, object], None]
) -> None:
    """(c) lingerPeriod 0: queued messages are dropped, the process leaves at once."""
    with running("linger_publisher.py", {"count": COUNT, "size": SIZE, "linger": 0}) as pub:
        peers.sub(pub.waitFor("bound", STARTUP)["endpoint"])
        pub.waitFor("stopping", STARTUP)
        status = pub.finish(MARGIN)
        shutdown, exited = report(record_property, "a stalled peer", 0, pub)
    assertCleanExit(pub, status)
    assert shutdown < 0.25, (shutdown, exited)
    assert exited < MARGIN, (shutdown, exited)


def test_reactorStopsUnderABusySubscriber(
    peers: Peers, record_property: Callable[[str, object], None]
) -> None:
    """Queued messages, waiting consumers of every style, more arriving: a clean stop."""
    xpub = peers.xpub()  # never blocks nor drops: the subscriber's side is under test
    seen: set[str] = set()

    def subscriptions() -> None:
        while True:
            try:
                frame = xpub.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if frame[:1] == b"\x01":
                seen.add(frame[1:].decode())

    burst = 5000
    config = {"endpoint": xpub.get(zmq.LAST_ENDPOINT).decode()}
    with running("stopping_subscriber.py", config) as sub:
        tags = set(sub.waitFor("subscribed", STARTUP)["tags"])
        sub.until(lambda: tags <= seen, "every subscription", STARTUP, {xpub: subscriptions})
        for n in range(burst):
            xpub.send(b"data\0%d" % n)
        xpub.send(b"end\0")
        for n in range(burst, 2 * burst):  # still arriving as the reactor stops
            xpub.send(b"data\0%d" % n)
        stopping = sub.waitFor("stopping", STARTUP, {xpub: subscriptions})
        status = sub.finish(MARGIN, {xpub: subscriptions})
        shutdown, exited = report(record_property, "a busy Subscriber", 100, sub)
    assertCleanExit(sub, status)
    stopped = sub.event("stopped")
    assert stopped is not None
    record_property("queued_at_stop", stopping["queued"])
    assert stopping["queued"] >= burst, stopping  # the first burst, all of it, unread
    assert stopping["dropped"] == 0, stopping
    assert stopping["endedEarly"] == {}, stopping
    assert stopped["ended"] == {
        "next.1": "ConnectionClosed",
        "next.2": "ConnectionClosed",
        "nextBatch": "ConnectionClosed",
        "async for": "ended",
        "inlineCallbacks": "ConnectionClosed caught",
        "async def": "ConnectionClosed caught",
    }, stopped
    assert stopped["queuedAfter"] == 0, stopped  # shutdown discards what was queued
    assert exited < MARGIN, (shutdown, exited)
