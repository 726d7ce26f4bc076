"""StreamTracker: order, duplicates, gaps and held items per stream, checked against a model."""

from __future__ import annotations

import re
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from txzpub._core._tracking import (
    DELIVER,
    DUPLICATE,
    HELD,
    GapOpened,
    Lost,
    NewPublisher,
    Notice,
    Released,
    StreamTracker,
    TrackerStatistics,
)

P = b"P" * 16
Q = b"Q" * 16
R = b"R" * 16
S = b"S" * 16

#: An item is the stream and number it was sent with, so a release can be checked.
Item = tuple[bytes, bytes, int]


def exactly(text: str) -> str:
    return f"^{re.escape(text)}$"


class Feed:
    """A tracker whose items are ``(publisher, tag, number)``, with short calls."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("recovering", True)
        self.tracker: StreamTracker[Item] = StreamTracker(**options)

    def receive(self, number: int, tag: bytes = b"t", publisher: bytes = P, now: float = 0) -> int:
        return self.tracker.receive(publisher, tag, number, (publisher, tag, number), now)

    def recover(self, number: int, tag: bytes = b"t", publisher: bytes = P) -> int:
        return self.tracker.recover(publisher, tag, number, (publisher, tag, number))

    def take(self) -> list[Notice]:
        return self.tracker.takeNotices()

    def released(self, *numbers: int, tag: bytes = b"t", publisher: bytes = P) -> Released[Item]:
        return Released(publisher, tag, tuple((publisher, tag, n) for n in numbers))


# The model: what a caller sees, per stream and per epoch (an epoch ends when
# the stream is forgotten, since it then restarts by rule 1).


@attrs.define
class Epoch:
    delivered: list[int] = attrs.field(factory=list)
    lost: list[int] = attrs.field(factory=list)
    held: set[int] = attrs.field(factory=set)
    named: set[int] = attrs.field(factory=set)
    skipped: int = 0

    def covered(self) -> list[int]:
        return sorted(self.delivered + self.lost)


class Checker:
    """Drives a Feed and checks every result and notice against the model."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.recovering = feed.tracker.recovering
        self.epochs: dict[tuple[bytes, bytes], Epoch] = {}
        self.finished: list[Epoch] = []
        self.tracked: set[bytes] = set()
        self.duplicates = 0

    def current(self, publisher: bytes, tag: bytes) -> Epoch:
        return self.epochs.setdefault((publisher, tag), Epoch())

    def receive(self, publisher: bytes, tag: bytes, number: int) -> int:
        epoch = self.epochs.get((publisher, tag))
        before = None if epoch is None else epoch.covered()
        result = self.feed.receive(number, tag, publisher)
        epoch = self.current(publisher, tag)
        if result == DUPLICATE:
            # Rule 2: only what was delivered, held or given up, or lies before the start.
            assert before, "a new stream delivers its first number"
            assert number in epoch.held or number <= before[-1]
        elif not self.recovering and before and number > before[-1] + 1:
            epoch.skipped += number - before[-1] - 1
        self.settle(publisher, tag, number, result)
        return result

    def recover(self, publisher: bytes, tag: bytes, number: int) -> int:
        key = (publisher, tag)
        missing = set() if key not in self.epochs else self.missingNow(publisher, tag)
        result = self.feed.recover(number, tag, publisher)
        # Rule 4: only a number the stream misses is taken; nothing else, no new stream.
        assert (result != DUPLICATE) == (number in missing)
        if key in self.epochs:
            self.settle(publisher, tag, number, result)
        else:
            assert self.feed.take() == []
            self.duplicates += 1
        return result

    def missingNow(self, publisher: bytes, tag: bytes) -> set[int]:
        ranges = self.feed.tracker.missing(publisher, tag)
        return {n for first, last in ranges for n in range(first, last + 1)}

    def giveUp(self, publisher: bytes, tag: bytes, upTo: int) -> None:
        self.feed.tracker.giveUp(publisher, tag, upTo)
        self.notices(self.feed.take())

    def noteLatest(self, publisher: bytes, tag: bytes, latest: int) -> None:
        self.feed.tracker.noteLatest(publisher, tag, latest)
        notices = self.feed.take()
        if not self.recovering or (publisher, tag) not in self.epochs:
            assert notices == []
        self.notices(notices)

    def forget(self, publisher: bytes) -> None:
        self.feed.tracker.forgetPublisher(publisher)
        self.notices(self.feed.take())
        self.tracked.discard(publisher)
        for key in [key for key in self.epochs if key[0] == publisher]:
            self.close(self.epochs.pop(key))

    def unsubscribe(self, tag: bytes) -> None:
        self.feed.tracker.forgetTags(lambda unwanted: unwanted == tag)
        assert self.feed.take() == [], "forgetTags is silent"
        for key in [key for key in self.epochs if key[1] == tag]:
            epoch = self.epochs.pop(key)
            epoch.held.clear()
            self.finished.append(epoch)

    def settle(self, publisher: bytes, tag: bytes, number: int, result: int) -> None:
        epoch = self.current(publisher, tag)
        if result == DELIVER:
            epoch.delivered.append(number)
        elif result == HELD:
            assert self.recovering, "nothing is held when not recovering (e)"
            epoch.held.add(number)
        else:
            assert result == DUPLICATE
            self.duplicates += 1
        self.notices(self.feed.take())

    def notices(self, notices: list[Notice]) -> None:
        for notice in notices:
            if isinstance(notice, NewPublisher):
                assert notice.publisher not in self.tracked
                self.tracked.add(notice.publisher)
                continue
            epoch = self.current(notice.publisher, notice.tag)
            if isinstance(notice, GapOpened):
                assert self.recovering
                named = set(range(notice.first, notice.last + 1))
                assert notice.count == len(named) >= 1
                assert not named & epoch.named, "each number is named once (rule 3)"
                assert not named & (set(epoch.delivered + epoch.lost) | epoch.held)
                epoch.named |= named
            elif isinstance(notice, Lost):
                assert notice.count == notice.last - notice.first + 1 >= 1
                epoch.lost.extend(range(notice.first, notice.last + 1))
            else:
                assert notice.items
                for publisher, tag, number in notice.items:
                    assert (publisher, tag) == (notice.publisher, notice.tag)
                    epoch.held.remove(number)
                    epoch.delivered.append(number)

    def check(self) -> None:
        """The properties of every epoch, and the tracker's views against the model."""
        tracker = self.feed.tracker
        for epoch in [*self.finished, *self.epochs.values()]:
            checkEpoch(epoch, self.recovering)
        for (publisher, tag), epoch in self.epochs.items():
            covered = epoch.covered()
            assert (tag, covered[-1]) in tracker.tags(publisher)
            unresolved = epoch.named - set(covered) - epoch.held
            assert self.missingNow(publisher, tag) == unresolved
        assert tracker.statistics() == TrackerStatistics(
            publishers=len(self.tracked),
            streams=len(self.epochs),
            held=sum(len(epoch.held) for epoch in self.epochs.values()),
            duplicates=self.duplicates,
        )
        assert set(tracker.publishers()) == self.tracked

    def close(self, epoch: Epoch) -> None:
        assert not epoch.held, "forgetting gives up everything, so releases everything held"
        self.finished.append(epoch)


