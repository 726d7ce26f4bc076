"""TopicRouter: libzmq's prefix matching and reference counting, checked against a naive model."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from txzpub._core._routing import CACHE_LIMIT, TopicRouter

from ..strategies import prefixes, subscriptionSets, topicFrames


class Target:
    """A stand-in for a subscription queue: distinct, named, never None or falsy-by-accident."""

    _serial = itertools.count()

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix
        self.serial = next(self._serial)

    def __repr__(self) -> str:
        return f"Target({self.prefix!r}#{self.serial})"


class Maker:
    """A makeTarget callable that records every call."""

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix
        self.made: list[Target] = []

    def __call__(self) -> Target:
        target = Target(self.prefix)
        self.made.append(target)
        return target


def subscribed(*prefixes: bytes) -> TopicRouter[Target]:
    router: TopicRouter[Target] = TopicRouter()
    for prefix in prefixes:
        router.subscribe(prefix, Maker(prefix))
    return router


def routedPrefixes(router: TopicRouter[Target], frame: bytes) -> list[bytes]:
    return [target.prefix for target in router.route(frame)]


def test_empty() -> None:
    router: TopicRouter[Target] = TopicRouter()
    assert len(router) == 0
    assert router.route(b"anything") == ()
    assert router.route(b"") == ()
    assert router.targets() == []
    assert router.get(b"") is None
    assert router.count(b"x") == 0


def test_subscribeNew() -> None:
    """The first subscription makes the target and says the socket option must be set."""
    router: TopicRouter[Target] = TopicRouter()
    maker = Maker(b"news")
    target, isNew = router.subscribe(b"news", maker)
    assert isNew is True
    assert maker.made == [target]
    assert router.get(b"news") is target
    assert router.count(b"news") == 1
    assert len(router) == 1


def test_subscribeAgainReusesTarget() -> None:
    """A repeated subscription shares the existing target; makeTarget is not even called."""
    router: TopicRouter[Target] = TopicRouter()
    first, _ = router.subscribe(b"news", Maker(b"news"))
    again = Maker(b"news")
    target, isNew = router.subscribe(b"news", again)
    assert (target, isNew) == (first, False)
    assert again.made == []
    assert router.count(b"news") == 2
    assert len(router) == 1


def test_unsubscribeIsReferenceCounted() -> None:
    """Subscribing twice and unsubscribing once keeps the subscription, as libzmq does."""
    router = subscribed(b"news", b"news")
    target = router.get(b"news")
    assert router.unsubscribe(b"news") == (target, False)
    assert router.count(b"news") == 1
    assert routedPrefixes(router, b"news!") == [b"news"]
    assert router.unsubscribe(b"news") == (target, True)
    assert router.count(b"news") == 0
    assert router.get(b"news") is None
    assert router.route(b"news!") == ()
    assert len(router) == 0


def test_unsubscribeUnknownIsIgnored() -> None:
    """Unsubscribing what was never subscribed is a no-op, as libzmq ignores it."""
    router = subscribed(b"news")
    assert router.unsubscribe(b"sport") == (None, False)
    assert router.unsubscribe(b"new") == (None, False)
    assert router.unsubscribe(b"") == (None, False)
    assert router.count(b"news") == 1
    assert routedPrefixes(router, b"news") == [b"news"]


def test_unsubscribeTooOften() -> None:
    """An extra unsubscribe after the last one changes nothing and returns (None, False)."""
    router = subscribed(b"news")
    router.unsubscribe(b"news")
    assert router.unsubscribe(b"news") == (None, False)
    assert router.count(b"news") == 0


def test_resubscribeMakesNewTarget() -> None:
    """After the last unsubscribe the old target is gone for good; a new one is made."""
    router = subscribed(b"news")
    old, _ = router.unsubscribe(b"news")
    target, isNew = router.subscribe(b"news", Maker(b"news"))
    assert isNew is True
    assert target is not old


def test_emptyPrefixMatchesEverything() -> None:
    router = subscribed(b"")
    for frame in (b"", b"x", b"\0", b"news\0hi", bytes(range(256))):
        assert routedPrefixes(router, frame) == [b""]


def test_prefixMatchesLongerTopics() -> None:
    """b"news" gets b"newsletter": libzmq matches prefixes, not whole topics."""
    router = subscribed(b"news")
    assert routedPrefixes(router, b"newsletter\0hi") == [b"news"]
    assert routedPrefixes(router, b"news") == [b"news"]
    assert routedPrefixes(router, b"new") == []
    assert routedPrefixes(router, b"sports\0news") == []
    assert routedPrefixes(router, b"News") == []


def test_prefixWithSeparatorMatchesRawFrame() -> None:
    """
    A prefix containing b"\\0" is matched against the raw first frame, exactly as the
    SUB socket's filter did: b"news\\0" excludes b"newsletter", and a prefix may reach
    into the body of a one-frame message.
    """
    router = subscribed(b"news\0", b"news\0h", b"\0")
    assert routedPrefixes(router, b"news\0hi") == [b"news\0", b"news\0h"]
    assert routedPrefixes(router, b"news\0ok") == [b"news\0"]
    assert routedPrefixes(router, b"newsletter\0hi") == []
    assert routedPrefixes(router, b"news") == []
    assert routedPrefixes(router, b"\0untagged") == [b"\0"]


def test_routeOrderShortestFirst() -> None:
    """Nested prefixes all match, shortest first, whatever order they were subscribed in."""
    router = subscribed(b"news.world", b"", b"news", b"n", b"news.sport")
    assert routedPrefixes(router, b"news.world\0x") == [b"", b"n", b"news", b"news.world"]


def test_routeEachTargetOnce() -> None:
    """A subscription held twice still gets each message once."""
    router = subscribed(b"a", b"a", b"ab", b"ab", b"ab")
    assert routedPrefixes(router, b"abc") == [b"a", b"ab"]


def test_falsyTargetsAreRouted() -> None:
    """Targets are tested against None, not truthiness: an empty queue still gets messages."""
    router: TopicRouter[list[bytes]] = TopicRouter()
    queue: list[bytes] = []
    router.subscribe(b"x", lambda: queue)
    assert router.route(b"xy") == (queue,)


def test_targetsInSubscriptionOrder() -> None:
    router = subscribed(b"b", b"a", b"b", b"c")
    assert [target.prefix for target in router.targets()] == [b"b", b"a", b"c"]


@given(subscriptionSets(), topicFrames())
def test_routeMatchesModel(subscriptions: set[bytes], frame: bytes) -> None:
    """For any set of prefixes, route() is exactly the startswith filter, shortest first."""
    router = subscribed(*subscriptions)
    expected = sorted((p for p in subscriptions if frame.startswith(p)), key=len)
    assert routedPrefixes(router, frame) == expected


class RouterMachine(RuleBasedStateMachine):
    """Random subscribe/unsubscribe sequences; the model is a dict of counts and targets."""

    def __init__(self) -> None:
        super().__init__()
        self.router: TopicRouter[Target] = TopicRouter()
        self.counts: dict[bytes, int] = {}
        self.targets: dict[bytes, Target] = {}

    @rule(prefix=prefixes())
    def subscribe(self, prefix: bytes) -> None:
        maker = Maker(prefix)
        target, isNew = self.router.subscribe(prefix, maker)
        known = prefix in self.counts
        assert isNew is not known
        if known:
            assert target is self.targets[prefix]
            assert maker.made == []
        else:
            assert maker.made == [target]
            self.targets[prefix] = target
        self.counts[prefix] = self.counts.get(prefix, 0) + 1

    def _unsubscribe(self, prefix: bytes) -> None:
        result = self.router.unsubscribe(prefix)
        count = self.counts.get(prefix, 0)
        if count == 0:
            assert result == (None, False)
        elif count == 1:
            assert result == (self.targets.pop(prefix), True)
            del self.counts[prefix]
        else:
            assert result == (self.targets[prefix], False)
            self.counts[prefix] = count - 1

    @rule(prefix=prefixes())
    def unsubscribeAny(self, prefix: bytes) -> None:
        """Mostly prefixes that were never subscribed: those must be ignored."""
        self._unsubscribe(prefix)

    @precondition(lambda self: self.counts)
    @rule(data=st.data())
    def unsubscribeKnown(self, data: st.DataObject) -> None:
        self._unsubscribe(data.draw(st.sampled_from(sorted(self.counts)), label="prefix"))

    @rule(frame=topicFrames())
    def route(self, frame: bytes) -> None:
        expected = sorted(
            (self.targets[p] for p in self.targets if frame.startswith(p)),
            key=lambda target: len(target.prefix),
        )
        assert list(self.router.route(frame)) == expected
        assert list(self.router.routeCached(frame)) == expected

    @invariant()
    def agreesWithModel(self) -> None:
        router = self.router
        assert len(router) == len(self.counts)
        assert router.targets() == list(self.targets.values())
        for prefix, count in self.counts.items():
            assert router.count(prefix) == count
            assert router.get(prefix) is self.targets[prefix]

    @invariant()
    def lengthIndexIsExact(self) -> None:
        """The per-length index never keeps a length nobody uses (it would cost a probe)."""
        lengths = sorted({len(prefix) for prefix in self.counts})
        assert self.router._lengths == lengths
        assert self.router._lengthUse == {
            size: sum(1 for prefix in self.counts if len(prefix) == size) for size in lengths
        }


RouterMachine.TestCase.settings = settings(
    RouterMachine.TestCase.settings, max_examples=75, stateful_step_count=40
)
test_routerMachine = RouterMachine.TestCase


class CountingDict(dict[bytes, Target]):
    """The router's targets dict, counting every lookup route() makes."""

    lookups = 0

    def get(self, key: bytes, default: Target | None = None) -> Target | None:  # type: ignore[override]
        self.lookups += 1
        return super().get(key, default)

    def __getitem__(self, key: bytes) -> Target:
        self.lookups += 1
        return super().__getitem__(key)


