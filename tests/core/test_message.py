"""Message, the received value, and asBytes, the one place str/bytes coercion happens."""

from __future__ import annotations

import re

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from txzpub._core._message import Message, asBytes, trustedMessage

from ..strategies import bodies, frames, topics

extras = st.lists(frames(), max_size=3).map(tuple)


def exactly(text: str) -> str:
    """A pytest.raises(match=...) pattern that pins the whole message."""
    return f"^{re.escape(text)}$"


def test_fields() -> None:
    """A Message is its tag and body; extra defaults to empty (both framings produce none)."""
    message = Message(b"news", b"hi")
    assert (message.tag, message.body, message.extra) == (b"news", b"hi", ())


def test_keywords() -> None:
    message = Message(tag=b"t", body=b"b", extra=(b"x", b"y"))
    assert message.extra == (b"x", b"y")


def test_frozen() -> None:
    """A Message is a value: handlers sharing it cannot change it under each other."""
    message = Message(b"t", b"b")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        message.tag = b"other"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del message.body  # type: ignore[misc]


def test_valueEquality() -> None:
    """Equal fields mean equal, equally hashed Messages, usable as dict keys and in sets."""
    assert Message(b"t", b"b") == Message(b"t", b"b")
    assert hash(Message(b"t", b"b", (b"x",))) == hash(Message(b"t", b"b", (b"x",)))
    assert Message(b"t", b"b") != Message(b"t", b"b", (b"",))
    assert Message(b"t", b"b") != Message(b"b", b"t")
    assert len({Message(b"t", b"b"), Message(b"t", b"b")}) == 1


def test_repr() -> None:
    assert repr(Message(b"t", b"b")) == "Message(tag=b't', body=b'b', extra=())"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tag": 3, "body": b""}, "tag must be bytes, not 3 (int)"),
        ({"tag": "news", "body": b""}, "tag must be bytes, not 'news' (str)"),
        ({"tag": None, "body": b""}, "tag must be bytes, not None (NoneType)"),
        (
            {"tag": bytearray(b"x"), "body": b""},
            "tag must be bytes, not bytearray(b'x') (bytearray)",
        ),
        ({"tag": b"", "body": 1.5}, "body must be bytes, not 1.5 (float)"),
        ({"tag": b"", "body": "hi"}, "body must be bytes, not 'hi' (str)"),
        (
            {"tag": b"", "body": b"", "extra": [b"x"]},
            "extra must be a tuple of bytes, not [b'x'] (list)",
        ),
        (
            {"tag": b"", "body": b"", "extra": (b"x", "y")},
            "extra must be a tuple of bytes, not (b'x', 'y') (tuple)",
        ),
        (
            {"tag": b"", "body": b"", "extra": None},
            "extra must be a tuple of bytes, not None (NoneType)",
        ),
    ],
)
def test_validators(kwargs: dict[str, object], message: str) -> None:
    """A Message built by hand is checked strictly, and the error says which field and why."""
    with pytest.raises(TypeError, match=exactly(message)):
        Message(**kwargs)  # type: ignore[arg-type]


def test_validatorsRejectSubclasses() -> None:
    """Only exact bytes: a bytes subclass could carry behaviour a value must not have."""

    class Tagged(bytes):
        pass

    with pytest.raises(TypeError, match=r"^tag must be bytes, not b'x' \(Tagged\)$"):
        Message(Tagged(b"x"), b"")


@given(topics(), bodies(), extras)
def test_trustedMessageEqualsMessage(tag: bytes, body: bytes, extra: tuple[bytes, ...]) -> None:
    """The reader's unvalidated fast path builds exactly what the validated constructor does."""
    trusted = trustedMessage(tag, body, extra)
    built = Message(tag, body, extra)
    assert type(trusted) is Message
    assert trusted == built
    assert hash(trusted) == hash(built)
    assert repr(trusted) == repr(built)


def test_trustedMessageDefaultExtra() -> None:
    assert trustedMessage(b"t", b"b") == Message(b"t", b"b")


def test_trustedMessageFrozen() -> None:
    """Skipping validation does not skip immutability."""
    message = trustedMessage(b"t", b"b")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        message.body = b"other"  # type: ignore[misc]


@given(st.binary())
def test_asBytesBytes(value: bytes) -> None:
    """bytes pass through untouched: no copy on the hot path."""
    assert asBytes(value, "tag") is value


@given(st.text())
def test_asBytesStr(value: str) -> None:
    """str is encoded as UTF-8, as txZMQ did."""
    result = asBytes(value, "tag")
    assert type(result) is bytes
    assert result == value.encode("utf-8")


@pytest.mark.parametrize(
    "value",
    [bytearray(b"a\0b"), memoryview(b"a\0b"), memoryview(b"xa\0bx")[1:4]],
    ids=["bytearray", "memoryview", "memoryview-slice"],
)
def test_asBytesBytesLike(value: object) -> None:
    """Bytes-like values become real bytes (immutable, hashable), same content."""
    result = asBytes(value, "body")
    assert type(result) is bytes
    assert result == b"a\0b"


def test_asBytesBytesSubclass() -> None:
    """A bytes subclass is normalised to plain bytes, which Message's validator requires."""

    class Tagged(bytes):
        pass

    result = asBytes(Tagged(b"x"), "tag")
    assert type(result) is bytes
    assert result == b"x"


def test_asBytesStrSubclass() -> None:
    class Name(str):
        __slots__ = ()

    assert asBytes(Name("caf\u00e9"), "tag") == b"caf\xc3\xa9"


@pytest.mark.parametrize(
    ("value", "argName", "message"),
    [
        (123, "tag", "tag must be bytes or str, not 123 (int)"),
        (None, "message", "message must be bytes or str, not None (NoneType)"),
        ([b"x"], "body", "body must be bytes or str, not [b'x'] (list)"),
        (1.5, "topic", "topic must be bytes or str, not 1.5 (float)"),
        (Message(b"t", b"b"), "tag", None),
    ],
)
def test_asBytesRejects(value: object, argName: str, message: str | None) -> None:
    """Anything else fails at once, naming the argument, instead of deep inside pyzmq."""
    if message is None:
        message = f"{argName} must be bytes or str, not {value!r} (Message)"
    with pytest.raises(TypeError, match=exactly(message)):
        asBytes(value, argName)


def test_asBytesUnencodableStr() -> None:
    """A str UTF-8 cannot encode (a lone surrogate) fails loudly rather than being mangled."""
    with pytest.raises(UnicodeEncodeError):
        asBytes("\ud800", "tag")


def test_fastConstructorsMakeCompleteValues() -> None:
    """The reader's constructors leave default slots unset; the values are whole anyway."""
    import copy
    import pickle

    from txzpub._core._message import stampedMessage

    plain = trustedMessage(b"t", b"b")
    stamped = stampedMessage(b"t", b"b", 3, b"p" * 16)
    assert (plain.extra, plain.sequence, plain.publisher) == ((), None, None)
    assert (stamped.extra, stamped.sequence, stamped.publisher) == ((), 3, b"p" * 16)
    assert plain == stamped == Message(b"t", b"b")
    assert hash(plain) == hash(stamped) == hash(Message(b"t", b"b"))
    for message in (plain, stamped):
        again = pickle.loads(pickle.dumps(message))  # noqa: S301 - our own value
        assert (again, again.sequence) == (message, message.sequence)
        assert copy.deepcopy(message).publisher == message.publisher
        assert attrs.evolve(message, body=b"x").sequence == message.sequence
    with pytest.raises(AttributeError):
        plain.bodyy  # type: ignore[attr-defined]  # noqa: B018
