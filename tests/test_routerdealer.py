"""ROUTER and DEALER over real sockets, on the real reactor."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.logger import LogLevel

from txzpub import (
    ConnectionClosed,
    OverflowPolicy,
    ZmqDealerConnection,
    ZmqFactory,
    ZmqRouterConnection,
)

from .helpers import bind, boundAddress, bounded, connect, until


@pytest.fixture(params=["inproc", "ipc", "tcp"])
def address(request: pytest.FixtureRequest, inprocAddress: str, ipcAddress: str) -> str:
    return {"inproc": inprocAddress, "ipc": ipcAddress, "tcp": "tcp://127.0.0.1:0"}[request.param]


def makePair(
    factory: ZmqFactory,
    address: str,
    identity: bytes | None = b"dealer",
    routerClass: type[ZmqRouterConnection] = ZmqRouterConnection,
    dealerClass: type[ZmqDealerConnection] = ZmqDealerConnection,
    **dealerOptions: object,
) -> tuple[ZmqRouterConnection, ZmqDealerConnection]:
    router = routerClass(factory, bind(address))
    dealer = dealerClass(
        factory,
        connect(boundAddress(router)),
        identity,
        **dealerOptions,  # type: ignore[arg-type]
    )
    return router, dealer


class Collected(list[tuple[bytes, ...]]):
    """What a legacy hook received (its arguments), and a Deferred firing at *count*."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.expected = count
        self.done: Deferred[None] = Deferred()

    def __call__(self, *args: bytes) -> None:
        self.append(args)
        if len(self) == self.expected:
            self.done.callback(None)


@pytest_twisted.ensureDeferred
async def test_bothDirectionsOnEveryTransport(factory: ZmqFactory, address: str) -> None:
    router, dealer = makePair(factory, address)
    dealer.sendMsg(b"hello")
    senderId, frames = await bounded(router.next(), "the dealer's message")
    assert (senderId, frames) == (b"dealer", [b"hello"])
    router.sendMsg(senderId, b"welcome")
    assert await bounded(dealer.next(), "the router's reply") == [b"welcome"]


@pytest_twisted.ensureDeferred
async def test_anonymousDealerIsAnsweredByItsGeneratedId(
    factory: ZmqFactory, inprocAddress: str
) -> None:
    router, dealer = makePair(factory, inprocAddress, identity=None)
    dealer.sendMsg(b"who am I")
    senderId, frames = await bounded(router.next())
    assert frames == [b"who am I"]
    assert senderId  # libzmq made one up; it is never empty
    router.sendMsg(senderId, b"you are you")
    assert await bounded(dealer.next()) == [b"you are you"]


@pytest_twisted.ensureDeferred
async def test_sendMultipart(factory: ZmqFactory, inprocAddress: str) -> None:
    router, dealer = makePair(factory, inprocAddress)
    dealer.sendMultipart([b"a", "b", b"", b"d"])
    assert await bounded(router.next()) == (b"dealer", [b"a", b"b", b"", b"d"])
    router.sendMultipart("dealer", ["x", b"", b"z"])
    assert await bounded(dealer.next()) == [b"x", b"", b"z"]
    router.sendMultipart(b"dealer", (b"tuple",))
    assert await bounded(dealer.next()) == [b"tuple"]


@pytest_twisted.ensureDeferred
async def test_orderBothWays(factory: ZmqFactory, inprocAddress: str) -> None:
    router, dealer = makePair(factory, inprocAddress)
    total = 2000
    for n in range(total):
        dealer.sendMsg(b"%d" % n)
    got: list[tuple[bytes, list[bytes]]] = []
    while len(got) < total:
        got.extend(await bounded(router.nextBatch()))
    assert got == [(b"dealer", [b"%d" % n]) for n in range(total)]
    for n in range(total):
        router.sendMsg(b"dealer", b"%d" % n)
    back: list[list[bytes]] = []
    while len(back) < total:
        back.extend(await bounded(dealer.nextBatch()))
    assert back == [[b"%d" % n] for n in range(total)]


@pytest_twisted.ensureDeferred
async def test_twoDealersRoutedByIdentity(factory: ZmqFactory) -> None:
    router = ZmqRouterConnection(factory, bind("tcp://127.0.0.1:0"))
    address = boundAddress(router)
    alice = ZmqDealerConnection(factory, connect(address), b"alice")
    bob = ZmqDealerConnection(factory, connect(address), identity="bob")
    assert (alice.identity, bob.identity) == (b"alice", b"bob")
    alice.sendMsg(b"hi from alice")
    bob.sendMsg(b"hi from bob")
    heard = sorted([await bounded(router.next()), await bounded(router.next())])
    assert heard == [(b"alice", [b"hi from alice"]), (b"bob", [b"hi from bob"])]
    for n in range(50):
        router.sendMsg(b"bob", b"bob %d" % n)
        router.sendMsg(b"alice", b"alice %d" % n)
    aliceGot = [await bounded(alice.next()) for _ in range(50)]
    bobGot = [await bounded(bob.next()) for _ in range(50)]
    assert aliceGot == [[b"alice %d" % n] for n in range(50)]
    assert bobGot == [[b"bob %d" % n] for n in range(50)]
    assert alice.statistics().queued == bob.statistics().queued == 0


