# -*- test-case-name: tests.test_requests -*-
"""
The Deferreds of request/reply: requests awaiting replies, and requests
awaiting answers.

PendingRequests is a REQ connection's side. Rules:

1. At most ``limit`` requests wait for replies; one more is refused with
   TooManyRequests (a bound txZMQ lacks).
2. A reply fires its request's Deferred once and forgets it; a reply for an
   id nobody waits for (cancelled, timed out, or never sent) is dropped.
3. Cancelling a request's Deferred fails it with CancelledError and forgets
   it; its timeout passing fails it with ZmqRequestTimeoutError. Either way
   its id is *not* returned to the owner: a reply may still be on its way,
   and must never be taken for the reply to a newer request.
4. ``close()`` fails every waiting request with the given error.

Request is a REP connection's side: one received request, answered once.
This layer knows Deferreds and the logger, never the reactor (the clock for
timeouts is injected) or a socket.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred

from ._core._envelope import Envelope
from ._errors import AlreadyReplied, TooManyRequests, ZmqRequestTimeoutError
from ._reactors import ReactorTime
from ._waiters import deadline

__all__ = ["PendingRequests", "Request"]


class PendingRequests:
    """A REQ connection's requests awaiting replies; see the module rules."""

    __slots__ = ("_clock", "limit", "waiting")

    def __init__(self, clock: ReactorTime, limit: int) -> None:
        self._clock = clock
        self.limit = limit
        #: message id -> the Deferred its sender holds (txZMQ's ``_requests``).
        self.waiting: dict[bytes, Deferred[list[bytes]]] = {}

    def add(self, messageId: bytes, timeout: float | None) -> Deferred[list[bytes]]:
        """Wait for the reply to *messageId* (rules 1 and 3)."""
        waiting = self.waiting
        if len(waiting) >= self.limit:
            msg = (
                f"{len(waiting)} requests already await replies (maxPending={self.limit}); "
                "wait for some of them before sending more, or raise maxPending"
            )
            raise TooManyRequests(msg)

        def forget(_: Deferred[list[bytes]]) -> None:
            waiting.pop(messageId, None)

        reply: Deferred[list[bytes]] = Deferred(canceller=forget)
        waiting[messageId] = reply
        if timeout is None:
            return reply

        def timedOut() -> ZmqRequestTimeoutError:
            msg = (
                f"no reply within {timeout:g} s; a later reply is dropped. Check that a "
                "replier is running, or allow more time"
            )
            return ZmqRequestTimeoutError(msg)

        return deadline(reply, timeout, self._clock, timedOut)

    def take(self, messageId: bytes) -> Deferred[list[bytes]] | None:
        """Forget and return the request *messageId*; None if nobody waits for it (rule 2)."""
        return self.waiting.pop(messageId, None)

    def close(self, reason: Exception) -> None:
        """Fail every waiting request with *reason* (rule 4)."""
        waiting = list(self.waiting.values())
        self.waiting.clear()
        for reply in waiting:
            reply.errback(reason)


class Request:
    """
    One request a ZmqREPConnection received: its ``parts``, answered once
    with ``reply(*parts)``, which routes by this request's own envelope (two
    clients using the same message id never get each other's replies).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_answer", "_replied", "envelope", "parts")

    def __init__(
        self,
        envelope: Envelope,
        parts: list[bytes],
        answer: Callable[[Envelope, tuple[bytes | str, ...]], object],
    ) -> None:
        #: The frames of the request, after its envelope.
        self.parts = parts
        #: Where the reply goes: the route back and the message id.
        self.envelope = envelope
        self._answer = answer
        self._replied = False

    @property
    def messageId(self) -> bytes:
        """The requester's id for this request (what txZMQ's gotMessage received)."""
        return self.envelope.messageId

    @property
    def replied(self) -> bool:
        """True once reply() has sent the reply."""
        return self._replied

    def reply(self, *parts: bytes | str) -> None:
        """
        Send the reply: one or more frames (bytes, or str sent as UTF-8).

        A second call raises AlreadyReplied; after shutdown it raises
        ConnectionClosed.
        """
        if self._replied:
            msg = f"request {self.messageId!r} was already answered; a request has one reply"
            raise AlreadyReplied(msg)
        self._answer(self.envelope, parts)
        self._replied = True

    def __repr__(self) -> str:
        state = "replied" if self._replied else "unanswered"
        return f"<Request {self.messageId!r} parts={self.parts!r} {state}>"
