"""
The reference producer of the pipeline workloads: raw pyzmq on a PUSH (or, with
``socket: dealer``, a DEALER) socket, wire-compatible with any PULL (ROUTER).

It binds ``tcp://127.0.0.1:*`` and reports the endpoint. No handshake is needed:
PUSH and DEALER block on send until a peer is connected, so sending starts when
the consumer is there. It sends *count* one-frame bodies of *size* bytes (or as
many as fit in *duration* seconds) as fast as raw pyzmq sends, blocking at its
high-water mark *hwm* (both socket types never drop), then one empty frame, the
END marker: each message goes to exactly one peer, so once is enough. Closing
with a linger waits until everything has left, then it reports what it sent.
"""

from __future__ import annotations

import time

import zmq

from bench._common import config, emit, finish


def main() -> None:
    cfg = config()
    count = int(cfg["count"])
    size = int(cfg.get("size", 100))
    duration = float(cfg.get("duration", 0))
    timeout = float(cfg.get("timeout", 60))
    limit = time.monotonic() + timeout

    context = zmq.Context()
    sock = context.socket(zmq.DEALER if cfg.get("socket") == "dealer" else zmq.PUSH)
    sock.set(zmq.SNDHWM, int(cfg.get("hwm", 1000)))
    sock.set(zmq.SNDTIMEO, int(timeout * 1000))  # a vanished consumer cannot hang us
    sock.bind("tcp://127.0.0.1:*")
    emit("ready", {"endpoint": sock.get(zmq.LAST_ENDPOINT).decode()})

    send = sock.send
    body = b"x" * size
    sent = 0
    chunk = 1000 if duration else 10_000
    try:
        send(body)  # blocks until the consumer has connected
        sent = 1
        started = time.perf_counter()
        while sent < count and not (duration and time.perf_counter() - started > duration):
            n = min(chunk, count - sent)
            for _ in range(n):
                send(body)
            sent += n
            if time.monotonic() > limit:
                break
        elapsed = time.perf_counter() - started
        send(b"")  # END
    except zmq.Again:
        finish("error", f"send timed out after {sent} messages", 2)
    sock.close(linger=max(1, int((limit - time.monotonic()) * 1000)))
    context.term()
    finish(
        "result",
        {"sent": sent, "send_seconds": elapsed, "send_rate": sent / elapsed if elapsed else None},
    )


if __name__ == "__main__":
    main()
