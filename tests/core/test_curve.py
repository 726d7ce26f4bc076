"""CURVE keys as text: Z85 against pyzmq's codec, and certificates both ways."""

from __future__ import annotations

import pytest
import zmq
from hypothesis import given
from hypothesis import strategies as st
from zmq.utils import z85

from txzpub import SecurityError
from txzpub._core._curve import (
    checkKey,
    fingerprint,
    formatCertificate,
    parseCertificate,
    z85Decode,
    z85Encode,
)

PUBLIC, SECRET = zmq.curve_keypair()

wordAligned = st.integers(0, 16).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n))


@given(wordAligned)
def test_z85MatchesPyzmq(data: bytes) -> None:
    assert z85Encode(data) == z85.encode(data)
    assert z85Decode(z85Encode(data)) == data


def test_z85SpecVector() -> None:
    """The test vector of ZeroMQ RFC 32."""
    data = bytes([0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B])
    assert z85Encode(data) == b"HelloWorld"


@given(st.binary(max_size=60))
def test_z85DecodeRefusesWithValueErrorOnly(text: bytes) -> None:
    try:
        decoded = z85Decode(text)
    except ValueError:
        return
    assert z85Encode(decoded) == text


@pytest.mark.parametrize("bad", [b"abc", b"12345678", b"#####", b"~~~~~"])
def test_z85RefusesBadInput(bad: bytes) -> None:
    with pytest.raises(ValueError, match="Z85"):
        z85Encode(bad[:3]) if len(bad) == 3 else z85Decode(bad)


def test_checkKeyAcceptsZ85AndRaw() -> None:
    assert checkKey(PUBLIC) == PUBLIC
    assert checkKey(PUBLIC.decode()) == PUBLIC
    assert checkKey(z85.decode(PUBLIC)) == PUBLIC


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (b"short", "40 characters"),
        ("é" * 40, "non-ASCII"),
        (b" " * 40, "not valid Z85"),
        (12, "bytes or str"),
    ],
)
def test_checkKeyRefusesWithoutQuotingTheKey(bad: object, match: str) -> None:
    with pytest.raises(SecurityError, match=match) as caught:
        checkKey(bad, "serverKey")  # type: ignore[arg-type]
    assert "serverKey" in str(caught.value)


def test_fingerprintIsShortAndNotTheKey() -> None:
    print_ = fingerprint(PUBLIC)
    assert len(print_) == 12
    assert print_ not in PUBLIC.decode()
    assert fingerprint(PUBLIC.decode()) == print_


def test_certificatesRoundTrip() -> None:
    secret = formatCertificate(PUBLIC, SECRET, {"name": "alice"}, "2026-11-28")
    public = formatCertificate(PUBLIC, generated="2026-11-28")
    assert parseCertificate(secret) == (PUBLIC, SECRET)
    assert parseCertificate(public) == (PUBLIC, None)
    assert SECRET.decode() not in public
    assert "Secret" in secret
    assert 'name = "alice"' in secret


def test_certificatesReadByPyzmq(tmp_path: object) -> None:
    from pathlib import Path

    from zmq.auth import load_certificate

    base = Path(str(tmp_path))
    (base / "a.key").write_text(formatCertificate(PUBLIC))
    (base / "a.key_secret").write_text(formatCertificate(PUBLIC, SECRET))
    assert load_certificate(base / "a.key") == (PUBLIC, None)
    assert load_certificate(base / "a.key_secret") == (PUBLIC, SECRET)


def test_pyzmqCertificatesReadByUs(tmp_path: object) -> None:
    from pathlib import Path

    from zmq.auth import create_certificates

    public, secret = create_certificates(str(tmp_path), "b")
    assert parseCertificate(Path(public).read_text())[1] is None
    key, secretKey = parseCertificate(Path(secret).read_text())
    assert zmq.curve_public(secretKey) == key  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "not a ZeroMQ CURVE certificate"),
        ('curve\n    secret-key = "x"\n', "40 characters"),
        ("curve\n    public-key = unquoted\n", "line 2"),
        ('metadata\n    public-key = "' + "a" * 40 + '"\n', "not a ZeroMQ CURVE certificate"),
    ],
)
def test_badCertificates(text: str, match: str) -> None:
    with pytest.raises(SecurityError, match=match):
        parseCertificate(text, "'x.key'")


@given(st.text(max_size=300))
def test_parseCertificateRaisesOnlySecurityError(text: str) -> None:
    try:
        public, secret = parseCertificate(text)
    except SecurityError:
        return
    assert len(public) == 40
    assert secret is None or len(secret) == 40


def test_metadataIsChecked() -> None:
    with pytest.raises(ValueError, match="quotes"):
        formatCertificate(PUBLIC, metadata={"name": 'a"b'})
    with pytest.raises(ValueError, match="names"):
        formatCertificate(PUBLIC, metadata={"a b": "c"})
