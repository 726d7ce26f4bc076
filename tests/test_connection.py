"""Construction, options, endpoints and bad input: errors that say what to do."""

from __future__ import annotations

import gc
import os

import pytest
import pytest_twisted
import zmq
from twisted.internet import reactor
from twisted.internet.testing import MemoryReactorClock

from txzpub import (
    ConnectionClosed,
    EndpointError,
    Message,
    ZmqConnection,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)
from txzpub.testing import waitForSubscription

from .helpers import bind, boundAddress, bounded, connect, publisherOnFreePort


def openFds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_factoryDefaults() -> None:
    made = ZmqFactory()
    try:
        assert made.reactor is reactor
        assert (made.ioThreads, made.lingerPeriod) == (1, 100)
        assert made.connections == set()
        assert isinstance(made.context, zmq.Context)
        assert repr(made) == "ZmqFactory()"
    finally:
        made.shutdown()
    assert made.closed
    made.shutdown()


def test_factoryReactorFromSubclass() -> None:
    fake = MemoryReactorClock()

    class MyFactory(ZmqFactory):
        reactor = fake

    made = MyFactory()
    try:
        assert made.reactor is fake
        subscriber = ZmqSubConnection(made)
        assert subscriber._reader in fake.readers
    finally:
        made.shutdown()
    assert fake.readers == set()


def test_registerForShutdown() -> None:
    fake = MemoryReactorClock()
    made = ZmqFactory(fake)
    made.registerForShutdown()
    ZmqSubConnection(made)
    [(trigger, args, kwargs)] = fake.triggers["during"]["shutdown"]
    trigger(*args, **kwargs)
    assert made.closed
    assert made.connections == set()


def test_factoryShutdownRemovesTrigger() -> None:
    """A factory shut down by hand does not leave a trigger behind in the reactor."""

    class TriggerReactor(MemoryReactorClock):
        def addSystemEventTrigger(self, *args: object, **kwargs: object) -> object:
            super().addSystemEventTrigger(*args, **kwargs)  # type: ignore[arg-type]
            return "trigger-id"

        def removeSystemEventTrigger(self, triggerID: object) -> None:
            self.removed = triggerID

    fake = TriggerReactor()
    made = ZmqFactory(fake)
    made.registerForShutdown()
    made.shutdown()
    assert fake.removed == "trigger-id"


def test_defaultsAreBounded(factory: ZmqFactory) -> None:
    """Unlike txZMQ's 0 (unbounded), sockets get libzmq's 1,000-message HWM."""
    subscriber = ZmqSubConnection(factory)
    assert subscriber.socket.get(zmq.RCVHWM) == 1000
    assert subscriber.socket.get(zmq.SNDHWM) == 1000
    assert subscriber.socket.get(zmq.LINGER) == factory.lingerPeriod


def test_txzmqClassAttributesApply(factory: ZmqFactory) -> None:
    class Tuned(ZmqSubConnection):
        highWaterMark = 5
        tcpKeepalive = 1
        tcpKeepaliveCount = 3
        tcpKeepaliveIdle = 30
        tcpKeepaliveInterval = 10
        reconnectInterval = 250
        reconnectIntervalMax = 5000

    tuned = Tuned(factory, identity=b"me")
    get = tuned.socket.get
    assert (get(zmq.RCVHWM), get(zmq.SNDHWM)) == (5, 5)
    assert (get(zmq.TCP_KEEPALIVE), get(zmq.TCP_KEEPALIVE_CNT)) == (1, 3)
    assert (get(zmq.TCP_KEEPALIVE_IDLE), get(zmq.TCP_KEEPALIVE_INTVL)) == (30, 10)
    assert (get(zmq.RECONNECT_IVL), get(zmq.RECONNECT_IVL_MAX)) == (250, 5000)
    assert get(zmq.IDENTITY) == b"me"
    assert tuned.identity == b"me"
    assert tuned.topicSep == b"\0"


def test_endpointsAndRepr(factory: ZmqFactory, inprocAddress: str) -> None:
    publisher = ZmqPubConnection(factory, bind(inprocAddress))
    publisher.addEndpoints([bind(inprocAddress + "-2")])
    assert publisher.endpoints == [bind(inprocAddress), bind(inprocAddress + "-2")]
    assert repr(publisher) == f"ZmqPubConnection(ZmqFactory(), {publisher.endpoints!r})"
    assert publisher.factory is factory
    assert publisher in factory.connections
    assert publisher.fileno() == publisher.socket.get(zmq.FD)


def test_abstractConnectionNeedsSocketType(factory: ZmqFactory) -> None:
    with pytest.raises(TypeError, match="has no socketType"):
        ZmqConnection(factory)


def test_factoryTypeChecked() -> None:
    with pytest.raises(TypeError, match=r"^factory must be a txzpub.ZmqFactory, not None"):
        ZmqSubConnection(None)  # type: ignore[arg-type]


def test_unknownEndpointTypeIsValueError(factory: ZmqFactory) -> None:
    before = set(factory.connections)
    with pytest.raises(ValueError, match=r"unknown endpoint type 'listen'.*ZmqEndpointType.bind"):
        ZmqSubConnection(factory, ZmqEndpoint("listen", "tcp://127.0.0.1:1"))  # type: ignore[arg-type]
    assert factory.connections == before


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("tcp://127.0.0.1", "malformed address|Invalid argument"),
        ("bogus://x", "unknown transport"),
        ("nowhere", "must be a ZeroMQ address"),
    ],
)
def test_malformedAddress(factory: ZmqFactory, address: str, reason: str) -> None:
    with pytest.raises(EndpointError, match=reason):
        ZmqPubConnection(factory, bind(address))
    assert factory.connections == set()


