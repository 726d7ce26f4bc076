"""
Pieces shared by the Twisted subscribers (txzpub and txZMQ): the run state, the
10 ms fairness timer, the stalled-consumer memory probe and the reactor driver.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from bench._common import CTL_TAG, MemoryProbe, config, finish, percentile, rssMB


class Run:
    """Counts, first/last timestamps and the END bookkeeping of one subscriber process."""

    def __init__(self, reactor, cfg: dict) -> None:
        self.reactor = reactor
        self.cfg = cfg
        self.tags = [t.encode("latin-1") for t in cfg["tags"]]
        self.mode = cfg["mode"]
        self.latency = self.mode == "latency"
        self.first: float | None = None
        self.last: float | None = None
        self.count = 0
        self.ended: set[bytes] = set()
        self.lat: list[int] = []
        self.extra: dict = {}
        self.fires: list[float] = []
        self.error: str | None = None
        self.stopped = False
        self.timer = None
        #: For consumers that count in one place (gotMessage) rather than per tag.
        self.countFrom: Callable[[], int] | None = None

    def markFirst(self) -> None:
        if self.first is None:
            self.first = time.perf_counter()

    def end(self, tag: bytes, n: int) -> None:
        """A consumer saw *tag*'s END after *n* messages; the last END stops the run."""
        if tag in self.ended:
            return
        self.ended.add(tag)
        self.count += n
        if len(self.ended) == len(self.tags):
            self.last = time.perf_counter()
            self.stop()

    def fail(self, why: str) -> None:
        if self.error is None:
            self.error = why
        self.stop()

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.reactor.callLater(0, self.reactor.stop)

    # -- fairness: a 10 ms LoopingCall recording when it actually ran -------------

    def startTimer(self, interval: float = 0.010) -> None:
        from twisted.internet import task

        clock = time.perf_counter
        fires = self.fires

        def tick() -> None:
            fires.append(clock())

        self.timer = task.LoopingCall(tick)
        self.timer.clock = self.reactor
        self.timer.start(interval, now=True)

    def fairness(self, interval: float = 0.010) -> dict:
        """
        Lateness of the timer during the flood [first message, END]: for each firing,
        the gap since the previous one minus the interval; the open gap from the
        last firing to the END counts too (for txZMQ it is the whole flood).
        """
        start, stop = self.first, self.last
        if start is None or stop is None:
            return {}
        lateness: list[float] = []
        before = [t for t in self.fires if t < start]
        previous = before[-1] if before else None
        fired = 0
        for t in self.fires:
            if start <= t <= stop:
                fired += 1
                if previous is not None:
                    lateness.append(max(0.0, t - previous - interval))
                previous = t
        if previous is not None and stop - previous > interval:
            lateness.append(stop - previous - interval)
        ms = [x * 1000 for x in lateness]
        return {
            "late_max_ms": max(ms) if ms else None,
            "late_p99_ms": percentile(ms, 0.99),
            "fired": fired,
            "flood_s": stop - start,
        }

    def result(self) -> dict:
        if self.countFrom is not None:
            self.count = self.countFrom()
        out: dict = {"received": self.count}
        if self.first is not None and self.last is not None and self.last > self.first:
            out["seconds"] = self.last - self.first
            out["rate"] = self.count / (self.last - self.first)
        if self.latency:
            lat = self.lat[100:] or self.lat  # the first 100: connection warm-up
            out["received"] = len(self.lat)
            out["p50_us"] = (percentile(lat, 0.50) or 0) / 1000
            out["p99_us"] = (percentile(lat, 0.99) or 0) / 1000
        if self.mode == "fairness":
            out.update(self.fairness())
        out.update(self.extra)
        return out


