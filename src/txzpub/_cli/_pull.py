# -*- test-case-name: tests.test_cli_patterns -*-
"""
``txzpub pull``: print every message PUSH peers send, one line each, to stdout.

A message is a list of frames; a line shows them as ``sub`` shows a tag and
a body (see _render): each frame as it is when it is printable UTF-8, else
escaped, separated by spaces, every frame but the last with its own spaces
escaped. So a one-frame message prints as its text, and ``[tag, body]`` as
``sub`` prints it. ``--json`` prints ``{"frames": [...]}``; a frame that is
not UTF-8 is null there and comes exactly in ``frames_base64`` at the same
index. ``req`` and ``rep`` print their messages the same way (renderFrames).

It reads with ``ZmqPullConnection.nextBatch()``: one Deferred per read batch.
The connection's queue is bounded and pauses reading when full, so a slow
stdout slows the pushers down instead of losing messages.
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import CancelledError, Deferred

from txzpub import ConnectionClosed, ZmqEndpointType, ZmqFactory, ZmqPullConnection

from ._common import (
    EXIT_NOTHING,
    EXIT_OK,
    addAttachOptions,
    attachedAddress,
    endpointFrom,
    positiveFloat,
    positiveInt,
    say,
)
from ._logging import nameInLogs
from ._render import _UTF8_STDOUT, LineWriter, escape
from ._security import addSecurityOptions, describeSecurity, securityFrom

__all__ = ["FramesListener", "addArguments", "addJsonOption", "renderFrames", "run"]

#: Most messages printed per read.
BATCH = 1000


def addArguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "endpoint",
        metavar="ENDPOINT",
        help="where the pusher (or a streamer proxy's backend) is, e.g. tcp://127.0.0.1:5555",
    )
    addAttachOptions(parser, ZmqEndpointType.connect, "for pushers that connect")
    addJsonOption(parser)
    parser.add_argument(
        "--count", type=positiveInt, metavar="N", help="exit (status 0) after N messages"
    )
    parser.add_argument(
        "--timeout",
        type=positiveFloat,
        metavar="S",
        help="stop after S seconds; exit status 1 if fewer than --count (or no) messages came",
    )
    addSecurityOptions(parser, inbound="what pushers send")


def addJsonOption(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per line: {"frames": [...]}, with frames_base64 for the frames '
        "that are not UTF-8",
    )


def renderFrames(frames: list[bytes], *, asJson: bool = False) -> str:
    """One message's frames as one line: text, or JSON with --json."""
    if not asJson:
        *first, last = frames or [b""]
        return " ".join([*(escape(frame, isTag=True) for frame in first), escape(last)])
    texts = [_utf8(frame) for frame in frames]
    encoded = [
        None if text is not None else base64.b64encode(frame).decode("ascii")
        for frame, text in zip(frames, texts, strict=True)
    ]
    record: dict[str, Any] = {"frames": texts}
    if any(encoded):
        record["frames_base64"] = encoded
    return json.dumps(record, ensure_ascii=not _UTF8_STDOUT)


def _utf8(frame: bytes) -> str | None:
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError:
        return None


class FramesListener:
    """Prints messages until --count of them came; *finished* fires with the exit status."""

    def __init__(
        self, reactor: Any, command: str, *, asJson: bool, count: int | None = None
    ) -> None:
        self.command = command
        self.asJson = asJson
        self.count = count
        self.finished: Deferred[int] = Deferred()
        self.received = 0
        self.output = LineWriter(reactor, lambda: self.end(EXIT_OK))  # stdout closed: done

    def end(self, status: int) -> None:
        if not self.finished.called:
            self.finished.callback(status)

    def handle(self, frames: list[bytes]) -> None:
        if self.finished.called:
            return
        self.received += 1
        self.output.write(renderFrames(frames, asJson=self.asJson))
        if self.received == self.count:
            self.end(EXIT_OK)

    def timedOut(self, seconds: float) -> None:
        wanted = self.count or 1
        if self.received < wanted:
            got = f"{self.received} of {self.count} messages" if self.count else "no message"
            say(self.command, f"timed out after {seconds:g} s with {got}")
        self.end(EXIT_OK if self.received >= wanted else EXIT_NOTHING)


async def readAll(puller: ZmqPullConnection, handle: Callable[[list[bytes]], None]) -> None:
    """Hand every message to *handle* until the connection shuts down."""
    try:
        while True:
            for frames in await puller.nextBatch(BATCH):
                handle(frames)
    except ConnectionClosed:
        return


async def run(reactor: Any, args: argparse.Namespace) -> int:
    endpoint = endpointFrom(args.endpoint, ZmqEndpointType.connect, flag=args.attach)
    security = securityFrom(args, "pull")
    listener = FramesListener(reactor, "pull", asJson=args.json, count=args.count)
    factory = ZmqFactory(reactor)
    factory.lingerPeriod = 0
    timer = None
    if args.timeout:
        timer = reactor.callLater(args.timeout, listener.timedOut, args.timeout)
    try:
        puller = ZmqPullConnection(
            factory, endpoint, security=security, maxMessageSize=args.max_message_size
        )
        nameInLogs(puller)
        if security is not None:
            say("pull", describeSecurity(security))
        say("pull", f"pulling on {attachedAddress(puller.socket, endpoint)} ({endpoint.type})")
        Deferred.fromCoroutine(readAll(puller, listener.handle))  # ends at shutdown
        return await listener.finished
    except CancelledError:
        say("pull", f"interrupted after {listener.received} message(s)")
        raise
    finally:
        if timer is not None and timer.active():
            timer.cancel()
        factory.shutdown()
        listener.output.flush()
