"""parseSubscription and SubscriptionCounts, checked against a naive model of an XPUB socket."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from txzpub._core._xpub import SubscriptionChange, SubscriptionCounts, parseSubscription

from ..strategies import prefixes, topicFrames, topics

#: Prefixes from the routing alphabet, so they nest and repeat, plus arbitrary
#: bytes, which may themselves start with b"\x00" or b"\x01".
_prefixes = st.one_of(prefixes(), st.binary(max_size=4))

#: Small frames: what is in a junk frame does not matter, only its shape.
_frames = st.one_of(topics(8), st.binary(max_size=8))


def subscribe(prefix: bytes) -> list[bytes]:
    return [b"\x01" + prefix]


def unsubscribe(prefix: bytes) -> list[bytes]:
    return [b"\x00" + prefix]


def _junk() -> st.SearchStrategy[list[bytes]]:
    """What an XSUB peer may send upstream that is no subscription message."""
    return st.one_of(
        st.just([]),
        st.just([b""]),
        # A first byte other than 0 and 1.
        st.builds(lambda first, rest: [bytes([first]) + rest], st.integers(2, 255), _frames),
        # More than one frame, even when the first looks like a subscription.
        st.lists(st.one_of(_frames, _prefixes.map(lambda p: b"\x01" + p)), min_size=2, max_size=4),
    )


def rawMessages(pool: list[bytes]) -> st.SearchStrategy[list[bytes]]:
    """Subscribes (most often) and unsubscribes to prefixes of *pool*, and junk."""
    some = st.sampled_from(pool)
    return st.one_of(
        some.map(subscribe),
        some.map(subscribe),
        some.map(unsubscribe),
        some.map(unsubscribe),
        _junk(),
    )


@st.composite
def messageSequences(draw: st.DrawFn, maxSize: int = 40) -> list[list[bytes]]:
    """
    What an XPUB socket reads over time. The prefixes come from a pool of at
    most three, so one prefix is subscribed several times and unsubscribed in
    between, as peers come and go.
    """
    pool = draw(st.lists(_prefixes, min_size=1, max_size=3, unique=True))
    return draw(st.lists(rawMessages(pool), max_size=maxSize))


class Model:
    """What libzmq's XPUB tells us, the naive way: a Counter of subscribed prefixes."""

    def __init__(self, *, exactUnsubscribes: bool) -> None:
        self.exactUnsubscribes = exactUnsubscribes
        self.counts: Counter[bytes] = Counter()

    def receive(self, message: list[bytes]) -> bool:
        """Count *message* in; False if it is no subscription message."""
        if len(message) != 1 or message[0][:1] not in (b"\x00", b"\x01"):
            return False
        prefix = message[0][1:]
        if message[0][:1] == b"\x01":
            self.counts[prefix] += 1
        elif self.exactUnsubscribes:
            self.counts[prefix] -= 1
        else:
            self.counts[prefix] = 0
        self.counts = +self.counts  # drop what fell to 0 (or below: absent stays absent)
        return True

    def matching(self, tag: bytes) -> int:
        return sum(n for prefix, n in self.counts.items() if tag[: len(prefix)] == prefix)


def test_parseSubscribe() -> None:
    assert parseSubscription([b"\x01news"]) == SubscriptionChange(b"news", subscribed=True)


def test_parseUnsubscribe() -> None:
    assert parseSubscription([b"\x00news"]) == SubscriptionChange(b"news", subscribed=False)


def test_parseEmptyPrefix() -> None:
    """Subscribing to b"" (everything) is one byte on the wire."""
    assert parseSubscription([b"\x01"]) == SubscriptionChange(b"", subscribed=True)
    assert parseSubscription([b"\x00"]) == SubscriptionChange(b"", subscribed=False)


def test_parsePrefixKeepsLeadingCommandBytes() -> None:
    """Only the first byte is the command: a prefix may itself start with b"\\x01"."""
    assert parseSubscription([b"\x01\x01\x00"]) == SubscriptionChange(b"\x01\x00", subscribed=True)


@pytest.mark.parametrize(
    "message",
    [[], [b""], [b"\x02news"], [b"\xffnews"], [b"hello"], [b"\x01news", b""], [b"\x00", b"x"]],
)
def test_parseJunk(message: list[bytes]) -> None:
    """Rule 1: anything else an XSUB peer sends is not a subscription message."""
    assert parseSubscription(message) is None


@given(message=_junk())
def test_parseAnyJunk(message: list[bytes]) -> None:
    assert parseSubscription(message) is None


