# -*- test-case-name: tests.core.test_lastvalue -*-
"""
The last value cache: what a new subscription is sent first.

Rules:

1. The cache keeps the last message of each tag published (one per tag, so
   it grows with the number of distinct tags, never with traffic).
2. A new subscription to *prefix* is sent the last message of every cached
   tag whose *first frame* starts with *prefix*, as ZeroMQ matches: the whole
   one-frame message, or the tag alone with two-frame framing.
3. The frames come from the framing encoder the publisher itself uses, so a
   repeat is byte-for-byte the original publish; a sequenced publish keeps
   its stamp, so subscribers that already had the message drop the repeat.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["LastValues"]


class LastValues:
    """One message per tag, replayed as the frames a publish would send."""

    __slots__ = ("_encode", "_values")

    def __init__(self, encode: Callable[[bytes, bytes], list[bytes]]) -> None:
        # tag -> body, or (body, stamp) for a sequenced publish.
        self._values: dict[bytes, bytes | tuple[bytes, bytes]] = {}
        self._encode = encode

    def remember(self, tag: bytes, body: bytes, stamp: bytes | None = None) -> None:
        """*body* (with its *stamp*, if sequenced) is now the last message of *tag* (rule 1)."""
        self._values[tag] = body if stamp is None else (body, stamp)

    def replayFor(self, prefix: bytes) -> list[list[bytes]]:
        """The frames of each cached message a new subscription to *prefix* matches."""
        encode = self._encode
        replay = []
        for tag, value in self._values.items():
            if isinstance(value, tuple):
                frames = [*encode(tag, value[0]), value[1]]
            else:
                frames = encode(tag, value)
            if frames[0].startswith(prefix):
                replay.append(frames)
        return replay

    def __len__(self) -> int:
        return len(self._values)