@pytest_twisted.ensureDeferred
async def test_unknownIdentityIsLoggedNotRaised(
    factory: ZmqFactory, inprocAddress: str, logged: list[dict[str, object]]
) -> None:
    router, dealer = makePair(factory, inprocAddress)
    router.sendMsg(b"nobody", b"lost")  # does not raise
    warnings = [event for event in logged if event.get("log_level") is LogLevel.warn]
    assert len(warnings) == 1
    assert warnings[0]["peer"] == b"nobody"
    assert "No peer with routing id" in str(warnings[0]["log_format"])
    # The router still works, and nothing was queued for the unknown peer.
    dealer.sendMsg(b"ping")
    assert await bounded(router.next()) == (b"dealer", [b"ping"])
    router.sendMsg(b"dealer", b"pong")
    assert await bounded(dealer.next()) == [b"pong"]
    assert router._outbox is None or len(router._outbox) == 0


class LegacyRouter(ZmqRouterConnection):
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.got = Collected(3)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def gotMessage(self, senderId: bytes, *parts: bytes) -> None:
        self.got(senderId, *parts)


class LegacyDealer(ZmqDealerConnection):
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.got = Collected(3)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def gotMessage(self, *parts: bytes) -> None:
        self.got(*parts)


@pytest_twisted.ensureDeferred
async def test_legacyGotMessageSubclasses(factory: ZmqFactory, inprocAddress: str) -> None:
    router, dealer = makePair(factory, inprocAddress, b"d", LegacyRouter, LegacyDealer)
    assert isinstance(router, LegacyRouter)
    assert isinstance(dealer, LegacyDealer)
    dealer.sendMsg(b"one")
    dealer.sendMultipart([b"two", b"parts"])
    dealer.sendMultipart([b"three", b"", b"parts"])
    await bounded(router.got.done)
    assert router.got == [
        (b"d", b"one"),
        (b"d", b"two", b"parts"),
        (b"d", b"three", b"", b"parts"),
    ]

    router.sendMsg(b"d", b"one")
    router.sendMultipart(b"d", [b"two", b"parts"])
    router.sendMultipart(b"d", [b"", b"three"])
    await bounded(dealer.got.done)
    assert dealer.got == [(b"one",), (b"two", b"parts"), (b"", b"three")]
    for connection in (router, dealer):
        stats = connection.statistics()
        assert (stats.queued, stats.peak) == (0, 0)  # the queues stored nothing


@pytest_twisted.ensureDeferred
async def test_legacyGotMessageAssigned(factory: ZmqFactory, inprocAddress: str) -> None:
    router, dealer = makePair(factory, inprocAddress, b"d")
    routerGot, dealerGot = Collected(1), Collected(1)
    router.gotMessage = routerGot  # type: ignore[method-assign]
    dealer.gotMessage = dealerGot  # type: ignore[method-assign]
    dealer.sendMultipart([b"a", b"b"])
    await bounded(routerGot.done)
    assert routerGot == [(b"d", b"a", b"b")]
    router.sendMsg(b"d", b"c")
    await bounded(dealerGot.done)
    assert dealerGot == [(b"c",)]


@pytest_twisted.ensureDeferred
async def test_raisingGotMessageIsLoggedAndDeliveryContinues(
    factory: ZmqFactory, inprocAddress: str, logged: list[dict[str, object]]
) -> None:
    router, dealer = makePair(factory, inprocAddress)
    got = Collected(2)

    def gotMessage(senderId: bytes, *parts: bytes) -> None:
        if parts == (b"boom",):
            raise ValueError(parts)
        got(senderId, *parts)

    router.gotMessage = gotMessage  # type: ignore[method-assign]
    for body in (b"before", b"boom", b"after"):
        dealer.sendMsg(body)
    await bounded(got.done)
    assert got == [(b"dealer", b"before"), (b"dealer", b"after")]
    failures = [event for event in logged if "log_failure" in event]
    assert len(failures) == 1
    assert failures[0]["log_failure"].check(ValueError)  # type: ignore[attr-defined]


class ShallowRouter(ZmqRouterConnection):
    highWaterMark = 10


class ShallowDealer(ZmqDealerConnection):
    highWaterMark = 10


