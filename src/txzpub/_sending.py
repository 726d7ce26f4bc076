# -*- test-case-name: tests.test_sendqueue -*-
"""
How every connection sends: at once, or queued behind what a high-water mark
held back, never ``zmq.Again`` in the user's hands and never a silent drop.

ZmqConnection mixes this in. The first send that meets a high-water mark
makes the connection's SendQueue (``_sendqueue``); from then on sends queue
behind it in order until it is served empty. Publishers bound it with
``maxPending`` (for publishLossless), every other connection with
``maxQueuedSends``.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

import zmq
from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger

from ._core._checks import wrongValue
from ._core._message import asBytes
from ._errors import ConnectionClosed, SendQueueFull
from ._sendqueue import SendQueue

if TYPE_CHECKING:
    from ._reader import SocketReader

__all__ = ["QueuedSending", "asFrames", "sendFrames", "trySend"]

_log = Logger()

_NOBLOCK = int(zmq.NOBLOCK)
_SNDMORE = int(zmq.SNDMORE | zmq.NOBLOCK)
# The backend's send, skipping pyzmq's Python-level Socket.send wrapper (which
# only adds routing_id/group handling, unused here): about 150 ns a frame.
_send = zmq.backend.Socket.send


def trySend(socket: zmq.Socket[bytes], frames: list[bytes]) -> bool | None:
    """
    Send one message without blocking: True when sent, False when a peer is
    at its high-water mark, None when a ROUTER told to refuse what it cannot
    route (ROUTER_MANDATORY) has no peer of that routing id (``frames[0]``).
    ZeroMQ takes the frames of a message atomically, so only the first send
    can fail.
    """
    try:
        for frame in frames[:-1]:
            _send(socket, frame, _SNDMORE)
        _send(socket, frames[-1], _NOBLOCK)
    except zmq.Again:
        return False
    except zmq.ZMQError as error:
        if error.errno != errno.EHOSTUNREACH:
            raise
        return None
    return True


def sendFrames(socket: zmq.Socket[bytes], frames: list[bytes]) -> bool:
    """
    trySend(), for a message nobody waits on: a message for a ROUTER peer that
    is not connected is logged and dropped (there is nobody to wait for).
    """
    sent = trySend(socket, frames)
    if sent is None:
        _log.warn(
            "No peer with routing id {peer!r} is connected (it left, or never came); "
            "the message to it was dropped",
            peer=frames[0],
        )
        return True
    return sent


def asFrames(message: object, name: str) -> list[bytes]:
    """A message as its list of frames: bytes or str is one frame, a list or tuple many."""
    if type(message) is bytes:
        return [message]
    if isinstance(message, (list, tuple)):
        if not message:
            raise wrongValue(name, "at least one frame", message)
        return [asBytes(frame, f"{name} frame") for frame in message]
    return [asBytes(message, name)]


class QueuedSending:
    """ZmqConnection's sending, on the attributes ZmqConnection sets."""

    _socket: zmq.Socket[bytes]
    _reader: SocketReader
    _closed: bool
    _checkOpen: Callable[[str], None]  # ZmqConnection's
    _outbox: SendQueue | None

    #: Most messages the local send queue holds while peers are at their
    #: high-water mark; past it, a send raises SendQueueFull.
    #: ``.. versionadded:: 0.1.0``
    maxQueuedSends = 100_000
    #: The option that bounds the send queue, and what to do when it is full.
    _sendQueueOption = "maxQueuedSends"
    _sendQueueError: type[SendQueueFull] = SendQueueFull
    _sendQueueHint = "send more slowly, wait for the peers, or raise maxQueuedSends"

    def send(self, message: bytes | str | Sequence[bytes | str]) -> None:
        """
        Send *message* (bytes, or a list of frames) without blocking.

        str is sent as UTF-8. At a peer's high-water mark the message waits
        in the connection's send queue and leaves, in order, when the peer
        catches up (PUB drops there instead, as ZeroMQ does); SendQueueFull
        when ``maxQueuedSends`` messages already wait.
        """
        self._checkOpen("send")
        self._enqueue(asFrames(message, "message"))

    def whenSent(self) -> Deferred[None]:
        """
        Fire once every message sent so far has been handed to ZeroMQ: at once
        unless some wait in the send queue for peers at their high-water mark.
        Wait for it to slow down to the peers' pace; it fails with
        ConnectionClosed if the connection shuts down first.

        .. versionadded:: 0.1.0
        """
        if self._closed:
            return fail(ConnectionClosed())
        if self._outbox is None:
            return succeed(None)
        return self._outbox.whenEmpty()

    def _enqueue(self, frames: list[bytes], *, track: bool = False) -> Deferred[None] | None:
        """
        Send *frames* at once, or queue them behind those waiting.

        None when sent, or queued untracked; else a Deferred firing once sent.
        Raises the send queue's full error.
        """
        outbox = self._outbox
        if outbox is None:
            if sendFrames(self._socket, frames):
                self._reader.afterSend()  # a send can swallow the reader's edge
                return None
            self._startWriting()
            outbox = self._outbox = SendQueue(
                getattr(self, self._sendQueueOption),
                partial(sendFrames, self._socket),
                self._reader,
                self._sendQueueFull,
                what=f"the send queue of {type(self).__name__}",
            )
        sent = outbox.enqueue(frames, track=track)
        self._reader.afterSend()
        return sent

    def _sendQueueFull(self, limit: int) -> Exception:
        msg = (
            f"{limit} messages already wait for peers at their high-water mark "
            f"({self._sendQueueOption}={limit}); {self._sendQueueHint}"
        )
        return self._sendQueueError(msg)

    def _startWriting(self) -> None:
        """Hook: make sure the reader runs, as it tells the send queue of POLLOUT."""

    def _closeOutbox(self) -> None:
        """At shutdown: what still waits is never sent; say so."""
        if self._outbox is not None and (unsent := self._outbox.close()):
            _log.warn(
                "{connection} shut down with {count} messages still queued for peers at "
                "their high-water mark; they were not sent",
                connection=type(self).__name__,
                count=unsent,
            )
