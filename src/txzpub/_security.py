# -*- test-case-name: tests.test_security -*-
"""
CURVE security settings for a connection: key pairs, and the server and
client roles.

These are values (frozen attrs classes): a connection reads one in its
constructor, before any endpoint is attached, as libzmq requires. A secret
key never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import attrs
import zmq

from ._core._curve import checkKey, fingerprint, formatCertificate, parseCertificate
from ._core._zap import AccessPolicy, listOfKeys
from ._errors import SecurityError

__all__ = [
    "CurveClient",
    "CurveKeyPair",
    "CurveServer",
    "Security",
    "loadPublicKey",
    "readCertificate",
    "requireCurve",
]


def requireCurve() -> None:
    """Raise SecurityError unless this libzmq can do CURVE."""
    if not zmq.has("curve"):
        msg = (
            f"this libzmq ({zmq.zmq_version()}) was built without CURVE; install a pyzmq "
            "wheel (they bundle libzmq with libsodium/tweetnacl) or rebuild libzmq with it"
        )
        raise SecurityError(msg)


def _publicKey(key: bytes | str) -> bytes:
    return checkKey(key, "publicKey")


def _secretKey(key: bytes | str) -> bytes:
    return checkKey(key, "secretKey")


def _serverKey(key: bytes | str) -> bytes:
    return checkKey(key, "serverKey")


def _readText(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not a text file"
        msg = f"cannot read the certificate {os.fspath(path)!r}: {reason}"
        raise SecurityError(msg) from None


def readCertificate(path: str | os.PathLike[str]) -> tuple[bytes, bytes | None]:
    """(public key, secret key or None) of a certificate file, as Z85."""
    return parseCertificate(_readText(path), repr(os.fspath(path)))


def loadPublicKey(path: str | os.PathLike[str]) -> bytes:
    """
    The public key (Z85) in a certificate file, public or secret.

    .. versionadded:: 0.1.0
    """
    public, _ = readCertificate(path)
    return public


@attrs.frozen
class CurveKeyPair:
    """
    A CURVE key pair, as Z85. The secret key is left out of the repr.

    .. versionadded:: 0.1.0
    """

    publicKey: bytes = attrs.field(converter=_publicKey)
    secretKey: bytes = attrs.field(converter=_secretKey, repr=False)

    def __attrs_post_init__(self) -> None:
        requireCurve()
        if zmq.curve_public(self.secretKey) != self.publicKey:
            msg = "publicKey and secretKey are not a pair (the public key does not match)"
            raise SecurityError(msg)

    def __repr__(self) -> str:
        return f"CurveKeyPair(publicKey fingerprint {fingerprint(self.publicKey)})"

    @classmethod
    def generate(cls) -> CurveKeyPair:
        """A new random key pair."""
        requireCurve()
        public, secret = zmq.curve_keypair()
        return cls(public, secret)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CurveKeyPair:
        """The key pair in a secret certificate (``NAME.key_secret``)."""
        public, secret = readCertificate(path)
        if secret is None:
            where = repr(os.fspath(path))
            msg = (
                f"{where} is a public certificate; this side needs its secret one "
                "(NAME.key_secret, made by `txzpub keygen NAME`)"
            )
            raise SecurityError(msg)
        return cls(public, secret)

    def save(self, directory: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
        """
        Write ``NAME.key`` (public) and ``NAME.key_secret`` (secret, mode 0600)
        in *directory*, in ZeroMQ's certificate format; refuses to overwrite.
        """
        if not name or "/" in name or name.startswith("."):
            msg = f"a key name is a plain file name, not {name!r}"
            raise ValueError(msg)
        base = Path(directory)
        public, secret = base / f"{name}.key", base / f"{name}.key_secret"
        generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        for path in (public, secret):
            if path.exists():
                msg = f"{os.fspath(path)!r} exists; remove it or choose another name"
                raise FileExistsError(msg)
        public.write_text(formatCertificate(self.publicKey, generated=generated))
        descriptor = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(formatCertificate(self.publicKey, self.secretKey, generated=generated))
        return public, secret


def _keyPair(value: CurveKeyPair) -> CurveKeyPair:
    if not isinstance(value, CurveKeyPair):
        msg = (
            "keys must be a CurveKeyPair (load one with CurveKeyPair.load(path)), "
            f"not {type(value).__name__}"
        )
        raise TypeError(msg)
    return value


@attrs.frozen
class CurveServer:
    """
    Make a connection a CURVE server: traffic is encrypted and clients
    authenticate with their key pair. A ZAP handler on the reactor admits
    clients whose public key is in *allowKeys* (pass ``allowAnyKey=True``
    to admit every CURVE client: encryption without authentication), from
    addresses not in *denyAddresses* and, if given, in *allowAddresses*.
    Peers without CURVE never complete a handshake. Refusals are logged.

    .. versionadded:: 0.1.0
    """

    keys: CurveKeyPair = attrs.field(converter=_keyPair)
    allowKeys: Iterable[bytes | str] = ()
    allowAnyKey: bool = False
    allowAddresses: Iterable[str] = ()
    denyAddresses: Iterable[str] = ()
    policy: AccessPolicy = attrs.field(init=False)

    def __repr__(self) -> str:
        allowed = (
            "any key" if self.policy.allowKeys is None else f"{len(self.policy.allowKeys)} key(s)"
        )
        return (
            f"CurveServer(keys fingerprint {fingerprint(self.keys.publicKey)}, allows {allowed})"
        )

    @policy.default
    def _policy(self) -> AccessPolicy:
        keys = listOfKeys(self.allowKeys)
        if not keys and not self.allowAnyKey:
            msg = (
                "a CurveServer needs allowKeys=[client public keys], or allowAnyKey=True "
                "to admit every CURVE client (encryption without authentication)"
            )
            raise SecurityError(msg)
        return AccessPolicy(
            allowKeys=None if self.allowAnyKey else keys,
            allowAddresses=list(self.allowAddresses),
            denyAddresses=list(self.denyAddresses),
        )


@attrs.frozen
class CurveClient:
    """
    Make a connection a CURVE client of the server whose public key is
    *serverKey*, authenticating with *keys*.

    .. versionadded:: 0.1.0
    """

    keys: CurveKeyPair = attrs.field(converter=_keyPair)
    serverKey: bytes = attrs.field(converter=_serverKey)

    def __repr__(self) -> str:
        return (
            f"CurveClient(keys fingerprint {fingerprint(self.keys.publicKey)}, "
            f"server fingerprint {fingerprint(self.serverKey)})"
        )


Security = CurveServer | CurveClient
