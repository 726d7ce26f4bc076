# -*- test-case-name: tests.test_sequenced -*-
"""
A subscriber's sequenced streams: numbers checked, gaps counted, replays
asked, publishers watched.

The subscriber hands every message that carries a stamp here (three frames,
the third starting with the stamp's magic). The bookkeeping per
(publisher, tag) is the core's ``StreamTracker``; this module turns its
notices into counts, events, log lines, replay requests and deliveries.

Rules:

1. What a gap costs is counted where delivery would have put it: ``lost``
   and ``recovered`` of every subscription the tag matches, and the
   subscriber's ``streamStatistics()``. A gap is logged (a warning naming the
   publisher, tag and numbers) and reported in ``events()``: GAP, then
   RECOVERED and LOST events that add up to it.
2. Without replay endpoints a gap is lost at once, and the stream goes on.
   With them, the later messages of that tag are held (at most the
   subscriber's ``maxQueued``) while the publisher is asked; what comes back
   is delivered in order, before them, once; what does not within
   ``replayTimeout`` is lost, and delivery goes on.
3. Heartbeats: the subscriber subscribes to the reserved heartbeat tag with
   its first stamped message (or at once, with replay endpoints). Silence
   and forgetting follow ``_liveness``: PUBLISHER_SILENT and
   PUBLISHER_RESUMED events; a forgotten publisher's state is dropped, as
   if never seen (what it still missed is lost).
4. Tail loss: with replay endpoints, when a publisher's heartbeat finds it
   quiet since the last one (or a check is due), the subscriber asks for the
   latest numbers of the tags it subscribes to, so a lost last message is
   noticed and recovered too. The answer comes by the replay channel, which
   may outrun the data path (a proxy in between): its numbers count as
   missing only once a heartbeat the publisher sent after answering has come
   down the data path, behind everything published before it.
5. A malformed stamp, or a data stamp on the heartbeat tag, is counted and
   dropped; it never reaches a subscription or gotMessage.
6. A stamped message no subscription matches any more (unsubscribed while it
   waited in ZeroMQ's queue or in the batch being delivered) is dropped
   untracked, as libzmq would have filtered it: subscribing again is a fresh
   start, not a gap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

import attrs
import zmq
from twisted.logger import Logger

from ._core._checks import checkSeconds
from ._core._endpoint import ZmqEndpoint, checkEndpoint
from ._core._lifecycle import ConnectionEvent, ConnectionEventKind
from ._core._message import Message
from ._core._replayprotocol import MAX_PREFIXES
from ._core._stamp import HEARTBEAT_TAG, Heartbeat, parseHeartbeat, shortId, stampedFrom
from ._core._tracking import (
    DELIVER,
    DUPLICATE,
    GapOpened,
    Lost,
    NewPublisher,
    Notice,
    Released,
    StreamTracker,
)
from ._factory import ZmqFactory
from ._liveness import Liveness
from ._replayclient import ReplayClient
from ._security import Security

if TYPE_CHECKING:
    from ._core._routing import TopicRouter
    from ._monitor import ConnectionMonitor
    from ._reader import SocketReader
    from ._subscription import Subscription

__all__ = [
    "DEFAULT_REPLAY_TIMEOUT",
    "SequencedReceiving",
    "StreamRecovery",
    "StreamStatistics",
]

_log = Logger()


@attrs.frozen
class StreamStatistics:
    """
    A snapshot of a subscriber's sequenced streams.

    .. versionadded:: 0.1.0
    """

    #: Sequenced publishers tracked now.
    publishers: int
    #: (publisher, tag) streams tracked now.
    streams: int
    #: Messages held while the messages before them are asked for again.
    held: int
    #: Messages missing from the streams, never recovered.
    lost: int
    #: Messages recovered from replay sockets.
    recovered: int
    #: Messages received twice (repeats, replays that crossed the original), dropped.
    duplicates: int
    #: Malformed stamps, forged or malformed replay answers, dropped.
    malformed: int
    #: Replay and latest-number requests sent, and how many timed out.
    replayRequests: int
    replayTimeouts: int


class _Report:
    """What a subscriber's sequenced streams tell: counts, events and log lines (rule 1)."""

    def __init__(
        self,
        route: Callable[[bytes], Sequence[Subscription]],
        report: Callable[[ConnectionEvent], None],
        *,
        replaying: bool,
    ) -> None:
        self._route = route
        self._report = report
        self._replaying = replaying
        self.counts = {"lost": 0, "recovered": 0, "malformed": 0}

    def gap(self, publisher: bytes, tag: bytes, first: int, last: int) -> None:
        count = last - first + 1
        self.event(ConnectionEventKind.GAP, publisher, tag, first, last, count)
        _log.warn(
            "{count} messages of tag {tag!r} from publisher {publisher} are missing "
            "({first} to {last}){what}",
            count=count,
            tag=tag,
            publisher=shortId(publisher),
            first=first,
            last=last,
            what="; asking for them again" if self._replaying else "",
        )

    def lost(self, notice: Lost) -> None:
        if not self._replaying:  # detected and lost at once (rule 2)
            self.gap(notice.publisher, notice.tag, notice.first, notice.last)
        count = notice.last - notice.first + 1
        self.counts["lost"] += count
        for subscription in self._route(notice.tag):
            subscription._lost += count  # noqa: SLF001
        kind = ConnectionEventKind.LOST
        self.event(kind, notice.publisher, notice.tag, notice.first, notice.last, count)

    def recovered(self, tag: bytes) -> None:
        self.counts["recovered"] += 1
        for subscription in self._route(tag):
            subscription._recovered += 1  # noqa: SLF001

    def newPublisher(self, publisher: bytes) -> None:
        self.event(ConnectionEventKind.PUBLISHER_STARTED, publisher)
        _log.info("Sequenced publisher {publisher} heard", publisher=shortId(publisher))

    def silent(self, publisher: bytes, seconds: float) -> None:
        self.event(ConnectionEventKind.PUBLISHER_SILENT, publisher, value=round(seconds * 1000))
        _log.warn(
            "Publisher {publisher} has been silent for {seconds:.1f} s (three heartbeats)",
            publisher=shortId(publisher),
            seconds=seconds,
        )

    def resumed(self, publisher: bytes) -> None:
        self.event(ConnectionEventKind.PUBLISHER_RESUMED, publisher)
        _log.info("Publisher {publisher} is heard again", publisher=shortId(publisher))

    def malformed(self, tag: bytes) -> None:
        self.counts["malformed"] += 1
        if self.counts["malformed"] == 1:
            _log.warn(
                "A message of tag {tag!r} carried a malformed stamp and was dropped (further "
                "ones are only counted, in streamStatistics().malformed)",
                tag=tag,
            )

    def event(
        self,
        kind: ConnectionEventKind,
        publisher: bytes,
        tag: bytes = b"",
        first: int = 0,
        last: int = 0,
        value: int = 0,
    ) -> None:
        self._report(
            ConnectionEvent(kind, "", value, publisher=publisher, tag=tag, first=first, last=last)
        )


