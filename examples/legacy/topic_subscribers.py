"""
The txZMQ reference's topic subscribers example, ported to txzpub.

Only the import line changed: ``from txzmq import ...`` became
``from txzpub import ...`` (ruff sorted the names and normalised quotes and
line breaks). The additions marked "Addition" make it a whole program that
ends: the endpoint ($TXZPUB_EXAMPLE_ENDPOINT overrides the reference's
tcp://127.0.0.1:5555) and stopping after argv[1] seconds (default 10).

Run it next to the legacy publisher:

    python examples/legacy/publisher.py &
    python examples/legacy/topic_subscribers.py

It prints the stock prices the publisher sends every second, once from
StockSubscriber and once from MultiSubscriber (subscribed to everything).
"""

import os
import sys

from twisted.internet import reactor

from txzpub import ZmqEndpoint, ZmqEndpointType, ZmqFactory, ZmqSubConnection

# Addition: where to connect, and how many seconds to run.
ENDPOINT = os.environ.get("TXZPUB_EXAMPLE_ENDPOINT", "tcp://127.0.0.1:5555")
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0


class NewsSubscriber(ZmqSubConnection):
    def gotMessage(self, message, tag):
        print(f"News [{tag.decode()}]: {message.decode()}")


class WeatherSubscriber(ZmqSubConnection):
    def gotMessage(self, message, tag):
        print(f"Weather Update: {message.decode()}")


class StockSubscriber(ZmqSubConnection):
    def gotMessage(self, message, tag):
        import json

        data = json.loads(message.decode())
        print(f"Stock {data['symbol']}: ${data['price']} (Volume: {data['volume']})")


# Create subscribers
factory = ZmqFactory()
endpoint = ZmqEndpoint(ZmqEndpointType.connect, ENDPOINT)  # the reference: "tcp://127.0.0.1:5555"
# News subscriber - only news topics
news_sub = NewsSubscriber(factory, endpoint)
news_sub.subscribe(b"news")
# Weather subscriber - only weather topics
weather_sub = WeatherSubscriber(factory, endpoint)
weather_sub.subscribe(b"weather")
# Stock subscriber - all stock topics
stock_sub = StockSubscriber(factory, endpoint)
stock_sub.subscribe(b"stocks")  # Receives stocks.AAPL, stocks.GOOGL, etc.


# Multi-topic subscriber
class MultiSubscriber(ZmqSubConnection):
    def gotMessage(self, message, tag):
        print(f"Multi [{tag.decode()}]: {message.decode()}")


multi_sub = MultiSubscriber(factory, endpoint)
multi_sub.subscribe(b"news")
multi_sub.subscribe(b"weather")
multi_sub.subscribe(b"")  # Subscribe to all messages (including untagged)
reactor.callLater(SECONDS, reactor.stop)  # Addition: stop after SECONDS
reactor.run()
