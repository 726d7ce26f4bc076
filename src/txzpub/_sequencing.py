# -*- test-case-name: tests.test_sequenced -*-
"""
A sequenced publisher's parts: numbering, heartbeats, the replay buffer and
the replay socket.

ZmqPubConnection composes one SequencedPublishing when built with
``sequenced=True``; its publish() then hands every message here. The stamp
and the numbering are the core's (``_core._stamp``), the buffer too
(``_core._replaybuffer``); this module adds what needs the reactor: the
heartbeat timer and the ROUTER that answers replay requests.

The replay socket is ``_replayserver``'s; its counters come back here in
``replayStatistics()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import attrs
import zmq
from twisted.logger import Logger

from ._core._checks import checkCount, checkSeconds, checkType, wrongValue
from ._core._endpoint import ZmqEndpoint, checkEndpoint
from ._core._replaybuffer import DEFAULT_REPLAY_BYTES, DEFAULT_REPLAY_DEPTH, ReplayBuffer
from ._core._stamp import Sequencer, heartbeatFrames, newPublisherId, shortId
from ._errors import ConfigurationError
from ._factory import ZmqFactory
from ._replayserver import ReplayServer
from ._security import Security
from ._sending import sendFrames

if TYPE_CHECKING:
    from ._reader import SocketReader
    from ._sendqueue import SendQueue

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL",
    "PublisherSequencing",
    "ReplayStatistics",
    "SequencedPublishing",
]

_log = Logger()

#: Default seconds between two heartbeats of a sequenced publisher.
DEFAULT_HEARTBEAT_INTERVAL: Final = 1.0

_NOBLOCK = int(zmq.NOBLOCK)
_SNDMORE = int(zmq.SNDMORE | zmq.NOBLOCK)
_send = zmq.backend.Socket.send


@attrs.frozen
class ReplayStatistics:
    """
    A snapshot of a sequenced publisher's replay side.

    .. versionadded:: 0.1.0
    """

    #: Messages the replay buffer holds now.
    buffered: int
    #: Their size in bytes (tags, bodies and stamps).
    bufferedBytes: int
    #: The buffer's bounds: ``replayDepth`` messages and ``replayBytes`` bytes.
    replayDepth: int
    replayBytes: int
    #: Replay and latest-number requests answered.
    answered: int
    #: Messages sent again in those answers.
    replayed: int
    #: Requests for another publisher's identity, answered "not mine".
    notMine: int
    #: Malformed, forged or out-of-range requests, dropped.
    refused: int
    #: Requests dropped because the same peer's previous answer was still
    #: leaving, or the answers leaving already held four replay depths.
    busy: int
    #: Answers given up: the peer left, or read nothing for 30 seconds.
    abandoned: int


class SequencedPublishing:
    """
    Stamps, numbers and remembers what a sequenced publisher sends, beats its
    heart, and answers replay requests when it has a replay endpoint.
    """

    def __init__(
        self,
        factory: ZmqFactory,
        sendBeat: Callable[[list[bytes]], object],
        *,
        heartbeatInterval: float,
        replay: ZmqEndpoint | None,
        replayDepth: int,
        replayBytes: int,
        security: Security | None,
    ) -> None:
        self.sequencer = Sequencer(newPublisherId())
        self._prefix = self.sequencer.prefix
        self.buffer: ReplayBuffer | None = None
        self._server: ReplayServer | None = None
        if replay is not None:
            self.buffer = ReplayBuffer(replayDepth, replayBytes)
            self._server = ReplayServer(factory, replay, self.sequencer, self.buffer, security)
        self._reactor = factory.reactor
        self._interval = heartbeatInterval
        self._sendBeat = sendBeat
        self._beat: Any = self._reactor.callLater(0, self._heartbeat)
        _log.info(
            "Sequenced publisher {publisher} started",
            publisher=shortId(self.sequencer.publisher),
        )

    @property
    def publisher(self) -> bytes:
        """This publisher's identity, random per start."""
        return self.sequencer.publisher

    def publish(self, socket: zmq.Socket[bytes], tag: bytes, body: bytes) -> bytes:
        """
        Send ``[tag, body, stamp]`` now, then use its number (only once
        ZeroMQ took it) and keep it for replay; return the stamp. Raises what
        the send raises (zmq.Again at the high-water mark under noDrop).
        """
        numbers = self.sequencer.numbers
        sequence = numbers.get(tag, 0) + 1
        stamp = self._prefix + sequence.to_bytes(8, "big")
        _send(socket, tag, _SNDMORE)
        _send(socket, body, _SNDMORE)
        _send(socket, stamp, _NOBLOCK)
        numbers[tag] = sequence
        if self.buffer is not None:
            self.buffer.add(tag, sequence, body, stamp)
        return stamp

    def stamped(self, tag: bytes, body: bytes) -> tuple[list[bytes], Callable[[], None]]:
        """
        The frames of the next message of *tag*, and what uses its number:
        for publishLossless(), which commits once the send queue took them.
        """
        sequence, stamp = self.sequencer.next(tag)

        def commit() -> None:
            self.sequencer.commit(tag, sequence)
            if self.buffer is not None:
                self.buffer.add(tag, sequence, body, stamp)

        return [tag, body, stamp], commit

    def statistics(self) -> ReplayStatistics:
        """The replay side's counters (all zero without a replay endpoint)."""
        counts = self._server.counts if self._server is not None else {}
        held = self.buffer.statistics() if self.buffer is not None else None
        return ReplayStatistics(
            buffered=held.messages if held else 0,
            bufferedBytes=held.bytes if held else 0,
            replayDepth=held.maxMessages if held else 0,
            replayBytes=held.maxBytes if held else 0,
            answered=counts.get("answered", 0),
            replayed=counts.get("replayed", 0),
            notMine=counts.get("notMine", 0),
            refused=counts.get("refused", 0),
            busy=counts.get("busy", 0),
            abandoned=counts.get("abandoned", 0),
        )

    @property
    def replayEndpoints(self) -> list[ZmqEndpoint]:
        """Where the replay socket listens (empty without one)."""
        return [] if self._server is None else self._server.endpoints

    def _heartbeat(self) -> None:
        self._beat = self._reactor.callLater(self._interval, self._heartbeat)
        frames = heartbeatFrames(self.sequencer.publisher, self._interval, self._reactor.seconds())
        self._sendBeat(frames)

    def stop(self) -> None:
        """Stop the heartbeats and close the replay socket (at the publisher's shutdown)."""
        if self._beat is not None and self._beat.active():
            self._beat.cancel()
        self._beat = None
        if self._server is not None:
            self._server.shutdown()


