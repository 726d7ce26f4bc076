"""
Faults across hosts: a proxy killed and restarted, a subscriber cut off and reconnected.

Four hosts (Linux network namespaces, see tests/netns.py), the proxy in the
middle with a veth link to each of the others::

    publisher --- proxy --- subscriber 1
                    \\----- subscriber 2

The proxy is ``txzpub proxy`` as users run it. The publisher publishes
sequence-numbered messages at a steady rate until stopped, each carrying its
send time; each subscriber prints every message with its receive time, and
every connection event its socket monitor reports. All processes share one
CLOCK_MONOTONIC (namespaces separate networks, not clocks), so times from
different hosts compare directly. Nothing but the fault itself is ever
restarted: recovery is ZeroMQ's reconnection, and the tests measure it and
report the figures (``pytest -s`` prints them; they are also attached with
``record_property``, e.g. to the JUnit XML).

The sequenced scenario runs a sequenced publisher with a replay socket, and
the proxy's host also routes between the others: one subscriber asks the
publisher for what the proxy's death lost straight across that host, not
through the proxy; the other has no replay and only counts what it lost.

Every wait has a deadline and waits for an event: a line of output (a
message, a connection event, the proxy's readiness line). Needs root and
iproute2; skipped otherwise.
"""

from __future__ import annotations

import bisect
import itertools
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pytest

from . import netns
from .helpers import childEnvironment

#: Messages a second from the publisher.
RATE = 1000
#: The proxy's ports (in its own namespace: nothing else can hold them).
XSUB_PORT = 5601
XPUB_PORT = 5602
#: Seconds any one thing (a start, a message, an event) may take to happen.
WAIT = 10.0
#: Seconds after the repair by which each subscriber must have a message again.
RESUME_DEADLINE = 10.0
#: Messages each subscriber receives before a fault, and after it, to show a steady flow.
STEADY = 300
#: Seconds after a subscriber's first message after a repair within which what queued up
#: during the fault has drained; it may lose messages until then, and none after.
SETTLE = 1.0
#: A partition lasts while the other subscriber receives this many seconds of traffic.
PARTITION_SECONDS = 1.0

#: The publisher's replay socket (in its own namespace), and the sequenced streams' timings.
REPLAY_PORT = 5603
REPLAY_TIMEOUT = 2.0
HEARTBEAT_INTERVAL = 0.1
#: Messages published while the proxy is down: more than the publisher's high-water mark
#: (1,000) keeps for its return, so both subscribers miss some whoever reconnects first.
OUTAGE = 1500
#: The default replay buffer, which holds several seconds at RATE: more than the outage.
REPLAY_DEPTH = 10_000
#: A replay buffer much shorter than what the outage loses.
SHORT_REPLAY_DEPTH = 100

# The figures go to the JUnit XML with record_property, which only its default xunit2 format
# refuses (a warning, an error here): with --junitxml, add -o junit_family=xunit1 to get them.
pytestmark = pytest.mark.filterwarnings(
    "ignore:record_property is incompatible:pytest.PytestWarning"
)

PROXY_READY = r"publishers connect to (\S+) \(XSUB\), subscribers to (\S+) \(XPUB\)"

#: Shared by both programs: stdout lines, flushed once per reactor turn, and one
#: "E KIND TIME" line per connection event of *connection*.
_COMMON = """
import sys, time
from twisted.internet import defer, reactor, task
from txzpub import *

factory = ZmqFactory()
factory.lingerPeriod = 0
factory.registerForShutdown()
pending = []

def flush():
    sys.stdout.write("".join(pending))
    sys.stdout.flush()
    pending.clear()

def say(line):
    if not pending:
        reactor.callLater(0, flush)
    pending.append(line + "\\n")

async def watch(connection):
    async for event in connection.events():
        say(f"E {event.kind.name} {time.monotonic():.6f}")

def attach(connection):
    defer.ensureDeferred(watch(connection))  # before connecting: no event is missed
    connection.addEndpoints([ZmqEndpoint(ZmqEndpointType.connect, sys.argv[1])])
"""

