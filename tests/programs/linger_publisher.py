"""
Publish a burst and stop the reactor at once: does shutdown honour lingerPeriod?

Run as ``linger_publisher.py '{"count": 10000, "size": 1024, "linger": 5000}'``.
It binds a txzpub publisher to tcp://127.0.0.1 (a port the OS picks) and
reports ``bound``; waits for one subscriber (waitForSubscribers, no sleep);
publishes *count* messages of *size* bytes (tag ``seq``, the body starts with
its 8-byte big-endian sequence number) in one reactor turn; reports
``stopping`` and calls reactor.stop() right away. Its socket has no send
high-water mark (``highWaterMark = 0``), so none of the burst is dropped on the
way into libzmq: what has not left when the reactor stops is still queued there.

Nothing else closes anything: the factory was registered with
``registerForShutdown()``, so the reactor's shutdown shuts it down, and
lingerPeriod decides how long unsent messages may keep the process alive. When
reactor.run() returns it reports ``stopped`` and exits 0.
"""

from __future__ import annotations

import json
import sys

import zmq
from _child import emit, logToStderr
from twisted.internet import reactor

from txzpub import ZmqEndpoint, ZmqEndpointType, ZmqFactory, ZmqPubConnection


class Publisher(ZmqPubConnection):
    highWaterMark = 0  # unbounded: nothing dropped at the HWM, the burst waits in libzmq


def main() -> int:
    config = json.loads(sys.argv[1])
    count, size = int(config["count"]), int(config["size"])
    logToStderr()
    factory = ZmqFactory(reactor)
    factory.lingerPeriod = int(config["linger"])
    factory.registerForShutdown()
    publisher = Publisher(factory, ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:0"))
    emit("bound", endpoint=publisher.socket.get_string(zmq.LAST_ENDPOINT))
    status = {"code": 0}

    def publish(_: object) -> None:
        padding = b"x" * (size - 8)
        for n in range(count):
            publisher.publish(n.to_bytes(8, "big") + padding, b"seq")
        emit("stopping", published=count, linger=factory.lingerPeriod)
        reactor.stop()

    def failed(failure: object) -> None:
        emit("error", error=str(failure))
        status["code"] = 1
        reactor.stop()

    def start() -> None:
        # Once the reactor runs: the subscriber may already be there, and then
        # waitForSubscribers() fires at once, and reactor.stop() needs a running reactor.
        waiting = publisher.waitForSubscribers(1, b"seq", timeout=float(config.get("timeout", 20)))
        waiting.addCallback(publish).addErrback(failed)

    reactor.callWhenRunning(start)
    reactor.run()
    emit("stopped", factoryClosed=factory.closed)
    return status["code"]


if __name__ == "__main__":
    sys.exit(main())
