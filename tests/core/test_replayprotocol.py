"""The replay protocol: every value round-trips, and parsing never raises on anything."""

from __future__ import annotations

import re
from collections.abc import Callable

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from txzpub._core._replayprotocol import (
    MAX_LATEST,
    MAX_NUMBER,
    MAX_PREFIXES,
    MAX_TAG,
    PUBLISHER_ID_SIZE,
    LatestReply,
    LatestRequest,
    NotMine,
    ReplayedMessage,
    ReplayEnd,
    ReplayRequest,
    Reply,
    Request,
    parseReply,
    parseRequest,
)

KINDS = [b"\xa7tzR1", b"\xa7tzL1", b"\xa7tzM1", b"\xa7tzE1", b"\xa7tzT1", b"\xa7tzN1"]
PUBLISHER = bytes(range(PUBLISHER_ID_SIZE))
OTHER = b"\xff" * PUBLISHER_ID_SIZE
ONE = (1).to_bytes(8, "big")


def exactly(text: str) -> str:
    return f"^{re.escape(text)}$"


def number(value: int) -> bytes:
    return value.to_bytes(8, "big")


# -- strategies --------------------------------------------------------------------------

numbers = st.one_of(
    st.integers(0, 3), st.integers(0, MAX_NUMBER), st.sampled_from([MAX_NUMBER - 1, MAX_NUMBER])
)
positives = numbers.filter(bool)
publishers = st.binary(min_size=PUBLISHER_ID_SIZE, max_size=PUBLISHER_ID_SIZE)
#: Tags: short and arbitrary, or now and then exactly as long as allowed.
tags = st.one_of(st.binary(max_size=12), st.just(b"T" * MAX_TAG))
payloads = st.binary(max_size=40)


@st.composite
def replayRequests(draw: st.DrawFn) -> ReplayRequest:
    first = draw(positives)
    last = draw(st.one_of(st.just(first), st.integers(first, MAX_NUMBER)))
    return ReplayRequest(draw(numbers), draw(publishers), draw(tags), first, last)


latestRequests = st.builds(
    LatestRequest, numbers, publishers, st.lists(tags, max_size=6).map(tuple)
)
replayedMessages = st.builds(ReplayedMessage, numbers, tags, payloads, payloads)
replayEnds = st.builds(ReplayEnd, numbers, numbers)
latestReplies = st.builds(
    LatestReply,
    numbers,
    publishers,
    st.lists(st.tuples(tags, positives), max_size=6).map(tuple),
    numbers,
)
notMines = st.builds(NotMine, numbers, publishers)

requests: st.SearchStrategy[Request] = st.one_of(replayRequests(), latestRequests)
replies: st.SearchStrategy[Reply] = st.one_of(
    replayedMessages, replayEnds, latestReplies, notMines
)

Parser = Callable[[list[bytes]], "Request | Reply | None"]
PARSERS: list[Parser] = [parseRequest, parseReply]


def assertValidOrNone(frames: list[bytes]) -> None:
    """Both parsers answer None or a valid value that encodes back to exactly *frames*."""
    for parse in PARSERS:
        value = parse(frames)
        if value is not None:
            attrs.evolve(value)  # runs every constructor check: it is a valid value
            assert value.frames() == frames


# -- round trips -------------------------------------------------------------------------


@given(requests)
def test_requestsRoundTrip(request: Request) -> None:
    """frames() then parseRequest() is the same value; parseReply() refuses it."""
    frames = request.frames()
    assert all(type(frame) is bytes for frame in frames)
    assert parseRequest(frames) == request
    assert parseReply(frames) is None


@given(replies)
def test_repliesRoundTrip(reply: Reply) -> None:
    """frames() then parseReply() is the same value; parseRequest() refuses it."""
    frames = reply.frames()
    assert all(type(frame) is bytes for frame in frames)
    assert parseReply(frames) == reply
    assert parseRequest(frames) is None


