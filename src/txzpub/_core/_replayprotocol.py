# -*- test-case-name: tests.core.test_replayprotocol -*-
"""
The replay side channel: what a subscriber's DEALER and a publisher's ROUTER
say to each other, as frames (the ROUTER's routing-id frame is not part of them).

Rules:

1. Each message is one frozen value; ``frames()`` encodes it, and
   ``parseRequest`` / ``parseReply`` decode it:

   ===================  ================================================  =========
   value                frames                                            direction
   ===================  ================================================  =========
   ``ReplayRequest``    ``[b"\\xa7tzR1", requestId, publisher, tag,``      to the
                        ``first, last]``                                  publisher
   ``LatestRequest``    ``[b"\\xa7tzL1", requestId, publisher,``           to the
                        ``*prefixes]``                                    publisher
   ``ReplayedMessage``  ``[b"\\xa7tzM1", requestId, tag, body, header]``   back
   ``ReplayEnd``        ``[b"\\xa7tzE1", requestId, sent]``                back
   ``LatestReply``      ``[b"\\xa7tzT1", requestId, publisher, sentAt,``   back
                        ``tag1, n1, tag2, n2, ...]``
   ``NotMine``          ``[b"\\xa7tzN1", requestId, publisher]``           back
   ===================  ================================================  =========

2. Numbers (``requestId``, ``first``, ``last``, ``sent``, the ``n``) are
   unsigned 64-bit big-endian frames of exactly 8 bytes. A publisher identity
   is exactly ``PUBLISHER_ID_SIZE`` (16) bytes.
3. Replays ask for numbers ``1 <= first <= last < 2**64``; the latest numbers
   listed are ``>= 1``. ``sent`` says how many ``ReplayedMessage`` preceded the
   ``ReplayEnd`` of that request. ``NotMine`` names the replier's own identity,
   for a request that named another publisher. A ``LatestReply``'s ``sentAt``
   is when the publisher answered, in microseconds on the clock its
   heartbeats carry: a subscriber takes the numbers as missing only once a
   heartbeat sent after it has come down the data path, since the messages
   numbered may still be on their way there (through a proxy, say).
4. Bounds, so a peer cannot make the other side build something huge: a tag
   or prefix is at most ``MAX_TAG`` bytes, a ``LatestRequest`` lists at most
   ``MAX_PREFIXES`` prefixes and a ``LatestReply`` at most ``MAX_LATEST`` tags.
5. The constructors check every field, so a bad value cannot be encoded.
6. Parsing never raises, whatever list of bytes arrives: a malformed message
   is None, for the caller to count and drop. A request kind given to
   ``parseReply`` (or the reverse) is malformed too.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Final, TypeAlias

import attrs

from ._checks import checkInt, wrongType, wrongValue
from ._stamp import PUBLISHER_ID_SIZE

__all__ = [
    "MAX_LATEST",
    "MAX_NUMBER",
    "MAX_PREFIXES",
    "MAX_TAG",
    "PUBLISHER_ID_SIZE",
    "LatestReply",
    "LatestRequest",
    "NotMine",
    "ReplayEnd",
    "ReplayRequest",
    "ReplayedMessage",
    "Reply",
    "Request",
    "parseReply",
    "parseRequest",
]

#: The largest number a frame carries (rule 2).
MAX_NUMBER: Final = 2**64 - 1
#: The longest tag or prefix, in bytes (rule 4).
MAX_TAG: Final = 64 * 1024
#: The most prefixes one LatestRequest lists (rule 4).
MAX_PREFIXES: Final = 1_000
#: The most (tag, number) pairs one LatestReply lists (rule 4).
MAX_LATEST: Final = 10_000

_REPLAY: Final = b"\xa7tzR1"
_LATEST: Final = b"\xa7tzL1"
_MESSAGE: Final = b"\xa7tzM1"
_END: Final = b"\xa7tzE1"
_LATEST_REPLY: Final = b"\xa7tzT1"
_NOT_MINE: Final = b"\xa7tzN1"

_number = struct.Struct(">Q")
_pack = _number.pack
_unpack = _number.unpack


# -- field checks (rule 5) ---------------------------------------------------------------


def _checkNumber(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    checkInt(value, attribute.name, minimum=0, maximum=MAX_NUMBER)


def _checkPositive(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    checkInt(value, attribute.name, minimum=1, maximum=MAX_NUMBER)


def _checkBytes(instance: object, attribute: attrs.Attribute[bytes], value: object) -> None:
    if type(value) is not bytes:
        raise wrongType(attribute.name, "bytes", value)


def _checkPublisher(instance: object, attribute: attrs.Attribute[bytes], value: object) -> None:
    expected = f"{PUBLISHER_ID_SIZE} bytes"
    if type(value) is not bytes:
        raise wrongType(attribute.name, expected, value)
    if len(value) != PUBLISHER_ID_SIZE:
        raise wrongValue(attribute.name, expected, value)


def _tag(name: str, value: object) -> None:
    if type(value) is not bytes:
        raise wrongType(name, f"bytes of at most {MAX_TAG} bytes", value)
    if len(value) > MAX_TAG:
        # Not the house's repr of the value: that would be a message of 64 KB.
        msg = f"{name} must be at most {MAX_TAG} bytes, not {len(value)} bytes"
        raise ValueError(msg)


def _checkTag(instance: object, attribute: attrs.Attribute[bytes], value: object) -> None:
    _tag(attribute.name, value)


def _checkLast(instance: ReplayRequest, attribute: attrs.Attribute[int], value: object) -> None:
    checkInt(value, attribute.name, minimum=instance.first, maximum=MAX_NUMBER)


def _checkPrefixes(
    instance: object, attribute: attrs.Attribute[tuple[bytes, ...]], value: object
) -> None:
    if type(value) is not tuple:
        raise wrongType(attribute.name, "a tuple of bytes", value)
    if len(value) > MAX_PREFIXES:
        msg = f"{attribute.name} must list at most {MAX_PREFIXES}, not {len(value)}"
        raise ValueError(msg)
    for index, prefix in enumerate(value):
        _tag(f"{attribute.name}[{index}]", prefix)


def _checkLatest(
    instance: object, attribute: attrs.Attribute[tuple[tuple[bytes, int], ...]], value: object
) -> None:
    expected = "a tuple of (bytes, int) pairs"
    if type(value) is not tuple:
        raise wrongType(attribute.name, expected, value)
    if len(value) > MAX_LATEST:
        msg = f"{attribute.name} must list at most {MAX_LATEST}, not {len(value)}"
        raise ValueError(msg)
    for index, pair in enumerate(value):
        name = f"{attribute.name}[{index}]"
        if type(pair) is not tuple or len(pair) != 2:
            raise wrongType(name, "a (bytes, int) pair", pair)
        _tag(f"{name}[0]", pair[0])
        checkInt(pair[1], f"{name}[1]", minimum=1, maximum=MAX_NUMBER)


# -- the values (rule 1) -----------------------------------------------------------------


@attrs.frozen
class ReplayRequest:
    """Please send again messages *first* to *last* of *tag*, which *publisher* numbered."""

    requestId: int = attrs.field(validator=_checkNumber)
    publisher: bytes = attrs.field(validator=_checkPublisher)
    tag: bytes = attrs.field(validator=_checkTag)
    first: int = attrs.field(validator=_checkPositive)
    last: int = attrs.field(validator=_checkLast)

    def frames(self) -> list[bytes]:
        """``[b"\\xa7tzR1", requestId, publisher, tag, first, last]``."""
        return [
            _REPLAY,
            _pack(self.requestId),
            self.publisher,
            self.tag,
            _pack(self.first),
            _pack(self.last),
        ]


@attrs.frozen
class LatestRequest:
    """Please say the latest number of each of your tags that starts with one of *prefixes*."""

    requestId: int = attrs.field(validator=_checkNumber)
    publisher: bytes = attrs.field(validator=_checkPublisher)
    prefixes: tuple[bytes, ...] = attrs.field(validator=_checkPrefixes)

    def frames(self) -> list[bytes]:
        """``[b"\\xa7tzL1", requestId, publisher, *prefixes]``."""
        return [_LATEST, _pack(self.requestId), self.publisher, *self.prefixes]


@attrs.frozen
class ReplayedMessage:
    """One message sent again, as it was published: ``[tag, body, header]``."""

    requestId: int = attrs.field(validator=_checkNumber)
    tag: bytes = attrs.field(validator=_checkTag)
    body: bytes = attrs.field(validator=_checkBytes)
    header: bytes = attrs.field(validator=_checkBytes)

    def frames(self) -> list[bytes]:
        """``[b"\\xa7tzM1", requestId, tag, body, header]``."""
        return [_MESSAGE, _pack(self.requestId), self.tag, self.body, self.header]


@attrs.frozen
class ReplayEnd:
    """The end of a replay: *sent* messages came before it (fewer than asked: gone)."""

    requestId: int = attrs.field(validator=_checkNumber)
    sent: int = attrs.field(validator=_checkNumber)

    def frames(self) -> list[bytes]:
        """``[b"\\xa7tzE1", requestId, sent]``."""
        return [_END, _pack(self.requestId), _pack(self.sent)]


@attrs.frozen
class LatestReply:
    """The latest number of each matching tag of *publisher*, as (tag, number) pairs."""

    requestId: int = attrs.field(validator=_checkNumber)
    publisher: bytes = attrs.field(validator=_checkPublisher)
    latest: tuple[tuple[bytes, int], ...] = attrs.field(validator=_checkLatest)
    #: When the publisher answered (rule 3): what it says, not part of it (no equality).
    sentAt: int = attrs.field(default=0, validator=_checkNumber, eq=False)

    def frames(self) -> list[bytes]:
        """``[b"\\xa7tzT1", requestId, publisher, sentAt, tag1, n1, tag2, n2, ...]``."""
        frames = [_LATEST_REPLY, _pack(self.requestId), self.publisher, _pack(self.sentAt)]
        for tag, number in self.latest:
            frames += (tag, _pack(number))
        return frames


@attrs.frozen
class NotMine:
    """The request named another publisher; *publisher* is the replier's own identity."""

    requestId: int = attrs.field(validator=_checkNumber)
    publisher: bytes = attrs.field(validator=_checkPublisher)

    def frames(self) -> list[bytes]:
        """``[b"\\xa7tzN1", requestId, publisher]``."""
        return [_NOT_MINE, _pack(self.requestId), self.publisher]


