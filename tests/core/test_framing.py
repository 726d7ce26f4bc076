"""Wire framing: encodeMessage and decodeFrames, checked against the module's table."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from txzpub._core._framing import DEFAULT_SEPARATOR, decodeFrames, encodeMessage
from txzpub._core._message import Message

from ..strategies import (
    bodies,
    borderFreeSeparators,
    frameLists,
    frames,
    separators,
    tags,
    topics,
)


def test_defaultSeparator() -> None:
    """txZMQ's separator: changing it would break interop with every txZMQ peer."""
    assert DEFAULT_SEPARATOR == b"\0"


def test_encodeOneFrame() -> None:
    """The default is txZMQ's wire format: one frame, tag + NUL + body."""
    assert encodeMessage(b"news", b"hi") == [b"news\0hi"]


def test_encodeMultipart() -> None:
    assert encodeMessage(b"news", b"hi", multipart=True) == [b"news", b"hi"]


def test_encodeEmpty() -> None:
    assert encodeMessage(b"", b"") == [b"\0"]
    assert encodeMessage(b"", b"", multipart=True) == [b"", b""]


@given(tags(), bodies())
@example(b"", b"")
@example(b"news", b"\0\0body with\0separators\0")
def test_roundTripOneFrame(tag: bytes, body: bytes) -> None:
    """Any separator-free tag survives one-frame framing, whatever the body holds."""
    frames = encodeMessage(tag, body)
    assert len(frames) == 1
    assert decodeFrames(frames) == Message(tag, body)


@given(topics(), bodies())
@example(b"a\0b", b"")
def test_roundTripMultipart(tag: bytes, body: bytes) -> None:
    """Two-frame framing carries any tag, the separator included."""
    assert decodeFrames(encodeMessage(tag, body, multipart=True)) == Message(tag, body)


def separatedMessages(
    separatorStrategy: st.SearchStrategy[bytes],
) -> st.SearchStrategy[tuple[bytes, bytes, bytes]]:
    """(separator, tag, body) with a tag that does not contain that separator."""
    return separatorStrategy.flatmap(
        lambda separator: st.tuples(st.just(separator), tags(separator), bodies())
    )


@given(separatedMessages(separators()))
def test_roundTripCustomSeparator(case: tuple[bytes, bytes, bytes]) -> None:
    """Any one-byte separator works, as long as encoder and decoder agree on it."""
    separator, tag, body = case
    frames = encodeMessage(tag, body, separator=separator)
    assert frames == [tag + separator + body]
    assert decodeFrames(frames, separator) == Message(tag, body)


@given(separatedMessages(borderFreeSeparators()))
@example((b"\0\1", b"a\0", b"\1b"))
@example((b"<|>", b"x<|", b">y"))
def test_roundTripMultiByteSeparator(case: tuple[bytes, bytes, bytes]) -> None:
    """A multi-byte separator with no prefix equal to a suffix accepts every tag without it."""
    separator, tag, body = case
    frames = encodeMessage(tag, body, separator=separator)
    assert decodeFrames(frames, separator) == Message(tag, body)


@pytest.mark.parametrize(
    ("tag", "separator"),
    [(b"a:", b"::"), (b"x\0", b"\0\0"), (b"ab", b"aba"), (b"xab:", b"ab:ab")],
)
def test_encodeRefusesTagOverlappingSeparator(tag: bytes, separator: bytes) -> None:
    """
    With a self-overlapping separator, a tag ending in part of it (b"a:" with b"::")
    would decode with the separator found inside the tag; encoding must refuse it.
    """
    with pytest.raises(ValueError, match="multipartFraming=True"):
        encodeMessage(tag, b"hi", separator=separator)


@given(
    st.binary(min_size=1, max_size=3) | st.sampled_from([b"::", b"\0\0", b"aba", b"abab"]),
    topics(),
    bodies(),
)
def test_encodeNeverLossy(separator: bytes, tag: bytes, body: bytes) -> None:
    """
    For any separator, one-frame encoding refuses exactly the tags that naive
    tag + separator + body framing would not give back, and round-trips the rest.
    """
    lossy = decodeFrames([tag + separator + body], separator) != Message(tag, body)
    if lossy:
        with pytest.raises(ValueError, match="multipartFraming=True"):
            encodeMessage(tag, body, separator=separator)
    else:
        frames = encodeMessage(tag, body, separator=separator)
        assert frames == [tag + separator + body]
        assert decodeFrames(frames, separator) == Message(tag, body)


