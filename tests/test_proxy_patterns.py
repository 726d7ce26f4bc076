"""
``txzpub proxy --shape queue`` and ``--shape streamer``, run as users run them
(a subprocess, as in test_cli), with plain pyzmq sockets as its peers, and
once with txzpub's own ZmqREQConnection and ZmqREPConnection.

Nothing sleeps to synchronise: the plain peers live in this thread and are
driven by one zmq.Poller whose every wait is bounded by a deadline; txzpub's
are awaited on the reactor, each wait bounded. The queue's
round-robin is shown only once every worker is known to be connected: probe
requests go through until each worker has answered one (ZeroMQ's DEALER shares
only among the workers it has), then the counted requests are sent.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import zmq
from twisted.internet.defer import gatherResults

from txzpub import (
    CurveKeyPair,
    ZmqFactory,
    ZmqREPConnection,
    ZmqREQConnection,
)

from .helpers import bounded, connect
from .test_cli import TIMEOUT, Running, assertClean, run, running

ANY_PORT = "tcp://127.0.0.1:*"
QUEUE_READY = r"clients \(REQ\) connect to (\S+) \(ROUTER\), workers \(REP\) to (\S+) \(DEALER\)"
STREAMER_READY = (
    r"senders \(PUSH\) connect to (\S+) \(PULL\), receivers \(PULL\) to (\S+) \(PUSH\)"
)

Socket = zmq.Socket[Any]

#: libzmq 4.3.5 counts each frame in the proxy's statistics, earlier versions each message.
PER_FRAME = zmq.zmq_version_info() >= (4, 3, 5)
COUNTED = "frame(s)" if PER_FRAME else "message(s)"
UNIT = re.escape(COUNTED)


@contextmanager
def sockets() -> Iterator[zmq.Context[Any]]:
    """A context whose sockets are all closed, without lingering, however the test ends."""
    context: zmq.Context[Any] = zmq.Context()
    context.setsockopt(zmq.LINGER, 0)
    try:
        yield context
    finally:
        context.destroy(linger=0)


def connected(context: zmq.Context[Any], kind: int, address: str, **options: Any) -> Socket:
    made: Socket = context.socket(kind)
    for name, value in options.items():
        made.set(getattr(zmq, name.upper()), value)
    made.connect(address)
    return made


class Deadline:
    """One TIMEOUT for a whole exchange; each poll waits at most what is left of it."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.end = time.monotonic() + TIMEOUT

    def remaining(self) -> float:
        """Seconds left; fails the test once there are none."""
        left = self.end - time.monotonic()
        assert left > 0, f"no {self.what} within {TIMEOUT} s"
        return left

    def poll(self, poller: zmq.Poller) -> dict[Any, int]:
        return dict(poller.poll(self.remaining() * 1000))


class RequestsAndReplies:
    """REQ clients and REP workers on either side of a queue, driven from this thread."""

    def __init__(self, clients: list[Socket], workers: list[Socket]) -> None:
        self.clients = clients
        self.workers = workers
        self.poller = zmq.Poller()
        for each in (*clients, *workers):
            self.poller.register(each, zmq.POLLIN)
        #: request -> the index of every worker that served it
        self.servedBy: defaultdict[bytes, list[int]] = defaultdict(list)
        #: request -> every reply its client received for it
        self.replies: defaultdict[bytes, list[bytes]] = defaultdict(list)

    def exchange(self, requests: list[bytes], what: str) -> None:
        """Send *requests*, at most one in flight per client (as REQ allows); await the replies."""
        pending = deque(requests)
        idle = list(range(len(self.clients)))
        asked: dict[int, bytes] = {}
        deadline = Deadline(what)
        while pending or asked:
            while idle and pending:
                client = idle.pop()
                asked[client] = pending.popleft()
                self.clients[client].send(asked[client])
            ready = deadline.poll(self.poller)
            for index, worker in enumerate(self.workers):
                if worker in ready:
                    request = worker.recv()
                    self.servedBy[request].append(index)
                    worker.send(b"done: " + request)
            for index, client in enumerate(self.clients):
                if client in ready:
                    self.replies[asked.pop(index)].append(client.recv())
                    idle.append(index)

    def untilEveryWorkerServed(self) -> None:
        """Probe until each worker has answered once: then the DEALER has them all."""
        deadline = Deadline("probe answered by every worker")
        every = set(range(len(self.workers)))
        sent = 0
        while {w for served in self.servedBy.values() for w in served} != every:
            deadline.remaining()
            probes = [f"probe {sent + n}".encode() for n in range(len(self.clients))]
            self.exchange(probes, "probe replies")
            sent += len(probes)


