"""
A reliable feed: a sequenced publisher, and a subscriber that gets back what ZeroMQ dropped.

ZeroMQ's pub/sub drops messages when a subscriber falls behind by more than
the high-water marks, and says nothing. A sequenced publisher numbers each
tag's messages and keeps the recent ones in a replay buffer; a subscriber
given the publisher's replay endpoint notices the missing numbers and asks
for them again:

    python examples/reliable_feed.py [count]

One process, nothing to start first. The publisher publishes a burst of
prices (argv[1], default 3000) in one go, so no subscriber reads meanwhile:
past the high-water marks (1,000 messages on each side of the inproc pipe)
ZeroMQ drops the rest, the last messages included. The subscriber with
replay notices at the publisher's next heartbeat that it missed the end of
the burst, gets it back, and reads every price in order, exactly once, with
``async for``. A subscriber without replay only counts its loss, and only
once the tag's next message shows it. Both print their statistics.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from twisted.internet.defer import ensureDeferred
from twisted.internet.task import react

from txzpub import (
    ConnectionEventKind,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)

if TYPE_CHECKING:
    # The type Twisted gives its global reactor, the one react() passes to main.
    from twisted.internet import _IReactorCommon as Reactor

FEED = "inproc://prices"
REPLAY = "inproc://prices-replay"
SETTLED = (ConnectionEventKind.RECOVERED, ConnectionEventKind.LOST)


async def main(reactor: Reactor, count: int) -> None:
    factory = ZmqFactory(reactor)
    publisher = ZmqPubConnection(
        factory,
        ZmqEndpoint(ZmqEndpointType.bind, FEED),
        sequenced=True,  # every message stamped: this publisher's identity, a number per tag
        replay=ZmqEndpoint(ZmqEndpointType.bind, REPLAY),  # keeps recent messages, answers
        heartbeatInterval=0.1,  # a lost last message is noticed within a few heartbeats
    )
    reliable = ZmqSubConnection(
        factory,
        ZmqEndpoint(ZmqEndpointType.connect, FEED),
        replay=ZmqEndpoint(ZmqEndpointType.connect, REPLAY),  # one per publisher it reads
    )
    plain = ZmqSubConnection(factory, ZmqEndpoint(ZmqEndpointType.connect, FEED))
    try:
        events = reliable.events()  # sees what happens from now on
        prices = reliable.subscribe(b"prices")
        counted = plain.subscribe(b"prices")
        await publisher.waitForSubscribers(2, b"prices", timeout=10)

        for n in range(1, count + 1):  # no reactor turn until the burst is over
            publisher.publish(f"{150 + n / 100:.2f}", b"prices.AAPL")
        print(f"published {count} prices in one burst")

        received = previous = 0
        async for message in prices:
            sequence = message.sequence or 0  # None only for an unsequenced publisher's
            assert sequence > previous, "in order, each message once"
            received, previous = received + 1, sequence
            if sequence == count:  # the burst's last message
                break
        stats = prices.statistics()
        if stats.recovered or stats.lost:
            # Each GAP ends in RECOVERED and LOST events whose values add up to its own.
            unsettled = 0
            async for event in events:
                if event.kind is ConnectionEventKind.GAP:
                    unsettled += event.value
                elif event.kind in SETTLED:
                    unsettled -= event.value
                else:
                    continue  # the publisher's arrival, or a connection event
                numbers = f" ({event.first} to {event.last})" if event.first else ""
                print(f"event: {event.kind.value}, {event.value} of {event.tag.decode()}{numbers}")
                if not unsettled:
                    break
        print(
            f"with replay: {received} received in order, {stats.recovered} recovered, "
            f"{stats.lost} lost"
        )

        publisher.publish(b"closed", b"prices.AAPL")  # the tag's next message
        while (await counted.next(timeout=10)).body != b"closed":
            pass
        print(f"without replay: {counted.statistics().lost} lost (counted, not recovered)")
        print(f"the publisher sent {publisher.replayStatistics().replayed} message(s) again")
    finally:
        factory.shutdown()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    react(lambda reactor: ensureDeferred(main(reactor, count)))
