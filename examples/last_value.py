"""
A last value cache: a late subscriber starts with the current value of each topic.

Prices change rarely; a subscriber that joins between two changes would see
nothing until the next one. With ``lastValueCache=True`` the publisher keeps
the last message of every tag and, whenever a subscription arrives, sends the
last message of each tag it matches (the ZeroMQ guide's LVC pattern):

    python examples/last_value.py

The publisher publishes three prices, one of them twice, before anybody
listens; then a subscriber to ``prices`` joins and prints the current price of
each stock at once, without the publisher publishing again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import zmq
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import react

from txzpub import ZmqEndpoint, ZmqEndpointType, ZmqFactory, ZmqPubConnection, ZmqSubConnection

if TYPE_CHECKING:
    # The type Twisted gives its global reactor, the one react() passes to main.
    from twisted.internet import _IReactorCommon as Reactor


async def main(reactor: Reactor) -> None:
    factory = ZmqFactory(reactor)
    bind = ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:0")
    publisher = ZmqPubConnection(factory, bind, lastValueCache=True)
    publisher.publish(b"150.25", b"prices.AAPL")
    publisher.publish(b"2800.50", b"prices.GOOGL")
    publisher.publish(b"151.00", b"prices.AAPL")  # replaces 150.25 in the cache
    publisher.publish(b"sunny", b"weather.paris")  # not a price: never sent below
    address = publisher.socket.get_string(zmq.LAST_ENDPOINT)
    print("published 3 prices and the weather before anybody listened")

    late = ZmqSubConnection(factory, ZmqEndpoint(ZmqEndpointType.connect, address))
    prices = late.subscribe(b"prices")
    current: dict[str, str] = {}
    while len(current) < 2:
        message = await prices.next(timeout=10)
        current[message.tag.decode()] = message.body.decode()
    for tag in sorted(current):
        print(f"late subscriber: {tag} is {current[tag]}")
    factory.shutdown()


if __name__ == "__main__":
    react(lambda reactor: ensureDeferred(main(reactor)))