#: ``python -c PUBLISHER XSUB_ADDRESS RATE``: message n is "n SEND_TIME", tag b"tick".
PUBLISHER = (
    _COMMON
    + """
publisher = ZmqPubConnection(factory)
attach(publisher)
rate, started, sent = float(sys.argv[2]), time.monotonic(), 0

def tick():
    global sent
    due = int((time.monotonic() - started) * rate)
    while sent < due:
        publisher.publish(f"{sent} {time.monotonic():.6f}".encode(), b"tick")
        sent += 1

task.LoopingCall(tick).start(0.002)
reactor.run()
"""
)

#: ``python -c SUBSCRIBER XPUB_ADDRESS``: one "M SEQ SEND_TIME RECEIVE_TIME" line per message.
SUBSCRIBER = (
    _COMMON
    + """
class Subscriber(ZmqSubConnection):
    def gotMessage(self, message, tag):
        say(f"M {message.decode()} {time.monotonic():.6f}")

subscriber = Subscriber(factory)
attach(subscriber)
subscriber.subscribe(b"tick")
reactor.run()
"""
)


#: Shared by the sequenced programs: a statistics snapshot as "key=value ..." fields.
_SEQUENCED = """
import attrs

def fields(snapshot):
    return " ".join(f"{key}={value}" for key, value in attrs.asdict(snapshot).items())
"""

#: ``python -c SEQUENCED_PUBLISHER XSUB_ADDRESS RATE REPLAY_PORT REPLAY_DEPTH HEARTBEAT``:
#: as PUBLISHER, sequenced, with a replay socket; "P SENT TIME" every 100 messages, and its
#: replay statistics in an "S replay key=value ..." line when it stops.
SEQUENCED_PUBLISHER = (
    _COMMON
    + _SEQUENCED
    + """
publisher = ZmqPubConnection(
    factory,
    sequenced=True,
    replay=ZmqEndpoint(ZmqEndpointType.bind, f"tcp://*:{sys.argv[3]}"),
    replayDepth=int(sys.argv[4]),
    heartbeatInterval=float(sys.argv[5]),
)
attach(publisher)
rate, started, sent = float(sys.argv[2]), time.monotonic(), 0

def tick():
    global sent
    due = int((time.monotonic() - started) * rate)
    while sent < due:
        publisher.publish(f"{sent} {time.monotonic():.6f}".encode(), b"tick")
        sent += 1
        if not sent % 100:
            say(f"P {sent} {time.monotonic():.6f}")

def finish():
    say("S replay " + fields(publisher.replayStatistics()))
    flush()

task.LoopingCall(tick).start(0.002)
reactor.addSystemEventTrigger("before", "shutdown", finish)
reactor.run()
"""
)

#: ``python -c SEQUENCED_SUBSCRIBER XPUB_ADDRESS REPLAY_TIMEOUT [REPLAY_ADDRESS]``: one
#: "M SEQUENCE N SEND_TIME RECEIVE_TIME" line per message (message.sequence, then the body),
#: "E KIND TIME" per connection event, "G KIND FIRST LAST VALUE TIME" per stream event, and
#: when it stops, "S stream key=value ..." (streamStatistics()) and "S subscription ...".
SEQUENCED_SUBSCRIBER = (
    _COMMON
    + _SEQUENCED
    + """
async def watch(connection):  # the common one's, with the numbers of stream events
    async for event in connection.events():
        now = f"{time.monotonic():.6f}"
        if event.publisher:
            say(f"G {event.kind.name} {event.first} {event.last} {event.value} {now}")
        else:
            say(f"E {event.kind.name} {now}")

replay = ZmqEndpoint(ZmqEndpointType.connect, sys.argv[3]) if len(sys.argv) > 3 else None
subscriber = ZmqSubConnection(factory, replay=replay, replayTimeout=float(sys.argv[2]))
attach(subscriber)
subscription = subscriber.subscribe(b"tick")

async def read():
    try:
        while True:
            for message in await subscription.nextBatch():
                body = message.body.decode()
                say(f"M {message.sequence} {body} {time.monotonic():.6f}")
    except ConnectionClosed:
        pass

def finish():
    queue = subscription.statistics()
    say("S stream " + fields(subscriber.streamStatistics()))
    say(
        f"S subscription lost={queue.lost} recovered={queue.recovered} "
        f"queued={queue.queued} dropped={queue.dropped}"
    )
    flush()

defer.ensureDeferred(read())
reactor.addSystemEventTrigger("before", "shutdown", finish)
reactor.run()
"""
)