def checkEpoch(epoch: Epoch, recovering: bool) -> None:
    delivered = epoch.delivered
    # (a) at most once, (b) in strictly increasing order.
    assert len(set(delivered)) == len(delivered)
    assert delivered == sorted(delivered)
    # (c) delivered and lost cover one run from the first delivered, once each.
    covered = epoch.covered()
    assert covered[0] == delivered[0]
    assert covered == list(range(covered[0], covered[-1] + 1))
    if not recovering:
        # (d) every number skipped is lost, and only those; (e) nothing held.
        assert len(epoch.lost) == epoch.skipped
        assert not epoch.held
        assert not epoch.named


# The feed: per stream, numbers in order, some dropped or repeated, shuffled
# within a small window, the streams interleaved; plus replays, give-ups, tail
# reports and forgotten publishers at random places.

STREAMS = [(P, b"a"), (P, b"b"), (Q, b"a")]
Op = tuple[str, int, int]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Feed, list[Op]]:
    feed = Feed(recovering=draw(st.booleans()), holdLimit=draw(st.integers(1, 8)))
    arrivals: list[list[int]] = []
    for _ in STREAMS:
        start = draw(st.integers(1, 4))
        window = draw(st.integers(0, 5))
        fates = draw(st.lists(st.sampled_from(["keep"] * 4 + ["drop", "twice"]), max_size=25))
        sent = []
        for index, fate in enumerate(fates):
            for _ in range({"keep": 1, "drop": 0, "twice": 2}[fate]):
                sent.append((index + draw(st.integers(0, window)), start + index))
        arrivals.append([number for _, number in sorted(sent)])
    ops: list[Op] = []
    cursors = [0] * len(STREAMS)
    while any(cursor < len(a) for cursor, a in zip(cursors, arrivals, strict=True)):
        stream = draw(st.sampled_from([i for i, a in enumerate(arrivals) if cursors[i] < len(a)]))
        ops.append(("receive", stream, arrivals[stream][cursors[stream]]))
        cursors[stream] += 1
    extras = st.tuples(
        st.sampled_from(["recover", "recover", "giveUp", "noteLatest", "forget", "unsubscribe"]),
        st.integers(0, len(STREAMS) - 1),
        st.integers(0, 32),
    )
    for extra in draw(st.lists(extras, max_size=12)):
        ops.insert(draw(st.integers(0, len(ops))), extra)
    return feed, ops


