# -*- test-case-name: tests.test_cli,tests.test_cli_security -*-
"""
``txzpub proxy``: libzmq's own XSUB/XPUB forwarder, steerable so it stops cleanly.

zmq.proxy_steerable runs in a thread (it is libzmq's loop, not Python's); the
reactor thread steers it over an inproc PAIR socket: STATISTICS for the
periodic counts, TERMINATE on Ctrl-C or SIGTERM, then every socket is closed.
Publishers connect to the XSUB side, subscribers to the XPUB side, and
subscriptions travel upstream. The XPUB side is verbose (every subscriber's
subscription is passed on, not only the first per topic), so a publisher's
``--wait-subscribers`` counts subscribers through the proxy too.

With ``--curve-server-key`` both sides (and the --capture socket, which would
otherwise hand out everything in clear) are CURVE servers with one key pair and
one policy: publishers and subscribers alike are clients that --allow-key
admits. Their ZAP requests are answered by a ZapHandler on the reactor (the
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
from typing import Any

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


def addArguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--xsub",
        required=True,
        metavar="ENDPOINT",
        help="the side publishers connect to (bound; prefix > to connect instead)",
    )
    parser.add_argument(
        "--xpub",
        required=True,
        metavar="ENDPOINT",
        help="the side subscribers connect to (bound; prefix > to connect instead)",
    )
    parser.add_argument(
        "--capture",
        metavar="ENDPOINT",
        help="publish a copy of everything passing through on ENDPOINT (a PUB socket), "
        "(un)subscriptions included: they start with byte 1 or 0",
    )
    parser.add_argument(
        "--stats",
        type=nonNegativeFloat,
        default=10.0,
        metavar="SECONDS",
        help="print the counts to stderr every SECONDS if they changed "
        "(default: 10; 0: only when stopping)",
    )
    addSecurityOptions(
        parser, proxy=True, inbound="messages from publishers, subscriptions from subscribers"
    )


class Counts:
    """The proxy's counters, from its answer to STATISTICS."""

    def __init__(self, frames: list[bytes]) -> None:
        values = [struct.unpack("=Q", frame)[0] for frame in frames]
        # XSUB (frontend): msgs in, bytes in, msgs out, bytes out; then the same for XPUB
        self.messages, self.bytes, _, _, self.subscriptions = values[:5]

    @classmethod
    def zero(cls) -> Counts:
        return cls([bytes(8)] * 8)

    def changedSince(self, previous: Counts) -> bool:
        return (self.messages, self.subscriptions) != (previous.messages, previous.subscriptions)

    def describe(self, previous: Counts | None = None, seconds: float = 0.0) -> str:
        recent = ""
        if previous is not None:
            recent = f" (+{self.messages - previous.messages:,} in {seconds:.0f} s)"
        return (
            f"{self.messages:,} message(s) forwarded{recent}, {self.bytes:,} bytes; "
            f"{self.subscriptions:,} (un)subscription(s) passed upstream"
        )


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
        self.xsub: zmq.Socket[Any] | None = None
        self.xpub: zmq.Socket[Any] | None = None
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
        endpoints: tuple[ZmqEndpoint, ZmqEndpoint, ZmqEndpoint | None],
        server: CurveServer | None,
        maxMessageSize: int | None,
    ) -> str:
        """Make, secure and attach the XSUB, XPUB and capture sockets; say where they are."""
        frontend, backend, tap = endpoints
        self.xsub, self.xpub = self.socket(zmq.XSUB), self.socket(zmq.XPUB)
        self.xpub.set(zmq.XPUB_VERBOSE, 1)
        sides = [(self.xsub, Side("XSUB"), frontend, "--xsub")]
        sides.append((self.xpub, Side("XPUB"), backend, "--xpub"))
        if tap is not None:
            self.capture = self.socket(zmq.PUB)
            sides.append((self.capture, Side("capture"), tap, "--capture"))
        for socket, side, _, _ in sides:
            if maxMessageSize is not None:
                socket.set(zmq.MAXMSGSIZE, maxMessageSize)
            if server is not None:
                self.secure(socket, server, side, reactor)
        where = []
        for socket, side, endpoint, flag in sides:
            where.append(self.attach(socket, endpoint, flag))
            side.name += f" {socket.get_string(zmq.LAST_ENDPOINT)}"
        extra = f"; a copy of each message on {where[2]}" if tap is not None else ""
        return f"publishers connect to {where[0]} (XSUB), subscribers to {where[1]} (XPUB){extra}"

    def start(self) -> None:
        name = f"inproc://txzpub-proxy-control-{os.getpid()}-{next(_names)}"
        self.control.bind(name)
        self.steering.connect(name)
        self.thread = threading.Thread(
            target=zmq.proxy_steerable,
            args=(self.xsub, self.xpub, self.capture, self.control),
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
    frontend = endpointFrom(args.xsub, bind)
    backend = endpointFrom(args.xpub, bind)
    tap = endpointFrom(args.capture, bind) if args.capture else None
    server = serverFrom(args, "proxy")
    with context() as made:
        proxy = Proxy(made)
        try:
            ready = proxy.open(reactor, (frontend, backend, tap), server, args.max_message_size)
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
                    say("proxy", counts.describe(reported, now - reportedAt))
                    reported, reportedAt = counts, now
        finally:
            final = proxy.counts() if proxy.thread is not None else None
            proxy.stop()
            if final is not None:
                say("proxy", f"stopped; {final.describe()}")
