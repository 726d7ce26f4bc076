"""
Hostile input against sequenced streams: forged, malformed and near-valid
(mutated real) replay requests, replay answers and stamps, from raw pyzmq peers.

1. A sequenced publisher's replay socket, its replay buffer full (more
   messages published than ``replayDepth``), and raw DEALERs asking: random
   frames, wrong commands, wrong sizes, other publishers' identities, numbers
   never used, and real requests mutated (a byte flipped, a frame dropped or
   added, a number truncated). Each batch of requests is checked against a
   model: the exact answers, bounded by ``replayDepth``; counts that add up;
   the publisher still publishing and answering afterwards. A peer that
   pipelines requests gets one answer at a time.
2. A subscriber reading a raw XPUB that sends forged and malformed stamps
   (wrong lengths, kinds and versions, sequence 0, heartbeats on data tags and
   data on the heartbeat tag, mutated real stamps, duplicates, huge jumps) and
   unstamped three-frame messages: malformed ones are counted and never
   delivered, nothing is delivered twice, the rest is delivered as a model of
   the stream says.
3. A subscriber whose replay endpoint is a fake server (a raw ROUTER) that
   answers with forged, malformed and mutated replays: they are counted and
   dropped, never delivered; without an end marker the gap is lost after
   ``replayTimeout`` and delivery goes on, in order.

Nothing here sleeps: every wait is on a Deferred under a deadline.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pytest
import pytest_twisted
import zmq
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.logger import LogLevel, formatEvent

from txzpub import Message, StreamStatistics, ZmqFactory, ZmqPubConnection, ZmqSubConnection
from txzpub._core._replayprotocol import (
    MAX_NUMBER,
    LatestReply,
    LatestRequest,
    NotMine,
    ReplayedMessage,
    ReplayEnd,
    ReplayRequest,
    Reply,
    parseReply,
    parseRequest,
)
from txzpub._core._stamp import HEARTBEAT_TAG
from txzpub._reader import SocketReader

from .helpers import bind, bounded, connect, repeatUntil, until
from .hostile_strategies import hostileFrameLists
from .test_hostile import HostilePublisher, LogCapture

#: The replay buffer's depth in these tests, and what is published into it.
DEPTH = 50
TAGS = (b"a", b"b", b"c")
PER_TAG = 40  # 120 messages: the buffer holds the newest 50, the oldest 70 are gone

#: The wire's fixed parts, spelled out here rather than imported, so the tests
#: check the documented format, not the module's own constants.
MAGIC = b"\xa7tz"
DATA = b"\xa7tz1D"
BEAT = b"\xa7tz1H"
COMMANDS = (
    b"\xa7tzR1",  # ReplayRequest
    b"\xa7tzL1",  # LatestRequest
    b"\xa7tzM1",  # ReplayedMessage
    b"\xa7tzE1",  # ReplayEnd
    b"\xa7tzT1",  # LatestReply
    b"\xa7tzN1",  # NotMine
    b"\xa7tzR2",  # a version that does not exist
    b"\xa7tzR",
    b"\xa7tz",
    b"R1",
    b"",
)
REPLAY, LATEST = COMMANDS[0], COMMANDS[1]

_names = itertools.count()
_number = struct.Struct(">Q").pack
_beatTail = struct.Struct(">IQ").pack


def dataStamp(publisher: bytes, sequence: int) -> bytes:
    return DATA + publisher + _number(sequence)


def beatStamp(publisher: bytes, intervalMs: int = 60_000, sentAtUs: int = 0) -> bytes:
    return BEAT + publisher + _beatTail(intervalMs, sentAtUs)


def body(tag: bytes, sequence: int) -> bytes:
    return b"%s-%d" % (tag, sequence)


def delivered(messages: Sequence[Message]) -> list[tuple[bytes, int | None, bytes | None]]:
    """What tests compare of delivered messages: body, number and publisher."""
    return [(m.body, m.sequence, m.publisher) for m in messages]


def inproc(what: str) -> str:
    return f"inproc://sequenced-hostile-{what}-{next(_names)}"


def within(condition: Callable[[], bool], what: str, seconds: float) -> Deferred[None]:
    """until(), with a deadline of its own."""
    arrived: Deferred[None] = Deferred()

    def check() -> None:
        if condition() and not arrived.called:
            arrived.callback(None)

    return repeatUntil(check, arrived, what, seconds)


def checkLog(events: list[dict[str, Any]], *, warnings: bool = False) -> None:
    """Nothing logged a failure or an error; no warning either unless *warnings*."""
    worst = LogLevel.error if warnings else LogLevel.warn
    bad = [
        formatEvent(entry)
        for entry in events
        if "log_failure" in entry
        or (entry.get("log_level") is not None and entry["log_level"] >= worst)
    ]
    assert bad == []


class RawPeer:
    """
    A raw pyzmq socket, read in the reactor by a SocketReader once started:
    what it receives lands in ``received``, and *onMessage* sees each message.
    """

    def __init__(
        self,
        factory: ZmqFactory,
        kind: int,
        *,
        bindTo: str | None = None,
        connectTo: str | None = None,
        rcvhwm: int | None = None,
        start: bool = True,
        onMessage: Callable[[RawPeer, list[bytes]], object] | None = None,
    ) -> None:
        from twisted.internet import reactor

        assert factory.context is not None
        self.socket = factory.context.socket(kind)
        try:
            self.socket.linger = 0
            if rcvhwm is not None:
                self.socket.rcvhwm = rcvhwm
            if bindTo is not None:
                self.socket.bind(bindTo)
            if connectTo is not None:
                self.socket.connect(connectTo)
        except BaseException:
            self.socket.close(linger=0)
            raise
        self.received: list[list[bytes]] = []
        self._onMessage = onMessage
        self._reader = SocketReader(
            self.socket, int(self.socket.get(zmq.FD)), reactor, self._onBatch, prefix="raw peer"
        )
        self.reading = False
        if start:
            self.start()

    def start(self) -> None:
        """Start reading (a peer made with start=False reads nothing: its queue fills)."""
        self.reading = True
        self._reader.start()

    def _onBatch(self, batch: list[list[bytes]]) -> None:
        for frames in batch:
            self.received.append(frames)
            if self._onMessage is not None:
                self._onMessage(self, frames)

    def send(self, frames: Sequence[bytes]) -> None:
        self.socket.send_multipart(list(frames), zmq.NOBLOCK)
        if self.reading:
            self._reader.kick()  # a send can swallow the edge of the descriptor

    def replies(self) -> list[Reply | None]:
        return [parseReply(frames) for frames in self.received]

    def close(self) -> None:
        self._reader.stop()
        self.socket.close(linger=0)


# -- 1. the publisher's replay socket --------------------------------------------------------


@attrs.frozen
class Published:
    """What a test publisher sent, in order, as (tag, sequence)."""

    publisher: ZmqPubConnection
    replayAddress: str
    sent: list[tuple[bytes, int]]

    @property
    def own(self) -> bytes:
        own = self.publisher.publisherId
        assert own is not None
        return own

    def used(self) -> dict[bytes, int]:
        numbers: dict[bytes, int] = {}
        for tag, sequence in self.sent:
            numbers[tag] = sequence
        return numbers

    def publish(self, tag: bytes) -> int:
        sequence = self.used().get(tag, 0) + 1
        self.publisher.publish(body(tag, sequence), tag)
        self.sent.append((tag, sequence))
        return sequence


def fullPublisher(
    factory: ZmqFactory,
    tags: Sequence[bytes] = TAGS,
    perTag: int = PER_TAG,
    replayAddress: str | None = None,
) -> Published:
    """A sequenced publisher with a replay socket, its buffer of DEPTH full."""
    replayAddress = replayAddress or inproc("replay")
    publisher = ZmqPubConnection(
        factory,
        bind(inproc("data")),
        sequenced=True,
        replay=bind(replayAddress),
        replayDepth=DEPTH,
    )
    published = Published(publisher, replayAddress, [])
    for _ in range(perTag):
        for tag in tags:
            published.publish(tag)
    statistics = publisher.replayStatistics()
    assert (statistics.buffered, statistics.replayDepth) == (DEPTH, DEPTH)
    assert len(published.sent) > DEPTH
    return published


def handled(publisher: ZmqPubConnection) -> int:
    """Requests the replay socket has dealt with, one way or another."""
    s = publisher.replayStatistics()
    return s.answered + s.notMine + s.refused + s.busy


def expectedAnswer(frames: list[bytes], published: Published) -> tuple[str, list[Reply]]:
    """
    The model: what the replay socket does with *frames* from a peer that is
    not busy: its verdict (answered, notMine or refused) and its answer.
    """
    request = parseRequest(frames)
    own = published.own
    if request is None:
        return "refused", []
    if request.publisher != own:
        return "notMine", [NotMine(request.requestId, own)]
    used = published.used()
    if isinstance(request, LatestRequest):
        latest = tuple(
            (tag, number)
            for tag, number in used.items()
            if any(tag.startswith(prefix) for prefix in request.prefixes)
        )
        return "answered", [LatestReply(request.requestId, own, latest)]
    if request.last > used.get(request.tag, 0):
        return "refused", []
    held = [
        ReplayedMessage(request.requestId, tag, body(tag, sequence), dataStamp(own, sequence))
        for tag, sequence in published.sent[-DEPTH:]
        if tag == request.tag and request.first <= sequence <= request.last
    ]
    return "answered", [*held, ReplayEnd(request.requestId, len(held))]


def checkBounded(replies: Sequence[Reply | None]) -> None:
    """Never more than DEPTH replayed messages for one request, and each answer ends."""
    run = 0
    for reply in replies:
        assert reply is not None, "the replay socket sent something malformed"
        if isinstance(reply, ReplayedMessage):
            run += 1
            assert run <= DEPTH
        else:
            if isinstance(reply, ReplayEnd):
                assert reply.sent == run
            else:
                assert run == 0
            run = 0
    assert run == 0, "an answer without its end marker"


@attrs.frozen
class RequestPlan:
    """One request a hostile peer sends: a real one (maybe forged), or raw frames, maybe mutated."""

    kind: str  # "replay", "latest" or "raw"
    requestId: int = 0
    #: The identity asked for: None for the publisher's own, else these bytes.
    who: bytes | None = None
    tag: bytes = b""
    first: int = 0
    last: int = 0
    prefixes: tuple[bytes, ...] = ()
    raw: tuple[bytes, ...] = ()
    mutation: tuple[Any, ...] | None = None

    def frames(self, own: bytes) -> list[bytes]:
        who = own if self.who is None else self.who
        frames: list[bytes]
        if self.kind == "replay":
            try:
                frames = ReplayRequest(
                    self.requestId, who, self.tag, self.first, self.last
                ).frames()
            except (TypeError, ValueError):  # numbers no real request carries: made by hand
                frames = [
                    REPLAY,
                    _number(self.requestId),
                    who,
                    self.tag,
                    _number(self.first),
                    _number(self.last),
                ]
        elif self.kind == "latest":
            try:
                frames = LatestRequest(self.requestId, who, self.prefixes).frames()
            except (TypeError, ValueError):
                frames = [LATEST, _number(self.requestId), who, *self.prefixes]
        else:
            frames = list(self.raw)
        return frames if self.mutation is None else mutate(frames, self.mutation)

    def verdict(self, own: bytes, used: dict[bytes, int]) -> str | None:
        """
        The verdict on an unmutated request, worked out without the parser
        (None for raw frames and mutations, which only the parser judges).
        """
        if self.kind == "raw" or self.mutation is not None:
            return None
        who = own if self.who is None else self.who
        if len(who) != 16:
            return "refused"
        if self.kind == "latest":
            return "answered" if who == own else "notMine"
        if not 1 <= self.first <= self.last:
            return "refused"
        if who != own:
            return "notMine"
        return "answered" if self.last <= used.get(self.tag, 0) else "refused"


def mutate(frames: list[bytes], mutation: tuple[Any, ...]) -> list[bytes]:
    """A near-valid message: *frames* with one change (a DEALER cannot send zero frames)."""
    frames = list(frames)
    kind, where = mutation[0], mutation[1]
    index = where % len(frames)
    if kind == "flip":
        _, _, at, mask = mutation
        frame = frames[index]
        if frame:
            at %= len(frame)
            frames[index] = frame[:at] + bytes([frame[at] ^ mask]) + frame[at + 1 :]
        else:
            frames[index] = bytes([mask])
    elif kind == "drop" and len(frames) > 1:
        del frames[index]
    elif kind == "add":
        frames.insert(where % (len(frames) + 1), mutation[2])
    elif kind == "truncateNumber":
        numbers = [i for i, frame in enumerate(frames) if i and len(frame) == 8] or [index]
        chosen = numbers[where % len(numbers)]
        frames[chosen] = frames[chosen][: mutation[2] % max(1, len(frames[chosen]))]
    elif kind == "extend":
        frames[index] += mutation[2]
    elif kind == "command":
        frames[0] = mutation[2]
    elif kind == "swap":
        other = mutation[2] % len(frames)
        frames[index], frames[other] = frames[other], frames[index]
    return frames


def mutations(maxAdded: int = 9) -> st.SearchStrategy[tuple[Any, ...]]:
    where = st.integers(0, 7)
    return st.one_of(
        st.tuples(st.just("flip"), where, st.integers(0, 40), st.integers(1, 255)),
        st.tuples(st.just("drop"), where),
        st.tuples(st.just("add"), where, st.binary(max_size=maxAdded)),
        st.tuples(st.just("truncateNumber"), where, st.integers(0, 7)),
        st.tuples(st.just("extend"), where, st.binary(min_size=1, max_size=3)),
        st.tuples(st.just("command"), where, st.sampled_from(COMMANDS)),
        st.tuples(st.just("swap"), where, st.integers(0, 7)),
    )


NUMBERS = st.one_of(
    st.integers(1, PER_TAG + 2),  # around what was used, held or evicted
    st.integers(PER_TAG // 2, PER_TAG),
    st.sampled_from([0, 1, PER_TAG, PER_TAG + 1, 2**32, 2**63, MAX_NUMBER]),
    st.integers(0, MAX_NUMBER),
)
REQUEST_TAGS = st.sampled_from([*TAGS, b"", b"a\0", b"zz", HEARTBEAT_TAG, b"a" * 300])
#: None: the publisher's own identity; 16 other bytes: forged; other sizes: malformed.
WHO = st.one_of(
    st.none(),
    st.none(),
    st.binary(min_size=16, max_size=16),
    st.binary(max_size=20),
)
PREFIXES = st.lists(
    st.one_of(st.sampled_from([b"", *TAGS, b"zz", b"\xa7", HEARTBEAT_TAG]), st.binary(max_size=4)),
    max_size=5,
).map(tuple)


def commandLed() -> st.SearchStrategy[tuple[bytes, ...]]:
    """Frames that start like a request and go wrong anywhere after."""
    return st.tuples(
        st.sampled_from(COMMANDS),
        st.lists(
            st.one_of(st.binary(max_size=20), st.integers(0, MAX_NUMBER).map(_number)),
            max_size=8,
        ),
    ).map(lambda parts: (parts[0], *parts[1]))


@st.composite
def requestPlans(draw: st.DrawFn) -> RequestPlan:
    kind = draw(st.sampled_from(["held", "held", "replay", "replay", "latest", "raw"]))
    mutation = draw(mutations()) if draw(st.booleans()) else None
    requestId = draw(st.one_of(st.integers(0, 20), st.integers(0, MAX_NUMBER)))
    if kind == "held":  # what a real subscriber asks: numbers used, some still held
        first = draw(st.integers(1, PER_TAG))
        last = draw(st.integers(first, PER_TAG))
        tag = draw(st.sampled_from(TAGS))
        return RequestPlan("replay", requestId, None, tag, first, last, mutation=mutation)
    if kind == "raw":
        raw = draw(st.one_of(hostileFrameLists(1, 8, maxHuge=64 * 1024), commandLed()))
        return RequestPlan("raw", raw=tuple(raw), mutation=mutation)
    if kind == "latest":
        return RequestPlan(
            "latest", requestId, draw(WHO), prefixes=draw(PREFIXES), mutation=mutation
        )
    first, last = draw(NUMBERS), draw(NUMBERS)
    if draw(st.booleans()):  # mostly well-ordered ranges, as a real subscriber asks
        first, last = min(first, last), max(first, last)
    return RequestPlan(
        "replay", requestId, draw(WHO), draw(REQUEST_TAGS), first, last, mutation=mutation
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(requestPlans(), min_size=1, max_size=12))
@pytest_twisted.ensureDeferred
async def test_hostileRequestsAgainstAFullReplayBuffer(plans: list[RequestPlan]) -> None:
    """
    A batch of malformed, forged, out-of-range and mutated requests from one
    raw DEALER, against a full replay buffer: the answers are exactly the
    model's (so never more than replayDepth messages each), the counts add up,
    and the publisher then publishes and answers a valid request.
    """
    from twisted.internet import reactor

    factory = ZmqFactory(reactor)
    factory.lingerPeriod = 0
    peer: RawPeer | None = None
    with LogCapture() as events:
        try:
            published = fullPublisher(factory)
            publisher, own = published.publisher, published.own
            peer = RawPeer(factory, zmq.DEALER, connectTo=published.replayAddress)
            used = published.used()
            expected: list[Reply] = []
            verdicts = {"answered": 0, "notMine": 0, "refused": 0}
            for plan in plans:
                frames = plan.frames(own)
                verdict, answer = expectedAnswer(frames, published)
                assert plan.verdict(own, used) in (None, verdict), plan
                verdicts[verdict] += 1
                expected += answer
                event(f"verdict: {verdict}")
                if any(isinstance(reply, ReplayedMessage) for reply in answer):
                    event("messages replayed")
                if plan.mutation is not None and verdict != "refused":
                    event(f"a mutated request, {verdict}")
                peer.send(frames)
            await until(lambda: handled(publisher) == len(plans), "every hostile request handled")

            # Still publishing, and still answering: the message just published, asked for.
            sequence = published.publish(b"a")
            last = ReplayRequest(7, own, b"a", sequence, sequence)
            expected += expectedAnswer(last.frames(), published)[1]
            peer.send(last.frames())
            await until(lambda: len(peer.received) >= len(expected), "every answer")

            replies = peer.replies()
            checkBounded(replies)
            assert replies == expected
            assert replies[-2:] == [
                ReplayedMessage(7, b"a", body(b"a", sequence), dataStamp(own, sequence)),
                ReplayEnd(7, 1),
            ]
            statistics = publisher.replayStatistics()
            assert statistics.answered == verdicts["answered"] + 1
            assert statistics.notMine == verdicts["notMine"]
            assert statistics.refused == verdicts["refused"]
            assert statistics.busy == 0
            assert statistics.replayed == sum(isinstance(r, ReplayedMessage) for r in replies)
            assert statistics.buffered == DEPTH
        finally:
            if peer is not None:
                peer.close()
            factory.shutdown()
    checkLog(events)


@pytest.mark.parametrize("transport", ["inproc", "ipc"])
@pytest_twisted.ensureDeferred
async def test_fixedHostileRequests(
    factory: ZmqFactory,
    logged: list[dict[str, Any]],
    request: pytest.FixtureRequest,
    transport: str,
) -> None:
    """
    The kinds of the property above, one each, with their verdicts spelled
    out: only the publisher's own, well-formed, used numbers are answered.
    """
    published = fullPublisher(
        factory, replayAddress=request.getfixturevalue(f"{transport}Address")
    )
    publisher, own = published.publisher, published.own
    other = bytes(range(16))
    good = ReplayRequest(1, own, b"a", 1, PER_TAG)
    cases: list[tuple[str, list[bytes]]] = [
        ("answered", good.frames()),  # asks for 40, the buffer holds fewer: bounded
        ("answered", ReplayRequest(2, own, b"a", 1, 5).frames()),  # evicted: an empty answer
        ("answered", LatestRequest(3, own, (b"",)).frames()),
        ("answered", LatestRequest(4, own, ()).frames()),
        ("notMine", ReplayRequest(5, other, b"a", 1, 2).frames()),
        ("notMine", LatestRequest(6, other, (b"a",)).frames()),
        ("refused", ReplayRequest(7, own, b"a", 1, PER_TAG + 1).frames()),  # never used
        ("refused", ReplayRequest(8, own, b"never", 1, 1).frames()),
        ("refused", ReplayRequest(9, own, b"a", MAX_NUMBER, MAX_NUMBER).frames()),
        ("refused", [REPLAY, _number(10), own, b"a", _number(0), _number(3)]),  # sequence 0
        ("refused", [REPLAY, _number(11), own, b"a", _number(3), _number(2)]),  # first > last
        ("refused", good.frames()[:-1]),  # a frame dropped
        ("refused", [*good.frames(), b""]),  # a frame added
        ("refused", [*good.frames()[:-1], good.frames()[-1][:7]]),  # a number truncated
        ("refused", [good.frames()[0], b"\0" * 7, *good.frames()[2:]]),  # a short request id
        ("refused", [good.frames()[0], good.frames()[1], own[:15], *good.frames()[3:]]),
        ("refused", [b"\xa7tzM1", *good.frames()[1:]]),  # a reply's command
        ("refused", [b"\xa7tzR2", *good.frames()[1:]]),  # an unknown version
        ("refused", [b"GET / HTTP/1.0\r\n\r\n"]),
        ("refused", [b""]),
        ("refused", [LATEST, _number(12), own, *([b"x"] * 1001)]),  # too many prefixes
    ]
    peer = RawPeer(factory, zmq.DEALER, connectTo=published.replayAddress)
    try:
        expected: list[Reply] = []
        for verdict, frames in cases:
            modelled, answer = expectedAnswer(frames, published)
            assert modelled == verdict, frames
            expected += answer
            peer.send(frames)
        await until(lambda: handled(publisher) == len(cases), "every request handled")
        await until(lambda: len(peer.received) >= len(expected), "every answer")
        replies = peer.replies()
        checkBounded(replies)
        assert replies == expected
        first = [r for r in replies if isinstance(r, ReplayedMessage) and r.requestId == 1]
        assert 0 < len(first) < PER_TAG  # what the buffer still holds of tag a
        assert ReplayEnd(2, 0) in replies
        statistics = publisher.replayStatistics()
        counted = [statistics.answered, statistics.notMine, statistics.refused, statistics.busy]
        assert counted == [4, 2, 15, 0]
    finally:
        peer.close()
    checkLog(logged)


def greedyPeer(factory: ZmqFactory, published: Published, requests: int) -> RawPeer:
    """
    A DEALER that asks for all of tag a *requests* times over, without reading
    yet: its queue (a high-water mark of 1) fills after some twenty answers.
    """
    greedy = RawPeer(factory, zmq.DEALER, connectTo=published.replayAddress, rcvhwm=1, start=False)
    for requestId in range(1, requests + 1):
        greedy.send(ReplayRequest(requestId, published.own, b"a", 1, 200).frames())
    return greedy


def wholeAnswers(own: bytes, requestIds: Sequence[int]) -> list[Reply]:
    """The answers to greedyPeer()'s requests: the 50 held messages of tag a, then the end."""
    answers: list[Reply] = []
    for requestId in requestIds:
        answers += [
            ReplayedMessage(requestId, b"a", body(b"a", n), dataStamp(own, n))
            for n in range(151, 201)
        ]
        answers.append(ReplayEnd(requestId, DEPTH))
    return answers


