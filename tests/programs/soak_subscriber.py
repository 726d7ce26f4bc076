"""
The soak's subscriber: txzpub with the shipped defaults, and a consumer far too slow.

Run as ``soak_subscriber.py '{"endpoint": ..., "perTick": 50, "tick": 0.01}'``.
A ZmqSubConnection with the shipped defaults (maxQueued 10,000, DROP_OLDEST,
high-water mark 1,000; ``"overflow": "pause"`` in the configuration changes
only the policy) subscribes to ``soak`` and ``end``. Every *tick* seconds
a LoopingCall takes at most *perTick* messages with ``nextBatch()`` (only when
some are queued, so no read ever waits): 5,000 messages a second by default,
far below what arrives, so the queue stays full and drops its oldest.

Bookkeeping is O(1) (a growing list would be the soak's own leak): messages
delivered, the last sequence number, the sum of the gaps between consecutive
ones, and how often one did not increase. Every second it reports ``rss`` (its
own VmRSS, with the queue's counters). When ``end`` arrives (it carries how many
were sent; everything before it is already routed) it drains the queue, reports
``done`` with the totals, the queue's statistics and the memory bound, and
stops the reactor (the factory is registered for shutdown).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from _child import emit, logToStderr, rssBytes
from twisted.internet import reactor, task

from txzpub import Message, ZmqEndpoint, ZmqEndpointType, ZmqFactory, ZmqSubConnection


class Tally:
    """What the consumer saw, in constant memory."""

    def __init__(self) -> None:
        self.delivered = 0
        self.last = -1
        self.gaps = 0
        self.notIncreasing = 0
        self.sample: Message | None = None

    def take(self, batch: list[Message]) -> None:
        last = self.last
        for message in batch:
            seq = int.from_bytes(message.body[:8], "big")
            if seq <= last:
                self.notIncreasing += 1
            else:
                self.gaps += seq - last - 1
            last = seq
        self.last = last
        self.delivered += len(batch)
        if self.sample is None and batch:
            self.sample = batch[0]


def messageBytes(message: Message) -> int:
    """A queued message's memory as bench/ counts it: three objects in 16-byte classes, a slot."""
    parts = (message, message.body, message.tag)
    return sum(-(-sys.getsizeof(part) // 16) * 16 for part in parts) + 8


def main() -> int:
    config = json.loads(sys.argv[1])
    perTick, tick = int(config.get("perTick", 50)), float(config.get("tick", 0.01))
    logToStderr()
    factory = ZmqFactory(reactor)
    factory.registerForShutdown()
    endpoint = ZmqEndpoint(ZmqEndpointType.connect, config["endpoint"])
    if "overflow" in config:
        sub = ZmqSubConnection(factory, endpoint, overflow=config["overflow"])
    else:  # the shipped defaults, untouched
        sub = ZmqSubConnection(factory, endpoint)
    data = sub.subscribe(b"soak")
    tally = Tally()

    def consume() -> None:
        if data.statistics().queued:  # only then: nextBatch() fires at once, never waits
            data.nextBatch(perTick).addCallback(tally.take)

    def sample() -> None:
        stats = data.statistics()
        emit(
            "rss",
            rss=rssBytes(),
            queued=stats.queued,
            dropped=stats.dropped,
            delivered=tally.delivered,
        )

    consumer = task.LoopingCall(consume)
    sampler = task.LoopingCall(sample)

    def finish(end: Message) -> None:
        consumer.stop()
        sample()
        sampler.stop()
        while data.statistics().queued:  # everything sent before the end marker
            data.nextBatch(100_000).addCallback(tally.take)
        stats = data.statistics()
        perMessage = messageBytes(tally.sample) if tally.sample else 0
        frame = len(b"soak\0") + 100
        hwm, batch = sub.highWaterMark, sub.readBatchSize
        emit(
            "done",
            sent=int(end.body),
            delivered=tally.delivered,
            dropped=stats.dropped,
            peak=stats.peak,
            maxQueued=stats.maxQueued,
            overflow=stats.overflow.value,
            last=tally.last,
            gaps=tally.gaps,
            notIncreasing=tally.notIncreasing,
            messageBytes=perMessage,
            hwm=hwm,
            readBatchSize=batch,
            # As bench/ bounds its memory workload: the queue plus one read batch of
            # messages, and libzmq's receive pipe (frame + a 64-byte zmq_msg_t each).
            bound=(stats.maxQueued + batch) * perMessage + hwm * (frame + 64),
        )
        reactor.stop()

    def failed(failure: Any) -> None:
        emit("error", error=str(failure))
        reactor.stop()

    sub.next(b"end").addCallback(finish).addErrback(failed)
    sampler.start(1.0, now=True)
    consumer.start(tick, now=False)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
