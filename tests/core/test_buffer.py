"""BoundedBuffer: a bound, an overflow policy, and counters that account for every item."""

from __future__ import annotations

import re
from collections import deque

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from txzpub._core._buffer import (
    DEFAULT_MAX_QUEUED,
    DEFAULT_OVERFLOW,
    BoundedBuffer,
    OverflowPolicy,
    QueueStatistics,
    checkOverflow,
)

from ..strategies import overflowPolicies

DROP_POLICIES = [OverflowPolicy.DROP_OLDEST, OverflowPolicy.DROP_NEWEST]


def exactly(text: str) -> str:
    return f"^{re.escape(text)}$"


def filled(
    items: range, maxQueued: int, overflow: OverflowPolicy
) -> tuple[BoundedBuffer[int], list[bool]]:
    buffer: BoundedBuffer[int] = BoundedBuffer(maxQueued, overflow)
    return buffer, [buffer.push(item) for item in items]


def test_defaults() -> None:
    """The documented defaults: 10,000 messages, freshest data wins."""
    assert DEFAULT_MAX_QUEUED == 10_000
    assert DEFAULT_OVERFLOW is OverflowPolicy.DROP_OLDEST
    buffer: BoundedBuffer[int] = BoundedBuffer()
    assert buffer.maxQueued == DEFAULT_MAX_QUEUED
    assert buffer.overflow is DEFAULT_OVERFLOW
    assert (len(buffer), buffer.dropped, buffer.peak) == (0, 0, 0)
    assert not buffer
    assert not buffer.full


def test_policyValues() -> None:
    """The string spellings are public API (overflow="pause" is accepted everywhere)."""
    assert {policy.value for policy in OverflowPolicy} == {"drop-oldest", "drop-newest", "pause"}


def test_fifo() -> None:
    buffer, overflowed = filled(range(3), 5, OverflowPolicy.DROP_OLDEST)
    assert overflowed == [False, False, False]
    assert [buffer.pop(), buffer.pop(), buffer.pop()] == [0, 1, 2]


def test_popEmpty() -> None:
    buffer: BoundedBuffer[int] = BoundedBuffer(1)
    with pytest.raises(IndexError):
        buffer.pop()


def test_dropOldestKeepsNewest() -> None:
    """DROP_OLDEST: the consumer sees the freshest maxQueued items; each drop is counted."""
    buffer, overflowed = filled(range(10), 3, OverflowPolicy.DROP_OLDEST)
    assert overflowed == [False] * 3 + [True] * 7
    assert buffer.popMany(100) == [7, 8, 9]
    assert buffer.dropped == 7
    assert buffer.peak == 3


def test_dropNewestKeepsOldest() -> None:
    """DROP_NEWEST: the consumer sees an uninterrupted prefix of the stream."""
    buffer, overflowed = filled(range(10), 3, OverflowPolicy.DROP_NEWEST)
    assert overflowed == [False] * 3 + [True] * 7
    assert buffer.popMany(100) == [0, 1, 2]
    assert buffer.dropped == 7
    assert buffer.peak == 3


def test_pauseNeverDrops() -> None:
    """PAUSE: past the bound pushes still queue (already read); push reports 'full' instead."""
    buffer, overflowed = filled(range(10), 3, OverflowPolicy.PAUSE)
    assert overflowed == [False] * 3 + [True] * 7
    assert buffer.dropped == 0
    assert len(buffer) == 10
    assert buffer.peak == 10
    assert buffer.full
    assert buffer.popMany(100) == list(range(10))


@pytest.mark.parametrize("overflow", list(OverflowPolicy))
def test_pushOverflowsExactlyWhenFull(overflow: OverflowPolicy) -> None:
    """push returns True exactly when the buffer was already full, i.e. it overflowed."""
    buffer: BoundedBuffer[int] = BoundedBuffer(2, overflow)
    assert buffer.push(1) is False
    assert not buffer.full
    assert buffer.push(2) is False
    assert buffer.full
    assert buffer.push(3) is True
    buffer.pop()
    if overflow is OverflowPolicy.PAUSE:
        # Still at the bound: two items left after one of three was popped.
        assert buffer.full
        buffer.pop()
    assert not buffer.full
    assert buffer.push(4) is False