def python(*args: str) -> list[str]:
    """Our interpreter, with warnings shown and bytes/str mix-ups reported (then checked)."""
    return [sys.executable, "-W", "default", "-b", *args]


@dataclass(frozen=True)
class Received:
    """One message as a subscriber saw it."""

    seq: int
    sent: float
    received: float


@dataclass(frozen=True)
class Hole:
    """Sequence numbers a subscriber never received, between two it did."""

    before: Received
    after: Received

    @property
    def missed(self) -> int:
        return self.after.seq - self.before.seq - 1


class Peer:
    """A publisher or subscriber program: its messages and connection events, parsed as they come."""

    def __init__(
        self, network: netns.Network, host: netns.Host, name: str, argv: Sequence[str]
    ) -> None:
        self.name = name
        self.host = host
        self.messages: list[Received] = []
        self.events: list[tuple[str, float]] = []
        self.malformed: list[str] = []
        self.process = network.spawn(host, name, argv, childEnvironment(), self._parse)

    def _parse(self, stream: str, line: str) -> None:
        if stream != "out":
            return
        try:
            kind, *fields = line.split()
            if kind == "M":
                seq, sent, received = fields
                self.messages.append(Received(int(seq), float(sent), float(received)))
            elif kind == "E":
                event, at = fields
                self.events.append((event, float(at)))
            else:
                self.malformed.append(line)
        except ValueError:  # checked by Bus.stop(): a reader thread must not die
            self.malformed.append(line)

    def waitUntil(self, ready: Callable[[], object], what: str, timeout: float = WAIT) -> float:
        return self.process.waitUntil(ready, f"{what} at {self.name}", timeout)

    def waitForCount(self, count: int) -> None:
        self.waitUntil(lambda: len(self.messages) >= count, f"{count} messages")

    def waitForReceivedAfter(self, moment: float, timeout: float = WAIT) -> Received:
        """Wait for a message received at or after *moment*; return the first such."""
        self.waitUntil(
            lambda: self.messages and self.messages[-1].received >= moment,
            "a message received after the repair",
            timeout,
        )
        return self.firstReceivedAfter(moment)

    def waitForSentAfter(self, moment: float) -> Received:
        """Wait for a message published at or after *moment*; return the first such."""
        self.waitUntil(
            lambda: self.messages and self.messages[-1].sent >= moment,
            "a message published after a given moment",
        )
        messages = self.messages[:]
        return messages[bisect.bisect_left(messages, moment, key=lambda m: m.sent)]

    def waitForEvent(self, kind: str, since: float) -> float:
        """Wait for a *kind* connection event at or after *since*; return its time."""
        self.waitUntil(lambda: self.eventsSince(kind, since), f"a {kind} event")
        return self.eventsSince(kind, since)[0]

    def eventsSince(self, kind: str, since: float) -> list[float]:
        return [at for each, at in self.events[:] if each == kind and at >= since]

    def firstReceivedAfter(self, moment: float) -> Received:
        messages = self.messages[:]
        return messages[bisect.bisect_left(messages, moment, key=lambda m: m.received)]

    def lastReceivedBefore(self, moment: float) -> Received:
        messages = self.messages[:]
        index = bisect.bisect_left(messages, moment, key=lambda m: m.received)
        assert index > 0, f"{self.name} received nothing before {moment}"
        return messages[index - 1]

    def sentBetween(self, start: float, end: float) -> list[Received]:
        return [m for m in self.messages[:] if start <= m.sent < end]

    def waitUntilSettled(self, resumed: Received) -> None:
        """Wait for STEADY messages' worth of traffic published after SETTLE."""
        self.waitForSentAfter(resumed.received + SETTLE + STEADY / RATE)

    def lossDuring(self, before: Received, resumed: Received) -> list[Hole]:
        """
        The holes in the sequence, checked to be the fault's: none before *before*
        (the last message received before the repair), none after SETTLE seconds
        past *resumed* (the first received after it).
        """
        holes = self.holes()
        for hole in holes:
            assert before.seq <= hole.before.seq, (self.name, hole, before)
            assert hole.after.sent <= resumed.received + SETTLE, (self.name, hole, resumed)
        return holes

    def delivered(self, sentFrom: float, sentUntil: float, receivedFrom: float) -> int:
        """How many messages published in [sentFrom, sentUntil) came at receivedFrom or later."""
        return sum(1 for m in self.sentBetween(sentFrom, sentUntil) if m.received >= receivedFrom)

    def holes(self) -> list[Hole]:
        """Where the sequence numbers jump; fails if one ever goes back or repeats."""
        found = []
        for before, after in zip(self.messages, self.messages[1:], strict=False):
            assert after.seq > before.seq, f"{self.name}: {after} came after {before}"
            if after.seq != before.seq + 1:
                found.append(Hole(before, after))
        return found


