"""
Hypothesis strategies for hostile peers (issue 6): what a publisher that does
not follow txZMQ's framing, or that means harm, may put on the wire.

Frames are empty, tiny, separator-only, not UTF-8, or now and then huge (a tag
of up to a megabyte, built by repetition so it stays cheap); messages have any
number of frames; separators are one to four arbitrary bytes, self-overlapping
ones (b"::", b"aba") included; subscription prefixes are mostly cut from the
generated frames themselves, so routing is exercised on real matches,
separator-containing and non-UTF-8 prefixes and b"" included.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from hypothesis import strategies as st

from txzpub._core._buffer import OverflowPolicy

from .strategies import topics

__all__ = [
    "HUGE",
    "NOT_UTF8",
    "Scenario",
    "hostileFrameLists",
    "hostileFrames",
    "hostilePrefixes",
    "hostileSeparators",
    "scenarios",
]

#: The largest frame hostileFrames() makes by default: 1 MB.
HUGE = 1 << 20

#: Byte strings no UTF-8 decoder accepts: a lone continuation byte, an overlong
#: encoding, a surrogate, a five-byte form, a truncated sequence, a BOM pair.
NOT_UTF8 = (
    b"\x80",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xe2\x82",
    b"\xff\xfe",
)

_FILLS = (b"x", b"\0", b"tag\0", b"\xff", b"::", b"\0\0\1")


def _repeat(size: int, fill: bytes) -> bytes:
    return (fill * (size // len(fill) + 1))[:size]


def _hugeTag(size: int, separator: bytes, body: bytes) -> bytes:
    """A one-frame message whose tag alone is *size* bytes."""
    return b"T" * size + separator + body


def hostileFrames(maxHuge: int = HUGE, separator: bytes = b"\0") -> st.SearchStrategy[bytes]:
    """
    One frame: usually small (empty, separator runs, arbitrary bytes, not UTF-8),
    about one time in forty huge (64 KB up to *maxHuge*: a run of filler or a
    huge tag before *separator*).
    """
    small = st.one_of(
        st.just(b""),
        topics(8),
        st.binary(max_size=48),
        st.lists(st.sampled_from([b"\0", b"\0\0", b"::", b":", b"a", b"b"]), max_size=8).map(
            b"".join
        ),
        st.tuples(st.sampled_from(NOT_UTF8), st.binary(max_size=8), st.sampled_from(NOT_UTF8)).map(
            b"".join
        ),
    )
    huge = st.tuples(
        st.integers(min_value=min(64 * 1024, maxHuge), max_value=maxHuge),
        st.sampled_from([*_FILLS, None]),
        st.binary(max_size=8),
    )
    built = huge.map(lambda recipe: _build(*recipe, separator))
    # The selector comes first, so shrinking moves towards a small frame.
    return st.integers(0, 39).flatmap(lambda picked: built if picked == 39 else small)


def _build(size: int, fill: bytes | None, body: bytes, separator: bytes) -> bytes:
    """A run of *fill*, or (no fill) a huge tag before *separator* and a small body."""
    if fill is None:
        return _hugeTag(size, separator, body)
    return _repeat(size, fill)


def hostileFrameLists(
    minFrames: int = 1, maxFrames: int = 6, maxHuge: int = HUGE, separator: bytes = b"\0"
) -> st.SearchStrategy[list[bytes]]:
    """One message: *minFrames* to *maxFrames* hostile frames."""
    return st.lists(hostileFrames(maxHuge, separator), min_size=minFrames, max_size=maxFrames)


def hostileSeparators() -> st.SearchStrategy[bytes]:
    """txZMQ's b"\\0", any single byte, or two to four bytes, overlapping ones included."""
    return st.one_of(
        st.just(b"\0"),
        st.binary(min_size=1, max_size=1),
        st.sampled_from([b"::", b"\0\0", b"aba", b"abab", b"\0\1", b"\xff\xfe"]),
        st.binary(min_size=2, max_size=4),
    )


