# -*- test-case-name: tests.test_connection -*-
"""
ZmqConnection: a ZeroMQ socket, its options and endpoints, and its reader.

The txZMQ-compatible base of every connection. State is underscore-prefixed
so legacy subclasses can keep their own attributes (``self.messages``,
``self.handlers``, ...) without clashing; the few public names are txZMQ's.

Failure rule: a constructor that raises (bad endpoint, address in use) has
closed its socket and registered nothing with the reactor or the factory.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar, overload

import zmq
from twisted.internet.interfaces import IReadDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer  # type: ignore[import-untyped]

from ._authenticator import secureSocket
from ._core._checks import checkCount, checkInt, checkType, wrongType, wrongValue
from ._core._endpoint import ZmqEndpoint, ZmqEndpointType, checkEndpoint
from ._core._framing import DEFAULT_SEPARATOR
from ._core._message import asBytes
from ._errors import ConnectionClosed, EndpointError
from ._factory import ZmqFactory
from ._monitor import ConnectionMonitor
from ._peers import PeerLifecycle
from ._reader import DEFAULT_BATCH_SIZE, SocketReader
from ._security import CurveClient, CurveServer, Security, requireCurve
from ._sending import QueuedSending

__all__ = [
    "MAX_MESSAGE_SIZE",
    "ReadOnlyView",
    "ZmqConnection",
    "applySocketOptions",
    "attachEndpoint",
]

_log = Logger()

V = TypeVar("V")

_HINTS = {
    errno.EADDRINUSE: "another socket or process holds it; choose a free port or stop that one",
    errno.EACCES: "permission denied; use a port above 1023 or a path you may write",
    errno.EPROTONOSUPPORT: "unknown transport; use tcp://, ipc:// or inproc://",
    errno.EINVAL: "malformed address; write it as tcp://127.0.0.1:5555, ipc:///path or "
    "inproc://name",
    errno.ENODEV: "no such interface; bind to 127.0.0.1, 0.0.0.0 (*) or a local address",
}


def attachEndpoint(socket: zmq.Socket[bytes], endpoint: ZmqEndpoint) -> None:
    try:
        if endpoint.type == ZmqEndpointType.bind:
            socket.bind(endpoint.address)
        else:
            socket.connect(endpoint.address)
    except zmq.ZMQError as error:
        hint = _HINTS.get(
            error.errno or 0, "check the address and that the transport is available"
        )
        # zmq.strerror: the bare reason (pyzmq's str(error) repeats the address).
        reason = zmq.strerror(error.errno) if error.errno else str(error)
        msg = f"cannot {endpoint.type} to {endpoint.address!r}: {reason} ({hint})"
        raise EndpointError(msg) from error


#: The largest maxMessageSize: libzmq keeps ZMQ_MAXMSGSIZE in an int64.
MAX_MESSAGE_SIZE = 2**63 - 1


def _checkMaxMessageSize(size: object) -> None:
    if size is not None:
        checkInt(size, "maxMessageSize", minimum=1, maximum=MAX_MESSAGE_SIZE)


def _checkSecurity(security: object) -> None:
    if security is None:
        return
    checkType(
        security, (CurveServer, CurveClient), "security", "a CurveServer, a CurveClient or None"
    )
    requireCurve()


def _checkClass(cls: type[ZmqConnection]) -> int:
    """Check the class attributes no keyword can fix; return the socket type."""
    if cls.socketType is None:
        msg = (
            f"{cls.__name__} has no socketType; use one of txzpub's connections "
            "(ZmqPubConnection, ZmqSubConnection, ZmqPushConnection, ZmqPullConnection, "
            "ZmqREQConnection, ZmqREPConnection, ZmqDealerConnection, ZmqRouterConnection), "
            "or set socketType in your subclass"
        )
        raise TypeError(msg)
    separator = cls.topicSep
    if type(separator) is not bytes:
        raise wrongType("topicSep", "non-empty bytes", separator)
    if not separator:
        raise wrongValue("topicSep", "non-empty bytes", separator)
    return cls.socketType


class ReadOnlyView(Generic[V]):
    """
    A read-only attribute computed by *getter* (``sub.subscriptions``).

    A non-data descriptor, so a txZMQ-style subclass that assigns an attribute
    of the same name (``self.subscriptions = ...``) keeps its own.
    """

    def __init__(self, getter: Callable[[Any], V]) -> None:
        self._getter = getter

    @overload
    def __get__(self, instance: None, owner: object = None) -> ReadOnlyView[V]: ...

    @overload
    def __get__(self, instance: object, owner: object = None) -> V: ...

    def __get__(self, instance: object, owner: object = None) -> ReadOnlyView[V] | V:
        if instance is None:
            return self
        return self._getter(instance)


@implementer(IReadDescriptor)
class ZmqConnection(PeerLifecycle, QueuedSending):
    """
    A ZeroMQ socket driven by the factory's reactor, as txZMQ's ZmqConnection.

    Subclasses set ``socketType`` and, to receive, override
    ``messageReceived(frames)``. The class attributes below are txZMQ's socket
    options; override them in a subclass before constructing.

    .. versionadded:: 0.1.0
    """

    #: The ZeroMQ socket type (zmq.PUB, zmq.SUB, ...); set by subclasses.
    socketType: int | None = None
    allowLoopbackMulticast = False
    multicastRate = 100
    #: SNDHWM and RCVHWM in messages. libzmq's own default; txZMQ's 0 meant
    #: unbounded memory, which txzpub only gives you if you ask for it.
    highWaterMark = 1000
    tcpKeepalive = 0
    tcpKeepaliveCount = 0
    tcpKeepaliveIdle = 0
    tcpKeepaliveInterval = 0
    reconnectInterval = 100
    reconnectIntervalMax = 0
    #: Separates tag and body in one-frame messages (txZMQ's wire format).
    topicSep = DEFAULT_SEPARATOR
    #: At most this many messages are read per reactor turn.
    readBatchSize = DEFAULT_BATCH_SIZE
    #: True starts the socket monitor in the constructor, before any endpoint
    #: is attached, so whenConnected() and events() miss nothing. False (the
    #: default) starts it on the first whenConnected() or events() call.
    monitored = False
    #: Largest inbound message part, in bytes, that a peer may send
    #: (ZMQ_MAXMSGSIZE); libzmq drops the connection of a peer that sends a
    #: bigger one (it reconnects). None: no limit, libzmq's default.
    maxMessageSize: int | None = None
    #: CURVE encryption and authentication: a CurveServer or CurveClient, or
    #: None for none (ZeroMQ's NULL mechanism).
    security: Security | None = None
    #: False: the constructor does not start the reader (the publisher starts
    #: its own on first use, to read subscriptions).
    _receives = True

    def __init__(
        self,
        factory: ZmqFactory,
        endpoint: ZmqEndpoint | None = None,
        identity: Any = None,
        *,
        maxMessageSize: int | None = None,
        security: Security | None = None,
        maxQueuedSends: int | None = None,
    ) -> None:
        checkType(factory, ZmqFactory, "factory", "a txzpub.ZmqFactory")
        context = factory._liveContext()  # noqa: SLF001
        socketType = _checkClass(type(self))
        endpoints = [checkEndpoint(endpoint)] if endpoint else []
        self._takeOptions(maxMessageSize, security)
        self._override(maxQueuedSends=maxQueuedSends)
        checkCount(self.maxQueuedSends, "maxQueuedSends")
        self._factory = factory
        self._identity = None if identity is None else asBytes(identity, "identity")
        self._closed = False
        self._endpoints: list[ZmqEndpoint] = []
        self._lifecycle: ConnectionMonitor | None = None
        self._zapDomain: bytes | None = None
        self._reattaching: dict[str, Any] = {}  # address -> IDelayedCall
        self._outbox = None  # made by the first send that must wait (QueuedSending)
        socket: zmq.Socket[bytes] = context.socket(socketType)
        try:
            self._configure(socket)
            # Secured connections are always monitored, so refused handshakes get
            # logged; so are size-limited ones, to repair what libzmq will not.
            if self.monitored or self.security is not None or self.maxMessageSize is not None:
                self._lifecycle = self._newMonitor(socket)
            for each in endpoints:
                attachEndpoint(socket, each)
                self._endpoints.append(each)
        except BaseException:
            if self._lifecycle is not None:
                self._lifecycle.stop()
            self._releaseDomain()
            socket.close(linger=0)
            raise
        self._socket = socket
        self._fd = int(socket.get(zmq.FD))
        self._reader = SocketReader(
            socket, self._fd, factory.reactor, self._receiveBatch, self.readBatchSize, "ZMQ"
        )
        factory.connections.add(self)
        if self._receives:
            self._reader.start()

    def _override(self, **options: object) -> None:
        """Keyword options given (not None) override the class attributes of the same name."""
        for name, value in options.items():
            if value is not None:
                setattr(self, name, value)

    def _takeOptions(self, maxMessageSize: int | None, security: Security | None) -> None:
        """Keyword options override the class attributes; both are checked."""
        self._override(maxMessageSize=maxMessageSize, security=security)
        _checkMaxMessageSize(self.maxMessageSize)
        _checkSecurity(self.security)

    def _configure(self, socket: zmq.Socket[bytes]) -> None:
        """Hook: set the socket's options before any endpoint is attached."""
        applySocketOptions(self, socket)
        zapHandler = self._factory._zapHandler  # noqa: SLF001
        self._zapDomain = secureSocket(socket, self.security, zapHandler, self)

    def _releaseDomain(self) -> None:
        domain, self._zapDomain = self._zapDomain, None
        zap = self._factory._zap  # noqa: SLF001
        if domain is not None and zap is not None:
            zap.unregister(domain)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._factory!r}, {self._endpoints!r})"

    # -- txZMQ's read-only attributes --------------------------------------------

    @property
    def factory(self) -> ZmqFactory:
        """The factory this connection was made with."""
        return self._factory

    @property
    def socket(self) -> zmq.Socket[bytes]:
        """The underlying zmq.Socket, for options txzpub does not wrap."""
        return self._socket

    @property
    def endpoints(self) -> list[ZmqEndpoint]:
        """The endpoints attached so far (a copy)."""
        return list(self._endpoints)

    @property
    def identity(self) -> bytes | None:
        """The socket identity given to the constructor, if any."""
        return self._identity

    # -- the txZMQ API ------------------------------------------------------------

    def addEndpoints(self, endpoints: Iterable[ZmqEndpoint]) -> None:
        """
        Bind or connect to more *endpoints*, in order.

        Every endpoint is checked before any is used; if the operating system
        refuses one, EndpointError is raised and the ones before it stay attached.
        """
        self._checkOpen("add endpoints")
        checked = [checkEndpoint(each) for each in endpoints]
        for each in checked:
            attachEndpoint(self._socket, each)
            self._endpoints.append(each)
        self._reader.kick()

    def messageReceived(self, message: list[bytes]) -> None:
        """Called with the frames of each received message; override it to receive."""
        msg = (
            f"{type(self).__name__} received a message but does not override "
            "messageReceived(message)"
        )
        raise NotImplementedError(msg)

    def shutdown(self) -> None:
        """
        Close the socket and stop reading. Calling it twice is fine.

        Unsent messages get the factory's ``lingerPeriod`` to leave.
        """
        if self._closed:
            return
        self._closed = True
        self._reader.stop()
        self._stopLifecycle()
        self._closeOutbox()
        self._connectionClosed()
        self._socket.close()
        self._releaseDomain()
        self._factory.connections.discard(self)

    # -- IReadDescriptor, as txZMQ's connection is one -------------------------------

    def fileno(self) -> int:
        """The socket's ZMQ_FD (edge-triggered); -1 after shutdown."""
        return -1 if self._closed else self._fd

    def doRead(self) -> None:
        """
        Read what is waiting now, as the reactor's reader does: at most one
        batch, handlers' errors logged, never raising. Safe at any time, also
        after shutdown (it does nothing then); txZMQ code calls it to catch up
        with a missed edge of ZeroMQ's file descriptor.
        """
        if not self._closed:
            self._reader.doRead()

    def logPrefix(self) -> str:
        """The prefix of the reactor's log lines about this connection."""
        return "ZMQ"

    def connectionLost(self, reason: Failure) -> None:
        """
        The reactor dropped the file descriptor (it is shutting down). The
        socket stays open: call shutdown() to close it.
        """

    # -- for subclasses -------------------------------------------------------------

    def _checkOpen(self, action: str) -> None:
        if self._closed:
            msg = f"cannot {action}: {ConnectionClosed()}"
            raise ConnectionClosed(msg)

    def _connectionClosed(self) -> None:
        """Hook: release whatever the subclass holds; runs once, before the socket closes."""

    def _receiveBatch(self, batch: list[list[bytes]]) -> None:
        """Hand each message of a batch to messageReceived, isolating its errors."""
        handler = self.messageReceived
        for frames in batch:
            if self._closed:
                return
            try:
                handler(frames)
            except Exception:  # noqa: BLE001 - one bad message must not stop the reader
                _log.failure("messageReceived raised; delivery continues")