def legacyGotMessage(run: Run) -> Callable[..., None]:
    """
    The gotMessage(self, message, tag) of every txZMQ-style subscriber in the
    benchmark (txzpub's and txZMQ's): one function, so both do the same work.
    """
    lat = run.lat
    clock = time.monotonic_ns
    fromBytes = int.from_bytes
    if run.latency:

        def timing(self, message: bytes, tag: bytes) -> None:
            if message:
                lat.append(clock() - fromBytes(message[:8], "little"))
            else:
                run.end(tag, 0)

        return timing

    def counting(self, message: bytes, tag: bytes) -> None:
        if message:
            self.n += 1
            if self.n == 1:
                run.markFirst()
        else:
            run.end(tag, 0)

    return counting


def drive(run: Run, setup: Callable[[], None]) -> None:
    """Run *setup*, the reactor (with a deadline) and report; never returns."""
    reactor = run.reactor
    try:
        setup()
    except Exception as error:  # a broken implementation: report, do not hang
        finish("error", f"setup failed: {error!r}", 1)
    if run.mode == "fairness":
        reactor.callWhenRunning(run.startTimer)
    timeout = float(run.cfg.get("timeout", 60))
    reactor.callLater(timeout, run.fail, f"timeout after {timeout:.0f} s")
    profileDir = os.environ.get("TXZPUB_BENCH_PROFILE")
    if profileDir:
        import cProfile

        profiler = cProfile.Profile()
        profiler.runcall(reactor.run, installSignalHandlers=False)
        parts = [run.cfg.get(k) for k in ("impl", "socket", "role", "variant", "framing")]
        label = "-".join(str(p) for p in parts if p is not None)
        name = f"{label}-{run.mode}-{len(run.tags)}tags-{os.getpid()}.prof"
        profiler.dump_stats(Path(profileDir) / name)
    else:
        reactor.run(installSignalHandlers=False)
    if run.error is not None:
        finish("error", f"{run.error} (received {run.count} so far)", 1)
    finish("result", run.result())


def library(run: Run) -> tuple[Any, Any]:
    """(the txzpub or txzmq module, a factory on the run's reactor), as cfg["impl"] says."""
    if run.cfg["impl"] == "txzmq":
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import txzmq

        class Factory(txzmq.ZmqFactory):
            reactor = run.reactor

        return txzmq, Factory()
    import txzpub

    return txzpub, txzpub.ZmqFactory(run.reactor)


# -- memory: a consumer that stalls -----------------------------------------------


def ctlSocket(endpoint: str):
    """A raw SUB for the publisher's control END: it arrives even while the data pipe is full."""
    context = zmq.Context()
    sock = context.socket(zmq.SUB)
    sock.set(zmq.LINGER, 0)
    sock.connect(endpoint)
    sock.set(zmq.SUBSCRIBE, CTL_TAG)
    return sock


def blockUntilSettled(ctl, socket, probe: MemoryProbe, timeout: float) -> dict:
    """
    The stalled txZMQ-style consumer: called from inside gotMessage, it blocks the
    reactor until the publisher says it has sent everything and the process RSS
    has stopped growing (libzmq's I/O thread keeps receiving meanwhile), then
    measures the peak and counts what libzmq buffered.
    """
    limit = time.monotonic() + timeout
    ctl.set(zmq.RCVTIMEO, max(1, int(timeout * 1000)))
    try:
        ctl.recv()
    except zmq.Again:
        return {"error": "the publisher never finished"}
    stable, last = time.monotonic(), rssMB() or 0.0
    while time.monotonic() - stable < 0.5 and time.monotonic() < limit:
        time.sleep(0.05)
        now = rssMB() or 0.0
        if now > last + 0.25:
            stable, last = time.monotonic(), now
    out = probe.growth()
    buffered = 0
    try:
        while True:
            socket.recv(zmq.NOBLOCK)
            buffered += 1
    except zmq.Again:
        pass
    out["buffered_in_libzmq"] = buffered
    return out


def main(build: Callable[[Run], Callable[[], None]]) -> None:
    cfg = config()
    from twisted.internet import reactor

    run = Run(reactor, cfg)
    try:
        setup = build(run)
    except ImportError as error:
        finish("error", f"import failed: {error!r}", 1)
    if setup is None:
        sys.exit(0)
    drive(run, setup)
