"""
The child side of the line protocol shared by the programs in this folder.

A program reports on stdout, one line each: ``@ {"event": ..., ...}`` (JSON),
flushed at once, so the test reads it as it happens. ``t`` is time.monotonic(),
which on Linux is system-wide, so the test compares it with its own clock.
stderr carries Twisted's log (warnings, "Unhandled error in Deferred", ...).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write("@ " + json.dumps({"event": event, "t": time.monotonic(), **fields}) + "\n")
    sys.stdout.flush()


def logToStderr() -> None:
    """Send Twisted's log to stderr, so the test sees unhandled errors and warnings."""
    from twisted.logger import globalLogBeginner, textFileLogObserver

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)


def rssBytes(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    msg = "no VmRSS"
    raise RuntimeError(msg)