@pytest_twisted.ensureDeferred
async def test_pipelinedRequestsGetOneAnswerAtATime(
    factory: ZmqFactory, logged: list[dict[str, Any]]
) -> None:
    """
    A peer that sends 30 requests without reading: while an answer to it is
    still leaving, its further requests are dropped and counted busy, not
    queued. Once it reads, it gets the answered ones whole, in order, then
    nothing else; it is answered again when it asks again.
    """
    published = fullPublisher(factory, tags=(b"a",), perTag=200)
    publisher, own = published.publisher, published.own
    greedy = greedyPeer(factory, published, 30)
    try:
        await until(lambda: handled(publisher) == 30, "30 pipelined requests handled")
        statistics = publisher.replayStatistics()
        answered = statistics.answered
        assert statistics.busy >= 1, "the answers never backed up: the test proves nothing"
        assert answered + statistics.busy == 30
        assert (statistics.notMine, statistics.refused) == (0, 0)
        assert statistics.replayed == answered * DEPTH  # each asked for 200: 50 held

        greedy.start()
        expected = wholeAnswers(own, range(1, answered + 1))
        await until(lambda: len(greedy.received) >= len(expected), "the answered requests")
        greedy.send(ReplayRequest(99, own, b"a", 200, 200).frames())
        expected += [
            ReplayedMessage(99, b"a", body(b"a", 200), dataStamp(own, 200)),
            ReplayEnd(99, 1),
        ]
        await until(lambda: len(greedy.received) >= len(expected), "the answer to a new request")
        replies = greedy.replies()
        checkBounded(replies)
        assert replies == expected  # nothing of the busy requests came later
        after = publisher.replayStatistics()
        assert (after.answered, after.busy) == (answered + 1, statistics.busy)
    finally:
        greedy.close()
    checkLog(logged)


