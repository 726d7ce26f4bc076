# -*- test-case-name: tests.test_testing_doubles,tests.test_testing -*-
"""
Test helpers for code that uses txzpub, shipped so nobody needs a socket or a sleep.

**In-memory connections.** ``MemoryFactory`` stands in for ZmqFactory: a bus
in memory, on a ``twisted.internet.task.Clock``, with no ZeroMQ context, no
socket and no reactor thread. ``MemoryPubConnection``, ``MemorySubConnection``,
``MemoryPushConnection``, ``MemoryPullConnection``, ``MemoryREQConnection``,
``MemoryREPConnection``, ``MemoryDealerConnection`` and
``MemoryRouterConnection`` subclass the real connection classes, so they are
what your code expects (``isinstance``, type hints, txZMQ-style subclasses) and
they run the real code above the socket: the same topic routing, queues,
overflow policies, timeouts, Request objects and shutdown rules. Only the
socket is replaced: the bus carries each message, in order, to the
connections attached to the same address (``ZmqEndpoint``'s address
string: any transport, bind or connect), as ZeroMQ would for that socket type.

Delivery is never synchronous: a message arrives on the next clock turn,
``bus.clock.advance(0)`` (``bus.flush()`` says the same), and so do
timeouts on ``advance(seconds)``; one turn carries a whole exchange (a
request, its reply, the reply's callbacks). Subscriptions take effect at
once (there is no slow joiner in memory), and ``bus.published`` and
``bus.sent`` record what the application sent::

    from twisted.trial.unittest import SynchronousTestCase

    from txzpub import Message, ZmqEndpoint, ZmqEndpointType
    from txzpub.testing import MemoryFactory, MemoryPubConnection, MemorySubConnection


    class NewsTests(SynchronousTestCase):
        def test_headline(self):
            bus = MemoryFactory()  # with its own Clock: bus.clock
            pub = MemoryPubConnection(bus, ZmqEndpoint(ZmqEndpointType.bind, "inproc://news"))
            sub = MemorySubConnection(bus, ZmqEndpoint(ZmqEndpointType.connect, "inproc://news"))
            received = sub.next(b"news", timeout=5)
            pub.publish(b"rain", b"news")
            self.assertNoResult(received)  # nothing arrives inside publish()
            bus.flush()  # one clock turn: bus.clock.advance(0)
            self.assertEqual(self.successResultOf(received), Message(b"news", b"rain"))
            self.assertEqual(bus.published, [("inproc://news", Message(b"news", b"rain"))])

To test your own txZMQ-style subclass, mix it with the memory class:
``class MemoryNews(NewsSubscriber, MemorySubConnection): pass``. Not in
memory: the socket monitor (``events()``; ``whenConnected()`` fires when a
peer attaches), CURVE (``security`` is accepted and ignored), the last value
cache, sequenced streams (``sequenced``, ``replay``), high-water marks (a
PAUSE queue holds what arrives upstream, unbounded)
and the ``socket`` attribute (an in-memory stand-in with ``set``/``get``).

**Real sockets.** ZeroMQ's "slow joiner": a subscription travels to the
publisher asynchronously, so messages published right after ``subscribe()``
are silently lost. Sleeping "long enough" makes tests slow and still flaky.
waitForSubscription() instead publishes probes until one arrives, under a
deadline; subscriptions made before it are then in place at the publisher,
because ZeroMQ applies a peer's subscriptions in order.

Written against the public txzpub API, as user code would be; the few private
names it needs are listed, with reasons, in tests/test_layers.py.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar, cast

import zmq
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Clock, LoopingCall
from twisted.logger import Logger

from txzpub import (
    ConfigurationError,
    ConnectionClosed,
    ConnectionEvent,
    ConnectionEventKind,
    EndpointError,
    Message,
    ZmqConnection,
    ZmqDealerConnection,
    ZmqEndpoint,
    ZmqFactory,
    ZmqPubConnection,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRouterConnection,
    ZmqSubConnection,
)
from txzpub._core._message import asBytes

__all__ = [
    "PROBE_PREFIX",
    "MemoryDealerConnection",
    "MemoryFactory",
    "MemoryPubConnection",
    "MemoryPullConnection",
    "MemoryPushConnection",
    "MemoryREPConnection",
    "MemoryREQConnection",
    "MemoryRouterConnection",
    "MemorySubConnection",
    "waitForSubscription",
    "withDeadline",
]

_log = Logger()

#: Tag prefix of the probes. It starts with byte 0xFF, which no text topic does, so
#: only the queue of a subscription to ``b""`` sees probes (skip them by this
#: prefix there); a txZMQ-style gotMessage never sees them.
PROBE_PREFIX = b"\xfftxzpub.probe."

T = TypeVar("T")


def withDeadline(d: Deferred[T], seconds: float, reactor: Any, what: str = "") -> Deferred[T]:
    """
    Fail *d* with TimeoutError if it has not fired within *seconds*.

    The error says what was awaited, so a hung test explains itself.
    """
    description = what or repr(d)

    def explain(failure: Any) -> Any:
        from twisted.internet.defer import TimeoutError as DeferTimeout  # noqa: PLC0415

        if failure.check(DeferTimeout):
            msg = f"{description} did not happen within {seconds} s"
            raise TimeoutError(msg)
        return failure

    d.addTimeout(seconds, reactor)
    d.addErrback(explain)
    return d


def waitForSubscription(
    publisher: ZmqPubConnection,
    subscriber: ZmqSubConnection,
    timeout: float = 10.0,
    interval: float = 0.005,
) -> Deferred[None]:
    """
    Fire once *subscriber*'s subscriptions have reached *publisher*.

    Call it after subscribing. It publishes a probe every *interval* seconds
    on a fresh tag under PROBE_PREFIX until the subscriber receives one, then
    unsubscribes the probe tag. Fails with TimeoutError after *timeout* seconds.
    The queue of a subscription to ``b""`` also receives the probes; skip tags
    starting with PROBE_PREFIX there. A txZMQ-style gotMessage never sees them.
    """
    reactor = publisher.factory.reactor
    tag = PROBE_PREFIX + os.urandom(6).hex().encode()
    # A hidden subscription: its probes never reach a txZMQ-style gotMessage.
    arrived = subscriber._subscribeHidden(tag).next()  # noqa: SLF001
    probing = LoopingCall(publisher.publish, b"", tag)
    probing.clock = cast("IReactorTime", reactor)  # zope interfaces are nominal to mypy
    probing.start(interval, now=True)

    def finish(result: Message | Any) -> None:
        probing.stop()
        subscriber.unsubscribe(tag)
        if not isinstance(result, Message):
            result.raiseException()

    withDeadline(arrived, timeout, reactor, f"a probe from {publisher!r} reaching {subscriber!r}")
    return arrived.addBoth(finish)


# -- in-memory connections -------------------------------------------------------------
#
# Theory of operation. Each memory connection is a real connection class whose
# socket and reactor reader are replaced by a _MemorySocket and a _MemoryReader;
# everything above them (routing, queues, requests, legacy hooks) is the real
# code. The _Bus knows which sockets are attached to which address and carries
# frames between them by ZeroMQ's rules for the socket types: PUB to every
# subscriber whose subscriptions match, PUSH and DEALER to their peers in turn
# (held until a peer attaches), ROUTER by routing id, and the SUB side's
# subscriptions back to XPUB as ZeroMQ's one-frame subscription messages. A
# socket hands what arrived to its connection's ``_receiveBatch`` on the next
# clock turn, at most ``readBatchSize`` messages at a time, unless its reader
# is paused (a full PAUSE queue) or not started (a publisher that never listened).

#: Which socket types talk to each other.
_PEERS: dict[int, set[int]] = {
    zmq.XPUB: {zmq.SUB},
    zmq.SUB: {zmq.XPUB},
    zmq.PUSH: {zmq.PULL},
    zmq.PULL: {zmq.PUSH},
    zmq.DEALER: {zmq.DEALER, zmq.ROUTER},
    zmq.ROUTER: {zmq.DEALER, zmq.ROUTER},
}

#: Events as ``events()`` would have them; the default bound of a real stream.
_DEFAULT_MAX_EVENTS = 1000


class _MemorySocket:
    """One connection's socket on the bus: zmq.Socket's few methods the connections call."""

    def __init__(
        self,
        bus: _Bus,
        kind: int,
        receive: Callable[[list[list[bytes]]], object],
        routingId: bytes,
        batchSize: int,
        maxMessageSize: int | None,
    ) -> None:
        self.bus, self.kind, self.receive = bus, kind, receive
        self.routingId, self.batchSize, self.maxMessageSize = routingId, batchSize, maxMessageSize
        self.addresses: list[str] = []
        self.bound: set[str] = set()
        self.options: dict[int, object] = {}
        self.prefixes: Counter[bytes] = Counter()  # a SUB's subscriptions
        self.incoming: deque[list[bytes]] = deque()
        self.unsent: deque[list[bytes]] = deque()  # PUSH and DEALER: waiting for a peer
        self.turn = 0  # round robin
        self.reading = False
        self.paused = False
        self.closed = False
        self.connected: ConnectionEvent | None = None
        self.connecting: list[Deferred[ConnectionEvent]] = []

    # -- what the connection code calls on its socket --------------------------------

    def set(self, option: int, value: object) -> None:
        if option in (zmq.SUBSCRIBE, zmq.UNSUBSCRIBE):
            self.bus.subscription(self, asBytes(value, "tag"), option == zmq.SUBSCRIBE)
        else:
            self.options[option] = value

    def get(self, option: int) -> object:
        return self.options.get(option, 0)

    def bind(self, address: str) -> None:
        self.bus.attach(self, address, bind=True)

    def connect(self, address: str) -> None:
        self.bus.attach(self, address, bind=False)

    def close(self, linger: int | None = None) -> None:
        self.bus.detach(self)

    # -- what the bus and the memory connections call ------------------------------------

    def accepts(self, frames: list[bytes]) -> bool:
        """Would this socket take *frames* (a SUB filters by its subscriptions)?"""
        if self.kind != zmq.SUB:
            return True
        first = frames[0]
        return any(first.startswith(prefix) for prefix in self.prefixes)

    def address(self) -> str:
        """The address records name: the first one attached, or ""."""
        return self.addresses[0] if self.addresses else ""

    def recordSent(self, frames: list[bytes]) -> None:
        self.bus.sent.append((self.address(), list(frames)))

    def whenConnected(self) -> Deferred[ConnectionEvent]:
        if self.closed:
            return fail(ConnectionClosed())
        if self.connected is not None:
            return succeed(self.connected)
        waiter: Deferred[ConnectionEvent] = Deferred()
        self.connecting.append(waiter)
        return waiter

    def paired(self, address: str) -> None:
        """A first peer attached: that is the handshake whenConnected() waits for."""
        if self.connected is None:
            self.connected = ConnectionEvent(ConnectionEventKind.HANDSHAKE_SUCCEEDED, address)
        waiting, self.connecting = self.connecting, []
        for waiter in waiting:
            waiter.callback(self.connected)


class _MemoryReader:
    """The SocketReader's controls, for a socket the bus delivers to."""

    def __init__(self, socket: _MemorySocket) -> None:
        self.socket = socket

    def start(self) -> None:
        self.socket.reading = True
        self.kick()

    def stop(self) -> None:
        self.socket.reading = False

    def kick(self) -> None:
        if self.socket.incoming:
            self.socket.bus.wake(self.socket)

    def afterSend(self) -> None:
        """Sends never swallow an edge in memory."""

    def pause(self) -> None:
        self.socket.paused = True

    def resume(self) -> None:
        self.socket.paused = False
        self.kick()

    @property
    def paused(self) -> bool:
        return self.socket.paused

    def doRead(self) -> None:
        self.socket.bus.deliver(self.socket)

    def fileno(self) -> int:
        return -1

    def logPrefix(self) -> str:
        return "ZMQ"

    def connectionLost(self, reason: object) -> None:
        """There is no file descriptor to lose."""


