# -*- test-case-name: tests.core.test_message -*-
"""
The Message value and the one place str/bytes coercion happens.

txZMQ accepted str and encoded it as UTF-8; we keep that, and reject anything
else with a TypeError that names the argument, so ``publish(123)`` says what
is wrong instead of failing deep inside pyzmq.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from ._checks import wrongType

__all__ = ["Message", "asBytes", "stampedMessage", "trustedMessage"]


def asBytes(value: object, argName: str) -> bytes:
    """Return *value* as bytes: bytes as is, str as UTF-8; anything else is a TypeError."""
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise wrongType(argName, "bytes or str", value)


def _bytesField(instance: object, attribute: attrs.Attribute[bytes], value: object) -> None:
    if type(value) is not bytes:
        raise wrongType(attribute.name, "bytes", value)


def _framesField(
    instance: object, attribute: attrs.Attribute[tuple[bytes, ...]], value: object
) -> None:
    if type(value) is not tuple or any(type(frame) is not bytes for frame in value):
        raise wrongType(attribute.name, "a tuple of bytes", value)


def _sequenceField(
    instance: object, attribute: attrs.Attribute[int | None], value: object
) -> None:
    if value is not None and (type(value) is not int or value < 1):
        raise wrongType(attribute.name, "an int >= 1 or None", value)


def _publisherField(
    instance: object, attribute: attrs.Attribute[bytes | None], value: object
) -> None:
    if value is not None and type(value) is not bytes:
        raise wrongType(attribute.name, "bytes or None", value)


@attrs.frozen(repr=False)
class Message:
    """
    One received publication: its topic *tag* and its *body*.

    *extra* holds the frames after the body of a message that arrived with three
    or more frames, so nothing a peer sent is ever dropped; it is empty for both
    of the framings txzpub and txZMQ publish.

    A message from a sequenced publisher also carries its *sequence* number
    (per tag, from 1) and its *publisher* identity; both are None otherwise,
    and neither takes part in equality or hashing: a sequenced message equals
    ``Message(tag, body)``.

    .. versionadded:: 0.1.0
    """

    tag: bytes = attrs.field(validator=_bytesField)
    body: bytes = attrs.field(validator=_bytesField)
    extra: tuple[bytes, ...] = attrs.field(default=(), validator=_framesField)
    sequence: int | None = attrs.field(default=None, eq=False, validator=_sequenceField)
    publisher: bytes | None = attrs.field(default=None, eq=False, validator=_publisherField)

    if not TYPE_CHECKING:  # so type checkers still catch misspelt attributes

        def __getattr__(self, name: str) -> Any:
            # The fast constructors below leave slots at their defaults unset (a
            # store fewer per field, per message): an unset slot reads as its default.
            try:
                return _UNSET_DEFAULTS[name]
            except KeyError:
                raise AttributeError(name) from None

    def __repr__(self) -> str:
        text = f"Message(tag={self.tag!r}, body={self.body!r}, extra={self.extra!r}"
        if self.sequence is not None:
            text += f", sequence={self.sequence!r}, publisher={self.publisher!r}"
        return text + ")"


#: What an unset slot of a Message reads as (see Message.__getattr__).
_UNSET_DEFAULTS: dict[str, Any] = {"extra": (), "sequence": None, "publisher": None}

_newMessage = object.__new__
# The slots' own descriptors: setting through them skips the frozen class's
# __setattr__ and the attribute-name lookup.
_setTag = Message.__dict__["tag"].__set__
_setBody = Message.__dict__["body"].__set__
_setExtra = Message.__dict__["extra"].__set__
_setSequence = Message.__dict__["sequence"].__set__
_setPublisher = Message.__dict__["publisher"].__set__


def trustedMessage(tag: bytes, body: bytes, extra: tuple[bytes, ...] = ()) -> Message:
    """
    Build a Message from frames that are already bytes, skipping validation.

    The reader builds one Message per received message; pyzmq guarantees bytes,
    so validating again would only cost time on the hot path (half of it).
    """
    message: Message = _newMessage(Message)
    _setTag(message, tag)
    _setBody(message, body)
    if extra:
        _setExtra(message, extra)
    return message


def stampedMessage(tag: bytes, body: bytes, sequence: int, publisher: bytes) -> Message:
    """trustedMessage() for a sequenced message: with its number and publisher."""
    message: Message = _newMessage(Message)
    _setTag(message, tag)
    _setBody(message, body)
    _setSequence(message, sequence)
    _setPublisher(message, publisher)
    return message