def _nothing() -> None:
    """What an unsequenced publish does once accepted."""


class PublisherSequencing:
    """ZmqPubConnection's sequencing options and API, on the attributes ZmqPubConnection sets."""

    _closed: bool
    _factory: ZmqFactory
    _socket: zmq.Socket[bytes]
    _reader: SocketReader
    _encode: Callable[[bytes, bytes], list[bytes]]
    _recheck: Callable[[], None]
    _recheckCall: Any  # the IDelayedCall of _recheck, while one is due
    _outbox: SendQueue | None
    _stamping: SequencedPublishing | None
    security: Security | None
    shutdown: Callable[[], None]

    #: Stamp every message with this publisher's identity and a number per
    #: tag, as ``[tag, body, stamp]``, and send heartbeats, so txzpub
    #: subscribers detect (and, with ``replay``, recover) lost messages.
    #: ``.. versionadded:: 0.1.0``
    sequenced = False
    #: Most messages a sequenced publisher's replay buffer keeps (all tags together).
    replayDepth = DEFAULT_REPLAY_DEPTH
    #: Most bytes (tags, bodies and stamps) the replay buffer keeps.
    replayBytes = DEFAULT_REPLAY_BYTES
    #: Seconds between a sequenced publisher's heartbeats.
    heartbeatInterval = DEFAULT_HEARTBEAT_INTERVAL

    @property
    def publisherId(self) -> bytes | None:
        """
        A sequenced publisher's identity, 16 random bytes drawn when it
        starts (so a restart is a new publisher); None when not sequenced.

        .. versionadded:: 0.1.0
        """
        return None if self._stamping is None else self._stamping.publisher

    def replayStatistics(self) -> ReplayStatistics:
        """
        A snapshot of a sequenced publisher's replay buffer and socket (zeros
        without ``replay``); ConfigurationError when not sequenced.

        .. versionadded:: 0.1.0
        """
        if self._stamping is None:
            msg = "replayStatistics() needs a publisher created with sequenced=True"
            raise ConfigurationError(msg)
        return self._stamping.statistics()

    def _checkSequencing(self, replay: object) -> ZmqEndpoint | None:
        """Check the sequencing options (already overridden) and *replay*."""
        checkType(self.sequenced, bool, "sequenced", "True or False")
        checkCount(self.replayDepth, "replayDepth")
        checkCount(self.replayBytes, "replayBytes")
        if checkSeconds(self.heartbeatInterval, "heartbeatInterval") < 0.001:
            expected = "a number of seconds >= 0.001"
            raise wrongValue("heartbeatInterval", expected, self.heartbeatInterval)
        if replay is None:
            return None
        if not self.sequenced:
            msg = "replay= needs a publisher created with sequenced=True"
            raise ConfigurationError(msg)
        return checkEndpoint(replay)

    def _startSequencing(self, replay: ZmqEndpoint | None) -> SequencedPublishing | None:
        if not self.sequenced:
            return None

        def sendBeat(frames: list[bytes]) -> None:
            # A heartbeat never overtakes what waits in the send queue (it vouches
            # for everything published before it), and at the high-water mark it
            # is dropped: the next one will do.
            if self._closed or self._outbox:
                return
            if sendFrames(self._socket, frames) and self._recheckCall is None:
                self._recheckCall = self._factory.reactor.callLater(0, self._recheck)

        try:
            return SequencedPublishing(
                self._factory,
                sendBeat,
                heartbeatInterval=self.heartbeatInterval,
                replay=replay,
                replayDepth=self.replayDepth,
                replayBytes=self.replayBytes,
                security=self.security,
            )
        except BaseException:  # the replay endpoint: nothing may stay bound or registered
            self.shutdown()
            raise

    def _framesToSend(self, tag: bytes, body: bytes) -> tuple[list[bytes], Callable[[], None]]:
        """The frames of a publishLossless(), and what to do once they are accepted."""
        if self._stamping is not None:
            return self._stamping.stamped(tag, body)
        return self._encode(tag, body), _nothing

    def _stopSequencing(self) -> None:
        if self._stamping is not None:
            self._stamping.stop()
