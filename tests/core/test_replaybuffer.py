"""ReplayBuffer: two bounds, eviction of the globally oldest, checked against a list model."""

from __future__ import annotations

import re

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from txzpub._core._replaybuffer import (
    DEFAULT_REPLAY_BYTES,
    DEFAULT_REPLAY_DEPTH,
    BufferStatistics,
    ReplayBuffer,
)

#: One add: (tag, sequence, body, header).
Add = tuple[bytes, int, bytes, bytes]

TAGS = (b"a", b"bb", b"ccc")
LAST = 2**64 - 1


def exactly(text: str) -> str:
    return f"^{re.escape(text)}$"


def weight(add: Add) -> int:
    tag, _, body, header = add
    return len(tag) + len(body) + len(header)


def expectedContents(adds: list[Add], maxMessages: int, maxBytes: int) -> list[Add]:
    """The model: the newest messages that fit both bounds, too-large ones never kept."""
    kept: list[Add] = []
    size = 0
    for add in reversed([add for add in adds if weight(add) <= maxBytes]):
        if len(kept) == maxMessages or size + weight(add) > maxBytes:
            break
        kept.append(add)
        size += weight(add)
    return kept[::-1]


@st.composite
def histories(draw: st.DrawFn, maxAdds: int = 80) -> list[Add]:
    """Adds over a few tags, numbered upwards per tag, with gaps now and then."""
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(TAGS),
                st.integers(1, 3),
                st.binary(max_size=12),
                st.binary(max_size=6),
            ),
            max_size=maxAdds,
        )
    )
    numbers = dict.fromkeys(TAGS, 0)
    adds = []
    for tag, step, body, header in steps:
        numbers[tag] += step
        adds.append((tag, numbers[tag], body, header))
    return adds


def filled(adds: list[Add], maxMessages: int, maxBytes: int) -> ReplayBuffer:
    buffer = ReplayBuffer(maxMessages, maxBytes)
    for add in adds:
        buffer.add(*add)
    return buffer


def assertHolds(buffer: ReplayBuffer, expected: list[Add]) -> None:
    """Everything observable agrees with *expected*: sizes, each tag's contents, oldest()."""
    assert len(buffer) == len(expected)
    assert buffer.size == sum(map(weight, expected))
    for tag in TAGS:
        mine = [add for add in expected if add[0] == tag]
        assert buffer.find(tag, 1, LAST) == [(body, header) for _, _, body, header in mine]
        assert buffer.oldest(tag) == (mine[0][1] if mine else None)
    # Rule 5: no tag lingers once its last message is gone.
    assert set(buffer._held) == {add[0] for add in expected}


@given(
    adds=histories(),
    maxMessages=st.integers(1, 8),
    maxBytes=st.integers(1, 60),
)
def test_holdsTheNewestMessagesThatFit(adds: list[Add], maxMessages: int, maxBytes: int) -> None:
    """Rules 1 to 3 and 5 against the model, after every add, with the counters."""
    buffer = ReplayBuffer(maxMessages, maxBytes)
    for count in range(1, len(adds) + 1):
        buffer.add(*adds[count - 1])
        expected = expectedContents(adds[:count], maxMessages, maxBytes)
        assertHolds(buffer, expected)
        refused = sum(weight(add) > maxBytes for add in adds[:count])
        assert buffer.statistics() == BufferStatistics(
            messages=len(expected),
            bytes=sum(map(weight, expected)),
            maxMessages=maxMessages,
            maxBytes=maxBytes,
            evicted=count - refused - len(expected),
            refused=refused,
        )


@given(
    adds=histories(maxAdds=120),
    maxMessages=st.integers(1, 50),
    ranges=st.lists(st.tuples(st.sampled_from(TAGS), st.integers(0, 90), st.integers(0, 90))),
)
def test_findIsTheHeldRange(
    adds: list[Add], maxMessages: int, ranges: list[tuple[bytes, int, int]]
) -> None:
    """find() gives exactly the held messages of the tag numbered first..last, in order."""
    buffer = filled(adds, maxMessages, DEFAULT_REPLAY_BYTES)
    held = expectedContents(adds, maxMessages, DEFAULT_REPLAY_BYTES)
    for tag, first, last in ranges:
        found = buffer.find(tag, first, last)
        assert found == [
            (body, header) for t, n, body, header in held if t == tag and first <= n <= last
        ]
        assert len(found) <= maxMessages


def test_defaults() -> None:
    """The documented defaults: 10,000 messages, 64 MiB."""
    assert DEFAULT_REPLAY_DEPTH == 10_000
    assert DEFAULT_REPLAY_BYTES == 64 * 1024 * 1024
    buffer = ReplayBuffer()
    assert buffer.statistics() == BufferStatistics(
        messages=0,
        bytes=0,
        maxMessages=DEFAULT_REPLAY_DEPTH,
        maxBytes=DEFAULT_REPLAY_BYTES,
        evicted=0,
        refused=0,
    )
    assert len(buffer) == 0
    assert buffer.find(b"a", 1, LAST) == []
    assert buffer.oldest(b"a") is None


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"maxMessages": 0}, ValueError, "maxMessages must be >= 1, not 0 (int)"),
        ({"maxBytes": -1}, ValueError, "maxBytes must be >= 1, not -1 (int)"),
        ({"maxMessages": True}, TypeError, "maxMessages must be an int, not True (bool)"),
        ({"maxBytes": 1.5}, TypeError, "maxBytes must be an int, not 1.5 (float)"),
    ],
)
def test_badBounds(arguments: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=exactly(message)):
        ReplayBuffer(**arguments)  # type: ignore[arg-type]


