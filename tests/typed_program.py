# ruff: noqa: T201 - a program that shows what it received
"""
A typed user program: every pattern used the way users use it, under ``mypy --strict``.

tests/test_typing.py runs mypy on this file and checks each ``reveal_type``
below: what users await and iterate over must have precise types (a Message,
a list of frames, a Request), never Any. The reveal_type calls sit under
``if TYPE_CHECKING:``, so this is also a real program, run by the same test:

    python tests/typed_program.py

It binds free ports on 127.0.0.1, sends one round of each pattern and exits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import zmq
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import react

from txzpub import (
    ZmqConnection,
    ZmqDealerConnection,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRouterConnection,
    ZmqSubConnection,
)

if TYPE_CHECKING:
    from typing_extensions import reveal_type

ANY_PORT = ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:0")


def boundTo(connection: ZmqConnection) -> ZmqEndpoint:
    """Where to connect to *connection*, bound to port 0."""
    return ZmqEndpoint(ZmqEndpointType.connect, connection.socket.get_string(zmq.LAST_ENDPOINT))


async def pubSub(factory: ZmqFactory) -> None:
    publisher = ZmqPubConnection(factory, ANY_PORT)
    sub = ZmqSubConnection(factory, boundTo(publisher))
    sub.subscribe(b"x")
    await publisher.waitForSubscribers(1, b"x", timeout=10)
    for n in range(4):
        publisher.publish(b"body %d" % n, b"x.%d" % n)

    message = await sub.next(b"x")
    print(f"next: {message.tag!r} {message.body!r}")
    async for msg in sub.subscribe(b"x"):
        print(f"async for: {msg.tag!r} {msg.body!r}")
        break
    batch = await sub.subscribe(b"x").nextBatch()
    print(f"nextBatch: {[m.tag for m in batch]!r}")
    if TYPE_CHECKING:
        reveal_type(sub.next(b"x"))
        reveal_type(message)
        reveal_type(msg)
        reveal_type(msg.tag)
        reveal_type(msg.body)
        reveal_type(batch)
        reveal_type(sub.subscriptions)
        reveal_type(publisher.subscriptions)
        reveal_type(msg.sequence)
        reveal_type(sub.streamStatistics().lost)
        reveal_type(publisher.publisherId)


async def pushPull(factory: ZmqFactory) -> None:
    push = ZmqPushConnection(factory, ANY_PORT)
    pull = ZmqPullConnection(factory, boundTo(push))
    push.push(b"one")
    push.push([b"two", b"frames"])

    first = await pull.next()
    print(f"pull.next: {first!r}")
    async for frames in pull:
        print(f"async for: {frames!r}")
        break
    if TYPE_CHECKING:
        reveal_type(first)
        reveal_type(frames)
        reveal_type(await pull.nextBatch())


def echo(*parts: bytes) -> list[bytes]:
    """A REP handler: the request's frames in, the reply's frames out."""
    return [b"echo", *parts]


async def requestReply(factory: ZmqFactory) -> None:
    service = ZmqREPConnection(factory, ANY_PORT)
    served = service.serve(echo)
    req = ZmqREQConnection(factory, boundTo(service))
    reply = await req.sendMsg(b"x")
    print(f"sendMsg: {reply!r}")

    rep = ZmqREPConnection(factory, ANY_PORT)
    other = ZmqREQConnection(factory, boundTo(rep))
    answered = other.sendMsg(b"y", timeout=10)
    async for request in rep:
        request.reply(b"got", *request.parts)
        break
    print(f"async for request: {await answered!r}")
    if TYPE_CHECKING:
        reveal_type(reply)
        reveal_type(served)
        reveal_type(request)
        reveal_type(request.parts)


async def routerDealer(factory: ZmqFactory) -> None:
    router = ZmqRouterConnection(factory, ANY_PORT)
    dealer = ZmqDealerConnection(factory, boundTo(router), identity=b"dealer-1")
    dealer.sendMsg(b"hello")
    async for senderId, frames in router:
        router.sendMultipart(senderId, [b"hi", *frames])
        break
    answer = await dealer.next()
    print(f"router got {frames!r} from {senderId!r}; the dealer got {answer!r}")
    if TYPE_CHECKING:
        reveal_type(senderId)
        reveal_type(frames)
        reveal_type(await router.next())
        reveal_type(answer)


async def main(factory: ZmqFactory) -> None:
    try:
        await pubSub(factory)
        await pushPull(factory)
        await requestReply(factory)
        await routerDealer(factory)
    finally:
        factory.shutdown()
    print("done")


if __name__ == "__main__":
    react(lambda reactor: ensureDeferred(main(ZmqFactory(reactor))))
