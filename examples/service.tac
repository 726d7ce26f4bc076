"""
A txzpub publisher and subscriber running as Twisted services under twistd.

Run it in the foreground (``-n``) from the repository root::

    twistd -ny examples/service.tac

(or ``python -m twisted.scripts.twistd -ny examples/service.tac``). The
publisher binds $TXZPUB_EXAMPLE_ENDPOINT (default tcp://127.0.0.1:5555) and
publishes a news item every half second; the subscriber connects to it and
logs every item it receives. Stop it with Ctrl-C (or SIGTERM): twistd stops
the services, which shut their connections and factories down cleanly.
"""

import itertools
import os

from twisted.application import service
from twisted.internet import reactor, task
from twisted.logger import Logger

from txzpub import (
    PublisherService,
    SubscriberService,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqPubConnection,
    ZmqSubConnection,
)

ENDPOINT = os.environ.get("TXZPUB_EXAMPLE_ENDPOINT", "tcp://127.0.0.1:5555")

log = Logger(namespace="news")


async def publishNews(pub: ZmqPubConnection) -> None:
    # Cancelled when the service stops.
    for number in itertools.count(1):
        pub.publish(f"item {number}", b"news")
        await task.deferLater(reactor, 0.5, lambda: None)


async def readNews(sub: ZmqSubConnection) -> None:
    async for msg in sub.subscribe(b"news"):  # ends when the service stops
        log.info("received {tag}: {body}", tag=msg.tag.decode(), body=msg.body.decode())
    log.info("subscriber stopped")


application = service.Application("txzpub-news")
PublisherService(
    ZmqEndpoint(ZmqEndpointType.bind, ENDPOINT), run=publishNews
).setServiceParent(application)
SubscriberService(
    ZmqEndpoint(ZmqEndpointType.connect, ENDPOINT), run=readNews
).setServiceParent(application)