@pytest_twisted.ensureDeferred
async def test_aPeerThatDoesNotReadHoldsBackNoOtherPeer(factory: ZmqFactory) -> None:
    """
    One request at a time per peer is meant to stop one peer from taking the
    replay socket: a peer that asks and never reads must not delay the answer
    to another.
    """
    published = fullPublisher(factory, tags=(b"a",), perTag=200)
    publisher, own = published.publisher, published.own
    greedy = greedyPeer(factory, published, 30)
    polite = RawPeer(factory, zmq.DEALER, connectTo=published.replayAddress)
    try:
        await until(lambda: handled(publisher) == 30, "30 pipelined requests handled")
        assert publisher.replayStatistics().busy >= 1
        polite.send(ReplayRequest(1, own, b"a", 200, 200).frames())
        await within(lambda: len(polite.received) >= 2, "the polite peer's answer", 1.0)
        assert polite.replies() == [
            ReplayedMessage(1, b"a", body(b"a", 200), dataStamp(own, 200)),
            ReplayEnd(1, 1),
        ]
    finally:
        greedy.close()
        polite.close()


@pytest_twisted.ensureDeferred
async def test_aPeerThatLeavesMidAnswer(factory: ZmqFactory, logged: list[dict[str, Any]]) -> None:
    """
    A peer that asks for a lot and goes away before reading: what was still
    queued for it is abandoned (counted and logged), and the replay socket
    answers the next peer.
    """
    published = fullPublisher(factory, tags=(b"a",), perTag=200)
    publisher, own = published.publisher, published.own
    greedy = greedyPeer(factory, published, 30)
    polite: RawPeer | None = None
    try:
        await until(lambda: handled(publisher) == 30, "30 pipelined requests handled")
        assert publisher.replayStatistics().busy >= 1
        greedy.close()
        await until(lambda: publisher.replayStatistics().abandoned == 1, "the answer abandoned")
        polite = RawPeer(factory, zmq.DEALER, connectTo=published.replayAddress)
        polite.send(ReplayRequest(1, own, b"a", 199, 200).frames())
        await until(lambda: len(polite.received) >= 3, "the next peer's answer")
        assert polite.replies() == [
            ReplayedMessage(1, b"a", body(b"a", n), dataStamp(own, n)) for n in (199, 200)
        ] + [ReplayEnd(1, 2)]
        # It still publishes, and what it publishes is kept for replay.
        sequence = published.publish(b"a")
        assert sequence == 201
        polite.send(ReplayRequest(2, own, b"a", 201, 201).frames())
        await until(lambda: len(polite.received) >= 5, "an answer for a new message")
        assert polite.replies()[-1] == ReplayEnd(2, 1)
    finally:
        greedy.close()
        if polite is not None:
            polite.close()
    checkLog(logged)
    assert any("was abandoned: it left" in formatEvent(e) for e in logged)


