"""
Request/reply envelopes: every codec as a property, and RoutingMemory against a naive model.

The wire is simulated as libzmq shapes it: each ROUTER on the way (every
proxy's frontend, then the replier's own socket) puts the routing id of the
peer it heard from in front of the message, and strips the first frame of
whatever it sends back to pick the peer. A routing id is never empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from txzpub._core._envelope import (
    MAX_HOPS,
    Envelope,
    RoutingMemory,
    replyFrames,
    requestFrames,
    splitReply,
    splitRequest,
    splitRouted,
)

#: What libzmq puts in front at each ROUTER: a non-empty routing id.
routingIds = st.binary(min_size=1, max_size=6)
#: txZMQ's message ids: never empty (they are uuids on the wire).
messageIds = st.binary(min_size=1, max_size=8)
#: Message parts, empty frames included: only the first empty frame delimits.
parts = st.lists(st.binary(max_size=6), max_size=6)
#: The ROUTERs a request passes: the replier's own, behind 0..N proxies.
routes = st.lists(routingIds, min_size=1, max_size=MAX_HOPS - 1)
#: Anything at all a peer might send, to feed the decoders.
anyFrames = st.lists(st.one_of(st.just(b""), st.binary(max_size=4)), max_size=2 * MAX_HOPS + 4)


def throughRouters(frames: list[bytes], route: Sequence[bytes]) -> list[bytes]:
    """
    What the replier's ROUTER reads after *frames* passed the ROUTERs of
    *route*, nearest the requester first: each puts its peer's id in front.
    """
    received = list(frames)
    for hop in route:
        received.insert(0, hop)
    return received


def backThroughRouters(frames: list[bytes], hops: int) -> list[bytes]:
    """What the requester reads: each ROUTER on the way back strips its peer's id."""
    returned = list(frames)
    for _ in range(hops):
        returned.pop(0)
    return returned


# -- requestFrames / splitReply: the REQ connection's two sides -------------------


@given(messageIds, parts)
def test_requestFramesShape(messageId: bytes, body: list[bytes]) -> None:
    assert requestFrames(messageId, body) == [messageId, b"", *body]


@given(st.binary(max_size=8), parts)
def test_splitReplyInvertsRequestFrames(messageId: bytes, body: list[bytes]) -> None:
    """A DEALER reads back what it would send: any id, even an empty one, round-trips."""
    assert splitReply(requestFrames(messageId, body)) == (messageId, body)


@given(anyFrames)
@example([])
@example([b"id"])
@example([b"id", b"not a delimiter"])
@example([b"", b""])
def test_splitReplyIsAPartialInverse(frames: list[bytes]) -> None:
    """Never raises; what it accepts re-encodes to exactly the frames it was given."""
    split = splitReply(frames)
    if len(frames) < 2 or frames[1] != b"":
        assert split is None
    else:
        assert split is not None
        messageId, body = split
        assert requestFrames(messageId, body) == frames


# -- splitRequest / replyFrames: the REP connection's two sides ------------------


@given(routes, messageIds, parts, parts)
def test_txzmqRequestRoundTripsThroughProxies(
    route: list[bytes], messageId: bytes, body: list[bytes], reply: list[bytes]
) -> None:
    """A txZMQ REQ's request, through 0..N proxies; the reply retraces the route."""
    received = throughRouters(requestFrames(messageId, body), route)
    split = splitRequest(received)
    assert split is not None
    envelope, requestParts = split
    assert requestParts == body
    assert envelope.messageId == messageId
    assert envelope.frames == (*reversed(route), messageId)

    returned = backThroughRouters(replyFrames(envelope, reply), len(route))
    assert splitReply(returned) == (messageId, reply)


@given(routes, parts, parts)
def test_standardReqRoundTripsThroughProxies(
    route: list[bytes], body: list[bytes], reply: list[bytes]
) -> None:
    """A standard REQ sends ``[b"", *parts]``: the route alone is the envelope."""
    received = throughRouters([b"", *body], route)
    split = splitRequest(received)
    assert split is not None
    envelope, requestParts = split
    assert requestParts == body
    assert envelope.frames == tuple(reversed(route))
    assert envelope.messageId == route[0]  # the last frame: the requester's own id

    returned = backThroughRouters(replyFrames(envelope, reply), len(route))
    assert returned == [b"", *reply]  # what a standard REQ socket accepts


