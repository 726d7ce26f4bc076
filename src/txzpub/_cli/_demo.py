# -*- test-case-name: tests.test_cli -*-
"""
``txzpub demo``: one publisher and three subscribers, in one process.

Nothing to start first: the publisher binds a free port on 127.0.0.1 and the
subscribers connect to it over TCP. For about 3 seconds (``--seconds``) the
publisher publishes news, weather and stock prices twice a second, and three
subscribers, each written in a different style, print what they receive:

* the news reader calls ``message = yield sub.next(b"news")`` (inlineCallbacks);
* the weather reader runs ``async for message in sub.subscribe(b"weather")``;
* the stocks printer is a txZMQ-style ZmqSubConnection subclass whose
  ``gotMessage(message, tag)`` is called for each message.

Then everything shuts down and a summary shows that each subscriber received
every message of its own topics and nothing else. It uses only the public API
(and txzpub.testing's handshake instead of a sleep): read it as an example.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Generator
from typing import Any

import zmq
from twisted.internet.defer import Deferred, ensureDeferred, gatherResults, inlineCallbacks
from twisted.internet.task import deferLater

from txzpub import (
    ConnectionClosed,
    Message,
    SubscriptionClosed,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)
from txzpub.testing import waitForSubscription

from ._common import positiveFloat
from ._render import LineWriter

__all__ = ["addArguments", "run"]

#: Seconds between two rounds of publishing.
INTERVAL = 0.5

NEWS = [
    (b"news.world", "Markets rally on rate-cut hopes"),
    (b"news.local", "Town hall meeting moved to Friday"),
    (b"news.world", "New bridge opens across the river"),
]
WEATHER = [(b"weather.paris", "Paris: sunny, 25C"), (b"weather.tokyo", "Tokyo: rain, 18C")]
STOCKS = [(b"stocks.AAPL", "AAPL", 150.25), (b"stocks.GOOGL", "GOOGL", 2800.50)]


def addArguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seconds",
        type=positiveFloat,
        default=3.0,
        help="how long to publish (default: 3)",
    )


class Demo:
    """The publisher, the three subscribers, and what each one received."""

    def __init__(self, reactor: Any, output: LineWriter) -> None:
        self.reactor = reactor
        self.output = output
        self.factory = ZmqFactory(reactor)
        bind = ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:0")  # port 0: any free port
        self.publisher = ZmqPubConnection(self.factory, bind)
        self.address = self.publisher.socket.get_string(zmq.LAST_ENDPOINT)
        connect = ZmqEndpoint(ZmqEndpointType.connect, self.address)
        self.newsSub = ZmqSubConnection(self.factory, connect)
        self.weatherSub = ZmqSubConnection(self.factory, connect)
        self.stocksSub = StocksPrinter(self.factory, connect, self)
        self.started: float = reactor.seconds()
        #: subscriber name -> the topics it received, in order
        self.received: dict[str, list[str]] = {
            "news reader": [],
            "weather reader": [],
            "stocks printer": [],
        }

    def show(self, who: str, how: str, tag: bytes, text: str) -> None:
        self.received[who].append(tag.decode())
        elapsed = self.reactor.seconds() - self.started
        label = f"{who} ({how})"
        self.output.write(f"{elapsed:5.2f}s  {label:<27} got {tag.decode():<14} {text}")

    def publishRound(self, n: int) -> None:
        tag, headline = NEWS[n % len(NEWS)]
        self.publisher.publish(headline, tag)
        tag, report = WEATHER[n % len(WEATHER)]
        self.publisher.publish(report, tag)
        for tag, symbol, price in STOCKS:
            quote = {
                "symbol": symbol,
                "price": round(price + n * 0.25, 2),
                "volume": 100 * (n + 1),
            }
            self.publisher.publish(json.dumps(quote), tag)

    @inlineCallbacks
    def readNews(self) -> Generator[Deferred[Message], Message, None]:
        """Subscriber 1: ``yield sub.next(tag)`` until the subscription ends."""
        while True:
            try:
                message = yield self.newsSub.next(b"news")
            except (SubscriptionClosed, ConnectionClosed):
                return
            self.show("news reader", "next()", message.tag, message.body.decode())

    async def readWeather(self) -> None:
        """Subscriber 2: ``async for``; the loop ends when the subscription does."""
        async for message in self.weatherSub.subscribe(b"weather"):
            self.show("weather reader", "async for", message.tag, message.body.decode())


class StocksPrinter(ZmqSubConnection):
    """Subscriber 3: the txZMQ way, a subclass overriding gotMessage."""

    def __init__(self, factory: ZmqFactory, endpoint: ZmqEndpoint, demo: Demo) -> None:
        super().__init__(factory, endpoint)
        self.demo = demo

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        quote = json.loads(message)
        text = f"{quote['symbol']} ${quote['price']:.2f} (volume {quote['volume']})"
        self.demo.show("stocks printer", "gotMessage", tag, text)


async def run(reactor: Any, args: argparse.Namespace) -> int:
    output = LineWriter(reactor, lambda: None)
    demo = Demo(reactor, output)
    try:
        return await publishAndReceive(demo, args.seconds)
    finally:
        demo.factory.shutdown()
        output.flush()


async def publishAndReceive(demo: Demo, seconds: float) -> int:
    reactor = demo.reactor
    demo.output.write(f"Publishing news, weather and stocks on {demo.address} for {seconds:g} s.")

    # Subscribe first (next() would subscribe by itself, but only when first
    # called; readWeather() subscribes as its loop starts), then wait until
    # every subscription has reached the publisher: ZeroMQ silently drops what
    # is published before that (the "slow joiner").
    demo.newsSub.subscribe(b"news")
    demo.stocksSub.subscribe(b"stocks")
    readers = [demo.readNews(), ensureDeferred(demo.readWeather())]
    subscribers = [demo.newsSub, demo.weatherSub, demo.stocksSub]
    await gatherResults([waitForSubscription(demo.publisher, sub) for sub in subscribers])

    rounds = max(1, round(seconds / INTERVAL))
    demo.started = reactor.seconds()
    for n in range(rounds):
        demo.publishRound(n)
        await deferLater(reactor, INTERVAL, lambda: None)

    # ZeroMQ keeps each publisher-to-subscriber stream in order, so once a new
    # probe reaches every subscriber, so has everything published before it.
    await gatherResults([waitForSubscription(demo.publisher, sub) for sub in subscribers])
    # Unsubscribing ends the readers once they have read what is queued.
    demo.newsSub.unsubscribe(b"news")
    demo.weatherSub.unsubscribe(b"weather")
    await gatherResults(readers)
    return summarize(demo, rounds)


def summarize(demo: Demo, rounds: int) -> int:
    write = demo.output.write
    write("")
    write(f"Summary: {rounds} rounds published.")
    ok = True
    for who, prefix, perRound in (
        ("news reader", "news.", 1),
        ("weather reader", "weather.", 1),
        ("stocks printer", "stocks.", len(STOCKS)),
    ):
        topics = demo.received[who]
        mine = sorted({topic for topic in topics if topic.startswith(prefix)})
        others = sorted({topic for topic in topics if not topic.startswith(prefix)})
        expected = rounds * perRound
        ok = ok and not others and len(topics) == expected
        write(
            f"  {who:<14} received {len(topics):2} of {expected:2} messages, "
            f"topics: {', '.join(mine) or '-'}"
            + (f"; NOT ITS OWN: {', '.join(others)}" if others else "")
        )
    if not ok:
        write("Something went wrong: a subscriber missed messages or got someone else's.")
        return 1
    write("Each subscriber received all of its own topics' messages, and nothing else.")
    return 0