def countedRouter(prefixes: Iterator[bytes]) -> tuple[TopicRouter[Target], CountingDict]:
    router = subscribed(*prefixes)
    counting = CountingDict(router._targets)
    router._targets = counting
    return router, counting


def lookupsFor(router: TopicRouter[Target], counting: CountingDict, frame: bytes) -> int:
    counting.lookups = 0
    router.route(frame)
    return counting.lookups


@pytest.mark.parametrize("frame", [b"topic.01234\0body", b"topic.99999", b"other", b""])
def test_routeCostIndependentOfSubscriptionCount(frame: bytes) -> None:
    """
    10,000 prefixes of one length cost one dict probe, the same as a single prefix:
    a subscriber with many topics must not pay per subscription on every message.
    """
    many, manyCounting = countedRouter(b"topic.%05d" % n for n in range(10_000))
    one, oneCounting = countedRouter(iter([b"topic.00000"]))
    assert len(many) == 10_000
    assert many._lengths == [11]
    assert lookupsFor(many, manyCounting, frame) == lookupsFor(one, oneCounting, frame) <= 1


def test_routeCostIsOneProbePerDistinctLength() -> None:
    """With several lengths, the cost is bounded by the distinct lengths, not the prefixes."""
    router, counting = countedRouter(
        itertools.chain(
            (b"t.%03d" % n for n in range(1000)),
            (b"t.%05d" % n for n in range(1000)),
            [b"", b"t"],
        )
    )
    assert len(router) == 2002
    assert router._lengths == [0, 1, 5, 7]
    assert lookupsFor(router, counting, b"t.00042\0x") == 4
    assert [t.prefix for t in router.route(b"t.00042\0x")] == [b"", b"t", b"t.000", b"t.00042"]
    # Lengths longer than the frame are not even probed.
    assert lookupsFor(router, counting, b"t.0") == 2


def test_routeCachedForgetsOnEveryChange() -> None:
    """Cached answers never outlive a subscribe or an unsubscribe."""
    router: TopicRouter[str] = TopicRouter()
    router.subscribe(b"news", lambda: "news")
    assert router.routeCached(b"news.sports") == ("news",)
    router.subscribe(b"news.s", lambda: "sports")
    assert router.routeCached(b"news.sports") == ("news", "sports")
    router.unsubscribe(b"news")
    assert router.routeCached(b"news.sports") == ("sports",)


def test_routeCacheIsBounded() -> None:
    router: TopicRouter[str] = TopicRouter()
    router.subscribe(b"", lambda: "all")
    for n in range(CACHE_LIMIT * 3):
        assert router.routeCached(b"topic-%d" % n) == ("all",)
    assert len(router._cache) <= CACHE_LIMIT
