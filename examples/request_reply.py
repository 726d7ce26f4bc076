"""
Request/reply: a service with ``serve(handler)`` and a client with ``sendMsg(timeout=...)``.

One process, nothing to start first. The service (a ZmqREPConnection bound to
a free port on 127.0.0.1) looks up stock prices; its handler is a coroutine
that takes a little time per request, longer for some symbols than others.
The client (a ZmqREQConnection) sends all its requests at once, without
waiting for the replies in between, and each reply still reaches the request
it answers, although they come back in another order. One symbol takes the
service longer than the client waits: that request fails with
ZmqRequestTimeoutError (a reply that came later would be dropped). Then
``factory.shutdown()`` stops the service: the Deferred ``serve()`` returned
fires.

    python examples/request_reply.py
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import zmq
from twisted.internet.defer import ensureDeferred, gatherResults
from twisted.internet.task import deferLater, react

from txzpub import (
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRequestTimeoutError,
)

if TYPE_CHECKING:
    # The type Twisted gives its global reactor, the one react() passes to main.
    from twisted.internet import _IReactorCommon as Reactor

PRICES = {b"AAPL": b"150.25", b"GOOGL": b"2800.50", b"MSFT": b"415.10"}
#: Seconds the service takes to look a symbol up; SLOW takes longer than the client waits.
DELAYS = {b"AAPL": 0.3, b"GOOGL": 0.1, b"MSFT": 0.2, b"SLOW": 5.0}


async def main(reactor: Reactor) -> None:
    factory = ZmqFactory(reactor)
    service = ZmqREPConnection(factory, ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:0"))
    address = service.socket.get_string(zmq.LAST_ENDPOINT)

    async def lookUp(command: bytes, symbol: bytes) -> list[bytes]:
        """The handler: the request's frames in, the reply's frames out."""
        await deferLater(reactor, DELAYS.get(symbol, 0), lambda: None)
        if command != b"price":
            return [b"error", b"unknown command " + command]
        return [b"ok", PRICES.get(symbol, b"unknown symbol")]

    served = service.serve(lookUp)  # fires when the service shuts down

    client = ZmqREQConnection(factory, ZmqEndpoint(ZmqEndpointType.connect, address))
    symbols = [b"AAPL", b"GOOGL", b"MSFT", b"SLOW"]
    print(f"requests, all sent at once: {b', '.join(symbols).decode()}")

    async def ask(symbol: bytes) -> None:
        try:
            # Fires with the reply's frames, or fails if none came within 2 s.
            status, value = await client.sendMsg(b"price", symbol, timeout=2)
        except ZmqRequestTimeoutError:
            print(f"{symbol.decode()}: no reply within 2 s (ZmqRequestTimeoutError)")
        else:
            print(f"{symbol.decode()}: {status.decode()} {value.decode()}")

    # The replies print as they come, fastest first.
    await gatherResults([ensureDeferred(ask(symbol)) for symbol in symbols])

    reply = await client.sendMsg(b"volume", b"AAPL", timeout=2)
    print(f"volume AAPL: {b' '.join(reply).decode()}")

    factory.shutdown()  # the service stops serving; the late reply to SLOW is never sent
    await served
    print("service stopped")


if __name__ == "__main__":
    react(lambda reactor: ensureDeferred(main(reactor)))
