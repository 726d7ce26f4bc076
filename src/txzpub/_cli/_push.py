# -*- test-case-name: tests.test_cli_patterns -*-
"""
``txzpub push``: push each line of stdin (or each ``-m``) to PULL peers, each
line to one of them, in turn.

Lines come as ``pub`` reads them (StdinLines: a thread, at most two chunks
ahead). Like a PUSH socket, it waits for a puller before the first message
(``whenConnected``) and, at the pullers' high-water mark, waits until they
catch up (``whenSent``) before reading on, so at most one message waits in
memory and nothing is dropped. At EOF the factory shuts down with a linger, so what libzmq still
holds for the pullers leaves.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from twisted.internet.defer import CancelledError
from twisted.internet.task import deferLater

from txzpub import ZmqEndpointType, ZmqFactory, ZmqPushConnection

from ._common import UsageError, addAttachOptions, attachedAddress, endpointFrom, say
from ._logging import nameInLogs
from ._pub import StdinLines, fromArguments
from ._security import addSecurityOptions, describeSecurity, securityFrom

__all__ = ["addArguments", "run"]

#: Milliseconds the pusher may keep delivering what libzmq holds after EOF.
LINGER_MS = 1000
#: Messages pushed before the reactor gets a turn.
BURST = 256


def addArguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "endpoint",
        metavar="ENDPOINT",
        help="where to push, e.g. tcp://127.0.0.1:5555 (or a streamer proxy's frontend)",
    )
    addAttachOptions(
        parser, ZmqEndpointType.bind, "to reach a streamer proxy or a puller that binds"
    )
    parser.add_argument(
        "-m",
        "--message",
        action="append",
        default=[],
        metavar="MESSAGE",
        help="push MESSAGE (repeat for more) instead of reading stdin",
    )
    addSecurityOptions(parser, inbound="nothing: pullers send a pusher no messages")


class Pusher:
    """Pushes messages as libzmq takes them; counts them."""

    def __init__(self, reactor: Any, pusher: ZmqPushConnection) -> None:
        self.reactor = reactor
        self.pusher = pusher
        self.sent = 0

    async def pushAll(self, messages: AsyncGenerator[bytes, None]) -> None:
        async with aclosing(messages):
            async for body in messages:
                self.pusher.push(body)
                self.sent += 1
                sent = self.pusher.whenSent()
                if not sent.called:  # the pullers are at their high-water mark: keep pace
                    await sent
                if self.sent % BURST == 0:
                    await deferLater(self.reactor, 0, lambda: None)  # let the reactor run


async def run(reactor: Any, args: argparse.Namespace) -> int:
    endpoint = endpointFrom(args.endpoint, ZmqEndpointType.bind, flag=args.attach)
    if not args.message and sys.stdin is None:
        msg = "stdin is closed: give the messages with -m MESSAGE"
        raise UsageError(msg)
    security = securityFrom(args, "push")
    factory = ZmqFactory(reactor)
    factory.lingerPeriod = LINGER_MS
    stdin: StdinLines | None = None
    pusher: Pusher | None = None
    try:
        connection = ZmqPushConnection(
            factory, security=security, maxMessageSize=args.max_message_size
        )
        pusher = Pusher(reactor, connection)
        nameInLogs(connection)
        connected = connection.whenConnected()  # before attaching: not to miss the handshake
        connection.addEndpoints([endpoint])
        where = f"{attachedAddress(connection.socket, endpoint)} ({endpoint.type})"
        if security is not None:
            say("push", describeSecurity(security))
        say("push", f"on {where}, waiting for a puller")
        await connected
        source = "arguments"
        if not args.message:
            stdin = StdinLines(reactor, sys.stdin.fileno())
            source = "stdin, one per line" + (" (Ctrl-D to end)" if sys.stdin.isatty() else "")
        say("push", f"pushing on {where} from {source}")
        await pusher.pushAll(fromArguments(args.message) if stdin is None else stdin.lines())
    except CancelledError:
        say("push", f"interrupted after {pusher.sent if pusher else 0} message(s)")
        raise
    finally:
        factory.shutdown()  # lingers up to LINGER_MS for what libzmq holds
    if stdin is not None and stdin.error is not None:
        say("push", f"error: reading stdin: {stdin.error.strerror}")
        return 1
    say("push", f"pushed {pusher.sent} message(s)")
    return 0
