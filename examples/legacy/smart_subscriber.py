"""
The txZMQ reference's SmartSubscriber example, ported to txzpub.

SmartSubscriber routes each message to the handler of the most specific
matching topic prefix. The class, the handlers and the usage are the
reference's, unchanged but for ruff's normalised quotes and line breaks; the
names the snippet uses come ``from txzpub import ...`` instead of txzmq.

The reference snippet ends after registering the handlers, with no reactor and
nothing to receive, so the additions marked "Addition" make it a whole program
that runs on its own: a publisher in this process bound to the endpoint
($TXZPUB_EXAMPLE_ENDPOINT, default tcp://127.0.0.1:5555, the reference's),
publishing the reference's "topic filtering" topics twice a second, and
stopping after argv[1] seconds (default 3). Run it alone:

    python examples/legacy/smart_subscriber.py
"""

import os
import sys

from twisted.internet import reactor

from txzpub import ZmqEndpoint, ZmqEndpointType, ZmqFactory, ZmqPubConnection, ZmqSubConnection

# Addition: the endpoint, and how many seconds to run.
ENDPOINT = os.environ.get("TXZPUB_EXAMPLE_ENDPOINT", "tcp://127.0.0.1:5555")
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0


class SmartSubscriber(ZmqSubConnection):
    def __init__(self, factory, endpoint):
        super().__init__(factory, endpoint)
        self.handlers = {}

    def add_topic_handler(self, topic_prefix, handler_func):
        """Add handler for specific topic prefix."""
        self.handlers[topic_prefix] = handler_func
        self.subscribe(topic_prefix)

    def gotMessage(self, message, tag):
        """Route messages to appropriate handlers based on topic."""
        tag_str = tag.decode()
        # Find most specific matching handler
        best_match = b""
        handler = None
        for topic_prefix, topic_handler in self.handlers.items():
            if tag_str.startswith(topic_prefix.decode()) and len(topic_prefix) > len(best_match):
                best_match = topic_prefix
                handler = topic_handler
        if handler:
            handler(message, tag)
        else:
            print(f"Unhandled message [{tag_str}]: {message.decode()}")


# Usage
def handle_breaking_news(message, tag):
    print(f"🚨 BREAKING: {message.decode()}")


def handle_sports(message, tag):
    print(f"⚽ Sports: {message.decode()}")


def handle_weather(message, tag):
    print(f"🌤 Weather: {message.decode()}")


factory = ZmqFactory()
endpoint = ZmqEndpoint(ZmqEndpointType.connect, ENDPOINT)  # the reference: "tcp://127.0.0.1:5555"
subscriber = SmartSubscriber(factory, endpoint)
# Register topic-specific handlers
subscriber.add_topic_handler(b"news.breaking", handle_breaking_news)
subscriber.add_topic_handler(b"news.sports", handle_sports)
subscriber.add_topic_handler(b"weather", handle_weather)

# Addition: something to receive. A publisher in this process publishes the
# topics of the reference's "topic filtering" section twice a second. Repeating
# matters: ZeroMQ drops what is published before the subscriptions reach the
# publisher (the "slow joiner"). stocks.AAPL matches no subscription, so the
# subscriber never sees it.
publisher = ZmqPubConnection(factory, ZmqEndpoint(ZmqEndpointType.bind, ENDPOINT))


def publish_topics():
    publisher.publish(b"Market update", b"news.breaking")
    publisher.publish(b"Team wins championship", b"news.sports")
    publisher.publish(b"Sunny, 25C", b"weather.local")
    publisher.publish(b'{"symbol":"AAPL","price":150.25,"volume":1000}', b"stocks.AAPL")
    reactor.callLater(0.5, publish_topics)


publish_topics()
reactor.callLater(SECONDS, reactor.stop)  # Addition: stop after SECONDS
reactor.run()