class _Bus:
    """Addresses, and the frames on their way between the sockets attached to them."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.addresses: dict[str, list[_MemorySocket]] = {}
        self.waking: dict[_MemorySocket, None] = {}  # an ordered set
        self.tick: Any = None  # an IDelayedCall
        self.routingIds = itertools.count(1)
        self.published: list[tuple[str, Message]] = []
        self.sent: list[tuple[str, list[bytes]]] = []

    def newRoutingId(self) -> bytes:
        """A peer without an identity gets one as libzmq makes them: 0, then 4 bytes."""
        return b"\0" + next(self.routingIds).to_bytes(4, "big")

    def peersOf(self, socket: _MemorySocket) -> list[_MemorySocket]:
        kinds = _PEERS.get(socket.kind, set())
        found: dict[_MemorySocket, None] = {}
        for address in socket.addresses:
            for other in self.addresses.get(address, ()):
                if other is not socket and other.kind in kinds:
                    found[other] = None
        return list(found)

    def attach(self, socket: _MemorySocket, address: str, *, bind: bool) -> None:
        attached = self.addresses.setdefault(address, [])
        if bind and any(address in other.bound for other in attached):
            msg = (
                f"cannot bind to {address!r}: Address already in use (another memory "
                "connection on this MemoryFactory is bound to it; connect instead)"
            )
            raise EndpointError(msg)
        before = self.peersOf(socket)
        attached.append(socket)
        socket.addresses.append(address)
        if bind:
            socket.bound.add(address)
        for peer in self.peersOf(socket):
            if peer not in before:
                self.pair(socket, peer, address)

    def pair(self, one: _MemorySocket, other: _MemorySocket, address: str) -> None:
        """Two sockets just became peers: what ZeroMQ does when a connection is made."""
        for sub, pub in ((one, other), (other, one)):
            if sub.kind == zmq.SUB:
                for prefix in sub.prefixes:
                    self.put(pub, sub, [b"\1" + prefix])
        for each in (one, other):
            each.paired(address)
            waiting, each.unsent = each.unsent, deque()
            for frames in waiting:
                self.send(each, frames)

    def detach(self, socket: _MemorySocket) -> None:
        if socket.closed:
            return
        if socket.kind == zmq.SUB:  # as XPUB_VERBOSER reports a peer that leaves
            for prefix in socket.prefixes:
                self.tell(socket, prefix, subscribed=False)
        socket.closed = True
        for address in socket.addresses:
            self.addresses[address].remove(socket)
        socket.incoming.clear()
        socket.unsent.clear()
        self.waking.pop(socket, None)
        waiting, socket.connecting = socket.connecting, []
        for waiter in waiting:
            waiter.errback(ConnectionClosed())

    def subscription(self, socket: _MemorySocket, prefix: bytes, subscribed: bool) -> None:
        """A SUB's SUBSCRIBE or UNSUBSCRIBE: counted as libzmq counts them, told upstream."""
        count = socket.prefixes[prefix]
        if subscribed:
            socket.prefixes[prefix] = count + 1
            if count == 0:
                self.tell(socket, prefix, subscribed=True)
        elif count:
            if count == 1:
                del socket.prefixes[prefix]
                self.tell(socket, prefix, subscribed=False)
            else:
                socket.prefixes[prefix] = count - 1

    def tell(self, socket: _MemorySocket, prefix: bytes, *, subscribed: bool) -> None:
        for peer in self.peersOf(socket):
            self.put(peer, socket, [(b"\1" if subscribed else b"\0") + prefix])

    def send(self, sender: _MemorySocket, frames: list[bytes]) -> None:
        """Carry one message from *sender* by its socket type's rule."""
        kind = sender.kind
        if kind == zmq.XPUB:
            for peer in self.peersOf(sender):
                if peer.accepts(frames):
                    self.put(peer, sender, frames)
        elif kind == zmq.ROUTER:
            recipient = frames[0]
            for peer in self.peersOf(sender):
                if peer.routingId == recipient:
                    self.put(peer, sender, frames[1:])
                    return
            _log.warn(
                "No peer with routing id {peer!r} is connected (it left, or never came); "
                "the message to it was dropped",
                peer=recipient,
            )
        elif kind in (zmq.PUSH, zmq.DEALER):
            peers = self.peersOf(sender)
            if not peers:
                sender.unsent.append(frames)
                return
            peer = peers[sender.turn % len(peers)]
            sender.turn += 1
            self.put(peer, sender, frames)
        else:
            msg = f"a memory connection of socket type {kind} cannot send"
            raise ConfigurationError(msg)

    def put(self, peer: _MemorySocket, sender: _MemorySocket, frames: list[bytes]) -> None:
        if peer.kind == zmq.ROUTER:
            frames = [sender.routingId, *frames]
        limit = peer.maxMessageSize
        if limit is not None and any(len(frame) > limit for frame in frames):
            _log.warn(
                "A message part is larger than the receiver's maxMessageSize={limit}; "
                "ZeroMQ drops such a message (and the sender's connection)",
                limit=limit,
            )
            return
        peer.incoming.append(list(frames))
        self.wake(peer)

    def wake(self, socket: _MemorySocket) -> None:
        """Deliver what *socket* holds on the next clock turn."""
        self.waking[socket] = None
        if self.tick is None:
            self.tick = self.clock.callLater(0, self.turn)

    def turn(self) -> None:
        self.tick = None
        waking, self.waking = self.waking, {}
        for socket in waking:
            self.deliver(socket)

    def deliver(self, socket: _MemorySocket) -> None:
        """Hand *socket*'s connection one batch now, as its reader would."""
        if socket.closed or socket.paused or not socket.reading or not socket.incoming:
            return
        incoming = socket.incoming
        batch = [incoming.popleft() for _ in range(min(len(incoming), socket.batchSize))]
        socket.receive(batch)
        if incoming and not socket.paused:
            self.wake(socket)

    def stop(self) -> None:
        if self.tick is not None and self.tick.active():
            self.tick.cancel()
        self.tick = None
        self.waking.clear()


