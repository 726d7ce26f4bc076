"""
txzpub subscribers. Variants (cfg["variant"]):

- ``next``: an @inlineCallbacks loop of ``msg = yield conn.next(tag)``;
- ``aiter``: ``async for msg in conn.subscribe(tag)`` under ensureDeferred;
- ``legacy``: a txZMQ-style ``gotMessage`` subclass;
- ``batch``: a loop of ``msgs = yield conn.subscribe(tag).nextBatch(1000)`` (skipped
  when the installed txzpub has no nextBatch);

one consumer per tag in cfg["tags"]. Modes: ``throughput`` (count until every
tag's END), ``latency`` (record now - sent), ``fairness`` (throughput plus a 10 ms
LoopingCall), and ``memory`` (variants ``drop-oldest`` / ``pause``: a consumer that
called next() once and never again; ``block``: a gotMessage that blocks).

When the publisher sends a sequenced stream (cfg["framing"] ``sequenced``) the
result also carries the subscriber's ``streamStatistics()``, and a run in
which the subscriber tracked no sequenced publisher, or counted a stream
message lost, duplicated or malformed, fails: the row would not measure what
it says.
"""

from __future__ import annotations

import sys
import time

import zmq

from bench._common import MemoryProbe, finish
from bench.impls._twisted import Run, blockUntilSettled, ctlSocket, legacyGotMessage, main


def build(run: Run):
    from twisted.internet import defer

    import txzpub

    cfg = run.cfg
    variant = cfg["variant"]
    mode = run.mode
    reactor = run.reactor
    factory = txzpub.ZmqFactory(reactor)
    endpoint = txzpub.ZmqEndpoint(txzpub.ZmqEndpointType.connect, cfg["endpoint"])
    attrs = {} if cfg.get("hwm") is None else {"highWaterMark": int(cfg["hwm"])}

    if mode == "memory":
        return memory(run, txzpub, factory, endpoint, attrs)

    if variant == "batch" and not hasattr(txzpub.Subscription, "nextBatch"):
        finish("skip", "Subscription.nextBatch does not exist yet")

    if variant == "legacy":
        return legacy(run, txzpub, factory, endpoint, attrs)

    Conn = type("BenchSub", (txzpub.ZmqSubConnection,), attrs)
    conn = Conn(factory, endpoint)
    checkStreams(run, conn)
    subs = {tag: conn.subscribe(tag) for tag in run.tags}
    latency = run.latency
    lat = run.lat
    clock = time.monotonic_ns
    fromBytes = int.from_bytes

    def failed(failure):
        run.fail(f"consumer failed: {failure.getErrorMessage()}")

    @defer.inlineCallbacks
    def nextLoop(tag):
        nxt = conn.next
        n = 0
        if latency:
            while True:
                msg = yield nxt(tag)
                body = msg.body
                if not body:
                    break
                lat.append(clock() - fromBytes(body[:8], "little"))
        else:
            while True:
                msg = yield nxt(tag)
                if not msg.body:
                    break
                n += 1
                if n == 1:
                    run.markFirst()
        run.end(tag, n)

    async def aiterLoop(tag):
        n = 0
        if latency:
            async for msg in subs[tag]:
                body = msg.body
                if not body:
                    break
                lat.append(clock() - fromBytes(body[:8], "little"))
        else:
            async for msg in subs[tag]:
                if not msg.body:
                    break
                n += 1
                if n == 1:
                    run.markFirst()
        run.end(tag, n)

    progress = {}

    @defer.inlineCallbacks
    def batchLoop(tag):
        nextBatch = subs[tag].nextBatch
        n = 0
        while True:
            msgs = yield nextBatch(1000)
            if not n:
                run.markFirst()
            if not msgs[-1].body:  # END comes last and is only followed by more ENDs
                n += sum(1 for m in msgs if m.body)
                break
            n += len(msgs)
            progress[tag] = n
        run.end(tag, n)

    def watchdog(state={"seen": -1, "since": 0.0}):  # noqa: B006 - private state
        """Fail fast when batches stop coming although messages are queued (a stall)."""
        seen = sum(progress.values())
        now = time.monotonic()
        if seen != state["seen"]:
            state["seen"], state["since"] = seen, now
        elif run.first is not None and now - state["since"] > 3:
            stats = [subs[tag].statistics() for tag in run.tags]
            queued = sum(s.queued for s in stats)
            waiting = sum(s.waiting for s in stats)
            run.fail(
                f"stalled: no batch for 3 s after {seen} messages, with {queued} queued "
                f"and {waiting} nextBatch() waiting"
            )

    def setup():
        for tag in run.tags:
            if variant == "next":
                d = nextLoop(tag)
            elif variant == "aiter":
                d = defer.ensureDeferred(aiterLoop(tag))
            elif variant == "batch":
                d = batchLoop(tag)
            else:
                finish("error", f"unknown variant {variant!r}", 2)
            d.addErrback(failed)
        if variant == "batch":
            from twisted.internet import task

            loop = task.LoopingCall(watchdog)
            loop.clock = reactor
            loop.start(0.5)

    return setup


