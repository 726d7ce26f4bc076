"""ZAP sans-IO: hostile requests never raise past ZapProtocolError, and policies decide right."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from txzpub import SecurityError
from txzpub._core._curve import fingerprint, z85Encode
from txzpub._core._zap import (
    ZAP_VERSION,
    AccessPolicy,
    ZapProtocolError,
    ZapRequest,
    decide,
    encodeReply,
    parseRequest,
    refusal,
)

RAW = bytes(range(32))
KEY = z85Encode(RAW)
OTHER = z85Encode(bytes(range(1, 33)))


def request(
    address: str = "127.0.0.1",
    mechanism: bytes = b"CURVE",
    credentials: tuple[bytes, ...] = (RAW,),
) -> ZapRequest:
    return ZapRequest(b"7", b"txzpub-1", address, mechanism, credentials)


def test_parseAWellFormedRequest() -> None:
    frames = [ZAP_VERSION, b"7", b"dom", b"10.0.0.1", b"", b"CURVE", RAW]
    assert parseRequest(frames) == ZapRequest(b"7", b"dom", "10.0.0.1", b"CURVE", (RAW,))


@pytest.mark.parametrize(
    "frames",
    [[], [ZAP_VERSION] * 5, [b"2.0", b"1", b"", b"", b"", b"NULL"]],
)
def test_malformedRequests(frames: list[bytes]) -> None:
    with pytest.raises(ZapProtocolError):
        parseRequest(frames)


@given(st.lists(st.binary(max_size=64), max_size=12))
def test_anyFramesParseOrRaiseZapProtocolError(frames: list[bytes]) -> None:
    try:
        parsed = parseRequest(frames)
    except ZapProtocolError:
        return
    decision = decide(AccessPolicy(allowKeys=[KEY]), parsed)
    reply = encodeReply(parsed, decision)
    assert reply[0] == ZAP_VERSION
    assert len(reply) == 6
    assert KEY not in b"".join(reply)


def test_allowListedKeyIsAccepted() -> None:
    decision = decide(AccessPolicy(allowKeys=[KEY]), request())
    assert decision.accepted
    assert decision.peer == fingerprint(KEY)
    assert encodeReply(request(), decision)[2:5] == [b"200", b"OK", fingerprint(KEY).encode()]


def test_unknownKeyIsRefused() -> None:
    decision = decide(AccessPolicy(allowKeys=[OTHER]), request())
    assert not decision.accepted
    assert "not in the allow list" in decision.reason
    assert encodeReply(request(), decision)[2] == b"400"


def test_anyKeyPolicy() -> None:
    assert decide(AccessPolicy(allowKeys=None), request()).accepted


@pytest.mark.parametrize("mechanism", [b"NULL", b"PLAIN", b"\xff" * 100])
def test_otherMechanismsAreRefused(mechanism: bytes) -> None:
    decision = decide(AccessPolicy(allowKeys=None), request(mechanism=mechanism, credentials=()))
    assert not decision.accepted
    assert "use CURVE" in decision.reason


@pytest.mark.parametrize("credentials", [(), (b"short",), (RAW, RAW)])
def test_malformedCredentialsAreRefused(credentials: tuple[bytes, ...]) -> None:
    decision = decide(AccessPolicy(allowKeys=None), request(credentials=credentials))
    assert not decision.accepted
    assert decision.reason == "malformed CURVE credentials"


@pytest.mark.parametrize(
    ("allow", "deny", "address", "accepted"),
    [
        ([], [], "10.1.2.3", True),
        (["10.0.0.0/8"], [], "10.1.2.3", True),
        (["10.0.0.0/8"], [], "192.168.0.1", False),
        ([], ["10.1.0.0/16"], "10.1.2.3", False),
        (["10.0.0.0/8"], ["10.1.0.0/16"], "10.1.2.3", False),  # deny wins
        (["10.0.0.0/8"], ["10.1.0.0/16"], "10.2.0.1", True),
        (["::1"], [], "::1", True),
        (["127.0.0.1"], [], "", False),  # ipc:// peers have no address
        ([], ["127.0.0.1"], "", True),
    ],
)
def test_addressLists(allow: list[str], deny: list[str], address: str, accepted: bool) -> None:
    policy = AccessPolicy(allowKeys=None, allowAddresses=allow, denyAddresses=deny)
    assert decide(policy, request(address=address)).accepted is accepted


@given(
    st.ip_addresses(),
    st.lists(st.ip_addresses(), max_size=3),
    st.lists(st.ip_addresses(), max_size=3),
)
def test_addressDecisionMatchesTheDefinition(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    allow: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
    deny: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
) -> None:
    policy = AccessPolicy(
        allowKeys=None,
        allowAddresses=[str(a) for a in allow],
        denyAddresses=[str(d) for d in deny],
    )
    expected = address not in deny and (not allow or address in allow)
    assert decide(policy, request(address=str(address))).accepted is expected


def test_badPolicies() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        AccessPolicy(allowAddresses=["nope"])
    with pytest.raises(TypeError, match="not one string"):
        AccessPolicy(denyAddresses="10.0.0.0/8")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not one key"):
        AccessPolicy(allowKeys=KEY)  # type: ignore[arg-type]
    with pytest.raises(SecurityError, match="allowed client key"):
        AccessPolicy(allowKeys=[b"short"])


def test_refusalForUnknownDomains() -> None:
    assert refusal(b"9", "no such domain") == [
        ZAP_VERSION,
        b"9",
        b"400",
        b"no such domain",
        b"",
        b"",
    ]
