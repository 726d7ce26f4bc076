"""
txZMQ 1.0.0 subscriber: a ``gotMessage`` subclass, one connection subscribed to
every tag in cfg["tags"], as shipped (highWaterMark 0: unbounded). Modes:
``throughput``, ``latency``, ``fairness`` and ``memory`` (a gotMessage that blocks:
txZMQ has no queue of its own, so a stalled consumer leaves messages in libzmq).
"""

from __future__ import annotations

import warnings

from bench._common import MemoryProbe, finish
from bench.impls._twisted import Run, blockUntilSettled, ctlSocket, legacyGotMessage, main


def build(run: Run):
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import txzmq

    cfg = run.cfg

    class Factory(txzmq.ZmqFactory):
        reactor = run.reactor

    factory = Factory()
    endpoint = txzmq.ZmqEndpoint(txzmq.ZmqEndpointType.connect, cfg["endpoint"])

    if run.mode == "memory":
        ctl = ctlSocket(cfg["endpoint"])
        probe = MemoryProbe()
        timeout = float(cfg.get("timeout", 60))

        class Blocking(txzmq.ZmqSubConnection):
            def gotMessage(self, message, tag):
                out = blockUntilSettled(ctl, self.socket, probe, timeout)
                hwm = self.highWaterMark
                frame = len(tag) + 1 + int(cfg.get("size", 100))
                out.update(hwm=hwm, bound_mb=hwm * (frame + 64) / 2**20 if hwm else None)
                finish("error" if "error" in out else "result", out.get("error", out))

        conn = Blocking(factory, endpoint)
        conn.subscribe(run.tags[0])
        conn.subscribe(b"E")
        return lambda: None

    class Sub(txzmq.ZmqSubConnection):
        n = 0
        gotMessage = legacyGotMessage(run)

    if cfg.get("hwm") is not None:
        Sub.highWaterMark = int(cfg["hwm"])
    conn = Sub(factory, endpoint)
    run.countFrom = lambda: conn.n
    for tag in run.tags:
        conn.subscribe(tag)
    return lambda: None


if __name__ == "__main__":
    main(build)
