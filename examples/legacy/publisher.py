"""
The txZMQ reference's publisher example, ported to txzpub.

Only the import line changed: ``from txzmq import ...`` became
``from txzpub import ...`` (ruff sorted the names and normalised quotes and
line breaks). The additions marked "Addition" make it a whole program that
ends: the endpoint (the reference binds tcp://*:5555; this binds 127.0.0.1, or
$TXZPUB_EXAMPLE_ENDPOINT) and stopping after argv[1] seconds (default 30).

Run it, then run topic_subscribers.py in another terminal within 30 s:

    python examples/legacy/publisher.py
    python examples/legacy/topic_subscribers.py

The subscribers print the stock prices published every second. The messages
published once at start-up reach nobody: no subscriber is connected yet
(ZeroMQ's "slow joiner"; see examples/demo.py for how to wait for them).
"""

import os
import sys

from twisted.internet import reactor

from txzpub import ZmqEndpoint, ZmqEndpointType, ZmqFactory, ZmqPubConnection

# Addition: where to bind, and how many seconds to run.
ENDPOINT = os.environ.get("TXZPUB_EXAMPLE_ENDPOINT", "tcp://127.0.0.1:5555")
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0

# Create publisher
factory = ZmqFactory()
endpoint = ZmqEndpoint(ZmqEndpointType.bind, ENDPOINT)  # the reference: "tcp://*:5555"
publisher = ZmqPubConnection(factory, endpoint)
# Publish messages with different topics
publisher.publish(b"Breaking news: Market update", b"news")
publisher.publish(b"Weather: Sunny, 25C", b"weather")
publisher.publish(b"Sports: Team wins championship", b"sports")
# Publish message to all subscribers (no topic filter)
publisher.publish(b"System maintenance in 1 hour", b"")


# High-frequency publishing example
def publish_stock_prices():
    publisher.publish(b'{"symbol":"AAPL","price":150.25,"volume":1000}', b"stocks.AAPL")
    publisher.publish(b'{"symbol":"GOOGL","price":2800.50,"volume":500}', b"stocks.GOOGL")
    reactor.callLater(1.0, publish_stock_prices)  # Publish every second


publish_stock_prices()
reactor.callLater(SECONDS, reactor.stop)  # Addition: stop after SECONDS
reactor.run()
