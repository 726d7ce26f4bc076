# -*- test-case-name: tests.test_sequenced -*-
"""
The subscriber's side of the replay channel: asks publishers for what a
sequenced stream missed.

One DEALER per replay endpoint (one per publisher the subscriber reads).

Rules:

1. One request at a time per publisher, in the order they were asked; the
   others wait in a bounded queue (``MAX_WAITING``; beyond it a request is
   given up at once, its messages lost).
2. A request goes to the endpoint known to serve that publisher. Until one
   is known it goes to every endpoint: the owner answers, the others say
   "not mine" at once, and the answers teach which endpoint is whose. When
   every endpoint asked says "not mine", the request ends unanswered, and
   that publisher is not asked again (its gaps are lost at once) until it is
   forgotten: the subscriber was given no replay endpoint for it.
3. A request ends with the publisher's end marker, its "not mine", or
   ``timeout`` seconds without one; whatever was not replayed by then is the
   handler's to count as lost. Late answers to an ended request are dropped.
4. Replayed messages must be what was asked: the publisher, the tag and a
   number in the range of the request in flight. Anything else is counted as
   forged and dropped, as are malformed answers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

import attrs
from twisted.logger import Logger

from ._core._endpoint import ZmqEndpoint
from ._core._message import Message, stampedMessage
from ._core._replayprotocol import (
    LatestReply,
    LatestRequest,
    NotMine,
    ReplayedMessage,
    ReplayEnd,
    ReplayRequest,
    parseReply,
)
from ._core._stamp import parseDataStamp, shortId
from ._errors import SendQueueFull
from ._factory import ZmqFactory
from ._reactors import ReactorTime
from ._routerdealer import ZmqDealerConnection
from ._security import Security

__all__ = ["MAX_WAITING", "ReplayClient", "ReplayHandler"]

_log = Logger()

#: Most requests waiting behind the one in flight, per publisher (rule 1).
MAX_WAITING: Final = 10_000
#: Most publishers remembered as served by no endpoint (rule 2).
MAX_UNSERVED: Final = 1_000


class ReplayHandler(Protocol):
    """What the client tells the subscriber's streams."""

    def replayed(self, message: Message) -> bool:
        """A message asked for came back (stamped); True when it was missing."""

    def replayEnded(self, publisher: bytes, tag: bytes, last: int, recovered: int) -> None:
        """The request for *tag* up to *last* ended (rule 3): the rest is lost."""

    def latestKnown(
        self, publisher: bytes, latest: Sequence[tuple[bytes, int]], sentAt: float
    ) -> None:
        """The publisher's latest number of each of these tags, as of *sentAt* (its clock)."""


@attrs.define
class _Request:
    """A request in flight or waiting."""

    publisher: bytes
    tag: bytes  # b"" for a latest query
    first: int
    last: int
    prefixes: tuple[bytes, ...] | None = None  # set for a latest query
    requestId: int = 0
    asked: set[Any] = attrs.Factory(set)
    recovered: int = 0
    timer: Any = None


class _ReplayDealer(ZmqDealerConnection):
    """A DEALER whose answers go straight to the client, queueing nothing."""

    def __init__(
        self,
        factory: ZmqFactory,
        endpoint: ZmqEndpoint,
        security: Security | None,
        onAnswer: Callable[[_ReplayDealer, list[bytes]], None],
    ) -> None:
        self._onAnswer = onAnswer
        super().__init__(factory, endpoint, security=security)

    def _deliver(self, batch: list[list[bytes]]) -> None:
        for frames in batch:
            if self._closed:
                return
            self._onAnswer(self, frames)


