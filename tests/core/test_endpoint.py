"""ZmqEndpoint stays txZMQ's namedtuple; checkEndpoint validates it when a connection uses it."""

from __future__ import annotations

import re

import pytest

from txzpub._core._endpoint import ZmqEndpoint, ZmqEndpointType, checkEndpoint
from txzpub._errors import EndpointError, TxzpubError


def exactly(text: str) -> str:
    return f"^{re.escape(text)}$"


def test_endpointTypeValues() -> None:
    """Plain strings, as in txZMQ, so code that spelled them literally keeps working."""
    assert ZmqEndpointType.bind == "bind"
    assert ZmqEndpointType.connect == "connect"


def test_endpointIsATuple() -> None:
    """txZMQ users compare endpoints with plain tuples and unpack them."""
    endpoint = ZmqEndpoint("bind", "tcp://x:1")
    assert endpoint == ("bind", "tcp://x:1")
    assert endpoint == ("bind", "tcp://x:1")
    assert isinstance(endpoint, tuple)
    kind, address = endpoint
    assert (kind, address) == (endpoint.type, endpoint.address) == ("bind", "tcp://x:1")
    assert endpoint[0] == "bind"
    assert ZmqEndpoint._fields == ("type", "address")


def test_endpointRepr() -> None:
    assert (
        repr(ZmqEndpoint("bind", "tcp://x:1")) == "ZmqEndpoint(type='bind', address='tcp://x:1')"
    )


def test_endpointHashable() -> None:
    """Endpoints are used as set members and dict keys, like any tuple."""
    assert hash(ZmqEndpoint("connect", "inproc://a")) == hash(("connect", "inproc://a"))
    assert len({ZmqEndpoint("connect", "inproc://a"), ("connect", "inproc://a")}) == 1


def test_endpointKeywordsAndReplace() -> None:
    endpoint = ZmqEndpoint(type=ZmqEndpointType.connect, address="ipc:///tmp/x")
    assert endpoint._replace(type=ZmqEndpointType.bind) == ("bind", "ipc:///tmp/x")


def test_endpointNotValidatedOnConstruction() -> None:
    """Building an endpoint the old way never fails; validation waits for checkEndpoint."""
    assert ZmqEndpoint("listen", "nowhere") == ("listen", "nowhere")


@pytest.mark.parametrize(
    "endpoint",
    [
        ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:5555"),
        ZmqEndpoint(ZmqEndpointType.connect, "ipc:///tmp/name"),
        ("connect", "inproc://name"),
        ("bind", "tcp://*:5555"),
        ("connect", "epgm://eth0;239.192.1.1:5555"),
    ],
)
def test_checkEndpointAccepts(endpoint: tuple[str, str]) -> None:
    """Valid endpoints come back as a ZmqEndpoint, plain tuples included."""
    checked = checkEndpoint(endpoint)
    assert type(checked) is ZmqEndpoint
    assert checked == endpoint


def test_checkEndpointDecodesBytesAddress() -> None:
    """txZMQ-era code passed bytes addresses; they are decoded so pyzmq gets a str."""
    checked = checkEndpoint(("connect", b"tcp://127.0.0.1:5555"))
    assert checked == ZmqEndpoint("connect", "tcp://127.0.0.1:5555")
    assert type(checked.address) is str


@pytest.mark.parametrize("endpoint", [None, "tcp://x:1", ["bind", "tcp://x:1"], ("bind",),
                                      ("bind", "tcp://x:1", "extra"), ()])  # fmt: skip
def test_checkEndpointNotAPair(endpoint: object) -> None:
    """Not a 2-tuple at all is a programming error: TypeError, showing what was passed."""
    message = (
        f"endpoint must be a ZmqEndpoint(type, address), not {endpoint!r} "
        f"({type(endpoint).__name__})"
    )
    with pytest.raises(TypeError, match=exactly(message)):
        checkEndpoint(endpoint)


@pytest.mark.parametrize("kind", ["listen", "Bind", "", b"bind", None])
def test_checkEndpointUnknownType(kind: object) -> None:
    """An unknown type is an EndpointError, which is a ValueError, naming the valid ones."""
    endpoint = (kind, "tcp://x:1")
    message = (
        f"unknown endpoint type {kind!r} in {endpoint!r}; "
        "use ZmqEndpointType.bind or ZmqEndpointType.connect"
    )
    with pytest.raises(EndpointError, match=exactly(message)) as caught:
        checkEndpoint(endpoint)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, TxzpubError)


@pytest.mark.parametrize("address", ["127.0.0.1:5555", "", "tcp:/x:1", b"tcp:x", 5555, None])
def test_checkEndpointBadAddress(address: object) -> None:
    """An address without a transport (no "://") is an EndpointError showing the forms."""
    shown = address.decode() if isinstance(address, bytes) else address
    message = (
        "endpoint address must be a ZeroMQ address such as 'tcp://127.0.0.1:5555', "
        f"'ipc:///tmp/name' or 'inproc://name', not {shown!r}"
    )
    with pytest.raises(EndpointError, match=exactly(message)):
        checkEndpoint(("bind", address))


def test_endpointErrorCaughtAsValueError() -> None:
    """Code validating input the usual way (except ValueError) catches endpoint errors."""
    with pytest.raises(ValueError, match="unknown endpoint type"):
        checkEndpoint(("listen", "tcp://x:1"))


def test_checkEndpointUndecodableBytesAddress() -> None:
    with pytest.raises(EndpointError, match=r"^endpoint address must be UTF-8 text"):
        checkEndpoint(("bind", b"tcp://\xff:1"))
