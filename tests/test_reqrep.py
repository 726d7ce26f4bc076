"""
REQ and REP (ZmqREQConnection, ZmqREPConnection) over real inproc, ipc and tcp
sockets on the real reactor.

The REQ side: a reply fires its request's Deferred with a list of frames;
cancelling or timing out a request fails it and drops its late reply, whose id
is never handed out again; maxPending bounds what is in flight; shutdown fails
what waits. The REP side: ``next()``/``async for`` give Requests answered once,
``serve(handler)`` answers with what the handler gives, txZMQ's
``gotMessage``/``reply(messageId)`` still work, and the routing memory is
bounded by maxUnanswered. After everything is answered nothing stays behind.

Nothing sleeps: every wait is on a Deferred under a deadline, and the few
conditions without a Deferred of their own are polled under one (waitUntil).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred, gatherResults, succeed
from twisted.logger import LogLevel, formatEvent
from twisted.python.failure import Failure

from txzpub import (
    AlreadyReplied,
    ConfigurationError,
    ConnectionClosed,
    Request,
    TooManyRequests,
    ZmqFactory,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRequestTimeoutError,
)

from .helpers import bind, boundAddress, bounded, connect, repeatUntil

Events = list[dict[str, object]]
T = TypeVar("T")

#: Timeouts of requests that must time out: short, as nobody answers them.
SHORT = 0.05


@pytest.fixture(params=["inproc", "ipc", "tcp"])
def address(request: pytest.FixtureRequest, inprocAddress: str, ipcAddress: str) -> str:
    return {"inproc": inprocAddress, "ipc": ipcAddress, "tcp": "tcp://127.0.0.1:0"}[request.param]


def makePair(
    factory: ZmqFactory,
    address: str = "tcp://127.0.0.1:0",
    repClass: type[ZmqREPConnection] = ZmqREPConnection,
    reqClass: type[ZmqREQConnection] = ZmqREQConnection,
    **repOptions: Any,
) -> tuple[ZmqREPConnection, ZmqREQConnection]:
    rep = repClass(factory, bind(address), **repOptions)
    req = reqClass(factory, connect(boundAddress(rep)))
    return rep, req


def waitUntil(condition: Callable[[], bool], what: str) -> Deferred[None]:
    """Fire once *condition()* holds, checked every 5 ms, under the deadline."""
    holds: Deferred[None] = Deferred()

    def check() -> None:
        if not holds.called and condition():
            holds.callback(None)

    return repeatUntil(check, holds, what)


def countingIds(prefix: bytes) -> Callable[[], bytes]:
    """A _getNextId replacement, as txZMQ's own tests use: prefix1, prefix2, ..."""
    numbers = itertools.count(1)
    return lambda: prefix + b"%d" % next(numbers)


def echo(*parts: bytes) -> list[bytes]:
    return [b"re:" + part for part in parts]


def ignoreCancelled(failure: Failure) -> None:
    failure.trap(CancelledError)


def quiet(d: Deferred[T]) -> Deferred[T]:
    """*d*, whose failure at the test's end (cancelled, or shut down) reports nothing."""
    d.addErrback(lambda failure: failure.trap(CancelledError, ConnectionClosed))
    return d


def warnings(logged: Events, text: str) -> list[str]:
    return [
        formatEvent(event)
        for event in logged
        if event.get("log_level") == LogLevel.warn and text in formatEvent(event)
    ]


def failuresLogged(logged: Events) -> list[dict[str, object]]:
    return [event for event in logged if "log_failure" in event]


def assertNothingLeft(rep: ZmqREPConnection, *reqs: ZmqREQConnection) -> None:
    for req in reqs:
        assert req._requests == {}
    assert len(rep._routes) == 0
    assert rep.statistics().queued == 0


# -- replies ------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_sendMsgFiresWithTheReplyAsAList(factory: ZmqFactory, address: str) -> None:
    rep, req = makePair(factory, address)
    rep.serve(echo)
    reply = await bounded(req.sendMsg(b"a", "b", b""), "the reply")
    assert type(reply) is list
    assert reply == [b"re:a", b"re:b", b"re:"]
    assertNothingLeft(rep, req)


