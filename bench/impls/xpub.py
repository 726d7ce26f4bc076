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

*framing* says what a message looks like on the wire: unset, txZMQ's one frame
``tag + b"\\0" + body`` (pyzmq's ``Socket.send``, as it always was); ``one``,
the same frame; ``two``, ``[tag, body]``; ``sequenced``, ``[tag, body, stamp]``
with valid txzpub stamps (one publisher identity per run, numbers per tag from
1, precomputed before the handshake), so that a subscriber reading it does the
work of a sequenced stream while this side stays as cheap as it can. With a
*framing* every send is the pyzmq backend's ``send`` (the Python wrapper costs
about 200 ns a call, and a sequenced message is three calls), so the publisher
does not become the bottleneck of the rows it is compared across. No
heartbeats are sent (a real sequenced publisher sends one a second).

Afterwards it sends each of *end_tags* with an empty body (the END marker) every
*end_interval* seconds until a peer goes away (XPUB sees its unsubscriptions)
or the deadline passes, and reports what it sent.
"""

from __future__ import annotations

import time

import zmq

from bench._common import SEP, config, emit, finish, reduceTimerSlack, stamp

_SNDMORE = int(zmq.SNDMORE)
#: Precompute the stamps of a sequenced flood up to this many messages.
PRECOMPUTED = 2_000_000


class Framer:
    """
    What one message of *framing* costs the publisher: ``send(tag, body)``
    sends it (blocking at the high-water mark under XPUB_NODROP).
    """

    def __init__(self, sock: zmq.Socket, framing: str | None, tags: list[bytes]) -> None:
        self.framing = framing
        self.used = dict.fromkeys(tags, 0)  # tag -> last sequence number used
        self.prefix = b""
        if framing is None:
            self.raw = sock.send
            return
        # The backend's send bound to this socket: no Python wrapper in between.
        self.raw = zmq.backend.Socket.send.__get__(sock)
        if framing == "sequenced":
            from txzpub._core._stamp import Sequencer, newPublisherId

            # The stamp prefix as txzpub builds it; checked against Sequencer.next.
            sequencer = Sequencer(newPublisherId())
            self.prefix = sequencer.prefix
            assert sequencer.next(b"t")[1] == self.prefix + (1).to_bytes(8, "big")
        elif framing not in {"one", "two"}:
            finish("error", f"unknown framing {framing!r}", 2)

    def stamp(self, tag: bytes) -> bytes:
        """The next stamp of *tag* (it uses the number)."""
        number = self.used[tag] = self.used[tag] + 1
        return self.prefix + number.to_bytes(8, "big")

    def send(self, tag: bytes, body: bytes) -> None:
        framing = self.framing
        if framing is None or framing == "one":
            self.raw(tag + SEP + body)
            return
        send = self.raw
        send(tag, _SNDMORE)
        if framing == "two":
            send(body)
        else:
            send(body, _SNDMORE)
            send(self.stamp(tag))


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
    framer = Framer(sock, cfg.get("framing"), tags)
    emit("ready", {"endpoint": sock.get(zmq.LAST_ENDPOINT).decode()})
    floodMode = cfg.get("mode", "flood") == "flood"
    stamps = None
    if floodMode and framer.framing == "sequenced" and count <= PRECOMPUTED:
        # While the subscriber starts: ~0.1 s for 400,000 stamps.
        k = len(tags)
        stamps = [framer.stamp(tags[i % k]) for i in range(count)]

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

    send = framer.raw
    started = time.perf_counter()
    sent = 0
    if floodMode and framer.framing in {"two", "sequenced"}:
        sent = multipartFlood(framer, tags, b"x" * size, count, stamps, limit)
    elif floodMode:
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
            framer.send(tags[i % k], stamp(size))
            sent += 1
            if not i % 1000 and time.monotonic() > limit:
                break
    elapsed = time.perf_counter() - started

    # END until a subscriber leaves (its unsubscriptions arrive) or the deadline.
    interval = int(float(cfg.get("end_interval", 0.005)) * 1000)
    gone = False
    for tag in endTags:
        framer.used.setdefault(tag, 0)
    while not gone and time.monotonic() < limit:
        for tag in endTags:
            framer.send(tag, b"")  # sequenced: each repeat has its own number
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


def multipartFlood(
    framer: Framer,
    tags: list[bytes],
    body: bytes,
    count: int,
    stamps: list[bytes] | None,
    limit: float,
) -> int:
    """*count* messages of two or three frames, round-robin over *tags*; return how many."""
    send = framer.raw
    k = len(tags)
    sent = 0
    while sent < count:
        n = min(10_000, count - sent)
        if framer.framing == "two":
            for i in range(sent, sent + n):
                send(tags[i % k], _SNDMORE)
                send(body)
        elif stamps is not None:
            for i in range(sent, sent + n):
                send(tags[i % k], _SNDMORE)
                send(body, _SNDMORE)
                send(stamps[i])
        else:
            for i in range(sent, sent + n):
                framer.send(tags[i % k], body)
        sent += n
        if time.monotonic() > limit:
            break
    return sent


if __name__ == "__main__":
    main()
