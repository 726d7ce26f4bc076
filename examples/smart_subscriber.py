"""
The SmartSubscriber idea in the new style: one Subscription per handler prefix,
each read by its own ``async for`` loop, and every message handled once, by the
handler of the most specific matching prefix.

One process, nothing to start first: a publisher bound to a free port on
127.0.0.1 publishes a round of topics every 0.25 s; after argv[1] seconds
(default 2) the connection shuts down, which ends every loop.

    python examples/smart_subscriber.py [seconds]

A message goes to every subscription whose prefix matches its topic, so
``news.breaking.*`` reaches both the ``b"news"`` and the ``b"news.breaking"``
queues; the ``b"news"`` loop skips what a more specific handler takes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import zmq
from twisted.internet.defer import Deferred, ensureDeferred, gatherResults
from twisted.internet.task import LoopingCall, react

from txzpub import (
    Message,
    Subscription,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)

if TYPE_CHECKING:
    # The type Twisted gives its global reactor, the one react() passes to main.
    from twisted.internet import _IReactorCommon as Reactor


class SmartSubscriber:
    """Routes each message of a ZmqSubConnection to its most specific handler."""

    def __init__(self, connection: ZmqSubConnection) -> None:
        self.connection = connection
        self.prefixes: list[bytes] = []
        #: One Deferred per handler loop; each fires when its loop ends.
        self.loops: list[Deferred[None]] = []

    def add_topic_handler(self, topic_prefix: bytes, handler: Callable[[Message], None]) -> None:
        subscription = self.connection.subscribe(topic_prefix)
        self.prefixes.append(topic_prefix)
        self.loops.append(ensureDeferred(self._consume(subscription, handler)))

    async def _consume(
        self, subscription: Subscription, handler: Callable[[Message], None]
    ) -> None:
        async for message in subscription:  # ends when the connection shuts down
            if self._mostSpecific(message.tag) == subscription.tag:
                handler(message)

    def _mostSpecific(self, tag: bytes) -> bytes:
        return max((prefix for prefix in self.prefixes if tag.startswith(prefix)), key=len)


def handle_news(message: Message) -> None:
    print(f"📰 News [{message.tag.decode()}]: {message.body.decode()}")


def handle_breaking_news(message: Message) -> None:
    print(f"🚨 BREAKING [{message.tag.decode()}]: {message.body.decode()}")


def handle_sports(message: Message) -> None:
    print(f"⚽ Sports [{message.tag.decode()}]: {message.body.decode()}")


def handle_weather(message: Message) -> None:
    print(f"🌤 Weather [{message.tag.decode()}]: {message.body.decode()}")


TOPICS = [
    (b"news.breaking.markets", "Markets rally"),
    (b"news.sports.football", "Team wins championship"),
    (b"news.local", "Town hall meeting moved to Friday"),
    (b"weather.local", "Sunny, 25C"),
    (b"stocks.AAPL", "150.25"),  # no handler: not subscribed, never received
]


async def main(reactor: Reactor, seconds: float) -> None:
    factory = ZmqFactory(reactor)
    bind = ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:0")  # port 0: any free port
    publisher = ZmqPubConnection(factory, bind)
    address = publisher.socket.get_string(zmq.LAST_ENDPOINT)

    subscriber = SmartSubscriber(
        ZmqSubConnection(factory, ZmqEndpoint(ZmqEndpointType.connect, address))
    )
    subscriber.add_topic_handler(b"news", handle_news)
    subscriber.add_topic_handler(b"news.breaking", handle_breaking_news)
    subscriber.add_topic_handler(b"news.sports", handle_sports)
    subscriber.add_topic_handler(b"weather", handle_weather)

    def publishRound() -> None:
        for tag, body in TOPICS:
            publisher.publish(body, tag)

    ticker = LoopingCall(publishRound)
    ticker.clock = reactor
    ticker.start(0.25)

    def stop() -> None:
        ticker.stop()
        factory.shutdown()  # ends every handler loop

    # The same reactor, typed by txzpub: mypy misreads methods called on a zope interface.
    factory.reactor.callLater(seconds, stop)
    await gatherResults(subscriber.loops)


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    react(lambda reactor: ensureDeferred(main(reactor, seconds)))
