"""
REQ and REP, txzpub's and txZMQ's (cfg["impl"]), both Twisted processes.

- ``role: rep`` (the server) binds ``tcp://127.0.0.1:*``, reports the endpoint
  and echoes every request. Variants: ``serve`` (``serve(handler)``), ``next``
  (an @inlineCallbacks loop of ``request = yield conn.next()``; ``request.reply``)
  and ``legacy`` (txZMQ's ``gotMessage(messageId, *parts)`` + ``reply``, the same
  function for both libraries). A request with an empty body is the END: it is
  answered, and the server stops shortly after.
- ``role: req`` (the client) makes *warmup* + *count* sequential round trips of
  one *size*-byte frame (``reply = yield conn.sendMsg(body)``: send, wait for
  the reply, send the next) and reports the rate after the warm-up, every
  round trip's time (p50/p99 without the warm-up) and the reactor thread's CPU
  time per round trip, then sends the END.

Both report their reactor thread's CPU time (``time.thread_time``, not the
libzmq I/O thread's): steadier than the rate on a busy machine, as waiting for
the peer costs none.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import zmq

from bench._common import emit, finish
from bench.impls._twisted import Run, library, main


def build(run: Run) -> Callable[[], None]:
    return (server if run.cfg["role"] == "rep" else client)(run)


def server(run: Run) -> Callable[[], None]:
    from twisted.internet import defer

    cfg = run.cfg
    variant = cfg["variant"]
    lib, factory = library(run)
    if cfg["impl"] == "txzmq" and variant != "legacy":
        finish("error", f"txZMQ has only the legacy hook, not {variant!r}", 2)
    tag = run.tags[0]
    reactor = run.reactor

    def stopSoon() -> None:
        """After the END's reply: leave once it has surely left."""
        run.extra["cpu_s"] = time.thread_time() - started
        reactor.callLater(0.1, run.end, tag, 0)

    attrs: dict = {}
    if variant == "legacy":

        def gotMessage(self, messageId: bytes, *parts: bytes) -> None:
            self.reply(messageId, *parts)
            if not parts[0]:
                stopSoon()

        attrs["gotMessage"] = gotMessage
    endpoint = lib.ZmqEndpoint(lib.ZmqEndpointType.bind, "tcp://127.0.0.1:*")
    conn = type("BenchREP", (lib.ZmqREPConnection,), attrs)(factory, endpoint)
    emit("ready", {"endpoint": conn.socket.get(zmq.LAST_ENDPOINT).decode()})
    started = time.thread_time()  # the reactor thread's CPU from here to the END

    def handler(*parts: bytes) -> tuple[bytes, ...]:
        if not parts[0]:
            stopSoon()
        return parts

    @defer.inlineCallbacks
    def nextLoop():
        nxt = conn.next
        while True:
            request = yield nxt()
            parts = request.parts
            request.reply(*parts)
            if not parts[0]:
                break
        stopSoon()

    def setup() -> None:
        if variant == "serve":
            conn.serve(handler)
        elif variant == "next":
            nextLoop().addErrback(lambda f: run.fail(f"server failed: {f.getErrorMessage()}"))
        elif variant != "legacy":
            finish("error", f"unknown variant {variant!r}", 2)

    return setup


def client(run: Run) -> Callable[[], None]:
    from twisted.internet import defer

    cfg = run.cfg
    lib, factory = library(run)
    endpoint = lib.ZmqEndpoint(lib.ZmqEndpointType.connect, cfg["endpoint"])
    conn = lib.ZmqREQConnection(factory, endpoint)
    count, warmup = int(cfg["count"]), int(cfg.get("warmup", 100))
    body = b"x" * int(cfg.get("size", 100))

    @defer.inlineCallbacks
    def loop():
        send = conn.sendMsg
        clock = time.perf_counter_ns
        lat = run.lat
        cpu = time.thread_time
        for i in range(warmup + count):
            if i == warmup:
                run.markFirst()
                cpuStarted = cpu()
            started = clock()
            reply = yield send(body)
            lat.append(clock() - started)
            if i == 0 and list(reply) != [body]:
                run.fail(f"bad reply {reply!r:.80}")
                return
        last = time.perf_counter()
        run.extra["cpu_us"] = (cpu() - cpuStarted) / count * 1e6
        yield send(b"")  # END: the server answers it, then leaves
        run.end(run.tags[0], count)
        run.last = last

    def setup() -> None:
        loop().addErrback(lambda f: run.fail(f"client failed: {f.getErrorMessage()}"))

    return setup


if __name__ == "__main__":
    main(build)