@pytest_twisted.ensureDeferred
async def test_routerToSlowDealerLosesNothing(
    factory: ZmqFactory, logged: list[dict[str, object]]
) -> None:
    """ROUTER_MANDATORY: at the dealer's high-water mark the replies wait, none is dropped."""
    router = ShallowRouter(factory, bind("tcp://127.0.0.1:0"))
    dealer = ShallowDealer(
        factory,
        connect(boundAddress(router)),
        b"slow",
        maxQueued=10,
        overflow=OverflowPolicy.PAUSE,
    )
    dealer.sendMsg(b"ready")
    assert await bounded(router.next()) == (b"slow", [b"ready"])

    total = 5000
    for n in range(total):
        router.sendMultipart(b"slow", [b"reply", b"%d" % n])
    assert router._outbox is not None
    assert len(router._outbox) > 0  # the dealer's pipe is full: the rest waits here
    await until(lambda: dealer._reader.paused, "the dealer's reader to pause")

    got: list[list[bytes]] = []
    while len(got) < total:  # slow: one at a time
        got.append(await bounded(dealer.next(), f"reply {len(got)} of {total}"))
    assert got == [[b"reply", b"%d" % n] for n in range(total)]
    assert dealer.statistics().dropped == 0
    await until(lambda: len(router._outbox) == 0, "the router's send queue to empty")  # type: ignore[arg-type]
    serious = (LogLevel.warn, LogLevel.error, LogLevel.critical)
    warnings = [event for event in logged if event.get("log_level") in serious]
    assert [event["what"] for event in warnings] == ["ShallowDealer.next()"]  # "is full", once
    assert "is full" in str(warnings[0]["log_format"])


@pytest_twisted.ensureDeferred
async def test_shutdown(factory: ZmqFactory, inprocAddress: str) -> None:
    router, dealer = makePair(factory, inprocAddress)
    pending = [router.next(), dealer.next()]
    router.shutdown()
    dealer.shutdown()
    dealer.shutdown()  # idempotent
    for d in pending:
        with pytest.raises(ConnectionClosed):
            await d
    with pytest.raises(ConnectionClosed, match=r"^cannot send: "):
        dealer.sendMsg(b"late")
    with pytest.raises(ConnectionClosed, match=r"^cannot send: "):
        router.sendMsg(b"dealer", b"late")
    with pytest.raises(ConnectionClosed):
        await router.next()


def test_badArguments(factory: ZmqFactory, inprocAddress: str) -> None:
    router, dealer = makePair(factory, inprocAddress)
    with pytest.raises(TypeError, match=r"^recipientId must be bytes or str, not 5 \(int\)$"):
        router.sendMsg(5, b"x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^parts must be at least one frame, not \[\] \(list\)$"):
        router.sendMultipart(b"dealer", [])
    with pytest.raises(ValueError, match=r"^parts must be at least one frame"):
        dealer.sendMultipart([])
    with pytest.raises(TypeError, match=r"^parts frame must be bytes or str, not 1 \(int\)$"):
        dealer.sendMultipart([b"ok", 1])  # type: ignore[list-item]


@pytest_twisted.ensureDeferred
async def test_peerLeavingWithQueuedRepliesDoesNotBlockOthers(
    factory: ZmqFactory, logged: list[dict[str, object]]
) -> None:
    """Replies queued for a dealer that leaves are logged and dropped; the rest flows."""
    router = ShallowRouter(factory, bind("tcp://127.0.0.1:0"))
    address = boundAddress(router)
    leaving = ShallowDealer(factory, connect(address), b"leaving", maxQueued=10)
    staying = ShallowDealer(factory, connect(address), b"staying")
    leaving.sendMsg(b"hi")
    staying.sendMsg(b"hi")
    heard = sorted([await bounded(router.next()), await bounded(router.next())])
    assert [sender for sender, _ in heard] == [b"leaving", b"staying"]

    for n in range(500):  # nobody reads them: the pipe fills, the router's queue grows
        router.sendMsg(b"leaving", b"%d" % n)
    assert router._outbox is not None
    queued = len(router._outbox)
    assert queued > 0
    router.sendMsg(b"staying", b"behind them")  # waits behind the queue, in order
    leaving.shutdown()

    assert await bounded(staying.next(), "the message queued behind") == [b"behind them"]
    dropped = [event for event in logged if event.get("peer") == b"leaving"]
    assert 0 < len(dropped) <= queued


@pytest_twisted.ensureDeferred
async def test_heldBackSendsLeaveWhileTheInboxIsFull(factory: ZmqFactory) -> None:
    router = ShallowRouter(factory, bind("tcp://127.0.0.1:0"))
    dealer = ShallowDealer(factory, connect(boundAddress(router)), b"d", maxQueued=5)
    dealer.sendMsg(b"hi")
    assert await bounded(router.next()) == (b"d", [b"hi"])
    for n in range(100):  # the dealer only sends: nobody reads what comes back
        router.sendMsg(b"d", b"%d" % n)
    await until(lambda: dealer._reader.paused, "the dealer's reader to pause")

    total = 1000
    for n in range(total):
        dealer.sendMsg(b"%d" % n)
    got: list[tuple[bytes, list[bytes]]] = []
    while len(got) < total:
        got.extend(await bounded(router.nextBatch(), f"message {len(got)} of {total}", 2))
    assert [frames for _, frames in got] == [[b"%d" % n] for n in range(total)]
