# -*- test-case-name: tests.core.test_curve -*-
"""
CURVE keys as text: Z85 (ZeroMQ's RFC 32) and ZeroMQ's certificate files.

Pure functions, so a malformed key or certificate gets a precise error before
any socket sees it. Certificates are the ZPL files that pyzmq's
``zmq.auth.create_certificates`` and czmq's ``zcert`` write: a public one
(``NAME.key``) to hand out, a secret one (``NAME.key_secret``) to keep.
Error messages describe the problem and never quote a key.
"""

from __future__ import annotations

import hashlib

from .._errors import SecurityError

__all__ = [
    "KEY_BYTES",
    "Z85_KEY_LENGTH",
    "checkKey",
    "fingerprint",
    "formatCertificate",
    "parseCertificate",
    "z85Decode",
    "z85Encode",
]

_ALPHABET = (
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
)
_VALUES = {symbol: value for value, symbol in enumerate(_ALPHABET)}
#: A CURVE key is 32 bytes; as Z85 text, 40 characters.
KEY_BYTES = 32
Z85_KEY_LENGTH = 40


def z85Encode(data: bytes) -> bytes:
    """Z85 text of *data*, whose length must be a multiple of 4."""
    if len(data) % 4:
        msg = f"Z85 encodes multiples of 4 bytes, not {len(data)}"
        raise ValueError(msg)
    out = bytearray()
    for start in range(0, len(data), 4):
        value = int.from_bytes(data[start : start + 4], "big")
        chunk = bytearray(5)
        for index in range(4, -1, -1):
            value, digit = divmod(value, 85)
            chunk[index] = _ALPHABET[digit]
        out += chunk
    return bytes(out)


def z85Decode(text: bytes) -> bytes:
    """The bytes of Z85 *text*; ValueError if it is not Z85."""
    if len(text) % 5:
        msg = f"Z85 text comes in groups of 5 characters, not {len(text)}"
        raise ValueError(msg)
    out = bytearray()
    for start in range(0, len(text), 5):
        value = 0
        for symbol in text[start : start + 5]:
            digit = _VALUES.get(symbol)
            if digit is None:
                msg = f"{bytes([symbol])!r} is not a Z85 character"
                raise ValueError(msg)
            value = value * 85 + digit
        if value >= 1 << 32:
            msg = "a Z85 group encodes more than 32 bits"
            raise ValueError(msg)
        out += value.to_bytes(4, "big")
    return bytes(out)


def checkKey(key: bytes | str, what: str = "key") -> bytes:
    """
    *key* as 40 characters of Z85, given as Z85 (bytes or str) or as 32 raw bytes.

    Raises SecurityError, naming *what*, otherwise (without quoting the key).
    """
    if isinstance(key, str):
        try:
            key = key.encode("ascii")
        except UnicodeEncodeError:
            msg = f"{what} must be Z85 text (40 characters), but it has non-ASCII characters"
            raise SecurityError(msg) from None
    if type(key) is not bytes:
        msg = f"{what} must be bytes or str, not {type(key).__name__}"
        raise SecurityError(msg)
    if len(key) == KEY_BYTES:
        return z85Encode(key)
    if len(key) != Z85_KEY_LENGTH:
        msg = (
            f"{what} must be 40 characters of Z85 (or 32 raw bytes), not {len(key)} "
            "bytes; make a key pair with `txzpub keygen NAME`"
        )
        raise SecurityError(msg)
    try:
        z85Decode(key)
    except ValueError as error:
        msg = f"{what} is not valid Z85 ({error})"
        raise SecurityError(msg) from None
    return key


def fingerprint(publicKey: bytes) -> str:
    """A short, stable name for a public key, for logs: its key never appears there."""
    return hashlib.sha256(checkKey(publicKey, "public key")).hexdigest()[:12]


_PUBLIC_HEADER = """\
#   ****  Generated on {generated} by txzpub  ****
#   ZeroMQ CURVE Public Certificate
#   Exchange securely, or use a secure mechanism to verify the contents
#   of this file after exchange. Store public certificates in your home
#   directory, in the .curve subdirectory.
"""

_PRIVATE_HEADER = """\
#   ****  Generated on {generated} by txzpub  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.
"""


def _quoted(value: str) -> str:
    if any(symbol in value for symbol in '"\n\r'):
        msg = "certificate metadata may not contain quotes or line breaks"
        raise ValueError(msg)
    return f'"{value}"'


def formatCertificate(
    publicKey: bytes,
    secretKey: bytes | None = None,
    metadata: dict[str, str] | None = None,
    generated: str = "",
) -> str:
    """
    A certificate's text: the secret one when *secretKey* is given, else the public one.

    The layout is the one pyzmq and czmq read (ZPL, four-space indents).
    """
    public = checkKey(publicKey, "public key").decode()
    header = _PRIVATE_HEADER if secretKey is not None else _PUBLIC_HEADER
    lines = [header.format(generated=generated or "an unknown date"), "metadata"]
    for name, value in (metadata or {}).items():
        if not name.replace("-", "").replace("_", "").isalnum():
            msg = f"certificate metadata names are letters, digits, - and _, not {name!r}"
            raise ValueError(msg)
        lines.append(f"    {name} = {_quoted(value)}")
    lines += ["curve", f'    public-key = "{public}"']
    if secretKey is not None:
        secret = checkKey(secretKey, "secret key").decode()
        lines.append(f'    secret-key = "{secret}"')
    return "\n".join(lines) + "\n"


def parseCertificate(text: str, source: str = "the certificate") -> tuple[bytes, bytes | None]:
    """
    (public key, secret key or None) from a certificate's text, as Z85.

    Reads the ``curve`` section's ``public-key`` and ``secret-key``; raises
    SecurityError, naming *source*, when the text is not such a certificate.
    """
    keys: dict[str, bytes] = {}
    section = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        # Comments are whole lines: '#' is also a Z85 character.
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            section = line.strip()
            continue
        name, equals, value = line.strip().partition("=")
        name = name.strip()
        if section != "curve" or name not in {"public-key", "secret-key"}:
            continue
        value = value.strip()
        if not equals or len(value) < 2 or value[0] != value[-1] or value[0] not in "\"'":
            msg = f'{source}, line {number}: write {name} = "40 characters of Z85"'
            raise SecurityError(msg)
        keys[name] = checkKey(value[1:-1], f"{source}'s {name}")
    if "public-key" not in keys:
        msg = (
            f"{source} is not a ZeroMQ CURVE certificate (no public-key in a curve "
            "section); make one with `txzpub keygen NAME`"
        )
        raise SecurityError(msg)
    return keys["public-key"], keys.get("secret-key")
