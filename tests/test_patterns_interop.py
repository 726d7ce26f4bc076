"""
PUSH/PULL, REQ/REP and ROUTER/DEALER against real foreign peers, both ways:
txZMQ 1.0.0 connections (on their own factory, sharing the reactor), plain
pyzmq sockets, and REQ clients reaching two txzpub REP workers through a
plain ROUTER/DEALER ``zmq.proxy`` running in a thread.

A plain socket is read from the reactor by a LoopingCall doing non-blocking
receives (RawPeer); the proxy's thread is stopped through its control socket.
Nothing sleeps to synchronise: every wait is on a Deferred under a deadline.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import pytest_twisted
import txzmq
import zmq
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.task import LoopingCall

from txzpub import (
    ZmqDealerConnection,
    ZmqFactory,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRouterConnection,
)

from .helpers import bind, boundAddress, bounded, connect

Frames = list[bytes]

_names = itertools.count()


class RawPeer:
    """
    A plain pyzmq socket, read from the reactor by a LoopingCall (never blocking).

    ``next()`` fires with the next message's frames. With *respond*, every
    message is answered at once with ``respond(frames)`` (a REP socket's loop).
    """

    def __init__(
        self,
        context: zmq.Context[Any],
        kind: int,
        *,
        bindTo: str | None = None,
        connectTo: str | None = None,
        respond: Callable[[Frames], Sequence[bytes]] | None = None,
        **options: Any,
    ) -> None:
        self.socket: zmq.Socket[Any] = context.socket(kind)
        self.received: deque[Frames] = deque()
        self._waiting: deque[Deferred[Frames]] = deque()
        self._respond = respond
        try:
            self.socket.linger = 0
            for name, value in options.items():
                self.socket.setsockopt(getattr(zmq, name.upper()), value)
            if bindTo is not None:
                self.socket.bind(bindTo)
            if connectTo is not None:
                self.socket.connect(connectTo)
        except BaseException:
            self.socket.close(linger=0)
            raise
        self._polling = LoopingCall(self._drain)
        self._polling.start(0.002, now=True)

    @property
    def address(self) -> str:
        return self.socket.getsockopt_string(zmq.LAST_ENDPOINT)

    def _drain(self) -> None:
        # EVENTS first: a REQ socket must not even try to receive before it sent.
        while not self.socket.closed and self.socket.get(zmq.EVENTS) & zmq.POLLIN:
            frames = self.socket.recv_multipart(zmq.NOBLOCK)
            if self._respond is not None:
                self.socket.send_multipart(list(self._respond(frames)))
            self.received.append(frames)
            while self._waiting and self.received:
                waiter = self._waiting.popleft()
                if not waiter.called:  # else: timed out
                    waiter.callback(self.received.popleft())

    def next(self, what: str = "a message on a plain socket") -> Deferred[Frames]:
        if self.received and not self._waiting:
            return succeed(self.received.popleft())
        waiter: Deferred[Frames] = Deferred()
        self._waiting.append(waiter)
        return bounded(waiter, what)

    def send(self, frames: Sequence[bytes]) -> None:
        self.socket.send_multipart(list(frames), zmq.NOBLOCK)

    def close(self) -> None:
        if self._polling.running:
            self._polling.stop()
        self.socket.close(linger=0)


class Recorder:
    """Collects what a txZMQ hook receives; ``next()`` fires with the next call's arguments."""

    def __init__(self) -> None:
        self.calls: deque[tuple[Any, ...]] = deque()
        self._waiting: deque[Deferred[tuple[Any, ...]]] = deque()

    def __call__(self, *args: Any) -> None:
        self.calls.append(args)
        while self._waiting and self.calls:
            waiter = self._waiting.popleft()
            if not waiter.called:
                waiter.callback(self.calls.popleft())

    def next(self, what: str = "a txZMQ hook call") -> Deferred[tuple[Any, ...]]:
        if self.calls and not self._waiting:
            return succeed(self.calls.popleft())
        waiter: Deferred[tuple[Any, ...]] = Deferred()
        self._waiting.append(waiter)
        return bounded(waiter, what)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def txzmqFactory(factory: ZmqFactory) -> Iterator[txzmq.ZmqFactory]:
    """txZMQ's factory, on the reactor *factory* uses (the global one, pytest-twisted's)."""
    made = txzmq.ZmqFactory()
    made.lingerPeriod = 0
    assert made.reactor is factory.reactor
    yield made
    made.shutdown()


@pytest.fixture(params=["tcp", "ipc"])
def address(request: pytest.FixtureRequest, ipcAddress: str) -> str:
    """An address to bind (txZMQ has its own context, so no inproc)."""
    return {"tcp": "tcp://127.0.0.1:0", "ipc": ipcAddress}[request.param]


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


def txzmqBind(address: str) -> txzmq.ZmqEndpoint:
    return txzmq.ZmqEndpoint(txzmq.ZmqEndpointType.bind, address)


def txzmqConnect(address: str) -> txzmq.ZmqEndpoint:
    return txzmq.ZmqEndpoint(txzmq.ZmqEndpointType.connect, address)


def txzmqAddress(connection: Any) -> str:
    return str(connection.socket.getsockopt_string(zmq.LAST_ENDPOINT))


def echo(*parts: bytes) -> list[bytes]:
    return [b"re:" + part for part in parts]


# -- PUSH/PULL ------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_txzmqPushToTxzpubPull(
    factory: ZmqFactory, txzmqFactory: txzmq.ZmqFactory, address: str
) -> None:
    pull = ZmqPullConnection(factory, bind(address))
    push = txzmq.ZmqPushConnection(txzmqFactory, txzmqConnect(boundAddress(pull)))
    push.push(b"one frame")
    push.push([b"two", b"frames"])
    push.push(b"")
    for n in range(100):
        push.push(b"%d" % n)
    assert await bounded(pull.next()) == [b"one frame"]
    assert await bounded(pull.next()) == [b"two", b"frames"]
    assert await bounded(pull.next()) == [b""]
    assert [await bounded(pull.next()) for _ in range(100)] == [[b"%d" % n] for n in range(100)]