@pytest_twisted.ensureDeferred
async def test_concurrentRequestsEachGetTheirOwnReply(factory: ZmqFactory, address: str) -> None:
    rep, req = makePair(factory, address)
    rep.serve(lambda body: [b"reply to " + body])
    bodies = [b"%d" % n for n in range(300)]
    replies = await bounded(gatherResults([req.sendMsg(body) for body in bodies]), "300 replies")
    assert replies == [[b"reply to " + body] for body in bodies]
    assertNothingLeft(rep, req)


@pytest_twisted.ensureDeferred
async def test_repliesInAnyOrderFindTheirRequests(factory: ZmqFactory) -> None:
    rep, req = makePair(factory)
    sent = [req.sendMsg(b"%d" % n) for n in range(5)]
    requests = [await bounded(rep.next(), "a request") for _ in range(5)]
    for request in reversed(requests):
        request.reply(b"answer " + request.parts[0])
    replies = await bounded(gatherResults(sent), "the replies")
    assert replies == [[b"answer %d" % n] for n in range(5)]
    assertNothingLeft(rep, req)


# -- next() and Request --------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_nextGivesARequestToAnswerOnce(factory: ZmqFactory, address: str) -> None:
    rep, req = makePair(factory, address)
    sent = req.sendMsg(b"x", b"y")
    [messageId] = req._requests
    request = await bounded(rep.next(), "rep.next()")
    assert isinstance(request, Request)
    assert request.parts == [b"x", b"y"]
    assert request.messageId == messageId
    assert not request.replied
    assert repr(request) == f"<Request {messageId!r} parts=[b'x', b'y'] unanswered>"
    assert len(rep._routes) == 1

    request.reply("ök", b"\0")  # str goes as UTF-8
    assert request.replied
    assert repr(request).endswith(" replied>")
    with pytest.raises(
        AlreadyReplied,
        match=f"^request {re.escape(repr(messageId))} was already answered; a request has one reply$",
    ):
        request.reply(b"twice")
    assert await bounded(sent, "the reply") == ["ök".encode(), b"\0"]
    assertNothingLeft(rep, req)


@pytest_twisted.ensureDeferred
async def test_asyncForOverRequestsEndsAtShutdown(factory: ZmqFactory, address: str) -> None:
    rep, req = makePair(factory, address)
    seen: list[list[bytes]] = []

    async def answerAll() -> str:
        async for request in rep:
            seen.append(request.parts)
            request.reply(b"got " + request.parts[0])
        return "ended"

    looping = Deferred.fromCoroutine(answerAll())
    for n in range(3):
        assert await bounded(req.sendMsg(b"%d" % n)) == [b"got %d" % n]
    rep.shutdown()
    assert await bounded(looping, "the async for loop") == "ended"
    assert seen == [[b"0"], [b"1"], [b"2"]]


# -- serve() --------------------------------------------------------------------------------


def syncHandler(*parts: bytes) -> list[bytes]:
    return [b"sync", *parts]


def deferredHandler(*parts: bytes) -> Deferred[list[bytes]]:
    answer: Deferred[list[bytes]] = Deferred()
    reactor.callLater(0, answer.callback, [b"deferred", *parts])  # a later turn
    return answer


async def coroutineHandler(*parts: bytes) -> list[bytes]:
    await succeed(None)
    return [b"coroutine", *parts]