class StreamRecovery:
    """A subscriber's sequenced streams; see the module rules."""

    def __init__(
        self,
        factory: ZmqFactory,
        *,
        route: Callable[[bytes], Sequence[Subscription]],
        prefixes: Callable[[], list[bytes]],
        deliver: Callable[[list[Message]], None],
        report: Callable[[ConnectionEvent], None],
        replay: Sequence[ZmqEndpoint],
        replayTimeout: float,
        holdLimit: int,
        security: Security | None,
    ) -> None:
        self._clock = factory.reactor
        self._now = self._clock.seconds
        self._prefixes = prefixes
        self._deliver = deliver
        self._tell = _Report(route, report, replaying=bool(replay))
        self._tracker: StreamTracker[Message] = StreamTracker(
            recovering=bool(replay), holdLimit=holdLimit
        )
        self._client = (
            ReplayClient(factory, replay, security=security, timeout=replayTimeout, handler=self)
            if replay
            else None
        )
        #: What became deliverable, in order, when accept() returned None.
        self.ready: list[Message] = []
        self._liveness = Liveness(
            self._clock,
            self._tracker.lastHeard,
            onSilent=self._tell.silent,
            onResumed=self._tell.resumed,
            onForgotten=self._forget,
        )
        # publisher -> (when it answered, its latest numbers), until a later heartbeat.
        self._latest: dict[bytes, tuple[float, Sequence[tuple[bytes, int]]]] = {}

    # -- the data path -----------------------------------------------------------------

    def accept(self, frames: list[bytes], matched: Sequence[Subscription]) -> Message | None:
        """
        The message stamped *frames* carry, when it is the one to deliver now
        (the common case: the next of its stream); else None, and whatever
        became deliverable waits in ``ready``, in order. *matched*: the
        subscriptions its tag matches (rule 6).
        """
        tag, body, stamp = frames
        message = stampedFrom(tag, body, stamp)
        if message is None or tag == HEARTBEAT_TAG:
            self._other(tag, stamp)
            return None
        if not matched:  # unsubscribed since ZeroMQ queued it: not ours any more (rule 6)
            return None
        tracker = self._tracker
        publisher, sequence = message.publisher or b"", message.sequence or 0  # both set
        if tracker.receive(publisher, tag, sequence, message, self._now()) == DELIVER:
            if not tracker.notices:
                return message
            self.ready.append(message)  # before what it releases
        if tracker.notices:
            self._handle(tracker.takeNotices())
        return None

    def _other(self, tag: bytes, stamp: bytes) -> None:
        """A stamp that is no data stamp: a heartbeat, or malformed (rule 5)."""
        beat = parseHeartbeat(stamp) if tag == HEARTBEAT_TAG else None
        if beat is None:
            self._tell.malformed(tag)
        else:
            self._heartbeat(beat)

    def takeReady(self) -> list[Message]:
        ready, self.ready = self.ready, []
        return ready

    def forgetTags(self, unwanted: Callable[[bytes], bool]) -> None:
        """The user unsubscribed: drop the streams no subscription wants (no loss)."""
        self._tracker.forgetTags(unwanted)

    def statistics(self) -> StreamStatistics:
        tracked, counts = self._tracker.statistics(), self._tell.counts
        client = self._client.counts if self._client is not None else {}
        return StreamStatistics(
            publishers=tracked.publishers,
            streams=tracked.streams,
            held=tracked.held,
            lost=counts["lost"],
            recovered=counts["recovered"],
            duplicates=tracked.duplicates,
            malformed=counts["malformed"] + client.get("malformed", 0) + client.get("forged", 0),
            replayRequests=client.get("requests", 0),
            replayTimeouts=client.get("timeouts", 0),
        )

    def stop(self) -> None:
        self._liveness.stop()
        if self._client is not None:
            self._client.stop()

    # -- the replay client's handler -----------------------------------------------------

    def replayed(self, message: Message) -> bool:
        publisher, sequence = message.publisher or b"", message.sequence or 0  # both set
        tracker = self._tracker
        verdict = tracker.recover(publisher, message.tag, sequence, message)
        if verdict == DUPLICATE:
            return False
        self._tell.recovered(message.tag)
        if verdict == DELIVER:  # before what it releases
            self.ready.append(message)
        if tracker.notices:
            self._handle(tracker.takeNotices())
        self._flush()
        return True

    def replayEnded(self, publisher: bytes, tag: bytes, last: int, recovered: int) -> None:
        if recovered:
            self._tell.event(ConnectionEventKind.RECOVERED, publisher, tag, value=recovered)
        self._tracker.giveUp(publisher, tag, last)
        self._handle(self._tracker.takeNotices())
        self._flush()

    def latestKnown(
        self, publisher: bytes, latest: Sequence[tuple[bytes, int]], sentAt: float
    ) -> None:
        """Keep them until a heartbeat sent after them comes down the data path (rule 4)."""
        self._latest[publisher] = (sentAt, latest)

    def _applyLatest(self, publisher: bytes, latest: Sequence[tuple[bytes, int]]) -> None:
        tracker = self._tracker
        for tag, number in latest:
            tracker.noteLatest(publisher, tag, number)
        self._handle(tracker.takeNotices())
        self._flush()

    # -- internals -------------------------------------------------------------------------

    def _flush(self) -> None:
        if self.ready:
            self._deliver(self.takeReady())

    def _handle(self, notices: list[Notice]) -> None:
        for notice in notices:
            if isinstance(notice, Released):
                self.ready.extend(notice.items)
            elif isinstance(notice, Lost):
                self._tell.lost(notice)
            elif isinstance(notice, GapOpened):
                self._tell.gap(notice.publisher, notice.tag, notice.first, notice.last)
                if self._client is not None:
                    self._client.ask(notice.publisher, notice.tag, notice.first, notice.last)
            elif isinstance(notice, NewPublisher):
                self._tell.newPublisher(notice.publisher)

    # -- heartbeats (rules 3 and 4) --------------------------------------------------------------

    def _heartbeat(self, beat: Heartbeat) -> None:
        publisher, now = beat.publisher, self._now()
        quiet, due = self._liveness.beat(publisher, beat.interval, now)  # before heard(): rule 3
        self._tracker.heard(publisher, now)
        if self._tracker.notices:
            self._handle(self._tracker.takeNotices())
        pending = self._latest.get(publisher)
        if pending is not None and beat.sentAt > pending[0]:  # what they number has come by
            del self._latest[publisher]
            self._applyLatest(publisher, pending[1])
        elif pending is not None:
            return  # still waiting for the data path to catch up with the last answer
        if self._client is not None and (quiet or due) and self._tracker.isTracked(publisher):
            prefixes = self._prefixes()
            latest = tuple(prefixes) if len(prefixes) <= MAX_PREFIXES else (b"",)
            self._client.askLatest(publisher, latest)

    def _forget(self, publisher: bytes) -> None:
        self._latest.pop(publisher, None)
        if self._client is not None:
            self._client.forget(publisher)
        self._tracker.forgetPublisher(publisher)
        self._handle(self._tracker.takeNotices())
        self._flush()


