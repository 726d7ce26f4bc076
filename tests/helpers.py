"""Helpers for the tests: bound waits, real socket pairs, a fake socket."""

from __future__ import annotations

from collections import deque
from typing import Any, TypeVar

import zmq
from twisted.internet.defer import Deferred

from txzpub import ZmqEndpoint, ZmqEndpointType, ZmqPubConnection
from txzpub.testing import withDeadline

T = TypeVar("T")

DEADLINE = 10.0


def bounded(d: Deferred[T], what: str = "", seconds: float = DEADLINE) -> Deferred[T]:
    """Wait for *d* on the real reactor, failing the test after *seconds*."""
    from twisted.internet import reactor

    return withDeadline(d, seconds, reactor, what)


def bind(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.bind, address)


def connect(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.connect, address)


def boundAddress(connection: Any) -> str:
    """The address a connection bound to (resolves tcp://127.0.0.1:0 to the real port)."""
    return connection.socket.get(zmq.LAST_ENDPOINT).decode()


def publisherOnFreePort(factory: Any, **kwargs: Any) -> tuple[ZmqPubConnection, str]:
    publisher = ZmqPubConnection(factory, bind("tcp://127.0.0.1:0"), **kwargs)
    return publisher, boundAddress(publisher)


class FakeFrame:
    def __init__(self, data: bytes, more: bool) -> None:
        self.bytes = data
        self.more = more


class FakeSocket:
    """Enough of zmq.Socket for SocketReader: scripted messages, EAGAIN, EVENTS."""

    def __init__(self) -> None:
        self.incoming: deque[list[bytes]] = deque()
        self.recvCalls = 0
        self.eventsCalls = 0
        self.failWith: Exception | None = None
        self._partial: deque[bytes] = deque()

    def recv(self, flags: int, copy: bool) -> FakeFrame:
        assert flags == zmq.NOBLOCK
        assert copy is False
        if self._partial:
            data = self._partial.popleft()
            return FakeFrame(data, bool(self._partial))
        self.recvCalls += 1
        if self.failWith is not None:
            raise self.failWith
        if not self.incoming:
            raise zmq.Again
        self._partial.extend(self.incoming.popleft())
        data = self._partial.popleft()
        return FakeFrame(data, bool(self._partial))

    def get(self, option: int) -> int:
        assert option == zmq.EVENTS
        self.eventsCalls += 1
        return zmq.POLLIN if self.incoming else 0
