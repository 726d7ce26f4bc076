"""Helpers for the tests: bound waits, real socket pairs, a fake socket."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import zmq
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from txzpub import (
    ConnectionEvent,
    ConnectionEventKind,
    ConnectionEvents,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqPubConnection,
)
from txzpub.testing import withDeadline

T = TypeVar("T")

DEADLINE = 10.0


def bounded(d: Deferred[T], what: str = "", seconds: float = DEADLINE) -> Deferred[T]:
    """Wait for *d* on the real reactor, failing the test after *seconds*."""
    from twisted.internet import reactor

    return withDeadline(d, seconds, reactor, what)


def repeatUntil(
    action: Callable[[], object], arrived: Deferred[T], what: str, seconds: float = DEADLINE
) -> Deferred[T]:
    """Call *action* every 5 ms until *arrived* fires, failing the test after *seconds*."""
    repeating = LoopingCall(action)

    def actionFailed(failure: Failure) -> None:
        if not arrived.called:
            arrived.errback(failure)

    repeating.start(0.005, now=True).addErrback(actionFailed)

    def stop(result: object) -> object:
        if repeating.running:
            repeating.stop()
        return result

    return bounded(arrived, what, seconds).addBoth(stop)  # type: ignore[return-value]


def until(condition: Callable[[], bool], what: str) -> Deferred[None]:
    """Fire once *condition()* holds, checked every 5 ms, failing the test after the deadline."""
    arrived: Deferred[None] = Deferred()

    def check() -> None:
        if condition() and not arrived.called:
            arrived.callback(None)

    return repeatUntil(check, arrived, what)


def waitForEvent(stream: ConnectionEvents, kind: ConnectionEventKind) -> Deferred[ConnectionEvent]:
    """The first event of *kind* in *stream* (skipping the others), under the deadline."""

    async def scan() -> ConnectionEvent:
        async for event in stream:
            if event.kind is kind:
                return event
        msg = f"the stream ended before {kind}"
        raise AssertionError(msg)

    return bounded(ensureDeferred(scan()), f"a {kind.value} event")


def childEnvironment() -> dict[str, str]:
    """For child Pythons whose warning flags are on their command line, not inherited."""
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    env.pop("PYTHONDEVMODE", None)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


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
