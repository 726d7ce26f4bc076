"""
What txzpub needs of a reactor, as typing Protocols.

Twisted's reactor interfaces are zope Interfaces, which type checkers match
by name: ``task.Clock`` is not an ``IReactorTime`` to mypy, although it is
one. These Protocols match by shape instead, so the global reactor (typed by
Twisted as all its common interfaces), ``MemoryReactorClock`` and
``task.Clock`` (for ReactorTime) all fit, and a wrong argument is still a
type error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.interfaces import IDelayedCall

__all__ = ["ReactorTime", "ZmqReactor"]


class ReactorTime(Protocol):
    """A clock: what timeouts need (``IReactorTime``'s shape)."""

    def callLater(
        self,
        delay: float,
        callable: Callable[..., object],  # noqa: A002 - Twisted's name
        *args: object,
        **kw: object,
    ) -> IDelayedCall: ...

    def seconds(self) -> float: ...


class ZmqReactor(ReactorTime, Protocol):
    """A reactor txzpub can run connections on: a clock, file descriptors, shutdown events."""

    # Any: an IReadDescriptor, which type checkers cannot see on a zope
    # ``@implementer`` class (the readers here are such classes).
    def addReader(self, reader: Any) -> None: ...

    def removeReader(self, reader: Any) -> None: ...

    def addSystemEventTrigger(
        self,
        phase: str,
        eventType: str,
        callable: Callable[..., Any],  # noqa: A002 - Twisted's name
        *args: Any,
        **kwargs: Any,
    ) -> Any: ...

    def removeSystemEventTrigger(self, triggerID: Any) -> None: ...
