"""
The workloads of issue 3: what each runs, and how its table reads.

Every run is a fresh pair of processes (bench/_procs.runPair) talking over tcp
on 127.0.0.1. Unless a workload says otherwise, the reference publisher is raw
pyzmq on XPUB with SNDHWM 1,000 and XPUB_NODROP (it blocks instead of
dropping, so a slow subscriber paces it and nothing is lost), and every
subscriber runs with RCVHWM 1,000 (libzmq's and txzpub's default; txZMQ's own
default, 0 = unbounded, is kept only in the memory workload).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench import _stats
from bench._common import CTL_TAG, tagName
from bench._procs import runPair

TXZMQ = "txZMQ 1.0.0 gotMessage"
RAW = "raw pyzmq recv()"
HWM = 1000


@dataclass
class Settings:
    quick: bool = False
    repeats: int = 7

    def pick(self, full, quick):
        return quick if self.quick else full


@dataclass
class Column:
    """One table column: 'spread' (median + min..max), 'median', or 'ratio'."""

    header: str
    key: str
    kind: str = "spread"
    fmt: Callable = _stats.rate
    baseline: Callable[[str], str | None] | None = None  # ratio: variant -> its baseline


@dataclass
class Variant:
    name: str
    run: Callable[[], dict]


@dataclass
class Workload:
    key: str
    title: str
    setup: str
    variants: list[Variant]
    columns: list[Column]
    maxRepeats: int | None = None
    lossKey: str | None = "lost"
    notes: list[str] = field(default_factory=list)


# -- running one measurement ---------------------------------------------------------


def _outcome(client: dict) -> dict:
    if "skip" in client:
        return {"skip": client["skip"]}
    if "error" in client:
        return {"error": client["error"], "timeout": "timeout" in client["error"]}
    return dict(client["result"])


def subscriberRun(
    pubCfg: dict, module: str, subCfg: dict, timeout: float, producer: str = "xpub"
) -> dict:
    """A raw producer (*producer*: ``xpub``, or ``push`` for PUSH/DEALER) against a consumer."""
    server, client = runPair(producer, pubCfg, module, subCfg, timeout)
    out = _outcome(client)
    sent = server.get("result", {}).get("sent")
    if "received" in out and sent is not None:
        out["sent"] = sent
        out["lost"] = sent - out["received"]
    return out


def publisherRun(variant: str, count: int, size: int, timeout: float) -> dict:
    """One publisher implementation against the raw drain."""
    tags = [tagName(0).decode()]
    server, client = runPair(
        "drain",
        {"tags": tags, "size": size},
        "pub",
        {"tags": tags, "size": size, "count": count, "variant": variant},
        timeout,
    )
    out = _outcome(client)
    drained = server.get("result", {}).get("received")
    if "rate" in out and drained is not None:
        out["received"] = drained
        out["lost"] = count - drained
    return out


# -- the subscriber implementations, as (module, variant) -----------------------------

SUBSCRIBERS = {
    "txzpub next()": ("sub_txzpub", "next"),
    "txzpub async for": ("sub_txzpub", "aiter"),
    "txzpub gotMessage": ("sub_txzpub", "legacy"),
    "txzpub nextBatch(1000)": ("sub_txzpub", "batch"),
    TXZMQ: ("sub_txzmq", "gotmessage"),
    "zmq.asyncio recv_multipart()": ("sub_pyzmq", "asyncio"),
    RAW: ("sub_pyzmq", "raw"),
}


def _subVariant(name: str, pubCfg: dict, mode: str, timeout: float, **extra) -> Variant:
    module, variant = SUBSCRIBERS[name]
    subCfg = {"tags": pubCfg["tags"], "mode": mode, "variant": variant, "hwm": HWM, **extra}
    return Variant(name, lambda: subscriberRun(pubCfg, module, subCfg, timeout))


def _vs(name: str) -> Callable[[str], str]:
    return lambda _variant: name


# -- the workloads -------------------------------------------------------------------


def subscriberThroughput(settings: Settings, size: int) -> Workload:
    count = settings.pick(400_000, 100_000) if size <= 100 else settings.pick(100_000, 30_000)
    tags = [tagName(0).decode()]
    pubCfg = {"tags": tags, "count": count, "size": size, "hwm": HWM, "nodrop": True}
    timeout = 15 + count / 15_000
    label = f"{size} B" if size < 1024 else f"{size // 1024} KB"
    return Workload(
        key="sub100" if size <= 100 else "sub4k",
        title=f"Subscriber throughput, {label} bodies",
        setup=(
            f"{count:,} messages from a raw pyzmq XPUB in another process; rate = received / "
            "(last - first), measured in the subscriber"
        ),
        variants=[_subVariant(name, pubCfg, "throughput", timeout) for name in SUBSCRIBERS],
        columns=[
            Column("msgs/s", "rate"),
            Column("vs txZMQ", "rate", "ratio", baseline=_vs(TXZMQ)),
            Column("vs raw", "rate", "ratio", baseline=_vs(RAW)),
        ],
    )


PUBLISHERS = {
    "txzpub publish()": "txzpub",
    "txZMQ 1.0.0 publish()": "txzmq",
    "zmq.asyncio await send()": "asyncio",
    "raw pyzmq send()": "raw",
}


def publisherThroughput(settings: Settings) -> Workload:
    count = settings.pick(500_000, 150_000)
    timeout = 15 + count / 15_000
    return Workload(
        key="pub",
        title="Publisher throughput, 100 B bodies",
        setup=(
            f"time to publish {count:,} messages (SNDHWM 0, tag + body joined per message), "
            "a raw pyzmq SUB draining in another process; 'per CPU s' divides by the "
            "publishing thread's CPU time instead (steadier on a busy machine)"
        ),
        variants=[
            Variant(name, lambda v=variant: publisherRun(v, count, 100, timeout))
            for name, variant in PUBLISHERS.items()
        ],
        columns=[
            Column("msgs/s", "rate"),
            Column("vs txZMQ", "rate", "ratio", baseline=_vs("txZMQ 1.0.0 publish()")),
            Column("vs raw", "rate", "ratio", baseline=_vs("raw pyzmq send()")),
            Column("per CPU s", "cpu_rate", "median"),
            Column("CPU vs txZMQ", "cpu_rate", "ratio", baseline=_vs("txZMQ 1.0.0 publish()")),
        ],
    )


def latency(settings: Settings) -> Workload:
    rate = 10_000
    seconds = settings.pick(1.0, 0.5)
    count = int(rate * seconds)
    tags = [tagName(0).decode()]
    pubCfg = {
        "tags": tags,
        "mode": "paced",
        "rate": rate,
        "count": count,
        "size": 100,
        "hwm": HWM,
        "nodrop": True,
    }
    names = [n for n in SUBSCRIBERS if n != "txzpub nextBatch(1000)"]
    us = _stats.number(0)
    return Workload(
        key="latency",
        title="One-way latency at 10k msgs/s, 100 B bodies",
        setup=(
            f"{count:,} messages paced at {rate:,}/s by raw pyzmq, each carrying its "
            "monotonic_ns send time; latency = receive time - send time (first 100 skipped)"
        ),
        variants=[_subVariant(name, pubCfg, "latency", 20 + seconds) for name in names],
        columns=[
            Column("p50 us", "p50_us", fmt=us),
            Column("p99 us", "p99_us", fmt=us),
            Column("p50 vs txZMQ", "p50_us", "ratio", baseline=_vs(TXZMQ)),
            Column("p99 vs txZMQ", "p99_us", "ratio", baseline=_vs(TXZMQ)),
        ],
    )


def fairness(settings: Settings, pattern: str = "sub") -> Workload:
    """The 10 ms timer's lateness while a subscriber (*pattern* ``sub``) or a PULL is flooded."""
    seconds = settings.pick(2.0, 1.0)
    tags = [tagName(0).decode()]
    pubCfg = {
        "tags": tags,
        "count": 10**9,
        "duration": seconds,
        "size": 100,
        "hwm": HWM,
        "nodrop": True,
    }
    # A deep receive queue, so the subscriber's socket never runs dry during the
    # flood even when its I/O thread or the publisher is descheduled for a moment
    # (with RCVHWM 1,000 txZMQ's reader sometimes found it empty and returned).
    hwm = 100_000
    timeout = 30 + 4 * seconds
    if pattern == "pull":
        variants = [
            _pullVariant(name, "push", pubCfg, "fairness", timeout, hwm=hwm)
            for name in ("txzpub next()", "txzpub onPull", TXZMQ_PULL)
        ]
        key, who, what = "pullfairness", "PULL", "a raw pyzmq PUSH"
    else:
        variants = [
            _subVariant(name, pubCfg, "fairness", timeout, hwm=hwm)
            for name in ("txzpub gotMessage", "txzpub next()", TXZMQ)
        ]
        key, who, what = "fairness", "subscriber", "raw pyzmq"
    ms = _stats.number(1)
    return Workload(
        key=key,
        title=f"Reactor fairness: a 10 ms LoopingCall while the {who} is flooded",
        setup=(
            f"{what} floods for {seconds:.0f} s (blocking at the high-water mark; the "
            f"{who}'s RCVHWM is {hwm:,}, so it always has a backlog); lateness = gap "
            "between firings - 10 ms, over the flood (first message to END)"
        ),
        variants=variants,
        columns=[
            Column("max late ms", "late_max_ms", fmt=ms),
            Column("p99 late ms", "late_p99_ms", "median", fmt=ms),
            Column("fired", "fired", "median", fmt=_stats.number(0)),
            Column("flood s", "flood_s", "median", fmt=_stats.number(2)),
            Column("msgs/s", "rate", "median"),
        ],
    )