class Bus:
    """The topology, running: a publisher, a proxy and two subscribers on four hosts."""

    #: Whether the proxy's host also routes between the others (see netns.Network.route).
    routed = False

    def __init__(self, network: netns.Network) -> None:
        self.network = network
        self.proxyHost = network.host("proxy")
        self.publisherHost = network.host("pub")
        self.links: dict[str, netns.Link] = {
            "publisher": network.link(self.proxyHost, "to-pub", self.publisherHost, "uplink")
        }
        subscriberHosts = []
        for number in (1, 2):
            host = network.host(f"sub{number}")
            self.links[f"sub{number}"] = network.link(
                self.proxyHost, f"to-sub{number}", host, "uplink"
            )
            subscriberHosts.append(host)
        if self.routed:
            network.route(self.proxyHost)
        self.proxy = self.startProxy()
        self.subscribers = [
            self.startSubscriber(f"sub{number}", host)
            for number, host in enumerate(subscriberHosts, 1)
        ]
        self.publisher = self.startPublisher(self.publisherHost)

    def startSubscriber(self, name: str, host: netns.Host) -> Peer:
        argv = python("-c", SUBSCRIBER, self.proxyAddress(name, XPUB_PORT))
        return Peer(self.network, host, name, argv)

    def startPublisher(self, host: netns.Host) -> Peer:
        argv = python("-c", PUBLISHER, self.proxyAddress("publisher", XSUB_PORT), str(RATE))
        return Peer(self.network, host, "publisher", argv)

    def proxyAddress(self, peer: str, port: int) -> str:
        """The proxy as *peer* reaches it: its address on their link."""
        return f"tcp://{self.links[peer].address(self.proxyHost)}:{port}"

    def startProxy(self) -> netns.Process:
        """``txzpub proxy`` on its fixed ports, once it says it is ready."""
        proxy = self.network.spawn(
            self.proxyHost,
            "proxy",
            python(
                "-m", "txzpub", "proxy",
                "--xsub", f"tcp://*:{XSUB_PORT}", "--xpub", f"tcp://*:{XPUB_PORT}",
                "--stats", "0",
            ),
            childEnvironment(),
        )  # fmt: skip
        proxy.errLine(PROXY_READY, "the proxy's readiness line", WAIT)
        return proxy

    def waitFlowing(self) -> None:
        for subscriber in self.subscribers:
            subscriber.waitForCount(STEADY)

    def stoppingOrder(self) -> tuple[Peer, ...]:
        return (self.publisher, *self.subscribers)

    def stop(self) -> None:
        """Stop everything with SIGTERM; each must exit 0, without a traceback or warning."""
        for peer in self.stoppingOrder():
            self.assertClean(peer.process, peer.process.stop())
            assert not peer.malformed, peer.malformed[:5]
        self.assertClean(self.proxy, self.proxy.stop())

    @staticmethod
    def assertClean(process: netns.Process, status: int) -> None:
        assert status == 0, process
        errors = "\n".join(process.err)
        for bad in ("Traceback", "Warning", "Unhandled"):
            assert bad not in errors, process


