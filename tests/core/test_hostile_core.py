"""
Hostile input against the sans-IO core (issue 6): decodeFrames and TopicRouter
fed whatever a peer may send, checked against brute-force references.

No reactor and no sockets: each example takes microseconds, except the few
with a frame of up to a megabyte.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from unittest import mock

from hypothesis import example, given
from hypothesis import strategies as st

from txzpub._core import _routing
from txzpub._core._framing import decodeFrames
from txzpub._core._message import Message
from txzpub._core._routing import CACHE_LIMIT, TopicRouter

from ..hostile_strategies import (
    NOT_UTF8,
    Scenario,
    hostileFrameLists,
    hostileFrames,
    hostilePrefixes,
    hostileSeparators,
    scenarios,
)


def routerFor(prefixes: Iterable[bytes]) -> TopicRouter[bytes]:
    """A router whose targets are the prefixes themselves."""
    router: TopicRouter[bytes] = TopicRouter()
    for prefix in prefixes:
        router.subscribe(prefix, lambda prefix=prefix: prefix)  # type: ignore[misc]
    return router


def bruteForce(prefixes: Iterable[bytes], key: bytes) -> tuple[bytes, ...]:
    """libzmq's filter, the slow way: every prefix the key starts with, shortest first."""
    return tuple(sorted((p for p in prefixes if key.startswith(p)), key=len))


def keysOf(scenario: Scenario) -> list[bytes]:
    """Every key the subscriber may route: raw first frames, their tags, b""."""
    keys = [b""]
    for message in scenario.messages:
        keys.append(message[0])
        keys.append(message[0].partition(scenario.separator)[0])
    return keys


# -- decodeFrames ------------------------------------------------------------------------


@given(hostileFrameLists(minFrames=0, maxFrames=50), hostileSeparators())
@example([], b"\0")
@example([b""] * 50, b"\0")
@example([b"\0" * 10], b"\0\0")
@example([b"a:::b"], b"::")
@example([b"abababa"], b"aba")
@example([b"T" * (1 << 20) + b"\0body"], b"\0")
@example([NOT_UTF8[0], NOT_UTF8[1]], b"\xff")
def test_decodeFramesHostile(frames: list[bytes], separator: bytes) -> None:
    """
    Any list of bytes frames, any non-empty separator: decoding never raises,
    yields bytes fields and a tuple extra, and loses no byte.
    """
    message = decodeFrames(frames, separator)
    assert type(message.tag) is bytes
    assert type(message.body) is bytes
    assert type(message.extra) is tuple
    assert Message(message.tag, message.body, message.extra) == message
    if not frames:
        assert message == Message(b"", b"")
    elif len(frames) == 1:
        frame = frames[0]
        at = frame.find(separator)
        if at < 0:
            assert message == Message(b"", frame)
        else:  # split at the *first* occurrence, even when it overlaps the tag's end
            assert message == Message(frame[:at], frame[at + len(separator) :])
            assert separator not in message.tag + separator[:-1]
    else:
        assert [message.tag, message.body, *message.extra] == frames


def test_decodeFramesAcceptsBytesLikeFrames() -> None:
    """ZeroMQ hands the reader bytes; a tuple of frames is just as good."""
    assert decodeFrames((b"t", b"b", b"", b"\xff")) == Message(b"t", b"b", (b"", b"\xff"))


# -- TopicRouter --------------------------------------------------------------------------


@given(scenarios(maxMessages=16, maxFrames=3))
def test_routeMatchesBruteForce(scenario: Scenario) -> None:
    """
    For any prefix set (b"", separator-containing, non-UTF-8, whole huge frames)
    and any key, route() and routeCached() are exactly libzmq's filter, each
    target once, shortest first; asking twice (from the cache) changes nothing.

    Also the subscriber's shortcut: when no subscribed prefix contains the
    separator's first byte, a one-frame message that holds the separator
    matches exactly what its tag matches, so it may be routed (and cached) by
    tag. That holds for every separator, overlapping multi-byte ones included.
    """
    router = routerFor(scenario.prefixes)
    for key in keysOf(scenario):
        expected = bruteForce(scenario.prefixes, key)
        assert router.route(key) == expected
        assert router.routeCached(key) == expected
        assert router.routeCached(key) == expected
    assert len(router._cache) <= CACHE_LIMIT

    lead = scenario.separator[:1]
    guarded = [p for p in scenario.prefixes if lead not in p]
    byTag = routerFor(guarded)
    for message in scenario.messages:
        frame = message[0]
        tag, found, _ = frame.partition(scenario.separator)
        if found:
            assert byTag.routeCached(tag) == byTag.route(frame) == bruteForce(guarded, frame)