def fanout(settings: Settings) -> Workload:
    count = settings.pick(200_000, 60_000)
    timeout = 20 + count / 10_000
    variants = []
    for name in ("txzpub async for", "txzpub gotMessage"):
        for n in (1, 1000):
            tags = [tagName(i).decode() for i in range(n)]
            pubCfg = {
                "tags": tags,
                "count": count,
                "size": 100,
                "hwm": HWM,
                "nodrop": True,
                "end_interval": 0.02,
            }
            each = "one consumer per subscription" if name.endswith("for") else "one gotMessage"
            label = f"{name}, {n:,} subscription{'s' if n > 1 else ''}"
            if n > 1:
                label += f" ({each})"
            module, variant = SUBSCRIBERS[name]
            subCfg = {"tags": tags, "mode": "throughput", "variant": variant, "hwm": HWM}
            variants.append(
                Variant(
                    label,
                    lambda p=pubCfg, m=module, s=subCfg: subscriberRun(p, m, s, timeout),
                )
            )

    def single(variant: str) -> str | None:
        if "1,000" not in variant:
            return None
        return variant.split(", 1,000", maxsplit=1)[0] + ", 1 subscription"

    return Workload(
        key="fanout",
        title="1,000 subscriptions vs 1, 100 B bodies",
        setup=(
            f"{count:,} messages round-robin over the subscribed tags t.0000..t.0999; "
            "ratio vs the same implementation with 1 subscription, same round"
        ),
        variants=variants,
        columns=[
            Column("msgs/s", "rate"),
            Column("vs 1 subscription", "rate", "ratio", baseline=single),
        ],
    )