@dataclass(frozen=True)
class StreamEvent:
    """A GAP, RECOVERED, LOST or PUBLISHER_* event of a subscriber's sequenced stream."""

    kind: str
    first: int
    last: int
    value: int
    at: float


class SequencedPeer(Peer):
    """A sequenced program: also its stream events, progress and final statistics."""

    def __init__(
        self, network: netns.Network, host: netns.Host, name: str, argv: Sequence[str]
    ) -> None:
        self.stream: list[StreamEvent] = []
        #: The publisher's (messages published, when) every 100 messages.
        self.progress: list[tuple[int, float]] = []
        #: What the program printed as it stopped: {"stream": {"lost": 0, ...}, ...}.
        self.statistics: dict[str, dict[str, int]] = {}
        #: Messages whose body is not the one published with their sequence number.
        self.mismatched: list[str] = []
        super().__init__(network, host, name, argv)

    def _parse(self, stream: str, line: str) -> None:
        if stream != "out":
            return
        try:
            kind, *fields = line.split()
            if kind == "M":  # the body is "N SEND_TIME", published with sequence number N + 1
                seq, number, sent, received = fields
                self.messages.append(Received(int(seq), float(sent), float(received)))
                if int(number) + 1 != int(seq):
                    self.mismatched.append(line)
            elif kind == "G":
                event, first, last, value, at = fields
                self.stream.append(
                    StreamEvent(event, int(first), int(last), int(value), float(at))
                )
            elif kind == "P":
                sent, at = fields
                self.progress.append((int(sent), float(at)))
            elif kind == "S":
                what, *pairs = fields
                self.statistics[what] = {
                    key: int(value) for key, value in (pair.split("=") for pair in pairs)
                }
            else:
                super()._parse(stream, line)
        except ValueError:  # checked by Bus.stop(): a reader thread must not die
            self.malformed.append(line)

    def published(self) -> int:
        """How many messages the publisher had published at its latest progress line."""
        progress = self.progress[:]
        return progress[-1][0] if progress else 0

    def streamEvents(self, kind: str) -> list[StreamEvent]:
        return [event for event in self.stream[:] if event.kind == kind]

    def total(self, kind: str) -> int:
        return sum(event.value for event in self.streamEvents(kind))

    def gapsSettled(self) -> bool:
        """Every gap seen has ended in RECOVERED and LOST events that add up to it."""
        return self.total("GAP") == self.total("RECOVERED") + self.total("LOST")

    def sequences(self) -> list[int]:
        return [message.seq for message in self.messages[:]]

    def gapsDuring(self, killed: float, resumed: Received) -> list[StreamEvent]:
        """
        The GAP events, checked to name only what the outage lost: none before
        *killed*, none of a number published more than SETTLE seconds after
        *resumed* (the first message received after the repair) arrived.
        """
        gaps = self.streamEvents("GAP")
        assert all(gap.at >= killed for gap in gaps), (self.name, gaps)
        lastSent = self.lastReceivedBefore(killed).seq
        later = [m.seq for m in self.messages[:] if m.sent > resumed.received + SETTLE]
        assert later, f"{self.name} received nothing published after it settled"
        for gap in gaps:
            assert lastSent < gap.first <= gap.last < min(later), (self.name, gap, lastSent)
        return gaps


