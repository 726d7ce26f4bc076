"""
Plain pyzmq subscribers, the baselines: ``raw`` (a blocking ``sock.recv()`` loop, the
practical Python limit) and ``asyncio`` (``await sock.recv_multipart()`` on
zmq.asyncio, splitting tag and body as a real consumer would). One tag
(cfg["tags"][0]); modes ``throughput`` and ``latency``. With ``socket: pull``
the raw loop reads a PULL socket instead (bench/impls/push.py: untagged bodies,
an empty frame as END). With *frames* 2 or 3 (``[tag, body]``, or a sequenced
stream's ``[tag, body, stamp]``) the raw loop reads that many frames per
message, a ``recv()`` each, and looks at the body: the fastest Python reader of
those framings, so its row shows where the publisher's own limit lies.
"""

from __future__ import annotations

import time

import zmq

from bench._common import SEP, config, finish, percentile


def report(count: int, first: float | None, last: float | None, lat: list[int] | None) -> None:
    out: dict = {"received": count}
    if first is not None and last is not None and last > first:
        out["seconds"] = last - first
        out["rate"] = count / (last - first)
    if lat is not None:
        kept = lat[100:] or lat  # the first 100: connection warm-up
        out["received"] = len(lat)
        out["p50_us"] = (percentile(kept, 0.50) or 0) / 1000
        out["p99_us"] = (percentile(kept, 0.99) or 0) / 1000
    finish("result", out)


def raw(cfg: dict) -> None:
    tag = cfg["tags"][0].encode("latin-1")
    pull = cfg.get("socket") == "pull"
    endLength = 0 if pull else len(tag) + 1
    timeout = float(cfg.get("timeout", 60))
    context = zmq.Context()
    sock = context.socket(zmq.PULL if pull else zmq.SUB)
    sock.set(zmq.LINGER, 0)
    if cfg.get("hwm") is not None:
        sock.set(zmq.RCVHWM, int(cfg["hwm"]))
    sock.set(zmq.RCVTIMEO, int(timeout * 1000))
    sock.connect(cfg["endpoint"])
    if not pull:
        sock.set(zmq.SUBSCRIBE, tag)
    recv = sock.recv
    n = 0
    frames = int(cfg.get("frames", 1))
    if frames > 1:
        rawMultipart(recv, frames, cfg["mode"], timeout)
    try:
        if cfg["mode"] == "latency":
            lat: list[int] = []
            clock = time.monotonic_ns
            fromBytes = int.from_bytes
            skip = len(tag) + 1
            while True:
                frame = recv()
                if len(frame) == endLength:
                    break
                lat.append(clock() - fromBytes(frame[skip : skip + 8], "little"))
            report(len(lat), None, None, lat)
        frame = recv()
        first = time.perf_counter()
        while len(frame) != endLength:
            n += 1
            frame = recv()
        last = time.perf_counter()
    except zmq.Again:
        finish("error", f"timeout after {timeout:.0f} s (received {n} so far)", 1)
    report(n, first, last, None)


def rawMultipart(recv, frames: int, mode: str, timeout: float) -> None:
    """The raw loop for messages of *frames* frames (2 or 3): tag, body[, stamp]."""
    extra = range(frames - 2)
    n = 0
    try:
        if mode == "latency":
            lat: list[int] = []
            clock = time.monotonic_ns
            fromBytes = int.from_bytes
            while True:
                recv()
                body = recv()
                for _ in extra:
                    recv()
                if not body:
                    break
                lat.append(clock() - fromBytes(body[:8], "little"))
            report(len(lat), None, None, lat)
        recv()
        body = recv()
        for _ in extra:
            recv()
        first = time.perf_counter()
        while body:
            n += 1
            recv()
            body = recv()
            for _ in extra:
                recv()
        last = time.perf_counter()
    except zmq.Again:
        finish("error", f"timeout after {timeout:.0f} s (received {n} so far)", 1)
    report(n, first, last, None)


def asyncio_(cfg: dict) -> None:
    import asyncio

    import zmq.asyncio

    tag = cfg["tags"][0].encode("latin-1")
    timeout = float(cfg.get("timeout", 60))

    async def consume() -> None:
        context = zmq.asyncio.Context()
        sock = context.socket(zmq.SUB)
        sock.set(zmq.LINGER, 0)
        if cfg.get("hwm") is not None:
            sock.set(zmq.RCVHWM, int(cfg["hwm"]))
        sock.connect(cfg["endpoint"])
        sock.set(zmq.SUBSCRIBE, tag)
        recv = sock.recv_multipart
        n = 0
        first = None
        lat: list[int] | None = [] if cfg["mode"] == "latency" else None
        clock = time.monotonic_ns
        fromBytes = int.from_bytes
        while True:
            frames = await recv()
            _, _, body = frames[0].partition(SEP)
            if not body:
                break
            if lat is not None:
                lat.append(clock() - fromBytes(body[:8], "little"))
                continue
            n += 1
            if n == 1:
                first = time.perf_counter()
        report(n, first, time.perf_counter(), lat)

    async def bounded() -> None:
        try:
            await asyncio.wait_for(consume(), timeout)
        except asyncio.TimeoutError:
            finish("error", f"timeout after {timeout:.0f} s", 1)

    asyncio.run(bounded())


def main() -> None:
    cfg = config()
    (raw if cfg["variant"] == "raw" else asyncio_)(cfg)


if __name__ == "__main__":
    main()
