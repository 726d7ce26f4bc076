# -*- test-case-name: tests.test_cli,tests.test_cli_security,tests.test_proxy_patterns -*-
"""
``txzpub proxy``: libzmq's own proxy, steerable so it stops cleanly, in one
of three shapes (``--shape``):

* forwarder (the default): XSUB/XPUB. Publishers connect to the frontend,
  subscribers to the backend, and subscriptions travel upstream. The XPUB
  side is verbose (every subscriber's subscription is passed on, not only the
  first per topic), so a publisher's ``--wait-subscribers`` counts
  subscribers through the proxy too.
* queue: ROUTER/DEALER. REQ clients connect to the frontend, REP workers to
  the backend; the DEALER hands requests to the workers in turn and the
  ROUTER returns each reply to the client that asked.
* streamer: PULL/PUSH. PUSH senders connect to the frontend, PULL receivers
  to the backend, each message going to one receiver, in turn.

The sides are ``--frontend``/``--backend`` for every shape; ``--xsub``/
``--xpub``, their names before there were shapes, still name the
forwarder's. Which spellings go with which shape is checked with the other
arguments (checkArguments), so a mistake is a usage error.

zmq.proxy_steerable runs in a thread (it is libzmq's loop, not Python's); the
reactor thread steers it over an inproc PAIR socket: STATISTICS for the
periodic counts, TERMINATE on Ctrl-C or SIGTERM, then every socket is closed.

With ``--curve-server-key`` both sides (and the --capture socket, which would
otherwise hand out everything in clear) are CURVE servers with one key pair and
one policy: every peer, on either side, is a client that --allow-key admits.
Their ZAP requests are answered by a ZapHandler on the reactor (the
proxy thread only moves messages), registered once per side so a refusal in
the log says which side; each secured socket also has a monitor on the
reactor, which logs the handshakes that fail before ZAP (a peer without
CURVE, a wrong server key). Everything is set before the sockets attach, and
stopped once the proxy thread has ended.
"""

from __future__ import annotations

import argparse
import itertools
import os
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import zmq
from twisted.internet.task import deferLater

from txzpub import CurveServer, EndpointError, ZmqEndpoint, ZmqEndpointType
from txzpub._authenticator import ZapHandler, secureSocket
from txzpub._connection import attachEndpoint
from txzpub._monitor import ConnectionMonitor

from ._common import UsageError, attachedAddress, endpointFrom, nonNegativeFloat, say
from ._security import addSecurityOptions, describeSecurity, serverFrom

__all__ = ["addArguments", "run"]

#: Milliseconds to wait for the proxy thread's answer to STATISTICS, and to end.
ANSWER_MS = 2000
#: Milliseconds a closing socket may spend delivering what it still holds.
LINGER_MS = 100

_names = itertools.count()


class Shape(NamedTuple):
    """One way to run the proxy: its two sockets, who connects to each, what it counts."""

    frontend: int
    backend: int
    #: Who connects to each side, for the readiness line: ("publishers", "subscribers").
    peers: tuple[str, str]
    #: What the frontend's and the backend's counts are. libzmq counts frames: a
    #: forwarder's one-frame messages are messages, a REQ's request is three frames
    #: at the ROUTER (the client's identity, an empty delimiter, the body).
    counted: tuple[str, str | None]
    #: The flags naming the sides: the forwarder's older names, else --frontend/--backend.
    flags: tuple[str, str]


SIDES = ("--frontend", "--backend")

#: What libzmq's proxy statistics count: each frame from libzmq 4.3.5 on, each
#: message before (a request through the queue is three frames).
COUNTED = "frame(s)" if zmq.zmq_version_info() >= (4, 3, 5) else "message(s)"

SHAPES = {
    "forwarder": Shape(
        zmq.XSUB,
        zmq.XPUB,
        ("publishers", "subscribers"),
        ("message(s) forwarded", "(un)subscription(s) passed upstream"),
        ("--xsub", "--xpub"),
    ),
    "queue": Shape(
        zmq.ROUTER,
        zmq.DEALER,
        ("clients (REQ)", "workers (REP)"),
        (f"request {COUNTED} forwarded", f"reply {COUNTED} returned"),
        SIDES,
    ),
    "streamer": Shape(
        zmq.PULL,
        zmq.PUSH,
        ("senders (PUSH)", "receivers (PULL)"),
        (f"{COUNTED} forwarded", None),
        SIDES,
    ),
}

#: For --help: what each shape is for.
SHAPE_HELP = (
    "forwarder (the default): publishers to subscribers, through XSUB/XPUB sockets; "
    "queue: requests from REQ clients shared among REP workers, each reply back to its "
    "client (ROUTER/DEALER); streamer: messages from PUSH senders shared among PULL "
    "receivers (PULL/PUSH)"
)


def addArguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shape", choices=list(SHAPES), default="forwarder", help=SHAPE_HELP)
    attached = "bound; prefix > to connect instead"
    parser.add_argument(
        "--frontend",
        metavar="ENDPOINT",
        help=f"the side publishers, clients or senders connect to ({attached})",
    )
    parser.add_argument(
        "--backend",
        metavar="ENDPOINT",
        help=f"the side subscribers, workers or receivers connect to ({attached})",
    )
    parser.add_argument(
        "--xsub",
        metavar="ENDPOINT",
        help=f"forwarder: the side publishers connect to, as --frontend ({attached})",
    )
    parser.add_argument(
        "--xpub",
        metavar="ENDPOINT",
        help=f"forwarder: the side subscribers connect to, as --backend ({attached})",
    )
    parser.add_argument(
        "--capture",
        metavar="ENDPOINT",
        help="publish a copy of everything passing through, both ways, on ENDPOINT "
        "(a PUB socket); forwarder: (un)subscriptions included, starting with byte 1 or 0",
    )
    parser.add_argument(
        "--stats",
        type=nonNegativeFloat,
        default=10.0,
        metavar="SECONDS",
        help="print the counts to stderr every SECONDS if they changed "
        "(default: 10; 0: only when stopping); libzmq counts frames, so a multipart "
        "message counts as its number of frames",
    )
    addSecurityOptions(parser, proxy=True, inbound="what the peers on either side send the proxy")


def chosenSides(args: argparse.Namespace) -> tuple[tuple[str, str], tuple[str, str]]:
    """
    The frontend and the backend as (ENDPOINT, the flag that gave it).

    Raises UsageError when a side is missing, given twice, or given with a
    forwarder's flag (--xsub, --xpub) to another shape.
    """
    shape = SHAPES[args.shape]
    given = {"--frontend": args.frontend, "--backend": args.backend}
    given |= {"--xsub": args.xsub, "--xpub": args.xpub}
    older = ("--xsub", "--xpub")
    if shape.flags != older:
        for flag, side in zip(older, SIDES, strict=True):
            if given[flag] is not None:
                msg = f"{flag} names a forwarder's side; with --shape {args.shape} use {side}"
                raise UsageError(msg)
    usesNewNames = any(given[flag] is not None for flag in SIDES)
    sides, missing = [], []
    for side, name in zip(SIDES, shape.flags, strict=True):
        spellings = [flag for flag in dict.fromkeys((side, name)) if given[flag] is not None]
        if len(spellings) > 1:
            msg = f"{spellings[0]} and {spellings[1]} name the same side; give one of them"
            raise UsageError(msg)
        if not spellings:
            missing.append(side if usesNewNames else name)
            continue
        sides.append((given[spellings[0]], spellings[0]))
    if missing:
        msg = f"the following arguments are required: {', '.join(missing)}"
        raise UsageError(msg)
    return sides[0], sides[1]


def checkArguments(args: argparse.Namespace) -> None:
    """The checks argparse cannot make alone, so they are reported as its own errors are."""
    chosenSides(args)


class Counts:
    """The proxy's counters, from its answer to STATISTICS."""

    def __init__(self, frames: list[bytes]) -> None:
        values = [struct.unpack("=Q", frame)[0] for frame in frames]
        # the frontend: msgs in, bytes in, msgs out, bytes out; then the same for the backend
        self.forwarded, self.bytes, _, _, self.returned = values[:5]

    @classmethod
    def zero(cls) -> Counts:
        return cls([bytes(8)] * 8)

    def changedSince(self, previous: Counts) -> bool:
        return (self.forwarded, self.returned) != (previous.forwarded, previous.returned)

    def describe(self, shape: Shape, previous: Counts | None = None, seconds: float = 0.0) -> str:
        forwarded, returned = shape.counted
        recent = ""
        if previous is not None:
            recent = f" (+{self.forwarded - previous.forwarded:,} in {seconds:.0f} s)"
        text = f"{self.forwarded:,} {forwarded}{recent}, {self.bytes:,} bytes"
        if returned is not None:
            text += f"; {self.returned:,} {returned}"
        return text


