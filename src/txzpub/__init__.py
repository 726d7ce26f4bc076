"""
txzpub: Deferred-first ZeroMQ messaging for Twisted.

The successor to txZMQ: the same classes (change only the import line), plus
``msg = yield sub.next(b"news")`` and ``async for msg in sub.subscribe(b"news")``.
This module only re-exports; the code lives in private modules, layered:
errors < the sans-IO core < Deferreds < reactor glue < connections < txZMQ
adapters < command line.
"""

from ._connection import ZmqConnection as ZmqConnection
from ._core._buffer import DEFAULT_MAX_QUEUED as DEFAULT_MAX_QUEUED
from ._core._buffer import OverflowPolicy as OverflowPolicy
from ._core._buffer import QueueStatistics as QueueStatistics
from ._core._endpoint import ZmqEndpoint as ZmqEndpoint
from ._core._endpoint import ZmqEndpointType as ZmqEndpointType
from ._core._lifecycle import ConnectionEvent as ConnectionEvent
from ._core._lifecycle import ConnectionEventKind as ConnectionEventKind
from ._core._message import Message as Message
from ._errors import AlreadyReplied as AlreadyReplied
from ._errors import ConfigurationError as ConfigurationError
from ._errors import ConnectionClosed as ConnectionClosed
from ._errors import EndpointError as EndpointError
from ._errors import PublishQueueFull as PublishQueueFull
from ._errors import ReceiveTimeout as ReceiveTimeout
from ._errors import SecurityError as SecurityError
from ._errors import SendQueueFull as SendQueueFull
from ._errors import SubscriberTimeout as SubscriberTimeout
from ._errors import SubscriptionClosed as SubscriptionClosed
from ._errors import TooManyRequests as TooManyRequests
from ._errors import TxzpubError as TxzpubError
from ._errors import ZmqRequestTimeoutError as ZmqRequestTimeoutError
from ._events import ConnectionEvents as ConnectionEvents
from ._factory import ZmqFactory as ZmqFactory
from ._legacy import ZmqSubConnection as ZmqSubConnection
from ._publisher import ZmqPubConnection as ZmqPubConnection
from ._pushpull import ZmqPullConnection as ZmqPullConnection
from ._pushpull import ZmqPushConnection as ZmqPushConnection
from ._recovery import StreamStatistics as StreamStatistics
from ._reqrep import ZmqREPConnection as ZmqREPConnection
from ._reqrep import ZmqREQConnection as ZmqREQConnection
from ._reqrep import ZmqXREPConnection as ZmqXREPConnection
from ._reqrep import ZmqXREQConnection as ZmqXREQConnection
from ._requests import Request as Request
from ._routerdealer import ZmqDealerConnection as ZmqDealerConnection
from ._routerdealer import ZmqRouterConnection as ZmqRouterConnection
from ._security import CurveClient as CurveClient
from ._security import CurveKeyPair as CurveKeyPair
from ._security import CurveServer as CurveServer
from ._security import loadPublicKey as loadPublicKey
from ._sequencing import ReplayStatistics as ReplayStatistics
from ._subscription import Subscription as Subscription
from ._version import __version__ as __version__

__all__ = [
    "DEFAULT_MAX_QUEUED",
    "AlreadyReplied",
    "ConfigurationError",
    "ConnectionClosed",
    "ConnectionEvent",
    "ConnectionEventKind",
    "ConnectionEvents",
    "CurveClient",
    "CurveKeyPair",
    "CurveServer",
    "EndpointError",
    "Message",
    "OverflowPolicy",
    "PublishQueueFull",
    "PublisherService",
    "QueueStatistics",
    "ReceiveTimeout",
    "ReplayStatistics",
    "Request",
    "SecurityError",
    "SendQueueFull",
    "StreamStatistics",
    "SubscriberService",
    "SubscriberTimeout",
    "Subscription",
    "SubscriptionClosed",
    "TooManyRequests",
    "TxzpubError",
    "ZmqConnection",
    "ZmqDealerConnection",
    "ZmqEndpoint",
    "ZmqEndpointType",
    "ZmqFactory",
    "ZmqPubConnection",
    "ZmqPullConnection",
    "ZmqPushConnection",
    "ZmqREPConnection",
    "ZmqREQConnection",
    "ZmqRequestTimeoutError",
    "ZmqRouterConnection",
    "ZmqSubConnection",
    "ZmqXREPConnection",
    "ZmqXREQConnection",
    "__version__",
    "loadPublicKey",
]

# Last: the services are written against the public API above.
from ._service import PublisherService as PublisherService
from ._service import SubscriberService as SubscriberService

for _name in __all__:
    _value = globals()[_name]
    if isinstance(_value, type):
        _value.__module__ = "txzpub"
del _name, _value
