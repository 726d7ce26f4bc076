"""
What a sequenced stream costs per message, in one process: the subscriber's
delivery, its reader's frames and publish(), each framing side by side.

    python bench/sequenced.py [--repeats N] [--messages N]

The end-to-end workloads (``run.py --only seqsub seqpub seqlatency``) measure
two processes and four threads sharing the machine; on a busy machine their
ratios spread widely. This measures the same paths without the transport, so
a change to them shows up in seconds:

- **deliver**: ``Subscriber._receiveBatch`` on prebuilt read batches of 1,000
  messages, as the reader hands them over (one frame ``tag\\0body``, two frames
  ``[tag, body]``, or ``[tag, body, stamp]`` with valid stamps), for a
  ``gotMessage`` subclass, a ``nextBatch()`` consumer (its queue emptied after
  each batch) and a ``next()`` consumer (a callback chain, one Deferred per
  message, as an ``@inlineCallbacks`` loop);
- **read**: the reader's loop (``SocketReader._drain``: ``recv(copy=False)``,
  ``frame.more``, ``frame.bytes``) over a PAIR socket filled beforehand;
- **publish**: ``ZmqPubConnection.publish()`` to an inproc SUB: one frame,
  ``multipartFraming``, ``sequenced`` and ``sequenced`` with a replay buffer.

Every time is this thread's CPU time (``time.thread_time``), so another
process taking the CPU away does not count (a busy machine still slows the
CPU itself: compare ratios). Rounds are interleaved; "speed vs one frame" is
the median of the per-round ratios one frame / row (0.80x: the row does 80%
of one frame's work rate), the form of the target sequenced >= 0.8x plain.
It uses txzpub's private hooks (``_receiveBatch``), as a benchmark of
internals may.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from importlib import metadata

import zmq

TAG = b"t.0000"
BODY = b"x" * 100
BATCH = 1000
FRAMINGS = ("one frame", "two frames", "sequenced")


class Stamps:
    """Valid stamps of one publisher, numbered on from where the last batch stopped."""

    def __init__(self) -> None:
        from txzpub._core._stamp import Sequencer, newPublisherId

        self.prefix = Sequencer(newPublisherId()).prefix
        self.used = 0

    def batch(self, framing: str, size: int) -> list[list[bytes]]:
        if framing == "one frame":
            return [[TAG + b"\0" + BODY] for _ in range(size)]
        if framing == "two frames":
            return [[TAG, BODY] for _ in range(size)]
        first = self.used + 1
        self.used += size
        prefix = self.prefix
        return [[TAG, BODY, prefix + n.to_bytes(8, "big")] for n in range(first, self.used + 1)]


def subscriber(factory, consumer: str) -> tuple[object, Callable[[], object]]:
    """A subscriber to TAG with *consumer*, and what to do after each read batch."""
    import txzpub

    if consumer == "gotMessage":

        class Legacy(txzpub.ZmqSubConnection):
            n = 0

            def gotMessage(self, message: bytes, tag: bytes) -> None:
                self.n += 1

        conn = Legacy(factory)
        conn.subscribe(TAG)
        return conn, lambda: None
    conn = txzpub.ZmqSubConnection(factory)
    subscription = conn.subscribe(TAG)
    if consumer == "nextBatch(1000)":
        return conn, lambda: subscription.nextBatch(10**6)

    def got(message: object) -> None:
        conn.next(TAG).addCallbacks(got, closed)

    def closed(failure: object) -> None:
        """The factory's shutdown ends the chain."""

    conn.next(TAG).addCallbacks(got, closed)
    return conn, lambda: None