class SequencedBus(Bus):
    """
    The topology with a sequenced publisher that keeps a replay buffer, and two
    subscribers: sub1 asks the publisher's replay socket for what it misses,
    straight across the proxy's host (which routes), not through the proxy;
    sub2 has no replay and only counts what it misses.
    """

    routed = True
    publisher: SequencedPeer
    subscribers: list[SequencedPeer]  # type: ignore[assignment]

    def __init__(self, network: netns.Network, replayDepth: int) -> None:
        self.replayDepth = replayDepth
        super().__init__(network)

    def replayAddress(self) -> str:
        """The publisher's replay socket as the subscribers reach it, through the proxy's host."""
        return f"tcp://{self.links['publisher'].address(self.publisherHost)}:{REPLAY_PORT}"

    def startSubscriber(self, name: str, host: netns.Host) -> SequencedPeer:
        replay = [self.replayAddress()] if name == "sub1" else []
        argv = python(
            "-c",
            SEQUENCED_SUBSCRIBER,
            self.proxyAddress(name, XPUB_PORT),
            str(REPLAY_TIMEOUT),
            *replay,
        )
        return SequencedPeer(self.network, host, name, argv)

    def startPublisher(self, host: netns.Host) -> SequencedPeer:
        argv = python(
            "-c",
            SEQUENCED_PUBLISHER,
            self.proxyAddress("publisher", XSUB_PORT),
            str(RATE),
            str(REPLAY_PORT),
            str(self.replayDepth),
            str(HEARTBEAT_INTERVAL),
        )
        return SequencedPeer(self.network, host, "publisher", argv)

    def stoppingOrder(self) -> tuple[Peer, ...]:
        # The subscribers first, while the publisher can still answer what they ask.
        return (*self.subscribers, self.publisher)


@pytest.fixture(scope="module")
def namespaces() -> None:
    """Checked once: can this run make hosts? (root, iproute2, CAP_SYS_ADMIN, veth)."""
    reason = netns.unavailable()
    if reason is not None:
        pytest.skip(f"multi-host tests need root and iproute2's ip netns: {reason}")
    netns.removeStale()  # from runs that were killed before their clean-up


@pytest.fixture
def network(namespaces: None) -> Iterator[netns.Network]:
    """Fresh hosts per test; whatever happens, no process or namespace outlives it."""
    made = netns.Network()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def bus(network: netns.Network) -> Bus:
    """The topology, running."""
    return Bus(network)


def report(
    record: Callable[[str, object], None], scenario: str, name: str, figures: dict[str, object]
) -> None:
    """Print the figures (shown with -s) and attach them to the test's report."""
    print(f"{scenario} {name}: " + ", ".join(f"{key} {value}" for key, value in figures.items()))  # noqa: T201
    for key, value in figures.items():
        record(f"{scenario}_{name}_{key}", value)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


@pytest.mark.timeout(120)
def test_subscribers_resume_by_themselves_after_the_proxy_is_killed_and_restarted(
    bus: Bus, record_property: Callable[[str, object], None]
) -> None:
    bus.waitFlowing()
    killed = time.monotonic()
    assert bus.proxy.stop(signal.SIGKILL) == -signal.SIGKILL
    # Everyone sees the connection end before the proxy is back, so what follows is a
    # reconnection, and no message from the old proxy can arrive after the restart.
    for peer in (bus.publisher, *bus.subscribers):
        peer.waitForEvent("DISCONNECTED", killed)
    restarted = time.monotonic()
    bus.proxy = bus.startProxy()  # same ports; nothing else is restarted
    ready = time.monotonic()
    resumed = [
        subscriber.waitForReceivedAfter(restarted, RESUME_DEADLINE)
        for subscriber in bus.subscribers
    ]
    for subscriber, first in zip(bus.subscribers, resumed, strict=True):
        subscriber.waitUntilSettled(first)
    bus.stop()

    report(record_property, "restart", "proxy", {"ready_ms_after_restart": ms(ready - restarted)})
    # Who reconnects first decides what is missed: the publisher queues what it publishes
    # while disconnected (up to its high-water mark) and sends it on reconnecting; if a
    # subscriber is back at the proxy by then, it loses only what was in flight at the
    # kill, otherwise the proxy drops the queue for want of subscribers.
    handshake = bus.publisher.waitForEvent("HANDSHAKE_SUCCEEDED", restarted)
    report(
        record_property,
        "restart",
        bus.publisher.name,
        {"handshake_ms_after_ready": ms(handshake - ready)},
    )
    for subscriber, first in zip(bus.subscribers, resumed, strict=True):
        before = subscriber.lastReceivedBefore(restarted)
        assert first.received - restarted <= RESUME_DEADLINE, first
        holes = subscriber.lossDuring(before, first)  # and only forward, never a repeat
        subscribed = subscriber.waitForEvent("HANDSHAKE_SUCCEEDED", restarted)
        report(
            record_property,
            "restart",
            subscriber.name,
            {
                "gap_ms": ms(first.received - before.received),
                "resumed_ms_after_restart": ms(first.received - restarted),
                "resumed_ms_after_ready": ms(first.received - ready),
                "handshake_ms_after_ready": ms(subscribed - ready),
                "missed": sum(hole.missed for hole in holes),
                "queued_by_publisher": subscriber.delivered(killed, handshake, restarted),
            },
        )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("side", ["subscriber", "proxy"])