def oneFrameHandler(*parts: bytes) -> bytes:
    return b"one frame"


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (syncHandler, [b"sync", b"a", b"b"]),
        (deferredHandler, [b"deferred", b"a", b"b"]),
        (coroutineHandler, [b"coroutine", b"a", b"b"]),
        (oneFrameHandler, [b"one frame"]),
        (lambda *parts: ("str", b"bytes"), [b"str", b"bytes"]),
    ],
    ids=["sync", "deferred", "coroutine", "oneFrame", "tuple"],
)
@pytest_twisted.ensureDeferred
async def test_serveRepliesWithWhatTheHandlerGives(
    factory: ZmqFactory, address: str, handler: Callable[..., Any], expected: list[bytes]
) -> None:
    rep, req = makePair(factory, address)
    rep.serve(handler)
    replies = await bounded(gatherResults([req.sendMsg(b"a", b"b") for _ in range(20)]))
    assert replies == [expected] * 20
    assertNothingLeft(rep, req)


@pytest_twisted.ensureDeferred
async def test_serveAnswersQueuedRequestsFirstInOrder(factory: ZmqFactory) -> None:
    rep, req = makePair(factory)
    sent = [req.sendMsg(b"%d" % n) for n in range(5)]
    await waitUntil(lambda: rep.statistics().queued == 5, "5 queued requests")
    order: list[bytes] = []

    def handler(body: bytes) -> bytes:
        order.append(body)
        return body * 2

    rep.serve(handler)
    assert order == [b"0", b"1", b"2", b"3", b"4"]  # at once, inside serve()
    assert rep.statistics().queued == 0
    sent.append(req.sendMsg(b"5"))
    replies = await bounded(gatherResults(sent), "the replies")
    assert replies == [[b"%d%d" % (n, n)] for n in range(6)]
    assert order[-1] == b"5"
    assertNothingLeft(rep, req)


@pytest_twisted.ensureDeferred
async def test_serveFiresAtShutdown(factory: ZmqFactory) -> None:
    rep, req = makePair(factory)
    served = rep.serve(echo)
    assert await bounded(req.sendMsg(b"x")) == [b"re:x"]
    assert not served.called
    rep.shutdown()
    await bounded(served, "serve()'s Deferred")
    assert served.result is None
    with pytest.raises(ConnectionClosed):
        await rep.serve(echo)  # after shutdown: fails at once


@pytest_twisted.ensureDeferred
async def test_serveTwiceIsAConfigurationError(factory: ZmqFactory) -> None:
    rep, req = makePair(factory)
    with pytest.raises(TypeError, match=r"^handler must be callable, not 3 \(int\)$"):
        rep.serve(3)  # type: ignore[arg-type]
    rep.serve(echo)
    with pytest.raises(
        ConfigurationError, match=r"^serve\(\) is already serving this connection; call it once$"
    ):
        rep.serve(syncHandler)
    assert await bounded(req.sendMsg(b"x")) == [b"re:x"]  # the first handler still serves


@pytest_twisted.ensureDeferred
async def test_aServingRepCannotBeReadToo(factory: ZmqFactory) -> None:
    """While serve() runs its handler gets every request; next() would wait for ever."""
    rep, req = makePair(factory)
    rep.serve(echo)
    message = r"cannot receive: serve\(\) hands every request to its handler$"
    with pytest.raises(ConfigurationError, match=r"^next\(\) " + message):
        rep.next()
    with pytest.raises(ConfigurationError, match=r"^nextBatch\(\) " + message):
        rep.nextBatch()
    with pytest.raises(ConfigurationError, match=r"^async for " + message):
        async for _ in rep:
            pass
    assert await bounded(req.sendMsg(b"x")) == [b"re:x"]
    assertNothingLeft(rep, req)


class HandlerError(Exception):
    """Raised on purpose by the tests' handlers."""