@given(prefix=_prefixes, subscribed=st.booleans())
def test_parseRoundTrip(prefix: bytes, subscribed: bool) -> None:
    message = subscribe(prefix) if subscribed else unsubscribe(prefix)
    assert parseSubscription(message) == SubscriptionChange(prefix, subscribed)


def receive(counts: SubscriptionCounts, message: list[bytes]) -> None:
    """What the publisher does with each message its XPUB socket reads."""
    change = parseSubscription(message)
    if change is not None:
        counts.apply(change)


@given(
    messages=messageSequences(),
    tags=st.lists(topicFrames(), max_size=6),
    exactUnsubscribes=st.booleans(),
)
def test_countsMatchTheModel(
    messages: list[list[bytes]], tags: list[bytes], exactUnsubscribes: bool
) -> None:
    """Rules 1 to 3, after every message: counts, absent zeros, and matching()."""
    counts = SubscriptionCounts(exactUnsubscribes=exactUnsubscribes)
    model = Model(exactUnsubscribes=exactUnsubscribes)
    for message in messages:
        before = dict(counts.view)
        isChange = model.receive(message)
        receive(counts, message)
        if not isChange:
            assert dict(counts.view) == before, "junk changed nothing"
        assert dict(counts.view) == dict(model.counts)
        assert set(counts) == set(model.counts)
        assert all(n > 0 for n in counts.view.values()), "a prefix with no subscriber is absent"
        for tag in [*tags, *model.counts]:
            assert counts.matching(tag) == model.matching(tag), tag


@given(messages=messageSequences(maxSize=20))
def test_unsubscribingWhatIsAbsentChangesNothing(messages: list[list[bytes]]) -> None:
    counts = SubscriptionCounts()
    for message in messages:
        receive(counts, message)
    before = dict(counts.view)
    for prefix in [b"never", b"\x00\x01", b"zz"]:
        if prefix not in before:
            receive(counts, unsubscribe(prefix))
    assert dict(counts.view) == before


def test_exactUnsubscribesCountPeers() -> None:
    """Rule 2 with XPUB_VERBOSER: two peers on b"news", one leaves, one remains."""
    counts = SubscriptionCounts()
    for message in (subscribe(b"news"), subscribe(b"news"), subscribe(b"")):
        receive(counts, message)
    assert dict(counts.view) == {b"news": 2, b"": 1}
    assert counts.matching(b"news.uk") == 3
    assert counts.matching(b"new") == 1
    receive(counts, unsubscribe(b"news"))
    assert dict(counts.view) == {b"news": 1, b"": 1}
    receive(counts, unsubscribe(b"news"))
    assert dict(counts.view) == {b"": 1}
    assert b"news" not in counts.view


def test_inexactUnsubscribeDropsTheWholeCount() -> None:
    """Rule 2 with XPUB_VERBOSE alone: only the last unsubscribe arrives."""
    counts = SubscriptionCounts(exactUnsubscribes=False)
    receive(counts, subscribe(b"news"))
    receive(counts, subscribe(b"news"))
    receive(counts, unsubscribe(b"news"))
    assert dict(counts.view) == {}
    assert counts.matching(b"news") == 0


def test_matchingIncludesTheEmptyPrefix() -> None:
    """Rule 3: b"" is a prefix of every tag, b"" included."""
    counts = SubscriptionCounts()
    receive(counts, subscribe(b""))
    assert counts.matching(b"") == 1
    assert counts.matching(b"\xff anything") == 1


def test_matchingIsByPrefixOfTheTag() -> None:
    counts = SubscriptionCounts()
    for prefix in (b"a", b"ab", b"abc", b"b"):
        receive(counts, subscribe(prefix))
    assert counts.matching(b"ab") == 2  # b"a" and b"ab"; b"abc" is longer than the tag
    assert counts.matching(b"ba") == 1
    assert counts.matching(b"") == 0


def test_viewIsLiveAndReadOnly() -> None:
    counts = SubscriptionCounts()
    view = counts.view
    receive(counts, subscribe(b"x"))
    assert dict(view) == {b"x": 1}
    with pytest.raises(TypeError):
        view[b"y"] = 1  # type: ignore[index]


def test_clearForgetsEverything() -> None:
    counts = SubscriptionCounts()
    receive(counts, subscribe(b"x"))
    receive(counts, subscribe(b""))
    counts.clear()
    assert dict(counts.view) == {}
    assert list(counts) == []
    assert counts.matching(b"x") == 0
