"""LastValues: one message per tag, replayed as the publisher's own frames, checked against a model."""

from __future__ import annotations

from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

import txzpub._core._framing
from txzpub._core._lastvalue import LastValues

from ..strategies import prefixes, topics

#: The two framings a publisher may use; the cache must replay with either.
FRAMINGS = st.sampled_from([False, True])


def publisherEncoder(multipart: bool) -> partial[list[bytes]]:
    """The encoder a ZmqPubConnection builds: txZMQ's separator, one or two frames."""
    return partial(txzpub._core._framing.encodeMessage, separator=b"\0", multipart=multipart)


def cache(multipart: bool) -> LastValues:
    return LastValues(publisherEncoder(multipart))


def wire(tag: bytes, body: bytes, multipart: bool) -> list[bytes]:
    """The frames of one publish, written out by hand (the model's encoder)."""
    return [tag, body] if multipart else [tag + b"\0" + body]


def publishes(multipart: bool) -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
    """(tag, body) publishes over few tags, so tags repeat and replace their values."""
    # One frame cannot carry a tag containing the separator: draw those without.
    tags = (
        topics(4)
        if multipart
        else st.lists(st.sampled_from([b"a", b"b"]), max_size=4).map(b"".join)
    )
    return st.lists(st.tuples(tags, topics(4)), max_size=20)


@st.composite
def histories(draw: st.DrawFn) -> tuple[bool, list[tuple[bytes, bytes]], list[bytes]]:
    multipart = draw(FRAMINGS)
    return multipart, draw(publishes(multipart)), draw(st.lists(prefixes(6), max_size=6))


@given(history=histories())
def test_replayIsTheLastPublishOfEachMatchingTag(
    history: tuple[bool, list[tuple[bytes, bytes]], list[bytes]],
) -> None:
    """Rules 1 to 3 against a dict model: one per tag, the last body, matched on frame one."""
    multipart, published, subscriptions = history
    values = cache(multipart)
    last: dict[bytes, bytes] = {}
    for tag, body in published:
        values.remember(tag, body)
        last[tag] = body
        assert len(values) == len(last)
    for prefix in [b"", *subscriptions]:
        expected = sorted(
            wire(tag, body, multipart)
            for tag, body in last.items()
            if wire(tag, body, multipart)[0].startswith(prefix)
        )
        replay = values.replayFor(prefix)
        assert sorted(replay) == expected, prefix
        # Exactly what the publisher's encoder would send again, byte for byte.
        encode = publisherEncoder(multipart)
        assert all(frames == encode(*decoded(frames, multipart)) for frames in replay)


def decoded(frames: list[bytes], multipart: bool) -> tuple[bytes, bytes]:
    if multipart:
        return frames[0], frames[1]
    tag, _, body = frames[0].partition(b"\0")
    return tag, body


def test_emptyCacheReplaysNothing() -> None:
    for multipart in (False, True):
        values = cache(multipart)
        assert len(values) == 0
        assert values.replayFor(b"") == []


def test_oneValuePerTag() -> None:
    """Rule 1: the cache grows with the tags, not with the traffic."""
    values = cache(multipart=False)
    for n in range(100):
        values.remember(b"news", b"%d" % n)
    assert len(values) == 1
    assert values.replayFor(b"news") == [[b"news\x0099"]]


def test_replayOneFrame() -> None:
    values = cache(multipart=False)
    values.remember(b"news.a", b"v1")
    values.remember(b"news.b", b"w1")
    values.remember(b"weather", b"x1")
    values.remember(b"news.a", b"v2")
    assert sorted(values.replayFor(b"news")) == [[b"news.a\x00v2"], [b"news.b\x00w1"]]
    assert values.replayFor(b"weather") == [[b"weather\x00x1"]]
    assert len(values.replayFor(b"")) == 3
    assert values.replayFor(b"sport") == []


def test_replayTwoFrames() -> None:
    values = cache(multipart=True)
    values.remember(b"news.a", b"v1")
    values.remember(b"weather", b"x1")
    assert values.replayFor(b"news") == [[b"news.a", b"v1"]]
    assert len(values.replayFor(b"")) == 2


def test_oneFramePrefixMayReachIntoTheBody() -> None:
    """Rule 2: ZeroMQ matches the whole first frame, separator and body included."""
    values = cache(multipart=False)
    values.remember(b"news", b"hello")
    assert values.replayFor(b"news\0hel") == [[b"news\0hello"]]
    assert values.replayFor(b"news\0bye") == []


def test_twoFramePrefixMatchesTheTagAlone() -> None:
    """With two frames the first frame is the tag: the body is never matched."""
    values = cache(multipart=True)
    values.remember(b"news", b"hello")
    assert values.replayFor(b"news") == [[b"news", b"hello"]]
    assert values.replayFor(b"news\0") == []
    assert values.replayFor(b"newsh") == []


def test_tagWithSeparatorCannotBeReplayedInOneFrame() -> None:
    """The publisher refuses such a tag before remembering it; the encoder says why."""
    values = cache(multipart=False)
    values.remember(b"a\0b", b"x")
    with pytest.raises(ValueError, match="publish with multipartFraming=True"):
        values.replayFor(b"")
