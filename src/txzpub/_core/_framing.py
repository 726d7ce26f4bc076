# -*- test-case-name: tests.core.test_framing -*-
"""
Wire framing: how a (tag, body) pair becomes ZeroMQ frames and back.

Rules, chosen so txZMQ peers interoperate in both directions:

- The default is txZMQ's: one frame, ``tag + sep + body`` (sep is ``b"\\0"``).
- A publisher may opt in to two frames, ``[tag, body]``; receivers accept both.
- Decoding never raises, whatever a peer sends:

  ====================================  ==========================================
  frames received                       Message
  ====================================  ==========================================
  ``[b"news\\0hi"]``                      tag ``b"news"``, body ``b"hi"`` (first sep)
  ``[b"no separator"]``                 tag ``b""``, body ``b"no separator"``
  ``[b""]``                             tag ``b""``, body ``b""``
  ``[tag, body]``                       tag, body
  ``[tag, body, f3, ...]``              tag, body, extra ``(f3, ...)``
  ``[]`` (never from ZeroMQ)            tag ``b""``, body ``b""``
  ====================================  ==========================================

A tag containing the separator cannot round-trip through one-frame framing, so
encoding refuses it and points at two-frame framing instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NoReturn

from ._message import Message, trustedMessage

__all__ = [
    "DEFAULT_SEPARATOR",
    "decodeFrames",
    "encodeMessage",
    "fitsOneFrame",
    "framesEncoder",
    "oneFrameEncoder",
]

DEFAULT_SEPARATOR = b"\0"


def encodeMessage(
    tag: bytes, body: bytes, *, separator: bytes = DEFAULT_SEPARATOR, multipart: bool = False
) -> list[bytes]:
    """Return the frames that carry (*tag*, *body*); see the module comment for the rules."""
    return framesEncoder(separator, multipart=multipart)(tag, body)


def framesEncoder(separator: bytes, *, multipart: bool) -> Callable[[bytes, bytes], list[bytes]]:
    """Build once the function encodeMessage() applies: (tag, body) -> frames."""
    if multipart:
        return lambda tag, body: [tag, body]
    encode = oneFrameEncoder(separator)
    return lambda tag, body: [encode(tag, body)]


def oneFrameEncoder(separator: bytes) -> Callable[[bytes, bytes], bytes]:
    """
    Build, once per publisher, the function that makes the one frame
    ``tag + separator + body``; it raises ValueError for a tag that one frame
    cannot carry. Publishers call it per message, so it is as lean as the
    separator allows (one ``in`` test for a one-byte separator).
    """
    if len(separator) == 1:

        def encodeOneByte(tag: bytes, body: bytes) -> bytes:
            if separator in tag:
                _refuse(tag, separator)
            return tag + separator + body

        return encodeOneByte

    def encodeLonger(tag: bytes, body: bytes) -> bytes:
        head = tag + separator  # fitsOneFrame(), inlined: this runs per message
        if head.find(separator) != len(tag):
            _refuse(tag, separator)
        return head + body

    return encodeLonger


def _refuse(tag: bytes, separator: bytes) -> NoReturn:
    msg = (
        f"tag {tag!r} contains (or runs into) the separator {separator!r}, which one-frame "
        "framing cannot carry; remove it or publish with multipartFraming=True"
    )
    raise ValueError(msg)


def fitsOneFrame(tag: bytes, separator: bytes) -> bool:
    """
    True when one-frame framing can carry *tag*: the first separator in
    ``tag + separator`` must be the one we add (a multi-byte separator can
    also start inside the tag, as ``b"::"`` does in ``b"a:" + b"::"``).
    """
    if len(separator) == 1:
        return separator not in tag
    return (tag + separator).find(separator) == len(tag)


def decodeFrames(frames: Sequence[bytes], separator: bytes = DEFAULT_SEPARATOR) -> Message:
    """Turn received *frames* into a Message; never raises for any list of bytes."""
    count = len(frames)
    if count == 1:
        tag, found, body = frames[0].partition(separator)
        if found:
            return trustedMessage(tag, body)
        return trustedMessage(b"", tag)
    if count == 2:
        return trustedMessage(frames[0], frames[1])
    if count == 0:
        return trustedMessage(b"", b"")
    return trustedMessage(frames[0], frames[1], tuple(frames[2:]))