class MemoryFactory(ZmqFactory):
    """
    A ZmqFactory whose connections live in memory, on a Clock: the bus of the
    Memory*Connection classes. It has no ZeroMQ context; the real connection
    classes refuse it (use the Memory* ones).

    *reactor* is a ``twisted.internet.task.Clock`` or a ``MemoryReactorClock``;
    by default it makes its own, ``bus.clock``. Messages arrive on its next
    turn, ``advance(0)``, and timeouts fire as it advances.

    .. versionadded:: 0.1.0
    """

    def __init__(self, reactor: Clock | None = None) -> None:
        # Not ZmqFactory.__init__: no ZeroMQ context.
        clock = Clock() if reactor is None else reactor
        #: The clock: advance it to deliver messages and fire timeouts.
        self.clock = clock
        # Any: a Clock has no file descriptors, so it is not a ZmqReactor to mypy;
        # memory connections only ever ask it for the time.
        self.reactor = cast("Any", clock)
        self.connections: set[ZmqConnection] = set()
        self.context = None
        self._trigger = None
        self._zap = None
        self._shutDown = False
        self._bus = _Bus(clock)

    @property
    def published(self) -> list[tuple[str, Message]]:
        """
        What every publisher published, in order: ``(address, Message)``, with
        the publisher's first address ("" when it has none). Clear it freely.
        """
        return self._bus.published

    @property
    def sent(self) -> list[tuple[str, list[bytes]]]:
        """
        What every other connection sent, in order: ``(address, frames)``. The
        frames are the application's: a request's and a reply's parts (no
        envelope), a ROUTER's with the recipient's id first. Clear it freely.
        """
        return self._bus.sent

    def flush(self) -> None:
        """Deliver everything on its way: one clock turn, ``clock.advance(0)``."""
        self.clock.advance(0)

    @property
    def closed(self) -> bool:
        """True once shutdown() has run."""
        return self._shutDown

    def shutdown(self) -> None:
        """Shut every connection down, as ZmqFactory.shutdown() does. Calling it twice is fine."""
        self._shutDown = True
        for connection in list(self.connections):
            connection.shutdown()
        self.connections.clear()
        self._bus.stop()

    def _liveContext(self) -> NoReturn:
        """The real connections need a context: say what to use instead."""
        msg = (
            "a MemoryFactory has no ZeroMQ context; create txzpub.testing's Memory* "
            "connections with it (MemoryPubConnection, MemorySubConnection, ...)"
        )
        raise TypeError(msg)

    def __repr__(self) -> str:
        return "MemoryFactory()"


