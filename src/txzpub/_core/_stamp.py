# -*- test-case-name: tests.core.test_stamp -*-
"""
The stamp of a sequenced stream: the header frame after a message's body.

A sequenced publisher sends ``[tag, body, header]``. ZeroMQ filters on the
first frame, so the stamp cannot go first; after the body, a txZMQ-framed
peer's tag and body stay where they were.

Rules:

1. Every stamp starts with ``MAGIC`` and a version byte, then a kind byte:

   ===========  ==========================================================  =====
   kind         after the kind byte                                         bytes
   ===========  ==========================================================  =====
   ``D`` data   publisher identity (16), sequence number (u64)              29
   ``H`` beat   publisher identity (16), interval in ms (u32), sent at      33
                (u64, microseconds since the epoch)
   ===========  ==========================================================  =====

   Numbers are unsigned big-endian. A publisher identity is 16 random bytes
   drawn when the publisher starts, so a restarted publisher is a new one.
2. Sequence numbers count per tag from 1; a number is used only once the
   message is accepted for sending (``Sequencer.commit``).
3. Heartbeats travel on ``HEARTBEAT_TAG`` as ``[HEARTBEAT_TAG, b"", stamp]``:
   a subscriber sees them only by subscribing to that tag (or to everything).
4. Parsing never raises: a frame that starts with ``MAGIC`` but is not a
   well-formed stamp of the expected kind is ``None``, for the caller to
   count and drop. A third frame without ``MAGIC`` is no stamp at all (an
   ordinary three-frame message): test it with ``isStamp``.
"""

from __future__ import annotations

import os
import struct
from typing import Final

import attrs

from ._message import Message, _newMessage, _setBody, _setPublisher, _setSequence, _setTag

__all__ = [
    "HEARTBEAT_TAG",
    "MAGIC",
    "PUBLISHER_ID_SIZE",
    "Heartbeat",
    "Sequencer",
    "heartbeatFrames",
    "isStamp",
    "newPublisherId",
    "parseDataStamp",
    "parseHeartbeat",
    "shortId",
    "stampedFrom",
]

MAGIC: Final = b"\xa7tz"
_VERSION: Final = b"1"
_DATA: Final = MAGIC + _VERSION + b"D"
_BEAT: Final = MAGIC + _VERSION + b"H"
PUBLISHER_ID_SIZE: Final = 16
_DATA_SIZE: Final = len(_DATA) + PUBLISHER_ID_SIZE + 8
_BEAT_SIZE: Final = len(_BEAT) + PUBLISHER_ID_SIZE + 4 + 8
#: The reserved tag heartbeats travel on (rule 3).
HEARTBEAT_TAG: Final = b"\xa7txzpub.heartbeat"
_MAX_SEQUENCE: Final = 2**64 - 1
_packNumber = struct.Struct(">Q").pack
_unpackData = struct.Struct(">5s16sQ").unpack
_beatTail = struct.Struct(">IQ")


def newPublisherId() -> bytes:
    """A fresh publisher identity: 16 random bytes (rule 1)."""
    return os.urandom(PUBLISHER_ID_SIZE)


def shortId(publisher: bytes) -> str:
    """A publisher identity for people: its first 8 hex digits, as git shortens commits."""
    return publisher[:4].hex()


def isStamp(frame: bytes) -> bool:
    """True when *frame* claims to be a stamp (rule 4)."""
    return frame[:3] == MAGIC


def parseDataStamp(frame: bytes) -> tuple[bytes, int] | None:
    """(publisher, sequence) of a data stamp; None when malformed (rule 4)."""
    if len(frame) != _DATA_SIZE:
        return None
    kind, publisher, sequence = _unpackData(frame)
    if kind != _DATA or not sequence:
        return None
    return publisher, sequence


def stampedFrom(tag: bytes, body: bytes, stamp: bytes) -> Message | None:
    """
    The Message of a data-stamped ``[tag, body, stamp]``, with its sequence
    and publisher; None when *stamp* is no well-formed data stamp (rule 4).
    parseDataStamp() and the Message in one call: the subscriber's hot path.
    """
    if len(stamp) != _DATA_SIZE:
        return None
    kind, publisher, sequence = _unpackData(stamp)  # one C call: no slices
    if kind != _DATA or not sequence:
        return None
    message: Message = _newMessage(Message)  # stampedMessage(), inlined: once per message
    _setTag(message, tag)
    _setBody(message, body)
    _setSequence(message, sequence)
    _setPublisher(message, publisher)
    return message


@attrs.frozen
class Heartbeat:
    """A heartbeat: who is alive, how often it says so, and when it said it."""

    publisher: bytes
    #: Seconds between heartbeats; silence for three of them means trouble.
    interval: float
    #: When the publisher sent it, in seconds since the epoch (its clock).
    sentAt: float


def parseHeartbeat(frame: bytes) -> Heartbeat | None:
    """The heartbeat a stamp carries; None when malformed (rule 4)."""
    if len(frame) != _BEAT_SIZE or frame[:5] != _BEAT:
        return None
    intervalMs, sentAtUs = _beatTail.unpack_from(frame, 21)
    if not intervalMs:
        return None
    return Heartbeat(frame[5:21], intervalMs / 1000, sentAtUs / 1e6)


def heartbeatFrames(publisher: bytes, interval: float, now: float) -> list[bytes]:
    """The frames of one heartbeat (rule 3); *interval* and *now* in seconds."""
    intervalMs = min(max(1, round(interval * 1000)), 2**32 - 1)
    stamp = _BEAT + publisher + _beatTail.pack(intervalMs, max(0, int(now * 1e6)))
    return [HEARTBEAT_TAG, b"", stamp]


class Sequencer:
    """
    A publisher's numbering: the next number of each tag and its stamp.

    The publisher asks ``next(tag)``, sends, and only then ``commit``s, so a
    message that was not accepted uses no number (rule 2). It keeps one
    number per distinct tag ever published, like the last value cache.
    """

    __slots__ = ("numbers", "prefix", "publisher")

    def __init__(self, publisher: bytes) -> None:
        if type(publisher) is not bytes or len(publisher) != PUBLISHER_ID_SIZE:
            msg = f"a publisher identity is {PUBLISHER_ID_SIZE} bytes, not {publisher!r}"
            raise ValueError(msg)
        self.publisher = publisher
        #: The stamp of this publisher up to the number (the hot path appends it).
        self.prefix = _DATA + publisher
        #: tag -> the last number used. The publisher's hot path reads it directly.
        self.numbers: dict[bytes, int] = {}

    def next(self, tag: bytes) -> tuple[int, bytes]:
        """The next number of *tag* and its stamp, not yet used."""
        sequence = self.numbers.get(tag, 0) + 1
        if sequence > _MAX_SEQUENCE:  # pragma: no cover - 2**64 messages of one tag
            msg = f"tag {tag!r} has used every sequence number"
            raise OverflowError(msg)
        return sequence, self.prefix + _packNumber(sequence)

    def commit(self, tag: bytes, sequence: int) -> None:
        """*sequence* of *tag* was accepted for sending: it is used."""
        self.numbers[tag] = sequence

    def latest(self, prefixes: tuple[bytes, ...], limit: int) -> list[tuple[bytes, int]]:
        """
        The last number of each tag starting with one of *prefixes*, as
        ZeroMQ matches subscriptions, at most *limit* of them.
        """
        found = []
        for tag, number in self.numbers.items():
            if tag.startswith(prefixes):
                found.append((tag, number))
                if len(found) >= limit:
                    break
        return found
