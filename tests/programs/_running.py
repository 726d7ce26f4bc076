"""
The test side: run a program from this folder and follow it, without sleeping.

Program reads the child's stdout (``@ {json}`` event lines, see _child.py) and
stderr as they come, in one poll loop that can also serve ZeroMQ sockets of the
test process (a peer that reads, or one that does not), so every wait is on
real output under a deadline.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import zmq

HERE = Path(__file__).resolve().parent


class ProgramFailed(AssertionError):
    pass


class Program:
    """A program of this folder, run with the test's interpreter (``-b``, warnings shown)."""

    def __init__(self, script: str, config: dict[str, Any]) -> None:
        self.script = script
        env = dict(os.environ)
        env.pop("PYTHONWARNINGS", None)
        env.pop("PYTHONDEVMODE", None)
        env["PYTHONFAULTHANDLER"] = "1"  # a hung program shows its stacks on SIGABRT
        self.process = subprocess.Popen(  # noqa: S603 - our own program, our own interpreter
            [sys.executable, "-W", "default", "-b", str(HERE / script), json.dumps(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.events: list[dict[str, Any]] = []
        self.out: list[str] = []
        self.err: list[str] = []
        self._streams = {
            self.process.stdout.fileno(): (self._onOut, bytearray()),
            self.process.stderr.fileno(): (self.err.append, bytearray()),
        }
        self._open = set(self._streams)
        #: time.monotonic() when the process was seen to exit (both pipes closed, reaped).
        self.exitedAt: float | None = None

    def __repr__(self) -> str:
        return (
            f"{self.script} (status {self.process.poll()})\n--- stdout:\n"
            + "\n".join(self.out)
            + "\n--- stderr:\n"
            + self.stderr
        )

    @property
    def stderr(self) -> str:
        return "\n".join(self.err)

    def event(self, name: str) -> dict[str, Any] | None:
        """The first event called *name*, if it has come."""
        return next((e for e in self.events if e["event"] == name), None)

    def all(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]

    def waitFor(
        self,
        name: str,
        timeout: float,
        sockets: dict[zmq.Socket[bytes], Callable[[], object]] | None = None,
    ) -> dict[str, Any]:
        """Follow the program until it reports *name*; return that event."""
        self.until(lambda: self.event(name) is not None, f"the {name!r} event", timeout, sockets)
        found = self.event(name)
        assert found is not None
        return found

    def until(
        self,
        done: Callable[[], bool],
        what: str,
        timeout: float,
        sockets: dict[zmq.Socket[bytes], Callable[[], object]] | None = None,
    ) -> None:
        """
        Read the program's output, and call ``sockets[s]()`` whenever socket *s* is
        readable, until *done()*; fail after *timeout* seconds or if the program
        ends first (an "error" event fails at once).
        """
        follow([self], done, what, timeout, sockets)

    def finish(
        self, timeout: float, sockets: dict[zmq.Socket[bytes], Callable[[], object]] | None = None
    ) -> int:
        """Follow the program to its end; return its exit status."""
        self.until(lambda: self.exitedAt is not None, "the program's exit", timeout, sockets)
        return self.process.returncode

    def _check(self, what: str) -> None:
        if self.event("error") is not None:
            raise ProgramFailed(f"{self.script} failed while waiting for {what}: {self!r}")

    def _reap(self, deadline: float) -> None:
        self.process.wait(max(0.1, deadline - time.monotonic()))
        if self.exitedAt is None:
            self.exitedAt = time.monotonic()

    def _read(self, fd: int) -> None:
        onLine, pending = self._streams[fd]
        chunk = os.read(fd, 65536)
        if not chunk:
            self._open.discard(fd)
            if pending:
                onLine(pending.decode("utf-8", "replace"))
            return
        pending += chunk
        *complete, rest = pending.split(b"\n")
        for line in complete:
            onLine(line.decode("utf-8", "replace"))
        pending[:] = rest

    def _onOut(self, line: str) -> None:
        self.out.append(line)
        if line.startswith("@ "):
            self.events.append(json.loads(line[2:]))

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                with suppress(OSError):
                    stream.close()

    def dumpStacks(self, timeout: float = 5.0) -> str:
        """Make a still-running program print its threads' stacks (faulthandler) and end."""
        if self.process.poll() is not None:
            return ""
        before = len(self.err)
        self.process.send_signal(signal.SIGABRT)
        deadline = time.monotonic() + timeout
        while self._open and (remaining := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select(list(self._open), [], [], remaining)
            for fd in readable:
                self._read(fd)
        return "\n".join(self.err[before:])


def follow(
    programs: list[Program],
    done: Callable[[], bool],
    what: str,
    timeout: float,
    sockets: dict[zmq.Socket[bytes], Callable[[], object]] | None = None,
) -> None:
    """
    Read the output of every program, and call ``sockets[s]()`` whenever socket *s*
    is readable, until *done()*; fail after *timeout* seconds, at a program's
    "error" event, or when every program has ended (and no socket is served).
    """
    deadline = time.monotonic() + timeout
    sockets = sockets or {}
    while not done():
        for program in programs:
            program._check(what)
        if all(program.exitedAt is not None for program in programs) and not sockets:
            ended = "\n".join(map(repr, programs))
            raise ProgramFailed(f"the program ended before {what}: {ended}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            running = "\n".join(map(repr, programs))
            raise ProgramFailed(f"no {what} within {timeout} s: {running}")
        _serve(programs, sockets, remaining, deadline)


def _serve(
    programs: list[Program],
    sockets: dict[zmq.Socket[bytes], Callable[[], object]],
    timeout: float,
    deadline: float,
) -> None:
    """Wait at most *timeout* s for output or a readable socket, and handle what came."""
    poller = zmq.Poller()
    for program in programs:
        for fd in program._open:
            poller.register(fd, zmq.POLLIN)
    for socket in sockets:
        poller.register(socket, zmq.POLLIN)
    ready = dict(poller.poll(max(1, int(timeout * 1000))))
    for socket, handle in sockets.items():
        if socket in ready:
            handle()
    for program in programs:
        for fd in list(program._open):
            if fd in ready:
                program._read(fd)
        if not program._open and program.exitedAt is None:
            program._reap(deadline)


@contextmanager
def running(script: str, config: dict[str, Any]) -> Iterator[Program]:
    """Start *script*; whatever happens, it is not left running (a hung one shows its stacks)."""
    program = Program(script, config)
    try:
        yield program
    except BaseException as error:
        stacks = program.dumpStacks()
        if stacks:
            error.add_note(f"{program.script} was still running; its stacks:\n{stacks}")
        raise
    finally:
        program.kill()
