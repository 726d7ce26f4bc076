"""PublisherService and SubscriberService under the real reactor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_twisted
from twisted.application.service import MultiService
from twisted.internet import reactor, task
from twisted.internet.defer import Deferred

from txzpub import (
    ConfigurationError,
    EndpointError,
    Message,
    PublisherService,
    SubscriberService,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)
from txzpub.testing import waitForSubscription

from .helpers import bind, boundAddress, bounded, connect


@pytest_twisted.inlineCallbacks
def test_servicesStartWorkAndStop(logged: list[dict[str, object]]) -> Iterator[object]:
    received: list[Message] = []
    first: Deferred[None] = Deferred()
    loopEnded: list[bool] = []

    async def consume(sub: ZmqSubConnection) -> None:
        async for msg in sub.subscribe(b"news"):
            received.append(msg)
            if not first.called:
                first.callback(None)
        loopEnded.append(True)  # shutdown ends the async for: the service waits for this

    publishing = PublisherService(bind("tcp://127.0.0.1:0"))
    publishing.startService()
    assert publishing.running
    publisher = publishing.connection
    assert isinstance(publisher, ZmqPubConnection)
    subscribing = SubscriberService(connect(boundAddress(publisher)), run=consume)
    parent = MultiService()
    subscribing.setServiceParent(parent)
    parent.startService()
    subscriber = subscribing.connection
    assert isinstance(subscriber, ZmqSubConnection)

    yield bounded(waitForSubscription(publisher, subscriber), "the subscription")
    publisher.publish(b"hello", b"news")
    yield bounded(first, "the first message")
    assert [(m.tag, m.body) for m in received] == [(b"news", b"hello")]

    pubFactory, subFactory = publishing.factory, subscribing.factory
    assert pubFactory is not None
    assert subFactory is not None
    assert pubFactory is not subFactory  # each made its own
    yield bounded(parent.stopService(), "the subscriber service stopping")
    yield bounded(publishing.stopService(), "the publisher service stopping")

    assert loopEnded == [True]
    assert not parent.running
    assert not publishing.running
    assert subscribing.connection is None
    assert publishing.connection is None
    assert pubFactory.closed
    assert subFactory.closed
    assert publishing.factory is None
    assert not [e for e in logged if e.get("log_level") and e["log_level"].name == "critical"]  # type: ignore[attr-defined]


@pytest_twisted.inlineCallbacks
def test_stopCancelsARunningPublisherLoop(
    factory: ZmqFactory, logged: list[dict[str, object]]
) -> Iterator[object]:
    sent: list[int] = []

    async def publishForever(pub: ZmqPubConnection) -> None:
        while True:
            pub.publish(b"tick", b"clock")
            sent.append(1)
            await task.deferLater(reactor, 0.01, lambda: None)

    service = PublisherService(
        [bind("tcp://127.0.0.1:0"), bind("tcp://127.0.0.1:0")], factory=factory, run=publishForever
    )
    service.startService()
    assert service.connection is not None
    assert len(service.connection.endpoints) == 2
    yield bounded(service.stopService(), "the service stopping")
    assert sent
    assert not factory.closed  # a given factory belongs to the caller
    failures = [e for e in logged if "log_failure" in e]
    assert failures == []


@pytest_twisted.inlineCallbacks
def test_aFailingComponentIsLogged(logged: list[dict[str, object]]) -> Iterator[object]:
    def broken(_: ZmqPubConnection) -> None:
        msg = "boom"
        raise RuntimeError(msg)

    service = PublisherService(bind("tcp://127.0.0.1:0"), run=broken)
    service.startService()
    yield bounded(service.stopService(), "the service stopping")
    failures = [e for e in logged if "log_failure" in e]
    assert len(failures) == 1
    assert failures[0]["log_failure"].check(RuntimeError)  # type: ignore[attr-defined]


def test_aBadEndpointLeavesNothingRunning(factory: ZmqFactory) -> None:
    publisher = ZmqPubConnection(factory, bind("tcp://127.0.0.1:0"))
    taken = boundAddress(publisher)
    service = SubscriberService(bind(taken), factory=factory)
    with pytest.raises(EndpointError):
        service.startService()
    assert not service.running
    assert service.connection is None
    assert factory.connections == {publisher}

    own = PublisherService(bind(taken))
    with pytest.raises(EndpointError):
        own.startService()
    assert own.factory is None


def test_misspeltOptionsAreRefusedWhenTheServiceIsBuilt() -> None:
    """Not when twistd starts it: the mistake shows where the service is made."""
    endpoint = ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:5555")
    with pytest.raises(TypeError, match=r"ZmqPubConnection .*'lastValueCahe'.*lastValueCache"):
        PublisherService(endpoint, lastValueCahe=True)
    with pytest.raises(TypeError, match=r"ZmqSubConnection .*'maxQueue'.*maxQueued"):
        SubscriberService(endpoint, maxQueue=5)
    PublisherService(endpoint, lastValueCache=True, identity=b"me")  # fine


def test_badArgumentsAreRefusedWhenTheServiceIsBuilt() -> None:
    with pytest.raises(TypeError, match="endpoints must be a ZmqEndpoint or a list of them"):
        SubscriberService("tcp://127.0.0.1:5555")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="endpoints must be ZmqEndpoints"):
        SubscriberService([None])  # type: ignore[list-item]
    endpoint = ZmqEndpoint(ZmqEndpointType.connect, "tcp://127.0.0.1:5555")
    with pytest.raises(TypeError, match="factory must be a txzpub.ZmqFactory"):
        SubscriberService(endpoint, factory=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="run must be callable"):
        SubscriberService(endpoint, run=42)  # type: ignore[arg-type]


def test_badOptionValuesAreRefusedWhenTheServiceIsBuilt() -> None:
    endpoint = ZmqEndpoint(ZmqEndpointType.connect, "tcp://127.0.0.1:5555")
    with pytest.raises(ValueError, match="maxQueued must be >= 1"):
        SubscriberService(endpoint, maxQueued=0)
    with pytest.raises(TypeError, match="maxMessageSize must be"):
        PublisherService(endpoint, maxMessageSize=1.5)


def test_sequencedServicesAreCheckedWhenBuilt() -> None:
    """The sequencing options go through the same early check as the others."""
    endpoint = ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:5555")
    replay = ZmqEndpoint(ZmqEndpointType.bind, "inproc://service-replay")
    with pytest.raises(ConfigurationError, match="replay= needs a publisher created with"):
        PublisherService(endpoint, replay=replay)
    with pytest.raises(ValueError, match="heartbeatInterval must be"):
        PublisherService(endpoint, sequenced=True, heartbeatInterval=0)
    with pytest.raises(ValueError, match="replayTimeout must be"):
        SubscriberService(endpoint, replayTimeout=-1)
    PublisherService(endpoint, sequenced=True, replay=replay)  # fine
    SubscriberService(endpoint, replay=[replay._replace(type=ZmqEndpointType.connect)])


def test_aSubclassConstructorIsNotRunEarly() -> None:
    """Only txzpub's own constructors are rehearsed: a subclass's side effects are its own."""
    built: list[object] = []

    class Counting(ZmqSubConnection):
        def __init__(self, *args: object, **kwargs: object) -> None:
            built.append(self)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    SubscriberService(
        ZmqEndpoint(ZmqEndpointType.connect, "tcp://127.0.0.1:5555"), connectionClass=Counting
    )
    assert built == []
