# -*- test-case-name: tests.test_cli -*-
"""
``txzpub sub``: print every message on some topics, one line each, to stdout.

It reads with a txZMQ-style ``gotMessage``, which sees each message once, in
arrival order, however many of the ``-t`` prefixes it matches (a Subscription
per topic would queue a message once per matching prefix).

With CURVE (see _security) a subscriber is usually a client
(``--curve-client-key`` and ``--curve-server-key``); one that binds for
publishers that connect can be the server instead.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import CancelledError, Deferred

from txzpub import ZmqEndpoint, ZmqEndpointType, ZmqFactory, ZmqSubConnection

from ._common import (
    EXIT_NOTHING,
    EXIT_OK,
    addAttachOptions,
    attachedAddress,
    endpointFrom,
    positiveFloat,
    positiveInt,
    say,
    topicBytes,
)
from ._logging import nameInLogs
from ._render import LineWriter, escape, renderJson, renderText
from ._security import Security, addSecurityOptions, describeSecurity, securityFrom

__all__ = ["addArguments", "run"]


def addArguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "endpoint",
        metavar="ENDPOINT",
        help="where the publisher (or a proxy's XPUB side) is, e.g. tcp://127.0.0.1:5555",
    )
    parser.add_argument(
        "-t",
        "--topic",
        action="append",
        default=[],
        metavar="TOPIC",
        help="receive messages whose tag starts with TOPIC; repeat for more (default: all)",
    )
    addAttachOptions(parser, ZmqEndpointType.connect, "for publishers that connect")
    parser.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per line: {"tag", "body"}, with body_base64 when not UTF-8',
    )
    parser.add_argument(
        "--count", type=positiveInt, metavar="N", help="exit (status 0) after N messages"
    )
    parser.add_argument(
        "--timeout",
        type=positiveFloat,
        metavar="S",
        help="stop after S seconds; exit status 1 if fewer than --count (or no) messages came",
    )
    addSecurityOptions(parser)


class Tap(ZmqSubConnection):
    """A subscriber that hands every message, once, to *handle(tag, body)*."""

    def __init__(
        self,
        factory: ZmqFactory,
        endpoint: ZmqEndpoint,
        handle: Callable[[bytes, bytes], None],
        *,
        security: Security | None = None,
        maxMessageSize: int | None = None,
    ) -> None:
        self.handle = handle
        super().__init__(factory, endpoint, security=security, maxMessageSize=maxMessageSize)

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self.handle(tag, message)


class Listener:
    """Counts and prints messages; *finished* fires with the exit status."""

    def __init__(self, reactor: Any, args: argparse.Namespace) -> None:
        self.render = renderJson if args.json else renderText
        self.count: int | None = args.count
        self.timeout: float | None = args.timeout
        self.finished: Deferred[int] = Deferred()
        self.received = 0
        self.output = LineWriter(reactor, lambda: self.end(EXIT_OK))  # stdout closed: done

    def end(self, status: int) -> None:
        if not self.finished.called:
            self.finished.callback(status)

    def handle(self, tag: bytes, body: bytes) -> None:
        if self.finished.called:
            return
        self.received += 1
        self.output.write(self.render(tag, body))
        if self.received == self.count:
            self.end(EXIT_OK)

    def timedOut(self) -> None:
        wanted = self.count or 1
        if self.received < wanted:
            got = f"{self.received} of {self.count} messages" if self.count else "no message"
            say("sub", f"timed out after {self.timeout:g} s with {got}")
        self.end(EXIT_OK if self.received >= wanted else EXIT_NOTHING)


async def run(reactor: Any, args: argparse.Namespace) -> int:
    endpoint = endpointFrom(args.endpoint, ZmqEndpointType.connect, flag=args.attach)
    topics = [topicBytes(topic) for topic in args.topic] or [b""]
    security = securityFrom(args, "sub")
    listener = Listener(reactor, args)
    factory = ZmqFactory(reactor)
    factory.lingerPeriod = 0
    timer = reactor.callLater(args.timeout, listener.timedOut) if args.timeout else None
    try:
        tap = Tap(
            factory,
            endpoint,
            listener.handle,
            security=security,
            maxMessageSize=args.max_message_size,
        )
        for topic in topics:
            tap.subscribe(topic)
        shown = ", ".join(repr(escape(topic, isTag=True)) for topic in topics)
        address = attachedAddress(tap.socket, endpoint)
        nameInLogs(tap)  # the only one: unnamed
        if security is not None:
            say("sub", describeSecurity(security))
        say("sub", f"subscribed to {shown} on {address} ({endpoint.type})")
        return await listener.finished
    except CancelledError:
        say("sub", f"interrupted after {listener.received} message(s)")
        raise
    finally:
        if timer is not None and timer.active():
            timer.cancel()
        factory.shutdown()
        listener.output.flush()