# -- 2. stamps from a raw publisher ----------------------------------------------------------

PUBLISHERS = (b"\x11" * 16, b"\x22" * 16, bytes(range(16)))
DATA_TAGS = (b"t.a", b"t.b", b"")
SENTINEL = [b"zz.sentinel", b"end"]
#: A well-formed message of a stream nothing else touches: still delivered after the rest.
FINAL_PUBLISHER = b"\x77" * 16
FINAL = [b"t.final", b"good", DATA + FINAL_PUBLISHER + (1).to_bytes(8, "big")]


def wellFormedData(stamp: bytes) -> bool:
    return len(stamp) == 29 and stamp[:5] == DATA and stamp[21:] != bytes(8)


def wellFormedBeat(stamp: bytes) -> bool:
    return len(stamp) == 33 and stamp[:5] == BEAT and stamp[21:25] != bytes(4)


@attrs.define
class StreamModel:
    """
    What a subscriber without replay makes of what it is sent: it delivers
    each stream's numbers in order, drops lower ones as duplicates, counts a
    jump's skipped numbers as lost, and counts malformed stamps.
    """

    delivered: list[tuple[Message, int | None, bytes | None]] = attrs.Factory(list)
    expected: dict[tuple[bytes, bytes], int] = attrs.Factory(dict)
    lost: int = 0
    duplicates: int = 0
    malformed: int = 0
    beats: int = 0

    def receive(self, frames: Sequence[bytes]) -> str:
        if len(frames) != 3 or frames[2][:3] != MAGIC:  # not stamped: an ordinary message
            self.delivered.append((Message(frames[0], frames[1], tuple(frames[2:])), None, None))
            return "plain"
        tag, content, stamp = frames
        if tag == HEARTBEAT_TAG:
            if wellFormedBeat(stamp):
                self.beats += 1
                return "heartbeat"
            self.malformed += 1
            return "malformed"
        if not wellFormedData(stamp):
            self.malformed += 1
            return "malformed"
        publisher, sequence = stamp[5:21], int.from_bytes(stamp[21:], "big")
        expected = self.expected.get((publisher, tag))
        if expected is not None and sequence < expected:
            self.duplicates += 1
            return "duplicate"
        if expected is not None and sequence > expected:
            self.lost += sequence - expected
        self.expected[publisher, tag] = sequence + 1
        self.delivered.append((Message(tag, content), sequence, publisher))
        return "delivered" if expected in (None, sequence) else "after a gap"