def test_messageBoundEvictsTheGloballyOldest() -> None:
    """Rule 2: the oldest message goes first, whatever its tag."""
    buffer = filled([(b"a", 1, b"a1", b""), (b"b", 1, b"b1", b""), (b"a", 2, b"a2", b"")], 2, 1000)
    assert buffer.find(b"a", 1, 2) == [(b"a2", b"")]
    assert buffer.find(b"b", 1, 1) == [(b"b1", b"")]
    assert (buffer.oldest(b"a"), buffer.evicted) == (2, 1)


def test_byteBound() -> None:
    """Rule 1: a message weighs tag + body + header; the byte bound evicts as many as needed."""
    buffer = ReplayBuffer(maxMessages=100, maxBytes=10)
    buffer.add(b"a", 1, b"xx", b"h")  # 4 bytes
    buffer.add(b"b", 1, b"yy", b"h")  # 4 bytes: 8 held
    assert (len(buffer), buffer.size) == (2, 8)
    buffer.add(b"a", 2, b"z", b"")  # 2 bytes: exactly 10, nothing goes
    assert (len(buffer), buffer.size, buffer.evicted) == (3, 10, 0)
    buffer.add(b"b", 2, b"123456", b"h")  # 8 bytes: a1 and b1 must go (a2 stays)
    assert (len(buffer), buffer.size, buffer.evicted) == (2, 10, 2)
    assert buffer.find(b"a", 1, 9) == [(b"z", b"")]
    assert buffer.find(b"b", 1, 9) == [(b"123456", b"h")]


def test_tooLargeIsRefusedAndEvictsNothing() -> None:
    """Rule 3: a message heavier than maxBytes alone is not kept, and costs the others nothing."""
    buffer = ReplayBuffer(maxMessages=100, maxBytes=10)
    buffer.add(b"a", 1, b"x", b"")
    buffer.add(b"a", 2, b"123456789", b"h")  # 11 bytes
    assert buffer.find(b"a", 1, 2) == [(b"x", b"")]
    assert (buffer.refused, buffer.evicted, buffer.size) == (1, 0, 2)
    # A message of exactly maxBytes fits, alone.
    buffer.add(b"a", 3, b"12345678", b"h")
    assert buffer.find(b"a", 1, 3) == [(b"12345678", b"h")]
    assert (buffer.refused, buffer.evicted, buffer.size) == (1, 1, 10)


def test_refusedLeavesAGap() -> None:
    """find() skips the numbers it does not hold, whatever the reason."""
    buffer = ReplayBuffer(maxMessages=100, maxBytes=10)
    for number, body in enumerate([b"1", b"2", b"too large!", b"4"], start=1):
        buffer.add(b"t", number, body, b"")
    assert buffer.find(b"t", 2, 4) == [(b"2", b""), (b"4", b"")]
    assert buffer.find(b"t", 3, 3) == []


def test_findEmptyRanges() -> None:
    buffer = filled([(b"t", n, b"%d" % n, b"") for n in range(1, 6)], 10, 1000)
    assert buffer.find(b"t", 4, 2) == []
    assert buffer.find(b"t", 6, LAST) == []
    assert buffer.find(b"t", 0, 0) == []
    assert buffer.find(b"other", 1, LAST) == []
    assert buffer.find(b"t", 0, 1) == [(b"1", b"")]


def test_findReturnsAFreshList() -> None:
    """The caller may keep or change what find() returned; the buffer is not affected."""
    buffer = filled([(b"t", 1, b"x", b"")], 10, 1000)
    buffer.find(b"t", 1, 1).clear()
    assert buffer.find(b"t", 1, 1) == [(b"x", b"")]


def test_lastMessageOfATagForgetsTheTag() -> None:
    """Rule 5: bounded memory, however many tags come and go."""
    buffer = ReplayBuffer(maxMessages=3)
    for number in range(1, 1001):
        buffer.add(b"%d" % number, 1, b"", b"")
    assert set(buffer._held) == {b"998", b"999", b"1000"}
    assert buffer.oldest(b"997") is None


def test_longRunCompacts() -> None:
    """Many evictions from one tag while others are held: find() and oldest() stay right."""
    adds: list[Add] = []
    for number in range(1, 3001):
        adds.append((b"hot", number, b"%d" % number, b""))
        if number % 7 == 0:
            adds.append((b"cold", number, b"c", b"h"))
    buffer = filled(adds, 100, DEFAULT_REPLAY_BYTES)
    expected = expectedContents(adds, 100, DEFAULT_REPLAY_BYTES)
    hot = [add for add in expected if add[0] == b"hot"]
    assert buffer.oldest(b"hot") == hot[0][1]
    assert buffer.find(b"hot", 1, LAST) == [(body, header) for _, _, body, header in hot]
    assert buffer.find(b"hot", 2990, 2995) == [(b"%d" % n, b"") for n in range(2990, 2996)]
    # The held lists were compacted: they do not keep a slot per evicted message.
    assert len(buffer._held[b"hot"].numbers) < 2 * 100 + 32


def test_statisticsIsASnapshot() -> None:
    """Statistics are frozen values: later adds do not change an earlier snapshot."""
    buffer = ReplayBuffer(maxMessages=1)
    before = buffer.statistics()
    buffer.add(b"a", 1, b"x", b"")
    buffer.add(b"a", 2, b"y", b"")
    assert before.messages == 0
    assert buffer.statistics().evicted == 1
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        before.messages = 3  # type: ignore[misc]
