# -*- test-case-name: tests.test_monitor -*-
"""
ConnectionEvents: a connection's lifecycle events as a Mailbox.

A stream sees the events that happen after it was created, in a bounded
queue that drops the oldest (a slow reader costs bounded memory, and the
freshest state is what matters). Everything else is the Mailbox's rules.
"""

from __future__ import annotations

from collections.abc import Callable

from ._core._buffer import OverflowPolicy
from ._core._checks import checkCount
from ._core._lifecycle import ConnectionEvent
from ._errors import ConnectionClosed
from ._mailbox import Mailbox
from ._reactors import ReactorTime

__all__ = ["DEFAULT_MAX_EVENTS", "ConnectionEvents"]

#: Default bound of each events() stream's queue.
DEFAULT_MAX_EVENTS = 1000


def _ignore(_: object) -> None:
    """What closing a stream tells an owner that does not care."""


class ConnectionEvents(Mailbox[ConnectionEvent]):
    """
    An async iterator over a connection's lifecycle events, from ``events()``.

    It sees the events that happen after it was created; it keeps at most
    ``maxQueued`` unread ones, dropping the oldest (counted in
    ``statistics().dropped``). ``async for`` ends when the connection shuts
    down (or after close()); ``next()`` then fails with ConnectionClosed. It
    cannot be constructed directly.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_onClose",)
    _getOneFrom = "ZmqConnection.events()"

    def __init__(
        self,
        what: str,
        maxQueued: int = DEFAULT_MAX_EVENTS,
        onClose: Callable[[ConnectionEvents], object] = _ignore,
        clock: ReactorTime | None = None,
    ) -> None:
        super().__init__(
            what=what,
            clock=clock,
            maxQueued=checkCount(maxQueued, "maxQueued"),
            overflow=OverflowPolicy.DROP_OLDEST,
        )
        self._onClose = onClose

    def close(self) -> None:
        """
        Stop receiving events; queued ones can still be read, then iteration
        ends. Calling it twice is fine.
        """
        if self.closed:
            return
        self._close(ConnectionClosed(), discard=False)
        onClose, self._onClose = self._onClose, _ignore
        onClose(self)
