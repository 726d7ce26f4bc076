"""
ROUTER/DEALER: a broker hands jobs to asynchronous workers, whichever is free.

One process, nothing to start first. The broker (a ZmqRouterConnection bound
to a free port on 127.0.0.1) reads ``(senderId, frames)`` with
``yield broker.next(timeout=5)`` and answers a worker by its routing id with
``sendMultipart(senderId, frames)``. Each worker (a ZmqDealerConnection with
its own identity) says ``ready``, then reads jobs with ``async for`` and
sends back each result, which also asks for the next job. The workers differ
in speed, so the faster ones do more of the jobs. When every result is in, the
broker shuts the factory down, which ends the workers' loops.

    python examples/router_dealer.py [jobs]

A ROUTER cannot send to a peer that is not connected. A plain ROUTER socket
drops such a message silently; txzpub's logs it, as the last step shows (the
warning goes to stderr).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, cast

import zmq
from twisted.internet.defer import Deferred, ensureDeferred, gatherResults
from twisted.internet.task import deferLater, react
from twisted.logger import (
    ILogObserver,
    LogEvent,
    LogLevel,
    globalLogBeginner,
    textFileLogObserver,
)

from txzpub import (
    ZmqDealerConnection,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqRouterConnection,
)

if TYPE_CHECKING:
    # The type Twisted gives its global reactor, the one react() passes to main.
    from twisted.internet import _IReactorCommon as Reactor

#: Each worker's routing id, and the seconds it takes per job.
WORKERS = {b"worker-fast": 0.01, b"worker-medium": 0.03, b"worker-slow": 0.09}


async def work(reactor: Reactor, dealer: ZmqDealerConnection, seconds: float) -> None:
    """One worker: ready, then a job at a time until the connection shuts down."""
    dealer.sendMsg(b"ready")
    async for frames in dealer:
        _, jobId, text = frames  # [b"job", id, text]
        await deferLater(reactor, seconds, lambda: None)  # the work takes a while
        dealer.sendMultipart([b"done", jobId, text.upper()])  # and asks for the next job


async def main(reactor: Reactor, jobCount: int) -> None:
    warnings = textFileLogObserver(sys.stderr)

    def warningsOnly(event: LogEvent) -> None:
        if event["log_level"] >= LogLevel.warn:
            warnings(event)

    # cast: a function is a log observer, but mypy cannot see zope interfaces.
    globalLogBeginner.beginLoggingTo(
        [cast("ILogObserver", warningsOnly)], redirectStandardIO=False
    )
    factory = ZmqFactory(reactor)
    broker = ZmqRouterConnection(factory, ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:0"))
    address = ZmqEndpoint(ZmqEndpointType.connect, broker.socket.get_string(zmq.LAST_ENDPOINT))

    workers: list[Deferred[None]] = []
    for identity, seconds in WORKERS.items():
        dealer = ZmqDealerConnection(factory, address, identity=identity)
        workers.append(ensureDeferred(work(reactor, dealer, seconds)))

    jobs = [(b"%d" % n, b"job number %d" % n) for n in range(1, jobCount + 1)]
    results: dict[bytes, bytes] = {}
    doneBy = dict.fromkeys(WORKERS, 0)
    while len(results) < jobCount:
        senderId, frames = await broker.next(timeout=5)
        if frames[0] == b"done":
            _, jobId, result = frames
            results[jobId] = result
            doneBy[senderId] += 1
        if jobs:  # the sender is free: give it the next job
            jobId, text = jobs.pop(0)
            broker.sendMultipart(senderId, [b"job", jobId, text])

    print(f"broker: {len(results)} results, for example {results[b'1'].decode()!r}")
    for identity, count in doneBy.items():
        print(f"{identity.decode()}: {count} jobs")

    broker.sendMsg(b"worker-gone", b"anyone there?")  # no such peer: logged, dropped
    factory.shutdown()
    await gatherResults(workers)  # every worker's ``async for`` has ended
    print("workers stopped")


if __name__ == "__main__":
    jobCount = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    react(lambda reactor: ensureDeferred(main(reactor, jobCount)))
