# -*- test-case-name: tests.test_cli -*-
"""
``txzpub bench``: how fast txzpub moves messages on this machine.

One process: a ZmqPubConnection and a ZmqSubConnection on the same reactor
(libzmq's I/O thread carries the bytes between them), over inproc, ipc or tcp
on 127.0.0.1. Two phases:

* throughput: N messages of B bytes, read with ``Subscription.nextBatch()``,
  with at most WINDOW published but not yet received, so ZeroMQ's high-water
  marks (1,000) never drop one and every message is counted;
* latency: up to 10,000 messages one at a time, each timed from ``publish()``
  to its ``next()`` Deferred firing; p50 and p99.

Progress goes to stderr (a line rewritten in place on a terminal, a line per
phase otherwise); the results table goes to stdout.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from typing import Any, TextIO

import zmq
from twisted.internet.defer import Deferred

from txzpub import (
    Message,
    Subscription,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
    __version__,
)
from txzpub.testing import waitForSubscription, withDeadline

from ._common import nonNegativeInt, positiveInt, say
from ._render import LineWriter

__all__ = ["addArguments", "run"]

TAG = b"bench"
#: Most messages published and not yet received, in the throughput phase.
WINDOW = 500
#: Most messages timed one at a time, in the latency phase.
LATENCY_MESSAGES = 10_000
#: Seconds without progress after which the run is reported as stalled.
STALL_SECONDS = 10.0
#: Seconds between two updates of the progress line on a terminal.
REFRESH = 0.1


class BenchPublisher(ZmqPubConnection):
    """
    A publisher without a high-water mark: the window bounds what is in flight.

    With the default (1,000) libzmq's PUB sometimes drops with only a few
    hundred messages outstanding over ipc/tcp: it learns that its peer has read
    messages in steps of half the mark, and late.
    """

    highWaterMark = 0


def addArguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--messages",
        type=positiveInt,
        default=100_000,
        metavar="N",
        help="messages in the throughput phase (default: 100000)",
    )
    parser.add_argument(
        "--size",
        type=nonNegativeInt,
        default=100,
        metavar="B",
        help="bytes in each message body (default: 100)",
    )
    parser.add_argument(
        "--transport",
        choices=("inproc", "ipc", "tcp"),
        default="tcp",
        help="how publisher and subscriber are connected (default: tcp on 127.0.0.1)",
    )


class Progress:
    """A progress line on stderr: rewritten in place on a terminal, else one line per phase."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.tty = self.stream.isatty()
        self.shown = 0.0
        self.width = 0

    def phase(self, text: str) -> None:
        if self.tty:
            self.show(text, force=True)
        else:
            say("bench", text)

    def show(self, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.tty or (not force and now - self.shown < REFRESH):
            return
        self.shown = now
        line = f"txzpub bench: {text}"
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def clear(self) -> None:
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


class Results:
    def __init__(self, messages: int, seconds: float, size: int, latencies: list[int]) -> None:
        self.messages = messages
        self.rate = messages / seconds
        self.megabytes = self.rate * size / 1e6
        ordered = sorted(latencies)
        self.p50 = percentile(ordered, 0.50) / 1000
        self.p99 = percentile(ordered, 0.99) / 1000


def percentile(ordered: list[int], fraction: float) -> float:
    """The nearest-rank percentile of *ordered* (not empty)."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def throughput(
    reactor: Any,
    publisher: ZmqPubConnection,
    subscription: Subscription,
    args: argparse.Namespace,
    progress: Progress,
) -> float:
    """Publish and receive --messages messages; return the seconds it took."""
    body = b"x" * args.size
    total = args.messages
    publish = publisher.publish
    sent = received = 0
    progress.phase(f"throughput: {total:,} messages of {args.size:,} B")
    started = time.perf_counter()
    while received < total:
        while sent < total and sent - received < WINDOW:
            publish(body, TAG)
            sent += 1
        what = f"a batch of messages ({received:,} of {total:,} received so far)"
        batch = await withDeadline(subscription.nextBatch(WINDOW), STALL_SECONDS, reactor, what)
        received += len(batch)
        progress.show(f"throughput: {received:,} of {total:,} messages ({received / total:.0%})")
    return time.perf_counter() - started


async def latency(
    reactor: Any,
    publisher: ZmqPubConnection,
    subscription: Subscription,
    args: argparse.Namespace,
    progress: Progress,
) -> list[int]:
    """Time messages one at a time, publish() to next() firing; return nanoseconds."""
    body = b"x" * args.size
    count = min(args.messages, LATENCY_MESSAGES)
    samples: list[int] = []
    progress.phase(f"latency: {count:,} messages one at a time")
    for n in range(count):
        arrived: Deferred[Message] = subscription.next()
        arrived.addCallback(stamp, samples, time.perf_counter_ns())
        publisher.publish(body, TAG)
        await withDeadline(arrived, STALL_SECONDS, reactor, f"message {n + 1:,} of {count:,}")
        progress.show(f"latency: {n + 1:,} of {count:,} messages ({(n + 1) / count:.0%})")
    return samples


def stamp(message: Message, samples: list[int], started: int) -> Message:
    samples.append(time.perf_counter_ns() - started)
    return message


async def run(reactor: Any, args: argparse.Namespace) -> int:
    factory = ZmqFactory(reactor)
    factory.lingerPeriod = 0
    directory = tempfile.mkdtemp(prefix="txzpub-bench-") if args.transport == "ipc" else None
    address = {
        "inproc": f"inproc://txzpub-bench-{os.getpid()}",
        "ipc": f"ipc://{directory}/bench",
        "tcp": "tcp://127.0.0.1:0",
    }[args.transport]
    progress = Progress()
    try:
        publisher = BenchPublisher(factory, ZmqEndpoint(ZmqEndpointType.bind, address))
        address = publisher.socket.get_string(zmq.LAST_ENDPOINT)
        subscriber = ZmqSubConnection(factory, ZmqEndpoint(ZmqEndpointType.connect, address))
        subscription = subscriber.subscribe(TAG)
        await waitForSubscription(publisher, subscriber, timeout=STALL_SECONDS)
        try:
            seconds = await throughput(reactor, publisher, subscription, args, progress)
            samples = await latency(reactor, publisher, subscription, args, progress)
        except TimeoutError as stalled:
            progress.clear()
            say("bench", f"error: stalled: {stalled}")
            return 1
    finally:
        progress.clear()
        factory.shutdown()
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
    report(reactor, address, args, Results(args.messages, seconds, args.size, samples))
    return 0


def report(reactor: Any, address: str, args: argparse.Namespace, results: Results) -> None:
    output = LineWriter(reactor, lambda: None)
    count = min(args.messages, LATENCY_MESSAGES)
    for line in (
        f"txzpub bench over {address}: publisher and subscriber in one process",
        f"  (one reactor thread for both, plus libzmq's I/O thread); txzpub {__version__}",
        (
            f"throughput: {args.messages:,} messages of {args.size:,} B, "
            f"at most {WINDOW} in flight; MB/s counts message bodies"
        ),
        f"latency: {count:,} messages one at a time, publish() to next() firing",
        "",
        (
            f"{'transport':<10} {'messages':>10} {'size':>8} {'msgs/s':>10} {'MB/s':>8}"
            f" {'p50 µs':>8} {'p99 µs':>8}"
        ),
        (
            f"{args.transport:<10} {results.messages:>10,} {f'{args.size:,} B':>8}"
            f" {results.rate:>10,.0f} {results.megabytes:>8.1f}"
            f" {results.p50:>8.1f} {results.p99:>8.1f}"
        ),
    ):
        output.write(line)
    output.flush()