def test_framesExactly() -> None:
    """Rules 1 and 2, byte for byte."""
    assert ReplayRequest(1, PUBLISHER, b"t", 2, 3).frames() == [
        b"\xa7tzR1", ONE, PUBLISHER, b"t", number(2), number(3)
    ]  # fmt: skip
    assert LatestRequest(1, PUBLISHER, (b"a", b"")).frames() == [
        b"\xa7tzL1", ONE, PUBLISHER, b"a", b""
    ]  # fmt: skip
    assert ReplayedMessage(1, b"t", b"b", b"h").frames() == [b"\xa7tzM1", ONE, b"t", b"b", b"h"]
    assert ReplayEnd(1, 0).frames() == [b"\xa7tzE1", ONE, bytes(8)]
    assert LatestReply(1, PUBLISHER, ((b"a", 5), (b"b", MAX_NUMBER)), 7).frames() == [
        b"\xa7tzT1", ONE, PUBLISHER, number(7), b"a", number(5), b"b", b"\xff" * 8
    ]  # fmt: skip
    assert NotMine(MAX_NUMBER, OTHER).frames() == [b"\xa7tzN1", b"\xff" * 8, OTHER]


# -- parse never raises ------------------------------------------------------------------


@st.composite
def nearlyValid(draw: st.DrawFn) -> list[bytes]:
    """Frames that start like a message (a kind, an 8-byte id) and go on at random."""
    rest = st.one_of(
        publishers, st.binary(min_size=8, max_size=8), st.binary(max_size=20), st.just(bytes(8))
    )
    return [
        draw(st.sampled_from([*KINDS, b"\xa7tzX1", b""])),
        draw(st.one_of(st.binary(min_size=8, max_size=8), st.binary(max_size=9))),
        *draw(st.lists(rest, max_size=8)),
    ]


@given(st.one_of(st.lists(st.binary(max_size=20), max_size=8), nearlyValid()))
@example([])
@example([b""])
@example([b"\xa7tzT1", ONE, PUBLISHER, b"tag"])
def test_parseNeverRaises(frames: list[bytes]) -> None:
    """Rule 6: any list of bytes is None or a valid value, never an exception."""
    assertValidOrNone(frames)


@st.composite
def mutated(draw: st.DrawFn) -> list[bytes]:
    """A valid message, then one mutation: flip a byte, drop or add a frame, truncate a number."""
    frames = draw(st.one_of(requests, replies)).frames()
    mutation = draw(st.sampled_from(["flip", "drop", "add", "truncate"]))
    if mutation == "flip":
        index = draw(st.sampled_from([i for i, frame in enumerate(frames) if frame]))
        frame = bytearray(frames[index])
        at = draw(st.integers(0, len(frame) - 1))
        frame[at] ^= draw(st.integers(1, 255))
        frames[index] = bytes(frame)
    elif mutation == "drop":
        del frames[draw(st.integers(0, len(frames) - 1))]
    elif mutation == "add":
        extra = draw(st.one_of(st.binary(max_size=20), publishers, st.just(ONE)))
        frames.insert(draw(st.integers(0, len(frames))), extra)
    else:
        index = draw(st.sampled_from([i for i, frame in enumerate(frames) if len(frame) == 8]))
        frames[index] = frames[index][: draw(st.integers(0, 7))]
    return frames


@given(mutated())
def test_mutatedMessagesAreNoneOrValid(frames: list[bytes]) -> None:
    """Rule 6 on near misses: a mutation yields None or a valid value, never an exception."""
    assertValidOrNone(frames)


# -- boundaries --------------------------------------------------------------------------


def request(*frames: bytes) -> Request | None:
    return parseRequest([*frames])


def test_replayRangeBounds() -> None:
    """Rule 3: 1 <= first <= last < 2**64, on both sides of the codec."""
    assert request(KINDS[0], ONE, PUBLISHER, b"t", number(MAX_NUMBER), number(MAX_NUMBER)) == (
        ReplayRequest(1, PUBLISHER, b"t", MAX_NUMBER, MAX_NUMBER)
    )
    assert request(KINDS[0], ONE, PUBLISHER, b"t", number(0), number(1)) is None
    assert request(KINDS[0], ONE, PUBLISHER, b"t", number(3), number(2)) is None
    with pytest.raises(ValueError, match=exactly("first must be >= 1, not 0 (int)")):
        ReplayRequest(1, PUBLISHER, b"t", 0, 1)
    with pytest.raises(ValueError, match=exactly("last must be >= 3, not 2 (int)")):
        ReplayRequest(1, PUBLISHER, b"t", 3, 2)
    with pytest.raises(
        ValueError, match=exactly(f"last must be <= {MAX_NUMBER}, not {2**64} (int)")
    ):
        ReplayRequest(1, PUBLISHER, b"t", 3, 2**64)


