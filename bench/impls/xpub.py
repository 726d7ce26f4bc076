"""
The reference publisher: raw pyzmq on an XPUB socket (wire-compatible with any SUB).

It binds ``tcp://127.0.0.1:*``, reports the endpoint, then waits (poll with a
deadline) until every expected subscription has arrived: XPUB hands the
publisher each peer's ``b"\\x01" + tag``, so sending starts exactly when the
subscriber is ready, with no sleep. Then:

- ``flood``: *count* messages (or as many as fit in *duration* seconds) as fast as
  raw pyzmq sends, round-robin over *tags*; with *nodrop* the socket blocks at its
  high-water mark *hwm* instead of dropping, so a slow subscriber paces it;
- ``paced``: *count* messages at *rate* msgs/s, each body stamped with monotonic_ns.

Afterwards it sends each of *end_tags* with an empty body (the END marker) every
*end_interval* seconds until a peer goes away (XPUB sees its unsubscriptions)
or the deadline passes, and reports what it sent.
"""

from __future__ import annotations

import time

import zmq

from bench._common import SEP, config, emit, finish, reduceTimerSlack, stamp


def main() -> None:
    cfg = config()
    tags = [t.encode("latin-1") for t in cfg["tags"]]
    endTags = [t.encode("latin-1") for t in cfg.get("end_tags", cfg["tags"])]
    expect = {t.encode("latin-1") for t in cfg.get("expect", cfg["tags"])}
    count = int(cfg["count"])
    size = int(cfg.get("size", 100))
    limit = time.monotonic() + float(cfg.get("timeout", 60))

    context = zmq.Context()
    sock = context.socket(zmq.XPUB)
    sock.set(zmq.SNDHWM, int(cfg.get("hwm", 0)))
    if cfg.get("nodrop"):
        # At the high-water mark, block (back-pressure) instead of dropping: nothing
        # is lost and memory stays bounded whatever the subscriber's speed.
        sock.set(zmq.XPUB_NODROP, 1)
    sock.set(zmq.LINGER, 0)
    sock.bind("tcp://127.0.0.1:*")
    emit("ready", {"endpoint": sock.get(zmq.LAST_ENDPOINT).decode()})

    # Handshake: wait until every expected subscription reached us.
    seen: set[bytes] = set()
    handshakeLimit = time.monotonic() + float(cfg.get("handshake_timeout", 20))
    while not expect <= seen:
        left = handshakeLimit - time.monotonic()
        if left <= 0:
            finish("error", f"handshake: {len(expect - seen)} subscriptions never arrived", 2)
        if sock.poll(int(left * 1000) + 1):
            frame = sock.recv()
            if frame[:1] == b"\x01":
                seen.add(frame[1:])

    send = sock.send
    started = time.perf_counter()
    sent = 0
    if cfg.get("mode", "flood") == "flood":
        body = b"x" * size
        frames = [tag + SEP + body for tag in tags]
        duration = float(cfg.get("duration", 0))
        chunk = 1000 if duration else 10_000
        while sent < count and not (duration and time.perf_counter() - started > duration):
            n = min(chunk, count - sent)
            if len(frames) == 1:
                frame = frames[0]
                for _ in range(n):
                    send(frame)
            else:
                k = len(frames)
                for i in range(sent, sent + n):
                    send(frames[i % k])
            sent += n
            if time.monotonic() > limit:
                break
    else:
        reduceTimerSlack()
        interval = 1.0 / float(cfg["rate"])
        k = len(tags)
        clock = time.perf_counter
        for i in range(count):
            delay = started + i * interval - clock()
            if delay > 0:
                time.sleep(delay)
            send(tags[i % k] + SEP + stamp(size))
            sent += 1
            if not i % 1000 and time.monotonic() > limit:
                break
    elapsed = time.perf_counter() - started

    # END until a subscriber leaves (its unsubscriptions arrive) or the deadline.
    ends = [tag + SEP for tag in endTags]
    interval = int(float(cfg.get("end_interval", 0.005)) * 1000)
    gone = False
    while not gone and time.monotonic() < limit:
        for frame in ends:
            send(frame)
        nextRound = time.monotonic() + interval / 1000
        while not gone and (left := nextRound - time.monotonic()) > 0:
            if sock.poll(max(1, int(left * 1000))):
                gone = sock.recv()[:1] == b"\x00"
    finish(
        "result",
        {
            "sent": sent,
            "send_seconds": elapsed,
            "send_rate": sent / elapsed if elapsed > 0 else None,
            "subscriber_left": gone,
        },
    )


if __name__ == "__main__":
    main()