@given(scenarios())
def test_modelProperties(scenario: tuple[Feed, list[Op]]) -> None:
    """
    (a) at most once, (b) increasing per stream, (c) delivered and lost cover
    each number once, (d) not recovering, the Lost counts are the numbers
    skipped, (e) nothing held when not recovering; plus duplicates counted,
    GapOpened naming each number once, forgetting (rule 8) releasing all that
    is held, and missing()/tags()/statistics() agreeing with the model.
    Giving up everything at the end releases every held item.
    """
    feed, ops = scenario
    checker = Checker(feed)
    for op, stream, number in ops:
        publisher, tag = STREAMS[stream]
        if op == "receive":
            checker.receive(publisher, tag, number)
        elif op == "recover":
            checker.recover(publisher, tag, number)
        elif op == "giveUp":
            checker.giveUp(publisher, tag, number)
        elif op == "noteLatest":
            checker.noteLatest(publisher, tag, number)
        elif op == "unsubscribe":
            checker.unsubscribe(tag)
        else:
            checker.forget(publisher)
        checker.check()
    for publisher, tag in list(checker.epochs):
        checker.giveUp(publisher, tag, 10**30)
        assert feed.tracker.missing(publisher, tag) == []
    checker.check()
    assert feed.tracker.statistics().held == 0


# Construction.


def test_defaults() -> None:
    tracker: StreamTracker[object] = StreamTracker(recovering=False)
    assert (tracker.holdLimit, tracker.maxPublishers, tracker.maxTags) == (10_000, 1_000, 100_000)
    assert tracker.recovering is False
    assert tracker.statistics() == TrackerStatistics(0, 0, 0, 0)
    assert tracker.takeNotices() == []


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"recovering": 1}, TypeError, "recovering must be a bool, not 1 (int)"),
        ({"recovering": None}, TypeError, "recovering must be a bool, not None (NoneType)"),
        ({"holdLimit": 0}, ValueError, "holdLimit must be >= 1, not 0 (int)"),
        ({"holdLimit": 1.5}, TypeError, "holdLimit must be an int, not 1.5 (float)"),
        ({"maxPublishers": 0}, ValueError, "maxPublishers must be >= 1, not 0 (int)"),
        ({"maxTags": True}, TypeError, "maxTags must be an int, not True (bool)"),
    ],
)
def test_badOptions(options: dict[str, object], error: type[Exception], message: str) -> None:
    options = {"recovering": True, **options}
    with pytest.raises(error, match=exactly(message)):
        StreamTracker(**options)  # type: ignore[arg-type]


# Rule 1: a stream starts where it is first seen.


def test_firstNumberIsDeliveredWhateverItIs() -> None:
    """A late joiner: nothing before the first number seen is missing."""
    feed = Feed()
    assert feed.receive(1000) == DELIVER
    assert feed.take() == [NewPublisher(P)]
    assert feed.receive(5, tag=b"u") == DELIVER
    assert feed.take() == []
    assert feed.tracker.missing(P, b"t") == []
    assert sorted(feed.tracker.tags(P)) == [(b"t", 1000), (b"u", 5)]


def test_newPublisherComesFirstAndOnce() -> None:
    feed = Feed(recovering=False)
    feed.tracker.heard(Q, 1.0)
    assert feed.take() == [NewPublisher(Q)]
    assert feed.tracker.isTracked(Q)
    assert feed.tracker.tags(Q) == []
    feed.tracker.heard(Q, 2.0)
    assert feed.receive(1, publisher=Q) == DELIVER
    assert feed.take() == []
    assert feed.receive(1, publisher=P) == DELIVER
    assert feed.take() == [NewPublisher(P)]
    assert feed.tracker.publishers() == [Q, P]


