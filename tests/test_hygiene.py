"""
Resource hygiene: many create/use/shutdown cycles leave nothing behind.

Each cycle makes a ZmqFactory with a publisher, a Deferred-first Subscriber and a
txZMQ-style ZmqSubConnection over tcp (127.0.0.1, port 0), ipc or inproc (in
turn); watches the publisher's and the subscriber's lifecycle (whenConnected(), an
``async for`` over events()); moves one message end to end to both subscribers; leaves Deferreds
pending (next(), nextBatch(), an ``async for`` over a subscription, a
waitForSubscribers() with a timeout); and shuts it all down, connections one by
one and the factory last, or the factory alone. Every other factory also
registers for reactor shutdown, which its shutdown() must undo.

After *every* cycle, checked synchronously right after shutdown: the pending
Deferreds failed with ConnectionClosed (or their loops ended), the same open
file descriptors as before the first cycle, and no reader, writer or delayed
call in the reactor that was not there before. After the last cycle: the same
set of file descriptors (after gc.collect()), no reactor shutdown trigger left,
and bounded memory between the warm-up cycle (100) and the last (1,000): the
Python heap (tracemalloc) by MAX_HEAP_GROWTH, RSS by MAX_RSS_GROWTH.

Nothing sleeps: every wait is on a Deferred, under a deadline.
"""

from __future__ import annotations

import gc
import os
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from txzpub import (
    ConnectionClosed,
    ConnectionEvent,
    Message,
    ZmqConnection,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)
from txzpub._subscriber import Subscriber

from .helpers import bind, boundAddress, bounded, connect

pytestmark = pytest.mark.filterwarnings(
    # The figures go to the JUnit XML with record_property, which only its default xunit2
    # format refuses (a warning, an error here): with --junitxml, add -o junit_family=xunit1.
    "ignore:record_property is incompatible:pytest.PytestWarning"
)

TAG = b"hygiene"
TRANSPORTS = ("tcp", "ipc", "inproc")
CYCLES = 1000
WARM_UP = 100
#: Python heap growth (tracemalloc) allowed from cycle WARM_UP to the last: about
#: 580 B a cycle, less than one leaked Subscription (its deque alone is ~600 B)
#: or one Deferred with a callback per cycle would cost. Measured: ~50 KiB, all
#: of it interpreter and library caches that are full by cycle ~1,000 (the heap
#: is flat from there to cycle 6,000).
MAX_HEAP_GROWTH = 512 * 1024
#: RSS growth allowed over the same cycles (page-granular; libzmq's own heap too).
MAX_RSS_GROWTH = 2 * 2**20


class Recording(ZmqSubConnection):
    """txZMQ style: gotMessage fires the Deferred the test is waiting on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.received: Deferred[tuple[bytes, bytes]] = Deferred()
        super().__init__(*args, **kwargs)

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        if not self.received.called:
            self.received.callback((message, tag))


def openFds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def describeFds(fds: set[str]) -> list[str]:
    described = []
    for fd in sorted(fds, key=int):
        try:
            described.append(f"{fd} -> {Path(f'/proc/self/fd/{fd}').readlink()}")
        except OSError:
            described.append(f"{fd} -> (gone)")
    return described


def shutdownTriggers() -> int:
    """How many 'during shutdown' triggers the reactor holds (registerForShutdown adds one)."""
    triggers = getattr(reactor, "_eventTriggers", {}).get("shutdown")
    return 0 if triggers is None else len(triggers.during)


def rssBytes() -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    msg = "no VmRSS in /proc/self/status"
    raise AssertionError(msg)


def outcome(d: Deferred[Any]) -> list[object]:
    """What *d* ends with, collected so that a failure is never left unhandled."""
    seen: list[object] = []
    d.addBoth(seen.append)
    return seen


def closedBy(seen: list[object]) -> bool:
    """Did the collected Deferred fail with ConnectionClosed (and nothing else)?"""
    return (
        len(seen) == 1 and isinstance(seen[0], Failure) and bool(seen[0].check(ConnectionClosed))
    )


@attrs.frozen
class Reactor:
    """What the reactor holds: readers, writers, live delayed calls."""

    readers: frozenset[object]
    writers: frozenset[object]
    delayed: frozenset[object]

    @classmethod
    def now(cls) -> Reactor:
        return cls(
            frozenset(reactor.getReaders()),
            frozenset(reactor.getWriters()),
            frozenset(reactor.getDelayedCalls()),
        )

    def added(self, later: Reactor) -> dict[str, list[str]]:
        """What *later* holds that this did not, by kind; empty when nothing."""
        extra = {
            "readers": later.readers - self.readers,
            "writers": later.writers - self.writers,
            "delayed calls": later.delayed - self.delayed,
        }
        return {kind: sorted(map(repr, things)) for kind, things in extra.items() if things}


class Lifecycle:
    """A connection's whenConnected() and an ``async for`` over its events(), from the start."""

    def __init__(self, connection: ZmqConnection, transport: str) -> None:
        self._transport = transport
        self._connected = connection.whenConnected()  # before any endpoint: nothing missed
        self._notConnected: list[object] = []
        self.events: list[ConnectionEvent] = []
        self._first: Deferred[None] = Deferred()

        async def watch() -> str:
            async for event in connection.events():  # ends when the connection shuts down
                self.events.append(event)
                if not self._first.called:
                    self._first.callback(None)
            return "ended"

        self._watching = outcome(Deferred.fromCoroutine(watch()))

    async def connected(self) -> None:
        """Wait for the handshake and an event; inproc has neither (libzmq reports none)."""
        if self._transport == "inproc":
            self._notConnected = outcome(self._connected)
            return
        assert isinstance(await bounded(self._connected, "whenConnected()"), ConnectionEvent)
        await bounded(self._first, "a lifecycle event")

    def checkEnded(self) -> None:
        assert self._watching == ["ended"], self._watching
        if self._transport == "inproc":
            assert closedBy(self._notConnected), self._notConnected
            assert self.events == []
        else:
            assert self.events


