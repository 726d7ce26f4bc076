"""
The soak's publisher: raw pyzmq XPUB with XPUB_NODROP, blocking sends; loses nothing.

Run as ``soak_publisher.py '{"seconds": 50, "minimum": 1000000}'``. It binds
tcp://127.0.0.1 (a port the OS picks) and reports ``bound``; waits (poll, with
a deadline) until the subscriptions to ``soak`` and ``end`` have arrived; then
sends ``soak`` messages with 100-byte bodies, each starting with its 8-byte
big-endian sequence number, as fast as the subscriber takes them, for
*seconds* and at least *minimum* messages. With XPUB_NODROP a send at the
high-water mark (1,000) blocks instead of dropping, so the transport loses
nothing: every message not delivered was dropped by the subscriber's own queue.
Then it sends one ``end`` message whose body is how many it sent (in order
after all of them), reports ``sent``, and lets the context deliver it.
"""

from __future__ import annotations

import json
import sys
import time

import zmq
from _child import emit

TAG = b"soak"
BODY = 100
#: A send blocked this long means the subscriber is gone: fail instead of hanging.
SEND_TIMEOUT_MS = 20_000


def main() -> int:
    config = json.loads(sys.argv[1])
    seconds, minimum = float(config["seconds"]), int(config["minimum"])
    context = zmq.Context()
    socket = context.socket(zmq.XPUB)
    socket.set(zmq.SNDHWM, 1000)
    socket.set(zmq.XPUB_NODROP, 1)
    socket.set(zmq.SNDTIMEO, SEND_TIMEOUT_MS)
    socket.set(zmq.LINGER, SEND_TIMEOUT_MS)
    socket.bind("tcp://127.0.0.1:*")
    emit("bound", endpoint=socket.get(zmq.LAST_ENDPOINT).decode())

    expected, seen = {TAG, b"end"}, set()
    deadline = time.monotonic() + float(config.get("handshake", 20))
    while not expected <= seen:
        left = deadline - time.monotonic()
        if left <= 0:
            emit("error", error=f"subscriptions {sorted(expected - seen)} never arrived")
            return 1
        if socket.poll(int(left * 1000) + 1):
            frame = socket.recv()
            if frame[:1] == b"\x01":
                seen.add(frame[1:])

    prefix, padding = TAG + b"\0", b"x" * (BODY - 8)
    send = socket.send
    started = time.monotonic()
    emit("flooding")
    sent = 0
    try:
        while sent < minimum or time.monotonic() - started < seconds:
            for n in range(sent, sent + 10_000):
                send(prefix + n.to_bytes(8, "big") + padding)
            sent += 10_000
        send(b"end\0%d" % sent)
    except zmq.Again:
        emit("error", error=f"a send blocked for {SEND_TIMEOUT_MS} ms after {sent} messages")
        return 1
    elapsed = time.monotonic() - started
    emit("sent", sent=sent, seconds=elapsed, rate=sent / elapsed)
    socket.close()
    context.term()  # waits (LINGER at most) until the end marker has left
    return 0


if __name__ == "__main__":
    sys.exit(main())