# Rule 2: in order, duplicates.


def test_inOrderAndDuplicates() -> None:
    feed = Feed()
    assert [feed.receive(n) for n in (1, 2, 3, 2, 1, 3, 4)] == [
        DELIVER,
        DELIVER,
        DELIVER,
        DUPLICATE,
        DUPLICATE,
        DUPLICATE,
        DELIVER,
    ]
    assert feed.tracker.statistics().duplicates == 3
    assert feed.tracker.tags(P) == [(b"t", 4)]


def test_heldAndLostNumbersAreDuplicates() -> None:
    feed = Feed()
    feed.receive(1)
    feed.receive(4)
    assert feed.receive(4) == DUPLICATE
    feed.tracker.giveUp(P, b"t", 2)
    assert feed.receive(2) == DUPLICATE
    assert feed.recover(2) == DUPLICATE
    assert feed.tracker.statistics().duplicates == 3


# Rule 3: a gap.


def test_gapNotRecoveringIsLostAndDelivered() -> None:
    feed = Feed(recovering=False)
    feed.receive(1)
    feed.take()
    assert feed.receive(5) == DELIVER
    assert feed.take() == [Lost(P, b"t", 2, 4)]
    assert feed.receive(3) == DUPLICATE
    assert feed.receive(6) == DELIVER
    assert feed.tracker.missing(P, b"t") == []
    assert feed.tracker.statistics().held == 0


def test_gapRecoveringHoldsAndNamesEachNumberOnce() -> None:
    feed = Feed()
    feed.receive(1)
    feed.take()
    assert feed.receive(5) == HELD
    assert feed.take() == [GapOpened(P, b"t", 2, 4)]
    assert feed.take() == []
    # A hole further on is held without a notice; a second jump names only the new range.
    assert feed.receive(3) == HELD
    assert feed.receive(6) == HELD
    assert feed.receive(9) == HELD
    assert feed.take() == [GapOpened(P, b"t", 7, 8)]
    assert feed.tracker.missing(P, b"t") == [(2, 2), (4, 4), (7, 8)]
    assert feed.tracker.statistics().held == 4
    assert feed.tracker.tags(P) == [(b"t", 1)]


def test_countProperty() -> None:
    assert GapOpened(P, b"t", 2, 4).count == 3
    assert Lost(P, b"t", 7, 7).count == 1


# Rule 4: filling gaps releases in order.


def test_fillingTheHeadReleasesWhatFollows() -> None:
    feed = Feed()
    feed.receive(1)
    for n in (3, 4, 6):
        feed.receive(n)
    feed.take()
    assert feed.receive(2) == DELIVER
    assert feed.take() == [feed.released(3, 4)]
    assert feed.tracker.missing(P, b"t") == [(5, 5)]
    assert feed.recover(5) == DELIVER
    assert feed.take() == [feed.released(6)]
    assert feed.tracker.missing(P, b"t") == []
    assert feed.tracker.statistics().held == 0
    # Settled: back on the fast path.
    assert feed.receive(7) == DELIVER
    assert feed.take() == []


def test_recoverFillsHolesLikeReceive() -> None:
    feed = Feed()
    feed.receive(1)
    feed.receive(5)
    feed.take()
    assert feed.recover(3) == HELD
    assert feed.recover(3) == DUPLICATE
    assert feed.recover(2) == DELIVER
    assert feed.take() == [feed.released(3)]
    assert feed.recover(4) == DELIVER
    assert feed.take() == [feed.released(5)]


def test_recoverOfWhatIsNotMissed() -> None:
    """Delivered, held, beyond what is named, not tracked: duplicates, and no stream made."""
    feed = Feed()
    assert feed.recover(1) == DUPLICATE
    assert not feed.tracker.isTracked(P)
    feed.receive(1)
    assert feed.recover(2) == DUPLICATE
    feed.receive(4)
    feed.take()
    assert feed.recover(1) == DUPLICATE
    assert feed.recover(4) == DUPLICATE
    assert feed.recover(5) == DUPLICATE
    assert feed.recover(2, tag=b"other") == DUPLICATE
    assert feed.take() == []
    assert feed.tracker.tags(P) == [(b"t", 1)]
    assert feed.tracker.statistics().duplicates == 6


