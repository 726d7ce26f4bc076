# -*- test-case-name: tests.core.test_zap -*-
"""
ZAP (ZeroMQ RFC 27), sans-IO: parse a request, decide it against a policy,
encode the reply.

libzmq asks the ZAP handler of a socket's context about every peer that
completes a security handshake with a socket that has a ZAP domain. Nothing
here touches a socket: the reactor glue feeds frames in and sends the reply
frames out, so every hostile request shape is testable in microseconds.
Decisions carry a reason for the log that names a key only by fingerprint.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import attrs

from ._curve import KEY_BYTES, checkKey, fingerprint, z85Encode

__all__ = [
    "ZAP_VERSION",
    "AccessPolicy",
    "ZapDecision",
    "ZapProtocolError",
    "ZapRequest",
    "decide",
    "encodeReply",
    "listOfKeys",
    "parseNetworks",
    "parseRequest",
    "refusal",
]

ZAP_VERSION = b"1.0"
_REQUEST_FRAMES = 6  # version, request id, domain, address, identity, mechanism

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ZapProtocolError(ValueError):
    """A ZAP request that does not follow RFC 27; it gets no reply."""


@attrs.frozen
class ZapRequest:
    """One authentication request from libzmq."""

    requestId: bytes
    domain: bytes
    address: str
    mechanism: bytes
    credentials: tuple[bytes, ...] = ()


@attrs.frozen
class ZapDecision:
    """The answer to a request, and why (for the log)."""

    accepted: bool
    reason: str
    #: Who the peer is, for the log and as ZAP's user id: a key fingerprint or "".
    peer: str = ""

    @property
    def statusCode(self) -> bytes:
        return b"200" if self.accepted else b"400"


def parseNetworks(networks: Iterable[str], what: str) -> tuple[Network, ...]:
    """Addresses and CIDR ranges (``10.0.0.0/8``, ``::1``) as networks; ValueError names *what*."""
    if isinstance(networks, (str, bytes)):
        msg = f"{what} must be a list of addresses or ranges, not one string"
        raise TypeError(msg)
    return tuple(_network(each, what) for each in networks)


def _network(value: str, what: str) -> Network:
    try:
        return ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        msg = f"{what}: {value!r} is not an IP address or range (write 10.0.0.0/8 or 127.0.0.1)"
        raise ValueError(msg) from None


def _allowNetworks(networks: Iterable[str]) -> tuple[Network, ...]:
    return parseNetworks(networks, "allowAddresses")


def _denyNetworks(networks: Iterable[str]) -> tuple[Network, ...]:
    return parseNetworks(networks, "denyAddresses")


def listOfKeys(keys: Iterable[bytes | str]) -> list[bytes | str]:
    """*keys* as a list; one key (a str or bytes) is refused without showing it."""
    if isinstance(keys, (str, bytes)):
        msg = "allowKeys must be a list of public keys, not one key"
        raise TypeError(msg)
    return list(keys)


def _toKeySet(keys: Iterable[bytes | str] | None) -> frozenset[bytes] | None:
    if keys is None:
        return None
    return frozenset(checkKey(key, "an allowed client key") for key in listOfKeys(keys))


@attrs.frozen
class AccessPolicy:
    """
    Who may complete a handshake: CURVE clients whose public key is in
    ``allowKeys`` (None: any key), from addresses not in ``denyAddresses``
    and, if ``allowAddresses`` is not empty, in it. Deny wins over allow.
    """

    allowKeys: frozenset[bytes] | None = attrs.field(converter=_toKeySet, default=None)
    allowAddresses: tuple[Network, ...] = attrs.field(converter=_allowNetworks, default=())
    denyAddresses: tuple[Network, ...] = attrs.field(converter=_denyNetworks, default=())


def parseRequest(frames: list[bytes]) -> ZapRequest:
    """A request from its frames (after the envelope); ZapProtocolError if malformed."""
    if len(frames) < _REQUEST_FRAMES:
        msg = f"a ZAP request has at least {_REQUEST_FRAMES} frames, not {len(frames)}"
        raise ZapProtocolError(msg)
    version, requestId, domain, address, _identity, mechanism, *credentials = frames
    if version != ZAP_VERSION:
        msg = f"unsupported ZAP version {version[:16]!r}"
        raise ZapProtocolError(msg)
    return ZapRequest(
        requestId=requestId,
        domain=domain,
        address=address.decode("ascii", "replace"),
        mechanism=mechanism,
        credentials=tuple(credentials),
    )


def _addressDecision(policy: AccessPolicy, address: str) -> str | None:
    """Why *address* is refused, or None."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        ip = None  # ipc:// peers have no IP address
    if policy.denyAddresses and ip is not None and any(ip in net for net in policy.denyAddresses):
        return "its address is in the deny list"
    if policy.allowAddresses and (
        ip is None or not any(ip in net for net in policy.allowAddresses)
    ):
        return "its address is not in the allow list"
    return None


def decide(policy: AccessPolicy, request: ZapRequest) -> ZapDecision:
    """Accept or refuse *request* under *policy*."""
    if request.mechanism != b"CURVE":
        name = request.mechanism[:16].decode("ascii", "replace")
        return ZapDecision(accepted=False, reason=f"mechanism {name} is not allowed; use CURVE")
    if len(request.credentials) != 1 or len(request.credentials[0]) != KEY_BYTES:
        return ZapDecision(accepted=False, reason="malformed CURVE credentials")
    peer = fingerprint(z85Encode(request.credentials[0]))
    refusal = _addressDecision(policy, request.address)
    if refusal is not None:
        return ZapDecision(accepted=False, reason=refusal, peer=peer)
    if policy.allowKeys is not None and z85Encode(request.credentials[0]) not in policy.allowKeys:
        return ZapDecision(accepted=False, reason="its key is not in the allow list", peer=peer)
    return ZapDecision(accepted=True, reason="allowed", peer=peer)


def encodeReply(request: ZapRequest, decision: ZapDecision) -> list[bytes]:
    """The reply frames for *decision* (after the envelope)."""
    text = b"OK" if decision.accepted else decision.reason.encode()
    return [
        ZAP_VERSION,
        request.requestId,
        decision.statusCode,
        text,
        decision.peer.encode(),
        b"",
    ]


def refusal(requestId: bytes, reason: str) -> list[bytes]:
    """A refusal for a request whose domain no policy serves."""
    return [ZAP_VERSION, requestId, b"400", reason.encode(), b"", b""]
