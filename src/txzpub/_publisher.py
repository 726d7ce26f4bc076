# -*- test-case-name: tests.test_pubsub,tests.test_awareness -*-
"""
ZmqPubConnection: publish (tag, body) pairs in txZMQ's wire format, and see
who listens.

The socket is an XPUB, which is PUB on the wire (plain SUB peers, pyzmq's and
txZMQ's, notice nothing) but also hands the publisher the subscriptions its
peers send: one frame, ``b"\\x01" + prefix`` to subscribe, ``b"\\x00" + prefix``
to unsubscribe. With XPUB_VERBOSER (libzmq >= 4.3) every subscribe and every
unsubscribe comes through, including the unsubscribes libzmq makes up when a
peer disconnects, so the counts are exact. (XPUB_VERBOSE alone passes every
subscribe but, as checked against libzmq 4.3.5, only the *last* unsubscribe of
a prefix; on a libzmq without VERBOSER an unsubscribe therefore drops the
prefix's whole count.)

What a count means: a SUB socket sends a prefix upstream once however often it
is subscribed locally (and txzpub's subscriber reference-counts the same way),
so ``subscriptions[prefix]`` is the number of connected peers subscribed to
*prefix*. A proxy's XSUB side forwards what its own subscribers send, so
through a verbose proxy it counts the subscribers behind the proxy.

The subscription messages are read by the usual SocketReader, started on
the first publish() or the first use of the awareness API (until then libzmq
keeps them queued, so no count is missed, and a publisher that does neither
registers nothing with the reactor). Publishing stays one non-blocking send. A
send may process libzmq's pending commands and so swallow the edge of the
edge-triggered ZMQ_FD (see _reader), so the first publish of each reactor turn
schedules one read of the subscription messages: one attribute test per
publish, no more.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import zmq
from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger

from ._connection import ZmqConnection
from ._core._endpoint import ZmqEndpoint
from ._core._framing import fitsOneFrame
from ._core._message import asBytes
from ._errors import ConnectionClosed, TxzpubError
from ._factory import ZmqFactory
from ._security import Security

__all__ = ["PublishQueueFull", "SubscriberTimeout", "ZmqPubConnection"]

_log = Logger()

_NOBLOCK = zmq.NOBLOCK
# The backend's send, skipping pyzmq's Python-level Socket.send wrapper (which
# only adds routing_id/group handling, unused by XPUB): about 150 ns a message.
_send = zmq.backend.Socket.send
_SNDMORE = zmq.SNDMORE | zmq.NOBLOCK
_SUBSCRIBE = 1
_UNSUBSCRIBE = 0


class SubscriberTimeout(TxzpubError, TimeoutError):
    """
    ``waitForSubscribers(count, tag, timeout)`` gave up: fewer than *count*
    subscriptions matching *tag* had reached the publisher after *timeout*
    seconds. Check that the subscribers connect to the right address and
    subscribe to a prefix of the tag.

    .. versionadded:: 0.1.0
    """


class PublishQueueFull(TxzpubError):
    """
    publishLossless() could not even queue the message: ``maxPending`` messages
    already wait for slow subscribers. Wait for earlier publishLossless()
    Deferreds before publishing more, or raise ``maxPending``.

    .. versionadded:: 0.1.0
    """


class _Waiter:
    __slots__ = ("count", "deferred", "tag", "timer")

    def __init__(self, count: int, tag: bytes) -> None:
        self.count = count
        self.tag = tag
        self.deferred: Deferred[None] | None = None
        self.timer: Any = None  # an IDelayedCall


class _ReadOnlyView:
    """
    ``pub.subscriptions``: a non-data descriptor, so a legacy subclass that
    assigns ``self.subscriptions`` keeps its own attribute (it shadows this).
    """

    def __get__(self, instance: Any, owner: Any = None) -> Mapping[bytes, int]:
        if instance is None:
            return self  # type: ignore[return-value]
        instance._listen()  # noqa: SLF001
        view: Mapping[bytes, int] = instance._subscriptionsView  # noqa: SLF001
        return view


class ZmqPubConnection(ZmqConnection):
    """
    Publishes messages with a topic tag, as txZMQ's ZmqPubConnection.

    By default each message is one frame, ``tag + topicSep + message``, which
    txZMQ subscribers understand. With ``multipartFraming=True`` (class attribute
    or keyword) each message is two frames, ``[tag, message]``, which lets tags
    contain any byte; txzpub and txZMQ subscribers accept both.

    It also tracks its peers' subscriptions: ``subscriptions``,
    ``waitForSubscribers()`` and ``onSubscription()``.

    .. versionadded:: 0.1.0
    """

    socketType = zmq.XPUB
    #: Publish ``[tag, message]`` as two frames instead of one.
    multipartFraming = False
    #: Keep the last message of every tag and send, whenever a subscription
    #: arrives, the last message of each tag it matches, so late joiners start
    #: with the current state (the ZeroMQ guide's last value cache). Existing
    #: subscribers of those tags receive the repeat too; the cache holds one
    #: message per distinct tag ever published. ``.. versionadded:: 0.1.0``
    lastValueCache = False
    #: Set XPUB_NODROP: at a peer's high-water mark a send fails instead of
    #: dropping, so publishLossless() can wait. publish() then raises zmq.Again
    #: at the high-water mark. ``.. versionadded:: 0.1.0``
    noDrop = False
    #: Most messages publishLossless() holds while peers are at their
    #: high-water mark; beyond it, it fails with PublishQueueFull.
    maxPending = 10_000
    #: XPUB receives its peers' subscriptions, but its reader starts lazily (_listen).
    _receives = False

    #: A live, read-only mapping: subscribed prefix (bytes) -> how many peers
    #: subscribe to it (see the module docstring). Prefixes with no subscriber
    #: are absent. ``.. versionadded:: 0.1.0``
    subscriptions = _ReadOnlyView()

    def __init__(
        self,
        factory: ZmqFactory,
        endpoint: ZmqEndpoint | None = None,
        identity: Any = None,
        *,
        maxMessageSize: int | None = None,
        security: Security | None = None,
        multipartFraming: bool | None = None,
        lastValueCache: bool | None = None,
        noDrop: bool | None = None,
    ) -> None:
        if multipartFraming is not None:
            self.multipartFraming = bool(multipartFraming)
        if lastValueCache is not None:
            self.lastValueCache = bool(lastValueCache)
        if noDrop is not None:
            self.noDrop = bool(noDrop)
        # publishLossless() messages waiting for the high-water mark to clear.
        self._pending: deque[tuple[list[bytes], Deferred[None]]] = deque()
        # tag -> the last message published with it (only with lastValueCache).
        self._lastValues: dict[bytes, bytes] = {}
        self._counts: dict[bytes, int] = {}
        self._subscriptionsView = MappingProxyType(self._counts)
        self._waiters: list[_Waiter] = []
        self._observers: list[Callable[[bytes, bool], object]] = []
        self._exactUnsubscribes = True
        self._recheckPending = False
        self._recheckCall: Any = None  # the IDelayedCall of _recheckAfterSend
        self._listening = False
        super().__init__(
            factory, endpoint, identity, maxMessageSize=maxMessageSize, security=security
        )

    def _configure(self, socket: zmq.Socket[bytes]) -> None:
        super()._configure(socket)
        # Before any endpoint is attached, so no subscription goes unseen.
        if self.noDrop:
            socket.set(zmq.XPUB_NODROP, 1)
        try:
            socket.set(zmq.XPUB_VERBOSER, 1)
        except (AttributeError, zmq.ZMQError):  # pragma: no cover - libzmq < 4.3
            socket.set(zmq.XPUB_VERBOSE, 1)
            self._exactUnsubscribes = False

    def publish(self, message: bytes | str, tag: bytes | str = b"") -> None:
        """
        Send *message* to every subscriber whose subscription is a prefix of *tag*.

        str arguments are sent as UTF-8; anything else but bytes is a TypeError.
        With one-frame framing a tag containing ``topicSep`` is a ValueError.
        """
        if type(message) is not bytes:
            message = asBytes(message, "message")
        if type(tag) is not bytes:
            tag = asBytes(tag, "tag")
        try:
            if self.multipartFraming:
                _send(self._socket, tag, _SNDMORE)
                _send(self._socket, message, _NOBLOCK)
            else:
                separator = self.topicSep
                if separator in tag or (len(separator) > 1 and not fitsOneFrame(tag, separator)):
                    self._refuseTag(tag)
                _send(self._socket, tag + separator + message, _NOBLOCK)
        except zmq.ZMQError:
            # Checked only on failure, to keep the hot path to one send.
            self._checkOpen("publish")
            raise
        if self.lastValueCache:
            self._lastValues[tag] = message
        if not self._recheckPending:
            self._recheckAfterSend()

    def publishLossless(self, message: bytes | str, tag: bytes | str = b"") -> Deferred[None]:
        """
        Publish without ever dropping: fire once the message is handed to ZeroMQ.

        Needs ``noDrop=True``. While any subscriber is at its high-water mark the
        message waits in a local queue of at most ``maxPending`` messages (they
        leave in order as subscribers catch up); wait for the Deferred before
        publishing more to apply that backpressure upstream. Fails with
        PublishQueueFull when the queue is full, and with ConnectionClosed if
        the connection shuts down first. Do not mix it with publish(), which
        would overtake messages still queued here.

        .. versionadded:: 0.1.0
        """
        if not self.noDrop:
            msg = "publishLossless() needs a publisher created with noDrop=True"
            raise ValueError(msg)
        message = asBytes(message, "message")
        tag = asBytes(tag, "tag")
        if self.multipartFraming:
            frames = [tag, message]
        else:
            if not fitsOneFrame(tag, self.topicSep):
                self._refuseTag(tag)
            frames = [tag + self.topicSep + message]
        if self._closed:
            return fail(ConnectionClosed())
        if not self._pending and self._sendFrames(frames):
            return succeed(None)
        if len(self._pending) >= self.maxPending:
            msg = (
                f"{len(self._pending)} messages already wait for slow subscribers "
                f"(maxPending={self.maxPending}); wait for earlier publishLossless() "
                "Deferreds before publishing more"
            )
            return fail(PublishQueueFull(msg))
        sent: Deferred[None] = Deferred()
        self._pending.append((frames, sent))
        self._listen()
        self._reader.onWritable = self._sendPending
        self._reader.kick()
        return sent

    # -- subscriber awareness (txzpub's addition) -----------------------------------

    def waitForSubscribers(
        self, count: int = 1, tag: bytes | str = b"", timeout: float | None = None
    ) -> Deferred[None]:
        """
        Fire (with None) once at least *count* subscriptions matching *tag* have
        reached this publisher: subscriptions to ``b""`` or to any prefix of *tag*,
        counted as in ``subscriptions``. Fires at once if that is already so.

        A message published after it fires reaches those subscribers (the cure
        for ZeroMQ's slow joiner). With *timeout* (seconds, on the factory's
        reactor) it fails with SubscriberTimeout when that passes first; it fails
        with ConnectionClosed on shutdown, and can be cancelled.

        .. versionadded:: 0.1.0
        """
        tag = asBytes(tag, "tag")
        if type(count) is not int or count < 0:
            msg = f"count must be a non-negative int, not {count!r}"
            raise ValueError(msg)
        if timeout is not None and not timeout >= 0:
            msg = f"timeout must be None or a non-negative number of seconds, not {timeout!r}"
            raise ValueError(msg)
        if self._closed:
            return fail(ConnectionClosed())
        self._listen()
        if self._matching(tag) >= count:
            return succeed(None)
        waiter = _Waiter(count, tag)

        def cancel(_: Deferred[None]) -> None:
            self._forget(waiter)

        d: Deferred[None] = Deferred(cancel)
        waiter.deferred = d
        if timeout is not None:
            waiter.timer = self._factory.reactor.callLater(timeout, self._expire, waiter, timeout)
        self._waiters.append(waiter)
        return d

    def onSubscription(self, callback: Callable[[bytes, bool], object]) -> Callable[[], None]:
        """
        Call ``callback(prefix, subscribed)`` for every subscription message from
        now on: *subscribed* is True for a subscribe, False for an unsubscribe
        (also the one libzmq sends for a peer that disconnects). Returns a
        function that unregisters the callback (calling it twice is fine).
        Exceptions from the callback are logged and do not stop the others.

        .. versionadded:: 0.1.0
        """
        if not callable(callback):
            msg = f"callback must be callable, not {callback!r}"
            raise TypeError(msg)
        self._listen()  # first, so that what was queued before is not reported
        self._observers.append(callback)

        def unregister() -> None:
            if callback in self._observers:
                self._observers.remove(callback)

        return unregister

    # -- internals ---------------------------------------------------------------------

    def _sendFrames(self, frames: list[bytes]) -> bool:
        """Send one message without blocking; False when a peer is at its high-water mark."""
        try:
            for frame in frames[:-1]:
                _send(self._socket, frame, _SNDMORE)
            _send(self._socket, frames[-1], _NOBLOCK)
        except zmq.Again:
            return False
        return True

    def _sendPending(self) -> None:
        """The reader saw POLLOUT: send what publishLossless() queued, in order."""
        pending = self._pending
        while pending:
            frames, sent = pending[0]
            if not self._sendFrames(frames):
                return  # still full: the FD fires again when the peer catches up
            pending.popleft()
            sent.callback(None)
        self._reader.onWritable = None

    def _refuseTag(self, tag: bytes) -> None:
        msg = (
            f"tag {tag!r} contains (or runs into) the separator {self.topicSep!r}, which "
            "one-frame framing cannot carry; remove it or publish with multipartFraming=True"
        )
        raise ValueError(msg)

    def _recheckAfterSend(self) -> None:
        self._recheckPending = True
        self._recheckCall = self._factory.reactor.callLater(0, self._recheck)

    def _recheck(self) -> None:
        self._recheckPending = False
        self._recheckCall = None
        if not self._listening:
            self._listen()
        elif not self._closed:
            self._reader.doRead()

    def _listen(self) -> None:
        """Start reading subscriptions (once), and read those already queued now."""
        if self._listening or self._closed:
            return
        self._listening = True
        self._reader.start()
        self._reader.doRead()

    def _matching(self, tag: bytes) -> int:
        return sum(n for prefix, n in self._counts.items() if tag.startswith(prefix))

    def _receiveBatch(self, batch: list[list[bytes]]) -> None:
        counts = self._counts
        changed = False
        for frames in batch:
            if self._closed:
                return
            frame = frames[0]
            if len(frames) != 1 or not frame or frame[0] > _SUBSCRIBE:
                continue  # not a subscription (an XSUB peer may send anything)
            prefix = frame[1:]
            subscribed = frame[0] == _SUBSCRIBE
            if subscribed:
                counts[prefix] = counts.get(prefix, 0) + 1
            elif prefix in counts:
                left = counts[prefix] - 1 if self._exactUnsubscribes else 0
                if left > 0:
                    counts[prefix] = left
                else:
                    del counts[prefix]
            changed = True
            if subscribed and self._lastValues:
                self._replayLastValues(prefix)
            if self._observers:
                self._notify(prefix, subscribed)
        if changed and self._waiters:
            self._wakeWaiters()

    def _replayLastValues(self, prefix: bytes) -> None:
        """Send the last message of every cached tag whose first frame *prefix* matches."""
        separator, twoFrames = self.topicSep, self.multipartFraming
        for tag, message in list(self._lastValues.items()):
            frame = tag if twoFrames else tag + separator + message
            if not frame.startswith(prefix):  # as ZeroMQ matches: on the first frame
                continue
            try:
                if twoFrames:
                    _send(self._socket, tag, _SNDMORE)
                    _send(self._socket, message, _NOBLOCK)
                else:
                    _send(self._socket, frame, _NOBLOCK)
            except zmq.ZMQError as error:  # as a publish would, at the high-water mark
                _log.debug("last value for {tag!r} not replayed: {error}", tag=tag, error=error)

    def _notify(self, prefix: bytes, subscribed: bool) -> None:
        for observer in list(self._observers):
            self._call(observer, prefix, subscribed)

    def _call(self, observer: Callable[[bytes, bool], object], prefix: bytes, sub: bool) -> None:
        try:
            observer(prefix, sub)
        except Exception:  # noqa: BLE001 - one bad observer must not stop the others
            _log.failure("an onSubscription callback raised; delivery continues")

    def _wakeWaiters(self) -> None:
        for waiter in list(self._waiters):
            if self._closed:
                return
            if waiter in self._waiters and self._matching(waiter.tag) >= waiter.count:
                d = waiter.deferred
                self._forget(waiter)
                if d is not None:
                    d.callback(None)

    def _forget(self, waiter: _Waiter) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        timer, waiter.timer = waiter.timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _expire(self, waiter: _Waiter, timeout: float) -> None:
        waiter.timer = None
        if waiter not in self._waiters:
            return
        self._forget(waiter)
        found = self._matching(waiter.tag)
        msg = (
            f"only {found} of {waiter.count} subscription(s) matching {waiter.tag!r} reached "
            f"{self!r} within {timeout} s; check the subscribers' address and topics"
        )
        if waiter.deferred is not None:
            waiter.deferred.errback(SubscriberTimeout(msg))

    def _connectionClosed(self) -> None:
        recheck, self._recheckCall = self._recheckCall, None
        if recheck is not None and recheck.active():
            recheck.cancel()
        pending, self._pending = self._pending, deque()
        for _, sent in pending:
            sent.errback(ConnectionClosed())
        waiters, self._waiters = self._waiters, []
        self._observers.clear()
        self._counts.clear()
        for waiter in waiters:
            timer, waiter.timer = waiter.timer, None
            if timer is not None and timer.active():
                timer.cancel()
            if waiter.deferred is not None:
                waiter.deferred.errback(ConnectionClosed())
