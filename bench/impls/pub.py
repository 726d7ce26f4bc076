"""
Publishers for the publisher-throughput benchmark. Variants: ``txzpub``
(ZmqPubConnection.publish), ``txzmq`` (txZMQ 1.0.0's publish), ``raw`` (a plain
pyzmq ``send``) and ``asyncio`` (``await sock.send()`` on zmq.asyncio). Every
variant builds ``tag + b"\\0" + body`` per message (the Twisted ones inside
publish()) and has SNDHWM 0, so nothing is dropped at the publisher.

The txzpub variant takes a *framing* (bench/_workloads.py's ``seqpub``):
``one`` (the default, one frame), ``two`` (``multipartFraming=True``),
``sequenced`` (``sequenced=True``: ``[tag, body, stamp]``, heartbeats) and
``replay`` (sequenced with a replay buffer and socket bound to a free tcp
port: every message is also kept, ``replayDepth`` 10,000 by default).

Connects to bench/impls/drain.py: probes until the drain says ``go`` (handshake),
times publishing *count* messages, then repeats END until the drain says
``stop`` (everything arrived) or the deadline passes. The Twisted variants
publish from inside the running reactor, as an application would.
"""

from __future__ import annotations

import time

import zmq

from bench._common import PROBE_TAG, SEP, config, finish


class Bench:
    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg
        self.tag = cfg["tags"][0].encode("latin-1")
        self.count = int(cfg["count"])
        self.body = b"x" * int(cfg.get("size", 100))
        self.limit = time.monotonic() + float(cfg.get("timeout", 60))
        self.ctl = zmq.Context().socket(zmq.PAIR)
        self.ctl.set(zmq.LINGER, 0)
        self.ctl.connect(cfg["ctl"])

    def waitFor(self, word: bytes, send, interval_ms: int) -> bool:
        """Call send() every *interval_ms* until the drain says *word*; False at the deadline."""
        while time.monotonic() < self.limit:
            send()
            if self.ctl.poll(interval_ms) and self.ctl.recv() == word:
                return True
        return False

    def report(self, seconds: float, cpu: float, ended: bool) -> None:
        """Wall-clock rate, and the rate per CPU second of the publishing thread."""
        finish(
            "result",
            {
                "sent": self.count,
                "seconds": seconds,
                "rate": self.count / seconds,
                "cpu_rate": self.count / cpu if cpu > 0 else None,
                "drain_stopped": ended,
            },
        )


def twisted(cfg: dict, variant: str) -> None:
    from twisted.internet import reactor

    bench = Bench(cfg)
    tag, body, count = bench.tag, bench.body, bench.count
    if variant == "txzpub":
        import txzpub

        class Pub(txzpub.ZmqPubConnection):
            highWaterMark = 0

        factory = txzpub.ZmqFactory(reactor)
        endpoint = txzpub.ZmqEndpoint(txzpub.ZmqEndpointType.connect, cfg["endpoint"])
        pub = Pub(factory, endpoint, **framing(txzpub, cfg.get("framing", "one")))
    else:
        import warnings

        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import txzmq

        class Factory(txzmq.ZmqFactory):
            pass

        Factory.reactor = reactor
        factory = Factory()
        endpoint = txzmq.ZmqEndpoint(txzmq.ZmqEndpointType.connect, cfg["endpoint"])
        pub = txzmq.ZmqPubConnection(factory, endpoint)  # highWaterMark 0 already
    publish = pub.publish
    result = {}

    def timed() -> None:
        if not bench.waitFor(b"go", lambda: publish(b"", PROBE_TAG), 2):
            result["error"] = "handshake: the drain never answered"
            reactor.stop()
            return
        started, cpu = time.perf_counter(), time.thread_time()
        for _ in range(count):
            publish(body, tag)
        result["seconds"] = time.perf_counter() - started
        result["cpu"] = time.thread_time() - cpu
        # Let the reactor turn once (txZMQ scheduled a read), then END until drained.
        reactor.callLater(0, ending)

    def ending() -> None:
        result["ended"] = bench.waitFor(b"stop", lambda: publish(b"", tag), 5)
        reactor.stop()

    reactor.callWhenRunning(timed)
    reactor.run(installSignalHandlers=False)
    if "error" in result:
        finish("error", result["error"], 1)
    bench.report(result["seconds"], result["cpu"], result["ended"])


def framing(txzpub, name: str) -> dict:
    """ZmqPubConnection's keywords for a *framing* of the txzpub variant."""
    if name == "one":
        return {}
    if name == "two":
        return {"multipartFraming": True}
    if not hasattr(txzpub.ZmqPubConnection, "sequenced"):
        finish("skip", "ZmqPubConnection has no sequenced=")
    if name == "sequenced":
        return {"sequenced": True}
    if name == "replay":
        bind = txzpub.ZmqEndpointType.bind
        return {"sequenced": True, "replay": txzpub.ZmqEndpoint(bind, "tcp://127.0.0.1:0")}
    finish("error", f"unknown framing {name!r}", 2)
    return {}


def raw(cfg: dict) -> None:
    bench = Bench(cfg)
    tag, body = bench.tag, bench.body
    sock = zmq.Context().socket(zmq.PUB)
    sock.set(zmq.SNDHWM, 0)
    sock.set(zmq.LINGER, 0)
    sock.connect(cfg["endpoint"])
    send = sock.send
    if not bench.waitFor(b"go", lambda: send(PROBE_TAG + SEP), 2):
        finish("error", "handshake: the drain never answered", 1)
    started, cpu = time.perf_counter(), time.thread_time()
    for _ in range(bench.count):
        send(tag + SEP + body)
    seconds, cpu = time.perf_counter() - started, time.thread_time() - cpu
    bench.report(seconds, cpu, bench.waitFor(b"stop", lambda: send(tag + SEP), 5))


def asyncio_(cfg: dict) -> None:
    import asyncio

    import zmq.asyncio

    bench = Bench(cfg)
    tag, body = bench.tag, bench.body

    async def publish() -> None:
        sock = zmq.asyncio.Context().socket(zmq.PUB)
        sock.set(zmq.SNDHWM, 0)
        sock.set(zmq.LINGER, 0)
        sock.connect(cfg["endpoint"])
        send = sock.send
        while True:  # handshake: probe until the drain says go
            await send(PROBE_TAG + SEP)
            if bench.ctl.poll(2) and bench.ctl.recv() == b"go":
                break
            if time.monotonic() > bench.limit:
                finish("error", "handshake: the drain never answered", 1)
        started, cpu = time.perf_counter(), time.thread_time()
        for _ in range(bench.count):
            await send(tag + SEP + body)
        seconds, cpu = time.perf_counter() - started, time.thread_time() - cpu
        ended = False
        while time.monotonic() < bench.limit:
            await send(tag + SEP)
            if bench.ctl.poll(5) and bench.ctl.recv() == b"stop":
                ended = True
                break
        bench.report(seconds, cpu, ended)

    asyncio.run(publish())


def main() -> None:
    cfg = config()
    variant = cfg["variant"]
    if variant in {"txzpub", "txzmq"}:
        twisted(cfg, variant)
    elif variant == "raw":
        raw(cfg)
    else:
        asyncio_(cfg)


if __name__ == "__main__":
    main()
