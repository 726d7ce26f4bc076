"""
Faults in request/reply: hostile requests to a REP, hostile replies to a REQ,
and a REP that dies and comes back on the same tcp endpoint.

1. Raw pyzmq DEALER and ROUTER peers send a txzpub REP what no well-behaved
   requester sends (no delimiter, only an id, an envelope deeper than MAX_HOPS,
   1,000 frames, huge frames, and random frame lists from Hypothesis): each is
   logged, rate-limited, and dropped; the REP goes on answering good requests.
2. A raw ROUTER answers a txzpub REQ with garbage, replies for unknown ids and
   a second reply to an answered request: dropped; pending requests unaffected.
3. A REP shut down and restarted on the same port: the request it took with it
   times out, new requests are answered, and nothing stays behind.

Nothing sleeps: every wait is on a Deferred under a deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import pytest_twisted
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.logger import LogLevel, formatEvent

from txzpub import (
    EndpointError,
    ZmqFactory,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRequestTimeoutError,
)
from txzpub._core._envelope import MAX_HOPS

from .helpers import bind, boundAddress, bounded, connect, repeatUntil
from .test_patterns_interop import RawPeer

Events = list[dict[str, object]]
Frames = list[bytes]

MALFORMED_REQUEST = "Dropped a request without a valid envelope"
MALFORMED_REPLY = "Dropped a reply that is not [messageId, b'', *parts]"

#: The well-formed request sent after the garbage, and the reply it must get.
GOOD = [b"good id", b"", b"ping"]
GOOD_REPLY = [b"good id", b"", b"re:ping"]


def echo(*parts: bytes) -> list[bytes]:
    return [b"re:" + part for part in parts] or [b"no parts"]


def warningsAbout(logged: Events, text: str) -> list[str]:
    return [
        formatEvent(event)
        for event in logged
        if event.get("log_level") == LogLevel.warn and text in formatEvent(event)
    ]


def powersOfTwoUpTo(count: int) -> int:
    """How many of 1..count are logged by the 1st, 2nd, 4th, 8th, ... rule."""
    return count.bit_length()


def isValidRequest(frames: Frames) -> bool:
    """The naive model: after the sender's id, an empty frame within MAX_HOPS frames."""
    return b"" in frames[:MAX_HOPS]


@pytest.fixture
def plain(factory: ZmqFactory) -> Iterator[Callable[..., RawPeer]]:
    """Makes RawPeers in *factory*'s context; closes them before the factory goes."""
    made: list[RawPeer] = []

    def make(kind: int, **kwargs: Any) -> RawPeer:
        assert factory.context is not None
        peer = RawPeer(factory.context, kind, **kwargs)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.close()


async def hostilePeer(
    kind: str, rep: ZmqREPConnection, plain: Callable[..., RawPeer]
) -> tuple[RawPeer, Callable[[Frames], None]]:
    """
    A raw DEALER, or a raw ROUTER (addressing the REP by its identity b"rep"),
    connected to *rep*, and its send(frames). The ROUTER is ready once a
    probe request has been answered.
    """
    if kind == "dealer":
        dealer = plain(zmq.DEALER, connectTo=boundAddress(rep))
        return dealer, dealer.send
    router = plain(zmq.ROUTER, connectTo=boundAddress(rep), router_mandatory=1)
    sent = {"probe": False}

    def probe() -> None:
        if sent["probe"]:
            return
        try:
            router.send([b"rep", b"probe", b"", b"hello"])
        except zmq.ZMQError as error:  # EHOSTUNREACH until the handshake is done
            if error.errno != zmq.EHOSTUNREACH:
                raise
        else:
            sent["probe"] = True

    answer = router.next("the probe's reply")
    await repeatUntil(probe, answer, "the raw ROUTER reaching the REP")
    assert answer.result == [b"rep", b"probe", b"", b"re:hello"]
    return router, lambda frames: router.send([b"rep", *frames])


HOSTILE = {
    "no delimiter": ([b"id", b"body"], 20),
    "only an id": ([b"id"], 20),
    "one NUL frame": ([b"\0"], 20),
    "delimiter beyond 32 hops": ([*(b"hop %d" % n for n in range(MAX_HOPS)), b"", b"body"], 20),
    "1,000 frames": ([b"frame"] * 1000, 20),
    "1,000 frames, delimiter last": ([b"f"] * 999 + [b""], 10),
    "1,000 empty frames after 40 hops": ([b"h"] * 40 + [b""] * 1000, 10),
    "huge frames": ([b"x" * (4 << 20), b"y" * (4 << 20)], 3),
}


