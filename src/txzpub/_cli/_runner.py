# -*- test-case-name: tests.test_cli -*-
"""
Runs one subcommand on the reactor and turns its outcome into an exit status.

A command is ``async def command(reactor) -> int``. Ctrl-C and SIGTERM cancel
it: the CancelledError surfaces at its current ``await``, its ``finally``
blocks close its sockets, and the process exits with the command's
"interrupted" status (0 for pub, sub and proxy). A second signal stops the
reactor at once. UsageError, EndpointError and SecurityError become one line
on stderr and exit status 2; anything else is a bug, reported with its
traceback. The library's warnings and errors (a refused CURVE client, say) are
shown on stderr too, one line each (see _logging).
"""

from __future__ import annotations

import signal
import sys
import traceback
from collections.abc import Callable, Coroutine
from contextlib import suppress
from types import FrameType
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, ensureDeferred
from twisted.internet.error import ReactorNotRunning
from twisted.python.failure import Failure

from txzpub import EndpointError, SecurityError

from ._common import EXIT_BUG, EXIT_USAGE, UsageError, complain, say
from ._logging import startLogging

__all__ = ["Command", "Interrupted", "exitEarlyOnSignals", "runCommand"]

Command = Callable[[Any], Coroutine[Any, Any, int]]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A signal arrived before the reactor ran (while importing, parsing)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raiseInterrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def exitEarlyOnSignals() -> None:
    """Until a command runs, Ctrl-C and SIGTERM end the process without a traceback."""
    for each in SIGNALS:
        signal.signal(each, _raiseInterrupted)


class _Run:
    def __init__(self, reactor: Any, name: str, interruptedStatus: Callable[[int], int]) -> None:
        self.reactor = reactor
        self.name = name
        self.interruptedStatus = interruptedStatus
        self.status: int | None = None
        self.signum: int | None = None
        self.running: Deferred[int] | None = None

    def start(self, command: Command) -> None:
        if self.signum is not None:
            self.status = self.interruptedStatus(self.signum)
            self.stop()
            return
        self.running = ensureDeferred(command(self.reactor))
        self.running.addBoth(self.finish)

    def onSignal(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # the second one: stop now
            self.reactor.callFromThread(self.stop)
            return
        self.signum = signum
        self.reactor.callFromThread(self.cancel)

    def cancel(self) -> None:
        if self.running is not None:
            self.running.cancel()

    def finish(self, result: int | Failure) -> None:
        if not isinstance(result, Failure):
            self.status = result
            self.stop()
            return
        error = result.value
        if self.signum is not None and isinstance(error, CancelledError):
            self.status = self.interruptedStatus(self.signum)
            if self.status:
                say(self.name, f"interrupted by {signal.Signals(self.signum).name}")
        elif isinstance(error, (UsageError, EndpointError, SecurityError)):
            complain(self.name, str(error))
            self.status = EXIT_USAGE
        else:
            complain(self.name, f"unexpected {error!r}; this is a bug, please report it")
            traceback.print_exception(error, file=sys.stderr)
            self.status = EXIT_BUG
        self.stop()

    def stop(self) -> None:
        with suppress(ReactorNotRunning):
            self.reactor.stop()


def runCommand(name: str, command: Command, interruptedStatus: Callable[[int], int]) -> int:
    """Run *command* on the global reactor until it ends; return the exit status."""
    from twisted.internet import reactor as installed  # noqa: PLC0415 - not for --help

    reactor: Any = installed
    startLogging(name)
    run = _Run(reactor, name, interruptedStatus)
    for each in SIGNALS:
        signal.signal(each, run.onSignal)
    reactor.callWhenRunning(run.start, command)
    reactor.run(installSignalHandlers=False)
    if run.status is None:  # stopped by a second signal
        return interruptedStatus(run.signum or signal.SIGINT)
    return run.status