def memory(settings: Settings) -> Workload:
    count = 1_000_000
    tags = [tagName(0).decode()]
    ctl = CTL_TAG.decode("latin-1")
    pubCfg = {
        "tags": tags,
        "end_tags": ["E", ctl],
        "expect": [*tags, "E", ctl],
        "count": count,
        "size": 100,
        "hwm": 0,  # lossy and unbounded: the publisher never blocks or drops
    }
    timeout = 90

    def variant(name: str, module: str, policy: str) -> Variant:
        subCfg = {"tags": tags, "mode": "memory", "variant": policy, "size": 100}
        return Variant(name, lambda: subscriberRun(pubCfg, module, subCfg, timeout))

    mb = _stats.number(1)
    return Workload(
        key="memory",
        title="Memory: a stalled consumer while 1M messages arrive, 100 B bodies",
        setup=(
            f"{count:,} messages as fast as raw pyzmq sends (SNDHWM 0); peak RSS growth of "
            "the subscriber process (VmHWM after reset); shipped defaults (txzpub: "
            "maxQueued 10,000, HWM 1,000; txZMQ: HWM 0)"
        ),
        variants=[
            variant("txzpub next() once, then stalls (DROP_OLDEST)", "sub_txzpub", "drop-oldest"),
            variant("txzpub next() once, then stalls (PAUSE)", "sub_txzpub", "pause"),
            variant("txzpub gotMessage blocks the reactor", "sub_txzpub", "block"),
            variant("txZMQ 1.0.0 gotMessage blocks the reactor", "sub_txzmq", "block"),
        ],
        columns=[
            Column("RSS growth MB", "growth_mb", fmt=mb),
            Column("bound MB", "bound_mb", "median", fmt=_stats.number(1)),
            Column("read", "read", "median", fmt=_stats.number(0)),
            Column("dropped", "dropped", "median", fmt=_stats.number(0)),
            Column("left in libzmq", "buffered_in_libzmq", "median", fmt=_stats.number(0)),
        ],
        maxRepeats=settings.pick(3, 1),
        lossKey=None,
        notes=[
            (
                "bound = (maxQueued + readBatchSize) x (Message + tag + body objects + queue "
                "slot) + HWM x (frame + 64 B zmq_msg_t); the 'blocks the reactor' rows have only "
                "libzmq's HWM as bound (txZMQ's 0: none). The target check allows 1 MB over the "
                "bound for page-granular RSS and first-use allocations."
            ),
        ],
    )


