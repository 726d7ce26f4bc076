# -*- test-case-name: tests.test_cli_patterns -*-
"""
``txzpub req``: send each line of stdin (or each ``-m``) as a request and
print its reply, one line each, in order.

One request is in flight at a time, so the replies come out in the order of
the requests, which is what a script reading them expects. Replies print as
``pull`` prints messages (renderFrames). ``--timeout S`` gives each request
S seconds: past it, the request is abandoned (a late reply is dropped) and
the command ends with status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from twisted.internet.defer import CancelledError

from txzpub import ZmqEndpointType, ZmqFactory, ZmqREQConnection, ZmqRequestTimeoutError

from ._common import (
    EXIT_NOTHING,
    EXIT_OK,
    UsageError,
    addAttachOptions,
    attachedAddress,
    endpointFrom,
    positiveFloat,
    say,
)
from ._logging import nameInLogs
from ._pub import StdinLines, fromArguments
from ._pull import FramesListener, addJsonOption
from ._render import escape
from ._security import addSecurityOptions, describeSecurity, securityFrom

__all__ = ["addArguments", "run"]

#: Milliseconds a request may still take to leave after the last reply.
LINGER_MS = 0


def addArguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "endpoint",
        metavar="ENDPOINT",
        help="where the replier (or a queue proxy's frontend) is, e.g. tcp://127.0.0.1:5555",
    )
    addAttachOptions(parser, ZmqEndpointType.connect, "for repliers that connect")
    parser.add_argument(
        "-m",
        "--message",
        action="append",
        default=[],
        metavar="MESSAGE",
        help="send MESSAGE as a request (repeat for more) instead of each line of stdin",
    )
    parser.add_argument(
        "--timeout",
        type=positiveFloat,
        metavar="S",
        help="wait at most S seconds for each reply; exit status 1 if one does not come",
    )
    addJsonOption(parser)
    addSecurityOptions(parser, inbound="replies")


async def askAll(
    requester: ZmqREQConnection,
    requests: AsyncGenerator[bytes, None],
    listener: FramesListener,
    timeout: float | None,
) -> int:
    """Send each request, print each reply; the exit status."""
    async with aclosing(requests):
        async for body in requests:
            try:
                reply = await requester.sendMsg(body, timeout=timeout)
            except ZmqRequestTimeoutError:
                say(
                    "req",
                    f"no reply within {timeout:g} s to request {listener.received + 1} "
                    f"({escape(body)!r}); giving up",
                )
                return EXIT_NOTHING
            listener.handle(reply)
            if listener.finished.called:  # stdout closed
                break
    return EXIT_OK


async def run(reactor: Any, args: argparse.Namespace) -> int:
    endpoint = endpointFrom(args.endpoint, ZmqEndpointType.connect, flag=args.attach)
    if not args.message and sys.stdin is None:
        msg = "stdin is closed: give the requests with -m MESSAGE"
        raise UsageError(msg)
    security = securityFrom(args, "req")
    listener = FramesListener(reactor, "req", asJson=args.json)
    factory = ZmqFactory(reactor)
    factory.lingerPeriod = LINGER_MS
    stdin: StdinLines | None = None
    try:
        requester = ZmqREQConnection(
            factory, endpoint, security=security, maxMessageSize=args.max_message_size
        )
        nameInLogs(requester)
        if security is not None:
            say("req", describeSecurity(security))
        source = "arguments"
        if not args.message:
            stdin = StdinLines(reactor, sys.stdin.fileno())
            source = "stdin, one per line" + (" (Ctrl-D to end)" if sys.stdin.isatty() else "")
        where = f"{attachedAddress(requester.socket, endpoint)} ({endpoint.type})"
        say("req", f"requesting on {where} from {source}")
        requests = fromArguments(args.message) if stdin is None else stdin.lines()
        status = await askAll(requester, requests, listener, args.timeout)
    except CancelledError:
        say("req", f"interrupted after {listener.received} reply(s)")
        raise
    finally:
        factory.shutdown()
        listener.output.flush()
    if stdin is not None and stdin.error is not None:
        say("req", f"error: reading stdin: {stdin.error.strerror}")
        return 1
    if status == EXIT_OK:
        say("req", f"got {listener.received} reply(s)")
    return status