@pytest.mark.parametrize("peerKind", ["dealer", "router"])
@pytest.mark.parametrize("case", list(HOSTILE))
@pytest_twisted.ensureDeferred
async def test_hostileRequestIsLoggedAndDropped(
    factory: ZmqFactory, plain: Callable[..., RawPeer], logged: Events, case: str, peerKind: str
) -> None:
    frames, count = HOSTILE[case]
    rep = ZmqREPConnection(factory, bind("tcp://127.0.0.1:0"), identity=b"rep")
    served: list[tuple[bytes, ...]] = []

    def handler(*parts: bytes) -> list[bytes]:
        served.append(parts)
        return echo(*parts)

    rep.serve(handler)
    peer, send = await hostilePeer(peerKind, rep, plain)
    served.clear()
    for _ in range(count):
        send(frames)
    send(GOOD)
    expected = GOOD_REPLY if peerKind == "dealer" else [b"rep", *GOOD_REPLY]
    assert await peer.next("the good request's reply") == expected
    assert served == [(b"ping",)]  # the garbage reached nobody
    assert rep._malformed == count
    assert len(warningsAbout(logged, MALFORMED_REQUEST)) == powersOfTwoUpTo(count)
    assert len(rep._routes) == 0
    assert rep.statistics().queued == 0
    assert rep.fileno() != -1


@pytest_twisted.ensureDeferred
async def test_deepestAcceptedEnvelopeIsAnswered(
    factory: ZmqFactory, plain: Callable[..., RawPeer]
) -> None:
    """An envelope of exactly MAX_HOPS frames (the sender's id included) is still a request."""
    rep = ZmqREPConnection(factory, bind("tcp://127.0.0.1:0"))
    rep.serve(echo)
    dealer = plain(zmq.DEALER, connectTo=boundAddress(rep))
    hops = [b"hop %d" % n for n in range(MAX_HOPS - 1)]
    dealer.send([*hops, b"", b"deep"])
    assert await dealer.next() == [*hops, b"", b"re:deep"]
    assert rep._malformed == 0


@pytest_twisted.ensureDeferred
async def test_requestsWithoutPartsAreRequests(
    factory: ZmqFactory, plain: Callable[..., RawPeer]
) -> None:
    """
    A delimiter with nothing after it is what txZMQ's sendMsg() with no parts
    sent; it is a request with no parts, not garbage.
    """
    rep = ZmqREPConnection(factory, bind("tcp://127.0.0.1:0"))
    dealer = plain(zmq.DEALER, connectTo=boundAddress(rep), routing_id=b"dealer")
    dealer.send([b""])  # a plain REQ's envelope, no parts
    dealer.send([b"id", b""])  # a txZMQ envelope, no parts
    dealer.send([b"", b"", b""])  # empty parts
    first, second, third = [await bounded(rep.next()) for _ in range(3)]
    assert (first.messageId, first.parts) == (b"dealer", [])
    assert (second.messageId, second.parts) == (b"id", [])
    assert (third.messageId, third.parts) == (b"dealer", [b"", b""])
    for request in (first, second, third):
        request.reply(b"answered")
    assert [await dealer.next() for _ in range(3)] == [
        [b"", b"answered"],
        [b"id", b"", b"answered"],
        [b"", b"answered"],
    ]
    assert rep._malformed == 0
    assert len(rep._routes) == 0


