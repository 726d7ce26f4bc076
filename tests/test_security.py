"""
CURVE over real sockets: the reactor's ZAP handler admits allow-listed keys
and refuses (and logs) everybody else, and no key ever reaches a log.

"Receives nothing" is shown without sleeping: each refused peer's handshake
failure is awaited (its monitor, or the refusal in the log), then a message is
published that an allowed subscriber gets; the refused one has nothing queued.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import pytest_twisted
import zmq
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import LogEvent, formatEvent, globalLogPublisher

from txzpub import (
    ConnectionEventKind,
    CurveClient,
    CurveKeyPair,
    CurveServer,
    SecurityError,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
    loadPublicKey,
)
from txzpub._authenticator import ZapHandler

from .helpers import bind, boundAddress, bounded, connect

SERVER = CurveKeyPair.generate()
ALICE = CurveKeyPair.generate()
MALLORY = CurveKeyPair.generate()
EVERY_KEY = [
    text
    for pair in (SERVER, ALICE, MALLORY)
    for key in (pair.publicKey, pair.secretKey)
    for text in (key.decode(),)
]


@pytest.fixture
def everyLogLine() -> Iterator[list[str]]:
    """Every log event of the test, formatted; checked for keys afterwards."""
    lines: list[str] = []

    def observe(event: LogEvent) -> None:
        lines.append(formatEvent(event))
        lines.extend(repr(value) for value in event.values())

    globalLogPublisher.addObserver(observe)
    yield lines
    globalLogPublisher.removeObserver(observe)
    leaked = [line for line in lines for key in EVERY_KEY if key in line]
    assert not leaked, "a key was logged"


def whenLogged(predicate: Callable[[LogEvent], bool], what: str) -> Deferred[LogEvent]:
    """The first log event matching *predicate*, under a deadline."""
    found: Deferred[LogEvent] = Deferred()

    def observe(event: LogEvent) -> None:
        if not found.called and predicate(event):
            found.callback(event)

    globalLogPublisher.addObserver(observe)
    found.addBoth(lambda result: (globalLogPublisher.removeObserver(observe), result)[1])
    return bounded(found, what)


def refusal(reason: str) -> Callable[[LogEvent], bool]:
    return lambda event: (
        event.get("log_namespace") == "txzpub._authenticator" and (event.get("reason") == reason)
    )


def handshakeFailed(connection: object) -> Callable[[LogEvent], bool]:
    return lambda event: (
        event.get("connectionEvent") is not None
        and event["connectionEvent"].kind is ConnectionEventKind.HANDSHAKE_FAILED
        and event.get("connection") is connection
    )


def curvePublisher(factory: ZmqFactory, **policy: object) -> tuple[ZmqPubConnection, str]:
    options: dict[str, object] = {"allowKeys": [ALICE.publicKey]} | policy
    publisher = ZmqPubConnection(
        factory, bind("tcp://127.0.0.1:0"), security=CurveServer(SERVER, **options)
    )
    return publisher, boundAddress(publisher)


def client(factory: ZmqFactory, address: str, keys: CurveKeyPair | None) -> ZmqSubConnection:
    security = None if keys is None else CurveClient(keys, SERVER.publicKey)
    subscriber = ZmqSubConnection(factory, connect(address), security=security)
    subscriber.subscribe(b"")
    return subscriber


@pytest_twisted.inlineCallbacks
def test_allowedClientReceives(factory: ZmqFactory, everyLogLine: list[str]) -> Iterator[object]:
    publisher, address = curvePublisher(factory)
    subscriber = client(factory, address, ALICE)
    yield bounded(publisher.waitForSubscribers(1), "the allowed client's subscription")
    publisher.publish(b"secret plans", b"news")
    message = yield bounded(subscriber.next(b""), "the message")
    assert message.body == b"secret plans"
    assert factory._zap is not None
    assert (factory._zap.accepted, factory._zap.refused) == (1, 0)
    assert everyLogLine is not None


@pytest.mark.parametrize("keys", [MALLORY, None], ids=["unknown key", "no CURVE"])
@pytest_twisted.inlineCallbacks
def test_othersReceiveNothingAndAreLogged(
    factory: ZmqFactory, everyLogLine: list[str], keys: CurveKeyPair | None
) -> Iterator[object]:
    publisher, address = curvePublisher(factory)
    if keys is None:  # no ZAP request: the server's monitor logs a mechanism mismatch
        refused = whenLogged(handshakeFailed(publisher), "the publisher logging the refusal")
    else:
        refused = whenLogged(refusal("its key is not in the allow list"), "the ZAP refusal")
    intruder = client(factory, address, keys)
    intruding = intruder.next(b"")
    yield refused
    allowed = client(factory, address, ALICE)
    yield bounded(publisher.waitForSubscribers(1), "the allowed client's subscription")
    publisher.publish(b"for alice only", b"news")
    message = yield bounded(allowed.next(b""), "the allowed client's message")
    assert message.body == b"for alice only"
    assert publisher.subscriptions == {b"": 1}
    assert not intruding.called
    intruding.cancel()
    with pytest.raises(CancelledError):
        yield intruding
    if keys is None:
        assert any("CURVE on one side only" in line for line in everyLogLine)


@pytest_twisted.inlineCallbacks
def test_wrongServerKeyFailsOnTheClient(
    factory: ZmqFactory, everyLogLine: list[str]
) -> Iterator[object]:
    _, address = curvePublisher(factory)
    subscriber = ZmqSubConnection(factory, security=CurveClient(ALICE, MALLORY.publicKey))
    failed = whenLogged(handshakeFailed(subscriber), "the client's handshake failure")
    subscriber.addEndpoints([connect(address)])
    event = yield failed
    assert "handshake with a peer" in formatEvent(event)
    assert everyLogLine is not None


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        ({"denyAddresses": ["127.0.0.0/8"]}, "its address is in the deny list"),
        ({"allowAddresses": ["10.0.0.0/8"]}, "its address is not in the allow list"),
    ],
)
@pytest_twisted.inlineCallbacks
def test_addressLists(
    factory: ZmqFactory, everyLogLine: list[str], policy: dict[str, object], reason: str
) -> Iterator[object]:
    _, address = curvePublisher(factory, **policy)
    refused = whenLogged(refusal(reason), "the refusal")
    client(factory, address, ALICE)
    event = yield refused
    assert event["address"] == "127.0.0.1"
    assert event["peer"] != ALICE.publicKey.decode()
    assert everyLogLine is not None


@pytest_twisted.inlineCallbacks
def test_allowAnyKeyStillEncrypts(
    factory: ZmqFactory, everyLogLine: list[str]
) -> Iterator[object]:
    publisher, address = curvePublisher(factory, allowKeys=[], allowAnyKey=True)
    subscriber = client(factory, address, MALLORY)
    yield bounded(publisher.waitForSubscribers(1), "any key's subscription")
    publisher.publish(b"hi")
    assert (yield bounded(subscriber.next(b""), "the message")).body == b"hi"
    assert everyLogLine is not None


class SecurePub(ZmqPubConnection):
    security = CurveServer(SERVER, allowKeys=[ALICE.publicKey])


class SecureSub(ZmqSubConnection):
    security = CurveClient(ALICE, SERVER.publicKey)


@pytest_twisted.inlineCallbacks
def test_classAttributesForLegacySubclasses(factory: ZmqFactory) -> Iterator[object]:
    """txZMQ-style code configures by class attribute; gotMessage still works."""
    publisher = SecurePub(factory, bind("tcp://127.0.0.1:0"))
    got: Deferred[tuple[bytes, bytes]] = Deferred()
    subscriber = SecureSub(factory, connect(boundAddress(publisher)))
    subscriber.gotMessage = lambda message, tag: got.callback((message, tag))  # type: ignore[method-assign]
    subscriber.subscribe(b"t")
    yield bounded(publisher.waitForSubscribers(1, b"t"), "the subscription")
    publisher.publish(b"legacy", b"t")
    assert (yield bounded(got, "gotMessage")) == (b"legacy", b"t")


def test_shutdownReleasesTheDomainAndTheHandler(factory: ZmqFactory) -> None:
    publisher, _ = curvePublisher(factory)
    zap = factory._zap
    assert zap is not None
    assert len(zap._policies) == 1
    publisher.shutdown()
    assert zap._policies == {}
    readers = set(reactor.getReaders())
    factory.shutdown()
    assert factory._zap is None
    assert zap._reader not in set(reactor.getReaders())
    assert len(set(reactor.getReaders()) - readers) == 0


def test_aSecondZapHandlerIsRefused(factory: ZmqFactory) -> None:
    curvePublisher(factory)
    assert factory.context is not None
    with pytest.raises(SecurityError, match="another ZAP handler"):
        ZapHandler(factory.context, reactor)


def test_pyzmqsThreadAuthenticatorConflictIsExplained() -> None:
    from zmq.auth.thread import ThreadAuthenticator

    factory = ZmqFactory(reactor)
    auth = ThreadAuthenticator(factory.context)
    auth.start()
    try:
        with pytest.raises(SecurityError, match="ThreadAuthenticator"):
            curvePublisher(factory)
        assert factory.connections == set()
        assert factory._zap is None
    finally:
        auth.stop()
        factory.shutdown()


def test_badSecurityValues(factory: ZmqFactory) -> None:
    with pytest.raises(SecurityError, match="allowAnyKey=True"):
        CurveServer(SERVER)
    with pytest.raises(TypeError, match="not one key"):
        CurveServer(SERVER, allowKeys=ALICE.publicKey)
    with pytest.raises(TypeError, match="CurveKeyPair"):
        CurveClient(ALICE.publicKey, SERVER.publicKey)  # type: ignore[arg-type]
    with pytest.raises(SecurityError, match="not a pair"):
        CurveKeyPair(ALICE.publicKey, MALLORY.secretKey)
    with pytest.raises(TypeError, match="CurveServer, a CurveClient or None"):
        ZmqPubConnection(factory, security="curve")  # type: ignore[arg-type]
    assert factory.connections == set()


@pytest.mark.parametrize(
    ("size", "error"), [(0, ValueError), (-1, ValueError), (True, TypeError), (1.5, TypeError)]
)
def test_badMaxMessageSize(factory: ZmqFactory, size: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="^maxMessageSize must be "):
        ZmqSubConnection(factory, maxMessageSize=size)  # type: ignore[arg-type]
    assert factory.connections == set()


def test_reprsHideKeys() -> None:
    server = CurveServer(SERVER, allowKeys=[ALICE.publicKey])
    texts = [repr(SERVER), repr(server), repr(CurveClient(ALICE, SERVER.publicKey)), str(SERVER)]
    for text in texts:
        assert "fingerprint" in text
        for key in EVERY_KEY:
            assert key not in text


def test_keyFilesRoundTrip(tmp_path: Path) -> None:
    public, secret = ALICE.save(tmp_path, "alice")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert CurveKeyPair.load(secret) == ALICE
    assert loadPublicKey(public) == loadPublicKey(secret) == ALICE.publicKey
    assert ALICE.secretKey.decode() not in public.read_text()
    with pytest.raises(FileExistsError, match="exists"):
        ALICE.save(tmp_path, "alice")
    with pytest.raises(SecurityError, match="public certificate") as caught:
        CurveKeyPair.load(public)
    assert ALICE.publicKey.decode() not in str(caught.value)
    with pytest.raises(SecurityError, match="cannot read"):
        CurveKeyPair.load(tmp_path / "missing.key_secret")
    with pytest.raises(ValueError, match="plain file name"):
        ALICE.save(tmp_path, "../escape")


def test_pyzmqCertificatesLoad(tmp_path: Path) -> None:
    from zmq.auth import create_certificates

    public, secret = create_certificates(str(tmp_path), "bob")
    pair = CurveKeyPair.load(secret)
    assert loadPublicKey(public) == pair.publicKey
    assert zmq.curve_public(pair.secretKey) == pair.publicKey
