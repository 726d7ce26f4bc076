# -*- test-case-name: tests.core.test_checks -*-
"""
Argument checks: the one place that decides which error a bad argument raises.

Rules, as trio and hyperlink apply them:

1. The wrong *type* is a TypeError; the right type with a wrong *value* is a
   ValueError. ``maxQueued="x"`` and ``count="2"`` are TypeErrors,
   ``maxQueued=0`` a ValueError.
2. Every message has one shape: ``"<name> must be <what was expected>, not
   <repr of what came> (<its type>)"``, so a user sees at once which argument
   is wrong, what it should be and what it was.
3. ``bool`` is not an int here, although Python says it is: ``maxQueued=True``
   is a mistake, not the number 1.

Every check returns the value it accepted, so callers write
``self._limit = checkCount(limit, "maxCount")``.
"""

from __future__ import annotations

import math
from typing import TypeVar

__all__ = [
    "checkCallable",
    "checkCount",
    "checkInt",
    "checkSeconds",
    "checkType",
    "describe",
    "wrongType",
    "wrongValue",
]

T = TypeVar("T")


def describe(value: object) -> str:
    """``repr(value) (type name)``: how every message shows what came."""
    return f"{value!r} ({type(value).__name__})"


def wrongType(name: str, expected: str, value: object) -> TypeError:
    """The TypeError for *name*: it had to be *expected* but was *value*."""
    return TypeError(f"{name} must be {expected}, not {describe(value)}")


def wrongValue(name: str, expected: str, value: object) -> ValueError:
    """The ValueError for *name*: of the right type, but not *expected*."""
    return ValueError(f"{name} must be {expected}, not {describe(value)}")


def checkType(value: object, kind: type[T] | tuple[type[T], ...], name: str, expected: str) -> T:
    """*value* if it is an instance of *kind*; else the TypeError naming *expected*."""
    if not isinstance(value, kind):
        raise wrongType(name, expected, value)
    return value


def checkInt(value: object, name: str, *, minimum: int, maximum: int | None = None) -> int:
    """An int (not a bool) in ``minimum..maximum``."""
    if type(value) is not int:
        raise wrongType(name, "an int", value)
    if value < minimum:
        raise wrongValue(name, f">= {minimum}", value)
    if maximum is not None and value > maximum:
        raise wrongValue(name, f"<= {maximum}", value)
    return value


def checkCount(value: object, name: str) -> int:
    """A count of things (a bound, a limit): an int >= 1."""
    return checkInt(value, name, minimum=1)


def checkSeconds(value: object, name: str) -> float:
    """A duration: a finite int or float >= 0 (not a bool)."""
    if type(value) not in (int, float):
        raise wrongType(name, "a number of seconds (int or float)", value)
    seconds = float(value)  # type: ignore[arg-type]
    if not (seconds >= 0 and math.isfinite(seconds)):
        raise wrongValue(name, "a finite number of seconds >= 0", value)
    return seconds


def checkCallable(value: T, name: str) -> T:
    """*value* if it can be called."""
    if not callable(value):
        raise wrongType(name, "callable", value)
    return value