@pytest_twisted.ensureDeferred
async def test_txzpubPushToTxzmqPull(
    factory: ZmqFactory, txzmqFactory: txzmq.ZmqFactory, address: str
) -> None:
    onPull = Recorder()
    pull = txzmq.ZmqPullConnection(txzmqFactory, txzmqBind(address))
    pull.onPull = onPull
    push = ZmqPushConnection(factory, connect(txzmqAddress(pull)))
    push.push(b"one frame")
    push.push([b"two", "frames"])
    for n in range(100):
        push.push(b"%d" % n)
    assert await onPull.next() == ([b"one frame"],)
    assert await onPull.next() == ([b"two", b"frames"],)
    assert [await onPull.next() for _ in range(100)] == [([b"%d" % n],) for n in range(100)]


# -- REQ/REP with txZMQ -----------------------------------------------------------------------


class TxzmqEchoREP(txzmq.ZmqREPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.got: list[tuple[bytes, tuple[bytes, ...]]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
        self.got.append((messageId, messageParts))
        self.reply(messageId, b"txZMQ", *messageParts)


class LegacyEchoREP(ZmqREPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.got: list[tuple[bytes, tuple[bytes, ...]]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
        self.got.append((messageId, messageParts))
        self.reply(messageId, b"legacy", *messageParts)


@pytest.mark.parametrize("style", ["serve", "gotMessage"])
@pytest_twisted.ensureDeferred
async def test_txzmqReqToTxzpubRep(
    factory: ZmqFactory, txzmqFactory: txzmq.ZmqFactory, address: str, style: str
) -> None:
    if style == "serve":
        rep = ZmqREPConnection(factory, bind(address))
        rep.serve(lambda *parts: [b"legacy", *parts])
    else:
        rep = LegacyEchoREP(factory, bind(address))
    req = txzmq.ZmqREQConnection(txzmqFactory, txzmqConnect(boundAddress(rep)))
    replies = await bounded(
        gatherResults([req.sendMsg(b"%d" % n, b"second") for n in range(50)]), "txZMQ's replies"
    )
    assert replies == [[b"legacy", b"%d" % n, b"second"] for n in range(50)]
    assert req._requests == {}
    assert len(rep._routes) == 0


@pytest_twisted.ensureDeferred
async def test_txzmqReqIdsReachTheLegacyHook(
    factory: ZmqFactory, txzmqFactory: txzmq.ZmqFactory
) -> None:
    rep = LegacyEchoREP(factory, bind("tcp://127.0.0.1:0"))
    req = txzmq.ZmqREQConnection(txzmqFactory, txzmqConnect(boundAddress(rep)))
    numbers = itertools.count(1)
    req._getNextId = lambda: b"msg_id_%d" % next(numbers)
    assert await bounded(req.sendMsg(b"aaa", b"aab")) == [b"legacy", b"aaa", b"aab"]
    assert await bounded(req.sendMsg(b"bbb")) == [b"legacy", b"bbb"]
    assert rep.got == [(b"msg_id_1", (b"aaa", b"aab")), (b"msg_id_2", (b"bbb",))]


@pytest_twisted.ensureDeferred
async def test_txzpubReqToTxzmqRep(
    factory: ZmqFactory, txzmqFactory: txzmq.ZmqFactory, address: str
) -> None:
    rep = TxzmqEchoREP(txzmqFactory, txzmqBind(address))
    req = ZmqREQConnection(factory, connect(txzmqAddress(rep)))
    replies = await bounded(
        gatherResults([req.sendMsg(b"%d" % n, "str") for n in range(50)]), "the replies"
    )
    assert replies == [[b"txZMQ", b"%d" % n, b"str"] for n in range(50)]
    assert [parts for _, parts in rep.got] == [(b"%d" % n, b"str") for n in range(50)]
    assert len({messageId for messageId, _ in rep.got}) == 50
    assert req._requests == {}
    assert rep._routingInfo == {}


# -- ROUTER/DEALER with txZMQ -------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_txzmqDealerToTxzpubRouter(
    factory: ZmqFactory, txzmqFactory: txzmq.ZmqFactory, address: str
) -> None:
    router = ZmqRouterConnection(factory, bind(address))
    dealer = txzmq.ZmqDealerConnection(
        txzmqFactory, txzmqConnect(boundAddress(router)), identity=b"txzmq dealer"
    )
    gotMessage = Recorder()
    dealer.gotMessage = gotMessage
    dealer.sendMsg(b"hello")
    dealer.sendMultipart([b"two", b"frames"])
    assert await bounded(router.next()) == (b"txzmq dealer", [b"hello"])
    assert await bounded(router.next()) == (b"txzmq dealer", [b"two", b"frames"])
    router.sendMsg(b"txzmq dealer", b"back")
    router.sendMultipart(b"txzmq dealer", [b"multi", b"", b"part"])
    assert await gotMessage.next() == (b"back",)
    assert await gotMessage.next() == (b"multi", b"", b"part")


@pytest_twisted.ensureDeferred
async def test_txzpubDealerToTxzmqRouter(
    factory: ZmqFactory, txzmqFactory: txzmq.ZmqFactory, address: str
) -> None:
    router = txzmq.ZmqRouterConnection(txzmqFactory, txzmqBind(address))
    gotMessage = Recorder()
    router.gotMessage = gotMessage
    dealer = ZmqDealerConnection(factory, connect(txzmqAddress(router)), identity=b"txzpub")
    dealer.sendMsg(b"hello")
    dealer.sendMultipart([b"two", "frames"])
    assert await gotMessage.next() == (b"txzpub", b"hello")
    assert await gotMessage.next() == (b"txzpub", b"two", b"frames")
    router.sendMsg(b"txzpub", b"back")
    router.sendMultipart(b"txzpub", [b"multi", b"", b"part"])
    assert await bounded(dealer.next()) == [b"back"]
    assert await bounded(dealer.next()) == [b"multi", b"", b"part"]


# -- plain pyzmq REQ and REP sockets --------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_plainReqToTxzpubRepServe(
    factory: ZmqFactory, plain: Callable[..., RawPeer], address: str
) -> None:
    rep = ZmqREPConnection(factory, bind(address))
    rep.serve(echo)
    client = plain(zmq.REQ, connectTo=boundAddress(rep))
    for n in range(20):  # a REQ socket is lock-step: one request, then its reply
        client.send([b"%d" % n, b"more"])
        assert await client.next() == [b"re:%d" % n, b"re:more"]
    assert len(rep._routes) == 0


@pytest_twisted.ensureDeferred
async def test_plainReqToTxzpubRepLegacy(
    factory: ZmqFactory, plain: Callable[..., RawPeer], address: str
) -> None:
    """A plain REQ's request has no id of its own: its routing id serves as gotMessage's."""
    rep = LegacyEchoREP(factory, bind(address))
    clients = [
        plain(zmq.REQ, connectTo=boundAddress(rep), routing_id=b"client %d" % n) for n in range(3)
    ]
    for round_ in range(5):
        for n, client in enumerate(clients):
            client.send([b"round %d from %d" % (round_, n)])
        for n, client in enumerate(clients):
            assert await client.next() == [b"legacy", b"round %d from %d" % (round_, n)]
    assert Counter(messageId for messageId, _ in rep.got) == {
        b"client 0": 5,
        b"client 1": 5,
        b"client 2": 5,
    }
    assert len(rep._routes) == 0


@pytest_twisted.ensureDeferred
async def test_txzpubReqToPlainRep(
    factory: ZmqFactory, plain: Callable[..., RawPeer], address: str
) -> None:
    served: list[Frames] = []

    def answer(frames: Frames) -> Frames:
        served.append(frames)
        return [b"plain", *frames]

    rep = plain(zmq.REP, bindTo=address, respond=answer)
    req = ZmqREQConnection(factory, connect(rep.address))
    replies = await bounded(gatherResults([req.sendMsg(b"%d" % n, b"x") for n in range(50)]))
    assert replies == [[b"plain", b"%d" % n, b"x"] for n in range(50)]
    assert served == [[b"%d" % n, b"x"] for n in range(50)]  # the envelope stays out of sight
    assert req._requests == {}


# -- through a ROUTER/DEALER proxy ------------------------------------------------------------------


class Proxy:
    """A plain zmq.proxy_steerable between a ROUTER and a DEALER, in a thread."""

    def __init__(self) -> None:
        self.context: zmq.Context[Any] = zmq.Context()
        self.context.setsockopt(zmq.LINGER, 0)
        control = f"inproc://proxy-control-{next(_names)}"
        try:
            self.frontend = self.context.socket(zmq.ROUTER)
            self.frontend.bind("tcp://127.0.0.1:*")
            self.backend = self.context.socket(zmq.DEALER)
            self.backend.bind("tcp://127.0.0.1:*")
            controlled = self.context.socket(zmq.PAIR)
            controlled.bind(control)
            self._control = self.context.socket(zmq.PAIR)
            self._control.connect(control)
        except BaseException:
            self.context.destroy(linger=0)
            raise
        self.frontendAddress = self.frontend.getsockopt_string(zmq.LAST_ENDPOINT)
        self.backendAddress = self.backend.getsockopt_string(zmq.LAST_ENDPOINT)
        self._thread = threading.Thread(
            target=self._run, args=(controlled,), name="zmq.proxy", daemon=True
        )
        self._thread.start()

    def _run(self, controlled: zmq.Socket[Any]) -> None:
        """The thread: proxy until told to TERMINATE, then close the proxy's sockets here."""
        try:
            zmq.proxy_steerable(self.frontend, self.backend, None, controlled)
        finally:
            for each in (self.frontend, self.backend, controlled):
                each.close(linger=0)

    def stop(self) -> None:
        """Terminate the proxy, join its thread, then close every socket."""
        self._control.send(b"TERMINATE")
        self._thread.join(10)
        assert not self._thread.is_alive(), "the proxy thread did not stop"
        self._control.close(linger=0)
        self.context.destroy(linger=0)


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    made = Proxy()
    yield made
    made.stop()


@pytest_twisted.ensureDeferred
async def test_requestsThroughAProxyAreAnsweredOnce(factory: ZmqFactory, proxy: Proxy) -> None:
    served: dict[int, list[bytes]] = {0: [], 1: []}

    def worker(number: int) -> Callable[..., list[bytes]]:
        def handle(body: bytes) -> list[bytes]:
            served[number].append(body)
            return [body, b"worker %d" % number]

        return handle

    workers = [ZmqREPConnection(factory, connect(proxy.backendAddress)) for _ in range(2)]
    for number, each in enumerate(workers):
        each.serve(worker(number))

    plainClients = [
        RawPeer(proxy.context, zmq.REQ, connectTo=proxy.frontendAddress) for _ in range(3)
    ]
    txzpubClient = ZmqREQConnection(factory, connect(proxy.frontendAddress))

    async def plainRounds(index: int, client: RawPeer) -> list[bytes]:
        bodies = []
        for n in range(20):
            body = b"plain %d/%d" % (index, n)
            client.send([body])
            reply = await client.next(f"the reply to {body!r}")
            assert reply[0] == body
            bodies.append(body)
        return bodies

    try:
        plainDone = [
            Deferred.fromCoroutine(plainRounds(index, client))
            for index, client in enumerate(plainClients)
        ]
        txzpubBodies = [b"txzpub %d" % n for n in range(40)]
        txzpubReplies = await bounded(
            gatherResults([txzpubClient.sendMsg(body) for body in txzpubBodies])
        )
        assert [reply[0] for reply in txzpubReplies] == txzpubBodies
        assert {reply[1] for reply in txzpubReplies} <= {b"worker 0", b"worker 1"}
        plainBodies = [body for done in plainDone for body in await bounded(done)]
    finally:
        for client in plainClients:
            client.close()

    everything = Counter(served[0] + served[1])
    assert everything == Counter(plainBodies + txzpubBodies)  # each served once
    assert set(everything.values()) == {1}
    assert txzpubClient._requests == {}
    for each in workers:
        assert len(each._routes) == 0
        each.shutdown()  # before the proxy's context goes
