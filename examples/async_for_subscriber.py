"""
Reading with ``async for message in sub.subscribe(tag)`` in a coroutine.

One process, nothing to start first: a publisher bound to a free port on
127.0.0.1 publishes stock prices (and news, which this subscriber does not
want) every 0.1 s; a coroutine, run with ensureDeferred, loops over the
``b"stocks"`` subscription until it has printed a few quotes (argv[1],
default 5), then shuts down.

    python examples/async_for_subscriber.py [count]

Breaking out of the loop is one way to stop; the loop also ends by itself
when the tag is unsubscribed (after what was already queued) or the
connection shuts down.
"""

from __future__ import annotations

import itertools
import json
import sys
from typing import TYPE_CHECKING

import zmq
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import LoopingCall, react

from txzpub import ZmqEndpoint, ZmqEndpointType, ZmqFactory, ZmqPubConnection, ZmqSubConnection

if TYPE_CHECKING:
    # The type Twisted gives its global reactor, the one react() passes to main.
    from twisted.internet import _IReactorCommon as Reactor


async def main(reactor: Reactor, count: int) -> None:
    factory = ZmqFactory(reactor)
    bind = ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:0")  # port 0: any free port
    publisher = ZmqPubConnection(factory, bind)
    address = publisher.socket.get_string(zmq.LAST_ENDPOINT)
    sub = ZmqSubConnection(factory, ZmqEndpoint(ZmqEndpointType.connect, address))

    counter = itertools.count()

    def publishSome() -> None:
        n = next(counter)
        for symbol, base in (("AAPL", 150.0), ("GOOGL", 2800.0)):
            quote = {"symbol": symbol, "price": base + n / 4, "volume": 100 * (n + 1)}
            publisher.publish(json.dumps(quote), f"stocks.{symbol}")
        publisher.publish("Markets rally", b"news.world")

    ticker = LoopingCall(publishSome)
    ticker.clock = reactor
    ticker.start(0.1)
    received = 0
    try:
        async for message in sub.subscribe(b"stocks"):
            quote = json.loads(message.body)
            print(
                f"{message.tag.decode()}: {quote['symbol']} ${quote['price']:.2f} "
                f"(volume {quote['volume']})"
            )
            received += 1
            if received == count:
                break
    finally:
        ticker.stop()
        factory.shutdown()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    react(lambda reactor: ensureDeferred(main(reactor, count)))