MALFORMED_STAMPS: dict[str, Callable[[bytes, int], bytes]] = {
    "short": lambda p, n: dataStamp(p, n)[:-1],
    "long": lambda p, n: dataStamp(p, n) + b"\0",
    "sequence 0": lambda p, n: dataStamp(p, 0),
    "unknown kind": lambda p, n: MAGIC + b"1X" + p + _number(n),
    "unknown version": lambda p, n: MAGIC + b"2D" + p + _number(n),
    "a command's kind": lambda p, n: REPLAY + p + _number(n),
    "magic only": lambda p, n: MAGIC,
    "a heartbeat's": lambda p, n: beatStamp(p),
    "empty after the kind": lambda p, n: DATA,
}


def stampSends() -> st.SearchStrategy[list[tuple[Any, ...]]]:
    """What a hostile sequenced publisher does, step by step."""
    # Mostly one stream, so its numbers go on long enough to jump and come back.
    who = st.sampled_from([0, 0, 0, 1, 2])
    tag = st.sampled_from([0, 0, 0, 1, 2])
    earlier = st.integers(0, 200)
    step = st.one_of(
        st.tuples(st.just("next"), who, tag),
        st.tuples(st.just("next"), who, tag),
        st.tuples(st.just("jump"), who, tag, st.one_of(st.integers(2, 4), st.just(MAX_NUMBER))),
        st.tuples(st.just("again"), earlier),
        st.tuples(st.just("back"), who, tag, st.integers(1, 3)),
        st.tuples(st.just("malformed"), who, tag, st.sampled_from(sorted(MALFORMED_STAMPS))),
        st.tuples(st.just("mutate"), earlier, st.integers(0, 30), st.integers(1, 255)),
        st.tuples(st.just("magicAndBytes"), tag, st.binary(max_size=40)),
        st.tuples(
            st.just("beat"),
            who,
            st.sampled_from(["good", "interval 0", "short", "a data stamp", "a command"]),
        ),
        st.tuples(
            st.just("plain"),
            tag,
            st.sampled_from(["two", "magic's start", "other third", "empty third", "four"]),
        ),
    )
    return st.lists(step, min_size=1, max_size=40)