def deliverRows(messages: int, repeats: int) -> list[tuple[str, dict[str, list[float]]]]:
    from twisted.internet import reactor

    import txzpub

    factory = txzpub.ZmqFactory(reactor)
    batches = max(1, messages // BATCH)
    rows = []
    try:
        for consumer in ("gotMessage", "nextBatch(1000)", "next()"):
            made = {framing: subscriber(factory, consumer) for framing in FRAMINGS}
            stamps = {framing: Stamps() for framing in FRAMINGS}
            times: dict[str, list[float]] = {framing: [] for framing in FRAMINGS}
            for _ in range(repeats):
                for framing in FRAMINGS:
                    conn, after = made[framing]
                    prepared = [stamps[framing].batch(framing, BATCH) for _ in range(batches)]
                    receive = conn._receiveBatch  # noqa: SLF001 - what the reader calls
                    spent = 0.0
                    for batch in prepared:
                        started = time.thread_time()
                        receive(batch)
                        after()
                        spent += time.thread_time() - started
                    times[framing].append(spent / (batches * BATCH) * 1e9)
            conn, _ = made["sequenced"]
            stats = conn.streamStatistics()
            if stats.publishers != 1 or stats.lost or stats.duplicates or stats.malformed:
                msg = f"{consumer}: the sequenced stream was not read cleanly: {stats}"
                raise AssertionError(msg)
            rows.append((f"deliver, {consumer}", times))
    finally:
        factory.shutdown()
    return rows


def readRow(messages: int, repeats: int) -> tuple[str, dict[str, list[float]]]:
    """The reader's loop over messages of each framing, already queued in libzmq."""
    context = zmq.Context()
    stamps = Stamps()
    times: dict[str, list[float]] = {framing: [] for framing in FRAMINGS}
    flags, copy = int(zmq.NOBLOCK), False
    try:
        for round_ in range(repeats):
            for framing in FRAMINGS:
                writer, reader = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
                writer.set(zmq.SNDHWM, 0)
                reader.set(zmq.RCVHWM, 0)
                address = f"inproc://sequenced-read-{round_}-{len(framing)}"
                reader.bind(address)
                writer.connect(address)
                for frames in stamps.batch(framing, messages):
                    writer.send_multipart(frames)
                recv = reader.recv
                batch: list[list[bytes]] = []
                append = batch.append
                started = time.thread_time()
                for _ in range(messages):  # SocketReader._drain's loop, without EVENTS
                    frame = recv(flags, copy)
                    if not frame.more:
                        append([frame.bytes])
                        continue
                    parts = [frame.bytes]
                    while frame.more:
                        frame = recv(flags, copy)
                        parts.append(frame.bytes)
                    append(parts)
                times[framing].append((time.thread_time() - started) / messages * 1e9)
                writer.close(0)
                reader.close(0)
    finally:
        context.term()
    return "read (the reader's recv loop)", times


PUBLISHERS = {
    "one frame": {},
    "two frames": {"multipartFraming": True},
    "sequenced": {"sequenced": True},
    "sequenced + replay buffer": {"sequenced": True, "replay": "tcp://127.0.0.1:0"},
}


def drain(sub: zmq.Socket, expected: int, waitMs: int) -> int:
    """Read the SUB's messages until *expected* arrived, or none for *waitMs*; count them."""
    received = 0
    while received < expected and sub.poll(waitMs):
        while sub.get(zmq.EVENTS) & zmq.POLLIN:
            sub.recv()
            received += not sub.get(zmq.RCVMORE)
    return received


def publishRow(messages: int, repeats: int) -> tuple[str, dict[str, list[float]]]:
    """publish() CPU time per message, SNDHWM 0, an inproc SUB drained between rounds."""
    from twisted.internet import reactor

    import txzpub

    class Pub(txzpub.ZmqPubConnection):
        highWaterMark = 0

    factory = txzpub.ZmqFactory(reactor)
    bind = txzpub.ZmqEndpointType.bind
    context = factory.context  # inproc: the publisher's own context
    assert context is not None
    made = {}
    try:
        for number, (name, options) in enumerate(PUBLISHERS.items()):
            address = f"inproc://sequenced-publish-{number}"
            keywords = dict(options)
            if "replay" in keywords:
                keywords["replay"] = txzpub.ZmqEndpoint(bind, options["replay"])
            pub = Pub(factory, txzpub.ZmqEndpoint(bind, address), **keywords)
            sub = context.socket(zmq.SUB)
            sub.set(zmq.RCVHWM, 0)
            sub.connect(address)
            sub.set(zmq.SUBSCRIBE, TAG)
            made[name] = (pub, sub)
        for name, (pub, sub) in made.items():  # probe until each SUB's subscription is in
            for _ in range(500):
                pub.publish(b"", TAG)
                if sub.poll(10):
                    break
            else:
                msg = f"publish, {name}: the subscriber never received a probe"
                raise AssertionError(msg)
            drain(sub, 1, 100)
        times: dict[str, list[float]] = {name: [] for name in PUBLISHERS}
        for _ in range(repeats):
            for name, (pub, sub) in made.items():
                publish = pub.publish
                started = time.thread_time()
                for _ in range(messages):
                    publish(BODY, TAG)
                times[name].append((time.thread_time() - started) / messages * 1e9)
                received = drain(sub, messages, 1000)
                if received < messages:
                    msg = f"publish, {name}: {received} of {messages} messages arrived"
                    raise AssertionError(msg)
    finally:
        for _, sub in made.values():
            sub.close(0)
        factory.shutdown()
    return "publish() (CPU)", times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9, help="interleaved rounds (9)")
    parser.add_argument("--messages", type=int, default=20_000, help="per row and round")
    options = parser.parse_args()
    print(
        f"txzpub {metadata.version('txzpub')}, pyzmq {zmq.__version__}, libzmq "
        f"{zmq.zmq_version()}, {platform.python_implementation()} {platform.python_version()}; "
        f"{len(BODY)} B bodies, {options.messages:,} messages per row and round, median of "
        f"{options.repeats} interleaved rounds\n"
    )
    rows = [
        *deliverRows(options.messages, options.repeats),
        readRow(options.messages, options.repeats),
        publishRow(options.messages, options.repeats),
    ]
    print("| path | framing | ns/msg | speed vs one frame (range) |")
    print("|:--|:--|--:|--:|")
    for label, times in rows:
        base = times["one frame"]
        for framing, values in times.items():
            if framing == "one frame":
                shown = "-"
            else:
                ratios = [b / v for b, v in zip(base, values, strict=True)]
                mid = statistics.median(ratios)
                shown = f"{mid:.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
            print(f"| {label} | {framing} | {statistics.median(values):,.0f} | {shown} |")


if __name__ == "__main__":
    main()
