"""The public surface is exactly the contract, re-exported from private modules."""

from __future__ import annotations

import re

import pytest

import txzpub
from txzpub import _core, _errors, _legacy, _publisher, _subscription
from txzpub._core import _buffer, _endpoint, _message

CONTRACT = {
    "ConnectionClosed": _errors.ConnectionClosed,
    "DEFAULT_MAX_QUEUED": _buffer.DEFAULT_MAX_QUEUED,
    "EndpointError": _errors.EndpointError,
    "Message": _message.Message,
    "OverflowPolicy": _buffer.OverflowPolicy,
    "QueueStatistics": _buffer.QueueStatistics,
    "Subscription": _subscription.Subscription,
    "SubscriptionClosed": _errors.SubscriptionClosed,
    "TxzpubError": _errors.TxzpubError,
    "ZmqConnection": txzpub._connection.ZmqConnection,
    "ZmqEndpoint": _endpoint.ZmqEndpoint,
    "ZmqEndpointType": _endpoint.ZmqEndpointType,
    "ZmqFactory": txzpub._factory.ZmqFactory,
    "ZmqPubConnection": _publisher.ZmqPubConnection,
    "ZmqSubConnection": _legacy.ZmqSubConnection,
    "__version__": txzpub._version.__version__,
    "ConnectionEvent": txzpub._core._lifecycle.ConnectionEvent,
    "ConnectionEventKind": txzpub._core._lifecycle.ConnectionEventKind,
    "ConnectionEvents": txzpub._events.ConnectionEvents,
    "PublisherService": txzpub._service.PublisherService,
    "SubscriberService": txzpub._service.SubscriberService,
    "SubscriberTimeout": _errors.SubscriberTimeout,
    "PublishQueueFull": _errors.PublishQueueFull,
    "ReceiveTimeout": _errors.ReceiveTimeout,
    "ConfigurationError": _errors.ConfigurationError,
    "SecurityError": _errors.SecurityError,
    "CurveKeyPair": txzpub._security.CurveKeyPair,
    "CurveServer": txzpub._security.CurveServer,
    "CurveClient": txzpub._security.CurveClient,
    "loadPublicKey": txzpub._security.loadPublicKey,
    "ZmqPushConnection": txzpub._pushpull.ZmqPushConnection,
    "ZmqPullConnection": txzpub._pushpull.ZmqPullConnection,
    "ZmqREQConnection": txzpub._reqrep.ZmqREQConnection,
    "ZmqREPConnection": txzpub._reqrep.ZmqREPConnection,
    "ZmqXREQConnection": txzpub._reqrep.ZmqREQConnection,
    "ZmqXREPConnection": txzpub._reqrep.ZmqREPConnection,
    "ZmqDealerConnection": txzpub._routerdealer.ZmqDealerConnection,
    "ZmqRouterConnection": txzpub._routerdealer.ZmqRouterConnection,
    "Request": txzpub._requests.Request,
    "ZmqRequestTimeoutError": _errors.ZmqRequestTimeoutError,
    "SendQueueFull": _errors.SendQueueFull,
    "TooManyRequests": _errors.TooManyRequests,
    "AlreadyReplied": _errors.AlreadyReplied,
    "ReplayStatistics": txzpub._sequencing.ReplayStatistics,
    "StreamStatistics": txzpub._recovery.StreamStatistics,
}


def test_allIsTheContract() -> None:
    assert sorted(txzpub.__all__) == sorted(CONTRACT)
    assert _core.__all__ == ()


def test_namesAreTheImplementations() -> None:
    for name, value in CONTRACT.items():
        assert getattr(txzpub, name) is value, name


def test_publicClassesClaimTheirPublicModule() -> None:
    for name, value in CONTRACT.items():
        if isinstance(value, type):
            assert value.__module__ == "txzpub", name


def test_errorsShareABase() -> None:
    for error in (
        txzpub.ConnectionClosed,
        txzpub.SubscriptionClosed,
        txzpub.EndpointError,
        txzpub.SecurityError,
        txzpub.ReceiveTimeout,
        txzpub.SubscriberTimeout,
        txzpub.PublishQueueFull,
        txzpub.ConfigurationError,
        txzpub.SendQueueFull,
        txzpub.ZmqRequestTimeoutError,
        txzpub.TooManyRequests,
        txzpub.AlreadyReplied,
    ):
        assert issubclass(error, txzpub.TxzpubError)
    assert issubclass(txzpub.EndpointError, ValueError)
    assert issubclass(txzpub.SecurityError, ValueError)
    assert issubclass(txzpub.ReceiveTimeout, TimeoutError)
    assert issubclass(txzpub.SubscriberTimeout, TimeoutError)
    assert issubclass(txzpub.ConfigurationError, RuntimeError)
    assert issubclass(txzpub.ZmqRequestTimeoutError, TimeoutError)
    assert issubclass(txzpub.PublishQueueFull, txzpub.SendQueueFull)