Request: TypeAlias = ReplayRequest | LatestRequest
Reply: TypeAlias = ReplayedMessage | ReplayEnd | LatestReply | NotMine


# -- parsing (rule 6) --------------------------------------------------------------------

_new = object.__new__
# The slots' own descriptors: setting through them skips the frozen class's
# __setattr__ and the validators, for fields parse has already checked.
_setMessageId = ReplayedMessage.__dict__["requestId"].__set__
_setMessageTag = ReplayedMessage.__dict__["tag"].__set__
_setMessageBody = ReplayedMessage.__dict__["body"].__set__
_setMessageHeader = ReplayedMessage.__dict__["header"].__set__
_setLatestId = LatestReply.__dict__["requestId"].__set__
_setLatestPublisher = LatestReply.__dict__["publisher"].__set__
_setLatestPairs = LatestReply.__dict__["latest"].__set__
_setLatestSentAt = LatestReply.__dict__["sentAt"].__set__


def _replayedMessage(requestId: int, tag: bytes, body: bytes, header: bytes) -> ReplayedMessage:
    """ReplayedMessage(...) without checks again: a replay brings thousands, each parsed."""
    message: ReplayedMessage = _new(ReplayedMessage)
    _setMessageId(message, requestId)
    _setMessageTag(message, tag)
    _setMessageBody(message, body)
    _setMessageHeader(message, header)
    return message


