"""
Slow-consumer soak: millions of messages into a subscriber that reads far too slowly.

Two processes over tcp on 127.0.0.1 (see tests/programs): a raw pyzmq XPUB with
XPUB_NODROP and blocking sends (tests/programs/soak_publisher.py), so the
transport loses nothing and every message not delivered was dropped by our own
queue; and a txzpub ZmqSubConnection with the shipped defaults (maxQueued
10,000, DROP_OLDEST, high-water mark 1,000) whose consumer takes 50 messages
every 10 ms with ``nextBatch()`` (tests/programs/soak_subscriber.py), about a
hundredth of what arrives. The subscriber runs alone in its process, so its RSS
(VmRSS, sampled every second by the subscriber itself) is its own.

Checked at the end: delivered + dropped (the queue's QueueStatistics) == sent,
exactly; delivered sequence numbers strictly increase and their gaps add up to
the dropped count; RSS stays flat after warm-up (max - RSS at warm-up within the
bound that bench/ uses for its memory workload: (maxQueued + readBatchSize) x
the memory of one queued message + HWM x (frame + 64 B), plus SLACK); and the
growth from before the flood to the peak stays within that bound plus SLACK too.

A PAUSE variant fits in the time budget too, because its consumer is faster:
500 messages every 10 ms, 50,000 a second, still about a tenth of what the
publisher can send. Nothing is dropped anywhere (the reader pauses, libzmq's
high-water marks fill, the publisher's sends block), so its 1,000,000 messages
take about 20 s: delivered == sent, nothing dropped, no gap, the queue never
beyond maxQueued + one read batch, and the same flat RSS. (With the DROP_OLDEST
consumer's 5,000 a second, 1,000,000 messages would take over 3 minutes.)

The whole module takes about 50 s; each test stays under the suite's 50 s
faulthandler_timeout, so no stack dump clutters the output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest

from .programs._running import Program, follow, running

pytestmark = pytest.mark.filterwarnings(
    # The figures go to the JUnit XML with record_property, which only its default xunit2
    # format refuses (a warning, an error here): with --junitxml, add -o junit_family=xunit1.
    "ignore:record_property is incompatible:pytest.PytestWarning"
)

MINIMUM = 1_000_000
#: RSS allowed over the computed bound: page-granular RSS, allocator arenas, first-use
#: allocations (bench/ allows 1 MB; this runs longer, next to a busy publisher).
SLACK = 2 * 2**20
#: Seconds after the flood starts (the first sample showing traffic) that RSS is
#: taken as warmed up; the queue is full well within the first second.
WARM_UP = 3.0
#: How long the programs may take to start, and to finish after the flood.
STARTUP = 20.0

MiB = 2**20


def soak(
    record: Callable[[str, object], None], name: str, seconds: float, subscriber: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, int], list[dict[str, Any]]]:
    """Run one soak; return the subscriber's 'done' event, RSS figures and samples."""
    with running("soak_publisher.py", {"seconds": seconds, "minimum": MINIMUM}) as pub:
        endpoint = pub.waitFor("bound", STARTUP)["endpoint"]
        with running("soak_subscriber.py", {"endpoint": endpoint, **subscriber}) as sub:
            follow(
                [pub, sub],
                lambda: sub.exitedAt is not None and pub.exitedAt is not None,
                "the end of the soak",
                seconds + 2 * STARTUP,
            )
    assertClean(pub)
    assertClean(sub)
    sent, done = pub.event("sent"), sub.event("done")
    assert sent is not None, pub
    assert done is not None, sub
    samples = sub.all("rss")
    rss = rssFigures(samples)
    flood = sent["seconds"]
    sys.stderr.write(
        f"soak, {name}: sent {done['sent']:,} messages of 100 B in {flood:.1f} s "
        f"({sent['rate'] / 1000:.0f}k/s), delivered {done['delivered']:,}, dropped "
        f"{done['dropped']:,} (queue peak {done['peak']:,}); RSS over {len(samples)} samples "
        f"{rss['min'] / MiB:.1f}..{rss['max'] / MiB:.1f} MiB, from warm-up to max "
        f"{rss['flat'] / 1024:+.0f} KiB, from before the flood to max "
        f"{rss['growth'] / MiB:+.2f} MiB; bound {done['bound'] / MiB:.2f} MiB "
        f"({done['messageBytes']} B a queued message) + slack {SLACK / MiB:.0f} MiB\n"
    )
    for key in ("sent", "delivered", "dropped", "peak", "bound", "messageBytes"):
        record(key, done[key])
    record("flood_seconds", round(flood, 1))
    record("send_rate", round(sent["rate"]))
    for key, value in rss.items():
        record(f"rss_{key}", value)
    return done, rss, samples