@pytest.mark.parametrize(
    ("tag", "separator"),
    [(b"a\0b", b"\0"), (b"\0", b"\0"), (b"trailing\0", b"\0"), (b"a|b", b"|"), (b"x::y", b"::")],
)
def test_encodeRefusesSeparatorInTag(tag: bytes, separator: bytes) -> None:
    """Such a tag cannot round-trip one frame; the error points at multipartFraming=True."""
    with pytest.raises(ValueError, match="multipart") as caught:
        encodeMessage(tag, b"body", separator=separator)
    assert repr(tag) in str(caught.value)
    assert repr(separator) in str(caught.value)


@given(topics().filter(lambda tag: DEFAULT_SEPARATOR in tag), bodies())
def test_encodeRefusesAnySeparatorTag(tag: bytes, body: bytes) -> None:
    with pytest.raises(ValueError, match="multipartFraming=True"):
        encodeMessage(tag, body)


def test_multipartIgnoresSeparator() -> None:
    """With two frames the separator plays no part, so a tag holding it is fine."""
    assert encodeMessage(b"a\0b", b"c", multipart=True) == [b"a\0b", b"c"]
    assert encodeMessage(b"a|b", b"c", separator=b"|", multipart=True) == [b"a|b", b"c"]


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        ([b"news\0hi"], Message(b"news", b"hi")),
        ([b"news\0hi\0there"], Message(b"news", b"hi\0there")),
        ([b"\0hi"], Message(b"", b"hi")),
        ([b"news\0"], Message(b"news", b"")),
        ([b"\0"], Message(b"", b"")),
        ([b"no separator"], Message(b"", b"no separator")),
        ([b""], Message(b"", b"")),
        ([b"news", b"hi"], Message(b"news", b"hi")),
        ([b"a\0b", b"c\0d"], Message(b"a\0b", b"c\0d")),
        ([b"", b""], Message(b"", b"")),
        ([b"t", b"b", b"f3"], Message(b"t", b"b", (b"f3",))),
        ([b"t", b"b", b"f3", b"", b"f5"], Message(b"t", b"b", (b"f3", b"", b"f5"))),
        ([], Message(b"", b"")),
    ],
    ids=[
        "one-frame",
        "first-separator-wins",
        "empty-tag",
        "empty-body",
        "separator-only",
        "no-separator",
        "empty-frame",
        "two-frames",
        "two-frames-with-separators",
        "two-empty-frames",
        "three-frames",
        "five-frames",
        "no-frames",
    ],
)
def test_decodeTable(frames: list[bytes], expected: Message) -> None:
    """Every row of the module comment's table, and the edges between them."""
    assert decodeFrames(frames) == expected


@pytest.mark.parametrize(
    ("frames", "separator", "expected"),
    [
        ([b"news|hi"], b"|", Message(b"news", b"hi")),
        ([b"news\0hi"], b"|", Message(b"", b"news\0hi")),
        ([b"news::hi::x"], b"::", Message(b"news", b"hi::x")),
        ([b"news", b"hi"], b"|", Message(b"news", b"hi")),
    ],
)
def test_decodeCustomSeparator(frames: list[bytes], separator: bytes, expected: Message) -> None:
    """The separator only matters for one-frame messages, and only the given one counts."""
    assert decodeFrames(frames, separator) == expected


def test_decodeAcceptsTuple() -> None:
    """Any sequence of frames is accepted; extra is always a tuple."""
    assert decodeFrames((b"t", b"b", b"x")) == Message(b"t", b"b", (b"x",))


@given(frameLists())
def test_decodeNeverRaises(frames: list[bytes]) -> None:
    """Whatever a peer sends, decoding yields a valid Message (bytes fields, tuple extra)."""
    message = decodeFrames(frames)
    assert type(message.tag) is bytes
    assert type(message.body) is bytes
    assert type(message.extra) is tuple
    assert all(type(frame) is bytes for frame in message.extra)
    # It is also exactly what the validating constructor accepts.
    assert Message(message.tag, message.body, message.extra) == message


@given(frameLists())
def test_decodeLosesNothing(frames: list[bytes]) -> None:
    """The message carries every frame a multipart peer sent; extra only for 3+ frames."""
    message = decodeFrames(frames)
    if len(frames) >= 2:
        assert [message.tag, message.body, *message.extra] == frames
    else:
        assert message.extra == ()


@given(frames(), separators())
def test_decodeOneFrameLosesNothing(frame: bytes, separator: bytes) -> None:
    """A single frame is split at its first separator and can be put back together."""
    message = decodeFrames([frame], separator)
    if separator in frame:
        assert message.tag + separator + message.body == frame
        assert separator not in message.tag
    else:
        assert message == Message(b"", frame)