frame = st.one_of(
    st.just(b""),
    st.binary(min_size=1, max_size=8),
    st.sampled_from([b"\0", b"\xff\xfe", b"hop"]),
    st.integers(1, 64 * 1024).map(lambda size: b"z" * size),
)
frameLists = st.lists(
    st.one_of(
        st.lists(frame, min_size=1, max_size=8),
        st.lists(st.just(b"h"), min_size=MAX_HOPS - 2, max_size=MAX_HOPS + 2).map(
            lambda hops: [*hops, b"", b"deep"]
        ),
        st.integers(1, 1000).map(lambda count: [b"f"] * count),
    ),
    min_size=1,
    max_size=15,
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(messages=frameLists)
@pytest_twisted.ensureDeferred
async def test_randomFrameListsNeverStopTheRep(messages: list[Frames]) -> None:
    """
    Whatever a DEALER sends, each message is either a request (answered, by
    the naive model) or logged and dropped; then a good request is answered.
    """
    factory = ZmqFactory(reactor)
    factory.lingerPeriod = 0
    dealer: RawPeer | None = None
    try:
        rep = ZmqREPConnection(factory, bind("tcp://127.0.0.1:0"))
        rep.serve(lambda *parts: [b"ok"])
        assert factory.context is not None
        dealer = RawPeer(factory.context, zmq.DEALER, connectTo=boundAddress(rep))
        for frames in messages:
            dealer.send(frames)
        dealer.send(GOOD)
        expected = [
            [*frames[: frames.index(b"")], b"", b"ok"]
            for frames in messages
            if isValidRequest(frames)
        ]
        expected.append([b"good id", b"", b"ok"])
        received = [await dealer.next("a reply") for _ in expected]
        assert received == expected
        assert rep._malformed == sum(not isValidRequest(frames) for frames in messages)
        assert len(rep._routes) == 0
    finally:
        if dealer is not None:
            dealer.close()
        factory.shutdown()


# -- hostile replies to a REQ -------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_hostileRepliesAreDroppedAndPendingRequestsUnaffected(
    factory: ZmqFactory, plain: Callable[..., RawPeer], logged: Events
) -> None:
    router = plain(zmq.ROUTER, bindTo="tcp://127.0.0.1:*")
    req = ZmqREQConnection(factory, connect(router.address))
    first = req.sendMsg(b"first")
    second = req.sendMsg(b"second")
    peer, firstId, delimiter, body = await router.next()
    assert (delimiter, body) == (b"", b"first")
    _, secondId, _, _ = await router.next()

    garbage = [
        [b"no delimiter"],
        [firstId, b"not empty", b"x"],
        [firstId],
        [b"", b"", b"an empty id: well-formed, but nobody's"],
        [b"x" * (4 << 20)],
    ] * 4
    for frames in garbage:
        router.send([peer, *frames])
    router.send([peer, b"unknown id", b"", b"stray"])
    router.send([peer, firstId, b"", b"the reply"])
    assert await bounded(first) == [b"the reply"]

    assert not second.called  # unaffected: still waiting
    malformed = len(garbage) - 4  # the empty ids are well-formed, merely unknown
    assert req._malformed == malformed
    assert len(warningsAbout(logged, MALFORMED_REPLY)) == powersOfTwoUpTo(malformed)
    dropped = [
        event["id"]
        for event in logged
        if "Dropped a reply to request" in formatEvent(event)  # debug: expected traffic
    ]
    assert dropped.count(b"unknown id") == 1
    assert dropped.count(b"") == 4
    router.send([peer, secondId, b"", b"second reply"])
    assert await bounded(second) == [b"second reply"]
    assert req._requests == {}


@pytest_twisted.ensureDeferred
async def test_duplicateReplyToAnAnsweredRequestIsDropped(
    factory: ZmqFactory, plain: Callable[..., RawPeer]
) -> None:
    router = plain(zmq.ROUTER, bindTo="tcp://127.0.0.1:*")
    req = ZmqREQConnection(factory, connect(router.address))
    first = req.sendMsg(b"first")
    peer, firstId, _, _ = await router.next()
    router.send([peer, firstId, b"", b"the reply"])
    assert await bounded(first) == [b"the reply"]

    second = req.sendMsg(b"second")
    _, secondId, _, _ = await router.next()
    router.send([peer, firstId, b"", b"a duplicate of the first reply"])
    router.send([peer, secondId, b"", b"the second reply"])
    assert await bounded(second) == [b"the second reply"]


# -- a REP killed and restarted ---------------------------------------------------------------------


def bindAgain(factory: ZmqFactory, address: str) -> Deferred[ZmqREPConnection]:
    """A REP bound to *address* once the old socket's port is free, under the deadline."""
    bound: Deferred[ZmqREPConnection] = Deferred()

    def attempt() -> None:
        if bound.called:
            return
        try:
            rep = ZmqREPConnection(factory, bind(address))
        except EndpointError:
            return  # the closed socket still holds the port
        bound.callback(rep)

    return repeatUntil(attempt, bound, f"binding {address} again")


@pytest_twisted.ensureDeferred
async def test_repRestartedOnTheSameEndpoint(factory: ZmqFactory) -> None:
    first = ZmqREPConnection(factory, bind("tcp://127.0.0.1:0"))
    address = boundAddress(first)
    req = ZmqREQConnection(factory, connect(address))
    before = req.sendMsg(b"before")
    (await bounded(first.next())).reply(b"answered")
    assert await bounded(before) == [b"answered"]
    lost = req.sendMsg(b"taken along", timeout=0.3)
    taken = await bounded(first.next(), "the request at the first REP")
    assert taken.parts == [b"taken along"]
    assert len(first._routes) == 1
    first.shutdown()  # killed with the request unanswered
    assert len(first._routes) == 0

    restarted = await bindAgain(factory, address)
    restarted.serve(echo)
    fresh = [req.sendMsg(b"after %d" % n, timeout=10) for n in range(20)]
    with pytest.raises(ZmqRequestTimeoutError):
        await bounded(lost)
    for n, each in enumerate(fresh):
        assert await bounded(each) == [b"re:after %d" % n]
    assert req._requests == {}
    assert len(restarted._routes) == 0
    assert restarted.statistics().queued == 0