@pytest.mark.parametrize("overflow", list(OverflowPolicy))
def test_maxQueuedOne(overflow: OverflowPolicy) -> None:
    buffer, overflowed = filled(range(3), 1, overflow)
    assert overflowed == [False, True, True]
    expected = {
        OverflowPolicy.DROP_OLDEST: [2],
        OverflowPolicy.DROP_NEWEST: [0],
        OverflowPolicy.PAUSE: [0, 1, 2],
    }[overflow]
    assert buffer.popMany(10) == expected


def test_peakIsHighWaterMark() -> None:
    """peak remembers the most items held at once, even after they are consumed."""
    buffer, _ = filled(range(4), 10, OverflowPolicy.DROP_OLDEST)
    buffer.popMany(3)
    buffer.push(99)
    assert len(buffer) == 2
    assert buffer.peak == 4
    for item in range(5):
        buffer.push(item)
    assert buffer.peak == 7


@pytest.mark.parametrize(
    ("limit", "taken", "left"),
    [(0, [], [0, 1, 2, 3]), (1, [0], [1, 2, 3]), (3, [0, 1, 2], [3]), (4, [0, 1, 2, 3], []),
     (100, [0, 1, 2, 3], [])],
)  # fmt: skip
def test_popMany(limit: int, taken: list[int], left: list[int]) -> None:
    """popMany takes up to *limit* of the oldest items, in order."""
    buffer, _ = filled(range(4), 10, OverflowPolicy.DROP_OLDEST)
    assert buffer.popMany(limit) == taken
    assert buffer.popMany(100) == left


def test_popManyEmpty() -> None:
    buffer: BoundedBuffer[int] = BoundedBuffer(3)
    assert buffer.popMany(5) == []
    assert buffer.popMany(0) == []


def test_popManyReturnsFreshList() -> None:
    """The returned list is the caller's: the buffer keeps working independently of it."""
    buffer, _ = filled(range(3), 10, OverflowPolicy.DROP_OLDEST)
    taken = buffer.popMany(10)
    buffer.push(7)
    assert taken == [0, 1, 2]
    assert buffer.popMany(10) == [7]


def test_clearKeepsCounters() -> None:
    """clear forgets the items but not the history: dropped and peak stay."""
    buffer, _ = filled(range(5), 2, OverflowPolicy.DROP_NEWEST)
    buffer.clear()
    assert len(buffer) == 0
    assert not buffer
    assert not buffer.full
    assert (buffer.dropped, buffer.peak) == (3, 2)
    assert buffer.push(9) is False
    assert buffer.pop() == 9


def test_lenAndBool() -> None:
    buffer: BoundedBuffer[int | None] = BoundedBuffer(3)
    assert (len(buffer), bool(buffer)) == (0, False)
    buffer.push(None)
    assert (len(buffer), bool(buffer)) == (1, True)


def test_statistics() -> None:
    """A snapshot of everything an operator needs to see a slow consumer."""
    buffer, _ = filled(range(7), 4, OverflowPolicy.DROP_OLDEST)
    buffer.pop()
    assert buffer.statistics() == QueueStatistics(
        queued=3,
        peak=4,
        dropped=3,
        waiting=0,
        maxQueued=4,
        overflow=OverflowPolicy.DROP_OLDEST,
    )
    assert buffer.statistics(waiting=2).waiting == 2


def test_statisticsIsASnapshot() -> None:
    """Statistics are frozen values: later pushes do not change an earlier snapshot."""
    buffer: BoundedBuffer[int] = BoundedBuffer(4, OverflowPolicy.PAUSE)
    before = buffer.statistics()
    buffer.push(1)
    assert before.queued == 0
    assert buffer.statistics().queued == 1
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        before.queued = 5  # type: ignore[misc]


@pytest.mark.parametrize("policy", list(OverflowPolicy))
def test_checkOverflowAccepts(policy: OverflowPolicy) -> None:
    """Both the enum and its string value are accepted, and normalised to the enum."""
    assert checkOverflow(policy) is policy
    assert checkOverflow(policy.value) is policy


