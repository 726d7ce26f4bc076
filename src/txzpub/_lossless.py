# -*- test-case-name: tests.test_lossless -*-
"""
Lossless publishing: messages held back by a high-water mark, sent in order.

With XPUB_NODROP a send at a peer's high-water mark fails instead of
dropping. Such messages wait here, in a Mailbox bounded by ``maxPending``
(the same bounded queue as every other in txzpub), each with the Deferred its
caller holds:

1. A message is sent at once when nothing waits before it; otherwise it
   queues behind the others, so messages leave in the order they were given.
2. When the queue is full the call fails with PublishQueueFull at once: the
   caller's backpressure signal. Nothing already queued is dropped.
3. ``serve()`` (the socket turned writable) sends from the head until a send
   fails again; each Deferred fires as its message is handed to ZeroMQ.
4. ``close()`` fails every waiting Deferred with ConnectionClosed.

The socket stays the publisher's: it passes in ``send(frames) -> bool``
(False at the high-water mark) and its reader, which calls ``serve()`` when
the socket turns writable while a backlog waits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from twisted.internet.defer import Deferred, fail, succeed

from ._core._buffer import OverflowPolicy
from ._core._checks import checkCount
from ._errors import ConnectionClosed, PublishQueueFull
from ._mailbox import Mailbox

__all__ = ["LosslessQueue"]

_Pending = tuple[list[bytes], Deferred[None]]


class WriteSignal(Protocol):
    """What tells us the socket is writable: the publisher's SocketReader (its rule 6)."""

    onWritable: Callable[[], object] | None

    def kick(self) -> None: ...


class LosslessQueue:
    """The publishLossless() queue; see the module rules."""

    def __init__(
        self, maxPending: int, send: Callable[[list[bytes]], bool], writer: WriteSignal
    ) -> None:
        self._pending = Mailbox[_Pending]._create(
            what="publishLossless()",
            maxQueued=checkCount(maxPending, "maxPending"),
            overflow=OverflowPolicy.DROP_NEWEST,
        )
        self._send = send
        self._writer = writer

    def publish(self, frames: list[bytes]) -> Deferred[None]:
        """Send *frames* now or after those waiting (rules 1 and 2)."""
        pending = self._pending
        if pending.closed:
            return fail(ConnectionClosed())
        if pending._peek() is None and self._send(frames):
            return succeed(None)
        stats = pending.statistics()
        if stats.queued >= stats.maxQueued:
            msg = (
                f"{stats.queued} messages already wait for slow subscribers "
                f"(maxPending={stats.maxQueued}); wait for earlier publishLossless() "
                "Deferreds before publishing more"
            )
            return fail(PublishQueueFull(msg))
        sent: Deferred[None] = Deferred()
        pending._put((frames, sent))
        self._writer.onWritable = self.serve
        self._writer.kick()
        return sent

    def serve(self) -> None:
        """The socket is writable: send from the head, in order (rule 3)."""
        pending = self._pending
        while (head := pending._peek()) is not None:
            frames, sent = head
            if not self._send(frames):
                return  # still full: the socket signals again when a peer catches up
            pending._take()
            sent.callback(None)
        self._writer.onWritable = None

    def close(self) -> None:
        """Fail every waiting Deferred with ConnectionClosed (rule 4)."""
        for _, sent in self._pending._close(ConnectionClosed(), discard=True):
            sent.errback(ConnectionClosed())