@pytest.mark.parametrize("size", [0, 15, 17])
def test_publisherIsSixteenBytes(size: int) -> None:
    """Rule 2: a publisher identity of any other length is malformed, and cannot be built."""
    wrong = b"p" * size
    assert request(KINDS[0], ONE, wrong, b"t", ONE, ONE) is None
    assert request(KINDS[1], ONE, wrong) is None
    assert parseReply([KINDS[4], ONE, wrong]) is None
    assert parseReply([KINDS[5], ONE, wrong]) is None
    with pytest.raises(
        ValueError, match=exactly(f"publisher must be 16 bytes, not {wrong!r} (bytes)")
    ):
        NotMine(1, wrong)


def test_numbersAreEightBytes() -> None:
    """Rule 2: a number frame of 7 or 9 bytes is malformed."""
    assert parseReply([KINDS[3], ONE, ONE]) == ReplayEnd(1, 1)
    assert parseReply([KINDS[3], ONE, ONE[1:]]) is None
    assert parseReply([KINDS[3], ONE, b"\0" + ONE]) is None
    assert parseReply([KINDS[3], ONE[1:], ONE]) is None
    with pytest.raises(
        ValueError, match=exactly(f"sent must be <= {MAX_NUMBER}, not {2**64} (int)")
    ):
        ReplayEnd(1, 2**64)


def test_tagBound() -> None:
    """Rule 4: a tag or prefix of MAX_TAG bytes is fine; one byte more is malformed."""
    longest, tooLong = b"T" * MAX_TAG, b"T" * (MAX_TAG + 1)
    assert parseReply([KINDS[2], ONE, longest, b"", b""]) == ReplayedMessage(1, longest, b"", b"")
    assert parseReply([KINDS[2], ONE, tooLong, b"", b""]) is None
    assert request(KINDS[1], ONE, PUBLISHER, b"", tooLong) is None
    assert request(KINDS[0], ONE, PUBLISHER, tooLong, ONE, ONE) is None
    assert parseReply([KINDS[4], ONE, PUBLISHER, tooLong, ONE]) is None
    message = f"tag must be at most {MAX_TAG} bytes, not {MAX_TAG + 1} bytes"
    with pytest.raises(ValueError, match=exactly(message)):
        ReplayedMessage(1, tooLong, b"", b"")
    message = f"prefixes[1] must be at most {MAX_TAG} bytes, not {MAX_TAG + 1} bytes"
    with pytest.raises(ValueError, match=exactly(message)):
        LatestRequest(1, PUBLISHER, (b"", tooLong))


def test_prefixCountBound() -> None:
    """Rule 4: at most MAX_PREFIXES prefixes; none at all is a valid (empty) question."""
    most = (b"p",) * MAX_PREFIXES
    assert request(KINDS[1], ONE, PUBLISHER, *most) == LatestRequest(1, PUBLISHER, most)
    assert request(KINDS[1], ONE, PUBLISHER, *most, b"p") is None
    assert request(KINDS[1], ONE, PUBLISHER) == LatestRequest(1, PUBLISHER, ())
    message = f"prefixes must list at most {MAX_PREFIXES}, not {MAX_PREFIXES + 1}"
    with pytest.raises(ValueError, match=exactly(message)):
        LatestRequest(1, PUBLISHER, (*most, b"p"))