def test_a_partitioned_subscriber_gets_nothing_then_resumes_while_the_other_carries_on(
    bus: Bus, side: str, record_property: Callable[[str, object], None]
) -> None:
    cut, other = bus.subscribers
    link = bus.links[cut.name]
    downHost = cut.host if side == "subscriber" else bus.proxyHost
    bus.waitFlowing()
    link.setDown(downHost)
    partitioned = time.monotonic()
    other.waitForSentAfter(partitioned + PARTITION_SECONDS)
    healed = time.monotonic()
    link.setUp(downHost)
    first = cut.waitForReceivedAfter(healed, RESUME_DEADLINE)
    cut.waitUntilSettled(first)
    other.waitUntilSettled(first)
    bus.stop()

    # Nothing published once the link was down reached it before the link came back up.
    leaked = [m for m in cut.sentBetween(partitioned, healed) if m.received < healed]
    assert not leaked, leaked[:5]
    # The other received every message, in order, throughout.
    assert other.holes() == [], other.holes()
    before = cut.lastReceivedBefore(healed)
    assert first.received - healed <= RESUME_DEADLINE, first
    holes = cut.lossDuring(before, first)  # and only forward, never a repeat
    # Whether TCP carried the connection through (retransmitting what the partition
    # dropped) or ZeroMQ had to reconnect: the monitor tells.
    reconnected = bool(cut.eventsSince("DISCONNECTED", partitioned))
    scenario = f"partition_{side}_side"
    report(
        record_property,
        scenario,
        cut.name,
        {
            "gap_ms": ms(first.received - before.received),
            "resumed_ms_after_heal": ms(first.received - healed),
            "missed": sum(hole.missed for hole in holes),
            # Published during the partition, or before the connection resumed, and
            # delivered late from the proxy's queue and TCP's buffers.
            "delivered_late": cut.delivered(partitioned, first.received, healed),
            "partition_ms": ms(healed - partitioned),
            "connection": "reconnected" if reconnected else "survived",
        },
    )
    report(
        record_property,
        scenario,
        other.name,
        {"received_during_partition": len(other.sentBetween(partitioned, healed)), "missed": 0},
    )