class _MemoryConnection(ZmqConnection):
    """
    What every memory connection shares: ZmqConnection without a socket,
    reader or context. Mixed in after the real class, so its __init__ takes
    the place of ZmqConnection's.
    """

    def __init__(
        self,
        factory: ZmqFactory,
        endpoint: ZmqEndpoint | None = None,
        identity: Any = None,
        *,
        maxMessageSize: int | None = None,
        security: Any = None,
        maxQueuedSends: int | None = None,
    ) -> None:
        if not isinstance(factory, MemoryFactory):
            msg = f"factory must be a txzpub.testing.MemoryFactory, not {factory!r}"
            raise TypeError(msg)
        if factory.closed:
            msg = "the MemoryFactory was shut down; create a new one"
            raise ConnectionClosed(msg)
        if self.socketType not in _PEERS:
            msg = f"{type(self).__name__} has a socketType memory connections do not carry"
            raise TypeError(msg)
        self._override(
            maxMessageSize=maxMessageSize, security=security, maxQueuedSends=maxQueuedSends
        )
        self._factory = factory
        self._identity = None if identity is None else asBytes(identity, "identity")
        self._closed = False
        self._endpoints: list[ZmqEndpoint] = []
        self._lifecycle = None
        self._zapDomain = None
        self._reattaching: dict[str, Any] = {}
        self._outbox = None
        bus = factory._bus  # noqa: SLF001 - our own factory
        self._memory = _MemorySocket(
            bus,
            self.socketType,
            self._receiveBatch,
            self._identity or bus.newRoutingId(),
            self.readBatchSize,
            self.maxMessageSize,
        )
        self._socket = cast("Any", self._memory)
        self._configure(self._socket)
        self._fd = -1
        self._reader = cast("Any", _MemoryReader(self._memory))
        if endpoint is not None:
            try:
                self.addEndpoints([endpoint])
            except BaseException:
                self._memory.close()
                raise
        factory.connections.add(self)
        if self._receives:
            self._reader.start()

    def _configure(self, socket: zmq.Socket[bytes]) -> None:
        """No options to apply and nothing to encrypt: ``security`` is ignored in memory."""
        if getattr(self, "lastValueCache", False):
            msg = "MemoryPubConnection has no last value cache; test that on real sockets"
            raise ConfigurationError(msg)
        if getattr(self, "sequenced", False) or getattr(self, "_replayEndpoints", None):
            msg = (
                f"{type(self).__name__} has no sequenced streams (stamps, heartbeats, replay); "
                "test those on real sockets"
            )
            raise ConfigurationError(msg)

    def _enqueue(self, frames: list[bytes], *, track: bool = False) -> Deferred[None] | None:
        """Hand *frames* to the bus; nothing waits at a high-water mark in memory."""
        self._checkOpen("send")
        self._record(frames)
        self._memory.bus.send(self._memory, frames)
        return None

    def _record(self, frames: list[bytes]) -> None:
        """Note what the application sent, in ``bus.sent``."""
        self._memory.recordSent(frames)

    def whenConnected(self) -> Deferred[ConnectionEvent]:
        """
        Fire with a HANDSHAKE_SUCCEEDED event once a peer is attached to one of
        this connection's addresses (at once if one is); fails with
        ConnectionClosed on shutdown.
        """
        if self._closed:
            return fail(ConnectionClosed())
        return self._memory.whenConnected()

    def events(self, maxQueued: int = _DEFAULT_MAX_EVENTS) -> NoReturn:
        """Memory connections have no socket monitor, so no event stream."""
        msg = f"{type(self).__name__} has no socket monitor; use whenConnected()"
        raise NotImplementedError(msg)


