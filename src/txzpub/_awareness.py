# -*- test-case-name: tests.test_awareness -*-
"""
Subscriber awareness: the publisher's view of who listens, with Deferreds.

The counting is the core's (``_core._xpub``); this adds what waits on it:
``waitForSubscribers()`` waiters (the shared Waiters rules: FIFO, cancelling
or timing out loses nothing and needs no canceller) and ``onSubscription()``
observers. Waiters are checked once per batch of subscription messages, after
all of them are counted; observers hear of every message, in order.

This layer knows Deferreds, the logger and an injected clock; the socket and
its reader belong to the publisher, which feeds ``apply()`` and ``settle()``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger

from ._core._checks import checkCallable, checkInt, checkSeconds
from ._core._xpub import SubscriptionChange, SubscriptionCounts
from ._errors import ConnectionClosed, SubscriberTimeout
from ._reactors import ReactorTime
from ._waiters import Waiters, deadline

__all__ = ["Awareness"]

_log = Logger()


class _CountWaiter(Deferred[None]):
    """A waitForSubscribers() call: fires when *count* subscriptions match *tag*."""

    count = 1
    tag = b""


class Awareness:
    """Counts, waiters and observers of one publisher's subscriptions."""

    def __init__(self, clock: ReactorTime, owner: object) -> None:
        self.counts = SubscriptionCounts()
        self._clock = clock
        self._owner = owner
        self._waiters = Waiters()
        self._observers: list[Callable[[bytes, bool], object]] = []
        self._changed = False
        self._closed = False

    @property
    def view(self) -> Mapping[bytes, int]:
        """``pub.subscriptions``: prefix -> peers subscribed to it, read-only and live."""
        return self.counts.view

    def waitFor(self, count: object, tag: bytes, timeout: object) -> Deferred[None]:
        """``waitForSubscribers()``; the publisher documents it."""
        needed = checkInt(count, "count", minimum=0)
        seconds = None if timeout is None else checkSeconds(timeout, "timeout")
        if self._closed:
            return fail(ConnectionClosed())
        if self.counts.matching(tag) >= needed:
            return succeed(None)
        waiter = _CountWaiter()
        waiter.count, waiter.tag = needed, tag
        self._waiters.add(waiter)

        def timedOut() -> SubscriberTimeout:
            found = self.counts.matching(tag)
            msg = (
                f"only {found} of {needed} subscription(s) matching {tag!r} reached "
                f"{self._owner!r} within {seconds:g} s; check the subscribers' address and topics"
            )
            return SubscriberTimeout(msg)

        return deadline(waiter, seconds, self._clock, timedOut)

    def observe(self, callback: Callable[[bytes, bool], object]) -> Callable[[], None]:
        """``onSubscription()``: returns the function that unregisters *callback*."""
        self._observers.append(checkCallable(callback, "callback"))

        def unregister() -> None:
            if callback in self._observers:
                self._observers.remove(callback)

        return unregister

    def apply(self, change: SubscriptionChange) -> None:
        """Count one subscription message in and tell the observers."""
        self.counts.apply(change)
        self._changed = True
        for observer in list(self._observers):
            try:
                observer(change.prefix, change.subscribed)
            except Exception:  # noqa: BLE001, PERF203 - one bad observer must not stop the others
                _log.failure("an onSubscription callback raised; delivery continues")

    def settle(self) -> None:
        """The end of a batch of subscription messages: fire the waiters now satisfied."""
        if not self._changed:
            return
        self._changed = False
        matching = self.counts.matching

        def ready(waiter: Any) -> bool:
            return not self._closed and matching(waiter.tag) >= waiter.count

        self._waiters.release(ready, None, "waitForSubscribers()")

    def close(self) -> None:
        """The publisher shut down: fail the waiters, drop observers and counts."""
        self._closed = True
        self._observers.clear()
        self.counts.clear()
        self._waiters.fireAll(ConnectionClosed(), "waitForSubscribers()")