# -- PUSH/PULL, REQ/REP, ROUTER/DEALER ------------------------------------------------

TXZMQ_PULL = "txZMQ 1.0.0 onPull"
TXZMQ_ROUTER = "txZMQ 1.0.0 gotMessage"
TXZMQ_REQREP = "txZMQ 1.0.0 REQ + REP gotMessage"

#: The consumers of the pipeline workloads, as (impl, variant) of bench/impls/pull.py.
PULLERS = {
    "txzpub next()": ("txzpub", "next"),
    "txzpub async for": ("txzpub", "aiter"),
    "txzpub nextBatch(1000)": ("txzpub", "batch"),
    "txzpub onPull": ("txzpub", "legacy"),
    TXZMQ_PULL: ("txzmq", "legacy"),
    RAW: ("pyzmq", "raw"),
}
ROUTERS = {
    "txzpub next()": ("txzpub", "next"),
    "txzpub nextBatch(1000)": ("txzpub", "batch"),
    "txzpub gotMessage": ("txzpub", "legacy"),
    TXZMQ_ROUTER: ("txzmq", "legacy"),
}


def _pullVariant(
    name: str, socket: str, pushCfg: dict, mode: str, timeout: float, **extra
) -> Variant:
    """A PULL (*socket* ``push``) or ROUTER (``dealer``) consumer against the raw producer."""
    table = PULLERS if socket == "push" else ROUTERS
    impl, variant = table[name]
    cfg = {"tags": pushCfg["tags"], "mode": mode, "variant": variant, "hwm": HWM, **extra}
    if impl == "pyzmq":
        module, cfg["socket"] = "sub_pyzmq", "pull"
    else:
        module = "pull"
        cfg.update(impl=impl, socket="pull" if socket == "push" else "router")
    producerCfg = {**pushCfg, "socket": socket}
    return Variant(name, lambda: subscriberRun(producerCfg, module, cfg, timeout, "push"))