def legacy(run, txzpub, factory, endpoint, attrs):
    class Legacy(txzpub.ZmqSubConnection):
        n = 0
        gotMessage = legacyGotMessage(run)

    for name, value in attrs.items():
        setattr(Legacy, name, value)
    conn = Legacy(factory, endpoint)
    checkStreams(run, conn)
    run.countFrom = lambda: conn.n
    for tag in run.tags:
        conn.subscribe(tag)
    return lambda: None


def checkStreams(run: Run, conn) -> None:
    """At the end of a run over a sequenced stream: report and check streamStatistics()."""
    if run.cfg.get("framing") != "sequenced":
        return

    def check() -> None:
        if not hasattr(conn, "streamStatistics"):
            run.fail("this txzpub has no sequenced streams (streamStatistics)")
            return
        stats = conn.streamStatistics()
        run.extra.update(
            publishers=stats.publishers,
            stream_lost=stats.lost,
            duplicates=stats.duplicates,
            malformed=stats.malformed,
        )
        if stats.publishers != 1:
            run.fail(f"the subscriber tracked {stats.publishers} sequenced publishers, not 1")
        elif stats.lost or stats.duplicates or stats.malformed:
            run.fail(
                f"stream trouble: {stats.lost} lost, {stats.duplicates} duplicates, "
                f"{stats.malformed} malformed"
            )

    run.reactor.addSystemEventTrigger("before", "shutdown", check)


def memory(run, txzpub, factory, endpoint, attrs):
    """A stalled consumer while the publisher floods; report the peak RSS growth."""
    cfg = run.cfg
    policy = cfg["variant"]
    tag = run.tags[0]
    ctl = ctlSocket(cfg["endpoint"])
    probe = MemoryProbe()
    timeout = float(cfg.get("timeout", 60))

    if policy == "block":

        class Blocking(txzpub.ZmqSubConnection):
            def gotMessage(self, message, tag):
                out = blockUntilSettled(ctl, self.socket, probe, timeout)
                hwm = self.highWaterMark
                frame = len(tag) + 1 + int(cfg.get("size", 100))
                out.update(hwm=hwm, bound_mb=hwm * (frame + 64) / 2**20 if hwm else None)
                finish("error" if "error" in out else "result", out.get("error", out))

        for name, value in attrs.items():
            setattr(Blocking, name, value)
        conn = Blocking(factory, endpoint)
        conn.subscribe(tag)
        conn.subscribe(b"E")
        return lambda: None

    overflow = txzpub.OverflowPolicy(policy)
    Conn = type("BenchSub", (txzpub.ZmqSubConnection,), attrs)
    conn = Conn(factory, endpoint, overflow=overflow)
    sub = conn.subscribe(tag)
    first = sub.next()  # the consumer reads once, then stalls: its queue is in use
    dataEnd = conn.next(b"E")  # arrives after all the data unless the reader is paused
    state = {"ctl": None, "progress": -1, "since": time.monotonic(), "message": None}

    def gotFirst(message):
        state["message"] = message

    first.addCallback(gotFirst)

    def report(how: str) -> None:
        out = probe.growth()
        stats = sub.statistics()
        message = state["message"]
        perMessage = 0
        if message is not None:
            # The three objects, each rounded up to pymalloc's 16-byte size classes,
            # plus the queue's 8-byte slot.
            parts = (message, message.body, message.tag)
            perMessage = sum(-(-sys.getsizeof(p) // 16) * 16 for p in parts) + 8
        frame = len(tag) + 1 + int(cfg.get("size", 100))
        hwm = conn.highWaterMark
        batch = conn.readBatchSize
        # Python: the queue plus one read batch (PAUSE may exceed by a batch);
        # libzmq: HWM messages of 64-byte zmq_msg_t plus the frame.
        bound = (stats.maxQueued + batch) * perMessage + hwm * (frame + 64)
        out.update(
            {
                "policy": policy,
                "ended_by": how,
                "read": stats.queued + stats.dropped + (message is not None),
                "queued": stats.queued,
                "peak_queued": stats.peak,
                "dropped": stats.dropped,
                "max_queued": stats.maxQueued,
                "hwm": hwm,
                "message_bytes": perMessage,
                "bound_mb": bound / 2**20,
            }
        )
        finish("result", out)

    def watch() -> None:
        if dataEnd.called:
            report("END read")
        now = time.monotonic()
        if state["ctl"] is None:
            try:
                ctl.recv(zmq.NOBLOCK)
                state["ctl"] = now
            except zmq.Again:
                pass
        stats = sub.statistics()
        progress = stats.queued + stats.dropped
        if progress != state["progress"]:
            state["progress"], state["since"] = progress, now
        elif state["ctl"] is not None and now - state["since"] > 0.5:
            report("settled (reader paused)")

    def setup():
        from twisted.internet import task

        loop = task.LoopingCall(watch)
        loop.clock = run.reactor
        loop.start(0.02)

    return setup


if __name__ == "__main__":
    main(build)
