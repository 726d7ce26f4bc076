"""
The drain for the publisher benchmark: a raw pyzmq SUB (RCVHWM 0) that binds,
plus a PAIR control socket, so any PUB implementation can connect to it.

Handshake: the publisher sends probes (tag PROBE_TAG) until this side receives
one and answers ``go`` on the control socket. It then counts data frames until
the END marker and answers ``stop``, so the publisher knows everything arrived.
With *frames* 2 or 3 (``[tag, body]``, or a sequenced ``[tag, body, stamp]``)
every message is that many frames, read with one ``recv()`` each; the body
frame tells data (*size* bytes) from END (empty).
"""

from __future__ import annotations

import time

import zmq

from bench._common import PROBE_TAG, config, emit, finish


def main() -> None:
    cfg = config()
    tag = cfg["tags"][0].encode("latin-1")
    size = int(cfg.get("size", 100))
    timeout = float(cfg.get("timeout", 60))
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.set(zmq.RCVHWM, 0)
    sub.set(zmq.LINGER, 0)
    sub.set(zmq.SUBSCRIBE, tag)
    sub.set(zmq.SUBSCRIBE, PROBE_TAG)
    sub.bind("tcp://127.0.0.1:*")
    ctl = context.socket(zmq.PAIR)
    ctl.set(zmq.LINGER, 0)
    ctl.bind("tcp://127.0.0.1:*")
    emit(
        "ready",
        {
            "endpoint": sub.get(zmq.LAST_ENDPOINT).decode(),
            "ctl": ctl.get(zmq.LAST_ENDPOINT).decode(),
        },
    )
    sub.set(zmq.RCVTIMEO, int(timeout * 1000))
    frames = int(cfg.get("frames", 1))
    if frames > 1:
        count, first, last = multipart(sub.recv, frames, tag, size, ctl, timeout)
    else:
        count, first, last = oneFrame(sub.recv, len(tag), size, ctl, timeout)
    out = {"received": count}
    if first is not None and last > first:
        out["rate"] = count / (last - first)
    # Deliver "stop" before leaving: finish() exits at once, which would drop it.
    ctl.send(b"stop")
    sub.close(linger=0)
    ctl.close(linger=2000)
    context.term()
    finish("result", out)


def oneFrame(recv, tagLength: int, size: int, ctl, timeout: float) -> tuple:
    """Count one-frame messages until END; (count, first, last)."""
    dataLength = tagLength + 1 + size
    endLength = tagLength + 1
    count = 0
    try:
        while not recv().startswith(PROBE_TAG):
            pass
        ctl.send(b"go")
        first = None
        while True:
            length = len(recv())
            if length == dataLength:
                count += 1
                if count == 1:
                    first = time.perf_counter()
            elif length == endLength:
                break
        last = time.perf_counter()
    except zmq.Again:
        finish("error", f"timeout after {timeout:.0f} s (received {count})", 1)
    return count, first, last


def multipart(recv, frames: int, tag: bytes, size: int, ctl, timeout: float) -> tuple:
    """Count messages of *frames* frames until *tag*'s END; (count, first, last)."""
    extra = range(frames - 2)
    count = 0
    try:
        while True:
            head = recv()
            for _ in range(frames - 1):
                recv()
            if head.startswith(PROBE_TAG):
                break
        ctl.send(b"go")
        first = None
        while True:
            head = recv()
            length = len(recv())
            for _ in extra:
                recv()
            if length == size:
                count += 1
                if count == 1:
                    first = time.perf_counter()
            elif not length and head == tag:  # not a late probe: END
                break
        last = time.perf_counter()
    except zmq.Again:
        finish("error", f"timeout after {timeout:.0f} s (received {count})", 1)
    return count, first, last


if __name__ == "__main__":
    main()