def test_latestReplyBounds() -> None:
    """Rule 4 and 3: at most MAX_LATEST pairs, whole pairs only, numbers >= 1."""
    most = [b"t", ONE] * MAX_LATEST
    reply = parseReply([KINDS[4], ONE, PUBLISHER, ONE, *most])
    assert isinstance(reply, LatestReply)
    assert len(reply.latest) == MAX_LATEST
    assert reply.sentAt == 1
    assert parseReply([KINDS[4], ONE, PUBLISHER, ONE, *most, b"t", ONE]) is None
    assert parseReply([KINDS[4], ONE, PUBLISHER, ONE, b"t"]) is None
    assert parseReply([KINDS[4], ONE, PUBLISHER, ONE, b"t", bytes(8)]) is None
    assert parseReply([KINDS[4], ONE, PUBLISHER, ONE]) == LatestReply(1, PUBLISHER, ())
    assert parseReply([KINDS[4], ONE, PUBLISHER]) is None  # no sentAt
    assert parseReply([KINDS[4], ONE, PUBLISHER, b"short"]) is None
    with pytest.raises(ValueError, match=exactly("latest[0][1] must be >= 1, not 0 (int)")):
        LatestReply(1, PUBLISHER, ((b"t", 0),))
    message = f"latest must list at most {MAX_LATEST}, not {MAX_LATEST + 1}"
    with pytest.raises(ValueError, match=exactly(message)):
        LatestReply(1, PUBLISHER, ((b"t", 1),) * (MAX_LATEST + 1))


def test_wrongFrameCounts() -> None:
    """Each kind has its frame count; one more or one fewer is malformed."""
    assert parseReply([KINDS[2], ONE, b"t", b"b"]) is None
    assert parseReply([KINDS[2], ONE, b"t", b"b", b"h", b""]) is None
    assert parseReply([KINDS[3], ONE, ONE, b""]) is None
    assert parseReply([KINDS[5], ONE, PUBLISHER, b""]) is None
    assert request(KINDS[0], ONE, PUBLISHER, b"t", ONE) is None
    assert request(KINDS[0], ONE, PUBLISHER, b"t", ONE, ONE, ONE) is None
    assert parseReply([]) is None
    assert parseReply([KINDS[3], ONE]) is None
    assert request(b"\xa7tzX1", ONE, PUBLISHER) is None
    assert parseReply([b"\xa7tzX1", ONE, PUBLISHER]) is None


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: ReplayEnd(-1, 0), ValueError, "requestId must be >= 0, not -1 (int)"),
        (lambda: ReplayEnd(True, 0), TypeError, "requestId must be an int, not True (bool)"),
        (lambda: ReplayEnd(2**64, 0), ValueError, f"requestId must be <= {MAX_NUMBER}, not 2**64"),
        (lambda: NotMine(0, "p" * 16), TypeError, f"publisher must be 16 bytes, not {'p' * 16!r} (str)"),  # type: ignore[arg-type]
        (lambda: ReplayedMessage(0, b"t", "b", b""), TypeError, "body must be bytes, not 'b' (str)"),  # type: ignore[arg-type]
        (lambda: ReplayedMessage(0, b"t", b"", None), TypeError, "header must be bytes, not None (NoneType)"),  # type: ignore[arg-type]
        (lambda: ReplayedMessage(0, "t", b"", b""), TypeError, f"tag must be bytes of at most {MAX_TAG} bytes, not 't' (str)"),  # type: ignore[arg-type]
        (lambda: LatestRequest(0, PUBLISHER, [b"a"]), TypeError, "prefixes must be a tuple of bytes, not [b'a'] (list)"),  # type: ignore[arg-type]
        (lambda: LatestReply(0, PUBLISHER, ((b"a",),)), TypeError, "latest[0] must be a (bytes, int) pair, not (b'a',) (tuple)"),  # type: ignore[arg-type]
        (lambda: LatestReply(0, PUBLISHER, [(b"a", 1)]), TypeError, "latest must be a tuple of (bytes, int) pairs, not [(b'a', 1)] (list)"),  # type: ignore[arg-type]
    ],
)  # fmt: skip
def test_constructorsCheck(
    build: Callable[[], object], error: type[Exception], message: str
) -> None:
    """Rule 5: a bad field cannot be built, so it cannot be encoded."""
    message = message.replace("2**64", f"{2**64} (int)")
    with pytest.raises(error, match=exactly(message)):
        build()


def test_parsedValuesAreFrozen() -> None:
    """Values built by parse without their checks are still frozen, hashable values."""
    values = [
        parseReply(ReplayedMessage(1, b"t", b"b", b"h").frames()),
        parseReply(LatestReply(1, PUBLISHER, ((b"t", 1),)).frames()),
    ]
    for value in values:
        assert value is not None
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            value.requestId = 2  # type: ignore[misc]
        assert hash(value) == hash(attrs.evolve(value))