def assertClean(program: Program) -> None:
    assert program.process.returncode == 0, program
    for bad in ("Traceback", "Unhandled error", "Warning"):
        assert bad not in program.stderr, program


def rssFigures(samples: list[dict[str, Any]]) -> dict[str, int]:
    """min, max; flat = max after warm-up - RSS at warm-up; growth = max - the first sample."""
    assert len(samples) >= 5, samples
    traffic = [s for s in samples if s["queued"] or s["dropped"] or s["delivered"]]
    assert traffic, samples
    warmedUp = [s for s in traffic if s["t"] >= traffic[0]["t"] + WARM_UP]
    assert len(warmedUp) >= 3, samples
    values = [s["rss"] for s in samples]
    after = [s["rss"] for s in warmedUp]
    return {
        "min": min(values),
        "max": max(values),
        "before_flood": samples[0]["rss"],
        "at_warm_up": after[0],
        "flat": max(after) - after[0],
        "growth": max(values) - samples[0]["rss"],
    }


@pytest.mark.timeout(120)
def test_dropOldestSoak(record_property: Callable[[str, object], None]) -> None:
    """The shipped defaults: 30 s of flood, a consumer at 5,000 messages a second."""
    done, rss, _ = soak(record_property, "DROP_OLDEST (defaults)", 30.0, {"perTick": 50})
    assert done["sent"] >= MINIMUM
    assert (done["maxQueued"], done["overflow"]) == (10_000, "drop-oldest")
    # The transport lost nothing, so the queue's account is exact.
    assert done["delivered"] + done["dropped"] == done["sent"], done
    assert done["dropped"] > 0, done  # the consumer really was too slow
    assert done["notIncreasing"] == 0, done
    assert done["gaps"] == done["dropped"], done
    assert done["last"] == done["sent"] - 1, done  # DROP_OLDEST keeps the newest
    assert done["peak"] == done["maxQueued"], done
    assert rss["flat"] <= done["bound"] + SLACK, (rss, done)
    assert rss["growth"] <= done["bound"] + SLACK, (rss, done)


@pytest.mark.timeout(120)
def test_pauseSoak(record_property: Callable[[str, object], None]) -> None:
    """PAUSE: nothing dropped anywhere; the publisher waits for the consumer."""
    done, rss, samples = soak(
        record_property, "PAUSE", 10.0, {"perTick": 500, "overflow": "pause"}
    )
    assert done["sent"] >= MINIMUM
    assert done["overflow"] == "pause"
    assert done["dropped"] == 0, done
    assert done["delivered"] == done["sent"], done
    assert (done["notIncreasing"], done["gaps"]) == (0, 0), done
    assert done["last"] == done["sent"] - 1, done
    assert done["maxQueued"] <= done["peak"] <= done["maxQueued"] + done["readBatchSize"], done
    assert max(s["queued"] for s in samples) <= done["maxQueued"] + done["readBatchSize"]
    assert rss["flat"] <= done["bound"] + SLACK, (rss, done)
    assert rss["growth"] <= done["bound"] + SLACK, (rss, done)