def applySocketOptions(connection: ZmqConnection, socket: zmq.Socket[bytes]) -> None:
    """Set *connection*'s options (txZMQ's class attributes) on its new *socket*."""
    factory = connection.factory
    socket.set(zmq.LINGER, factory.lingerPeriod)
    socket.set(zmq.SNDHWM, connection.highWaterMark)
    socket.set(zmq.RCVHWM, connection.highWaterMark)
    if connection.tcpKeepalive:
        socket.set(zmq.TCP_KEEPALIVE, connection.tcpKeepalive)
        socket.set(zmq.TCP_KEEPALIVE_CNT, connection.tcpKeepaliveCount)
        socket.set(zmq.TCP_KEEPALIVE_IDLE, connection.tcpKeepaliveIdle)
        socket.set(zmq.TCP_KEEPALIVE_INTVL, connection.tcpKeepaliveInterval)
    if connection.reconnectInterval:
        socket.set(zmq.RECONNECT_IVL, connection.reconnectInterval)
    if connection.reconnectIntervalMax:
        socket.set(zmq.RECONNECT_IVL_MAX, connection.reconnectIntervalMax)
    if connection.identity is not None:
        socket.set(zmq.IDENTITY, connection.identity)
    if connection.maxMessageSize is not None:
        socket.set(zmq.MAXMSGSIZE, connection.maxMessageSize)
