# -*- test-case-name: tests.test_reqrep -*-
"""
REQ and REP, as txZMQ's ZmqREQConnection and ZmqREPConnection.

The wire format is txZMQ's (``_core._envelope``): the REQ connection is a
DEALER socket that tags each request with a fresh id, so many requests can
be in flight at once and each reply finds its Deferred; the REP connection
is a ROUTER socket that answers each request by its envelope. Standard REQ
and REP sockets on the other side work too.

Compared with txZMQ: request ids are never reused while a reply could still
come (txZMQ returned a cancelled request's id to its pool, so a late reply
could reach a newer request); requests in flight are bounded (``maxPending``);
a REP remembers the routes of at most ``maxUnanswered`` unanswered requests
(txZMQ's grew forever); and a malformed request is logged and dropped
instead of killing the connection.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Coroutine, Iterable, Sequence
from inspect import iscoroutine
from typing import Any

import zmq
from twisted.internet.defer import Deferred, ensureDeferred, fail
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._connection import ZmqConnection
from ._core._buffer import OverflowPolicy
from ._core._checks import checkCallable, checkCount, checkSeconds, describe
from ._core._endpoint import ZmqEndpoint
from ._core._envelope import (
    Envelope,
    RoutingMemory,
    replyFrames,
    requestFrames,
    splitReply,
    splitRequest,
)
from ._errors import ConfigurationError, ConnectionClosed, TooManyRequests
from ._factory import ZmqFactory
from ._mailbox import DEFAULT_BATCH_LIMIT, Mailbox
from ._receiver import Receiver, hookOf
from ._requests import PendingRequests, Request
from ._routerdealer import routerMandatory
from ._security import Security
from ._sending import asFrames
from ._waiters import fire

__all__ = ["Handler", "ZmqREPConnection", "ZmqREQConnection"]

_log = Logger()

#: A reply: one frame, or a list of frames.
Reply = bytes | str | Sequence[bytes | str]
#: What serve() calls: the request's parts in, the reply out (or a Deferred or
#: coroutine of it).
Handler = Callable[..., Reply | Deferred[Reply] | Coroutine[Any, Any, Reply]]


class _FreshIds:
    """
    Request ids never used before: 8 random bytes per connection, then a
    counter (16 bytes, as txZMQ's uuid4 ids). A restarted client gets a new
    prefix, so its ids cannot match replies meant for the previous one.
    """

    __slots__ = ("_count", "_prefix")

    def __init__(self) -> None:
        self._prefix = os.urandom(8)
        self._count = itertools.count()

    def take(self, count: int) -> list[bytes]:
        prefix, counter = self._prefix, self._count
        return [prefix + next(counter).to_bytes(8, "big") for _ in range(count)]


def _isWorthLogging(count: int) -> bool:
    """Log the 1st, 2nd, 4th, 8th, ... occurrence: a flood of bad input cannot flood the log."""
    return count & (count - 1) == 0


class ZmqREQConnection(ZmqConnection):
    """
    Sends requests and fires a Deferred with each reply, as txZMQ's.

    .. versionadded:: 0.1.0
    """

    socketType = zmq.DEALER
    #: Seconds sendMsg() waits for a reply when no timeout is given; None: forever.
    defaultRequestTimeout: float | None = None
    #: Most requests awaiting replies; past it sendMsg() fails with TooManyRequests.
    maxPending = 10_000
    #: How many fresh ids are made at a time (txZMQ's name).
    UUID_POOL_GEN_SIZE = 5

    def __init__(
        self,
        factory: ZmqFactory,
        endpoint: ZmqEndpoint | None = None,
        identity: Any = None,
        *,
        maxMessageSize: int | None = None,
        security: Security | None = None,
        maxPending: int | None = None,
        maxQueuedSends: int | None = None,
    ) -> None:
        self._override(maxPending=maxPending)
        checkCount(self.maxPending, "maxPending")
        if self.defaultRequestTimeout is not None:
            checkSeconds(self.defaultRequestTimeout, "defaultRequestTimeout")
        #: Ids ready for new requests (txZMQ's pool).
        self._uuids: list[bytes] = []
        self._freshIds = _FreshIds()
        self._malformed = 0
        super().__init__(
            factory,
            endpoint,
            identity,
            maxMessageSize=maxMessageSize,
            security=security,
            maxQueuedSends=maxQueuedSends,
        )
        self._pending = PendingRequests(factory.reactor, self.maxPending)

    @property
    def _requests(self) -> dict[bytes, Deferred[list[bytes]]]:
        """message id -> the Deferred of the request awaiting its reply (txZMQ's name)."""
        return self._pending.waiting

    def _getNextId(self) -> bytes:
        """A request id never used before (see _FreshIds)."""
        if not self._uuids:
            self._uuids.extend(self._freshIds.take(self.UUID_POOL_GEN_SIZE))
        return self._uuids.pop()

    def _releaseId(self, messageId: bytes) -> None:
        """
        txZMQ's pool keeping: an answered request gives its place in the pool
        back, to a fresh id; the id itself is never used again, so even a
        duplicate reply from a confused peer cannot reach a newer request.
        """
        if len(self._uuids) < 2 * self.UUID_POOL_GEN_SIZE:
            self._uuids.extend(self._freshIds.take(1))

    def sendMsg(
        self, *messageParts: bytes | str, timeout: float | None = None
    ) -> Deferred[list[bytes]]:
        """
        Send a request of one or more frames; fire with the reply's frames (a list).

        With *timeout* (seconds; default ``defaultRequestTimeout``) it fails
        with ZmqRequestTimeoutError when no reply came by then. Cancelling it
        fails it with CancelledError; a reply that comes later is dropped.
        Fails with TooManyRequests when ``maxPending`` requests already wait,
        SendQueueFull when the send queue is full, ConnectionClosed after
        shutdown (and pending requests fail with it at shutdown).
        """
        parts = asFrames(list(messageParts), "request")
        if timeout is None:
            timeout = self.defaultRequestTimeout
        if timeout is not None:
            checkSeconds(timeout, "timeout")
        if self._closed:
            return fail(ConnectionClosed())
        messageId = self._getNextId()
        try:
            reply = self._pending.add(messageId, timeout)
        except TooManyRequests as error:
            self._uuids.append(messageId)  # never sent: still fresh
            return fail(error)
        try:
            self._enqueue(requestFrames(messageId, parts))
        except Exception as error:  # noqa: BLE001 - the request never left: fail it, keep nothing
            self._pending.waiting.pop(messageId, None)
            reply.errback(error)
        return reply

    def messageReceived(self, message: list[bytes]) -> None:
        """txZMQ's hook for raw frames: matches a reply to its request."""
        split = splitReply(message)
        if split is None:
            self._malformed += 1
            if _isWorthLogging(self._malformed):
                _log.warn(
                    "Dropped a reply that is not [messageId, b'', *parts] ({count} so far): "
                    "{frames}",
                    count=self._malformed,
                    frames=[frame[:32] for frame in message[:4]],
                )
            return
        messageId, parts = split
        reply = self._pending.take(messageId)
        if reply is None:
            _log.debug("Dropped a reply to request {id!r}, cancelled or timed out", id=messageId)
            return
        self._releaseId(messageId)
        fire(reply, parts, "the reply to sendMsg()")

    def _connectionClosed(self) -> None:
        self._pending.close(ConnectionClosed())


class ZmqREPConnection(Receiver[Request]):
    """
    Answers requests: ``serve(handler)``, or ``next()``/``async for`` giving
    Requests to ``reply()`` to, or txZMQ's ``gotMessage(messageId, *parts)``
    with ``reply(messageId, *parts)``.

    .. versionadded:: 0.1.0
    """

    socketType = zmq.ROUTER
    #: Most unanswered requests whose routes are remembered for reply(messageId).
    maxUnanswered = 10_000

    def __init__(
        self,
        factory: ZmqFactory,
        endpoint: ZmqEndpoint | None = None,
        identity: Any = None,
        *,
        maxMessageSize: int | None = None,
        security: Security | None = None,
        maxQueued: int | None = None,
        overflow: OverflowPolicy | str | None = None,
        maxQueuedSends: int | None = None,
        maxUnanswered: int | None = None,
    ) -> None:
        self._override(maxUnanswered=maxUnanswered)
        self._routes = RoutingMemory(checkCount(self.maxUnanswered, "maxUnanswered"))
        self._handler: Handler | None = None
        self._served: Deferred[None] | None = None
        self._malformed = 0
        self._forgotten = 0  # routes forgotten past maxUnanswered
        super().__init__(
            factory,
            endpoint,
            identity,
            maxMessageSize=maxMessageSize,
            security=security,
            maxQueued=maxQueued,
            overflow=overflow,
            maxQueuedSends=maxQueuedSends,
        )

    def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
        """
        txZMQ's hook: override (or assign) it to receive every request, and
        answer with ``reply(messageId, ...)``.
        """

    def reply(self, messageId: bytes, *messageParts: bytes | str) -> None:
        """
        txZMQ's way to answer the request *messageId* (see gotMessage).

        A request with no remembered route (answered already, or forgotten
        past ``maxUnanswered``) is logged and not answered.
        """
        self._checkOpen("reply")
        parts = asFrames(list(messageParts), "reply")  # before the route is used up
        envelope = self._routes.take(messageId)
        if envelope is None:
            _log.warn(
                "No unanswered request has id {id!r} (answered already, or more than "
                "maxUnanswered={limit} requests came since); the reply was dropped",
                id=messageId,
                limit=self._routes.limit,
            )
            return
        try:
            self._enqueue(replyFrames(envelope, parts))
        except Exception:
            self._routes.remember(envelope)  # not sent: it can still be answered
            raise

    def next(self, timeout: float | None = None) -> Deferred[Request]:
        """
        Fire with the next Request; answer it with ``request.reply(...)``.

        See Receiver.next(). While serve() runs, the handler gets every
        request, so this raises ConfigurationError.
        """
        self._checkNotServing("next()")
        return super().next(timeout)

    def nextBatch(
        self, maxCount: int = DEFAULT_BATCH_LIMIT, timeout: float | None = None
    ) -> Deferred[list[Request]]:
        """Fire with the queued Requests, up to *maxCount* (see Receiver.nextBatch())."""
        self._checkNotServing("nextBatch()")
        return super().nextBatch(maxCount, timeout)

    def __aiter__(self) -> Mailbox[Request]:
        """``async for request in rep``: next() in a loop, ending at shutdown."""
        self._checkNotServing("async for")
        return super().__aiter__()

    def _checkNotServing(self, what: str) -> None:
        if self._handler is not None:
            msg = f"{what} cannot receive: serve() hands every request to its handler"
            raise ConfigurationError(msg)

    def serve(self, handler: Handler) -> Deferred[None]:
        """
        Answer every request with ``handler(*parts)``: what it returns (one
        frame, a list of frames, or a Deferred or coroutine of them) is the reply.

        Requests already queued are served first, in order. A handler that
        raises or fails is logged and that request gets no reply (the
        requester's timeout applies); serving goes on. Returns a Deferred that
        fires when the connection shuts down.
        """
        checkCallable(handler, "handler")
        if self._closed:
            return fail(ConnectionClosed())
        if self._handler is not None:
            msg = "serve() is already serving this connection; call it once"
            raise ConfigurationError(msg)
        self._handler = handler
        self._served = Deferred()
        inbox = self._inbox
        while inbox._peek() is not None and not self._closed:
            self._handle(inbox._take())
        return self._served

    # -- internals -------------------------------------------------------------------

    def _configure(self, socket: zmq.Socket[bytes]) -> None:
        super()._configure(socket)
        routerMandatory(socket)

    def _decode(self, frames: list[bytes]) -> Request | None:
        split = splitRequest(frames)
        if split is None:
            self._malformed += 1
            if _isWorthLogging(self._malformed):
                _log.warn(
                    "Dropped a request without a valid envelope ({count} so far): {frames}",
                    count=self._malformed,
                    frames=[frame[:32] for frame in frames[:4]],
                )
            return None
        envelope, parts = split
        if self._routes.remember(envelope) is not None:
            self._forgotten += 1
            if _isWorthLogging(self._forgotten):
                _log.warn(
                    "More than maxUnanswered={limit} requests are unanswered; the oldest "
                    "routes are forgotten ({count} so far), and reply(messageId) cannot "
                    "answer those",
                    limit=self._routes.limit,
                    count=self._forgotten,
                )
        return Request(envelope, parts, self._answer)

    def _legacyConsumer(self) -> Callable[[Request], object] | None:
        hook = hookOf(self, "gotMessage", ZmqREPConnection)
        if hook is not None:
            return lambda request: hook(request.messageId, *request.parts)
        return self._handle if self._handler is not None else None

    def _answer(self, envelope: Envelope, parts: tuple[bytes | str, ...]) -> None:
        """Request.reply(): send, then forget the route (a refused reply keeps it)."""
        self._checkOpen("reply")
        self._enqueue(replyFrames(envelope, asFrames(list(parts), "reply")))
        self._routes.forget(envelope)

    def _handle(self, request: Request) -> None:
        """serve()'s consumer: run the handler, and reply with what it gives."""
        handler = self._handler
        assert handler is not None  # noqa: S101 - only installed by serve()
        try:
            result = handler(*request.parts)
        except Exception:  # noqa: BLE001 - rule: log, no reply, keep serving
            _log.failure(
                "The serve() handler raised; request {id!r} gets no reply", id=request.messageId
            )
            self._routes.forget(request.envelope)
            return
        if isinstance(result, Deferred) or iscoroutine(result):
            answered = ensureDeferred(result)
            answered.addCallback(self._replyWith, request)
            answered.addErrback(self._handlerFailed, request)
        else:
            self._replyWith(result, request)

    def _replyWith(self, result: object, request: Request) -> None:
        if self._closed:
            return  # shut down while the handler worked: nobody to answer
        if isinstance(result, (bytes, str)):
            parts: Iterable[bytes | str] = (result,)
        elif isinstance(result, (list, tuple)):
            parts = result
        else:
            _log.error(
                "The serve() handler returned {result} for request {id!r}; return the "
                "reply: bytes, str, or a list of them. The request gets no reply",
                result=describe(result),
                id=request.messageId,
            )
            self._routes.forget(request.envelope)
            return
        try:
            request.reply(*parts)
        except Exception:  # noqa: BLE001 - a bad reply must not stop serving
            _log.failure(
                "Could not send the reply the serve() handler gave for {id!r}",
                id=request.messageId,
            )
            self._routes.forget(request.envelope)

    def _handlerFailed(self, failure: Failure, request: Request) -> None:
        _log.failure(
            "The serve() handler failed; request {id!r} gets no reply",
            failure=failure,
            id=request.messageId,
        )
        self._routes.forget(request.envelope)

    def _connectionClosed(self) -> None:
        super()._connectionClosed()
        self._routes.clear()
        served, self._served = self._served, None
        if served is not None:
            served.callback(None)


#: txZMQ's old names.
ZmqXREQConnection = ZmqREQConnection
ZmqXREPConnection = ZmqREPConnection
