# -*- test-case-name: tests.test_cli -*-
"""
``txzpub sub``: print every message on some topics, one line each, to stdout.

It subscribes to each ``-t`` prefix, but reads only the prefixes no other one
is a prefix of (``distinctPrefixes``): a message matches at most one of
those, so it is printed once however many ``-t`` it matches. Each of those
Subscriptions is read by an ``async for`` loop, which ZeroMQ's reader resumes
as each message is delivered, so lines come in arrival order across topics.
The Messages carry what a sequenced stream adds (``sequence``,
``publisher``), which ``--json`` prints.

``--replay ADDR`` (one per sequenced publisher) lets the subscriber ask those
publishers for what it missed; ``--stats`` prints, at the end however it
comes, one line of counts: the messages printed, those lost from sequenced
streams, those recovered by replay, duplicates dropped, and messages the
subscription queues dropped.

With CURVE (see _security) a subscriber is usually a client
(``--curve-client-key`` and ``--curve-server-key``); one that binds for
publishers that connect can be the server instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, ensureDeferred
from twisted.python.failure import Failure

from txzpub import Message, Subscription, ZmqEndpointType, ZmqFactory, ZmqSubConnection

from ._common import (
    EXIT_NOTHING,
    EXIT_OK,
    UsageError,
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
from ._security import addSecurityOptions, describeSecurity, securityFrom

__all__ = ["addArguments", "checkArguments", "run"]

#: What --help says a sequenced stream is.
SEQUENCED = (
    "A sequenced stream (txzpub pub --sequenced) numbers each topic's messages, so this "
    "subscriber counts the ones it misses and, with --replay, asks the publisher for them again."
)
#: The counts --stats prints, in this order.
STATS = ("received", "lost", "recovered", "duplicates", "dropped")


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
        help='one JSON object per line: {"tag", "body"}, with body_base64 when not UTF-8, '
        'and "sequence" and "publisher" (hex) from a sequenced stream; --stats as JSON too',
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
    parser.add_argument(
        "--stats",
        action="store_true",
        help="at the end, print to stderr the counts of messages received, lost, recovered, "
        "duplicates (dropped as such) and dropped (by a full queue), one line",
    )
    group = parser.add_argument_group("sequenced stream")
    group.add_argument(
        "--replay",
        action="append",
        default=[],
        metavar="ADDR",
        help="ask the sequenced publisher whose replay socket is at ADDR for what this "
        "subscriber missed; repeat, one per publisher",
    )
    group.add_argument(
        "--replay-timeout",
        type=positiveFloat,
        metavar="S",
        help=f"with --replay: count as lost what has not come back within S seconds "
        f"(default: {ZmqSubConnection.replayTimeout:g})",
    )
    addSecurityOptions(parser)
    parser.epilog = SEQUENCED


def checkArguments(args: argparse.Namespace) -> None:
    """--replay endpoints are well formed; --replay-timeout goes with --replay."""
    if args.replay_timeout is not None and not args.replay:
        msg = "--replay-timeout needs --replay"
        raise UsageError(msg)
    try:
        args.replay = [endpointFrom(each, ZmqEndpointType.connect) for each in args.replay]
    except UsageError as error:
        msg = f"--replay: {error}"
        raise UsageError(msg) from None


def distinctPrefixes(topics: Iterable[bytes]) -> list[bytes]:
    """The topics that no other one is a prefix of: any tag matches at most one of them."""
    kept: list[bytes] = []
    for topic in sorted(set(topics)):  # a prefix sorts before what it prefixes
        if not any(topic.startswith(each) for each in kept):
            kept.append(topic)
    return kept


class Listener:
    """Counts and prints messages; *finished* fires with the exit status."""

    def __init__(self, reactor: Any, args: argparse.Namespace) -> None:
        self.json: bool = args.json
        self.count: int | None = args.count
        self.timeout: float | None = args.timeout
        self.finished: Deferred[int] = Deferred()
        self.received = 0
        self.output = LineWriter(reactor, lambda: self.end(EXIT_OK))  # stdout closed: done

    def end(self, status: int) -> None:
        if not self.finished.called:
            self.finished.callback(status)

    def failed(self, failure: Failure) -> None:
        """A reading loop failed (a bug): end with it, reported as such."""
        if not self.finished.called:
            self.finished.errback(failure)

    async def read(self, subscription: Subscription) -> None:
        """Handle each message of *subscription* as it is delivered, until it closes."""
        async for message in subscription:
            self.handle(message)

    def handle(self, message: Message) -> None:
        if self.finished.called:
            return
        self.received += 1
        if self.json:
            line = renderJson(
                message.tag, message.body, sequence=message.sequence, publisher=message.publisher
            )
        else:
            line = renderText(message.tag, message.body)
        self.output.write(line)
        if self.received == self.count:
            self.end(EXIT_OK)

    def timedOut(self) -> None:
        wanted = self.count or 1
        if self.received < wanted:
            got = f"{self.received} of {self.count} messages" if self.count else "no message"
            say("sub", f"timed out after {self.timeout:g} s with {got}")
        self.end(EXIT_OK if self.received >= wanted else EXIT_NOTHING)


def statistics(
    received: int, subscriber: ZmqSubConnection, subscriptions: Iterable[Subscription]
) -> dict[str, int]:
    """The counts --stats prints, read now (before the subscriber shuts down)."""
    streams = subscriber.streamStatistics()
    return {
        "received": received,
        "lost": streams.lost,
        "recovered": streams.recovered,
        "duplicates": streams.duplicates,
        "dropped": sum(each.statistics().dropped for each in subscriptions),
    }


def showStatistics(counts: dict[str, int], *, asJson: bool) -> None:
    """
    Write the --stats line to stderr: ``txzpub sub: stats: received=N lost=N ...``,
    or with --json one JSON object, ``{"stats": {"received": N, ...}}``.
    """
    if asJson:
        sys.stderr.write(json.dumps({"stats": {name: counts[name] for name in STATS}}) + "\n")
        sys.stderr.flush()
    else:
        say("sub", "stats: " + " ".join(f"{name}={counts[name]}" for name in STATS))


async def run(reactor: Any, args: argparse.Namespace) -> int:
    endpoint = endpointFrom(args.endpoint, ZmqEndpointType.connect, flag=args.attach)
    topics = [topicBytes(topic) for topic in args.topic] or [b""]
    security = securityFrom(args, "sub")
    listener = Listener(reactor, args)
    factory = ZmqFactory(reactor)
    factory.lingerPeriod = 0
    timer = reactor.callLater(args.timeout, listener.timedOut) if args.timeout else None
    subscriber: ZmqSubConnection | None = None
    read: list[Subscription] = []
    counts: dict[str, int] | None = None
    try:
        subscriber = ZmqSubConnection(
            factory,
            endpoint,
            security=security,
            maxMessageSize=args.max_message_size,
            replay=args.replay or None,
            replayTimeout=args.replay_timeout,
        )
        read = [subscriber.subscribe(topic) for topic in distinctPrefixes(topics)]
        for subscription in read:
            ensureDeferred(listener.read(subscription)).addErrback(listener.failed)
        shown = ", ".join(repr(escape(topic, isTag=True)) for topic in topics)
        address = attachedAddress(subscriber.socket, endpoint)
        nameInLogs(subscriber)  # the only one: unnamed
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
        if subscriber is not None and args.stats:
            counts = statistics(listener.received, subscriber, read)
        factory.shutdown()
        listener.output.flush()
        if counts is not None:
            showStatistics(counts, asJson=args.json)