def hostilePrefixes() -> st.SearchStrategy[bytes]:
    """Prefixes not taken from any frame: b"", separators, non-UTF-8, arbitrary bytes."""
    return st.one_of(
        st.just(b""),
        topics(4),
        st.binary(max_size=6),
        st.sampled_from(NOT_UTF8),
    )


def _cutFrom(frames: Sequence[bytes], maxPrefix: int | None) -> st.SearchStrategy[bytes]:
    """A prefix of one of *frames*: usually short, sometimes the whole frame (up to *maxPrefix*)."""
    return st.sampled_from(frames).flatmap(
        lambda frame: st.one_of(
            st.integers(0, min(len(frame), 12)).map(lambda size: frame[:size]),
            st.just(frame[:maxPrefix]),
        )
    )


@attrs.frozen
class Scenario:
    """A hostile stream and a subscriber's configuration for it."""

    separator: bytes
    prefixes: frozenset[bytes]
    messages: tuple[tuple[bytes, ...], ...]
    #: prefix -> how it is read: "live" (next()), "batch" (nextBatch()) or "unread".
    modes: dict[bytes, str]
    overflow: OverflowPolicy
    maxQueued: int
    batchSize: int
    #: A user callback raises on every n-th message it sees (0: never).
    raiseEvery: int

    def __repr__(self) -> str:
        shown = [[frame if len(frame) <= 32 else len(frame) for frame in m] for m in self.messages]
        return (
            f"Scenario(separator={self.separator!r}, prefixes={sorted(self.prefixes)!r}, "
            f"modes={self.modes!r}, overflow={self.overflow.name}, maxQueued={self.maxQueued}, "
            f"batchSize={self.batchSize}, raiseEvery={self.raiseEvery}, messages={shown!r})"
        )


@st.composite
def scenarios(
    draw: st.DrawFn,
    maxMessages: int = 30,
    maxFrames: int = 6,
    maxHuge: int = HUGE,
    policies: Sequence[OverflowPolicy] = tuple(OverflowPolicy),
    modes: Sequence[str] = ("unread", "live", "batch", "unread"),
    separators: st.SearchStrategy[bytes] | None = None,
    maxPrefix: int | None = None,
) -> Scenario:
    """
    A separator, hostile messages framed around it, and subscriptions to read
    them with. *maxPrefix* caps the prefixes cut from frames: a real SUB socket
    must not subscribe to one of 200 KB or more (libzmq 4.3.5's recursive trie
    then overflows the stack when the socket closes).
    """
    separator = draw(separators if separators is not None else hostileSeparators())
    drawn = draw(
        st.lists(
            hostileFrameLists(1, maxFrames, maxHuge, separator), min_size=1, max_size=maxMessages
        )
    )
    # Replaying the list makes floods (full queues, drops, a paused reader) for free.
    messages = tuple(tuple(message) for message in drawn) * draw(st.sampled_from([1, 1, 2, 5]))
    cut = _cutFrom([message[0] for message in messages], maxPrefix)
    prefix = st.one_of(cut, cut, hostilePrefixes())  # mostly prefixes that match something
    prefixes = draw(st.frozensets(prefix, min_size=1, max_size=8))
    if draw(st.booleans()):
        prefixes |= {b""}  # everything matches: the queue that overflows first
    chosen = {each: draw(st.sampled_from(modes)) for each in sorted(prefixes)}
    return Scenario(
        separator=separator,
        prefixes=prefixes,
        messages=messages,
        modes=chosen,
        overflow=draw(st.sampled_from(policies)),
        maxQueued=draw(st.sampled_from([1, 1, 2, 3, 8])),
        batchSize=draw(st.sampled_from([1, 2, 3, 7, 256])),
        raiseEvery=draw(st.sampled_from([0, 0, 1, 3])),
    )
