"""
Hypothesis strategies for the sans-IO core.

Topics and prefixes come from a tiny alphabet on purpose: with three symbols,
random prefixes and frames collide and nest often, so routing properties are
exercised on real matches instead of on disjoint random bytes.
"""

from __future__ import annotations

from hypothesis import strategies as st

from txzpub._core._buffer import OverflowPolicy
from txzpub._core._framing import DEFAULT_SEPARATOR

__all__ = [
    "HUGE_FRAME",
    "bodies",
    "borderFreeSeparators",
    "frameLists",
    "frames",
    "overflowPolicies",
    "prefixes",
    "separators",
    "subscriptionSets",
    "tags",
    "topicFrames",
    "topics",
]

#: The largest frame frames() makes: big enough to be "huge", small enough to stay fast.
HUGE_FRAME = 1 << 20

#: Few symbols, one of them the default separator, so topics nest and collide.
_SYMBOLS = (b"a", b"b", DEFAULT_SEPARATOR)


def _joined(symbols: st.SearchStrategy[bytes], maxSize: int) -> st.SearchStrategy[bytes]:
    return st.lists(symbols, max_size=maxSize).map(b"".join)


def topics(maxSize: int = 6) -> st.SearchStrategy[bytes]:
    """Topic strings over a three-symbol alphabet, possibly containing b"\\0"."""
    return _joined(st.sampled_from(_SYMBOLS), maxSize)


def prefixes(maxSize: int = 4) -> st.SearchStrategy[bytes]:
    """Subscription prefixes: short topics, b"" included."""
    return topics(maxSize)


def topicFrames(maxSize: int = 8) -> st.SearchStrategy[bytes]:
    """Raw first frames to route: usually over the topic alphabet, sometimes arbitrary."""
    return st.one_of(topics(maxSize), st.binary(max_size=maxSize))


def tags(separator: bytes = DEFAULT_SEPARATOR) -> st.SearchStrategy[bytes]:
    """Arbitrary tags that do not contain *separator* (so one-frame framing can carry them)."""
    return st.binary(max_size=16).filter(lambda tag: separator not in tag) | topics().filter(
        lambda tag: separator not in tag
    )


def _huge(size: int, fill: bytes) -> bytes:
    return (fill * (size // len(fill) + 1))[:size]


def bodies() -> st.SearchStrategy[bytes]:
    """Message bodies: usually small and arbitrary, now and then huge."""
    return frames()


def frames() -> st.SearchStrategy[bytes]:
    """
    One ZeroMQ frame: empty, small and arbitrary (b"\\0" included), or, about one
    time in twenty, up to HUGE_FRAME bytes (built by repetition, so it is cheap).
    """
    small = st.one_of(st.just(b""), topics(8), st.binary(max_size=64))
    huge = st.builds(
        _huge,
        st.integers(min_value=64 * 1024, max_value=HUGE_FRAME),
        st.sampled_from([b"x", b"\0", b"big\0frame"]),
    )
    # Draw the selector first: shrinking moves it to 0, i.e. to a small frame.
    return st.tuples(st.integers(0, 19), small, huge).map(
        lambda picked: picked[2] if picked[0] == 19 else picked[1]
    )


def frameLists(maxFrames: int = 6) -> st.SearchStrategy[list[bytes]]:
    """What a peer may send: 0 to *maxFrames* frames of anything."""
    return st.lists(frames(), max_size=maxFrames)


def subscriptionSets(maxSize: int = 12) -> st.SearchStrategy[set[bytes]]:
    """Sets of distinct prefixes, b"" and b"\\0"-containing ones included."""
    return st.sets(prefixes(), max_size=maxSize)


def separators() -> st.SearchStrategy[bytes]:
    """One-byte separators: every byte value, the default b"\\0" among them."""
    return st.binary(min_size=1, max_size=1)


def _hasBorder(separator: bytes) -> bool:
    """True if a proper prefix of *separator* is also a suffix (b"::", b"aba")."""
    return any(separator[:k] == separator[-k:] for k in range(1, len(separator)))


def borderFreeSeparators() -> st.SearchStrategy[bytes]:
    """
    Multi-byte separators with no prefix that is also a suffix (b"\\0\\1", b"<|>").

    Only those are unambiguous after a tag: with a bordered one such as b"::",
    the first occurrence of the separator can start inside the tag.
    """
    return st.binary(min_size=2, max_size=4).filter(lambda sep: not _hasBorder(sep))


def overflowPolicies() -> st.SearchStrategy[OverflowPolicy]:
    return st.sampled_from(OverflowPolicy)