class StampScript:
    """Turns stampSends() steps into frames, numbering each stream as it goes."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[int, int], int] = {}
        self.stamped: list[list[bytes]] = []
        self.count = 0

    def frames(self, step: tuple[Any, ...]) -> list[bytes]:
        self.count += 1
        kind = step[0]
        if kind in ("next", "jump", "back", "malformed"):
            return self._numbered(step)
        make = {
            "again": self._again,
            "mutate": self._mutate,
            "magicAndBytes": self._magicAndBytes,
            "beat": self._beat,
            "plain": self._plain,
        }[kind]
        return make(step)

    def _numbered(self, step: tuple[Any, ...]) -> list[bytes]:
        kind, who, tag = step[:3]
        last = self.numbers.get((who, tag), 0)
        if kind == "jump":
            number = min(last + step[3], MAX_NUMBER)
        elif kind == "back":
            number = max(1, last - step[3])
        else:
            number = min(last + 1, MAX_NUMBER)
        if kind in ("next", "jump"):
            self.numbers[who, tag] = number
        if kind == "malformed":
            stamp = MALFORMED_STAMPS[step[3]](PUBLISHERS[who], number)
        else:
            stamp = dataStamp(PUBLISHERS[who], number)
        frames = [DATA_TAGS[tag], b"m%d" % self.count, stamp]
        self.stamped.append(frames)
        return frames

    def _again(self, step: tuple[Any, ...]) -> list[bytes]:
        return list(self.stamped[step[1] % len(self.stamped)]) if self.stamped else SENTINEL

    def _mutate(self, step: tuple[Any, ...]) -> list[bytes]:
        if not self.stamped:
            return SENTINEL
        tag, original, stamp = self.stamped[step[1] % len(self.stamped)]
        at = step[2] % len(stamp)
        frames = [tag, original, stamp[:at] + bytes([stamp[at] ^ step[3]]) + stamp[at + 1 :]]
        self.stamped.append(frames)
        return frames

    def _magicAndBytes(self, step: tuple[Any, ...]) -> list[bytes]:
        return [DATA_TAGS[step[1]], b"m%d" % self.count, MAGIC + step[2]]

    def _beat(self, step: tuple[Any, ...]) -> list[bytes]:
        publisher = PUBLISHERS[step[1]]
        stamp = {
            "good": beatStamp(publisher),
            "interval 0": beatStamp(publisher, 0),
            "short": beatStamp(publisher)[:-1],
            "a data stamp": dataStamp(publisher, 1),
            "a command": COMMANDS[5] + publisher + bytes(12),
        }[step[2]]
        return [HEARTBEAT_TAG, b"", stamp]

    def _plain(self, step: tuple[Any, ...]) -> list[bytes]:
        tag, content = DATA_TAGS[step[1]], b"m%d" % self.count
        valid = dataStamp(PUBLISHERS[0], 1)
        return {
            "two": [tag, content],
            "magic's start": [tag, content, MAGIC[:2]],
            "other third": [tag, content, b"tz\xa7" + valid],
            "empty third": [tag, content, b""],
            "four": [tag, content, valid, b"x"],
        }[step[2]]


async def runStamps(
    factory: ZmqFactory, sends: Sequence[Sequence[bytes]], address: str | None = None
) -> tuple[StreamModel, StreamStatistics]:
    """
    Send *sends*, then a good message and a sentinel, from a raw XPUB to a
    subscriber of b"" without replay; check what it delivered and counted
    against the model.
    """
    from twisted.internet import reactor

    assert factory.context is not None
    sends = [*sends, FINAL, SENTINEL]
    model = StreamModel()
    for frames in sends:
        model.receive(frames)
    hostile = HostilePublisher(factory.context, address or inproc("xpub"), reactor)
    try:
        subscriber = ZmqSubConnection(factory, connect(hostile.address))
        everything = subscriber.subscribe(b"")
        await hostile.whenSubscribed({b""})
        for frames in sends:
            hostile.send(frames)
        await until(lambda: everything.statistics().queued >= len(model.delivered), "the sentinel")
        got = await bounded(everything.nextBatch(10**6), "what was delivered")
        assert delivered(got[-2:]) == [(b"good", 1, FINAL_PUBLISHER), (b"end", None, None)]
        assert [(m, m.sequence, m.publisher) for m in got] == model.delivered
        stamped = [(m.publisher, m.tag, m.sequence) for m in got if m.sequence is not None]
        assert len(stamped) == len(set(stamped)), "a message delivered twice"
        streams = subscriber.streamStatistics()
        assert (streams.malformed, streams.duplicates, streams.lost) == (
            model.malformed,
            model.duplicates,
            model.lost,
        )
        assert (streams.recovered, streams.held, streams.replayRequests) == (0, 0, 0)
        statistics = everything.statistics()
        assert (statistics.lost, statistics.recovered, statistics.dropped) == (model.lost, 0, 0)
        return model, streams
    finally:
        hostile.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=stampSends())
@pytest_twisted.ensureDeferred
async def test_forgedAndMalformedStamps(steps: list[tuple[Any, ...]]) -> None:
    """
    A raw XPUB sends stamps of several publishers and tags: in order, with
    jumps (to 2**64 - 1 too), again, backwards, malformed, mutated, as
    heartbeats (good and bad), and unstamped three- and four-frame messages:
    the subscriber delivers, drops and counts exactly as the model says.
    """
    from twisted.internet import reactor

    factory = ZmqFactory(reactor)
    factory.lingerPeriod = 0
    script = StampScript()
    sends = [script.frames(step) for step in steps]
    with LogCapture() as events:
        try:
            model, _ = await runStamps(factory, sends)
        finally:
            factory.shutdown()
    for name, present in {
        "malformed": model.malformed,
        "duplicates": model.duplicates,
        "lost": model.lost,
        "heartbeats": model.beats,
        "plain": any(sequence is None for _, sequence, _ in model.delivered[:-2]),
    }.items():
        if present:
            event(name)
    failures = [formatEvent(e) for e in events if "log_failure" in e]
    assert failures == []
    assert not any(e.get("log_level") in (LogLevel.error, LogLevel.critical) for e in events)


@pytest.mark.parametrize("transport", ["inproc", "tcp"])
@pytest_twisted.ensureDeferred
async def test_eachKindOfForgedStamp(
    factory: ZmqFactory, logged: list[dict[str, Any]], transport: str
) -> None:
    """The property above, one of each kind, with the outcome spelled out."""
    p, q = PUBLISHERS[0], PUBLISHERS[1]
    plain = Message(b"t", b"plain", (b"\xa7t",))  # the magic's first two bytes: no stamp
    sends: list[tuple[list[bytes], str]] = [
        ([b"t", b"1", dataStamp(p, 1)], "delivered"),
        *(([b"t", b"bad", make(p, 2)], "malformed") for make in MALFORMED_STAMPS.values()),
        ([HEARTBEAT_TAG, b"", dataStamp(p, 2)], "malformed"),  # data on the heartbeat tag
        ([HEARTBEAT_TAG, b"", beatStamp(p, 0)], "malformed"),  # a heartbeat every 0 ms
        ([HEARTBEAT_TAG, b"", beatStamp(p)[:-1]], "malformed"),
        ([HEARTBEAT_TAG, b"", beatStamp(p)], "heartbeat"),
        ([b"t", b"1 again", dataStamp(p, 1)], "duplicate"),
        ([b"t", b"2", dataStamp(p, 2)], "delivered"),
        ([b"t", b"2 again", dataStamp(p, 2)], "duplicate"),
        ([b"t", b"flipped", dataStamp(p, 2)[:-1] + b"\x03"], "delivered"),  # 3, mutated
        ([b"t", b"flipped", dataStamp(p, 3)[:7] + b"\x00" + dataStamp(p, 3)[8:]], "delivered"),
        ([b"t", b"q1", dataStamp(q, 1)], "delivered"),  # another publisher: its own stream
        ([b"t", b"jump", dataStamp(q, MAX_NUMBER)], "after a gap"),
        ([b"t", b"q2", dataStamp(q, 2)], "duplicate"),  # below what the jump reached
        ([b"t", b"plain", b"\xa7t"], "plain"),
        ([b"t", b"four", dataStamp(p, 4), b""], "plain"),
        ([b"t", b"4", dataStamp(p, 4)], "delivered"),
    ]
    model = StreamModel()
    assert [model.receive(frames) for frames, _ in sends] == [kind for _, kind in sends]
    assert model.lost == MAX_NUMBER - 2
    address = "tcp://127.0.0.1:0" if transport == "tcp" else None
    await runStamps(factory, [frames for frames, _ in sends], address)
    outcome = [(message, sequence) for message, sequence, _ in model.delivered]
    assert outcome[:3] == [
        (Message(b"t", b"1"), 1),
        (Message(b"t", b"2"), 2),
        (Message(b"t", b"flipped"), 3),
    ]
    assert (plain, None) in outcome
    assert (Message(b"t", b"four", (dataStamp(p, 4), b"")), None) in outcome
    assert outcome[-1] == (Message(b"t", b"4"), 4)
    warned = [formatEvent(e) for e in logged if e.get("log_level") == LogLevel.warn]
    assert any("malformed stamp" in text for text in warned)
    checkLog(logged, warnings=True)


@pytest_twisted.ensureDeferred
async def test_manyForgedPublishersStayBounded(factory: ZmqFactory) -> None:
    """2,000 made-up publisher identities: each delivered once, at most 1,000 remembered."""
    sends = [[b"t", b"%d" % n, dataStamp(n.to_bytes(16, "big"), 1)] for n in range(2000)]
    _, streams = await runStamps(factory, sends)
    assert (streams.publishers, streams.streams) == (1000, 1000)


@pytest_twisted.ensureDeferred
async def test_forgedPublishersDoNotEvictAnActiveOne(factory: ZmqFactory) -> None:
    """
    A flood of made-up identities must not make a publisher heard just now
    be forgotten: the bound forgets publishers not heard from for a while, and
    a repeated stamp of the live one stays a duplicate, never delivered twice.
    """
    live = PUBLISHERS[0]
    forged = [[b"t", b"f%d" % n, dataStamp(n.to_bytes(16, "big"), 1)] for n in range(1, 1001)]
    sends = [
        [b"t", b"1", dataStamp(live, 1)],
        *forged[:999],  # 1,000 publishers tracked: the live one first
        [b"t", b"2", dataStamp(live, 2)],  # the live one is heard again
        forged[999],  # one more identity: one publisher must be forgotten
        [b"t", b"2 again", dataStamp(live, 2)],  # a duplicate (the network's, or forged)
    ]
    await runStamps(factory, sends)


# -- 3. a fake replay server -----------------------------------------------------------------

LIVE = PUBLISHERS[0]
OTHER = PUBLISHERS[1]
#: The gap every test here opens: 1 arrives, then 6; the subscriber asks for 2 to 5.
GAP = range(2, 6)


class FakeReplayServer:
    """A raw ROUTER standing in for a publisher's replay socket: *answer* says what it sends back."""

    def __init__(
        self, factory: ZmqFactory, answer: Callable[[ReplayRequest | LatestRequest | None], list]
    ) -> None:
        self.address = inproc("fake-replay")
        self.requests: list[ReplayRequest | LatestRequest | None] = []
        self._answer = answer
        self.peer = RawPeer(factory, zmq.ROUTER, bindTo=self.address, onMessage=self._got)

    def _got(self, peer: RawPeer, frames: list[bytes]) -> None:
        request = parseRequest(frames[1:])
        self.requests.append(request)
        for reply in self._answer(request):
            peer.send([frames[0], *reply])

    def close(self) -> None:
        self.peer.close()


