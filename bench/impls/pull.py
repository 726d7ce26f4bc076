"""
PULL and ROUTER consumers, txzpub's and txZMQ's, fed by the raw producer
(bench/impls/push.py). cfg["socket"] is ``pull`` or ``router``, cfg["impl"]
``txzpub`` or ``txzmq``, and cfg["variant"]:

- ``next``: an @inlineCallbacks loop of ``item = yield conn.next()``;
- ``aiter``: ``async for frames in conn`` under ensureDeferred;
- ``batch``: a loop of ``items = yield conn.nextBatch(1000)``;
- ``legacy``: txZMQ's hook, the same function for both libraries:
  ``onPull(self, message)`` (PULL) or ``gotMessage(self, senderId, *parts)`` (ROUTER).

An empty body is the END. Modes: ``throughput`` (count until END) and
``fairness`` (the same plus the 10 ms LoopingCall of bench/impls/_twisted.py).
"""

from __future__ import annotations

from collections.abc import Callable

from bench._common import finish
from bench.impls._twisted import Run, library, main


def legacyHook(run: Run, router: bool) -> Callable[..., None]:
    """The counting txZMQ hook (onPull or ROUTER's gotMessage) of both libraries."""
    tag = run.tags[0]
    if router:

        def gotMessage(self, senderId: bytes, *parts: bytes) -> None:
            if parts[0]:
                self.n += 1
                if self.n == 1:
                    run.markFirst()
            else:
                run.end(tag, 0)

        return gotMessage

    def onPull(self, message: list[bytes]) -> None:
        if message[0]:
            self.n += 1
            if self.n == 1:
                run.markFirst()
        else:
            run.end(tag, 0)

    return onPull


def build(run: Run) -> Callable[[], None]:
    cfg = run.cfg
    router = cfg["socket"] == "router"
    variant = cfg["variant"]
    lib, factory = library(run)
    if cfg["impl"] == "txzmq" and variant != "legacy":
        finish("error", f"txZMQ has only the legacy hook, not {variant!r}", 2)
    base = lib.ZmqRouterConnection if router else lib.ZmqPullConnection
    endpoint = lib.ZmqEndpoint(lib.ZmqEndpointType.connect, cfg["endpoint"])
    attrs: dict = {} if cfg.get("hwm") is None else {"highWaterMark": int(cfg["hwm"])}

    if variant == "legacy":
        attrs.update({"n": 0, "gotMessage" if router else "onPull": legacyHook(run, router)})
        legacy = type("BenchLegacy", (base,), attrs)(factory, endpoint)
        run.countFrom = lambda: legacy.n
        return lambda: None

    conn = type("BenchReceiver", (base,), attrs)(factory, endpoint)
    return consumers(run, conn, router, variant)


def consumers(run: Run, conn, router: bool, variant: str) -> Callable[[], None]:
    """The setup that starts txzpub's Deferred-first consumer *variant*."""
    from twisted.internet import defer

    tag = run.tags[0]

    @defer.inlineCallbacks
    def nextLoop():
        nxt = conn.next
        n = 0
        if router:
            while True:
                _, frames = yield nxt()
                if not frames[0]:
                    break
                n += 1
                if n == 1:
                    run.markFirst()
        else:
            while True:
                frames = yield nxt()
                if not frames[0]:
                    break
                n += 1
                if n == 1:
                    run.markFirst()
        run.end(tag, n)

    async def aiterLoop() -> None:
        n = 0
        async for item in conn:
            frames = item[1] if router else item
            if not frames[0]:
                break
            n += 1
            if n == 1:
                run.markFirst()
        run.end(tag, n)

    @defer.inlineCallbacks
    def batchLoop():
        nextBatch = conn.nextBatch
        n = 0
        while True:
            items = yield nextBatch(1000)
            if not n:
                run.markFirst()
            last = items[-1][1] if router else items[-1]
            if not last[0]:  # the one END is the last message
                n += len(items) - 1
                break
            n += len(items)
        run.end(tag, n)

    loops = {
        "next": nextLoop,
        "aiter": lambda: defer.ensureDeferred(aiterLoop()),
        "batch": batchLoop,
    }
    if variant not in loops:
        finish("error", f"unknown variant {variant!r}", 2)

    def setup() -> None:
        d = loops[variant]()
        d.addErrback(lambda failure: run.fail(f"consumer failed: {failure.getErrorMessage()}"))

    return setup


if __name__ == "__main__":
    main(build)
