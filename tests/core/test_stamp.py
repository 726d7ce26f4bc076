"""The stamp of a sequenced stream: data and heartbeat stamps, and the publisher's numbering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from txzpub._core._stamp import (
    HEARTBEAT_TAG,
    MAGIC,
    PUBLISHER_ID_SIZE,
    Heartbeat,
    Sequencer,
    heartbeatFrames,
    isStamp,
    newPublisherId,
    parseDataStamp,
    parseHeartbeat,
    shortId,
)

identities = st.binary(min_size=PUBLISHER_ID_SIZE, max_size=PUBLISHER_ID_SIZE)
tags = st.binary(max_size=8)


def test_identitiesAreRandomAndSized() -> None:
    first, second = newPublisherId(), newPublisherId()
    assert len(first) == PUBLISHER_ID_SIZE
    assert first != second
    assert shortId(bytes(range(16))) == "00010203"


@given(identities, st.lists(tags, max_size=30))
def test_numbersCountPerTagFromOne(publisher: bytes, published: list[bytes]) -> None:
    """Each tag counts from 1, and each stamp parses back to its publisher and number."""
    sequencer = Sequencer(publisher)
    seen: dict[bytes, int] = {}
    for tag in published:
        number, stamp = sequencer.next(tag)
        sequencer.commit(tag, number)
        seen[tag] = seen.get(tag, 0) + 1
        assert number == seen[tag]
        assert isStamp(stamp)
        assert parseDataStamp(stamp) == (publisher, number)
    assert sequencer.numbers == seen


def test_aNumberNotCommittedIsUsedAgain() -> None:
    """A message not accepted for sending uses no number."""
    sequencer = Sequencer(bytes(16))
    assert sequencer.next(b"t")[0] == 1
    assert sequencer.next(b"t")[0] == 1
    sequencer.commit(b"t", 1)
    assert sequencer.next(b"t")[0] == 2


def test_latestMatchesPrefixesAsZeroMQDoes() -> None:
    sequencer = Sequencer(bytes(16))
    for tag, number in [(b"news.uk", 3), (b"news.fr", 1), (b"sport", 7)]:
        sequencer.commit(tag, number)
    assert sequencer.latest((b"news",), 10) == [(b"news.uk", 3), (b"news.fr", 1)]
    assert sequencer.latest((b"",), 2) == [(b"news.uk", 3), (b"news.fr", 1)]
    assert sequencer.latest((b"x", b"sp"), 10) == [(b"sport", 7)]
    assert sequencer.latest((), 10) == []


def test_aPublisherIdentityIsSixteenBytes() -> None:
    with pytest.raises(ValueError, match=r"^a publisher identity is 16 bytes, not b'x'$"):
        Sequencer(b"x")


@given(identities, st.floats(0.001, 3600), st.floats(0, 2e9))
def test_heartbeatsRoundTrip(publisher: bytes, interval: float, now: float) -> None:
    tag, body, stamp = heartbeatFrames(publisher, interval, now)
    assert (tag, body) == (HEARTBEAT_TAG, b"")
    beat = parseHeartbeat(stamp)
    assert beat is not None
    assert beat.publisher == publisher
    assert beat.interval == pytest.approx(interval, abs=0.001)
    assert beat.sentAt == pytest.approx(now, abs=1e-5)
    assert parseDataStamp(stamp) is None


@given(st.binary(max_size=40))
def test_parsingNeverRaises(frame: bytes) -> None:
    """Anything at all parses to a value or None."""
    parseDataStamp(frame)
    parseHeartbeat(frame)
    parseDataStamp(MAGIC + frame)
    parseHeartbeat(MAGIC + frame)


@given(identities, st.integers(1, 2**64 - 1), st.data())
def test_mutatedStampsAreNoneOrValid(publisher: bytes, number: int, data: st.DataObject) -> None:
    """A stamp with one byte changed, or cut, or lengthened, is None or a well-formed stamp."""
    stamp = Sequencer(publisher).prefix + number.to_bytes(8, "big")
    index = data.draw(st.integers(0, len(stamp) - 1))
    mutated = data.draw(
        st.sampled_from(
            [
                stamp[:index] + bytes([stamp[index] ^ 0xFF]) + stamp[index + 1 :],
                stamp[:index],
                stamp + b"\0",
            ]
        )
    )
    parsed = parseDataStamp(mutated)
    if parsed is not None:
        assert len(parsed[0]) == PUBLISHER_ID_SIZE
        assert parsed[1] >= 1


def test_malformedStamps() -> None:
    good = Sequencer(bytes(16)).prefix + (1).to_bytes(8, "big")
    assert parseDataStamp(good[:-8] + bytes(8)) is None  # numbers start at 1
    assert parseDataStamp(good[:4] + b"H" + good[5:]) is None  # wrong kind
    assert parseDataStamp(good + b"x") is None
    beat = heartbeatFrames(bytes(16), 1.0, 0.0)[2]
    assert parseHeartbeat(beat[:21] + bytes(12)) is None  # an interval of 0 ms
    assert parseHeartbeat(good) is None
    assert Heartbeat(bytes(16), 1.0, 0.0) == parseHeartbeat(beat)
    assert not isStamp(b"hello")