def _latestReply(
    requestId: int, publisher: bytes, latest: tuple[tuple[bytes, int], ...], sentAt: int
) -> LatestReply:
    """LatestReply(...) without checks again: up to MAX_LATEST pairs, not checked twice."""
    reply: LatestReply = _new(LatestReply)
    _setLatestId(reply, requestId)
    _setLatestPublisher(reply, publisher)
    _setLatestPairs(reply, latest)
    _setLatestSentAt(reply, sentAt)
    return reply


def parseRequest(frames: Sequence[bytes]) -> Request | None:
    """The request *frames* carry, or None when they are malformed (rule 6)."""
    if len(frames) < 3 or len(frames[1]) != 8 or len(frames[2]) != PUBLISHER_ID_SIZE:
        return None
    parse = _REQUESTS.get(frames[0])
    return None if parse is None else parse(_unpack(frames[1])[0], frames)


def parseReply(frames: Sequence[bytes]) -> Reply | None:
    """The reply *frames* carry, or None when they are malformed (rule 6)."""
    if len(frames) < 3 or len(frames[1]) != 8:
        return None
    parse = _REPLIES.get(frames[0])
    return None if parse is None else parse(_unpack(frames[1])[0], frames)


# Each parser below gets the request id, and frames whose first two (three for
# a request) frames parseRequest or parseReply has already checked.