class Side:
    """Names a proxy socket in log lines: ``XPUB tcp://127.0.0.1:5556``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


class Proxy:
    """The sockets, the proxy thread and the socket that steers it."""

    def __init__(self, context: zmq.Context[Any]) -> None:
        self.context = context
        self.sockets: list[zmq.Socket[Any]] = []
        self.thread: threading.Thread | None = None
        self.frontend: zmq.Socket[Any] | None = None
        self.backend: zmq.Socket[Any] | None = None
        self.capture: zmq.Socket[Any] | None = None
        self.zap: ZapHandler | None = None
        self.monitors: list[ConnectionMonitor] = []
        self.control = self.socket(zmq.PAIR)
        self.steering = self.socket(zmq.PAIR)

    def secure(
        self, socket: zmq.Socket[Any], server: CurveServer, side: Side, reactor: Any
    ) -> None:
        """Make *socket* a CURVE server under *server*'s policy; before it attaches."""

        def zapHandler() -> ZapHandler:
            if self.zap is None:
                self.zap = ZapHandler(self.context, reactor)
            return self.zap

        secureSocket(socket, server, zapHandler, side)
        self.monitors.append(ConnectionMonitor(socket, reactor, side))

    def socket(self, kind: int) -> zmq.Socket[Any]:
        made: zmq.Socket[Any] = self.context.socket(kind)
        made.set(zmq.LINGER, LINGER_MS)
        self.sockets.append(made)
        return made

    def attach(self, socket: zmq.Socket[Any], endpoint: ZmqEndpoint, what: str) -> str:
        try:
            attachEndpoint(socket, endpoint)
        except EndpointError as error:
            msg = f"{what}: {error}"
            raise UsageError(msg) from None
        return f"{attachedAddress(socket, endpoint)}" + (
            " (connected)" if endpoint.type == ZmqEndpointType.connect else ""
        )

    def open(
        self,
        reactor: Any,
        shape: Shape,
        sides: tuple[tuple[ZmqEndpoint, str], tuple[ZmqEndpoint, str], ZmqEndpoint | None],
        server: CurveServer | None,
        maxMessageSize: int | None,
    ) -> str:
        """Make, secure and attach the two sides and the capture socket; say where they are."""
        (frontend, frontendFlag), (backend, backendFlag), tap = sides
        self.frontend, self.backend = self.socket(shape.frontend), self.socket(shape.backend)
        if shape.backend == zmq.XPUB:
            self.backend.set(zmq.XPUB_VERBOSE, 1)
        names = [zmq.SocketType(kind).name for kind in (shape.frontend, shape.backend)]
        sockets = [
            (self.frontend, Side(names[0]), frontend, frontendFlag),
            (self.backend, Side(names[1]), backend, backendFlag),
        ]
        if tap is not None:
            self.capture = self.socket(zmq.PUB)
            sockets.append((self.capture, Side("capture"), tap, "--capture"))
        for socket, side, _, _ in sockets:
            if maxMessageSize is not None:
                socket.set(zmq.MAXMSGSIZE, maxMessageSize)
            if server is not None:
                self.secure(socket, server, side, reactor)
        where = []
        for socket, side, endpoint, flag in sockets:
            where.append(self.attach(socket, endpoint, flag))
            side.name += f" {socket.get_string(zmq.LAST_ENDPOINT)}"
        extra = f"; a copy of each message on {where[2]}" if tap is not None else ""
        front, back = shape.peers
        return (
            f"{front} connect to {where[0]} ({names[0]}), {back} to {where[1]} ({names[1]}){extra}"
        )

    def start(self) -> None:
        name = f"inproc://txzpub-proxy-control-{os.getpid()}-{next(_names)}"
        self.control.bind(name)
        self.steering.connect(name)
        self.thread = threading.Thread(
            target=zmq.proxy_steerable,
            args=(self.frontend, self.backend, self.capture, self.control),
            name="txzpub-proxy",
            daemon=True,
        )
        self.thread.start()

    def counts(self) -> Counts | None:
        self.steering.send(b"STATISTICS")
        if not self.steering.poll(ANSWER_MS):
            return None
        return Counts(self.steering.recv_multipart())

    def stop(self) -> None:
        if self.thread is not None:
            self.steering.send(b"TERMINATE")
            self.thread.join(ANSWER_MS / 1000)
        for monitor in self.monitors:
            monitor.stop()
        for socket in self.sockets:
            socket.close()
        if self.zap is not None:
            self.zap.stop()


@contextmanager
def context() -> Iterator[zmq.Context[Any]]:
    made: zmq.Context[Any] = zmq.Context()
    try:
        yield made
    finally:
        made.destroy(linger=0)


async def run(reactor: Any, args: argparse.Namespace) -> int:
    bind = ZmqEndpointType.bind
    shape = SHAPES[args.shape]
    (frontend, frontendFlag), (backend, backendFlag) = chosenSides(args)
    sides = (
        (endpointFrom(frontend, bind), frontendFlag),
        (endpointFrom(backend, bind), backendFlag),
        endpointFrom(args.capture, bind) if args.capture else None,
    )
    server = serverFrom(args, "proxy")
    with context() as made:
        proxy = Proxy(made)
        try:
            ready = proxy.open(reactor, shape, sides, server, args.max_message_size)
            if server is not None:
                say("proxy", f"{describeSecurity(server)}; on every side")
            proxy.start()
            say("proxy", ready)
            reported, reportedAt = Counts.zero(), reactor.seconds()
            while True:  # until Ctrl-C or SIGTERM cancels it
                await deferLater(reactor, args.stats or 3600, lambda: None)
                counts = proxy.counts() if args.stats else None
                if counts is not None and counts.changedSince(reported):
                    now = reactor.seconds()
                    say("proxy", counts.describe(shape, reported, now - reportedAt))
                    reported, reportedAt = counts, now
        finally:
            final = proxy.counts() if proxy.thread is not None else None
            proxy.stop()
            if final is not None:
                say("proxy", f"stopped; {final.describe(shape)}")
