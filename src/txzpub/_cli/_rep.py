# -*- test-case-name: tests.test_cli_patterns -*-
"""
``txzpub rep``: answer requests, printing each one, one line each, to stdout.

It serves with ``ZmqREPConnection.serve()``: each request is printed (as
``pull`` prints messages, renderFrames) and answered at once, with the
request itself (``--echo``), with ``--reply MESSAGE``, or else with one empty
frame, an acknowledgement. Behind a ``txzpub proxy --shape queue``, several
of them share the requests. ``--count N`` ends it after N requests, once
their replies have left (the factory lingers).
"""

from __future__ import annotations

import argparse
from typing import Any

from twisted.internet.defer import CancelledError

from txzpub import ZmqEndpointType, ZmqFactory, ZmqREPConnection

from ._common import (
    EXIT_OK,
    addAttachOptions,
    attachedAddress,
    endpointFrom,
    positiveInt,
    say,
    topicBytes,
)
from ._logging import nameInLogs
from ._pull import FramesListener, addJsonOption
from ._security import addSecurityOptions, describeSecurity, securityFrom

__all__ = ["addArguments", "run"]

#: Milliseconds the last replies may take to leave after --count requests.
LINGER_MS = 1000


def addArguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "endpoint",
        metavar="ENDPOINT",
        help="where to answer, e.g. tcp://127.0.0.1:5555 (or a queue proxy's backend)",
    )
    addAttachOptions(
        parser, ZmqEndpointType.bind, "to reach a queue proxy or a requester that binds"
    )
    answer = parser.add_mutually_exclusive_group()
    answer.add_argument(
        "--echo", action="store_true", help="answer each request with the request itself"
    )
    answer.add_argument(
        "--reply",
        metavar="MESSAGE",
        help="answer each request with MESSAGE (default: one empty frame)",
    )
    parser.add_argument(
        "--count", type=positiveInt, metavar="N", help="exit (status 0) after N requests"
    )
    addJsonOption(parser)
    addSecurityOptions(parser, inbound="requests")


async def run(reactor: Any, args: argparse.Namespace) -> int:
    endpoint = endpointFrom(args.endpoint, ZmqEndpointType.bind, flag=args.attach)
    security = securityFrom(args, "rep")
    listener = FramesListener(reactor, "rep", asJson=args.json)
    fixed = [topicBytes(args.reply or "")]
    factory = ZmqFactory(reactor)
    factory.lingerPeriod = LINGER_MS

    def answer(*parts: bytes) -> list[bytes]:
        listener.handle(list(parts))
        if listener.received == args.count:  # end once this reply has been sent
            reactor.callLater(0, listener.end, EXIT_OK)
        return list(parts) if args.echo else fixed

    try:
        replier = ZmqREPConnection(
            factory, endpoint, security=security, maxMessageSize=args.max_message_size
        )
        nameInLogs(replier)
        if security is not None:
            say("rep", describeSecurity(security))
        how = "echoing" if args.echo else "answering"
        where = f"{attachedAddress(replier.socket, endpoint)} ({endpoint.type})"
        say("rep", f"{how} requests on {where}")
        replier.serve(answer)  # fires at shutdown
        return await listener.finished
    except CancelledError:
        say("rep", f"interrupted after {listener.received} request(s)")
        raise
    finally:
        factory.shutdown()  # lingers up to LINGER_MS for the last replies
        listener.output.flush()