def pipelineThroughput(settings: Settings, socket: str) -> Workload:
    """PULL (*socket* ``push``) or ROUTER (``dealer``) throughput, 100 B bodies."""
    count = settings.pick(200_000, 60_000)
    pushCfg = {"tags": [tagName(0).decode()], "count": count, "size": 100, "hwm": HWM}
    timeout = 15 + count / 15_000
    if socket == "push":
        names, base = list(PULLERS), TXZMQ_PULL
        key, title = "pull100", "PULL throughput, 100 B bodies"
        producer = "a raw pyzmq PUSH"
    else:
        names, base = list(ROUTERS), TXZMQ_ROUTER
        key, title = "router100", "ROUTER throughput, 100 B bodies from a DEALER"
        producer = "a raw pyzmq DEALER (the receiving ROUTER is what differs)"
    columns = [Column("msgs/s", "rate"), Column("vs txZMQ", "rate", "ratio", baseline=_vs(base))]
    if RAW in names:
        columns.append(Column("vs raw", "rate", "ratio", baseline=_vs(RAW)))
    return Workload(
        key=key,
        title=title,
        setup=(
            f"{count:,} one-frame messages from {producer} in another process (SNDHWM and "
            f"RCVHWM {HWM:,}: it blocks, nothing is lost); rate = received / (last - first), "
            "measured in the receiver"
        ),
        variants=[_pullVariant(name, socket, pushCfg, "throughput", timeout) for name in names],
        columns=columns,
    )


#: REQ + REP pairs, as (impl, the REP's variant) of bench/impls/reqrep.py.
REQREPS = {
    "txzpub REQ + REP serve()": ("txzpub", "serve"),
    "txzpub REQ + REP next()": ("txzpub", "next"),
    "txzpub REQ + REP gotMessage": ("txzpub", "legacy"),
    TXZMQ_REQREP: ("txzmq", "legacy"),
}


#: Round trips before the measured ones (bench/impls/_twisted.Run skips 100 latencies).
WARMUP = 100


def reqrepRun(impl: str, variant: str, count: int, timeout: float) -> dict:
    """One REP server and one REQ client of the same library."""
    tags = [tagName(0).decode()]
    server, client = runPair(
        "reqrep",
        {"role": "rep", "impl": impl, "variant": variant, "tags": tags, "mode": "serve"},
        "reqrep",
        {
            "role": "req",
            "impl": impl,
            "count": count,
            "size": 100,
            "tags": tags,
            "mode": "latency",
        },
        timeout,
    )
    out = _outcome(client)
    serverCpu = server.get("result", {}).get("cpu_s")
    if "cpu_us" in out and serverCpu is not None:
        # The server's CPU from its ready to the END, over every request it answered.
        out["server_cpu_us"] = serverCpu / (count + WARMUP + 1) * 1e6
        out["client_cpu_us"] = out["cpu_us"]
        out["cpu_us"] += out["server_cpu_us"]
    return out


def reqrep(settings: Settings) -> Workload:
    count = settings.pick(10_000, 3_000)
    timeout = 20 + count / 1_000
    us = _stats.number(0)
    return Workload(
        key="reqrep",
        title="REQ/REP round trips, one client, 100 B",
        setup=(
            f"{count:,} sequential round trips (send, wait for the reply, send the next) after "
            f"{WARMUP} for warm-up, REQ and REP in two processes of the same library; the REP "
            "echoes; p50/p99 of the round-trip time, measured in the client; CPU us/rt = the "
            "reactor threads' CPU time per round trip, REQ + REP (lower is better)"
        ),
        variants=[
            Variant(name, lambda i=impl, v=variant: reqrepRun(i, v, count, timeout))
            for name, (impl, variant) in REQREPS.items()
        ],
        columns=[
            Column("round trips/s", "rate"),
            Column("vs txZMQ", "rate", "ratio", baseline=_vs(TXZMQ_REQREP)),
            Column("p50 us", "p50_us", "median", fmt=us),
            Column("p99 us", "p99_us", fmt=us),
            Column("p99 vs txZMQ", "p99_us", "ratio", baseline=_vs(TXZMQ_REQREP)),
            Column("CPU us/rt", "cpu_us", fmt=_stats.number(1)),
            Column("CPU vs txZMQ", "cpu_us", "ratio", baseline=_vs(TXZMQ_REQREP)),
            Column("REQ CPU", "client_cpu_us", "median", fmt=_stats.number(1)),
            Column("REP CPU", "server_cpu_us", "median", fmt=_stats.number(1)),
        ],
        lossKey=None,
    )


