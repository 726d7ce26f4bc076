# -*- test-case-name: tests.test_sendqueue,tests.test_lossless -*-
"""
The send queue: messages a high-water mark held back, sent in order later.

A non-blocking send at a peer's high-water mark fails (PUSH, DEALER, a ROUTER
with ROUTER_MANDATORY, an XPUB with XPUB_NODROP) instead of blocking. Such
messages wait here, in a Mailbox (the same bounded queue as every other in
txzpub), each with the Deferred its caller holds, if any:

1. A message is sent at once when nothing waits before it; otherwise it
   queues behind the others, so messages leave in the order they were given.
2. When the queue is full the send raises the owner's full error at once:
   the caller's backpressure signal. Nothing already queued is dropped.
3. ``serve()`` (the socket turned writable) sends from the head until a send
   fails again; each Deferred fires as its message is handed to ZeroMQ.
4. ``close()`` fails every waiting Deferred with ConnectionClosed, and
   returns how many messages never left.
5. ``whenEmpty()`` fires once nothing waits any more (at once if nothing
   does): the backpressure signal of callers that hold no Deferred per send.

The socket stays the connection's: it passes in ``send(frames) -> bool``
(False at the high-water mark) and its reader, which calls ``serve()`` when
the socket turns writable while a backlog waits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from twisted.internet.defer import Deferred, fail, succeed

from ._core._buffer import OverflowPolicy
from ._core._checks import checkCount
from ._errors import ConnectionClosed
from ._mailbox import Mailbox

__all__ = ["SendQueue", "WriteSignal"]

_Pending = tuple[list[bytes], "Deferred[None] | None"]


class WriteSignal(Protocol):
    """What tells us the socket is writable: the connection's SocketReader (its rule 6)."""

    onWritable: Callable[[], bool] | None

    def kick(self) -> None: ...


class SendQueue:
    """A connection's queue of held-back sends; see the module rules."""

    def __init__(
        self,
        maxQueued: int,
        send: Callable[[list[bytes]], bool],
        writer: WriteSignal,
        full: Callable[[int], Exception],
        what: str = "sends",
    ) -> None:
        self._pending = Mailbox[_Pending]._create(
            what=what,
            maxQueued=checkCount(maxQueued, "maxQueued"),
            overflow=OverflowPolicy.DROP_NEWEST,
        )
        self._send = send
        self._writer = writer
        # The error for rule 2, given the bound: each owner names its own option.
        self._full = full
        self._emptied: list[Deferred[None]] = []  # rule 5

    def enqueue(self, frames: list[bytes], *, track: bool) -> Deferred[None] | None:
        """
        Send *frames* now or after those waiting (rules 1 and 2).

        Returns None when they left at once, or when they wait and *track* is
        False; else a Deferred that fires once they are handed to ZeroMQ.
        """
        pending = self._pending
        if pending.closed:
            raise ConnectionClosed
        if pending._peek() is None and self._send(frames):
            return None
        stats = pending.statistics()
        if stats.queued >= stats.maxQueued:
            raise self._full(stats.maxQueued)
        sent: Deferred[None] | None = Deferred() if track else None
        pending._put((frames, sent))
        self._writer.onWritable = self.serve
        self._writer.kick()
        return sent

    def __len__(self) -> int:
        return self._pending.statistics().queued

    def whenEmpty(self) -> Deferred[None]:
        """Fire once every queued message has left (rule 5)."""
        if self._pending.closed:
            return fail(ConnectionClosed())
        if self._pending._peek() is None:
            return succeed(None)
        emptied: Deferred[None] = Deferred()
        self._emptied.append(emptied)
        return emptied

    def serve(self) -> bool:
        """The socket is writable: send from the head, in order (rule 3); True if any left."""
        pending = self._pending
        progressed = False
        while (head := pending._peek()) is not None:
            frames, sent = head
            if not self._send(frames):
                return progressed  # still full: the socket signals when a peer catches up
            progressed = True
            pending._take()
            if sent is not None:
                sent.callback(None)
        self._writer.onWritable = None
        emptied, self._emptied = self._emptied, []
        for each in emptied:
            each.callback(None)
        return True

    def close(self) -> int:
        """Fail each waiting Deferred with ConnectionClosed; return the count unsent (rule 4)."""
        dropped = self._pending._close(ConnectionClosed(), discard=True)
        waiting = [sent for _, sent in dropped if sent is not None] + self._emptied
        self._emptied = []
        for each in waiting:
            each.errback(ConnectionClosed())
        return len(dropped)