def missing(sequences: list[int]) -> int:
    """How many numbers are missing between the first and the last; fails on a repeat or going back."""
    for before, after in itertools.pairwise(sequences):
        assert after > before, f"{after} came after {before}"
    return sequences[-1] - sequences[0] + 1 - len(sequences)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "replayDepth",
    [REPLAY_DEPTH, SHORT_REPLAY_DEPTH],
    ids=["replay_buffer_covers_the_outage", "replay_buffer_too_short"],
)
def test_sequenced_subscribers_recover_or_count_exactly_what_a_proxy_restart_loses(
    network: netns.Network, replayDepth: int, record_property: Callable[[str, object], None]
) -> None:
    bus = SequencedBus(network, replayDepth)
    publisher = bus.publisher
    replaying, counting = bus.subscribers
    bus.waitFlowing()
    killed = time.monotonic()
    assert bus.proxy.stop(signal.SIGKILL) == -signal.SIGKILL
    publishedAtKill = publisher.published()
    for peer in (publisher, *bus.subscribers):
        peer.waitForEvent("DISCONNECTED", killed)
    # Down for longer than the publisher's queue covers: both subscribers miss messages.
    publisher.waitUntil(
        lambda: publisher.published() >= publishedAtKill + OUTAGE,
        f"{OUTAGE} messages published with the proxy down",
    )
    restarted = time.monotonic()
    publishedWhileDown = publisher.published() - publishedAtKill
    bus.proxy = bus.startProxy()  # same ports; nothing else is restarted
    ready = time.monotonic()
    resumed = [
        subscriber.waitForReceivedAfter(restarted, RESUME_DEADLINE)
        for subscriber in bus.subscribers
    ]
    for subscriber, first in zip(bus.subscribers, resumed, strict=True):
        subscriber.waitUntilSettled(first)
    try:
        replaying.waitUntil(replaying.gapsSettled, "every gap recovered or lost", WAIT)
    except AssertionError as failure:
        msg = f"{failure}\n--- stream events: {replaying.stream}"
        raise AssertionError(msg) from None
    bus.stop()

    scenario = f"sequenced_{'covered' if replayDepth == REPLAY_DEPTH else 'short'}"
    replay = publisher.statistics["replay"]
    report(
        record_property,
        scenario,
        publisher.name,
        {
            "outage_ms": ms(ready - killed),
            "proxy_start_ms": ms(ready - restarted),
            "published_while_down": publishedWhileDown,
            "replay_requests_answered": replay["answered"],
            "replayed": replay["replayed"],
        },
    )
    for subscriber, first in zip(bus.subscribers, resumed, strict=True):
        assert not subscriber.mismatched, subscriber.mismatched[:5]
        sequences = subscriber.sequences()
        missed = missing(sequences)  # and in order, never twice
        stream, queue = subscriber.statistics["stream"], subscriber.statistics["subscription"]
        # What went missing is counted, exactly: in the subscriber's and the subscription's.
        assert stream["lost"] == queue["lost"] == missed, (subscriber.name, stream, queue)
        assert stream["recovered"] == queue["recovered"], (subscriber.name, stream, queue)
        assert stream["held"] == queue["queued"] == queue["dropped"] == 0, (stream, queue)
        # Every gap ended in RECOVERED and LOST events that add up to it, and to the counts.
        assert subscriber.gapsSettled(), subscriber.stream
        assert subscriber.total("LOST") == missed, subscriber.stream
        assert subscriber.total("RECOVERED") == stream["recovered"], (stream, subscriber.stream)
        before = subscriber.lastReceivedBefore(restarted)
        subscriber.lossDuring(before, first)  # any hole is the outage's
        gaps = subscriber.gapsDuring(killed, first)  # and so is any gap, even recovered
        assert gaps, f"{subscriber.name} missed nothing: the outage was too short to test"
        ended = [e for e in subscriber.stream[:] if e.kind in {"RECOVERED", "LOST"}]
        figures: dict[str, object] = {
            "gap_ms": ms(first.received - before.received),
            "resumed_ms_after_ready": ms(first.received - ready),
            "missed": sum(gap.value for gap in gaps),
            "recovered": stream["recovered"],
            "lost": stream["lost"],
            "recovery_ms": ms(ended[-1].at - gaps[0].at),
            "duplicates": stream["duplicates"],
            "replay_requests": stream["replayRequests"],
            "gaps": len(subscriber.streamEvents("GAP")),
        }
        report(record_property, scenario, subscriber.name, figures)

    # Without replay, what is missing is lost at once.
    assert counting.statistics["stream"]["recovered"] == 0
    assert counting.statistics["stream"]["replayRequests"] == 0
    assert missing(counting.sequences()) > 0
    # With replay, everything comes back as long as the publisher still holds it;
    # what its buffer no longer holds is lost, and counted.
    if replayDepth == REPLAY_DEPTH:
        assert missing(replaying.sequences()) == 0
        assert replaying.statistics["stream"]["recovered"] > 0
        assert replay["replayed"] >= replaying.statistics["stream"]["recovered"]
    else:
        assert missing(replaying.sequences()) > 0