def test_bindInUseRaisesSynchronouslyAndLeaksNothing(factory: ZmqFactory) -> None:
    """The constructor raises; no socket stays open and nothing is registered."""
    _, address = publisherOnFreePort(factory)
    readers = set(reactor.getReaders())
    connections = set(factory.connections)

    def attempt() -> None:
        with pytest.raises(EndpointError, match=r"Address already in use.*choose a free port"):
            ZmqSubConnection(factory, bind(address))

    attempt()  # warm up whatever libzmq allocates once per context
    gc.collect()
    fds = openFds()
    for _ in range(50):
        attempt()
    gc.collect()
    assert set(reactor.getReaders()) == readers
    assert factory.connections == connections
    # A leaked socket costs at least one fd per attempt; allow for unrelated noise.
    assert openFds() - fds < 10


def test_addEndpointsChecksAllFirst(factory: ZmqFactory, inprocAddress: str) -> None:
    subscriber = ZmqSubConnection(factory)
    with pytest.raises(EndpointError):
        subscriber.addEndpoints([connect(inprocAddress), ("listen", "inproc://x")])  # type: ignore[list-item]
    assert subscriber.endpoints == []
    subscriber.shutdown()
    with pytest.raises(ConnectionClosed):
        subscriber.addEndpoints([connect(inprocAddress)])


def test_endpointTypeValues() -> None:
    assert (ZmqEndpointType.bind, ZmqEndpointType.connect) == ("bind", "connect")
    endpoint = ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:5555")
    assert endpoint == ("bind", "tcp://127.0.0.1:5555")
    assert repr(endpoint) == "ZmqEndpoint(type='bind', address='tcp://127.0.0.1:5555')"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: p.publish(123), r"^message must be bytes or str, not 123 \(int\)$"),
        (lambda p: p.publish(b"x", 4.5), r"^tag must be bytes or str, not 4.5 \(float\)$"),
        (
            lambda p: p.publish(None, b"t"),
            r"^message must be bytes or str, not None \(NoneType\)$",
        ),
        (lambda p: p.send(7), r"^message must be bytes or str, not 7 \(int\)$"),
        (lambda p: p.send([b"a", 7]), r"^message frame must be bytes or str, not 7 \(int\)$"),
    ],
)
def test_publishTypeErrorsNameTheArgument(factory: ZmqFactory, call: object, message: str) -> None:
    publisher = ZmqPubConnection(factory)
    with pytest.raises(TypeError, match=message):
        call(publisher)  # type: ignore[operator]


def test_oneFrameTagCannotContainSeparator(factory: ZmqFactory) -> None:
    publisher = ZmqPubConnection(factory)
    with pytest.raises(
        ValueError, match=r"contains \(or runs into\) the separator.*multipartFraming=True"
    ):
        publisher.publish(b"x", b"a\0b")


def test_sendEmptyListIsValueError(factory: ZmqFactory) -> None:
    publisher = ZmqPubConnection(factory)
    with pytest.raises(ValueError, match="at least one frame"):
        publisher.send([])


def test_subscribeTypeError(factory: ZmqFactory) -> None:
    subscriber = ZmqSubConnection(factory)
    with pytest.raises(TypeError, match=r"^tag must be bytes or str, not 1 \(int\)$"):
        subscriber.subscribe(1)  # type: ignore[arg-type]


def test_queueOptionsValidated(factory: ZmqFactory) -> None:
    with pytest.raises(ValueError, match=r"^maxQueued must be >= 1, not 0 \(int\)$"):
        ZmqSubConnection(factory, maxQueued=0)
    with pytest.raises(TypeError, match=r"^maxQueued must be an int"):
        ZmqSubConnection(factory, maxQueued="10")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"overflow must be an OverflowPolicy"):
        ZmqSubConnection(factory, overflow="drop-everything")
    assert factory.connections == set()


@pytest_twisted.ensureDeferred
async def test_strTagsAndBodiesAreUtf8(factory: ZmqFactory) -> None:
    publisher, address = publisherOnFreePort(factory)
    subscriber = ZmqSubConnection(factory, connect(address))
    subscriber.subscribe("nöws")
    await waitForSubscription(publisher, subscriber)
    publisher.publish("héllo", "nöws")
    assert await bounded(subscriber.next("nöws")) == Message("nöws".encode(), "héllo".encode())


@pytest_twisted.ensureDeferred
async def test_sendFramesRaw(factory: ZmqFactory) -> None:
    publisher, address = publisherOnFreePort(factory)
    subscriber = ZmqSubConnection(factory, connect(address))
    subscriber.subscribe(b"raw")
    await waitForSubscription(publisher, subscriber)
    publisher.send([b"raw", b"two", b"three"])
    publisher.send(b"raw\0one")
    first = await bounded(subscriber.next(b"raw"))
    assert first == Message(b"raw", b"two", (b"three",))
    assert (await bounded(subscriber.next(b"raw"))).body == b"one"


def test_boundAddressHelper(factory: ZmqFactory) -> None:
    publisher, address = publisherOnFreePort(factory)
    assert address.startswith("tcp://127.0.0.1:")
    assert boundAddress(publisher) == address
