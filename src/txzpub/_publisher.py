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

The pieces live in their own modules, and this class composes them: the
framing encoder (``_core._framing``), the subscription counting
(``_core._xpub``) under the awareness API (``_awareness``, ``_listening``),
the last value cache (``_core._lastvalue``), the connection's send queue
(``_sendqueue``) and, for ``sequenced=True``, the stamps, heartbeats and
replay socket (``_sequencing``).

A sequenced publisher sends ``[tag, body, stamp]``: three frames whatever
the framing, so txzpub subscribers can check each tag's numbers. txZMQ
subscribers cannot read it (txZMQ's reader raises on three frames); raw
pyzmq subscribers see the stamp as a third frame. Heartbeats go on a
reserved tag (``_core._stamp``), whose subscriptions the awareness API never
counts.
"""

from __future__ import annotations

from typing import Any

import zmq
from twisted.internet.defer import Deferred, fail, succeed

from ._awareness import Awareness
from ._connection import ZmqConnection
from ._core._endpoint import ZmqEndpoint
from ._core._framing import framesEncoder, oneFrameEncoder
from ._core._lastvalue import LastValues
from ._core._message import asBytes
from ._core._stamp import HEARTBEAT_TAG
from ._core._xpub import parseSubscription
from ._errors import ConfigurationError, ConnectionClosed, PublishQueueFull, SendQueueFull
from ._factory import ZmqFactory
from ._listening import PublisherAwareness
from ._security import Security
from ._sending import sendFrames
from ._sequencing import PublisherSequencing

__all__ = ["ZmqPubConnection", "configureXpub"]

_NOBLOCK = int(zmq.NOBLOCK)
# The backend's send, skipping pyzmq's Python-level Socket.send wrapper (which
# only adds routing_id/group handling, unused by XPUB): about 150 ns a message.
_send = zmq.backend.Socket.send
_SNDMORE = int(zmq.SNDMORE | zmq.NOBLOCK)


class ZmqPubConnection(PublisherSequencing, PublisherAwareness, ZmqConnection):
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
    _sendQueueOption = "maxPending"
    _sendQueueError = PublishQueueFull
    _sendQueueHint = "wait for earlier publishLossless() Deferreds before publishing more"
    #: XPUB receives its peers' subscriptions, but its reader starts lazily (_listen).
    _receives = False

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
        sequenced: bool | None = None,
        replay: ZmqEndpoint | None = None,
        replayDepth: int | None = None,
        replayBytes: int | None = None,
        heartbeatInterval: float | None = None,
    ) -> None:
        self._override(multipartFraming=multipartFraming, lastValueCache=lastValueCache)
        self._override(noDrop=noDrop, sequenced=sequenced, replayDepth=replayDepth)
        self._override(replayBytes=replayBytes, heartbeatInterval=heartbeatInterval)
        replay = self._checkSequencing(replay)
        self._awareness = Awareness(factory.reactor, self)
        self._recheckCall: Any = None  # the IDelayedCall of _recheck, while one is due
        self._listening = False
        self._stamping = None
        super().__init__(
            factory, endpoint, identity, maxMessageSize=maxMessageSize, security=security
        )
        # The framing encoder, built once: None means two frames, [tag, message].
        self._encodeOneFrame = None if self.multipartFraming else oneFrameEncoder(self.topicSep)
        self._encode = framesEncoder(self.topicSep, multipart=self.multipartFraming)
        cached = framesEncoder(self.topicSep, multipart=True) if self.sequenced else self._encode
        self._lastValues = LastValues(cached) if self.lastValueCache else None
        self._stamping = self._startSequencing(replay)  # a failure shuts this down

    def _configure(self, socket: zmq.Socket[bytes]) -> None:
        super()._configure(socket)
        self._awareness.counts.exactUnsubscribes = configureXpub(socket, noDrop=self.noDrop)

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
        encode, stamp = self._encodeOneFrame, None
        try:
            if self._stamping is not None:
                stamp = self._stamping.publish(self._socket, tag, message)
            elif encode is not None:
                _send(self._socket, encode(tag, message), _NOBLOCK)
            else:
                _send(self._socket, tag, _SNDMORE)
                _send(self._socket, message, _NOBLOCK)
        except zmq.ZMQError:
            # Checked only on failure, to keep the hot path to one send.
            self._checkOpen("publish")
            raise
        if self._lastValues is not None:
            self._lastValues.remember(tag, message, stamp)
        if self._recheckCall is None:
            self._recheckCall = self._factory.reactor.callLater(0, self._recheck)

    def publishLossless(self, message: bytes | str, tag: bytes | str = b"") -> Deferred[None]:
        """
        Publish without ever dropping: fire once the message is handed to ZeroMQ.

        Needs ``noDrop=True`` (else ConfigurationError). While any subscriber is
        at its high-water mark the message waits in a local queue of at most
        ``maxPending`` messages (they leave in order as subscribers catch up);
        wait for the Deferred before publishing more to apply that backpressure
        upstream. Fails with PublishQueueFull when the queue is full, and with
        ConnectionClosed if the connection shuts down first. Do not mix it with
        publish(), which would overtake messages still queued here.

        .. versionadded:: 0.1.0
        """
        if not self.noDrop:
            msg = "publishLossless() needs a publisher created with noDrop=True"
            raise ConfigurationError(msg)
        tag, message = asBytes(tag, "tag"), asBytes(message, "message")
        frames, commit = self._framesToSend(tag, message)
        if self._closed:
            return fail(ConnectionClosed())
        self._listen()  # the reader tells the send queue when the socket turns writable
        try:
            sent = self._enqueue(frames, track=True)
        except SendQueueFull as error:
            return fail(error)
        commit()  # a number is used only once the message is accepted
        if sent is None:
            sent = succeed(None)
        lastValues, stamp = self._lastValues, frames[2] if self._stamping else None
        if lastValues is not None:  # the last value is the last one handed to ZeroMQ
            sent.addCallback(lambda _: lastValues.remember(tag, message, stamp))
        return sent

    def _receiveBatch(self, batch: list[list[bytes]]) -> None:
        awareness, lastValues = self._awareness, self._lastValues
        for frames in batch:
            if self._closed:
                return
            change = parseSubscription(frames)
            if change is None or change.prefix == HEARTBEAT_TAG:
                continue  # not a user's subscription (an XSUB peer may send anything)
            if change.subscribed and lastValues:
                for replay in lastValues.replayFor(change.prefix):
                    sendFrames(self._socket, replay)  # at the high-water mark: dropped
            awareness.apply(change)
        if not self._closed:
            awareness.settle()

    def _connectionClosed(self) -> None:
        recheck, self._recheckCall = self._recheckCall, None
        if recheck is not None and recheck.active():
            recheck.cancel()
        self._awareness.close()
        self._stopSequencing()


def configureXpub(socket: zmq.Socket[bytes], *, noDrop: bool) -> bool:
    """
    Set the XPUB options, before any endpoint is attached so that no
    subscription goes unseen; return whether unsubscribes are exact.
    """
    if noDrop:
        socket.set(zmq.XPUB_NODROP, 1)
    try:
        socket.set(zmq.XPUB_VERBOSER, 1)
    except (AttributeError, zmq.ZMQError):  # pragma: no cover - libzmq < 4.3
        socket.set(zmq.XPUB_VERBOSE, 1)
        return False
    return True