def leavePending(
    publisher: ZmqPubConnection, subscriber: Subscriber, legacy: ZmqSubConnection
) -> tuple[list[list[object]], list[list[object]]]:
    """Deferreds left waiting for shutdown: (those it must fail, loops it must end)."""

    async def loop() -> str:
        async for _ in subscriber.subscribe(b"loop"):
            pass
        return "ended"

    failing = [
        outcome(subscriber.next(b"never published")),
        outcome(legacy.next(b"never published either")),
        outcome(subscriber.subscribe(b"batch").nextBatch(10)),
        outcome(publisher.waitForSubscribers(99, timeout=30)),  # its timer must go too
    ]
    return failing, [outcome(Deferred.fromCoroutine(loop()))]


class Cycles:
    """Makes, uses and shuts down one factory's connections per call of once()."""

    def __init__(self, tmp: Path) -> None:
        self._tmp = tmp
        self.count = 0

    def address(self, transport: str) -> str:
        if transport == "tcp":
            return "tcp://127.0.0.1:0"  # the OS picks a free port: no race
        if transport == "ipc":
            return f"ipc://{self._tmp}/h{self.count}"
        return f"inproc://hygiene-{os.getpid()}-{self.count}"

    async def once(self, transport: str, individually: bool) -> None:
        self.count += 1
        factory = ZmqFactory(reactor)
        factory.lingerPeriod = 0
        if self.count % 2:
            factory.registerForShutdown()  # shutdown() must take the trigger away again
        publisher = ZmqPubConnection(factory, bind(self.address(transport)))
        where = boundAddress(publisher)
        subscriber = Subscriber(factory)
        lifecycles = [Lifecycle(publisher, transport), Lifecycle(subscriber, transport)]
        legacy = Recording(factory)
        subscriber.addEndpoints([connect(where)])
        legacy.addEndpoints([connect(where)])
        subscriber.subscribe(TAG)
        legacy.subscribe(TAG)
        failing, ending = leavePending(publisher, subscriber, legacy)

        await bounded(publisher.waitForSubscribers(2, TAG), "both subscriptions")
        body = b"cycle %d" % self.count
        publisher.publish(body, TAG)
        received = await bounded(subscriber.next(TAG), "the Subscriber's message")
        assert received == Message(TAG, body)
        assert await bounded(legacy.received, "gotMessage") == (body, TAG)
        for lifecycle in lifecycles:
            await lifecycle.connected()

        if individually:
            legacy.shutdown()
            subscriber.shutdown()
            publisher.shutdown()
        factory.shutdown()

        assert factory.connections == set()
        for pending in failing:
            assert closedBy(pending), pending
        for loop in ending:
            assert loop == ["ended"], loop
        for lifecycle in lifecycles:
            lifecycle.checkEnded()


@attrs.define
class Measured:
    seconds: float = 0.0
    fdsBefore: int = 0
    fdsAfter: int = 0
    heapAtWarmUp: int = 0
    heapAtEnd: int = 0
    rssAtWarmUp: int = 0
    rssAtEnd: int = 0

    @property
    def heapGrowth(self) -> int:
        return self.heapAtEnd - self.heapAtWarmUp

    @property
    def rssGrowth(self) -> int:
        return self.rssAtEnd - self.rssAtWarmUp