# -- sequenced vs plain pub/sub ----------------------------------------------------------

#: The wire formats compared, as (label, bench/impls/xpub.py framing, frames per message).
#: "one frame" is what a plain publisher sends by default, "two frames" its
#: multipartFraming=True, "sequenced" a sequenced publisher's [tag, body, stamp].
ONE, TWO, SEQ = "one frame", "two frames", "sequenced"
FRAMINGS = ((ONE, "one", 1), (TWO, "two", 2), (SEQ, "sequenced", 3))
SEQ_TARGET = 0.8  # sequenced >= 0.8x plain: throughput, and 1 / 0.8 for latency


def framed(name: str, label: str) -> str:
    """The row of implementation *name* reading (or sending) *label*'s framing."""
    return f"{name}, {label}"


def _sameImplementation(label: str, of: tuple[str, ...]) -> Callable[[str], str | None]:
    """Ratio baseline: the same implementation with *label*'s framing, for rows in *of*."""
    suffixes = tuple(f", {each}" for each in of)

    def baseline(variant: str) -> str | None:
        for suffix in suffixes:
            if variant.endswith(suffix):
                return variant[: -len(suffix)] + f", {label}"
        return None

    return baseline


def _seqSubVariants(names: list[str], pubCfg: dict, mode: str, timeout: float) -> list[Variant]:
    """Per subscriber, one row per framing, side by side (so each pair runs back to back)."""
    variants = []
    for name in names:
        module, variant = SUBSCRIBERS[name]
        for label, framing, frames in FRAMINGS:
            producer = {**pubCfg, "framing": framing}
            subCfg = {
                "tags": pubCfg["tags"],
                "mode": mode,
                "variant": variant,
                "hwm": HWM,
                "framing": framing,
                "frames": frames,
            }
            variants.append(
                Variant(
                    framed(name, label),
                    lambda p=producer, m=module, c=subCfg: subscriberRun(p, m, c, timeout),
                )
            )
    return variants


SEQ_SUBSCRIBERS = [
    "txzpub next()",
    "txzpub async for",
    "txzpub gotMessage",
    "txzpub nextBatch(1000)",
    RAW,
]


def sequencedSubscriberThroughput(settings: Settings) -> Workload:
    count = settings.pick(400_000, 100_000)
    tags = [tagName(0).decode()]
    pubCfg = {"tags": tags, "count": count, "size": 100, "hwm": HWM, "nodrop": True}
    timeout = 15 + count / 15_000
    return Workload(
        key="seqsub",
        title="Sequenced vs plain: subscriber throughput, 100 B bodies",
        setup=(
            f"{count:,} messages from a raw pyzmq XPUB in another process, as `sub100`, sent "
            "as one frame `tag\\0body` (a plain publisher's default), two frames `[tag, body]` "
            "(multipartFraming) or a sequenced stream's `[tag, body, stamp]` with valid stamps "
            "(precomputed: only the subscriber's side differs); rate = received / (last - "
            "first), measured in the subscriber; ratios vs the same subscriber in the same round"
        ),
        variants=_seqSubVariants(SEQ_SUBSCRIBERS, pubCfg, "throughput", timeout),
        columns=[
            Column("msgs/s", "rate"),
            Column(f"vs {ONE}", "rate", "ratio", baseline=_sameImplementation(ONE, (TWO, SEQ))),
            Column(f"vs {TWO}", "rate", "ratio", baseline=_sameImplementation(TWO, (SEQ,))),
        ],
        notes=[
            (
                "The raw pyzmq rows read each frame with one blocking recv(): the fastest "
                "Python reader of each framing, and so a ceiling for the rows above (on 2 "
                "cores the publisher's sends of three frames compete with the subscriber "
                "for the CPU)."
            ),
        ],
    )


