"""
Helpers shared by the benchmark processes (bench/impls/*): config, reporting, clocks, memory.

A benchmark process gets its configuration as one JSON argument and talks back
on stdout with lines ``@bench <json>``: ``{"ready": {...}}`` once its sockets
are bound (for a server process), then one ``{"result": {...}}``,
``{"error": "..."}`` or ``{"skip": "..."}``. Everything else on stdout/stderr is
kept for error reports only.

Wire conventions (txZMQ's one-frame format, ``tag + b"\\0" + body``):

- data tags are ``b"t.0000"``, ``b"t.0001"``, ... (all the same length);
- the END marker of a tag is that tag with an empty body (``tag + b"\\0"``); the
  publisher repeats it every few ms until every subscriber has gone;
- latency bodies start with the sender's ``time.monotonic_ns()`` (8 bytes, little
  endian); CLOCK_MONOTONIC is system-wide on Linux, so it compares across processes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

PREFIX = "@bench "
SEP = b"\0"
PROBE_TAG = b"\xffprobe."
CTL_TAG = b"\xffctl"


def tagName(index: int) -> bytes:
    return b"t.%04d" % index


def config() -> dict:
    return json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}


def emit(kind: str, value: object) -> None:
    sys.stdout.write(PREFIX + json.dumps({kind: value}) + "\n")
    sys.stdout.flush()


def finish(kind: str, value: object, code: int = 0) -> None:
    """Report and leave at once: no slow context termination, no lingering sockets."""
    emit(kind, value)
    sys.stderr.flush()
    os._exit(code)


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def stamp(size: int) -> bytes:
    """A latency body: monotonic_ns now, padded to *size* bytes."""
    return time.monotonic_ns().to_bytes(8, "little") + b"x" * (size - 8)


def reduceTimerSlack() -> None:
    """Ask Linux for 1 us sleep precision (default slack is 50 us); harmless elsewhere."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(29, 1000, 0, 0, 0)  # PR_SET_TIMERSLACK, ns
    except Exception:
        pass


# -- memory -----------------------------------------------------------------------


def _status(field: str) -> float | None:
    try:
        with Path("/proc/self/status").open(encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0  # kB -> MB
    except OSError:
        return None
    return None


def rssMB() -> float | None:
    return _status("VmRSS")


def peakMB() -> float | None:
    """Peak RSS since the last resetPeak() (VmHWM), or since start; ru_maxrss as fallback."""
    peak = _status("VmHWM")
    if peak is None:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return peak


def resetPeak() -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


class PeakSampler:
    """Fallback when VmHWM cannot be reset: a thread sampling VmRSS every few ms."""

    def __init__(self, interval: float = 0.005) -> None:
        import threading

        self.peak = rssMB() or 0.0
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, rssMB() or 0.0)

    def stop(self) -> float:
        self._stop.set()
        self.peak = max(self.peak, rssMB() or 0.0)
        return self.peak


class MemoryProbe:
    """Peak RSS growth from now on: VmHWM after a reset, or a sampling thread."""

    def __init__(self) -> None:
        self.reset = resetPeak()
        self.baseline = rssMB() or 0.0
        self._sampler = None if self.reset else PeakSampler()

    def growth(self) -> dict:
        peak = self._sampler.stop() if self._sampler else (peakMB() or 0.0)
        return {
            "baseline_mb": round(self.baseline, 2),
            "peak_mb": round(peak, 2),
            "growth_mb": round(max(0.0, peak - self.baseline), 2),
            "peak_method": "VmHWM after clear_refs" if self.reset else "sampled VmRSS",
        }
