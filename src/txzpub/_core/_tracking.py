# -*- test-case-name: tests.core.test_tracking -*-
"""
Stream tracking: what a subscriber makes of sequenced messages.

A *stream* is one (publisher identity, tag): its numbers start at 1 and go up
by one per message. The tracker decides, per message, whether it is delivered
now, dropped as a duplicate, or held until the gap before it resolves, and it
says in *notices* what the caller must do besides (ask for a replay, count a
loss, deliver released items). It never looks inside the items it holds.

Rules:

1. A stream not tracked starts at the first number it sees: that item is
   delivered and nothing before it is missing (a late joiner, a new or
   forgotten publisher, a subscription made again). An identity not tracked
   yet is noticed first (``NewPublisher``), by ``receive`` and ``heard`` alike.
2. The next expected number is delivered. A number below it, one already
   held, or one given up as lost is a duplicate, and counted.
3. A number above the next expected opens a gap. Not recovering: the numbers
   skipped are ``Lost`` and the item is delivered. Recovering: the item is
   held, and ``GapOpened`` names the numbers newly found missing, each number
   once per stream (a second jump names only what lies past everything named).
4. A number filling the head of a gap is delivered, and the held items that
   then follow in order are ``Released`` in one notice, to be delivered right
   after it; one filling a hole further on is held. Replayed items
   (``recover``) follow the same rule, but only for numbers the stream
   misses (named by a ``GapOpened``, neither held nor resolved since):
   anything else, or any stream not tracked, is a duplicate, and ``recover``
   never creates a stream.
5. ``giveUp`` loses every missing number up to a bound: one ``Lost`` per
   missing run, each followed by the ``Released`` held items it unblocks;
   items past a number still missing stay held. Unknown streams: nothing.
6. A stream holds at most ``holdLimit`` items: one more first gives up all it
   misses below that item (rule 5). The caller delivers a call's ``DELIVER``
   item before that call's notices, so when this released items ahead of it,
   the item comes out at the end of those released items and the result is
   ``HELD``; else it is delivered, or held past a new gap (rule 3).
7. ``noteLatest`` (the publisher's latest number of a tag) names the tail loss
   of a tracked stream when recovering: the numbers up to it not named yet.
8. At most ``maxPublishers`` identities and ``maxTags`` streams per identity.
   One identity more forgets the one heard least recently (a scan, only when
   the bound is hit: a flood of made-up identities cannot push out a
   publisher that is still talking); one stream more forgets the publisher's
   stream tracked first (FIFO: no bookkeeping per message).
   Forgetting a stream or a publisher (bounds, ``forgetPublisher``,
   ``forgetSilent``: not heard by ``receive`` or ``heard`` since ``now -
   silentFor``) first gives up all it misses (rule 5); it then restarts by
   rule 1. ``forgetTags`` forgets silently: held items are discarded and
   nothing is lost, since the user unsubscribed.
9. Nothing raises for any numbers (the codec guarantees ints >= 1).

Cost: an in-order ``receive`` is two dict lookups and two dict stores (the
publisher's last-heard time is stored on every call: no batch bookkeeping). A
stream in trouble stores 0 as its next number, which no sequence equals, so
only those streams take the slow path, where their held items and missing
ranges live.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any, Final, Generic, TypeAlias, TypeVar

import attrs

from ._checks import checkCount, checkType

__all__ = [
    "DELIVER",
    "DUPLICATE",
    "HELD",
    "GapOpened",
    "Lost",
    "NewPublisher",
    "Notice",
    "Released",
    "StreamTracker",
    "TrackerStatistics",
]

T = TypeVar("T")

#: receive()/recover(): deliver the item now, before the call's notices.
DELIVER: Final = 0
#: Drop the item: already delivered or held, or given up as lost.
DUPLICATE: Final = 1
#: The tracker keeps the item; it comes out in a ``Released`` notice.
HELD: Final = 2

#: The next number a stream in trouble stores on the fast path: no sequence is 0.
_TROUBLED: Final = 0


@attrs.frozen
class NewPublisher:
    """The first message or heartbeat from an identity not tracked (rule 1)."""

    publisher: bytes


@attrs.frozen
class GapOpened:
    """Numbers *first* to *last* (inclusive) are missing: ask for a replay (rules 3, 7)."""

    publisher: bytes
    tag: bytes
    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1


@attrs.frozen
class Lost:
    """Numbers *first* to *last* (inclusive) will never be delivered (rules 3, 5)."""

    publisher: bytes
    tag: bytes
    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1


@attrs.frozen
class Released(Generic[T]):
    """Held items now deliverable, in order: deliver them right away (rule 4)."""

    publisher: bytes
    tag: bytes
    items: tuple[T, ...]


Notice: TypeAlias = NewPublisher | GapOpened | Lost | Released[Any]


@attrs.frozen
class TrackerStatistics:
    """A snapshot of a StreamTracker."""

    #: Identities tracked now.
    publishers: int
    #: Streams tracked now, over all identities.
    streams: int
    #: Items held now, over all streams.
    held: int
    #: Duplicates dropped so far (receive and recover).
    duplicates: int


class _Gap(Generic[T]):
    """
    The slow state of a stream in trouble. Numbers from ``expected`` to
    ``named`` that are not held are missing; every held number is above
    ``expected``, which is itself never held.
    """

    __slots__ = ("expected", "heap", "held", "named", "publisher", "tag")

    def __init__(self, publisher: bytes, tag: bytes, expected: int) -> None:
        self.publisher = publisher
        self.tag = tag
        self.expected = expected
        self.named = expected - 1
        self.held: dict[int, T] = {}
        # The held numbers as a heap: the smallest is the next one to release.
        self.heap: list[int] = []

    def arrive(self, sequence: int, item: T, holdLimit: int, notices: list[Notice]) -> int:
        """An item from either path (rules 2 to 4, 6); the caller counts duplicates."""
        if sequence < self.expected or sequence in self.held:
            return DUPLICATE
        releasedAhead = False
        if sequence != self.expected and len(self.held) >= holdLimit:
            releasedAhead = self.lose(sequence - 1, notices)
        if sequence == self.expected:
            self.expected = sequence + 1
            released = self.release()
            if not releasedAhead:
                if released:
                    notices.append(Released(self.publisher, self.tag, tuple(released)))
                return DELIVER
            # The caller delivers a DELIVER item before the notices, so this
            # one joins the items released ahead of it (rule 6).
            last = notices[-1]
            ahead = last.items if isinstance(last, Released) else ()
            if ahead:
                notices.pop()
            notices.append(Released(self.publisher, self.tag, (*ahead, item, *released)))
            return HELD
        if sequence > self.named:
            if sequence > self.named + 1:
                notices.append(GapOpened(self.publisher, self.tag, self.named + 1, sequence - 1))
            self.named = sequence
        self.held[sequence] = item
        heapq.heappush(self.heap, sequence)
        return HELD

    def release(self) -> list[T]:
        """Take the held items that follow ``expected`` in order."""
        heap, held, expected = self.heap, self.held, self.expected
        released = []
        while heap and heap[0] == expected:
            heapq.heappop(heap)
            released.append(held.pop(expected))
            expected += 1
        self.expected = expected
        return released

    def lose(self, upTo: int, notices: list[Notice]) -> bool:
        """Rule 5 up to *upTo*; True when it released any item."""
        releasedAny = False
        while self.expected <= upTo and self.expected <= self.named:
            end = min(self.heap[0] - 1 if self.heap else self.named, upTo)
            notices.append(Lost(self.publisher, self.tag, self.expected, end))
            self.expected = end + 1
            released = self.release()
            if released:
                notices.append(Released(self.publisher, self.tag, tuple(released)))
                releasedAny = True
        return releasedAny

    def missing(self) -> list[tuple[int, int]]:
        ranges = []
        start = self.expected
        for number in sorted(self.held):
            if number > start:
                ranges.append((start, number - 1))
            start = number + 1
        if start <= self.named:
            ranges.append((start, self.named))
        return ranges

    @property
    def settled(self) -> bool:
        return not self.held and self.expected > self.named


class StreamTracker(Generic[T]):
    """Order, duplicates, gaps and held items per (publisher, tag); see the module rules."""

    __slots__ = (
        "_duplicates",
        "_gaps",
        "_heard",
        "_streams",
        "_tagOrder",
        "holdLimit",
        "maxPublishers",
        "maxTags",
        "notices",
        "recovering",
    )

    def __init__(
        self,
        *,
        recovering: bool,
        holdLimit: int = 10_000,
        maxPublishers: int = 1_000,
        maxTags: int = 100_000,
    ) -> None:
        self.recovering = checkType(recovering, bool, "recovering", "a bool")
        self.holdLimit = checkCount(holdLimit, "holdLimit")
        self.maxPublishers = checkCount(maxPublishers, "maxPublishers")
        self.maxTags = checkCount(maxTags, "maxTags")
        #: What the caller must act on, in the order it happened (takeNotices).
        self.notices: list[Notice] = []
        # Publisher -> tag -> next expected number, or _TROUBLED. Ordered by
        # when each publisher was first tracked.
        self._streams: OrderedDict[bytes, dict[bytes, int]] = OrderedDict()
        # Publisher -> its tags in the order they were first tracked (rule 8).
        self._tagOrder: dict[bytes, deque[bytes]] = {}
        self._heard: dict[bytes, float] = {}
        self._gaps: dict[tuple[bytes, bytes], _Gap[T]] = {}
        self._duplicates = 0

    def takeNotices(self) -> list[Notice]:
        """The notices so far, oldest first; the tracker forgets them."""
        notices = self.notices
        self.notices = []
        return notices

    def receive(self, publisher: bytes, tag: bytes, sequence: int, item: T, now: float) -> int:
        """A message from the data path: DELIVER, DUPLICATE or HELD (rules 1 to 4, 6)."""
        streams = self._streams.get(publisher)
        if streams is not None:
            self._heard[publisher] = now
            if streams.get(tag) == sequence:
                streams[tag] = sequence + 1
                return DELIVER
        else:
            streams = self._track(publisher, now)
        expected = streams.get(tag)
        if expected is None:
            self._openStream(publisher, streams, tag)
            streams[tag] = sequence + 1
            return DELIVER
        if sequence < expected:
            self._duplicates += 1
            return DUPLICATE
        if expected != _TROUBLED and not self.recovering:
            self.notices.append(Lost(publisher, tag, expected, sequence - 1))
            streams[tag] = sequence + 1
            return DELIVER
        return self._arrive(streams, self._trouble(publisher, tag, streams), sequence, item)

    def recover(self, publisher: bytes, tag: bytes, sequence: int, item: T) -> int:
        """A replayed message: DELIVER or HELD only when the stream misses it (rule 4)."""
        streams = self._streams.get(publisher)
        if streams is not None and streams.get(tag) == _TROUBLED:
            gap = self._gaps[publisher, tag]
            if sequence <= gap.named:
                return self._arrive(streams, gap, sequence, item)
        self._duplicates += 1
        return DUPLICATE

    def giveUp(self, publisher: bytes, tag: bytes, upTo: int) -> None:
        """Every number the stream misses up to *upTo* is lost (rule 5)."""
        streams = self._streams.get(publisher)
        if streams is not None and streams.get(tag) == _TROUBLED:
            gap = self._gaps[publisher, tag]
            gap.lose(upTo, self.notices)
            self._settle(streams, gap)

    def noteLatest(self, publisher: bytes, tag: bytes, latest: int) -> None:
        """The publisher's latest number for *tag* is *latest*: name the tail loss (rule 7)."""
        streams = self._streams.get(publisher)
        if not self.recovering or streams is None:
            return
        expected = streams.get(tag)
        if expected is None:
            return
        named = self._gaps[publisher, tag].named if expected == _TROUBLED else expected - 1
        if latest > named:
            self._trouble(publisher, tag, streams).named = latest
            self.notices.append(GapOpened(publisher, tag, named + 1, latest))

    def heard(self, publisher: bytes, now: float) -> None:
        """A heartbeat: *publisher* is alive at *now* (rule 1 for a new identity)."""
        if publisher in self._streams:
            self._heard[publisher] = now
        else:
            self._track(publisher, now)

    def forgetSilent(self, now: float, silentFor: float) -> list[bytes]:
        """Forget the publishers not heard since ``now - silentFor`` (rule 8); return them."""
        cutoff = now - silentFor
        silent = [publisher for publisher, last in self._heard.items() if last < cutoff]
        for publisher in silent:
            self._forget(publisher)
        return silent

    def forgetTags(self, unwanted: Callable[[bytes], bool]) -> None:
        """Drop every stream whose tag is *unwanted*, silently (rule 8)."""
        verdicts: dict[bytes, bool] = {}
        for publisher, streams in self._streams.items():
            dropped = []
            for tag in streams:
                verdict = verdicts.get(tag)
                if verdict is None:
                    verdict = verdicts[tag] = bool(unwanted(tag))
                if verdict:
                    dropped.append(tag)
            if dropped:
                for tag in dropped:
                    if streams.pop(tag) == _TROUBLED:
                        del self._gaps[publisher, tag]
                self._tagOrder[publisher] = deque(streams)

    def forgetPublisher(self, publisher: bytes) -> None:
        """Give up what *publisher*'s streams miss and forget it (rule 8)."""
        if publisher in self._streams:
            self._forget(publisher)

    def tags(self, publisher: bytes) -> list[tuple[bytes, int]]:
        """(tag, last number delivered or given up) per stream of *publisher*."""
        streams = self._streams.get(publisher, {})
        return [
            (tag, (self._gaps[publisher, tag].expected if expected == _TROUBLED else expected) - 1)
            for tag, expected in streams.items()
        ]

    def missing(self, publisher: bytes, tag: bytes) -> list[tuple[int, int]]:
        """The numbers the stream misses, as inclusive ranges in order."""
        gap = self._gaps.get((publisher, tag))
        return [] if gap is None else gap.missing()

    def publishers(self) -> list[bytes]:
        """The identities tracked, first tracked first."""
        return list(self._streams)

    @property
    def lastHeard(self) -> Mapping[bytes, float]:
        """Publisher -> when it was last heard (``now`` of receive() or heard()), live."""
        return self._heard

    def isTracked(self, publisher: bytes) -> bool:
        return publisher in self._streams

    def statistics(self) -> TrackerStatistics:
        return TrackerStatistics(
            publishers=len(self._streams),
            streams=sum(len(streams) for streams in self._streams.values()),
            held=sum(len(gap.held) for gap in self._gaps.values()),
            duplicates=self._duplicates,
        )

    def _arrive(self, streams: dict[bytes, int], gap: _Gap[T], sequence: int, item: T) -> int:
        result = gap.arrive(sequence, item, self.holdLimit, self.notices)
        if result == DUPLICATE:
            self._duplicates += 1
        else:
            self._settle(streams, gap)
        return result

    def _trouble(self, publisher: bytes, tag: bytes, streams: dict[bytes, int]) -> _Gap[T]:
        """The slow state of a stream, which leaves the fast path until it settles."""
        expected = streams[tag]
        if expected == _TROUBLED:
            return self._gaps[publisher, tag]
        gap: _Gap[T] = _Gap(publisher, tag, expected)
        self._gaps[publisher, tag] = gap
        streams[tag] = _TROUBLED
        return gap

    def _settle(self, streams: dict[bytes, int], gap: _Gap[T]) -> None:
        """Put a stream that holds and misses nothing back on the fast path."""
        if gap.settled:
            del self._gaps[gap.publisher, gap.tag]
            streams[gap.tag] = gap.expected

    def _track(self, publisher: bytes, now: float) -> dict[bytes, int]:
        self.notices.append(NewPublisher(publisher))
        if len(self._streams) >= self.maxPublishers:
            heard = self._heard
            self._forget(min(heard, key=heard.__getitem__))
        streams: dict[bytes, int] = {}
        self._streams[publisher] = streams
        self._tagOrder[publisher] = deque()
        self._heard[publisher] = now
        return streams

    def _openStream(self, publisher: bytes, streams: dict[bytes, int], tag: bytes) -> None:
        order = self._tagOrder[publisher]
        if len(streams) >= self.maxTags:
            self._forgetStream(publisher, streams, order.popleft())
        order.append(tag)

    def _forgetStream(self, publisher: bytes, streams: dict[bytes, int], tag: bytes) -> None:
        if streams.pop(tag) == _TROUBLED:
            gap = self._gaps.pop((publisher, tag))
            gap.lose(gap.named, self.notices)

    def _forget(self, publisher: bytes) -> None:
        streams = self._streams[publisher]
        for tag in list(streams):
            self._forgetStream(publisher, streams, tag)
        del self._streams[publisher], self._tagOrder[publisher], self._heard[publisher]
