# -*- test-case-name: tests.test_cli -*-
"""
``txzpub pub``: publish each line of stdin (or each ``-m``) on one topic.

Lines are read by a thread (a blocking read works the same on a pipe, a file
and a terminal) and handed to the reactor a chunk at a time, at most two
chunks ahead of the publisher, so ``--rate`` paces reading too. At EOF the
factory shuts down with a linger, so what is queued for connected subscribers
still leaves.

``--wait-subscribers N`` waits with ``ZmqPubConnection.waitForSubscribers``
until N subscriptions that would receive the topic have reached the publisher.

Each message is checked, as it is published, against the subscriptions the
publisher has read (``ZmqPubConnection.subscriptions``): ZeroMQ drops one that
matches none, so the last line on stderr says how many had no subscriber. It
is a warning, not an error: the exit status stays 0.

With CURVE (see _security) a publisher that binds is usually the server
(``--curve-server-key`` and ``--allow-key``); one that connects to a proxy is
a client (``--curve-client-key`` too). Only admitted subscribers' subscriptions
arrive, so ``--wait-subscribers`` counts admitted subscribers.

``--sequenced`` makes a sequenced publisher: every message is stamped with
the publisher's identity (printed once, in hex, when it starts) and a number
per topic, and heartbeats go out every ``--heartbeat`` seconds, so txzpub
subscribers count what they miss. ``--replay ADDR`` also binds a replay
socket there (a fixed port: subscribers must know it), keeping the last
``--replay-depth`` messages for subscribers that ask for them again; it
answers while pub runs, so not after the end of its input.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from typing import Any

from twisted.internet.defer import CancelledError, DeferredQueue
from twisted.internet.task import deferLater

from txzpub import ZmqEndpoint, ZmqEndpointType, ZmqFactory, ZmqPubConnection

from ._common import (
    UsageError,
    addAttachOptions,
    attachedAddress,
    endpointFrom,
    nonNegativeInt,
    positiveFloat,
    positiveInt,
    say,
    topicBytes,
)
from ._logging import nameInLogs
from ._render import escape
from ._security import addSecurityOptions, describeSecurity, securityFrom

__all__ = ["addArguments", "checkArguments", "run"]

#: Milliseconds the publisher may keep delivering queued messages after EOF.
LINGER_MS = 1000
#: Bytes read from stdin at a time.
CHUNK = 65536
#: Without --rate, messages published before the reactor gets a turn.
BURST = 256
#: What --help says a sequenced stream is.
SEQUENCED = (
    "A sequenced stream numbers each topic's messages and stamps them with the publisher's "
    "identity, so txzpub subscribers count the ones they miss and, with a replay socket, "
    "get them again; subscribers that are not txzpub see a third frame, the stamp."
)
#: Shortest --heartbeat the library accepts, in seconds.
MIN_HEARTBEAT = 0.001


def addArguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "endpoint",
        metavar="ENDPOINT",
        help="where to publish, e.g. tcp://127.0.0.1:5555 (or a proxy's XSUB side)",
    )
    parser.add_argument(
        "-t", "--topic", default="", metavar="TOPIC", help="the tag of every message (default: '')"
    )
    addAttachOptions(
        parser, ZmqEndpointType.bind, "to reach a proxy's XSUB side or a subscriber that binds"
    )
    parser.add_argument(
        "--multipart",
        action="store_true",
        help="send [tag, body] as two frames instead of txZMQ's one frame tag\\0body",
    )
    parser.add_argument(
        "--rate", type=positiveFloat, metavar="R", help="publish at most R messages a second"
    )
    parser.add_argument(
        "--wait-subscribers",
        type=nonNegativeInt,
        default=0,
        metavar="N",
        help="before publishing, wait until N subscriptions that match TOPIC have arrived",
    )
    parser.add_argument(
        "-m",
        "--message",
        action="append",
        default=[],
        metavar="MESSAGE",
        help="publish MESSAGE (repeat for more) instead of reading stdin",
    )
    addSequencingOptions(parser)
    addSecurityOptions(parser, inbound="what subscribers send a publisher: their subscriptions")
    parser.epilog = SEQUENCED


def addSequencingOptions(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sequenced stream")
    group.add_argument(
        "--sequenced",
        action="store_true",
        help="publish a sequenced stream (see below); prints the publisher's identity in hex",
    )
    group.add_argument(
        "--replay",
        metavar="ADDR",
        help="with --sequenced: bind a replay socket at ADDR (a fixed port), from which "
        "subscribers given `sub --replay ADDR` get lost messages again",
    )
    group.add_argument(
        "--replay-depth",
        type=positiveInt,
        metavar="N",
        help=f"with --replay: keep the last N messages for replay "
        f"(default: {ZmqPubConnection.replayDepth:,}, all topics together)",
    )
    group.add_argument(
        "--heartbeat",
        type=heartbeatSeconds,
        metavar="S",
        help=f"with --sequenced: seconds between heartbeats (default: "
        f"{ZmqPubConnection.heartbeatInterval:g}); subscribers call a publisher silent "
        "after three missed",
    )


def heartbeatSeconds(text: str) -> float:
    seconds = positiveFloat(text)
    if seconds < MIN_HEARTBEAT:
        msg = f"must be a number of seconds >= {MIN_HEARTBEAT:g}, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return seconds


def checkArguments(args: argparse.Namespace) -> None:
    """The sequencing options go together; --replay binds where subscribers can find it."""
    needs = [("--replay", args.replay, "--sequenced", args.sequenced)]
    needs.append(("--replay-depth", args.replay_depth, "--replay", args.replay))
    needs.append(("--heartbeat", args.heartbeat, "--sequenced", args.sequenced))
    for flag, given, needed, present in needs:
        if given is not None and not present:
            msg = f"{flag} needs {needed}"
            raise UsageError(msg)
    if args.replay is not None:
        args.replay = replayEndpoint(args.replay)


def replayEndpoint(text: str) -> ZmqEndpoint:
    """The --replay endpoint: bound unless it says otherwise, and on a known port."""
    try:
        endpoint = endpointFrom(text, ZmqEndpointType.bind)
    except UsageError as error:
        msg = f"--replay: {error}"
        raise UsageError(msg) from None
    port = endpoint.address.rpartition(":")[2]
    if (
        endpoint.type == ZmqEndpointType.bind
        and endpoint.address.startswith("tcp://")
        and port in {"*", "0"}
    ):
        msg = f"--replay: {text!r}: give a port, as subscribers must know it to connect"
        raise UsageError(msg)
    return endpoint


class StdinLines:
    """The lines of a file descriptor, read by a daemon thread (it may block forever)."""

    def __init__(self, reactor: Any, fd: int) -> None:
        self._reactor = reactor
        self._fd = fd
        self._chunks: DeferredQueue[bytes] = DeferredQueue()
        self._credits = threading.Semaphore(2)
        self.error: OSError | None = None
        threading.Thread(target=self._read, name="txzpub-pub-stdin", daemon=True).start()

    def _read(self) -> None:
        while True:
            self._credits.acquire()
            try:
                chunk = os.read(self._fd, CHUNK)
            except OSError as error:
                self.error, chunk = error, b""
            self._reactor.callFromThread(self._chunks.put, chunk)
            if not chunk:
                return

    async def lines(self) -> AsyncGenerator[bytes, None]:
        pending = b""
        while True:
            chunk = await self._chunks.get()
            self._credits.release()
            if not chunk:
                break
            *complete, pending = (pending + chunk).split(b"\n")
            for line in complete:
                yield line.removesuffix(b"\r")
        if pending:
            yield pending.removesuffix(b"\r")


async def fromArguments(messages: Sequence[str]) -> AsyncGenerator[bytes, None]:
    for message in messages:
        yield topicBytes(message)


def subscriberCheck(publisher: ZmqPubConnection, tag: bytes) -> Callable[[bytes], bool]:
    """
    A test of whether a message with *tag* and a given body matches a
    subscription that *publisher* has read: a prefix of the message's first
    frame (the tag with multipart framing or sequenced, else ``tag + topicSep + body``).
    Cheapest when there is no subscription at all.
    """
    subscriptions = publisher.subscriptions  # a live view: always the current ones
    # Multipart or sequenced ([tag, body, stamp]), the first frame is the tag alone.
    tagAlone = publisher.multipartFraming or getattr(publisher, "sequenced", False)
    head = tag if tagAlone else tag + publisher.topicSep
    inBody = not tagAlone  # can a subscription reach into the body?
    skip = len(head)

    def matches(body: bytes) -> bool:
        if not subscriptions:  # the common case to detect: no subscriber at all
            return False
        for prefix in subscriptions:
            if len(prefix) <= skip:
                if head.startswith(prefix):
                    return True
            elif inBody and prefix.startswith(head) and body.startswith(prefix[skip:]):
                return True
        return False

    return matches


class Pacer:
    """
    Publishes messages as they come, at most --rate a second; counts them, and
    those that had no subscriber when published.
    """

    def __init__(self, reactor: Any, rate: float | None) -> None:
        self.reactor = reactor
        self.rate = rate
        self.sent = 0
        self.unheard = 0

    async def publishAll(
        self, publisher: ZmqPubConnection, tag: bytes, messages: AsyncGenerator[bytes, None]
    ) -> None:
        started = self.reactor.seconds()
        hasSubscriber = subscriberCheck(publisher, tag)
        async with aclosing(messages):
            async for body in messages:
                if self.rate:
                    delay = started + self.sent / self.rate - self.reactor.seconds()
                    if delay > 0:
                        await deferLater(self.reactor, delay, lambda: None)
                elif self.sent % BURST == BURST - 1:
                    await deferLater(self.reactor, 0, lambda: None)  # let the reactor run
                matched = hasSubscriber(body)
                publisher.publish(body, tag)
                self.sent += 1
                if not matched:
                    self.unheard += 1

    def warnOfUnheard(self, tag: bytes, *, waited: bool) -> None:
        """If any message had no subscriber, say how many and what to do about it."""
        if not self.unheard:
            return
        if waited:
            advice = "the subscribers that --wait-subscribers waited for had left by then"
        else:
            topic = escape(tag, isTag=True)
            advice = f"--wait-subscribers N waits for N subscribers of {topic!r} first"
        say(
            "pub",
            f"warning: {self.unheard} of the {self.sent} message(s) had no subscriber "
            f"when published, and ZeroMQ drops those; {advice}",
        )


def sequencingOptions(args: argparse.Namespace) -> dict[str, Any]:
    """ZmqPubConnection's keyword arguments for --sequenced and what goes with it."""
    if not args.sequenced:
        return {}
    options: dict[str, Any] = {"sequenced": True, "replay": args.replay}
    if args.replay_depth is not None:
        options["replayDepth"] = args.replay_depth
    if args.heartbeat is not None:
        options["heartbeatInterval"] = args.heartbeat
    return options


