"""
CURVE: an encrypted bus that only known subscribers may join.

    python examples/secure.py

The publisher is a CURVE server that admits one client key; ``alice`` has
that key and receives, ``mallory`` has another and is refused (the refusal is
logged to stderr, naming her key only by fingerprint). In production the keys
come from files made by ``txzpub keygen NAME``: the server loads its secret
certificate with ``CurveKeyPair.load("server.key_secret")`` and the allowed
clients' public ones with ``loadPublicKey("alice.key")``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, cast

import zmq
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import react
from twisted.logger import (
    ILogObserver,
    LogEvent,
    LogLevel,
    globalLogBeginner,
    textFileLogObserver,
)

from txzpub import (
    ConnectionEventKind,
    CurveClient,
    CurveKeyPair,
    CurveServer,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)

if TYPE_CHECKING:
    # The type Twisted gives its global reactor, the one react() passes to main.
    from twisted.internet import _IReactorCommon as Reactor


async def main(reactor: Reactor) -> None:
    warnings = textFileLogObserver(sys.stderr)

    def warningsOnly(event: LogEvent) -> None:
        if event["log_level"] >= LogLevel.warn:
            warnings(event)

    # cast: a function is a log observer, but mypy cannot see zope interfaces.
    globalLogBeginner.beginLoggingTo(
        [cast("ILogObserver", warningsOnly)], redirectStandardIO=False
    )
    server, aliceKeys, malloryKeys = (CurveKeyPair.generate() for _ in range(3))
    factory = ZmqFactory(reactor)
    bind = ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:0")
    security = CurveServer(server, allowKeys=[aliceKeys.publicKey])
    publisher = ZmqPubConnection(factory, bind, security=security)
    bound = publisher.socket.get_string(zmq.LAST_ENDPOINT)  # the port 0 chose
    address = ZmqEndpoint(ZmqEndpointType.connect, bound)

    mallory = ZmqSubConnection(factory, security=CurveClient(malloryKeys, server.publicKey))
    events = mallory.events()  # before connecting, so no event is missed
    mallory.addEndpoints([address])
    mallory.subscribe(b"plans")
    alice = ZmqSubConnection(factory, address, security=CurveClient(aliceKeys, server.publicKey))
    plans = alice.subscribe(b"plans")

    async for event in events:
        if event.kind is ConnectionEventKind.HANDSHAKE_FAILED:
            print("mallory was refused: her subscription never reaches the publisher")
            break
    await publisher.waitForSubscribers(1, b"plans", timeout=10)  # alice's
    publisher.publish(b"meet at noon", b"plans")
    message = await plans.next(timeout=10)
    print(f"alice received: {message.body.decode()}")
    print(f"subscriptions at the publisher: {dict(publisher.subscriptions)}")
    factory.shutdown()


if __name__ == "__main__":
    react(lambda reactor: ensureDeferred(main(reactor)))