def _parseReplay(requestId: int, frames: Sequence[bytes]) -> ReplayRequest | None:
    if len(frames) != 6:
        return None
    tag, firstFrame, lastFrame = frames[3:]
    if len(tag) > MAX_TAG or len(firstFrame) != 8 or len(lastFrame) != 8:
        return None
    (first,) = _unpack(firstFrame)
    (last,) = _unpack(lastFrame)
    if not 1 <= first <= last:
        return None
    return ReplayRequest(requestId, frames[2], tag, first, last)


def _parseLatestRequest(requestId: int, frames: Sequence[bytes]) -> LatestRequest | None:
    prefixes = tuple(frames[3:])
    if len(prefixes) > MAX_PREFIXES or any(len(prefix) > MAX_TAG for prefix in prefixes):
        return None
    return LatestRequest(requestId, frames[2], prefixes)


def _parseMessage(requestId: int, frames: Sequence[bytes]) -> ReplayedMessage | None:
    if len(frames) != 5 or len(frames[2]) > MAX_TAG:
        return None
    return _replayedMessage(requestId, frames[2], frames[3], frames[4])


def _parseEnd(requestId: int, frames: Sequence[bytes]) -> ReplayEnd | None:
    if len(frames) != 3 or len(frames[2]) != 8:
        return None
    return ReplayEnd(requestId, _unpack(frames[2])[0])


def _parseNotMine(requestId: int, frames: Sequence[bytes]) -> NotMine | None:
    if len(frames) != 3 or len(frames[2]) != PUBLISHER_ID_SIZE:
        return None
    return NotMine(requestId, frames[2])


def _parseLatestReply(requestId: int, frames: Sequence[bytes]) -> LatestReply | None:
    pairs = len(frames) - 4
    if (
        pairs < 0
        or pairs % 2
        or pairs > 2 * MAX_LATEST
        or len(frames[2]) != PUBLISHER_ID_SIZE
        or len(frames[3]) != 8
    ):
        return None
    latest = []
    for index in range(4, len(frames), 2):
        tag = frames[index]
        numberFrame = frames[index + 1]
        if len(tag) > MAX_TAG or len(numberFrame) != 8:
            return None
        (number,) = _unpack(numberFrame)
        if not number:
            return None
        latest.append((tag, number))
    (sentAt,) = _unpack(frames[3])
    return _latestReply(requestId, frames[2], tuple(latest), sentAt)


_REQUESTS: Final[dict[bytes, Callable[[int, Sequence[bytes]], Request | None]]] = {
    _REPLAY: _parseReplay,
    _LATEST: _parseLatestRequest,
}
_REPLIES: Final[dict[bytes, Callable[[int, Sequence[bytes]], Reply | None]]] = {
    _MESSAGE: _parseMessage,
    _END: _parseEnd,
    _NOT_MINE: _parseNotMine,
    _LATEST_REPLY: _parseLatestReply,
}