#: Default seconds a subscriber waits for a replay request's answer.
DEFAULT_REPLAY_TIMEOUT: Final = 5.0


class SequencedReceiving:
    """The subscriber's sequenced-stream options and API, on the attributes Subscriber sets."""

    _closed: bool
    _factory: ZmqFactory
    _socket: zmq.Socket[bytes]
    _reader: SocketReader
    _router: TopicRouter[Subscription]
    _lifecycle: ConnectionMonitor | None
    _maxQueued: int
    security: Security | None
    _toFlush: list[Subscription]
    _legacyConsumer: Callable[[], Callable[[bytes, bytes], object] | None]
    _forUser: Callable[[tuple[Subscription, ...]], bool]
    _consume: Callable[[Callable[[bytes, bytes], object], Message], None]
    _flushBatchWaiters: Callable[[], None]
    shutdown: Callable[[], None]

    #: Seconds to wait for a publisher's replay socket to answer; what has not
    #: come back by then is counted as lost. ``.. versionadded:: 0.1.0``
    replayTimeout = DEFAULT_REPLAY_TIMEOUT

    def streamStatistics(self) -> StreamStatistics:
        """
        A snapshot of the sequenced streams this subscriber reads: publishers,
        streams, held, lost, recovered, duplicates, malformed and replay requests.

        .. versionadded:: 0.1.0
        """
        if self._recovery is None:
            return StreamStatistics(0, 0, 0, 0, 0, 0, 0, 0, 0)
        return self._recovery.statistics()

    def _setUpRecovery(self, replay: object, replayTimeout: float | None) -> None:
        """Check the options; with replay endpoints, start at once (rule 3)."""
        if replayTimeout is not None:
            self.replayTimeout = replayTimeout
        checkSeconds(self.replayTimeout, "replayTimeout")
        if replay is None:
            endpoints = []
        elif isinstance(replay, (list, tuple)) and not isinstance(replay, ZmqEndpoint):
            endpoints = [checkEndpoint(each) for each in replay]
        else:
            endpoints = [checkEndpoint(replay)]
        self._replayEndpoints: list[ZmqEndpoint] = endpoints
        self._recovery: StreamRecovery | None = None

    def _startReplaying(self) -> None:
        """With replay endpoints, start at once (rule 3); a failure closes the subscriber."""
        if self._replayEndpoints:
            try:
                self._startRecovery()
            except BaseException:
                self.shutdown()
                raise

    def _startRecovery(self) -> StreamRecovery:
        """Start tracking sequenced streams: on the first stamp, or at once with replay."""
        router = self._router
        recovery = self._recovery = StreamRecovery(
            self._factory,
            route=router.routeCached,
            prefixes=lambda: [s.tag for s in router.targets() if not s._hidden],  # noqa: SLF001
            deliver=self._deliverMessages,
            report=self._reportStream,
            replay=self._replayEndpoints,
            replayTimeout=self.replayTimeout,
            holdLimit=self._maxQueued,
            security=self.security,
        )
        self._socket.set(zmq.SUBSCRIBE, HEARTBEAT_TAG)
        self._reader.kick()
        return recovery

    def _deliverMessages(self, messages: list[Message]) -> None:
        """Route the messages a sequenced stream made deliverable, in order, as _deliver does."""
        routeCached = self._router.routeCached
        consumer = self._legacyConsumer()
        for message in messages:
            if self._closed:
                return
            matched = routeCached(message.tag)
            if consumer is None:
                ranCallbacks = False
                for subscription in matched:
                    ranCallbacks = subscription._put(message) or ranCallbacks
                if ranCallbacks:
                    consumer = self._legacyConsumer()
                continue
            forUser = self._forUser(matched)
            for subscription in matched:
                if subscription._reading:  # noqa: SLF001
                    subscription._put(message)
            if forUser:
                self._consume(consumer, message)
            consumer = self._legacyConsumer()
        if self._toFlush:
            self._flushBatchWaiters()

    def _deliverReady(self) -> None:
        """Deliver what the sequenced streams made deliverable, if anything."""
        recovery = self._recovery
        if recovery is not None and recovery.ready:
            self._deliverMessages(recovery.takeReady())

    def _forgetUnsubscribed(self) -> None:
        """After an unsubscribe: subscribing again is a fresh start, not a gap."""
        if self._recovery is not None:
            router = self._router
            self._recovery.forgetTags(lambda tag: not router.route(tag))

    def _reportStream(self, event: ConnectionEvent) -> None:
        if self._lifecycle is not None:
            self._lifecycle.report(event)

    def _stopRecovery(self) -> None:
        if self._recovery is not None:
            self._recovery.stop()
