# -*- test-case-name: tests.test_pubsub -*-
"""
ZmqPubConnection: publish (tag, body) pairs in txZMQ's wire format.

A PUB socket never receives, so it gets no reader: publishing is a plain
non-blocking send, and at the high-water mark ZeroMQ drops for that peer.
"""

from __future__ import annotations

from typing import Any

import zmq

from ._connection import ZmqConnection
from ._core._endpoint import ZmqEndpoint
from ._core._framing import fitsOneFrame
from ._core._message import asBytes
from ._factory import ZmqFactory

__all__ = ["ZmqPubConnection"]

_NOBLOCK = zmq.NOBLOCK
# The backend's send, skipping pyzmq's Python-level Socket.send wrapper (which
# only adds routing_id/group handling, unused by PUB): about 150 ns a message.
_send = zmq.backend.Socket.send
_SNDMORE = zmq.SNDMORE | zmq.NOBLOCK


class ZmqPubConnection(ZmqConnection):
    """
    Publishes messages with a topic tag, as txZMQ's ZmqPubConnection.

    By default each message is one frame, ``tag + topicSep + message``, which
    txZMQ subscribers understand. With ``multipartFraming=True`` (class attribute
    or keyword) each message is two frames, ``[tag, message]``, which lets tags
    contain any byte; txzpub and txZMQ subscribers accept both.

    .. versionadded:: 0.1.0
    """

    socketType = zmq.PUB
    #: Publish ``[tag, message]`` as two frames instead of one.
    multipartFraming = False
    _receives = False

    def __init__(
        self,
        factory: ZmqFactory,
        endpoint: ZmqEndpoint | None = None,
        identity: Any = None,
        *,
        multipartFraming: bool | None = None,
    ) -> None:
        if multipartFraming is not None:
            self.multipartFraming = bool(multipartFraming)
        super().__init__(factory, endpoint, identity)

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
                return
            separator = self.topicSep
            if separator in tag or (len(separator) > 1 and not fitsOneFrame(tag, separator)):
                self._refuseTag(tag)
            _send(self._socket, tag + separator + message, _NOBLOCK)
        except zmq.ZMQError:
            # Checked only on failure, to keep the hot path to one send.
            self._checkOpen("publish")
            raise

    def _refuseTag(self, tag: bytes) -> None:
        msg = (
            f"tag {tag!r} contains (or runs into) the separator {self.topicSep!r}, which "
            "one-frame framing cannot carry; remove it or publish with multipartFraming=True"
        )
        raise ValueError(msg)