def describeSequencing(publisherId: bytes, replay: ZmqEndpoint | None) -> str:
    """The line that says a publisher is sequenced, under which identity, and its replay."""
    where = "without replay" if replay is None else f"replay on {replay.address} ({replay.type})"
    return f"sequenced as publisher {publisherId.hex()}, {where}"


async def run(reactor: Any, args: argparse.Namespace) -> int:
    endpoint = endpointFrom(args.endpoint, ZmqEndpointType.bind, flag=args.attach)
    tag = topicBytes(args.topic)
    if not args.message and sys.stdin is None:
        msg = "stdin is closed: give the messages with -m MESSAGE"
        raise UsageError(msg)
    security = securityFrom(args, "pub")
    factory = ZmqFactory(reactor)
    factory.lingerPeriod = LINGER_MS
    pacer = Pacer(reactor, args.rate)
    stdin: StdinLines | None = None
    try:
        publisher = ZmqPubConnection(
            factory,
            endpoint,
            multipartFraming=args.multipart,
            security=security,
            maxMessageSize=args.max_message_size,
            **sequencingOptions(args),
        )
        address = attachedAddress(publisher.socket, endpoint)
        nameInLogs(publisher)  # the only one: unnamed
        where = f"{address} ({endpoint.type})"
        if security is not None:
            say("pub", describeSecurity(security))
        if publisher.publisherId is not None:
            say("pub", describeSequencing(publisher.publisherId, args.replay))
        if args.wait_subscribers:
            say("pub", f"on {where}, waiting for {args.wait_subscribers} subscriber(s)")
            await publisher.waitForSubscribers(args.wait_subscribers, tag)
        source = "arguments"
        if not args.message:
            stdin = StdinLines(reactor, sys.stdin.fileno())
            source = "stdin, one per line" + (" (Ctrl-D to end)" if sys.stdin.isatty() else "")
        say("pub", f"publishing {escape(tag, isTag=True)!r} on {where} from {source}")
        messages = fromArguments(args.message) if stdin is None else stdin.lines()
        await pacer.publishAll(publisher, tag, messages)
    except CancelledError:
        say("pub", f"interrupted after {pacer.sent} message(s)")
        pacer.warnOfUnheard(tag, waited=bool(args.wait_subscribers))
        raise
    finally:
        factory.shutdown()  # lingers up to LINGER_MS for queued messages
    if stdin is not None and stdin.error is not None:
        say("pub", f"error: reading stdin: {stdin.error.strerror}")
        return 1
    say("pub", f"published {pacer.sent} message(s)")
    pacer.warnOfUnheard(tag, waited=bool(args.wait_subscribers))
    return 0