@given(st.lists(routingIds, min_size=1, max_size=MAX_HOPS), parts)
def test_deepestEnvelopeAccepted(envelopeFrames: list[bytes], body: list[bytes]) -> None:
    """Up to MAX_HOPS frames before the delimiter (route plus message id) are fine."""
    split = splitRequest([*envelopeFrames, b"", *body])
    assert split == (Envelope(tuple(envelopeFrames)), body)


@given(st.lists(routingIds, min_size=MAX_HOPS + 1, max_size=MAX_HOPS + 8), parts)
def test_deeperEnvelopeRefused(envelopeFrames: list[bytes], body: list[bytes]) -> None:
    """A delimiter past MAX_HOPS: refused, however well formed the rest."""
    assert splitRequest([*envelopeFrames, b"", *body]) is None


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param([], id="empty"),
        pytest.param([b"peer"], id="one frame"),
        pytest.param([b""], id="only a delimiter"),
        pytest.param([b"", b"body"], id="no sender"),
        pytest.param([b"peer", b"id", b"body"], id="no delimiter"),
        pytest.param([b"peer"] * (MAX_HOPS + 1) + [b"", b"body"], id="delimiter past MAX_HOPS"),
        pytest.param([b"peer"] * 100_000, id="many frames, no delimiter"),
        pytest.param([b"peer"] * 100_000 + [b""], id="many frames, delimiter at the end"),
    ],
)
def test_malformedRequestsRefused(frames: list[bytes]) -> None:
    assert splitRequest(frames) is None


@given(anyFrames)
@example([])
@example([b""])
@example([b"", b""])
def test_splitRequestIsAPartialInverse(frames: list[bytes]) -> None:
    """
    Never raises; accepts exactly when a delimiter follows the sender within
    MAX_HOPS frames, and what it accepts re-encodes to the frames it was given.
    """
    split = splitRequest(frames)
    if b"" not in frames[1 : MAX_HOPS + 1]:
        assert split is None
        return
    assert split is not None
    envelope, body = split
    assert 1 <= len(envelope.frames) <= MAX_HOPS
    assert b"" not in envelope.frames[1:]  # the first delimiter after the sender
    assert replyFrames(envelope, body) == frames


@given(st.lists(st.binary(max_size=4), max_size=MAX_HOPS), parts)
def test_replyFramesShape(envelopeFrames: list[bytes], body: list[bytes]) -> None:
    assume(envelopeFrames)
    envelope = Envelope(tuple(envelopeFrames))
    assert replyFrames(envelope, body) == [*envelopeFrames, b"", *body]
    assert envelope.messageId == envelopeFrames[-1]


def test_envelopeIsAValue() -> None:
    first, second = Envelope((b"peer", b"id")), Envelope((b"peer", b"id"))
    assert first == second
    assert hash(first) == hash(second)
    with pytest.raises(AttributeError):
        first.frames = ()  # type: ignore[misc]


# -- splitRouted: what a ROUTER socket reads ----------------------------------------


@given(routingIds, st.lists(st.binary(max_size=6), min_size=1, max_size=6))
def test_splitRoutedRoundTrips(senderId: bytes, body: list[bytes]) -> None:
    assert splitRouted([senderId, *body]) == (senderId, body)


@given(anyFrames)
@example([])
@example([b"peer"])
def test_splitRoutedNeedsABody(frames: list[bytes]) -> None:
    split = splitRouted(frames)
    if len(frames) < 2:
        assert split is None
    else:
        assert split is not None
        senderId, body = split
        assert [senderId, *body] == frames


@given(anyFrames)
def test_decodersNeverMutateTheirInput(frames: list[bytes]) -> None:
    before = list(frames)
    splitReply(frames)
    splitRequest(frames)
    splitRouted(frames)
    assert frames == before


# -- RoutingMemory against a naive model ---------------------------------------------