async def runCycles(
    style: str, tmp: Path, record: Callable[[str, object], None], cycles: int = CYCLES
) -> Measured:
    """*style*: 'individually', 'factory' (shutdown() only) or 'mixed' (alternating)."""
    measured = Measured()
    runner = Cycles(tmp)
    gc.collect()
    fdsBefore = openFds()
    held = Reactor.now()
    triggers = shutdownTriggers()
    started = time.perf_counter()
    for n in range(cycles):
        if n == WARM_UP:
            gc.collect()
            measured.heapAtWarmUp = tracemalloc.get_traced_memory()[0]
            measured.rssAtWarmUp = rssBytes()
        individually = style == "individually" or (style == "mixed" and n % 2 == 0)
        await runner.once(TRANSPORTS[n % len(TRANSPORTS)], individually)
        # Right after shutdown, before the reactor runs again.
        left = held.added(Reactor.now())
        assert not left, f"cycle {n} left in the reactor: {left}"
        fds = openFds()
        assert fds == fdsBefore, (
            f"cycle {n}: opened {describeFds(fds - fdsBefore)}, closed {sorted(fdsBefore - fds)}"
        )
    measured.seconds = time.perf_counter() - started
    gc.collect()
    fdsAfter = openFds()
    measured.fdsBefore, measured.fdsAfter = len(fdsBefore), len(fdsAfter)
    measured.heapAtEnd = tracemalloc.get_traced_memory()[0]
    measured.rssAtEnd = rssBytes()

    perCycle = 1000 * measured.seconds / cycles
    report = (
        f"hygiene, {style}: {cycles} cycles in {measured.seconds:.2f} s ({perCycle:.2f} ms a "
        f"cycle, tracemalloc on); open fds {measured.fdsBefore} before, {measured.fdsAfter} "
        f"after; from cycle {WARM_UP} to {cycles}: Python heap "
        f"{measured.heapGrowth / 1024:+.1f} KiB (bound {MAX_HEAP_GROWTH // 1024} KiB), RSS "
        f"{measured.rssGrowth / 1024:+.0f} KiB (bound {MAX_RSS_GROWTH // 1024} KiB)"
    )
    sys.stderr.write(report + "\n")
    record("cycles", cycles)
    record("ms_per_cycle", round(perCycle, 3))
    record("fds_before", measured.fdsBefore)
    record("fds_after", measured.fdsAfter)
    record("heap_growth_bytes", measured.heapGrowth)
    record("rss_growth_bytes", measured.rssGrowth)

    assert fdsAfter == fdsBefore, report
    assert shutdownTriggers() == triggers, "a registerForShutdown() trigger outlived its factory"
    assert measured.heapGrowth <= MAX_HEAP_GROWTH, report
    assert measured.rssGrowth <= MAX_RSS_GROWTH, report
    return measured


@pytest.fixture
def traced() -> Iterator[None]:
    """tracemalloc (one frame) on for the test, off again afterwards."""
    already = tracemalloc.is_tracing()
    if not already:
        tracemalloc.start(1)
    yield
    if not already:
        tracemalloc.stop()


@pytest_twisted.ensureDeferred
async def test_thousandCyclesLeaveNothingBehind(
    traced: None, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """1,000 cycles, shutting down one by one and with factory.shutdown() alone in turn."""
    await runCycles("mixed", tmp_path, record_property)


@pytest_twisted.ensureDeferred
async def test_connectionsShutDownOneByOneThenFactory(
    traced: None, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    await runCycles("individually", tmp_path, record_property)


@pytest_twisted.ensureDeferred
async def test_factoryShutdownAlone(
    traced: None, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    await runCycles("factory", tmp_path, record_property)


def shutdownWithMessagesInFlight(individually: bool) -> tuple[Reactor, Reactor]:
    """Publish, then shut down at once (no reactor turn between): the reactor before and after."""
    held = Reactor.now()
    fdsBefore = openFds()
    factory = ZmqFactory(reactor)
    factory.lingerPeriod = 0
    publisher = ZmqPubConnection(factory, bind("tcp://127.0.0.1:0"))
    subscriber = Subscriber(factory, connect(boundAddress(publisher)))
    pending = outcome(subscriber.next(TAG))
    for n in range(10):
        publisher.publish(b"%d" % n, TAG)
    if individually:
        subscriber.shutdown()
        publisher.shutdown()
    factory.shutdown()
    assert closedBy(pending), pending
    assert openFds() == fdsBefore
    return held, Reactor.now()


@pytest.mark.parametrize("individually", [True, False], ids=["individually", "factory"])
def test_shutdownWithMessagesInFlight(individually: bool) -> None:
    """The per-cycle checks, with messages published but not yet sent at shutdown."""
    held, after = shutdownWithMessagesInFlight(individually)
    left = held.added(after)
    assert not left, left
