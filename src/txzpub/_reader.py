# -*- test-case-name: tests.test_reader -*-
"""
The reactor glue: read a ZeroMQ socket from the reactor without starving it.

ZeroMQ's ZMQ_FD is edge-triggered and also fires for internal commands, so the
rules (as in pyzmq's own event-loop shims) are:

1. Never trust the FD: check ZMQ_EVENTS for POLLIN before reading, and read
   with NOBLOCK. The first ``GUARDED_READS`` reads of a turn are each
   preceded by that check (about 1 us), so the quiet case (a spurious wake-up,
   or a message or two at a time) ends on "no POLLIN" rather than on EAGAIN,
   which pyzmq reports with an exception costing about 2.5 us. Past those, a
   flood is read without checks until the batch is full or EAGAIN.
   Receive zero-copy Frames and ask each whether more frames follow: pyzmq's
   recv_multipart asks the socket (getsockopt RCVMORE, about as costly as the
   recv itself) after every frame.
2. Read at most ``batchSize`` messages per reactor turn, then hand the whole
   batch to the owner. A flood therefore yields to timers and other sockets
   after every batch instead of draining forever (txZMQ's defect). The batch
   also has a time budget: when handling one took longer than ``timeBudget``
   seconds (slow consumers), the next batch is half as big, down to one
   message; when it took under a quarter of that, it doubles back up to
   ``batchSize``. One clock read per batch, none per message.
3. A turn must end with the edge re-armed: either a ZMQ_EVENTS read that
   showed no POLLIN (the FD fires again on the next arrival), or a
   re-scheduled turn with callLater(0) (a full batch; or EAGAIN followed by
   an EVENTS read that still shows POLLIN, as the FD will not fire again).
   Any other touch of the socket (send, subscribe, unsubscribe) can also
   swallow the edge, so the owner calls kick() after it, which schedules one
   such check per reactor turn however many sends there were. After a send
   the owner calls afterSend() instead, which makes that check at once (one
   ZMQ_EVENTS read, no extra reactor turn: a request/reply round trip is two
   turns shorter), up to ``SEND_CHECKS`` times between two turns, and then
   falls back to kick(), so a burst of sends pays for one check per turn.
4. An exception from the owner's batch handler is logged, and rule 3 still
   runs: a raising consumer never stops the reader.
5. pause() stops reading (the socket's queue then fills and ZeroMQ's
   high-water marks apply); resume() restarts it. Held-back sends (rule 6)
   are still served while paused: a connection whose receive queue is full
   must not stop sending. The FD then stays registered, and each turn only
   serves the writer and ends with the EVENTS read that re-arms the edge.
6. An owner with sends held back by a high-water mark sets ``onWritable``;
   each turn then starts with one ZMQ_EVENTS read, and calls it when POLLOUT
   is set. The FD fires when the peer drains the pipe (the same edge rules),
   but the EVENTS read that ends a turn may itself take the command that
   made the socket writable: so when that read shows POLLOUT while sends
   wait, another turn is scheduled, at once if the last one sent something,
   else after ``WRITE_RETRY`` seconds (a ROUTER reports POLLOUT while any
   peer has room, so the head of its queue may wait for another peer).

The reactor is a parameter; nothing here reaches for the global one.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any, Protocol

import zmq
from twisted.internet.interfaces import IReadDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer  # type: ignore[import-untyped]

from ._reactors import ZmqReactor

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_TIME_BUDGET",
    "GUARDED_READS",
    "SEND_CHECKS",
    "WRITE_RETRY",
    "ReadableSocket",
    "SocketReader",
]

_log = Logger()

# Big enough that per-batch costs (one ZMQ_EVENTS read, one callLater) vanish
# against per-message work; small enough that a batch of cheap consumers takes
# about a millisecond, so a 10 ms timer is never late by more than a batch.
DEFAULT_BATCH_SIZE = 256

# Seconds of message handling per reactor turn before batches shrink: half of
# a 10 ms timer period, so such a timer is never late by more than ~5 ms plus
# one message's handling.
DEFAULT_TIME_BUDGET = 0.005

# Plain ints: pyzmq's flags are IntFlags, and ``events & POLLIN`` on one runs
# Python-level enum code (about 1 us) where an int runs none.
_NOBLOCK = int(zmq.NOBLOCK)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)
_COPY = False  # recv's copy flag: receive Frames (see rule 1)
#: Reads per turn that are preceded by a ZMQ_EVENTS check (rule 1).
GUARDED_READS = 8
#: Sends checked at once (rule 3) between two turns of the reader.
SEND_CHECKS = 4
#: Seconds before a writer that could not send retries, while ZeroMQ reports
#: POLLOUT anyway (rule 6).
WRITE_RETRY = 0.005


class ReceivedFrame(Protocol):
    """The part of zmq.Frame the reader uses."""

    @property
    def more(self) -> bool: ...

    @property
    def bytes(self) -> bytes: ...


class ReadableSocket(Protocol):
    """The part of zmq.Socket the reader uses, so tests can drive a fake one."""

    def recv(self, flags: int, copy: bool) -> Any: ...

    def get(self, option: int) -> Any: ...


@implementer(IReadDescriptor)
class SocketReader:
    """Registers a ZeroMQ socket's FD with the reactor and feeds batches to *onBatch*."""

    def __init__(
        self,
        socket: ReadableSocket,
        fd: int,
        reactor: ZmqReactor,
        onBatch: Callable[[list[list[bytes]]], object],
        batchSize: int = DEFAULT_BATCH_SIZE,
        prefix: str = "txzpub",
        timeBudget: float = DEFAULT_TIME_BUDGET,
        timer: Callable[[], float] = perf_counter,
    ) -> None:
        self._socket: ReadableSocket | None = socket
        self._fd = fd
        self._reactor = reactor
        self._onBatch = onBatch
        self._maxBatch = batchSize
        self._batchSize = batchSize
        self._timeBudget = timeBudget
        self._timer = timer
        self._prefix = prefix
        self._scheduled: Any = None  # an IDelayedCall
        self._writeRetry: Any = None  # an IDelayedCall (rule 6)
        self._writerStalled = False  # the last onWritable() sent nothing
        self._sendChecks = 0  # afterSend() checks since the last turn (rule 3)
        self._registered = False
        self._paused = False
        #: Called at the start of a turn when the socket is writable (rule 6);
        #: returns whether it sent anything.
        self.onWritable: Callable[[], bool] | None = None

    # -- IReadDescriptor -------------------------------------------------------

    def fileno(self) -> int:
        return self._fd if self._socket is not None else -1

    def logPrefix(self) -> str:
        return self._prefix

    def doRead(self) -> None:
        self._drain()

    def connectionLost(self, reason: Failure) -> None:
        # The reactor drops us when it shuts down; a later resume() re-adds us.
        self._registered = False

    # -- the owner's controls ---------------------------------------------------

    def start(self) -> None:
        """Register with the reactor and check once for messages already waiting."""
        self._register()
        self.kick()

    def kick(self) -> None:
        """Check the socket on the next reactor turn (once per turn however often called)."""
        if self._scheduled is not None or self._socket is None:
            return
        if self._paused:
            if self.onWritable is None:
                return
            self._register()  # rule 5: a paused reader still serves its writer
        self._scheduled = self._reactor.callLater(0, self._drain)

    def afterSend(self) -> None:
        """The owner sent: re-arm the edge now, or on the next turn after a burst (rule 3)."""
        socket = self._socket
        if self._scheduled is not None or socket is None:
            return  # a turn is coming anyway
        self._sendChecks += 1
        if self._sendChecks > SEND_CHECKS or self._paused:
            self.kick()
            return
        try:
            events = socket.get(_EVENTS)
        except zmq.ZMQError:
            return
        if events & _POLLIN:
            self.kick()
        elif events & _POLLOUT and self.onWritable is not None:
            self._writeAgain()

    def pause(self) -> None:
        """Stop reading until resume(); ZeroMQ queues (and then drops) upstream meanwhile."""
        if self._paused or self._socket is None:
            return
        self._paused = True
        if self.onWritable is None:
            self._unregister()
            self._cancelScheduled()

    def resume(self) -> None:
        """Undo pause() and read what arrived meanwhile."""
        if not self._paused or self._socket is None:
            return
        self._paused = False
        self._register()
        self.kick()

    @property
    def paused(self) -> bool:
        return self._paused

    def stop(self) -> None:
        """Unregister for good; the owner closes the socket afterwards."""
        self._unregister()
        self._cancelScheduled()
        self._socket = None

    # -- internals --------------------------------------------------------------

    def _register(self) -> None:
        if not self._registered:
            self._reactor.addReader(self)
            self._registered = True

    def _unregister(self) -> None:
        if self._registered:
            self._reactor.removeReader(self)
            self._registered = False

    def _cancelScheduled(self) -> None:
        scheduled, self._scheduled = self._scheduled, None
        if scheduled is not None and scheduled.active():
            scheduled.cancel()
        if self._writeRetry is not None:
            retry, self._writeRetry = self._writeRetry, None
            if retry.active():
                retry.cancel()

    def _drain(self) -> None:  # noqa: C901, PLR0912 - the hot loop, inlined on purpose
        self._cancelScheduled()
        self._sendChecks = 0
        socket = self._socket
        if socket is None:
            return
        if self.onWritable is not None and not self._serveWriter(socket):
            return
        if self._paused:
            self._whilePaused(socket)
            return
        batch: list[list[bytes]] = []
        append = batch.append
        recv, get = socket.recv, socket.get
        limit = self._batchSize
        emptied = False  # an EVENTS read showed no POLLIN: the edge is re-armed
        events = 0
        try:
            while len(batch) < limit:
                if len(batch) < GUARDED_READS and not (events := get(_EVENTS)) & _POLLIN:
                    emptied = True
                    break
                frame: ReceivedFrame = recv(_NOBLOCK, _COPY)
                if not frame.more:
                    append([frame.bytes])
                    continue
                frames = [frame.bytes]
                while frame.more:  # the rest of a multipart message is already here
                    frame = recv(_NOBLOCK, _COPY)
                    frames.append(frame.bytes)
                append(frames)
        except zmq.Again:
            pass
        except zmq.ZMQError:
            _log.failure("Reading the ZeroMQ socket failed; stopping this reader")
            self.stop()
            return
        if batch:
            started = self._timer()
            try:
                self._onBatch(batch)
            except Exception:  # noqa: BLE001 - rule 4: the reader outlives its consumers
                _log.failure("A message handler raised; delivery continues")
            self._adapt(self._timer() - started)
        if emptied:
            if events & _POLLOUT and self.onWritable is not None:
                self._writeAgain()
            return
        if len(batch) >= limit:
            self.kick()  # a full batch: more is likely waiting
        else:
            self._rearm()  # EAGAIN mid-flood: EVENTS re-arms the edge

    def _serveWriter(self, socket: ReadableSocket) -> bool:
        """Rule 6; False when the writer closed the socket."""
        if socket.get(_EVENTS) & _POLLOUT and self.onWritable is not None:
            try:
                self._writerStalled = not self.onWritable()
            except Exception:  # noqa: BLE001 - rule 4 holds for writers too
                _log.failure("A writer raised; reading continues")
        return self._socket is not None

    def _whilePaused(self, socket: ReadableSocket) -> None:
        """Rule 5: serve only the writer; unregister once it has nothing left."""
        if self.onWritable is None:
            self._unregister()  # nothing to do until resume(); a readable FD would spin
            return
        try:
            events = socket.get(_EVENTS)  # re-arms the edge
        except zmq.ZMQError:
            return
        if events & _POLLOUT:
            self._writeAgain()

    def _writeAgain(self) -> None:
        """Rule 6: the turn ended on POLLOUT while sends wait; come back for them."""
        if not self._writerStalled:
            self.kick()
        elif self._writeRetry is None and self._scheduled is None:
            self._writeRetry = self._reactor.callLater(WRITE_RETRY, self._retryWrite)

    def _retryWrite(self) -> None:
        self._writeRetry = None
        self._drain()

    def _adapt(self, elapsed: float) -> None:
        """Rule 2's time budget: halve the batch after a slow one, regrow after fast ones."""
        size = self._batchSize
        if elapsed > self._timeBudget:
            if size > 1:
                self._batchSize = size // 2
        elif size < self._maxBatch and elapsed < self._timeBudget / 4:
            self._batchSize = min(self._maxBatch, size * 2)

    def _rearm(self) -> None:
        socket = self._socket
        if socket is None or self._paused:
            return
        try:
            events = socket.get(_EVENTS)
        except zmq.ZMQError:
            return
        if events & _POLLIN:
            self.kick()
        elif events & _POLLOUT and self.onWritable is not None:
            self._writeAgain()
