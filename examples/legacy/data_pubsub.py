"""
The txZMQ reference's structured data example (DataPublisher and
DataSubscriber, JSON and timestamped JSON), ported to txzpub.

The classes are the reference's, unchanged but for ruff's normalised quotes
and line breaks; the names the snippet uses come ``from txzpub import ...``
instead of txzmq.

The reference's usage publishes twice, right after binding, and never uses
DataSubscriber; run as is it would show nothing. The additions marked
"Addition" make it a whole program that runs on its own: a DataSubscriber in
this process, the reference's two publish calls repeated twice a second, the
endpoint ($TXZPUB_EXAMPLE_ENDPOINT; the reference binds tcp://*:5555, this
binds tcp://127.0.0.1:5555), and stopping after argv[1] seconds (default 3):

    python examples/legacy/data_pubsub.py
"""

import json
import os
import pickle  # noqa: F401 - imported, and never used, by the reference
import sys
from datetime import datetime

from twisted.internet import reactor

from txzpub import ZmqEndpoint, ZmqEndpointType, ZmqFactory, ZmqPubConnection, ZmqSubConnection

# Addition: the endpoint, and how many seconds to run.
ENDPOINT = os.environ.get("TXZPUB_EXAMPLE_ENDPOINT", "tcp://127.0.0.1:5555")
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0


class DataPublisher(ZmqPubConnection):
    def publish_json(self, data, topic):
        """Publish data as JSON."""
        message = json.dumps(data).encode("utf-8")
        self.publish(message, topic)

    def publish_timestamped(self, data, topic):
        """Publish data with timestamp."""
        timestamped = {"timestamp": datetime.utcnow().isoformat(), "data": data}
        self.publish_json(timestamped, topic)


class DataSubscriber(ZmqSubConnection):
    def gotMessage(self, message, tag):
        try:
            # Try to parse as JSON first
            data = json.loads(message.decode("utf-8"))
            self.handle_json_message(data, tag)
        except (json.JSONDecodeError, UnicodeDecodeError):
            # Fall back to raw bytes
            self.handle_raw_message(message, tag)

    def handle_json_message(self, data, tag):
        if "timestamp" in data:
            print(f"[{data['timestamp']}] {tag.decode()}: {data['data']}")
        else:
            print(f"{tag.decode()}: {data}")

    def handle_raw_message(self, message, tag):
        print(f"{tag.decode()}: {message}")


# Usage example
factory = ZmqFactory()
pub_endpoint = ZmqEndpoint(ZmqEndpointType.bind, ENDPOINT)  # the reference: "tcp://*:5555"
publisher = DataPublisher(factory, pub_endpoint)

# Addition: a DataSubscriber in this process, to print what is published.
subscriber = DataSubscriber(factory, ZmqEndpoint(ZmqEndpointType.connect, ENDPOINT))
subscriber.subscribe(b"weather")
subscriber.subscribe(b"stocks")


# Addition: the reference's publish calls, repeated twice a second. Published
# once, right away, they would reach nobody: ZeroMQ drops what is published
# before the subscriptions reach the publisher (the "slow joiner").
def publish_data():
    # Publish structured data
    publisher.publish_timestamped(
        {"temperature": 25.5, "humidity": 60, "location": "NYC"}, b"weather.NYC"
    )
    publisher.publish_json({"symbol": "AAPL", "price": 150.25, "volume": 1000}, b"stocks.AAPL")
    reactor.callLater(0.5, publish_data)


publish_data()
reactor.callLater(SECONDS, reactor.stop)  # Addition: stop after SECONDS
reactor.run()