async def gapBehindFakeServer(
    factory: ZmqFactory, answer: Callable[[Any], list], replayTimeout: float
) -> tuple[ZmqSubConnection, Any, HostilePublisher, FakeReplayServer]:
    """
    A subscriber of b"t" reading a raw XPUB, with the fake server as its replay
    endpoint; message 1 of LIVE, then 6: it asks the fake server for 2 to 5.
    """
    from twisted.internet import reactor

    assert factory.context is not None
    fake = FakeReplayServer(factory, answer)
    hostile = HostilePublisher(factory.context, inproc("xpub"), reactor)
    subscriber = ZmqSubConnection(
        factory,
        connect(hostile.address),
        replay=connect(fake.address),
        replayTimeout=replayTimeout,
    )
    subscription = subscriber.subscribe(b"t")
    await hostile.whenSubscribed({b"t", HEARTBEAT_TAG})  # replay= asks for heartbeats at once
    hostile.send([b"t", b"1", dataStamp(LIVE, 1)])
    hostile.send([b"t", b"6", dataStamp(LIVE, 6)])
    await until(lambda: len(fake.requests) == 1, "the replay request")
    request = fake.requests[0]
    assert isinstance(request, ReplayRequest)
    assert (request.publisher, request.tag, request.first, request.last) == (LIVE, b"t", 2, 5)
    return subscriber, subscription, hostile, fake


@pytest_twisted.ensureDeferred
async def test_forgedReplaysAreDroppedAndTheGapTimesOut(
    factory: ZmqFactory, logged: list[dict[str, Any]]
) -> None:
    """
    A fake replay server answers with one genuine message, a duplicate of it,
    forged messages (another publisher, another tag, numbers outside the range
    asked, malformed stamps), the wrong kind of answer, malformed frames, and
    answers to other requests; never the end marker. The forged and malformed
    ones are counted and dropped; after replayTimeout the rest of the gap is
    lost and delivery goes on in order.
    """

    def answer(request: Any) -> list[list[bytes]]:
        if not isinstance(request, ReplayRequest):
            return []
        rid = request.requestId

        def replayed(tag: bytes, content: bytes, header: bytes, requestId: int = rid) -> list:
            return ReplayedMessage(requestId, tag, content, header).frames()

        return [
            replayed(b"t", b"3", dataStamp(LIVE, 3)),  # genuine: recovered
            replayed(b"t", b"3 again", dataStamp(LIVE, 3)),  # a duplicate
            # Forged: counted as malformed.
            replayed(b"t", b"forged", dataStamp(OTHER, 2)),
            replayed(b"other", b"forged", dataStamp(LIVE, 2)),
            replayed(b"t", b"forged", dataStamp(LIVE, 1)),
            replayed(b"t", b"forged", dataStamp(LIVE, 6)),
            replayed(b"t", b"forged", dataStamp(LIVE, MAX_NUMBER)),
            replayed(b"t", b"forged", dataStamp(LIVE, 0)),
            replayed(b"t", b"forged", dataStamp(LIVE, 2)[:-1]),
            replayed(b"t", b"forged", beatStamp(LIVE)),
            replayed(b"t", b"forged", b"not a stamp"),
            LatestReply(rid, LIVE, ((b"t", 9),)).frames(),
            # Malformed.
            [COMMANDS[2], _number(rid), b"t", b"forged"],
            [COMMANDS[2], _number(rid)[:4], b"t", b"forged", dataStamp(LIVE, 2)],
            [COMMANDS[3], _number(rid), b"\0"],  # an end marker, malformed: ends nothing
            [REPLAY, *request.frames()[1:]],  # the request itself, sent back
            [b"garbage"],
            # Answers to requests not in flight: dropped, whatever they say.
            replayed(b"t", b"late", dataStamp(LIVE, 4), rid + 1000),
            ReplayEnd(rid + 1000, 3).frames(),
            NotMine(rid + 1, OTHER).frames(),
        ]

    subscriber, subscription, hostile, fake = await gapBehindFakeServer(factory, answer, 0.5)
    try:
        await until(
            lambda: subscriber.streamStatistics().malformed == 15, "the forged answers counted"
        )
        streams = subscriber.streamStatistics()
        assert (streams.recovered, streams.duplicates, streams.held) == (1, 1, 2)
        assert subscription.statistics().queued == 1  # 1; 3 waits for 2, 6 for the rest

        await until(lambda: subscriber.streamStatistics().replayTimeouts == 1, "the timeout")
        hostile.send([b"t", b"7", dataStamp(LIVE, 7)])
        await until(lambda: subscription.statistics().queued >= 4, "message 7")
        got = await bounded(subscription.nextBatch(100), "the messages")
        assert delivered(got) == [
            (b"1", 1, LIVE),
            (b"3", 3, LIVE),
            (b"6", 6, LIVE),
            (b"7", 7, LIVE),
        ]
        streams = subscriber.streamStatistics()
        assert (streams.lost, streams.recovered, streams.duplicates, streams.malformed) == (
            3,
            1,
            1,
            15,
        )
        assert (streams.held, streams.replayRequests, streams.replayTimeouts) == (0, 1, 1)
        statistics = subscription.statistics()
        assert (statistics.lost, statistics.recovered) == (3, 1)
        assert len(fake.requests) == 1
    finally:
        hostile.close()
        fake.close()
    assert not any("log_failure" in e for e in logged)