# Rule 5: giving up.


def test_giveUpInterleavesLostAndReleased() -> None:
    feed = Feed()
    feed.receive(1)
    for n in (3, 4, 7, 10):
        feed.receive(n)
    feed.take()
    feed.tracker.giveUp(P, b"t", 8)
    assert feed.take() == [
        Lost(P, b"t", 2, 2),
        feed.released(3, 4),
        Lost(P, b"t", 5, 6),
        feed.released(7),
        Lost(P, b"t", 8, 8),
    ]
    # 9 is still missing, so 10 stays held.
    assert feed.tracker.missing(P, b"t") == [(9, 9)]
    assert feed.tracker.statistics().held == 1
    assert feed.tracker.tags(P) == [(b"t", 8)]
    feed.tracker.giveUp(P, b"t", 100)
    assert feed.take() == [Lost(P, b"t", 9, 9), feed.released(10)]
    assert feed.receive(11) == DELIVER


def test_giveUpBelowTheGapOrUnknownIsANoOp() -> None:
    feed = Feed()
    feed.receive(5)
    feed.receive(8)
    feed.take()
    feed.tracker.giveUp(P, b"t", 5)
    feed.tracker.giveUp(P, b"t", -(2**70))
    feed.tracker.giveUp(P, b"other", 100)
    feed.tracker.giveUp(Q, b"t", 100)
    assert feed.take() == []
    assert feed.tracker.missing(P, b"t") == [(6, 7)]


# Rule 6: holdLimit.


def test_holdLimitGivesUpBelowTheItem() -> None:
    feed = Feed(holdLimit=2)
    feed.receive(1)
    feed.receive(3)
    feed.receive(5)
    feed.take()
    # A third item to hold: 2 and 4 are given up first, 3 and 5 released, then 7 held past 6.
    assert feed.receive(7) == HELD
    assert feed.take() == [
        Lost(P, b"t", 2, 2),
        feed.released(3),
        Lost(P, b"t", 4, 4),
        feed.released(5),
        GapOpened(P, b"t", 6, 6),
    ]
    assert feed.tracker.statistics().held == 1
    assert feed.tracker.missing(P, b"t") == [(6, 6)]


def test_holdLimitDeliversWhenNothingWasReleasedAhead() -> None:
    feed = Feed(holdLimit=2)
    feed.receive(1)
    feed.receive(5)
    feed.receive(6)
    feed.take()
    # 3 fills a hole: 2 is given up, and 3 is next.
    assert feed.receive(3) == DELIVER
    assert feed.take() == [Lost(P, b"t", 2, 2)]
    assert feed.tracker.statistics().held == 2
    assert feed.recover(4) == DELIVER
    assert feed.take() == [feed.released(5, 6)]


def test_holdLimitKeepsDeliveryOrder() -> None:
    """Items released ahead of the arriving one come first: it joins them and is HELD."""
    feed = Feed(holdLimit=2)
    feed.receive(1)
    feed.receive(3)
    feed.receive(4)
    feed.tracker.noteLatest(P, b"t", 7)
    feed.take()
    # Held {3, 4} is full: 5 gives up 2, releases 3 and 4, then follows them.
    assert feed.receive(5) == HELD
    assert feed.take() == [Lost(P, b"t", 2, 2), feed.released(3, 4, 5)]
    assert feed.tracker.missing(P, b"t") == [(6, 7)]
    # The same from recover() (which counts HELD as recovered).
    feed = Feed(holdLimit=1)
    feed.receive(1)
    feed.receive(3)
    feed.tracker.noteLatest(P, b"t", 6)
    feed.take()
    assert feed.recover(5) == HELD
    assert feed.take() == [
        Lost(P, b"t", 2, 2),
        feed.released(3),
        Lost(P, b"t", 4, 4),
        feed.released(5),
    ]
    assert feed.tracker.missing(P, b"t") == [(6, 6)]
    assert feed.tracker.statistics().held == 0


def test_holdLimitOne() -> None:
    feed = Feed(holdLimit=1)
    feed.receive(1)
    feed.receive(3)
    feed.take()
    assert feed.recover(2) == DELIVER
    assert feed.take() == [feed.released(3)]
    feed.receive(6)
    feed.take()
    assert feed.receive(8) == HELD
    assert feed.take() == [Lost(P, b"t", 4, 5), feed.released(6), GapOpened(P, b"t", 7, 7)]