#: Few ids, so repeats are common.
memoryIds = st.sampled_from([b"a", b"b", b"c", b"d", b"e"])

#: ("remember", id) | ("take", id) | ("forget", n-th envelope made so far) | ("clear",)
memorySteps = st.one_of(
    st.tuples(st.just("remember"), memoryIds),
    st.tuples(st.just("take"), memoryIds),
    st.tuples(st.just("forget"), st.integers(min_value=0, max_value=30)),
    st.tuples(st.just("clear")),
)


class NaiveMemory:
    """The oldest first in a list; a repeated id moves to the end; identity decides forget."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept: list[Envelope] = []

    def remember(self, envelope: Envelope) -> Envelope | None:
        self.kept = [each for each in self.kept if each.messageId != envelope.messageId]
        self.kept.append(envelope)
        if len(self.kept) > self.limit:
            return self.kept.pop(0)
        return None

    def take(self, messageId: bytes) -> Envelope | None:
        for each in self.kept:
            if each.messageId == messageId:
                self.kept.remove(each)
                return each
        return None

    def forget(self, envelope: Envelope) -> None:
        self.kept = [each for each in self.kept if each is not envelope]


@given(st.integers(min_value=1, max_value=4), st.lists(memorySteps, max_size=60))
def test_routingMemoryMatchesNaiveModel(limit: int, steps: list[tuple[object, ...]]) -> None:
    memory = RoutingMemory(limit)
    model = NaiveMemory(limit)
    made: list[Envelope] = []
    for serial, step in enumerate(steps):
        match step:
            case ("remember", bytes() as messageId):
                # Equal frames for a repeated id would hide identity bugs: add a serial hop.
                envelope = Envelope((b"peer-%d" % serial, messageId))
                made.append(envelope)
                assert memory.remember(envelope) is model.remember(envelope)
            case ("take", bytes() as messageId):
                assert memory.take(messageId) is model.take(messageId)
            case ("forget", int() as index) if made:
                envelope = made[index % len(made)]
                memory.forget(envelope)
                model.forget(envelope)
            case ("clear",):
                memory.clear()
                model.kept.clear()
            case _:
                continue
        assert len(memory) == len(model.kept) <= limit
        for envelope in model.kept:  # peek without disturbing the order
            assert memory._envelopes[envelope.messageId] is envelope
        assert list(memory._envelopes.values()) == model.kept  # oldest first


def test_routingMemoryEvictsOldestFirst() -> None:
    memory = RoutingMemory(2)
    first, second, third = (Envelope((b"p", bytes([n]))) for n in b"abc")
    assert memory.remember(first) is None
    assert memory.remember(second) is None
    assert memory.remember(third) is first
    assert memory.take(b"a") is None  # forgotten: a late legacy reply finds nothing
    assert memory.take(b"b") is second
    assert memory.take(b"c") is third
    assert len(memory) == 0


def test_routingMemoryRepeatedIdMovesToNewest() -> None:
    """A second request with a remembered id replaces the first, as txZMQ did, as the newest."""
    memory = RoutingMemory(2)
    old = Envelope((b"alice", b"a"))
    other = Envelope((b"carol", b"b"))
    new = Envelope((b"bob", b"a"))
    memory.remember(old)
    memory.remember(other)
    assert memory.remember(new) is None  # replaced, not evicted: still two ids
    assert len(memory) == 2
    assert memory.remember(Envelope((b"dave", b"c"))) is other  # b"a" is newer now
    assert memory.take(b"a") is new


def test_routingMemoryForgetOnlyTheSameEnvelope() -> None:
    """forget() compares identity: an equal envelope that was replaced stays replaced."""
    memory = RoutingMemory(4)
    old = Envelope((b"peer", b"id"))
    new = Envelope((b"peer", b"id"))
    assert old == new
    memory.remember(old)
    memory.remember(new)
    memory.forget(old)
    assert len(memory) == 1
    memory.forget(Envelope((b"peer", b"unknown")))  # never remembered: nothing happens
    memory.forget(new)
    assert len(memory) == 0
    assert memory.take(b"id") is None
