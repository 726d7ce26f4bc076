# -*- test-case-name: tests.test_pushpull,tests.test_routerdealer,tests.test_reqrep -*-
"""
Receiver: a connection whose messages queue in one Mailbox.

PULL, DEALER, ROUTER and REP connections are Receivers: what arrives is
read with ``next()``, ``nextBatch()`` or ``async for``, with the Mailbox's
rules (bounded, cancellable, closed on shutdown). A txZMQ-style subclass that
overrides the class's hook (``onPull``, ``gotMessage``) receives every message
there instead, and the queue then stores nothing (``next()`` would wait for
ever). One that overrides ``messageReceived`` gets the raw frames of each
message, as with txZMQ.

The queue's default overflow policy is PAUSE, the natural one for a
pipeline: a full queue stops the reader, the socket's own queue fills up to
its high-water mark, and the peers' sends then wait; nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ._connection import ZmqConnection
from ._core._buffer import DEFAULT_MAX_QUEUED, OverflowPolicy, QueueStatistics, checkOverflow
from ._core._checks import checkCount
from ._core._endpoint import ZmqEndpoint
from ._errors import ConnectionClosed
from ._factory import ZmqFactory
from ._mailbox import DEFAULT_BATCH_LIMIT, Batches, Mailbox
from ._security import Security

__all__ = ["Receiver", "hookOf"]

_log = Logger()

T = TypeVar("T")


def hookOf(connection: object, name: str, base: type) -> Callable[..., object] | None:
    """
    *connection*'s txZMQ hook *name* if user code provides it: overridden in
    a subclass of *base*, or assigned on the instance (as txZMQ's examples do).
    """
    assigned: Callable[..., object] | None = vars(connection).get(name)
    if assigned is not None:
        return assigned
    if getattr(type(connection), name) is not getattr(base, name):
        hook: Callable[..., object] = getattr(connection, name)
        return hook
    return None


class Receiver(ZmqConnection, Generic[T]):
    """The Deferred-first reading of PULL, DEALER, ROUTER and REP connections."""

    #: Most messages the queue holds.
    maxQueued = DEFAULT_MAX_QUEUED
    #: What a full queue does; PAUSE stops reading, so peers wait and nothing is lost.
    overflowPolicy = OverflowPolicy.PAUSE
    #: How a message's frames become an item (None: the frames are the item).
    #: It returns None for a malformed message, which it has logged.
    _decode: Callable[[list[bytes]], T | None] | None = None

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
    ) -> None:
        bound = checkCount(self.maxQueued if maxQueued is None else maxQueued, "maxQueued")
        policy = checkOverflow(self.overflowPolicy if overflow is None else overflow)
        self._inbox: Mailbox[T] = Mailbox[T]._create(
            what=f"{type(self).__name__}.next()",
            clock=factory.reactor if isinstance(factory, ZmqFactory) else None,
            maxQueued=bound,
            overflow=policy,
            onFull=self._inboxFull,
            onReadable=self._inboxReadable,
            onFlush=self._flushLater,
        )
        self._flushDue = False
        super().__init__(
            factory,
            endpoint,
            identity,
            maxMessageSize=maxMessageSize,
            security=security,
            maxQueuedSends=maxQueuedSends,
        )

    # -- the consumer's API -------------------------------------------------------

    def next(self, timeout: float | None = None) -> Deferred[T]:
        """
        Fire with the next message; one already queued is returned at once.

        With *timeout* (seconds) it fails with ReceiveTimeout if nothing came
        by then. Cancelling it, or its timeout, loses nothing: the message goes
        to the next reader. Fails with ConnectionClosed after shutdown.
        """
        if timeout is None:  # Mailbox.next(), one call less on the hot path
            return self._inbox._wait(Deferred, 0, iterating=False)  # noqa: SLF001
        return self._inbox.next(timeout)

    def nextBatch(
        self, maxCount: int = DEFAULT_BATCH_LIMIT, timeout: float | None = None
    ) -> Deferred[list[T]]:
        """
        Fire with every queued message, oldest first, up to *maxCount*: one
        Deferred per batch instead of one per message, for high rates. If none
        is queued it waits for the next read batch. *timeout*, cancelling and
        shutdown behave as for next().
        """
        return self._inbox.nextBatch(maxCount, timeout)

    def batches(self, maxCount: int = DEFAULT_BATCH_LIMIT) -> Batches[T]:
        """``async for batch in conn.batches(n)``: nextBatch() in a loop, ending at shutdown."""
        return self._inbox.batches(maxCount)

    def __aiter__(self) -> Mailbox[T]:
        """``async for message in conn``: next() in a loop, ending at shutdown."""
        return self._inbox.__aiter__()

    def statistics(self) -> QueueStatistics:
        """A snapshot of the queue: queued, peak, dropped, waiting, and its limits."""
        return self._inbox.statistics()

    # -- txZMQ's hook for raw frames ------------------------------------------------

    def messageReceived(self, message: list[bytes]) -> None:
        """
        txZMQ's hook for raw frames: decodes *message* and delivers it.

        Override it to see every message's frames; call this implementation
        from yours to deliver it as usual.
        """
        self._deliver([message])

    def _legacyConsumer(self) -> Callable[[T], object] | None:
        """Hook: the txZMQ-style consumer to call per item instead of queueing, if any."""
        return None

    # -- internals --------------------------------------------------------------------

    def _receiveBatch(self, batch: list[list[bytes]]) -> None:
        overridden = type(self).messageReceived is not Receiver.messageReceived
        if overridden or "messageReceived" in vars(self):
            ZmqConnection._receiveBatch(self, batch)  # noqa: SLF001 - messageReceived per message
            return
        self._deliver(batch)

    def _deliver(self, batch: list[list[bytes]]) -> None:
        """Decode each message and queue it, or hand it to the consumer."""
        inbox = self._inbox
        put = inbox._put
        decode = self._decode
        consumer = self._legacyConsumer()
        if consumer is not None:
            self._consumeAll(batch, consumer)
        elif decode is None:
            putFrames = cast("Callable[[list[bytes]], bool]", put)  # the frames are the item
            for frames in batch:
                putFrames(frames)
        else:
            for frames in batch:
                item = decode(frames)
                if item is not None:
                    put(item)
        if self._flushDue:
            self._flushDue = False
            inbox._flush()

    def _consumeAll(self, batch: list[list[bytes]], consumer: Callable[[T], object]) -> None:
        """
        Hand every item to *consumer*, and nothing to the queue: a queue
        nobody reads would fill, and under PAUSE stop the reader for good.
        """
        decode = self._decode
        for frames in batch:
            if self._closed:
                return
            item = cast("T", frames) if decode is None else decode(frames)
            if item is None:
                continue
            try:
                consumer(item)
            except Exception:  # noqa: BLE001 - a raising consumer must not stop delivery
                _log.failure("{connection}'s handler raised; delivery continues", connection=self)

    def _flushLater(self, _: object) -> None:
        self._flushDue = True

    def _inboxFull(self, _: object) -> None:
        self._reader.pause()

    def _inboxReadable(self, _: object) -> None:
        if not self._closed:
            self._reader.resume()

    def _connectionClosed(self) -> None:
        self._inbox._close(ConnectionClosed(), discard=True)