def replyPlans() -> st.SearchStrategy[tuple[Any, ...]]:
    """What a fake replay server sends back, before it is mutated or not."""
    inGap = st.sampled_from(list(GAP))
    values: dict[str, st.SearchStrategy[Any]] = {
        "genuine": inGap,
        "outside": st.sampled_from([1, 6, 7, MAX_NUMBER]),
        "another publisher": inGap,
        "another tag": inGap,
        "bad stamp": st.sampled_from(sorted(MALFORMED_STAMPS)),
        "latest": inGap,
        "not mine": inGap,
        "end": st.integers(0, 4),
        "another request": inGap,
        "raw": hostileFrameLists(1, 6, maxHuge=1024),
    }
    # Mostly genuine answers (and their duplicates); now and then one that ends the request.
    kinds = ["genuine"] * 8 + sorted(set(values) - {"genuine", "not mine", "end"}) * 2
    kinds += ["not mine", "end"]
    base = st.sampled_from(kinds).flatmap(lambda kind: st.tuples(st.just(kind), values[kind]))
    mutation = st.one_of(st.none(), st.none(), st.none(), mutations())
    return st.tuples(base, mutation)


def replyFrames(plan: tuple[Any, ...], rid: int, index: int) -> list[bytes]:
    (kind, value), mutation = plan
    content = b"%d #%d" % (value if isinstance(value, int) else 0, index)
    frames: list[bytes]
    if kind in ("genuine", "outside"):
        frames = ReplayedMessage(rid, b"t", content, dataStamp(LIVE, value)).frames()
    elif kind == "another publisher":
        frames = ReplayedMessage(rid, b"t", content, dataStamp(OTHER, value)).frames()
    elif kind == "another tag":
        frames = ReplayedMessage(rid, b"t.other", content, dataStamp(LIVE, value)).frames()
    elif kind == "bad stamp":
        frames = ReplayedMessage(rid, b"t", content, MALFORMED_STAMPS[value](LIVE, 3)).frames()
    elif kind == "latest":
        frames = LatestReply(rid, LIVE, ((b"t", value),)).frames()
    elif kind == "not mine":
        frames = NotMine(rid, OTHER).frames()
    elif kind == "end":
        frames = ReplayEnd(rid, value).frames()
    elif kind == "another request":
        frames = ReplayedMessage(rid + 1, b"t", content, dataStamp(LIVE, value)).frames()
    else:
        frames = list(value)
    return frames if mutation is None else mutate(frames, mutation)


@attrs.define
class ReplayModel:
    """What the subscriber makes of the answers to its one request (for 2 to 5 of LIVE's b"t")."""

    rid: int
    inFlight: bool = True
    recovered: dict[int, bytes] = attrs.Factory(dict)
    duplicates: int = 0
    malformed: int = 0

    def answer(self, frames: list[bytes]) -> str:
        reply = parseReply(frames)
        verdict = self._judge(reply)
        if verdict in ("malformed", "forged"):
            self.malformed += 1
        elif verdict == "ended":
            self.inFlight = False
        elif verdict == "duplicate":
            self.duplicates += 1
        elif verdict == "recovered":
            assert isinstance(reply, ReplayedMessage)
            self.recovered[int.from_bytes(reply.header[21:], "big")] = reply.body
        return verdict

    def _judge(self, reply: Reply | None) -> str:
        if reply is None:
            return "malformed"
        if not self.inFlight or reply.requestId != self.rid:
            return "late"
        if isinstance(reply, (NotMine, ReplayEnd)):
            return "ended"
        if not isinstance(reply, ReplayedMessage):
            return "forged"  # a LatestReply, to a replay request
        header = reply.header
        sequence = int.from_bytes(header[21:], "big")
        if (
            not wellFormedData(header)
            or header[5:21] != LIVE
            or reply.tag != b"t"
            or sequence not in GAP
        ):
            return "forged"
        return "duplicate" if sequence in self.recovered else "recovered"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(replyPlans(), max_size=15))
@pytest_twisted.ensureDeferred
async def test_mutatedReplayAnswers(plans: list[tuple[Any, ...]]) -> None:
    """
    A fake replay server sends genuine, forged, malformed and mutated answers
    to a request for 2 to 5, then an end marker: the subscriber delivers each
    genuine one once, in order, counts the rest as the model says, and ends
    the request where the model does (at "not mine" or an end marker).
    """
    from twisted.internet import reactor

    factory = ZmqFactory(reactor)
    factory.lingerPeriod = 0
    sent: list[list[bytes]] = []

    def answer(request: Any) -> list[list[bytes]]:
        if not isinstance(request, ReplayRequest):
            return []
        rid = request.requestId
        sent.extend(replyFrames(plan, rid, index) for index, plan in enumerate(plans))
        sent.append(ReplayEnd(rid, 0).frames())
        return sent

    hostile: HostilePublisher | None = None
    fake: FakeReplayServer | None = None
    with LogCapture() as events:
        try:
            subscriber, subscription, hostile, fake = await gapBehindFakeServer(
                factory, answer, 5.0
            )
            request = fake.requests[0]
            assert request is not None
            model = ReplayModel(request.requestId)
            for frames in sent:
                event(f"answer: {model.answer(frames)}")
            expected = [
                (b"1", 1, LIVE),
                *((content, n, LIVE) for n, content in sorted(model.recovered.items())),
                (b"6", 6, LIVE),
            ]
            await until(lambda: subscription.statistics().queued >= len(expected), "message 6")
            got = await bounded(subscription.nextBatch(100), "the messages")
            assert delivered(got) == expected
            streams = subscriber.streamStatistics()
            assert (streams.recovered, streams.duplicates, streams.malformed) == (
                len(model.recovered),
                model.duplicates,
                model.malformed,
            )
            assert streams.lost == len(GAP) - len(model.recovered)
            assert (streams.held, streams.replayRequests, streams.replayTimeouts) == (0, 1, 0)
            statistics = subscription.statistics()
            assert (statistics.lost, statistics.recovered) == (streams.lost, streams.recovered)
        finally:
            if hostile is not None:
                hostile.close()
            if fake is not None:
                fake.close()
            factory.shutdown()
    assert not any("log_failure" in e for e in events)
    assert not any(e.get("log_level") in (LogLevel.error, LogLevel.critical) for e in events)
