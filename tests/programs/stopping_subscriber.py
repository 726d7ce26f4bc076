"""
Stop the reactor under a busy Subscriber: no hang, every waiter told, nothing unhandled.

Run as ``stopping_subscriber.py '{"endpoint": "tcp://127.0.0.1:5555"}'``. A
ZmqSubConnection (its factory registered with ``registerForShutdown()``)
connects to the test's raw XPUB and sets up consumers that wait on tags that
never get a message, each in one of the styles users write:

- two ``next()`` Deferreds with an errback;
- a ``nextBatch()`` Deferred with an errback;
- an ``async for`` loop over a Subscription;
- an ``@inlineCallbacks`` loop around ``next()`` that catches ConnectionClosed;
- an ``async def`` loop around ``next()`` that catches ConnectionClosed.

It subscribes to ``data`` too, without reading it (so its queue fills), and
reports ``subscribed`` with every tag. When the ``end`` message arrives (the
test sends it after a burst of ``data`` and before another one) it reports
``stopping`` with the ``data`` queue's statistics, and calls reactor.stop() right
away. After reactor.run() returns it collects garbage (so that a Deferred
failing unhandled would be reported now, on stderr, where Twisted's log goes)
and reports ``stopped`` with what each consumer ended with.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable, Generator
from typing import Any

from _child import emit, logToStderr
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred, inlineCallbacks
from twisted.python.failure import Failure

from txzpub import ConnectionClosed, ZmqEndpoint, ZmqEndpointType, ZmqFactory, ZmqSubConnection

#: Every tag subscribed below (the test waits until the XPUB has seen them all).
TAGS = [
    "data",
    "never.next.1",
    "never.next.2",
    "never.batch",
    "never.loop",
    "never.inlineCallbacks",
    "never.async",
    "end",
]


def keep(ended: dict[str, str], name: str) -> Callable[[Any], None]:
    """Record what a consumer ended with: its result, or its failure's exception class."""

    def outcome(result: Any) -> None:
        ended[name] = type(result.value).__name__ if isinstance(result, Failure) else result

    return outcome


def waitInEveryStyle(sub: ZmqSubConnection, ended: dict[str, str]) -> None:
    """Consumers waiting on tags that never get a message, written as users write them."""
    for name in ("next.1", "next.2"):
        sub.next(b"never." + name.encode()).addBoth(keep(ended, name))
    sub.subscribe(b"never.batch").nextBatch(100).addBoth(keep(ended, "nextBatch"))

    async def loop() -> str:
        async for _ in sub.subscribe(b"never.loop"):
            return "got a message"
        return "ended"

    ensureDeferred(loop()).addBoth(keep(ended, "async for"))

    @inlineCallbacks
    def legacyLoop() -> Generator[Deferred[Any], Any, str]:
        while True:
            try:
                yield sub.next(b"never.inlineCallbacks")
            except ConnectionClosed:
                return "ConnectionClosed caught"

    legacyLoop().addBoth(keep(ended, "inlineCallbacks"))

    async def coroutineLoop() -> str:
        while True:
            try:
                await sub.next(b"never.async")
            except ConnectionClosed:
                return "ConnectionClosed caught"

    ensureDeferred(coroutineLoop()).addBoth(keep(ended, "async def"))


def main() -> int:
    config = json.loads(sys.argv[1])
    logToStderr()
    factory = ZmqFactory(reactor)
    factory.registerForShutdown()
    sub = ZmqSubConnection(factory, ZmqEndpoint(ZmqEndpointType.connect, config["endpoint"]))
    ended: dict[str, str] = {}
    data = sub.subscribe(b"data")
    waitInEveryStyle(sub, ended)

    def stop(_: object) -> None:
        stats = data.statistics()
        emit("stopping", queued=stats.queued, dropped=stats.dropped, endedEarly=dict(ended))
        reactor.stop()

    endArrived = sub.next(b"end")
    endArrived.addCallback(stop).addErrback(lambda f: emit("error", error=str(f)))
    emit("subscribed", tags=TAGS)
    reactor.run()
    gc.collect()
    stats = data.statistics()
    emit("stopped", ended=ended, queuedAfter=stats.queued, factoryClosed=factory.closed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