@pytest_twisted.ensureDeferred
async def test_failingHandlerIsLoggedAndServingContinues(
    factory: ZmqFactory, logged: Events
) -> None:
    rep, req = makePair(factory)

    async def failLater() -> list[bytes]:
        await succeed(None)
        raise HandlerError("coroutine")

    def handler(body: bytes) -> Any:
        if body == b"raise":
            raise HandlerError("raise")
        if body == b"fail":
            failed: Deferred[list[bytes]] = Deferred()
            reactor.callLater(0, failed.errback, HandlerError("fail"))
            return failed
        if body == b"coroutine":
            return failLater()
        if body == b"bad reply":
            return [3]  # not a frame: logged, no reply
        return [b"ok " + body]

    doomed = [
        req.sendMsg(body, timeout=0.2) for body in (b"raise", b"fail", b"coroutine", b"bad reply")
    ]
    rep.serve(handler)
    assert await bounded(req.sendMsg(b"after")) == [b"ok after"]
    for request in doomed:
        with pytest.raises(ZmqRequestTimeoutError):
            await bounded(request)
    assert await bounded(req.sendMsg(b"still")) == [b"ok still"]
    failures = failuresLogged(logged)
    assert sorted(str(event["log_failure"].value) for event in failures) == [  # type: ignore[attr-defined]
        "coroutine",
        "fail",
        "raise",
        "reply frame must be bytes or str, not 3 (int)",
    ]
    texts = [formatEvent(event) for event in failures]
    assert sum("gets no reply" in text for text in texts) == 3
    assert sum("Could not send the reply" in text for text in texts) == 1
    assert req._requests == {}


@pytest_twisted.ensureDeferred
async def test_serveAfterNextKeepsServing(factory: ZmqFactory) -> None:
    rep, req = makePair(factory, maxQueued=4)
    first = req.sendMsg(b"hello")
    (await bounded(rep.next(), "the first request")).reply(b"welcome")
    assert await bounded(first) == [b"welcome"]
    rep.serve(echo)
    for n in range(10):  # one at a time: each in a read batch of its own
        assert await bounded(req.sendMsg(b"%d" % n, timeout=1)) == [b"re:%d" % n]
    assertNothingLeft(rep, req)


# -- cancelling, timeouts and limits on the REQ side ---------------------------------------


@pytest_twisted.ensureDeferred
async def test_cancelledRequestsLateReplyIsDropped(factory: ZmqFactory, logged: Events) -> None:
    rep, req = makePair(factory)
    cancelled = req.sendMsg(b"first")
    [cancelledId] = req._requests
    request = await bounded(rep.next(), "the first request")
    cancelled.cancel()
    with pytest.raises(CancelledError):
        await cancelled
    assert req._requests == {}
    assert cancelledId not in req._uuids  # never handed out again
    request.reply(b"late")  # arrives before the next reply, and is dropped

    newer = req.sendMsg(b"second")
    [newerId] = req._requests
    assert newerId != cancelledId
    second = await bounded(rep.next(), "the second request")
    second.reply(b"own")
    assert await bounded(newer) == [b"own"]
    assert any(
        "Dropped a reply to request" in formatEvent(event) and event["id"] == cancelledId
        for event in logged
    )
    assert cancelledId not in req._uuids
    assertNothingLeft(rep, req)


@pytest_twisted.ensureDeferred
async def test_cancelledIdsAreNeverReused(factory: ZmqFactory) -> None:
    """However many requests are cancelled, none of their ids comes back."""
    rep, req = makePair(factory)
    cancelledIds: set[bytes] = set()
    for _ in range(3 * req.UUID_POOL_GEN_SIZE):
        sent = req.sendMsg(b"x")
        cancelledIds.update(req._requests)
        sent.cancel()
        sent.addErrback(ignoreCancelled)
    assert len(cancelledIds) == 3 * req.UUID_POOL_GEN_SIZE
    assert cancelledIds.isdisjoint(req._uuids)
    rep.serve(echo)
    later = [req.sendMsg(b"%d" % n) for n in range(20)]
    assert cancelledIds.isdisjoint(req._requests)
    assert await bounded(gatherResults(later)) == [[b"re:%d" % n] for n in range(20)]
    assertNothingLeft(rep, req)


