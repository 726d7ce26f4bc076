"""
A PUSH/PULL pipeline: a ventilator, a few workers and a sink.

One process, nothing to start first. The ventilator (a ZmqPushConnection
bound to a free port on 127.0.0.1) pushes numbered tasks; each task goes to
one of the workers, in turn. A worker reads its tasks with
``async for frames in pull``, squares the number and pushes the result to the
sink, which reads them with ``yield sink.next(timeout=5)`` until it has them
all, then shuts everything down; that ends the workers' loops.

    python examples/pipeline.py [tasks] [workers]

Nothing is lost and nothing is dropped: pushes never fail at the high-water
mark (they wait in the connection's send queue), and a PULL connection's
queue pauses its reader when full (the default policy), so a slow consumer
slows its pushers down instead.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import zmq
from twisted.internet.defer import Deferred, ensureDeferred, gatherResults, inlineCallbacks
from twisted.internet.task import react

from txzpub import (
    ReceiveTimeout,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPullConnection,
    ZmqPushConnection,
)

if TYPE_CHECKING:
    # The type Twisted gives its global reactor, the one react() passes to main.
    from twisted.internet import _IReactorCommon as Reactor


def boundAddress(connection: ZmqPushConnection | ZmqPullConnection) -> ZmqEndpoint:
    """The address a connection bound to port 0 got, to connect the others to."""
    address = connection.socket.get_string(zmq.LAST_ENDPOINT)
    return ZmqEndpoint(ZmqEndpointType.connect, address)


async def worker(
    name: bytes, tasks: ZmqPullConnection, results: ZmqPushConnection, done: dict[bytes, int]
) -> None:
    """Square every task; the loop ends when the connection shuts down."""
    async for frames in tasks:  # each message is its list of frames
        number = int(frames[0])
        results.push([name, b"%d" % number, b"%d" % (number * number)])
        done[name] = done.get(name, 0) + 1


@inlineCallbacks
def main(
    reactor: Reactor, taskCount: int, workerCount: int
) -> Generator[Deferred[Any], Any, None]:
    factory = ZmqFactory(reactor)
    anyPort = ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:0")
    ventilator = ZmqPushConnection(factory, anyPort)
    sink = ZmqPullConnection(factory, anyPort)

    done: dict[bytes, int] = {}
    loops: list[Deferred[None]] = []
    for n in range(1, workerCount + 1):
        name = b"worker-%d" % n
        tasks = ZmqPullConnection(factory, boundAddress(ventilator))
        results = ZmqPushConnection(factory, boundAddress(sink))
        loops.append(ensureDeferred(worker(name, tasks, results, done)))

    # Pushing before the workers have connected is fine: the tasks wait in the
    # send queue (a PUSH with no peer is at its high-water mark). The first
    # worker to connect may get more than its share: PUSH balances over the
    # peers connected when it sends.
    for n in range(1, taskCount + 1):
        ventilator.push(b"%d" % n)
    print(f"ventilator: pushed {taskCount} tasks to {workerCount} workers")

    squares: dict[int, int] = {}
    received = 0
    try:
        while received < taskCount:
            frames: list[bytes] = yield sink.next(timeout=5)
            _, number, square = frames  # [worker, number, square]
            squares[int(number)] = int(square)
            received += 1
    except ReceiveTimeout:
        print(f"sink: only {received} of {taskCount} results within 5 s")
    finally:
        factory.shutdown()  # ends every worker's ``async for``
    yield gatherResults(loops)  # every worker's loop has ended

    print(f"sink: {received} results, sum of squares {sum(squares.values())}")
    everyTask = sorted(squares) == list(range(1, taskCount + 1)) and received == taskCount
    print(f"sink: every task done exactly once: {everyTask}")
    for name in sorted(done):
        print(f"{name.decode()}: {done[name]} tasks")


if __name__ == "__main__":
    args = [int(arg) for arg in sys.argv[1:3]]
    react(main, [args[0] if args else 20, args[1] if len(args) > 1 else 3])