# Rule 7: tail loss.


def test_noteLatestNamesTheTail() -> None:
    feed = Feed()
    feed.receive(1)
    feed.take()
    feed.tracker.noteLatest(P, b"t", 1)
    assert feed.take() == []
    feed.tracker.noteLatest(P, b"t", 3)
    assert feed.take() == [GapOpened(P, b"t", 2, 3)]
    assert feed.tracker.missing(P, b"t") == [(2, 3)]
    # Named once: a later jump names only what lies past 3.
    assert feed.receive(6) == HELD
    assert feed.take() == [GapOpened(P, b"t", 4, 5)]
    feed.tracker.noteLatest(P, b"t", 6)
    feed.tracker.noteLatest(P, b"t", 2)
    assert feed.take() == []
    feed.tracker.noteLatest(P, b"t", 7)
    assert feed.take() == [GapOpened(P, b"t", 7, 7)]
    assert feed.tracker.missing(P, b"t") == [(2, 5), (7, 7)]
    for n in (2, 3, 4):
        feed.recover(n)
    assert feed.recover(5) == DELIVER
    assert feed.take() == [feed.released(6)]
    # Only the tail is missing, nothing held: the stream is not settled yet.
    assert feed.tracker.missing(P, b"t") == [(7, 7)]
    assert feed.receive(7) == DELIVER
    assert feed.tracker.missing(P, b"t") == []


def test_noteLatestTailGivenUp() -> None:
    feed = Feed()
    feed.receive(1)
    feed.tracker.noteLatest(P, b"t", 4)
    feed.take()
    feed.tracker.giveUp(P, b"t", 10)
    assert feed.take() == [Lost(P, b"t", 2, 4)]
    assert feed.receive(5) == DELIVER


def test_noteLatestNeverCreatesAndIsIgnoredWhenNotRecovering() -> None:
    feed = Feed()
    feed.tracker.noteLatest(P, b"t", 5)
    assert not feed.tracker.isTracked(P)
    feed.receive(1)
    feed.tracker.noteLatest(P, b"u", 5)
    assert feed.tracker.tags(P) == [(b"t", 1)]
    feed = Feed(recovering=False)
    feed.receive(1)
    feed.take()
    feed.tracker.noteLatest(P, b"t", 5)
    assert feed.take() == []
    assert feed.receive(2) == DELIVER


# Rule 8: bounds and forgetting.


def test_maxPublishersForgetsTheOneHeardLeastRecently() -> None:
    """Not the first tracked: P, tracked first but heard last, stays; Q goes."""
    feed = Feed(maxPublishers=2)
    feed.receive(1, publisher=P, now=1)
    feed.receive(1, publisher=Q, now=2)
    feed.receive(2, publisher=Q, now=3)
    feed.receive(4, publisher=Q, now=4)
    feed.receive(2, publisher=P, now=5)
    feed.take()
    assert feed.receive(1, publisher=R, now=6) == DELIVER
    assert feed.take() == [
        NewPublisher(R),
        Lost(Q, b"t", 3, 3),
        feed.released(4, publisher=Q),
    ]
    assert feed.tracker.publishers() == [P, R]
    # Q restarts by rule 1.
    assert feed.receive(5, publisher=Q, now=7) == DELIVER
    assert feed.take() == [NewPublisher(Q)]
    # Heartbeats count as hearing: P, silent in data but beating, outlives R.
    feed.tracker.heard(P, 8)
    assert feed.receive(1, publisher=S, now=9) == DELIVER
    assert feed.tracker.publishers() == [P, S]


def test_aFloodOfMadeUpPublishersDoesNotPushOutOneThatTalks() -> None:
    """An identity heard between made-up ones is never the one forgotten."""
    feed = Feed(maxPublishers=10)
    for n in range(100):
        feed.receive(1, publisher=n.to_bytes(16, "big"), now=n)
        feed.receive(n + 1, publisher=P, now=n + 0.5)
    assert feed.tracker.isTracked(P)
    assert feed.receive(50, publisher=P, now=200) == DUPLICATE


