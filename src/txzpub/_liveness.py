# -*- test-case-name: tests.test_liveness -*-
"""
Liveness: which sequenced publishers a subscriber still hears.

Rules:

1. A publisher is heard through its heartbeats (which say how often they
   come) and its messages. After ``SILENT_AFTER`` heartbeat intervals with
   neither, it is silent: ``onSilent(publisher, seconds)``, once; the next
   heartbeat makes it heard again (``onResumed``).
2. A publisher silent for ``FORGET_AFTER`` more seconds is forgotten:
   ``onForgotten(publisher)``, and nothing is kept of it here.
3. A heartbeat says whether the publisher was *quiet* (no message since its
   previous heartbeat) or a check is *due* (every ``CHECK_EVERY``
   heartbeats): the subscriber then asks for the latest numbers (tail loss).
4. At most ``MAX_WATCHED`` publishers are watched (one timer each): beyond,
   the one watched first is forgotten, so forged identities cost bounded
   memory and timers.

When each publisher was last heard is not kept here: it is the mapping the
owner passes in (the subscriber's stream tracker stores it for every message
and heartbeat), read, never changed. Timers are reset only by heartbeats, so
the data path never touches the reactor. A heartbeat is given to ``beat()``
before the owner notes it as heard, so *quiet* compares with the one before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from ._reactors import ReactorTime

__all__ = ["CHECK_EVERY", "FORGET_AFTER", "SILENT_AFTER", "Liveness"]

#: Heartbeat intervals without a heartbeat or message before a publisher is silent.
SILENT_AFTER: Final = 3
#: Seconds a silent publisher is remembered before it is forgotten.
FORGET_AFTER: Final = 300.0
#: A busy publisher's latest numbers are checked every this many heartbeats.
CHECK_EVERY: Final = 5
#: Most publishers watched at once.
MAX_WATCHED: Final = 1_000


class _Watch:
    """One publisher: its heartbeat interval, when it last beat, and its timer."""

    __slots__ = ("beats", "interval", "lastBeat", "silent", "timer")

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.lastBeat = 0.0
        self.beats = 0
        self.silent = False
        self.timer: Any = None


def _ignore(*_: object) -> None:
    """A callback nobody set."""


class Liveness:
    """The publishers a subscriber hears, and the silent ones; see the module rules."""

    def __init__(
        self,
        clock: ReactorTime,
        lastHeard: Mapping[bytes, float],
        *,
        onSilent: Callable[[bytes, float], object] = _ignore,
        onResumed: Callable[[bytes], object] = _ignore,
        onForgotten: Callable[[bytes], object] = _ignore,
    ) -> None:
        self._clock = clock
        self._onSilent = onSilent
        self._onResumed = onResumed
        self._onForgotten = onForgotten
        self._watches: dict[bytes, _Watch] = {}
        self._lastHeard = lastHeard

    def beat(self, publisher: bytes, interval: float, now: float) -> tuple[bool, bool]:
        """A heartbeat, at *now*: return (quiet, due) of rule 3."""
        watch = self._watches.get(publisher)
        if watch is None:
            if len(self._watches) >= MAX_WATCHED:
                self.forget(next(iter(self._watches)))
            watch = self._watches[publisher] = _Watch(interval)
        quiet = self._lastHeard.get(publisher, 0.0) <= watch.lastBeat
        watch.interval, watch.lastBeat = interval, now
        watch.beats += 1
        if watch.silent:
            watch.silent = False
            self._onResumed(publisher)
        self._schedule(publisher, watch, SILENT_AFTER * interval)
        return quiet, watch.beats % CHECK_EVERY == 0

    def forget(self, publisher: bytes) -> None:
        """Stop watching *publisher* (rule 2, or its owner forgot it)."""
        watch = self._watches.pop(publisher, None)
        if watch is not None and watch.timer is not None and watch.timer.active():
            watch.timer.cancel()

    def stop(self) -> None:
        for publisher in list(self._watches):
            self.forget(publisher)

    def _schedule(self, publisher: bytes, watch: _Watch, delay: float) -> None:
        if watch.timer is not None and watch.timer.active():
            watch.timer.reset(delay)
        else:
            watch.timer = self._clock.callLater(delay, self._check, publisher)

    def _check(self, publisher: bytes) -> None:
        watch = self._watches.get(publisher)
        if watch is None:  # pragma: no cover - forget() cancels the timer
            return
        watch.timer = None
        silentFor = self._clock.seconds() - max(
            watch.lastBeat, self._lastHeard.get(publisher, 0.0)
        )
        limit = SILENT_AFTER * watch.interval
        if silentFor < limit:  # a message came since: not silent yet
            self._schedule(publisher, watch, limit - silentFor)
        elif not watch.silent:
            watch.silent = True
            self._schedule(publisher, watch, FORGET_AFTER)
            self._onSilent(publisher, silentFor)
        else:
            self.forget(publisher)
            self._onForgotten(publisher)