class MemoryPubConnection(ZmqPubConnection, _MemoryConnection):
    """
    A ZmqPubConnection on a MemoryFactory. ``subscriptions``,
    ``waitForSubscribers()`` and ``onSubscription()`` count the memory
    subscribers, exactly; ``publishLossless()`` (with ``noDrop=True``) never
    waits. Not ``lastValueCache`` nor ``sequenced`` (ConfigurationError).

    .. versionadded:: 0.1.0
    """

    def publish(self, message: bytes | str, tag: bytes | str = b"") -> None:
        """As ZmqPubConnection.publish(); after shutdown it raises ConnectionClosed."""
        self._checkOpen("publish")
        self._enqueue(self._encode(asBytes(tag, "tag"), asBytes(message, "message")))

    def _record(self, frames: list[bytes]) -> None:
        if len(frames) == 2:
            tag, body = frames
        else:
            tag, _, body = frames[0].partition(self.topicSep)
        self._memory.bus.published.append((self._memory.address(), Message(tag, body)))


class MemorySubConnection(ZmqSubConnection, _MemoryConnection):
    """
    A ZmqSubConnection on a MemoryFactory: ``next(tag)``, Subscriptions and
    ``gotMessage``, through the real routing and queues.

    .. versionadded:: 0.1.0
    """