def test_everyPublicErrorLivesInTheErrorsModule() -> None:
    """One place for errors: every exported exception is defined in _errors."""
    exported = [getattr(txzpub, name) for name in txzpub.__all__]
    errors = [
        value for value in exported if isinstance(value, type) and issubclass(value, BaseException)
    ]
    assert {error.__name__ for error in errors} == set(_errors.__all__)
    for error in errors:
        assert getattr(_errors, error.__name__) is error


@pytest.mark.parametrize(
    ("cls", "where"),
    [
        (txzpub.Subscription, "ZmqSubConnection.subscribe(tag)"),
        (txzpub.ConnectionEvents, "ZmqConnection.events()"),
    ],
)
def test_handedOutClassesCannotBeConstructed(cls: type, where: str) -> None:
    """A Subscription a user built would never receive: constructing one says where to get one."""
    message = f"txzpub.{cls.__name__} cannot be constructed directly; get one from {where}"
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        cls(b"news")


EVERYDAY_NAMES = {
    "messages",
    "handlers",
    "queue",
    "queues",
    "data",
    "count",
    "received",
    "results",
    "buffer",
    "callbacks",
    "listeners",
    "topics",
    "subscriptions",
    "recv_parts",
    "read_scheduled",
    "fd",
}

ALLOWED_PUBLIC = {
    # txZMQ's surface
    "socketType", "allowLoopbackMulticast", "multicastRate", "highWaterMark",
    "tcpKeepalive", "tcpKeepaliveCount", "tcpKeepaliveIdle", "tcpKeepaliveInterval",
    "reconnectInterval", "reconnectIntervalMax", "topicSep", "addEndpoints", "send",
    "shutdown", "fileno", "doRead", "logPrefix", "connectionLost", "messageReceived", "factory", "socket", "endpoints", "identity",
    "publish", "subscribe", "unsubscribe", "gotMessage",
    # txzpub's additions
    "next", "readBatchSize", "lastValueCache", "noDrop", "maxPending", "publishLossless", "maxQueued", "overflowPolicy", "multipartFraming",
    "whenConnected", "events", "monitored", "maxMessageSize", "security",
    "subscriptions", "waitForSubscribers", "onSubscription", "maxQueuedSends",
    # the other patterns: txZMQ's names
    "push", "onPull", "sendMsg", "sendMultipart", "reply", "defaultRequestTimeout",
    "UUID_POOL_GEN_SIZE",
    # and txzpub's additions
    "nextBatch", "batches", "statistics", "serve", "maxUnanswered", "whenSent",
    # sequenced streams
    "sequenced", "replayDepth", "replayBytes", "heartbeatInterval", "publisherId",
    "replayStatistics", "replayTimeout", "streamStatistics",
}  # fmt: skip


def test_connectionsHaveOnlyTheContractsPublicNames() -> None:
    """Legacy subclasses own every other public name (self.messages, self.handlers...)."""
    for cls in (
        txzpub.ZmqSubConnection,
        txzpub.ZmqPubConnection,
        txzpub.ZmqPushConnection,
        txzpub.ZmqPullConnection,
        txzpub.ZmqREQConnection,
        txzpub.ZmqREPConnection,
        txzpub.ZmqDealerConnection,
        txzpub.ZmqRouterConnection,
    ):
        public = {name for name in dir(cls) if not name.startswith("_")}
        assert public <= ALLOWED_PUBLIC, public - ALLOWED_PUBLIC
        assert not public & EVERYDAY_NAMES - SHADOWABLE


#: Everyday names txzpub uses only as non-data descriptors: a legacy subclass's
#: own ``self.subscriptions = ...`` shadows ours (tests/test_awareness.py).
SHADOWABLE = {"subscriptions"}


def test_shadowableNamesAreNonDataDescriptors() -> None:
    for name in SHADOWABLE:
        for cls in (txzpub.ZmqPubConnection, txzpub._subscriber.Subscriber):
            owner = next(klass for klass in cls.__mro__ if name in vars(klass))
            descriptor = vars(owner)[name]
            assert hasattr(descriptor, "__get__")
            assert not hasattr(descriptor, "__set__")
            assert not hasattr(descriptor, "__delete__")