@pytest_twisted.ensureDeferred
async def test_timeoutFailsTheRequestAndDropsTheLateReply(factory: ZmqFactory) -> None:
    rep, req = makePair(factory)
    timingOut = req.sendMsg(b"slow", timeout=SHORT)
    [timedOutId] = req._requests
    request = await bounded(rep.next(), "the request")
    with pytest.raises(
        ZmqRequestTimeoutError,
        match=r"^no reply within 0\.05 s; a later reply is dropped\. Check that a replier is "
        r"running, or allow more time$",
    ):
        await bounded(timingOut)
    assert issubclass(ZmqRequestTimeoutError, TimeoutError)
    assert req._requests == {}
    assert timedOutId not in req._uuids
    request.reply(b"too late")
    quick = req.sendMsg(b"quick", timeout=5)
    (await bounded(rep.next())).reply(b"in time")
    assert await bounded(quick) == [b"in time"]
    assertNothingLeft(rep, req)


@pytest_twisted.ensureDeferred
async def test_defaultRequestTimeout(factory: ZmqFactory) -> None:
    class Impatient(ZmqREQConnection):
        defaultRequestTimeout = SHORT

    rep, req = makePair(factory, reqClass=Impatient)
    with pytest.raises(ZmqRequestTimeoutError, match=r"^no reply within 0\.05 s"):
        await bounded(req.sendMsg(b"nobody answers"))
    patient = req.sendMsg(b"answered", timeout=5)  # an explicit timeout wins
    (await bounded(rep.next())).reply(b"yes")  # the first request, unanswered
    (await bounded(rep.next())).reply(b"yes")
    assert await bounded(patient) == [b"yes"]
    assert req._requests == {}

    class Broken(ZmqREQConnection):
        defaultRequestTimeout = -1

    with pytest.raises(
        ValueError,
        match=r"^defaultRequestTimeout must be a finite number of seconds >= 0, not -1 \(int\)$",
    ):
        Broken(factory)


@pytest_twisted.ensureDeferred
async def test_maxPendingRefusesWithAHelpfulMessage(factory: ZmqFactory) -> None:
    rep = ZmqREPConnection(factory, bind("tcp://127.0.0.1:0"))
    req = ZmqREQConnection(factory, connect(boundAddress(rep)), maxPending=2)
    first, second = req.sendMsg(b"1"), req.sendMsg(b"2")
    with pytest.raises(
        TooManyRequests,
        match=r"^2 requests already await replies \(maxPending=2\); wait for some of them "
        r"before sending more, or raise maxPending$",
    ):
        await req.sendMsg(b"3")
    assert len(req._requests) == 2
    (await bounded(rep.next())).reply(b"one")
    assert await bounded(first) == [b"one"]
    third = req.sendMsg(b"3")  # room again
    for _ in range(2):
        request = await bounded(rep.next())
        request.reply(b"re:" + request.parts[0])
    assert await bounded(gatherResults([second, third])) == [[b"re:2"], [b"re:3"]]
    assertNothingLeft(rep, req)

    class Small(ZmqREQConnection):
        maxPending = 1

    small = Small(factory, connect(boundAddress(rep)))
    pending = small.sendMsg(b"a")
    with pytest.raises(TooManyRequests, match=r"\(maxPending=1\)"):
        await small.sendMsg(b"b")
    (await bounded(rep.next())).reply(b"re:a")
    assert await bounded(pending) == [b"re:a"]


# -- message ids: two clients, legacy replies, the routing memory ------------------------


@pytest_twisted.ensureDeferred
async def test_twoClientsWithTheSameIdGetTheirOwnReplies(factory: ZmqFactory) -> None:
    rep = ZmqREPConnection(factory, bind("tcp://127.0.0.1:0"))
    alice = ZmqREQConnection(factory, connect(boundAddress(rep)), identity=b"alice")
    bob = ZmqREQConnection(factory, connect(boundAddress(rep)), identity=b"bob")
    alice._getNextId = lambda: b"same id"  # type: ignore[method-assign]
    bob._getNextId = lambda: b"same id"  # type: ignore[method-assign]
    fromAlice = alice.sendMsg(b"I am alice")
    first = await bounded(rep.next())
    fromBob = bob.sendMsg(b"I am bob")
    second = await bounded(rep.next())
    assert first.messageId == second.messageId == b"same id"
    assert first.envelope != second.envelope
    assert len(rep._routes) == 1  # by id, as txZMQ's: the second replaced the first
    second.reply(b"hello " + second.parts[0])
    first.reply(b"hello " + first.parts[0])
    assert await bounded(fromAlice) == [b"hello I am alice"]
    assert await bounded(fromBob) == [b"hello I am bob"]
    assertNothingLeft(rep, alice, bob)