class ReplayClient:
    """Asks the publishers' replay sockets for missed messages; see the module rules."""

    def __init__(
        self,
        factory: ZmqFactory,
        endpoints: Sequence[ZmqEndpoint],
        *,
        security: Security | None,
        timeout: float,
        handler: ReplayHandler,
    ) -> None:
        self._clock: ReactorTime = factory.reactor
        self._timeout = timeout
        self._handler = handler
        self._owners: dict[bytes, _ReplayDealer] = {}
        self._waiting: dict[bytes, deque[_Request]] = {}
        self._inFlight: dict[bytes, _Request] = {}
        self._byId: dict[int, _Request] = {}
        # Publishers no endpoint serves (rule 2), bounded against forged identities.
        self._unserved: set[bytes] = set()
        self._nextId = 1
        self.counts = {"requests": 0, "timeouts": 0, "malformed": 0, "forged": 0, "late": 0}
        self._dealers: list[_ReplayDealer] = []
        try:
            for endpoint in endpoints:
                self._dealers.append(_ReplayDealer(factory, endpoint, security, self._answer))
        except BaseException:
            self.stop()
            raise

    def ask(self, publisher: bytes, tag: bytes, first: int, last: int) -> None:
        """Ask *publisher* for *tag*'s numbers *first* to *last* (rule 1)."""
        self._queue(_Request(publisher, tag, first, last))

    def askLatest(self, publisher: bytes, prefixes: tuple[bytes, ...]) -> None:
        """Ask *publisher* for its latest numbers, if nothing is asked of it now."""
        if not self.busy(publisher) and publisher not in self._unserved:
            self._queue(_Request(publisher, b"", 0, 0, prefixes))

    def busy(self, publisher: bytes) -> bool:
        """True while a request to *publisher* is in flight."""
        return publisher in self._inFlight

    def forget(self, publisher: bytes) -> None:
        """Stop asking *publisher* (it is forgotten): end what is in flight or waiting."""
        self._waiting.pop(publisher, None)
        self._unserved.discard(publisher)
        request = self._inFlight.get(publisher)
        if request is not None:
            self._end(request, notify=False)

    def stop(self) -> None:
        """Cancel every timer and close the sockets (at the subscriber's shutdown)."""
        for request in list(self._inFlight.values()):
            self._end(request, notify=False, sendNext=False)
        self._waiting.clear()
        for dealer in self._dealers:
            dealer.shutdown()

    # -- internals -------------------------------------------------------------------

    def _queue(self, request: _Request) -> None:
        if request.publisher in self._unserved:
            self._notify(request)
            return
        waiting = self._waiting.setdefault(request.publisher, deque())
        if len(waiting) >= MAX_WAITING:
            _log.warn(
                "Too many replay requests wait for publisher {publisher}; the request for "
                "{tag!r} {first}..{last} is given up",
                publisher=shortId(request.publisher),
                tag=request.tag,
                first=request.first,
                last=request.last,
            )
            self._notify(request)
            return
        waiting.append(request)
        if request.publisher not in self._inFlight:
            self._sendNext(request.publisher)

    def _sendNext(self, publisher: bytes) -> None:
        waiting = self._waiting.get(publisher)
        if not waiting or publisher in self._unserved:
            self._waiting.pop(publisher, None)
            for request in waiting or ():
                self._notify(request)
            return
        request = waiting.popleft()
        request.requestId, self._nextId = self._nextId, self._nextId + 1
        frames: list[bytes]
        if request.prefixes is not None:
            frames = LatestRequest(request.requestId, publisher, request.prefixes).frames()
        else:
            frames = ReplayRequest(
                request.requestId, publisher, request.tag, request.first, request.last
            ).frames()
        owner = self._owners.get(publisher)
        for dealer in [owner] if owner is not None else self._dealers:
            if dealer._closed:  # noqa: SLF001
                continue
            try:
                dealer.sendMultipart(frames)
            except SendQueueFull:
                continue
            request.asked.add(dealer)
        self.counts["requests"] += 1
        self._inFlight[publisher] = request
        self._byId[request.requestId] = request
        request.timer = self._clock.callLater(self._timeout, self._timedOut, request)
        if not request.asked:
            self._end(request)

    def _timedOut(self, request: _Request) -> None:
        request.timer = None
        self.counts["timeouts"] += 1
        _log.warn(
            "Publisher {publisher} did not answer a replay request within {timeout:g} s",
            publisher=shortId(request.publisher),
            timeout=self._timeout,
        )
        self._end(request)

    def _end(self, request: _Request, *, notify: bool = True, sendNext: bool = True) -> None:
        if request.timer is not None and request.timer.active():
            request.timer.cancel()
        request.timer = None
        self._byId.pop(request.requestId, None)
        if self._inFlight.get(request.publisher) is request:
            del self._inFlight[request.publisher]
        if notify:
            self._notify(request)
        if sendNext:
            self._sendNext(request.publisher)

    def _notify(self, request: _Request) -> None:
        if request.prefixes is None:
            handler, tag = self._handler, request.tag
            handler.replayEnded(request.publisher, tag, request.last, request.recovered)

    def _answer(self, dealer: _ReplayDealer, frames: list[bytes]) -> None:
        answer = parseReply(frames)
        if answer is None:
            self.counts["malformed"] += 1
            return
        request = self._byId.get(answer.requestId)
        if request is None:
            self.counts["late"] += 1
            return
        if isinstance(answer, NotMine):
            self._notMine(dealer, request, answer)
            return
        self._owners[request.publisher] = dealer
        if isinstance(answer, ReplayedMessage):
            self._replayed(request, answer)
        elif isinstance(answer, ReplayEnd):
            self._end(request)
        elif isinstance(answer, LatestReply):
            if answer.publisher != request.publisher or request.prefixes is None:
                self.counts["forged"] += 1
                return
            self._end(request)
            self._handler.latestKnown(request.publisher, answer.latest, answer.sentAt / 1e6)

    def _notMine(self, dealer: _ReplayDealer, request: _Request, answer: NotMine) -> None:
        if answer.publisher != request.publisher:
            self._owners.setdefault(answer.publisher, dealer)
        request.asked.discard(dealer)
        if not request.asked:
            if len(self._unserved) >= MAX_UNSERVED:
                self._unserved.clear()
            self._unserved.add(request.publisher)
            _log.warn(
                "No replay endpoint serves publisher {publisher}; give this subscriber its "
                "replay endpoint to recover its messages",
                publisher=shortId(request.publisher),
            )
            self._end(request)

    def _replayed(self, request: _Request, answer: ReplayedMessage) -> None:
        stamp = parseDataStamp(answer.header)
        if (
            stamp is None
            or request.prefixes is not None
            or stamp[0] != request.publisher
            or answer.tag != request.tag
            or not request.first <= stamp[1] <= request.last
        ):
            self.counts["forged"] += 1
            return
        message = stampedMessage(answer.tag, answer.body, stamp[1], stamp[0])
        if self._handler.replayed(message):
            request.recovered += 1
