"""Argument checks: wrong type is a TypeError, wrong value a ValueError, one message shape."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from txzpub._core._checks import (
    checkCallable,
    checkCount,
    checkInt,
    checkSeconds,
    checkType,
    describe,
)


def exactly(text: str) -> str:
    return f"^{re.escape(text)}$"


@given(st.integers(1, 2**64))
def test_checkCountAcceptsPositiveInts(value: int) -> None:
    assert checkCount(value, "maxQueued") == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "maxQueued must be an int, not True (bool)"),
        (False, "maxQueued must be an int, not False (bool)"),
        (10.0, "maxQueued must be an int, not 10.0 (float)"),
        ("10", "maxQueued must be an int, not '10' (str)"),
        (None, "maxQueued must be an int, not None (NoneType)"),
    ],
)
def test_checkCountType(value: object, message: str) -> None:
    """Only a real int: bool is rejected too, so maxQueued=True is not a bound of 1."""
    with pytest.raises(TypeError, match=exactly(message)):
        checkCount(value, "maxQueued")


@pytest.mark.parametrize("value", [0, -1, -(2**40)])
def test_checkCountRange(value: int) -> None:
    """A bound below one could never hold a message."""
    with pytest.raises(ValueError, match=exactly(f"maxQueued must be >= 1, not {value} (int)")):
        checkCount(value, "maxQueued")


def test_checkIntBounds() -> None:
    assert checkInt(0, "count", minimum=0) == 0
    assert checkInt(5, "size", minimum=1, maximum=5) == 5
    with pytest.raises(ValueError, match=exactly("size must be <= 5, not 6 (int)")):
        checkInt(6, "size", minimum=1, maximum=5)
    with pytest.raises(ValueError, match=exactly("count must be >= 0, not -1 (int)")):
        checkInt(-1, "count", minimum=0)


@given(st.one_of(st.integers(0, 10**9), st.floats(0, 1e9)))
def test_checkSecondsAcceptsFiniteNonNegativeNumbers(value: float) -> None:
    assert checkSeconds(value, "timeout") == float(value)


@pytest.mark.parametrize("value", ["2", None, True, b"1", [1]])
def test_checkSecondsType(value: object) -> None:
    message = f"timeout must be a number of seconds (int or float), not {describe(value)}"
    with pytest.raises(TypeError, match=exactly(message)):
        checkSeconds(value, "timeout")


@pytest.mark.parametrize("value", [-1, -0.5, math.inf, math.nan])
def test_checkSecondsValue(value: float) -> None:
    message = f"timeout must be a finite number of seconds >= 0, not {describe(value)}"
    with pytest.raises(ValueError, match=exactly(message)):
        checkSeconds(value, "timeout")


def test_checkCallable() -> None:
    assert checkCallable(print, "callback") is print
    with pytest.raises(TypeError, match=exactly("callback must be callable, not 42 (int)")):
        checkCallable(42, "callback")


def test_checkType() -> None:
    assert checkType(b"x", bytes, "tag", "bytes") == b"x"
    with pytest.raises(TypeError, match=exactly("factory must be a ZmqFactory, not 3 (int)")):
        checkType(3, (bytes, str), "factory", "a ZmqFactory")