def test_maxTagsForgetsTheFirstStream() -> None:
    feed = Feed(maxTags=2)
    feed.receive(1, tag=b"a")
    feed.receive(3, tag=b"a")
    feed.receive(1, tag=b"b")
    feed.take()
    assert feed.receive(1, tag=b"c") == DELIVER
    assert feed.take() == [Lost(P, b"a", 2, 2), feed.released(3, tag=b"a")]
    assert [tag for tag, _ in feed.tracker.tags(P)] == [b"b", b"c"]
    assert feed.tracker.statistics().streams == 2
    assert feed.receive(1, tag=b"a") == DELIVER
    assert [tag for tag, _ in feed.tracker.tags(P)] == [b"c", b"a"]


def test_forgetPublisherGivesUpEverything() -> None:
    feed = Feed()
    feed.receive(1, tag=b"a")
    feed.receive(4, tag=b"a")
    feed.receive(1, tag=b"b")
    feed.tracker.noteLatest(P, b"b", 2)
    feed.take()
    feed.tracker.forgetPublisher(P)
    assert feed.take() == [
        Lost(P, b"a", 2, 3),
        feed.released(4, tag=b"a"),
        Lost(P, b"b", 2, 2),
    ]
    assert not feed.tracker.isTracked(P)
    assert feed.tracker.statistics() == TrackerStatistics(0, 0, 0, 0)
    feed.tracker.forgetPublisher(P)
    assert feed.take() == []


def test_forgetSilentGivesUpAndReleases() -> None:
    feed = Feed()
    feed.receive(1, publisher=P, now=0)
    feed.receive(3, publisher=P, now=1)
    feed.receive(1, publisher=Q, now=1)
    feed.tracker.heard(R, 5)
    feed.take()
    assert feed.tracker.forgetSilent(now=6, silentFor=5) == []
    assert feed.tracker.forgetSilent(now=6.5, silentFor=5) == [P, Q]
    assert feed.take() == [Lost(P, b"t", 2, 2), feed.released(3)]
    assert feed.tracker.publishers() == [R]
    feed.tracker.heard(R, 20)
    assert feed.tracker.forgetSilent(now=20, silentFor=10) == []


def test_forgetTagsIsSilent() -> None:
    """Unsubscribing drops held items and counts nothing lost; resubscribing is rule 1."""
    feed = Feed()
    feed.receive(1, tag=b"news.a")
    feed.receive(5, tag=b"news.a")
    feed.receive(1, tag=b"sport")
    feed.receive(1, tag=b"news.b", publisher=Q)
    feed.take()
    asked: list[bytes] = []

    def unwanted(tag: bytes) -> bool:
        asked.append(tag)
        return tag.startswith(b"news")

    feed.tracker.forgetTags(unwanted)
    assert feed.take() == []
    assert sorted(asked) == [b"news.a", b"news.b", b"sport"]
    assert feed.tracker.tags(P) == [(b"sport", 1)]
    assert feed.tracker.tags(Q) == []
    assert feed.tracker.isTracked(Q)
    assert feed.tracker.statistics() == TrackerStatistics(2, 1, 0, 0)
    assert feed.tracker.missing(P, b"news.a") == []
    assert feed.receive(3, tag=b"news.a") == DELIVER
    assert feed.take() == []


def test_forgetTagsKeepsTheFifoOrder() -> None:
    feed = Feed(maxTags=2)
    for tag in (b"a", b"b", b"c"):
        feed.receive(1, tag=tag)
    feed.tracker.forgetTags(lambda tag: tag == b"b")
    feed.receive(1, tag=b"d")
    feed.receive(1, tag=b"e")
    assert [tag for tag, _ in feed.tracker.tags(P)] == [b"d", b"e"]


# Rule 9: any numbers.


@given(st.lists(st.tuples(st.integers(1, 2**70), st.integers(-(2**70), 2**70)), max_size=20))
def test_neverRaises(calls: list[tuple[int, int]]) -> None:
    feed = Feed(holdLimit=3)
    for number, other in calls:
        feed.receive(number)
        feed.recover(number)
        feed.tracker.noteLatest(P, b"t", other)
        feed.tracker.giveUp(P, b"t", other)
    feed.tracker.giveUp(P, b"t", 2**80)
    feed.take()
    assert feed.tracker.statistics().held == 0


def test_takeNoticesClears() -> None:
    feed = Feed()
    feed.receive(1)
    notices = feed.tracker.notices
    assert feed.take() is notices
    assert feed.tracker.notices == []
    assert feed.tracker.notices is not notices


def test_releasedIsGenericOverItems() -> None:
    released: Released[int] = Released(P, b"t", (1, 2))
    assert released.items == (1, 2)
    assert released == Released(P, b"t", (1, 2))