def test_routingByTagNeedsTheGuard() -> None:
    """...and the guard matters: a prefix reaching into the separator sees the raw frame."""
    router = routerFor([b"news\0h"])
    assert router.route(b"news\0hi") == (b"news\0h",)
    assert router.route(b"news") == ()


@st.composite
def churn(draw: st.DrawFn) -> tuple[int, list[tuple[str, bytes]]]:
    """A tiny cache limit and a run of subscribe / unsubscribe / route operations."""
    limit = draw(st.integers(1, 6))
    keys = st.one_of(hostileFrames(maxHuge=70_000), hostilePrefixes())
    operation = st.one_of(
        st.tuples(st.just("route"), keys),
        st.tuples(st.just("route"), keys),
        st.tuples(st.just("route"), keys),
        st.tuples(st.sampled_from(["subscribe", "unsubscribe"]), hostilePrefixes()),
    )
    return limit, draw(st.lists(operation, max_size=60))


@given(churn())
def test_cacheNeverChangesTheAnswer(case: tuple[int, list[tuple[str, bytes]]]) -> None:
    """
    With the cache limit shrunk to a handful of keys, many more distinct keys
    than the limit, repeats, and subscriptions changing (reference counted)
    in between: every cached answer equals the brute-force one, and the cache
    never holds more than the limit.
    """
    limit, operations = case
    router: TopicRouter[bytes] = TopicRouter()
    counts: dict[bytes, int] = {}
    seen: list[bytes] = []
    with mock.patch.object(_routing, "CACHE_LIMIT", limit):
        for kind, value in operations:
            if kind == "subscribe":
                router.subscribe(value, lambda value=value: value)  # type: ignore[misc]
                counts[value] = counts.get(value, 0) + 1
            elif kind == "unsubscribe":
                router.unsubscribe(value)
                if counts.get(value, 0) > 1:
                    counts[value] -= 1
                else:
                    counts.pop(value, None)
            else:
                seen.append(value)
                # The new key, then every key seen so far (most from the cache, or evicted).
                for key in [value, *seen[-8:]]:
                    assert router.routeCached(key) == bruteForce(counts, key)
            assert len(router._cache) <= limit


def test_cacheBeyondTheRealLimit() -> None:
    """
    A peer inventing a new topic per message: three times CACHE_LIMIT distinct
    hostile keys, each asked twice with older ones in between, never a wrong
    answer and never more than CACHE_LIMIT remembered keys.
    """
    prefixes = [b"", b"\0", b"t\xff", b"t\xff1", b"t\xff12\0", b"::"]
    router = routerFor(prefixes)
    keys = [b"t\xff%d\0" % n + NOT_UTF8[n % len(NOT_UTF8)] for n in range(3 * CACHE_LIMIT + 17)]
    for n, key in enumerate(keys):
        for asked in (key, keys[n // 2], key):
            assert router.routeCached(asked) == bruteForce(prefixes, asked)
        assert len(router._cache) <= CACHE_LIMIT
    assert router.routeCached(b"t\xff12\0x") == (b"", b"t\xff", b"t\xff1", b"t\xff12\0")


def test_cacheRetainsBoundedBytes() -> None:
    """
    The cache is bounded in keys, and should be in bytes too: 64 distinct
    256 KB tags (16 MB) routed through it must not leave megabytes behind.
    """
    router = routerFor([b"", b"T"])
    for n in range(64):
        tag = b"%03d" % n + b"T" * (256 * 1024)
        assert router.routeCached(tag) == (b"",)
    retained = sum(len(key) for key in router._cache)
    assert retained <= 1 << 20, f"the routing cache retains {retained:,} bytes of keys"


@given(st.lists(hostilePrefixes(), max_size=20), st.lists(hostileFrames(70_000), max_size=10))
def test_referenceCountsSurviveHostilePrefixes(prefixes: list[bytes], frames: list[bytes]) -> None:
    """Subscribing a multiset of hostile prefixes, then unsubscribing it all, leaves nothing."""
    router: TopicRouter[bytes] = TopicRouter()
    for prefix in prefixes:
        router.subscribe(prefix, lambda prefix=prefix: prefix)  # type: ignore[misc]
    for frame in frames:
        assert router.routeCached(frame) == bruteForce(set(prefixes), frame)
    for prefix in itertools.chain(reversed(prefixes), [b"never", b""]):
        router.unsubscribe(prefix)
    assert len(router) == 0
    assert router._lengths == []
    assert router._lengthUse == {}
    for frame in frames:
        assert router.routeCached(frame) == ()
