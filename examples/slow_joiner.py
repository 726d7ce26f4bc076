"""
The slow joiner, cured: wait for subscribers, then publish; nothing is lost.

ZeroMQ delivers a subscription to the publisher asynchronously, so a message
published right after a subscriber connects is usually lost, and the usual
fix is a sleep. A txzpub publisher sees the subscriptions arrive (it is an
XPUB socket underneath), so it can wait for them instead:

    python examples/slow_joiner.py [subscribers]

A publisher binds a free port on 127.0.0.1; then a few subscribers (argv[1],
default 2) connect and subscribe to ``news``. The publisher waits with
``waitForSubscribers(count, b"news.first", timeout=10)`` and publishes one
message, which every subscriber receives as its very first.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import zmq
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.task import react

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


@inlineCallbacks
def main(reactor: Reactor, count: int) -> Generator[Deferred[Any], Any, None]:
    factory = ZmqFactory(reactor)
    publisher = ZmqPubConnection(factory, ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:0"))
    address = publisher.socket.get_string(zmq.LAST_ENDPOINT)
    try:
        # The subscribers join after the publisher started: the slow joiners.
        firsts: list[Deferred[Message]] = []
        for _ in range(count):
            sub = ZmqSubConnection(factory, ZmqEndpoint(ZmqEndpointType.connect, address))
            firsts.append(sub.next(b"news"))  # subscribes to b"news"

        # Instead of a sleep: fires once `count` subscriptions matching the tag arrived.
        yield publisher.waitForSubscribers(count, b"news.first", timeout=10)
        print(f"{count} subscriber(s) ready: {dict(publisher.subscriptions)}")
        publisher.publish(b"the very first message", b"news.first")

        messages: list[Message] = yield gatherResults(firsts)
        for n, message in enumerate(messages, 1):
            print(f"subscriber {n} got [{message.tag.decode()}]: {message.body.decode()}")
    finally:
        factory.shutdown()


if __name__ == "__main__":
    react(main, [int(sys.argv[1]) if len(sys.argv) > 1 else 2])