def sequencedPublisherThroughput(settings: Settings) -> Workload:
    count = settings.pick(500_000, 150_000)
    timeout = 15 + count / 15_000
    rows = (
        (ONE, "one", 1),
        (TWO, "two", 2),
        (SEQ, "sequenced", 3),
        ("sequenced + replay buffer", "replay", 3),
    )
    tags = [tagName(0).decode()]

    def run(framing: str, frames: int) -> dict:
        server, client = runPair(
            "drain",
            {"tags": tags, "size": 100, "frames": frames},
            "pub",
            {
                "tags": tags,
                "size": 100,
                "count": count,
                "variant": "txzpub",
                "framing": framing,
            },
            timeout,
        )
        out = _outcome(client)
        drained = server.get("result", {}).get("received")
        if "rate" in out and drained is not None:
            out["received"] = drained
            out["lost"] = count - drained
        return out

    name = "txzpub publish()"
    vsOne = _sameImplementation(ONE, (TWO, SEQ, "sequenced + replay buffer"))
    return Workload(
        key="seqpub",
        title="Sequenced vs plain: publisher throughput, 100 B bodies",
        setup=(
            f"time to publish {count:,} messages with ZmqPubConnection (SNDHWM 0), as `pub`: "
            "one frame (the default), two frames (multipartFraming=True), sequenced=True, and "
            "sequenced with a replay buffer (replay= bound to a tcp port; replayDepth 10,000, "
            "so it evicts as it goes); a raw pyzmq SUB drains in another process; 'per CPU s' "
            "divides by the publishing thread's CPU time (steadier on a busy machine)"
        ),
        variants=[
            Variant(framed(name, label), lambda f=framing, k=frames: run(f, k))
            for label, framing, frames in rows
        ],
        columns=[
            Column("msgs/s", "rate"),
            Column(f"vs {ONE}", "rate", "ratio", baseline=vsOne),
            Column(f"vs {TWO}", "rate", "ratio", baseline=_sameImplementation(TWO, (SEQ,))),
            Column("per CPU s", "cpu_rate", "median"),
            Column(f"CPU vs {ONE}", "cpu_rate", "ratio", baseline=vsOne),
        ],
    )


def sequencedLatency(settings: Settings) -> Workload:
    rate = 10_000
    seconds = settings.pick(1.0, 0.5)
    count = int(rate * seconds)
    pubCfg = {
        "tags": [tagName(0).decode()],
        "mode": "paced",
        "rate": rate,
        "count": count,
        "size": 100,
        "hwm": HWM,
        "nodrop": True,
    }
    names = ["txzpub next()", "txzpub async for", "txzpub gotMessage"]
    us = _stats.number(0)
    vsOne = _sameImplementation(ONE, (TWO, SEQ))
    return Workload(
        key="seqlatency",
        title="Sequenced vs plain: one-way latency at 10k msgs/s, 100 B bodies",
        setup=(
            f"{count:,} messages paced at {rate:,}/s by raw pyzmq, as `latency`, sent as one "
            "frame, two frames or a sequenced `[tag, body, stamp]`; latency = receive time - "
            "send time (first 100 skipped); ratios vs the same subscriber reading one frame "
            "in the same round (lower is better)"
        ),
        variants=_seqSubVariants(names, pubCfg, "latency", 20 + seconds),
        columns=[
            Column("p50 us", "p50_us", fmt=us),
            Column("p99 us", "p99_us", fmt=us),
            Column(f"p50 vs {ONE}", "p50_us", "ratio", baseline=vsOne),
            Column(f"p99 vs {ONE}", "p99_us", "ratio", baseline=vsOne),
        ],
    )


def allWorkloads(settings: Settings) -> list[Workload]:
    return [
        subscriberThroughput(settings, 100),
        subscriberThroughput(settings, 4096),
        publisherThroughput(settings),
        latency(settings),
        fairness(settings),
        fanout(settings),
        memory(settings),
        pipelineThroughput(settings, "push"),
        reqrep(settings),
        pipelineThroughput(settings, "dealer"),
        fairness(settings, "pull"),
        sequencedSubscriberThroughput(settings),
        sequencedPublisherThroughput(settings),
        sequencedLatency(settings),
    ]