class LegacyREP(ZmqREPConnection):
    """txZMQ's way: gotMessage records, and answers unless told not to."""

    answer = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.got: list[tuple[bytes, tuple[bytes, ...]]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
        self.got.append((messageId, messageParts))
        if self.answer:
            self.reply(messageId, b"legacy", *messageParts)


@pytest_twisted.ensureDeferred
async def test_legacyGotMessageAndReply(factory: ZmqFactory, address: str) -> None:
    rep, req = makePair(factory, address, repClass=LegacyREP)
    req._getNextId = countingIds(b"msg_id_")  # type: ignore[method-assign]
    replies = await bounded(gatherResults([req.sendMsg(b"aaa", b"aab"), req.sendMsg(b"bbb")]))
    assert replies == [[b"legacy", b"aaa", b"aab"], [b"legacy", b"bbb"]]
    assert rep.got == [(b"msg_id_1", (b"aaa", b"aab")), (b"msg_id_2", (b"bbb",))]  # type: ignore[attr-defined]
    assertNothingLeft(rep, req)


@pytest_twisted.ensureDeferred
async def test_legacyReplyToAnUnknownIdIsLoggedAndDropped(
    factory: ZmqFactory, logged: Events
) -> None:
    rep, req = makePair(factory, repClass=LegacyREP)
    answered = await bounded(req.sendMsg(b"once"))
    assert answered == [b"legacy", b"once"]
    [(messageId, _)] = rep.got  # type: ignore[attr-defined]
    rep.reply(b"never sent", b"to nobody")
    rep.reply(messageId, b"a second reply")  # answered already
    dropped = warnings(logged, "No unanswered request has id")
    assert len(dropped) == 2
    assert "maxUnanswered=10000" in dropped[0]
    assert await bounded(req.sendMsg(b"again")) == [b"legacy", b"again"]  # nothing went astray
    assertNothingLeft(rep, req)


@pytest_twisted.ensureDeferred
async def test_aRefusedReplyLeavesTheRequestAnswerable(factory: ZmqFactory) -> None:
    class Silent(LegacyREP):
        answer = False

    rep, req = makePair(factory, repClass=Silent)
    sent = quiet(req.sendMsg(b"question"))
    await waitUntil(lambda: len(rep.got) == 1, "the request")  # type: ignore[attr-defined]
    [(messageId, _)] = rep.got  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match=r"^reply frame must be bytes or str, not 5 \(int\)$"):
        rep.reply(messageId, 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^reply must be at least one frame, not \[\] \(list\)$"):
        rep.reply(messageId)
    assert len(rep._routes) == 1
    rep.reply(messageId, b"answer")
    assert await bounded(sent) == [b"answer"]
    with pytest.raises(TypeError, match=r"^reply frame must be bytes or str, not 5 \(int\)$"):
        rep.reply(b"unknown id", 5)  # type: ignore[arg-type]


@pytest_twisted.ensureDeferred
async def test_maxUnansweredForgetsTheOldestRoute(factory: ZmqFactory, logged: Events) -> None:
    class Silent(LegacyREP):
        answer = False

    rep, req = makePair(factory, repClass=Silent, maxUnanswered=3)
    req._getNextId = countingIds(b"id")  # type: ignore[method-assign]
    sent = [req.sendMsg(b"%d" % n) for n in range(1, 5)]
    await waitUntil(lambda: len(rep.got) == 4, "4 requests")  # type: ignore[attr-defined]
    assert len(rep._routes) == 3
    rep.reply(b"id1", b"forgotten")
    assert len(warnings(logged, "No unanswered request has id b'id1'")) == 1
    for n in (4, 2, 3):
        rep.reply(b"id%d" % n, b"answer %d" % n)
    assert await bounded(gatherResults(sent[1:])) == [[b"answer %d" % n] for n in (2, 3, 4)]
    assert not sent[0].called
    sent[0].cancel()
    with pytest.raises(CancelledError):
        await sent[0]
    assertNothingLeft(rep, req)


@pytest_twisted.ensureDeferred
async def test_aForgottenRouteStillAnswersThroughItsRequest(factory: ZmqFactory) -> None:
    """Request.reply routes by its own envelope, which maxUnanswered does not take away."""
    rep, req = makePair(factory, maxUnanswered=1)
    sent = [req.sendMsg(b"%d" % n) for n in range(3)]
    requests = [await bounded(rep.next()) for _ in range(3)]
    assert len(rep._routes) == 1
    for request in requests:
        request.reply(b"answer " + request.parts[0])
    assert await bounded(gatherResults(sent)) == [[b"answer %d" % n] for n in range(3)]
    assertNothingLeft(rep, req)


@pytest.mark.parametrize("limit", [3, 4])
@pytest_twisted.ensureDeferred
async def test_forgettingRoutesIsLoggedRateLimited(
    factory: ZmqFactory, logged: Events, limit: int
) -> None:
    rep, req = makePair(factory, maxUnanswered=limit)
    sent = [quiet(req.sendMsg(b"%d" % n)) for n in range(limit + 64)]
    for _ in sent:
        await bounded(rep.next())
    forgotten = warnings(logged, "requests are unanswered; the oldest routes are forgotten")
    assert 1 <= len(forgotten) <= 8


# -- shutdown -----------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_shutdownFailsEverythingThatWaits(factory: ZmqFactory, address: str) -> None:
    rep, req = makePair(factory, address)
    waiting = [req.sendMsg(b"%d" % n) for n in range(3)]
    waiting.append(req.sendMsg(b"timed", timeout=30))
    request = await bounded(rep.next(), "a request")
    await waitUntil(lambda: rep.statistics().queued == 3, "the other requests queued")

    req.shutdown()
    req.shutdown()  # idempotent
    for each in waiting:
        with pytest.raises(ConnectionClosed):
            await bounded(each)
    assert req._requests == {}
    with pytest.raises(ConnectionClosed):
        await req.sendMsg(b"later")

    rep.shutdown()
    rep.shutdown()
    assert rep.statistics().queued == 0  # the queued requests were discarded
    with pytest.raises(ConnectionClosed):
        await rep.next()
    with pytest.raises(ConnectionClosed, match=r"^cannot reply: "):
        request.reply(b"too late")
    assert not request.replied
    with pytest.raises(ConnectionClosed, match=r"^cannot reply: "):
        rep.reply(request.messageId, b"too late")
    assert len(rep._routes) == 0


@pytest_twisted.ensureDeferred
async def test_shutdownEndsWaitingNextAndAsyncFor(factory: ZmqFactory, address: str) -> None:
    rep = ZmqREPConnection(factory, bind(address))
    waiting = [rep.next(), rep.next(timeout=30)]

    async def loop() -> str:
        async for _ in rep:
            pass
        return "ended"

    looping = Deferred.fromCoroutine(loop())
    rep.shutdown()
    for each in waiting:
        with pytest.raises(ConnectionClosed):
            await bounded(each)
    assert await bounded(looping, "the async for loop") == "ended"


@pytest_twisted.ensureDeferred
async def test_shutdownWithNothingPendingNeverHangs(factory: ZmqFactory) -> None:
    rep, req = makePair(factory)
    nexts = [rep.next() for _ in range(3)]
    served = ZmqREPConnection(factory).serve(echo)
    factory.shutdown()
    for each in [*nexts]:
        with pytest.raises(ConnectionClosed):
            await bounded(each)
    await bounded(served)
    with pytest.raises(ConnectionClosed):
        await req.sendMsg(b"x")


# -- nothing leaks --------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_nothingLeaksAfterAMixedWorkload(factory: ZmqFactory) -> None:
    rep, req = makePair(factory)
    other = ZmqREQConnection(factory, connect(boundAddress(rep)))
    byNext = [req.sendMsg(b"next %d" % n) for n in range(20)]
    cancelled = [req.sendMsg(b"cancel %d" % n) for n in range(10)]
    timedOut = [other.sendMsg(b"timeout %d" % n, timeout=SHORT) for n in range(10)]
    for each in cancelled:
        each.cancel()
        each.addErrback(ignoreCancelled)
    # Answer everything that arrives through next(), the cancelled and timed out too.
    for _ in range(40):
        request = await bounded(rep.next())
        if request.parts[0].startswith(b"timeout"):
            continue  # answered by serve() below, late
        request.reply(b"ok")
    assert await bounded(gatherResults(byNext)) == [[b"ok"]] * 20
    for each in timedOut:
        with pytest.raises(ZmqRequestTimeoutError):
            await bounded(each)
    assert len(rep._routes) == 10  # the timed-out ones, never answered
    replies = gatherResults([other.sendMsg(b"%d" % n) for n in range(50)])
    for _ in range(50):
        request = await bounded(rep.next())
        request.reply(b"re:" + request.parts[0])
    assert await bounded(replies) == [[b"re:%d" % n] for n in range(50)]
    assert req._requests == other._requests == {}
    assert rep.statistics().queued == 0
    assert len(rep._routes) == 10  # bounded by maxUnanswered, forgotten at shutdown
    rep.shutdown()
    assert len(rep._routes) == 0


@pytest_twisted.ensureDeferred
async def test_answeredRoutesAreForgotten(factory: ZmqFactory) -> None:
    """Every answered request leaves the routing memory, whichever way it was answered."""
    rep, req = makePair(factory, repClass=LegacyREP)
    await bounded(gatherResults([req.sendMsg(b"%d" % n) for n in range(100)]))
    assertNothingLeft(rep, req)
    served, servedReq = makePair(factory)
    served.serve(coroutineHandler)
    await bounded(gatherResults([servedReq.sendMsg(b"%d" % n) for n in range(100)]))
    assertNothingLeft(served, servedReq)


# -- bad arguments ----------------------------------------------------------------------------


def test_badArgumentsAreRefusedWithClearMessages(factory: ZmqFactory) -> None:
    req = ZmqREQConnection(factory)
    with pytest.raises(
        ValueError, match=r"^request must be at least one frame, not \[\] \(list\)$"
    ):
        req.sendMsg()
    with pytest.raises(TypeError, match=r"^request frame must be bytes or str, not 123 \(int\)$"):
        req.sendMsg(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^request frame must be bytes or str, not None"):
        req.sendMsg(b"ok", None)  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"^timeout must be a finite number of seconds >= 0, not -1 \(int\)$"
    ):
        req.sendMsg(b"x", timeout=-1)
    with pytest.raises(ValueError, match=r"^timeout must be a finite number of seconds >= 0"):
        req.sendMsg(b"x", timeout=float("nan"))
    with pytest.raises(
        TypeError, match=r"^timeout must be a number of seconds \(int or float\), not '1' \(str\)$"
    ):
        req.sendMsg(b"x", timeout="1")  # type: ignore[arg-type]
    assert req._requests == {}
    with pytest.raises(ValueError, match=r"^maxPending must be >= 1, not 0 \(int\)$"):
        ZmqREQConnection(factory, maxPending=0)
    with pytest.raises(TypeError, match=r"^maxPending must be an int, not True \(bool\)$"):
        ZmqREQConnection(factory, maxPending=True)
    with pytest.raises(ValueError, match=r"^maxUnanswered must be >= 1, not 0 \(int\)$"):
        ZmqREPConnection(factory, maxUnanswered=0)
    assert factory.connections == {req}  # the refused constructors left nothing behind
