# -*- test-case-name: tests.test_cli,tests.test_cli_security -*-
"""
What txzpub logs, on stderr: warnings and errors only, one line each.

The library logs with twisted.logger; a command line shows the events that
need a human (a refused CURVE client, a failed handshake, a handler that
raised) as ``txzpub COMMAND: ...`` lines, like its own progress lines.
Debug and info events (an admitted client, a reconnection) are not shown.

A connection is named in a log line by its ``repr``; a command gives its
connections a short name instead with ``nameInLogs``, or none at all when it
has only one (a line then starts with what happened). The
same line repeated (a client retrying with a wrong server key, ten times a
second) is shown once, then at most once per REPEAT_SECONDS with a count.
Python's warnings arrive here too (twisted.logger takes them over), so they
are not lost.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import cast

from twisted.logger import ILogObserver, LogEvent, LogLevel, eventAsText, globalLogBeginner
from zope.interface import implementer  # type: ignore[import-untyped]

from ._common import say

__all__ = ["REPEAT_SECONDS", "SHOWN_LEVELS", "LogPrinter", "nameInLogs", "startLogging"]

#: An identical line is shown at most once in this many seconds.
REPEAT_SECONDS = 10.0
#: How many distinct recent lines are remembered for that.
_REMEMBERED = 256
#: The levels shown; debug and info are not.
SHOWN_LEVELS = frozenset({LogLevel.warn, LogLevel.error, LogLevel.critical})

_NAMED_PREFIX = "{connection!r}"
_names: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


class _Shown:
    """Shows *text* where a log format has ``{connection!r}``."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


def nameInLogs(connection: object, name: str = "") -> None:
    """Call *connection* *name* in log lines instead of its repr; "": leave it out."""
    _names[connection] = name


@implementer(ILogObserver)
class LogPrinter:
    """A log observer writing each warning or error as one ``txzpub COMMAND: ...`` line."""

    def __init__(
        self,
        command: str,
        write: Callable[[str, str], None] = say,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._command = command
        self._write = write
        self._clock = clock
        # line -> (when it was last shown, how many times it came since)
        self._recent: dict[str, tuple[float, int]] = {}

    def __call__(self, event: LogEvent) -> None:
        if event.get("log_level") not in SHOWN_LEVELS:
            return
        connection = event.get("connection")
        if connection is not None:
            try:
                name = _names.get(connection)
            except TypeError:  # not weakly referenceable: never named
                name = None
            if name is not None:
                event = {**event, "connection": _Shown(name)}
                form = event.get("log_format") or ""
                if not name and form.startswith(_NAMED_PREFIX):
                    event["log_format"] = form.removeprefix(_NAMED_PREFIX).lstrip(": ")
        text = eventAsText(
            event, includeTraceback=True, includeTimestamp=False, includeSystem=False
        ).rstrip("\n")
        now = self._clock()
        shown, since = self._recent.get(text, (None, 0))
        if shown is not None and now - shown < REPEAT_SECONDS:
            self._recent[text] = (shown, since + 1)
            return
        if len(self._recent) >= _REMEMBERED:
            self._recent.clear()
        self._recent[text] = (now, 0)
        if since:
            text += f" (and {since} more time(s) in the last {now - (shown or now):.0f} s)"
        self._write(self._command, text)


def startLogging(command: str) -> None:
    """Show the library's warnings and errors on stderr, for the rest of the process."""
    printer = cast("ILogObserver", LogPrinter(command))
    globalLogBeginner.beginLoggingTo([printer], redirectStandardIO=False)
