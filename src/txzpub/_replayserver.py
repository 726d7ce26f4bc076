# -*- test-case-name: tests.test_sequenced_hostile,tests.test_sequenced -*-
"""
The publisher's side of the replay channel: a ROUTER that answers replay
requests from the replay buffer.

Rules:

1. One request at a time per peer: a request from a peer whose previous
   answer is still leaving is dropped (counted in ``busy``). A well-behaved
   subscriber never sends one.
2. An answer is the held messages of the range asked, then an end marker:
   never more than the buffer holds, so never more than ``replayDepth``.
   Answers still leaving hold at most ``PENDING_DEPTHS`` times that many
   messages in all; a request that would pass it is dropped (``busy``).
3. A request for another publisher's identity is answered at once with
   "not mine"; a malformed, forged or out-of-range one (numbers this
   publisher never used) is dropped and counted in ``refused``.
4. Each peer's answer leaves at that peer's pace: a peer at its high-water
   mark holds back only its own answer (sending to it is retried every
   ``RETRY_DELAY`` seconds), never another peer's. An answer to a peer that
   left, or that has not been read within ``ANSWER_LIFETIME`` seconds, is
   abandoned (counted in ``abandoned``): the subscriber has given up on it.
5. After every round of sends the socket is read again (a send can swallow
   the edge of ZeroMQ's edge-triggered descriptor: the reader's rules).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final

from twisted.logger import Logger

from ._core._endpoint import ZmqEndpoint
from ._core._replaybuffer import ReplayBuffer
from ._core._replayprotocol import (
    MAX_LATEST,
    LatestReply,
    LatestRequest,
    NotMine,
    ReplayedMessage,
    ReplayEnd,
    ReplayRequest,
    parseRequest,
)
from ._core._stamp import Sequencer
from ._factory import ZmqFactory
from ._routerdealer import ZmqRouterConnection
from ._security import Security
from ._sending import trySend

__all__ = ["ANSWER_LIFETIME", "PENDING_DEPTHS", "RETRY_DELAY", "ReplayServer"]

_log = Logger()

#: Seconds between two attempts to send to peers at their high-water mark.
RETRY_DELAY: Final = 0.01
#: Seconds an answer may take to leave before it is abandoned.
ANSWER_LIFETIME: Final = 30.0
#: Answers still leaving hold at most this many times replayDepth messages.
PENDING_DEPTHS: Final = 4


class _Answer:
    """What is still to send to one peer, and since when."""

    __slots__ = ("messages", "started")

    def __init__(self, messages: list[list[bytes]], started: float) -> None:
        self.messages = deque(messages)
        self.started = started


class ReplayServer(ZmqRouterConnection):
    """Answers replay requests from a publisher's buffer; see the module rules."""

    def __init__(
        self,
        factory: ZmqFactory,
        endpoint: ZmqEndpoint,
        sequencer: Sequencer,
        buffer: ReplayBuffer,
        security: Security | None,
    ) -> None:
        self._sequencer = sequencer
        self._buffer = buffer
        self._answers: dict[bytes, _Answer] = {}
        self._pending = 0  # messages in self._answers
        self._pendingLimit = PENDING_DEPTHS * buffer.maxMessages
        self._retry: Any = None  # the IDelayedCall of the next attempt
        self.counts = dict.fromkeys(
            ("answered", "replayed", "notMine", "refused", "busy", "abandoned"), 0
        )
        super().__init__(factory, endpoint, security=security)

    def _deliver(self, batch: list[list[bytes]]) -> None:
        for frames in batch:
            if self._closed:
                return
            if len(frames) < 2:  # a routing id and a request
                self.counts["refused"] += 1
                continue
            self._request(frames[0], parseRequest(frames[1:]))
        self._serve()

    def _request(self, peer: bytes, request: ReplayRequest | LatestRequest | None) -> None:
        own, counts = self._sequencer.publisher, self.counts
        if request is None:
            counts["refused"] += 1
        elif peer in self._answers:
            counts["busy"] += 1
        elif request.publisher != own:
            counts["notMine"] += 1
            self._queue(peer, [NotMine(request.requestId, own).frames()])
        elif isinstance(request, LatestRequest):
            counts["answered"] += 1
            latest = tuple(self._sequencer.latest(request.prefixes, MAX_LATEST))
            sentAt = max(0, int(self._factory.reactor.seconds() * 1e6))  # the heartbeats' clock
            reply = LatestReply(request.requestId, own, latest, sentAt)
            self._queue(peer, [reply.frames()])
        elif request.last > self._sequencer.numbers.get(request.tag, 0):
            counts["refused"] += 1  # numbers never used: forged, or for an earlier life
        else:
            held = self._buffer.find(request.tag, request.first, request.last)
            if self._pending + len(held) >= self._pendingLimit:
                counts["busy"] += 1
                return
            counts["answered"] += 1
            counts["replayed"] += len(held)
            tag, requestId = request.tag, request.requestId
            answer = [
                ReplayedMessage(requestId, tag, body, stamp).frames() for body, stamp in held
            ]
            answer.append(ReplayEnd(requestId, len(held)).frames())
            self._queue(peer, answer)

    def _queue(self, peer: bytes, messages: list[list[bytes]]) -> None:
        answer = _Answer(messages, self._factory.reactor.seconds())
        self._answers[peer] = answer
        self._pending += len(messages)
        self._sendTo(peer, answer, answer.started)  # at once: most answers leave now

    def _serve(self) -> None:
        """Send what each waiting peer can take now (rule 4), then read again (rule 5)."""
        if self._closed:
            return
        now = self._factory.reactor.seconds()
        for peer, answer in list(self._answers.items()):
            self._sendTo(peer, answer, now)
        self._reader.afterSend()
        if self._answers and self._retry is None and not self._closed:
            self._retry = self._factory.reactor.callLater(RETRY_DELAY, self._retryServe)

    def _sendTo(self, peer: bytes, answer: _Answer, now: float) -> None:
        """Send what *peer* can take of its *answer* now (rule 4)."""
        messages = answer.messages
        while messages:
            sent = trySend(self._socket, [peer, *messages[0]])
            if sent is None:  # the peer left
                self._abandon(peer, "it left")
                return
            if not sent:
                if now - answer.started > ANSWER_LIFETIME:
                    self._abandon(peer, f"it read nothing for {ANSWER_LIFETIME:g} s")
                return
            messages.popleft()
            self._pending -= 1
        del self._answers[peer]

    def _retryServe(self) -> None:
        self._retry = None
        self._serve()

    def _abandon(self, peer: bytes, why: str) -> None:
        self._pending -= len(self._answers.pop(peer).messages)
        self.counts["abandoned"] += 1
        _log.info("A replay answer to peer {peer!r} was abandoned: {why}", peer=peer, why=why)

    def _connectionClosed(self) -> None:
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        self._answers.clear()
        self._pending = 0
        super()._connectionClosed()
