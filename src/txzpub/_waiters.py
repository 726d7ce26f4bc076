# -*- test-case-name: tests.test_waiters -*-
"""
Waiting Deferreds: one FIFO, one cancellation rule, one firing rule, one deadline.

Everything in txzpub that hands out a Deferred for "when X happens" (the next
message, enough subscribers, a connection) keeps its waiters here, so they all
behave alike:

1. Waiters are served in the order they started waiting.
2. Cancelling (or timing out) a waiter needs no canceller: the Deferred fires
   with CancelledError, and a fired waiter is simply skipped when its turn
   comes (pyzmq's "skip cancelled futures"). So whatever it waited for goes to
   the next waiter instead: nothing is lost. Skipped waiters are swept out when
   they pile up (a loop of timed-out calls), so memory stays bounded.
3. A consumer's exception never escapes into the code that fired the waiter:
   a chain that ends in an unhandled failure is logged and consumed, never
   reported later as "Unhandled error in Deferred".
4. ``deadline()`` turns a timeout into the caller's own error (a TimeoutError
   subclass) through the same cancellation, so rule 2 holds for it too.

This layer knows Deferreds and the logger; the clock of a deadline is passed
in, never the global reactor, and there is no socket here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar, cast

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._reactors import ReactorTime

__all__ = ["Waiters", "deadline", "fire"]

_log = Logger()

T = TypeVar("T")

# Waiters (live or cancelled) that trigger a sweep of the cancelled ones.
_SWEEP_AT = 64


def fire(waiter: Deferred[Any], result: object, what: str) -> None:
    """
    Call back *waiter* with *result*, under rule 3.

    *what* names what was awaited, for the log: ``"next() on tag b'news'"``.
    """
    waiter.callback(result)
    failure = waiter.result
    if waiter.paused or not isinstance(failure, Failure):
        return
    # The consumer's chain ended in an error nobody handled: log it here and
    # consume it, so Twisted does not also report "Unhandled error in Deferred".
    waiter.addErrback(lambda _: None)
    if not isinstance(failure.value, CancelledError):
        _log.failure("A callback on {what} raised; delivery continues", failure=failure, what=what)


class Waiters(deque[Deferred[Any]]):
    """
    Deferreds waiting their turn, oldest first (rules 1 and 2).

    A deque, so hot paths may peek at ``waiters[0]`` and ``popleft()`` directly;
    they must then skip waiters that have already fired (``waiter.called``).
    """

    __slots__ = ("sweepAt",)

    def __init__(self) -> None:
        super().__init__()
        #: Length at which ``add()`` sweeps out fired waiters. A hot path may
        #: ``append()`` itself and then call ``sweep()`` when ``len >= sweepAt``.
        self.sweepAt = _SWEEP_AT

    def add(self, waiter: Deferred[T]) -> Deferred[T]:
        """Queue *waiter* (last in line) and return it."""
        self.append(waiter)
        if len(self) >= self.sweepAt:
            self.sweep()
        return waiter

    def popLive(self) -> Deferred[Any] | None:
        """Remove and return the oldest waiter still waiting; None if there is none."""
        while self:
            waiter = self.popleft()
            if not waiter.called:
                return waiter
        return None

    def live(self) -> int:
        """How many waiters are still waiting."""
        return sum(not waiter.called for waiter in self)

    def release(self, ready: Callable[[Any], bool], result: object, what: str) -> None:
        """Fire, in order, every waiting waiter for which ``ready(waiter)`` is true."""
        waiting = [waiter for waiter in self if not waiter.called]
        self.clear()
        kept = []
        for waiter in waiting:
            if waiter.called:  # cancelled by an earlier waiter's callbacks
                continue
            if not ready(waiter):
                kept.append(waiter)
            elif isinstance(result, BaseException):
                waiter.errback(result)  # the waiter's owner handles (or reports) it
            else:
                fire(waiter, result, what)
        # Ahead of any waiter that a callback above added: they are older.
        self.extendleft(reversed(kept))

    def fireAll(self, result: object, what: str) -> None:
        """Fire every waiting waiter with *result* (an exception errbacks)."""
        self.release(lambda _: True, result, what)

    def sweep(self) -> None:
        """Drop the waiters that have fired (rule 2's memory bound)."""
        live = [waiter for waiter in self if not waiter.called]
        self.clear()
        self.extend(live)
        self.sweepAt = max(_SWEEP_AT, 2 * len(live))


def deadline(
    waiter: Deferred[T],
    seconds: float | None,
    clock: ReactorTime,
    timedOut: Callable[[], BaseException],
) -> Deferred[T]:
    """
    Fail *waiter* with ``timedOut()`` unless it fires within *seconds* (rule 4).

    None means no deadline. The timer is cancelled when the waiter fires first.
    """
    if seconds is None or waiter.called:
        return waiter

    def expire(result: T | Failure, timeout: float) -> T | Failure:
        if isinstance(result, Failure) and isinstance(result.value, CancelledError):
            raise timedOut()
        return result

    # Twisted types the clock nominally (IReactorTime); ours is the same shape.
    return waiter.addTimeout(seconds, cast("IReactorTime", clock), onTimeoutCancel=expire)