CHOICES = "an OverflowPolicy or one of 'drop-oldest', 'drop-newest', 'pause'"


@pytest.mark.parametrize("value", ["DROP_OLDEST", "Drop-Oldest", "drop_oldest", "", "block"])
def test_checkOverflowRejectsOtherStrings(value: str) -> None:
    """Names and other spellings are the right type but no policy: a ValueError."""
    message = f"overflow must be {CHOICES}, not {value!r} (str)"
    with pytest.raises(ValueError, match=exactly(message)):
        checkOverflow(value)


@pytest.mark.parametrize("value", [None, 0, b"pause"])
def test_checkOverflowRejectsOtherTypes(value: object) -> None:
    """Anything but a policy or a string is a TypeError, listing the valid choices."""
    message = f"overflow must be {CHOICES}, not {value!r} ({type(value).__name__})"
    with pytest.raises(TypeError, match=exactly(message)):
        checkOverflow(value)


def test_constructorValidates() -> None:
    """The constructor applies both validators, string policies included."""
    assert BoundedBuffer(5, "pause").overflow is OverflowPolicy.PAUSE  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="maxQueued must be >= 1"):
        BoundedBuffer(0)
    with pytest.raises(TypeError, match="maxQueued must be an int"):
        BoundedBuffer(True)
    with pytest.raises(ValueError, match="overflow must be"):
        BoundedBuffer(5, "sometimes")  # type: ignore[arg-type]


operations = st.lists(
    st.one_of(
        st.just(("push", 0)),
        st.just(("pop", 0)),
        st.tuples(st.just("popMany"), st.integers(0, 6)),
    ),
    max_size=60,
)


@given(st.integers(1, 5), overflowPolicies(), operations)
def test_accounting(maxQueued: int, overflow: OverflowPolicy, ops: list[tuple[str, int]]) -> None:
    """
    Nothing is lost unaccounted: queued + dropped + popped == pushed after any sequence,
    and the buffer holds exactly what a naive model of the policy says.
    """
    buffer: BoundedBuffer[int] = BoundedBuffer(maxQueued, overflow)
    model: deque[int] = deque()
    pushed = popped = dropped = peak = 0
    for op, limit in ops:
        if op == "push":
            item = pushed
            pushed += 1
            full = len(model) >= maxQueued
            assert buffer.push(item) is full
            if not full or overflow is OverflowPolicy.PAUSE:
                model.append(item)
            elif overflow is OverflowPolicy.DROP_OLDEST:
                model.popleft()
                model.append(item)
                dropped += 1
            else:
                dropped += 1
            peak = max(peak, len(model))
        elif op == "pop":
            if model:
                assert buffer.pop() == model.popleft()
                popped += 1
            else:
                with pytest.raises(IndexError):
                    buffer.pop()
        else:
            taken = buffer.popMany(limit)
            assert taken == [model.popleft() for _ in range(min(limit, len(model)))]
            popped += len(taken)
        assert list(buffer.items) == list(model)
        assert buffer.dropped == dropped
        assert buffer.peak == peak
        assert len(buffer) + buffer.dropped + popped == pushed
        assert buffer.full is (len(model) >= maxQueued)
        if overflow is OverflowPolicy.PAUSE:
            assert buffer.dropped == 0
        else:
            assert len(buffer) <= maxQueued


# Not @pytest.mark.parametrize: pytest-twisted breaks it when combined with @given.
@given(st.sampled_from(DROP_POLICIES), st.integers(1, 50), st.integers(0, 200))
def test_dropPoliciesKeepTheRightWindow(
    overflow: OverflowPolicy, maxQueued: int, count: int
) -> None:
    """After *count* pushes, DROP_OLDEST holds the last maxQueued and DROP_NEWEST the first."""
    buffer, overflowed = filled(range(count), maxQueued, overflow)
    kept = min(count, maxQueued)
    assert overflowed.count(True) == buffer.dropped == count - kept
    expected = (
        range(count - kept, count) if overflow is OverflowPolicy.DROP_OLDEST else range(kept)
    )
    assert buffer.popMany(count) == list(expected)