class MemoryPushConnection(ZmqPushConnection, _MemoryConnection):
    """
    A ZmqPushConnection on a MemoryFactory: each message to one PULL peer in
    turn; with no peer yet, it waits for one.

    .. versionadded:: 0.1.0
    """


class MemoryPullConnection(ZmqPullConnection, _MemoryConnection):
    """
    A ZmqPullConnection on a MemoryFactory: ``next()``, ``nextBatch()``,
    ``async for`` or ``onPull``.

    .. versionadded:: 0.1.0
    """


class MemoryREQConnection(ZmqREQConnection, _MemoryConnection):
    """
    A ZmqREQConnection on a MemoryFactory: ``sendMsg()`` with timeouts on the clock.

    .. versionadded:: 0.1.0
    """

    def _record(self, frames: list[bytes]) -> None:
        self._memory.recordSent(frames[2:])  # [messageId, b"", *parts]


class MemoryREPConnection(ZmqREPConnection, _MemoryConnection):
    """
    A ZmqREPConnection on a MemoryFactory: ``serve(handler)``, Requests from
    ``next()``, or ``gotMessage`` with ``reply()``.

    .. versionadded:: 0.1.0
    """

    def _record(self, frames: list[bytes]) -> None:
        self._memory.recordSent(frames[frames.index(b"", 1) + 1 :])  # [*envelope, b"", *parts]


class MemoryDealerConnection(ZmqDealerConnection, _MemoryConnection):
    """
    A ZmqDealerConnection on a MemoryFactory.

    .. versionadded:: 0.1.0
    """


class MemoryRouterConnection(ZmqRouterConnection, _MemoryConnection):
    """
    A ZmqRouterConnection on a MemoryFactory: peers without an ``identity``
    get a made-up routing id, as libzmq gives them.

    .. versionadded:: 0.1.0
    """
