"""
Reading with ``message = yield sub.next(tag)`` in an @inlineCallbacks function.

One process, nothing to start first: a publisher bound to a free port on
127.0.0.1 publishes news, weather and stock prices every 0.1 s, and a
subscriber reads the next news item, then the next weather report, a few times
(argv[1], default 3), then shuts down.

    python examples/next_subscriber.py [rounds]

Each ``next(tag)`` Deferred fires with a Message (``.tag``, ``.body``). The
subscription keeps a queue per tag, so nothing published between two
``next()`` calls is lost, and the stock prices (not subscribed) never arrive.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import zmq
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import LoopingCall, react

from txzpub import (
    Message,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)

if TYPE_CHECKING:
    # The type Twisted gives its global reactor, the one react() passes to main.
    from twisted.internet import _IReactorCommon as Reactor

HEADLINES = ["Markets rally", "New bridge opens", "Local team wins", "Library extends hours"]
CITIES = ["Paris", "Tokyo", "Lima"]


@inlineCallbacks
def main(reactor: Reactor, rounds: int) -> Generator[Deferred[Any], Any, None]:
    factory = ZmqFactory(reactor)
    # Port 0: the system picks a free port; LAST_ENDPOINT says which.
    bind = ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:0")
    publisher = ZmqPubConnection(factory, bind)
    address = publisher.socket.get_string(zmq.LAST_ENDPOINT)

    sub = ZmqSubConnection(factory, ZmqEndpoint(ZmqEndpointType.connect, address))
    # next(tag) would subscribe by itself on its first call; subscribing now
    # starts queueing both topics at once.
    sub.subscribe(b"news")
    sub.subscribe(b"weather")

    counter = itertools.count()

    def publishSome() -> None:
        n = next(counter)
        publisher.publish(HEADLINES[n % len(HEADLINES)], b"news.world")
        publisher.publish(f"{CITIES[n % len(CITIES)]}: {15 + n % 10} C", b"weather.today")
        publisher.publish(f"AAPL {150 + n / 4:.2f}", b"stocks.AAPL")

    ticker = LoopingCall(publishSome)
    ticker.clock = reactor
    ticker.start(0.1)
    try:
        for _ in range(rounds):
            news: Message = yield sub.next(b"news")
            print(f"news    [{news.tag.decode()}]: {news.body.decode()}")
            weather: Message = yield sub.next(b"weather")
            print(f"weather [{weather.tag.decode()}]: {weather.body.decode()}")
    finally:
        ticker.stop()
        factory.shutdown()


if __name__ == "__main__":
    react(main, [int(sys.argv[1]) if len(sys.argv) > 1 else 3])