def test_queue_spreads_requests_over_workers_each_answered_once() -> None:
    with running("proxy", "--shape", "queue", "--frontend", ANY_PORT, "--backend", ANY_PORT,
                 "--stats", "0") as proxy, sockets() as context:  # fmt: skip
        frontend, backend = proxy.errLine(QUEUE_READY, "the queue's addresses").groups()
        workers = [connected(context, zmq.REP, backend) for _ in range(3)]
        clients = [connected(context, zmq.REQ, frontend) for _ in range(4)]
        peers = RequestsAndReplies(clients, workers)
        peers.untilEveryWorkerServed()
        probes = sum(len(served) for served in peers.servedBy.values())
        requests = [f"request {n}".encode() for n in range(90)]
        peers.exchange(requests, "replies to the requests")
        assert proxy.stop() == 0, proxy
    assertClean(proxy)

    # Every request was served by one worker, once, and its client got that reply, once.
    for request in requests:
        assert len(peers.servedBy[request]) == 1, request
        assert peers.replies[request] == [b"done: " + request]
    # The DEALER shared them in turn: no worker served more than one request more than another.
    load = Counter(peers.servedBy[request][0] for request in requests)
    assert sorted(load) == [0, 1, 2], load
    assert max(load.values()) - min(load.values()) <= 1, load
    total = probes + len(requests)
    # libzmq 4.3.5 counts frames: each request and each reply is three (identity,
    # delimiter, body); earlier versions count messages.
    counted = 3 * total if PER_FRAME else total
    assert re.fullmatch(
        rf"txzpub proxy: stopped; {counted} request {UNIT} forwarded, [\d,]+ bytes; "
        rf"{counted} reply {UNIT} returned",
        proxy.err[-1],
    ), proxy


def test_streamer_delivers_every_pushed_message_once() -> None:
    perSender = 300
    with running("proxy", "--shape", "streamer", "--frontend", ANY_PORT, "--backend", ANY_PORT,
                 "--stats", "0") as proxy, sockets() as context:  # fmt: skip
        frontend, backend = proxy.errLine(STREAMER_READY, "the streamer's addresses").groups()
        receivers = [connected(context, zmq.PULL, backend) for _ in range(3)]
        senders = [connected(context, zmq.PUSH, frontend) for _ in range(2)]
        sent = []
        for n in range(perSender):
            for index, sender in enumerate(senders):
                message = f"{index} {n:04}".encode()
                sender.send(message)  # queued until connected: PUSH does not drop
                sent.append(message)
        poller = zmq.Poller()
        for each in receivers:
            poller.register(each, zmq.POLLIN)
        received: dict[int, list[bytes]] = {index: [] for index in range(len(receivers))}
        deadline = Deadline("message pulled")
        while sum(map(len, received.values())) < len(sent):
            ready = deadline.poll(poller)
            for index, receiver in enumerate(receivers):
                while receiver in ready and receiver.poll(0):
                    received[index].append(receiver.recv())
        assert proxy.stop() == 0, proxy
    assertClean(proxy)

    everything = [message for messages in received.values() for message in messages]
    assert sorted(everything) == sorted(sent)  # as many as were sent, so each exactly once
    for messages in received.values():  # each receiver got each sender's in order
        for index in range(len(senders)):
            mine = [m for m in messages if m.startswith(f"{index} ".encode())]
            assert mine == sorted(mine)
    assert proxy.err[-1] == (
        f"txzpub proxy: stopped; {len(sent)} {COUNTED} forwarded, {sum(map(len, sent)):,} bytes"
    ), proxy


@pytest_twisted.ensureDeferred
async def test_queue_between_txzpub_req_and_rep_connections(factory: ZmqFactory) -> None:
    """The same through txzpub's own connections: REQ (a DEALER) and REP (a ROUTER)."""
    with running("proxy", "--shape", "queue", "--frontend", ANY_PORT, "--backend", ANY_PORT,
                 "--stats", "0") as proxy:  # fmt: skip
        frontend, backend = proxy.errLine(QUEUE_READY, "the queue's addresses").groups()
        servedBy: defaultdict[bytes, list[int]] = defaultdict(list)

        def worker(index: int) -> ZmqREPConnection:
            def answer(*parts: bytes) -> list[bytes]:
                servedBy[parts[0]].append(index)
                return [b"done: " + parts[0]]

            replier = ZmqREPConnection(factory, connect(backend))
            replier.serve(answer)
            return replier

        workers = [worker(index) for index in range(3)]
        clients = [ZmqREQConnection(factory, connect(frontend)) for _ in range(2)]
        probes = 0
        deadline = Deadline("probe answered by every worker")
        while {w for served in servedBy.values() for w in served} != {0, 1, 2}:
            deadline.remaining()
            await bounded(clients[probes % 2].sendMsg(f"probe {probes}".encode()), "a probe")
            probes += 1
        requests = [f"request {n}".encode() for n in range(60)]
        replies = await bounded(
            gatherResults([clients[n % 2].sendMsg(r) for n, r in enumerate(requests)]),
            "the replies",
        )
        for each in (*workers, *clients):
            each.shutdown()
        assert proxy.stop() == 0, proxy
    assertClean(proxy)

    assert replies == [[b"done: " + request] for request in requests]
    assert all(len(servedBy[request]) == 1 for request in requests), servedBy
    load = Counter(servedBy[request][0] for request in requests)
    assert sorted(load) == [0, 1, 2], load
    assert max(load.values()) - min(load.values()) <= 1, load


@pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")
def test_curve_queue_admits_only_allowed_clients(tmp_path: Path) -> None:
    pairs = {name: CurveKeyPair.generate() for name in ("proxy", "alice", "worker", "mallory")}
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    for name, pair in pairs.items():
        public, _ = pair.save(tmp_path, name)
        if name in {"alice", "worker"}:
            (allowed / public.name).write_text(public.read_text())

    def curve(name: str) -> dict[str, Any]:
        pair = pairs[name]
        serverKey = pairs["proxy"].publicKey
        return {"curve_publickey": pair.publicKey, "curve_secretkey": pair.secretKey,
                "curve_serverkey": serverKey}  # fmt: skip

    with running("proxy", "--shape", "queue", "--frontend", ANY_PORT, "--backend", ANY_PORT,
                 "--stats", "0", "--curve-server-key", str(tmp_path / "proxy.key_secret"),
                 "--allow-key", str(allowed)) as proxy, sockets() as context:  # fmt: skip
        frontend, backend = proxy.errLine(QUEUE_READY, "the queue's addresses").groups()
        intruder = connected(context, zmq.REQ, frontend, **curve("mallory"))
        intruder.send(b"let me in")
        proxy.errLine(
            rf"ROUTER {re.escape(frontend)}: refused the client at 127\.0\.0\.1 .*"
            "not in the allow",
            "the proxy logging the refusal",
        )
        worker = connected(context, zmq.REP, backend, **curve("worker"))
        client = connected(context, zmq.REQ, frontend, **curve("alice"))
        peers = RequestsAndReplies([client], [worker])
        peers.exchange([b"hello"], "the admitted client's reply")
        assert intruder.poll(0) == 0  # refused before its request could be read
        assert proxy.stop() == 0, proxy
    assertClean(proxy)
    assert peers.replies == {b"hello": [b"done: hello"]}
    assert "CURVE server" in proxy.err[0], proxy
    counted = 3 if PER_FRAME else 1
    assert re.fullmatch(
        rf"txzpub proxy: stopped; {counted} request {UNIT} forwarded, \d+ bytes; "
        rf"{counted} reply {UNIT} returned",
        proxy.err[-1],
    ), proxy


# -- the command line: signals, mistakes, help -----------------------------------------


@pytest.mark.parametrize(
    ("shape", "ready"), [("queue", QUEUE_READY), ("streamer", STREAMER_READY)]
)
def test_sigterm_stops_each_shape_with_status_0(shape: str, ready: str) -> None:
    with running("proxy", "--shape", shape, "--frontend", ANY_PORT, "--backend", ANY_PORT,
                 "--capture", ANY_PORT) as proxy:  # fmt: skip
        assert "a copy of each message on tcp://127.0.0.1:" in proxy.errLine(ready, "ready").string
        assert proxy.stop() == 0, proxy
    assertClean(proxy)
    assert proxy.err[-1].startswith("txzpub proxy: stopped; 0 "), proxy


def test_the_forwarder_takes_frontend_and_backend_too() -> None:
    with running("proxy", "--frontend", ANY_PORT, "--backend", ANY_PORT) as proxy:
        proxy.errLine(r"publishers connect to \S+ \(XSUB\), subscribers to \S+ \(XPUB\)", "ready")
        assert proxy.stop() == 0, proxy
    assertClean(proxy)


MISTAKES = {
    "a forwarder's flag with another shape": (
        ("--shape", "queue", "--xsub", ANY_PORT, "--backend", ANY_PORT),
        "--xsub names a forwarder's side; with --shape queue use --frontend",
    ),
    "one side twice": (
        ("--frontend", ANY_PORT, "--xsub", ANY_PORT, "--xpub", ANY_PORT),
        "--frontend and --xsub name the same side; give one of them",
    ),
    "a missing side": (
        ("--shape", "streamer", "--frontend", ANY_PORT),
        "the following arguments are required: --backend",
    ),
    "no side": ((), "the following arguments are required: --xsub, --xpub"),
    "an unknown shape": (("--shape", "broker"), "invalid choice: 'broker'"),
}


@pytest.mark.parametrize("case", list(MISTAKES))
def test_mistakes_are_one_line_and_status_2(case: str) -> None:
    args, message = MISTAKES[case]
    process = run("proxy", *args)
    assertClean(process, status=2)
    assert len(process.err) == 1, process
    assert process.err[0].startswith("txzpub proxy: error: "), process
    assert process.err[0].endswith(" (see 'txzpub proxy --help')"), process
    assert message in process.err[0], process


def test_help_names_the_shapes() -> None:
    process: Running = run("proxy", "--help")
    assertClean(process)
    text = " ".join(process.stdout.split())
    for words in ("{forwarder,queue,streamer}", "REQ clients", "REP workers", "PUSH senders",
                  "--frontend ENDPOINT", "--backend ENDPOINT"):  # fmt: skip
        assert words in text, text
