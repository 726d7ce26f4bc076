# -*- test-case-name: tests.core.test_envelope -*-
"""
Request/reply envelopes in txZMQ's wire format, which is ZeroMQ's.

A txZMQ REQ connection is a DEALER socket sending ``[messageId, b"", *parts]``.
Its REP is a ROUTER socket, which receives that behind the routing frames
libzmq (and every ROUTER/DEALER proxy on the way) puts in front:
``[*route, messageId, b"", *parts]``. The reply repeats every frame before the
delimiter, so it retraces the route and reaches the requester as
``[messageId, b"", *reply]``.

A standard REQ socket sends ``[b"", *parts]``: its envelope is the route
alone, whose last frame then serves as the message id, and the same reply
rule answers it. A standard REP socket answers a txZMQ-style request by the
same rule, so both kinds of peers interoperate.

The decoders return None for whatever a confused or hostile peer sends (no
delimiter, no sender, an envelope deeper than ``MAX_HOPS``); they never raise.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

__all__ = [
    "MAX_HOPS",
    "Envelope",
    "RoutingMemory",
    "replyFrames",
    "requestFrames",
    "splitReply",
    "splitRequest",
    "splitRouted",
]

#: Most frames an envelope may have before its delimiter (the route through
#: proxies plus the message id); deeper ones are refused as malformed, so a
#: peer cannot make us search or store an arbitrarily long route.
MAX_HOPS = 32

_DELIMITER = b""


@attrs.frozen
class Envelope:
    """
    Every frame of a request before its delimiter: the route back, then the
    message id. Replying with exactly these frames reaches the requester.
    """

    frames: tuple[bytes, ...]

    @property
    def messageId(self) -> bytes:
        """The requester's id of the request (txZMQ's ``messageId``)."""
        return self.frames[-1]


def requestFrames(messageId: bytes, parts: Sequence[bytes]) -> list[bytes]:
    """What a REQ connection sends: ``[messageId, b"", *parts]``."""
    return [messageId, _DELIMITER, *parts]


def splitReply(frames: list[bytes]) -> tuple[bytes, list[bytes]] | None:
    """A reply a REQ connection received: ``(messageId, parts)``, or None if malformed."""
    if len(frames) < 2 or frames[1] != _DELIMITER:
        return None
    return frames[0], frames[2:]


def splitRequest(frames: list[bytes]) -> tuple[Envelope, list[bytes]] | None:
    """A request a REP connection received: ``(envelope, parts)``, or None if malformed."""
    try:
        # Index 0 is the sender's routing id, which libzmq never makes empty.
        delimiter = frames.index(_DELIMITER, 1, MAX_HOPS + 1)
    except ValueError:
        return None
    return Envelope(tuple(frames[:delimiter])), frames[delimiter + 1 :]


def replyFrames(envelope: Envelope, parts: Sequence[bytes]) -> list[bytes]:
    """What a REP connection sends to answer the request *envelope* came with."""
    return [*envelope.frames, _DELIMITER, *parts]


def splitRouted(frames: list[bytes]) -> tuple[bytes, list[bytes]] | None:
    """What a ROUTER socket received: ``(senderId, frames)``, or None without a body."""
    if len(frames) < 2:
        return None
    return frames[0], frames[1:]


class RoutingMemory:
    """
    The envelopes of unanswered requests by message id, for txZMQ's
    ``reply(messageId, ...)``; at most *limit* of them.

    A request that is never answered would otherwise be remembered forever.
    Past the limit the oldest is forgotten, so a very late legacy reply to it
    is refused (and logged) instead of memory growing without end. A second
    request with an id already remembered replaces the first, as txZMQ did.
    """

    __slots__ = ("_envelopes", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._envelopes: dict[bytes, Envelope] = {}

    def remember(self, envelope: Envelope) -> Envelope | None:
        """Keep *envelope*; return the one forgotten to make room, if any."""
        envelopes = self._envelopes
        messageId = envelope.messageId
        envelopes.pop(messageId, None)  # a repeated id moves to the newest place
        envelopes[messageId] = envelope
        if len(envelopes) > self.limit:
            oldest = next(iter(envelopes))
            return envelopes.pop(oldest)
        return None

    def take(self, messageId: bytes) -> Envelope | None:
        """Forget and return the envelope of *messageId*; None if it is not remembered."""
        return self._envelopes.pop(messageId, None)

    def forget(self, envelope: Envelope) -> None:
        """Forget *envelope* if it is still the one remembered for its id."""
        if self._envelopes.get(envelope.messageId) is envelope:
            del self._envelopes[envelope.messageId]

    def __len__(self) -> int:
        return len(self._envelopes)

    def clear(self) -> None:
        self._envelopes.clear()
