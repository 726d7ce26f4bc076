"""
Structured data in the new style: JSON and timestamped JSON, read with
``await subscription.next()``.

One process, nothing to start first: a subscriber subscribes to weather and
stocks, waits until those subscriptions have reached the publisher (so nothing
published afterwards is lost: txzpub.testing.waitForSubscription, no sleep),
then the publisher publishes a few records once and the subscriber reads
exactly those, decoding JSON and falling back to raw bytes.

    python examples/json_data.py
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import zmq
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import react

from txzpub import (
    Message,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)
from txzpub.testing import waitForSubscription

if TYPE_CHECKING:
    # The type Twisted gives its global reactor, the one react() passes to main.
    from twisted.internet import _IReactorCommon as Reactor


def publish_json(publisher: ZmqPubConnection, data: object, topic: bytes) -> None:
    publisher.publish(json.dumps(data).encode("utf-8"), topic)


def publish_timestamped(publisher: ZmqPubConnection, data: object, topic: bytes) -> None:
    publish_json(
        publisher, {"timestamp": datetime.now(timezone.utc).isoformat(), "data": data}, topic
    )


def show(message: Message) -> None:
    topic = message.tag.decode()
    try:
        data = json.loads(message.body.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        print(f"{topic}: raw {message.body!r}")
        return
    if isinstance(data, dict) and "timestamp" in data:
        print(f"[{data['timestamp']}] {topic}: {data['data']}")
    else:
        print(f"{topic}: {data}")


async def main(reactor: Reactor) -> None:
    factory = ZmqFactory(reactor)
    bind = ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:0")  # port 0: any free port
    publisher = ZmqPubConnection(factory, bind)
    address = publisher.socket.get_string(zmq.LAST_ENDPOINT)
    sub = ZmqSubConnection(factory, ZmqEndpoint(ZmqEndpointType.connect, address))
    weather = sub.subscribe(b"weather")
    stocks = sub.subscribe(b"stocks")
    await waitForSubscription(publisher, sub)

    publish_timestamped(publisher, {"temperature": 25.5, "humidity": 60}, b"weather.NYC")
    publish_timestamped(publisher, {"temperature": 14.0, "humidity": 81}, b"weather.LON")
    publish_json(publisher, {"symbol": "AAPL", "price": 150.25, "volume": 1000}, b"stocks.AAPL")
    publish_json(publisher, {"symbol": "GOOGL", "price": 2800.5, "volume": 500}, b"stocks.GOOGL")
    publisher.publish(b"\x00\x01 not JSON", b"stocks.raw")

    try:
        for _ in range(2):
            show(await weather.next())
        for _ in range(3):
            show(await stocks.next())
    finally:
        factory.shutdown()


if __name__ == "__main__":
    react(lambda reactor: ensureDeferred(main(reactor)))
