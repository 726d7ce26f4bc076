# -*- test-case-name: tests.test_pubsub -*-
"""
The subscriber: SUB socket options kept in step with a TopicRouter, and every
received message fanned out to the queues (Subscriptions) it matches.

The router's reference counts decide when the SUBSCRIBE/UNSUBSCRIBE socket
options change, so what libzmq filters and what we route always agree.

A message from a sequenced publisher (three frames, the third a stamp) goes
through the subscriber's StreamRecovery first (``_recovery``): the next of
its stream comes straight back to the inlined delivery below; anything else
(a gap, a repeat, a heartbeat, held or released messages) takes the slow path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import zmq
from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger

from ._connection import ReadOnlyView, ZmqConnection
from ._core._buffer import DEFAULT_MAX_QUEUED, DEFAULT_OVERFLOW, OverflowPolicy, checkOverflow
from ._core._checks import checkCount
from ._core._endpoint import ZmqEndpoint
from ._core._framing import decodeFrames
from ._core._message import Message, asBytes, trustedMessage
from ._core._routing import TopicRouter
from ._core._stamp import MAGIC
from ._errors import ConnectionClosed, SubscriptionClosed
from ._factory import ZmqFactory
from ._recovery import SequencedReceiving
from ._security import Security
from ._subscription import Subscription

__all__ = ["Subscriber"]

_log = Logger()

#: Longest subscription tag: libzmq 4.3's subscription trie recurses once per
#: byte, and a socket holding a prefix of ~200 KB crashes (stack overflow) on close.
MAX_TAG_LENGTH = 64 * 1024


class _SubscriptionsView(Mapping[bytes, Subscription]):
    """``sub.subscriptions``: a live read-only view of the router, without hidden probes."""

    __slots__ = ("_owner",)

    def __init__(self, owner: Subscriber) -> None:
        self._owner = owner

    def __getitem__(self, tag: bytes) -> Subscription:
        subscription = self._owner._router.get(tag)  # noqa: SLF001
        if subscription is None or subscription._hidden:  # noqa: SLF001
            raise KeyError(tag)
        return subscription

    def __iter__(self) -> Iterator[bytes]:
        targets = self._owner._router.targets()  # noqa: SLF001
        return (s.tag for s in targets if not s._hidden)  # noqa: SLF001

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"<subscriptions {dict(self)!r}>"


class Subscriber(SequencedReceiving, ZmqConnection):
    """The Deferred-first subscriber; ZmqSubConnection adds txZMQ's gotMessage on top."""

    socketType = zmq.SUB
    #: Default bound of each subscription's queue.
    maxQueued = DEFAULT_MAX_QUEUED
    #: Default overflow policy of each subscription's queue.
    overflowPolicy = DEFAULT_OVERFLOW

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
        replay: ZmqEndpoint | Sequence[ZmqEndpoint] | None = None,
        replayTimeout: float | None = None,
    ) -> None:
        self._setUpRecovery(replay, replayTimeout)
        bound = self.maxQueued if maxQueued is None else maxQueued
        self._maxQueued = checkCount(bound, "maxQueued")
        self._overflow = checkOverflow(self.overflowPolicy if overflow is None else overflow)
        self._router: TopicRouter[Subscription] = TopicRouter()
        self._holdingQueues: set[Subscription] = set()
        self._hiddenCount = 0
        # Subscribed prefixes containing topicSep's first byte (see _deliver).
        self._prefixesWithSeparator = 0
        # Subscriptions with a nextBatch() waiting, to serve when the batch ends.
        self._toFlush: list[Subscription] = []
        super().__init__(
            factory, endpoint, identity, maxMessageSize=maxMessageSize, security=security
        )
        self._startReplaying()

    def subscribe(self, tag: bytes | str) -> Subscription:
        """
        Receive messages whose topic starts with *tag* (``b""``: everything).

        Returns the tag's Subscription, whose queue ``next(tag)`` also reads;
        subscribing again returns the same one and adds a reference, as ZeroMQ
        counts subscriptions. txZMQ-style code may ignore the result.
        """
        tag = asBytes(tag, "tag")
        if len(tag) > MAX_TAG_LENGTH:
            msg = (
                f"tag is {len(tag):,} bytes; subscriptions are limited to {MAX_TAG_LENGTH:,} "
                "(libzmq's subscription trie recurses once per byte)"
            )
            raise ValueError(msg)
        self._checkOpen("subscribe")
        subscription, new = self._router.subscribe(tag, lambda: self._newSubscription(tag))
        if new:
            if self.topicSep[:1] in tag:
                self._prefixesWithSeparator += 1
            self._socket.set(zmq.SUBSCRIBE, tag)
            self._reader.kick()
        return subscription

    def unsubscribe(self, tag: bytes | str) -> None:
        """
        Drop one reference to the subscription to *tag*.

        When the last goes, ZeroMQ stops delivering it and its Subscription
        closes: what it queued can still be read, then it fails with
        SubscriptionClosed. Unsubscribing what is not subscribed does nothing,
        as in ZeroMQ, and so does unsubscribing after shutdown.
        """
        tag = asBytes(tag, "tag")
        if self._closed:
            return
        subscription, last = self._router.unsubscribe(tag)
        if subscription is None or not last:
            return
        self._socket.set(zmq.UNSUBSCRIBE, tag)
        self._reader.kick()
        self._forgetUnsubscribed()
        if self.topicSep[:1] in tag:
            self._prefixesWithSeparator -= 1
        if subscription._hidden:  # noqa: SLF001
            self._hiddenCount -= 1
        msg = f"the subscription to {tag!r} was unsubscribed; subscribe again to receive"
        subscription._close(SubscriptionClosed(msg), discard=False)

    def next(self, tag: bytes | str = b"", timeout: float | None = None) -> Deferred[Message]:
        """
        Fire with the next Message routed to *tag*'s queue.

        Subscribes to *tag* first if it is not subscribed (and stays subscribed,
        so nothing published between two calls is lost). With *timeout*
        (seconds) it fails with ReceiveTimeout if nothing arrived by then.
        Cancelling the Deferred, or its timeout, loses no message: it goes to
        the next reader. After shutdown it fails at once with ConnectionClosed.
        """
        if type(tag) is not bytes:
            tag = asBytes(tag, "tag")
        if self._closed:
            return fail(ConnectionClosed())
        subscription = self._router.get(tag)
        if subscription is None:
            subscription = self.subscribe(tag)
        if timeout is None:  # Subscription.next(), one call less on the hot path
            return subscription._wait(Deferred, 0, iterating=False)  # noqa: SLF001
        return subscription.next(timeout)

    #: A read-only mapping of the subscribed tags (bytes) to their
    #: Subscription. Reading it subscribes nothing (unlike ``subscribe(tag)``),
    #: so ``sub.subscriptions[tag].statistics()`` leaves the counts alone.
    #: ``.. versionadded:: 0.1.0``
    subscriptions = ReadOnlyView[Mapping[bytes, Subscription]](_SubscriptionsView)

    # -- internals -------------------------------------------------------------------

    def _newSubscription(self, tag: bytes) -> Subscription:
        return Subscription._create(
            tag,
            clock=self._factory.reactor,
            maxQueued=self._maxQueued,
            overflow=self._overflow,
            onFull=self._queueFull,
            onReadable=self._queueReadable,
            onFlush=self._flushLater,
        )

    def _queueFull(self, subscription: Subscription) -> None:
        self._holdingQueues.add(subscription)
        self._reader.pause()

    def _queueReadable(self, subscription: Subscription) -> None:
        self._holdingQueues.discard(subscription)
        if not self._holdingQueues and not self._closed:
            self._reader.resume()

    def _connectionClosed(self) -> None:
        reason = ConnectionClosed()
        for subscription in self._router.targets():
            subscription._close(reason, discard=True)
        self._router = TopicRouter()
        self._holdingQueues.clear()
        self._stopRecovery()

    def _receiveBatch(self, batch: list[list[bytes]]) -> None:
        self._deliver(batch)
        if self._toFlush:
            self._flushBatchWaiters()

    def _flushLater(self, subscription: Subscription) -> None:
        self._toFlush.append(subscription)

    def _flushBatchWaiters(self) -> None:
        pending, self._toFlush = self._toFlush, []
        for subscription in pending:
            subscription._flush()

    def _legacyConsumer(self) -> Callable[[bytes, bytes], object] | None:
        """Hook: the txZMQ-style consumer (gotMessage) to call per message, if any."""
        return None

    def _deliver(self, batch: list[list[bytes]]) -> None:  # noqa: C901, PLR0912 - the hot loop, inlined on purpose
        """
        Route each message of *batch* to the queues it matches.

        With a legacy consumer (txZMQ's gotMessage), it is also called once per message,
        and only queues somebody has read get messages: a legacy consumer does not pay
        for queues it never reads. Whenever user code has run (a consumer, a next()
        callback), the consumer is looked up again: it may have set ``gotMessage``.
        """
        router = self._router
        route, routeCached = router.route, router.routeCached
        # With no prefix that could reach past a tag into the separator, a
        # one-frame message matches exactly what its tag matches, and tags
        # repeat: route by tag, through the cache.
        byTag = not self._prefixesWithSeparator
        separator = self.topicSep
        consumer = self._legacyConsumer()
        # Without a consumer, one can only appear by a callback assigning
        # conn.gotMessage, which adds an instance attribute: watching the
        # attribute count is enough, and cheaper than asking every message.
        attributes = self.__dict__
        attributeCount = len(attributes)
        for frames in batch:
            if self._closed:
                return
            if len(frames) == 1:  # txZMQ's framing, inlined: the common case
                tag, found, body = frames[0].partition(separator)
                if found:
                    message = trustedMessage(tag, body)
                    matched = routeCached(tag) if byTag else route(frames[0])
                else:
                    message = trustedMessage(b"", tag)
                    matched = route(tag)
            elif len(frames) == 3 and frames[2][:3] == MAGIC:  # stamped: sequenced
                recovery = self._recovery or self._startRecovery()
                stamped = recovery.accept(frames, matched := routeCached(frames[0]))
                if stamped is None:  # held, repeated, a heartbeat, or more than one
                    self._deliverReady()
                    consumer, attributeCount = self._legacyConsumer(), len(attributes)
                    continue
                message = stamped
            else:
                message = decodeFrames(frames, separator)
                first = frames[0] if frames else b""  # [] only from user code (messageReceived)
                matched = routeCached(first) if len(frames) == 2 else route(first)
            if consumer is None:
                ranCallbacks = False
                for subscription in matched:
                    if subscription._put(message):
                        ranCallbacks = True
                if ranCallbacks and len(attributes) != attributeCount:
                    attributeCount = len(attributes)
                    consumer = self._legacyConsumer()
                continue
            forUser = self._forUser(matched)  # before any callback can unsubscribe
            for subscription in matched:
                if subscription._reading:  # noqa: SLF001
                    subscription._put(message)
            if forUser:
                self._consume(consumer, message)
                consumer = self._legacyConsumer()  # gotMessage may have replaced itself

    def _forUser(self, matched: tuple[Subscription, ...]) -> bool:
        """
        Is a message with these matching subscriptions one gotMessage should see?

        Not when it matches nothing any more (unsubscribed since ZeroMQ queued it;
        libzmq would have filtered it had we read it later), nor when it matches
        only hidden subscriptions (test probes).
        """
        if not matched:
            return False
        if self._hiddenCount:
            return not all(s._hidden for s in matched)  # noqa: SLF001
        return True

    def _consume(self, consumer: Callable[[bytes, bytes], object], message: Message) -> None:
        try:
            consumer(message.body, message.tag)
        except Exception:  # noqa: BLE001 - a raising consumer must not stop delivery
            _log.failure("gotMessage raised for tag {tag!r}; delivery continues", tag=message.tag)

    def _subscribeHidden(self, tag: bytes) -> Subscription:
        """Subscribe for txzpub's own use (test probes): never seen by gotMessage."""
        subscription = self.subscribe(tag)
        if not subscription._hidden:  # noqa: SLF001
            subscription._hidden = True  # noqa: SLF001
            self._hiddenCount += 1
        return subscription
