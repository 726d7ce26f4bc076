"""
The ``txzpub`` command line, run as users run it: ``python -m txzpub ...`` subprocesses.

Every wait has a deadline and nothing sleeps to synchronise: a test reads a
process's stdout and stderr as they come until the line it waits for appears
(each command says on stderr when it is ready: ``sub`` once subscribed, ``proxy``
with its addresses, ``pub`` before publishing), and publishers use
``--wait-subscribers`` against ZeroMQ's slow joiner. Everything binds port 0
(``tcp://127.0.0.1:*``) and reads the real port from that readiness line, so
no port is guessed. Processes run with ``-W default -b``: a warning or a
bytes/str mix-up shows up on stderr and fails the test.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import Clock

from txzpub._cli._common import UsageError, endpointFrom
from txzpub._cli._pub import Pacer, fromArguments, subscriberCheck
from txzpub._cli._render import escape, renderJson, renderText

from .helpers import childEnvironment

#: Seconds any one wait may take; each needs well under one.
TIMEOUT = 30.0

ANY_PORT = "tcp://127.0.0.1:*"
COMMANDS = {"sub", "pub", "proxy", "demo", "bench"}


def txzpub(*args: str) -> list[str]:
    return [sys.executable, "-W", "default", "-b", "-m", "txzpub", *args]


class Running:
    """A txzpub process whose stdout and stderr lines are read as they come."""

    def __init__(self, *args: str, stdin: int | None = subprocess.DEVNULL) -> None:
        self.args = args
        self.process = subprocess.Popen(  # noqa: S603 - our own command, our own interpreter
            txzpub(*args),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=childEnvironment(),
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.out: list[str] = []
        self.err: list[str] = []
        self._streams = {
            self.process.stdout.fileno(): (self.out, bytearray()),
            self.process.stderr.fileno(): (self.err, bytearray()),
        }
        self._open = set(self._streams)

    def __repr__(self) -> str:
        return (
            f"txzpub {' '.join(self.args)}\n--- stdout:\n{self.stdout}\n--- stderr:\n{self.stderr}"
        )

    @property
    def stdout(self) -> str:
        return "\n".join(self.out)

    @property
    def stderr(self) -> str:
        return "\n".join(self.err)

    def write(self, data: bytes, *, close: bool = False) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()
        if close:
            self.process.stdin.close()

    def until(self, enough: Callable[[Running], object], what: str) -> None:
        """Read output until *enough(self)* is true; fail after TIMEOUT or if the process ends."""
        deadline = time.monotonic() + TIMEOUT
        while not enough(self):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {what} within {TIMEOUT} s from {self!r}"
            if not self._open:
                status = self.process.wait(TIMEOUT)
                pytest.fail(f"the process ended ({status}) before {what}: {self!r}")
            self._read(remaining)

    def errLine(self, pattern: str, what: str) -> re.Match[str]:
        """Wait for a stderr line matching *pattern*; return its match."""
        found: list[re.Match[str]] = []

        def matched(running: Running) -> bool:
            found[:] = [m for line in running.err if (m := re.search(pattern, line))]
            return bool(found)

        self.until(matched, what)
        return found[0]

    def finish(self) -> int:
        """Read everything until the process ends; return its exit status."""
        deadline = time.monotonic() + TIMEOUT
        while self._open:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"not ended within {TIMEOUT} s: {self!r}"
            self._read(remaining)
        return self.process.wait(TIMEOUT)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        return self.finish()

    def closeStdout(self) -> None:
        """Stop reading stdout, as ``| head -1`` does after its line."""
        assert self.process.stdout is not None
        self._open.discard(self.process.stdout.fileno())
        self.process.stdout.close()

    def _read(self, timeout: float) -> None:
        readable, _, _ = select.select(list(self._open), [], [], timeout)
        for fd in readable:
            lines, pending = self._streams[fd]
            chunk = os.read(fd, 65536)
            if not chunk:
                self._open.discard(fd)
                if pending:
                    lines.append(pending.decode("utf-8"))
                continue
            pending += chunk
            *complete, rest = pending.split(b"\n")
            lines.extend(line.decode("utf-8") for line in complete)
            pending[:] = rest


@contextmanager
def running(*args: str, stdin: int | None = subprocess.DEVNULL) -> Iterator[Running]:
    """Start txzpub; whatever happens, it is not left running."""
    process = Running(*args, stdin=stdin)
    try:
        yield process
    finally:
        if process.process.poll() is None:
            process.process.kill()
        process.process.wait()
        for stream in (process.process.stdin, process.process.stdout, process.process.stderr):
            if stream is not None:
                with suppress(OSError):
                    stream.close()


def run(*args: str) -> Running:
    """Run txzpub to its end."""
    with running(*args) as process:
        process.finish()
        return process


def assertClean(process: Running, status: int = 0) -> None:
    """It exited with *status*, no traceback and no warning."""
    assert process.process.returncode == status, process
    assert "Traceback" not in process.stderr, process
    assert "Warning" not in process.stderr, process


# -- pub | proxy | sub ---------------------------------------------------------------

PROXY_READY = r"publishers connect to (\S+) \(XSUB\), subscribers to (\S+) \(XPUB\)"
SUBSCRIBED = r"subscribed to .* on (\S+) \((bind|connect)\)"
PUBLISHER_ON = r" on (\S+) \((bind|connect)\)"

NEWS = [f"headline {n}: café ☕ and more" for n in range(1, 21)]
WEATHER = [b"sunny", b"\xff\xfe not UTF-8", b"rain"]


def test_pub_proxy_sub_delivers_in_order_with_topic_filtering() -> None:
    with running("proxy", "--xsub", ANY_PORT, "--xpub", ANY_PORT, "--stats", "0.2") as proxy:
        xsub, xpub = proxy.errLine(PROXY_READY, "the proxy's addresses").groups()
        with (
            running("sub", xpub, "-t", "news", "--count", str(len(NEWS))) as news,
            running("sub", xpub, "--json", "--count", str(len(NEWS) + 3)) as everything,
        ):
            weather = run("pub", xsub, "--connect", "-t", "weather", "--wait-subscribers", "1",
                          *[f"--message={m.decode('utf-8', 'surrogateescape')}" for m in WEATHER])  # fmt: skip
            with running(
                "pub", xsub, "--connect", "-t", "news.world", "--wait-subscribers", "2",
                stdin=subprocess.PIPE,
            ) as publisher:  # fmt: skip
                publisher.errLine("waiting for 2 subscriber", "the news publisher")
                publisher.write("".join(f"{line}\n" for line in NEWS).encode(), close=True)
                assert publisher.finish() == 0, publisher

            for each in (news, everything):
                assert each.finish() == 0, each
            proxy.errLine(rf"{len(NEWS) + 3} message\(s\) forwarded", "the proxy's counts")
        assert proxy.stop() == 0, proxy

    for each in (weather, publisher, news, everything, proxy):
        assertClean(each)
    assert publisher.err[-1] == f"txzpub pub: published {len(NEWS)} message(s)"
    assert weather.err[-1] == "txzpub pub: published 3 message(s)"
    # The news subscriber saw the news, all of it, in order, and nothing else.
    assert news.out == [f"news.world {line}" for line in NEWS], news
    # The other got everything: each publisher's messages in order, as JSON.
    records = [json.loads(line) for line in everything.out]
    assert [r for r in records if r["tag"] == "news.world"] == [
        {"tag": "news.world", "body": line} for line in NEWS
    ]
    assert [r for r in records if r["tag"] == "weather"] == [
        {"tag": "weather", "body": "sunny"},
        {"tag": "weather", "body": None, "body_base64": "//4gbm90IFVURi04"},
        {"tag": "weather", "body": "rain"},
    ]
    assert proxy.err[-1].startswith(
        f"txzpub proxy: stopped; {len(NEWS) + 3} message(s) forwarded, "
    ), proxy


def test_pub_binds_sub_connects_multipart_rate_and_overlapping_topics() -> None:
    with running(
        "pub", ANY_PORT, "--multipart", "--rate", "500", "--wait-subscribers", "1",
        "-t", "abc", "-m", "one", "-m", "two\tcolumns", "-m", "three",
    ) as publisher:  # fmt: skip
        address = publisher.errLine(PUBLISHER_ON, "the publisher's address")[1]
        # Two prefixes of the topic: still each message once, and one subscriber.
        with running("sub", address, "-t", "a", "-t", "ab", "--count", "3") as sub:
            assert sub.finish() == 0, sub
        assert publisher.finish() == 0, publisher
    assertClean(sub)
    assertClean(publisher)
    assert sub.out == ["abc one", "abc two\\tcolumns", "abc three"]


def test_sub_binds_pub_connects_over_ipc(tmp_path: Path) -> None:
    with running("sub", f"ipc://{tmp_path}/s", "--bind", "--count", "1") as sub:
        address = sub.errLine(SUBSCRIBED, "the subscriber's address")[1]
        publisher = run("pub", address, "--connect", "--wait-subscribers", "1", "-m", "hello")
        assert sub.finish() == 0, sub
    assertClean(sub)
    assertClean(publisher)
    assert sub.out == [" hello"]  # the empty tag, a space, the body


def test_sub_timeout_with_nothing_received_exits_1() -> None:
    sub = run("sub", "tcp://127.0.0.1:9", "--timeout", "0.3")
    assertClean(sub, status=1)
    assert sub.out == []
    assert sub.err[-1] == "txzpub sub: timed out after 0.3 s with no message", sub


def test_sub_stops_quietly_when_its_reader_goes() -> None:
    """``txzpub sub ... | head -1``: the pipe closes, sub exits 0 without a traceback."""
    with running("pub", ANY_PORT, "--rate", "100", "--wait-subscribers", "1",
                 stdin=subprocess.PIPE) as publisher:  # fmt: skip
        address = publisher.errLine(PUBLISHER_ON, "the publisher's address")[1]
        with running("sub", address) as sub:
            publisher.write(b"tick\n" * 3000, close=True)  # 30 s at 100 a second
            sub.until(lambda s: s.out, "a first message")
            sub.closeStdout()
            assert sub.finish() == 0, sub
        assertClean(sub)
        assert publisher.stop() == 0, publisher


# -- pub: messages that nobody subscribed to ---------------------------------------------

UNHEARD = (
    "txzpub pub: warning: {n} of the {sent} message(s) had no subscriber when published, "
    "and ZeroMQ drops those; --wait-subscribers N waits for N subscribers of 'news' first"
)


@pytest.mark.parametrize("framing", [(), ("--multipart",)], ids=["one frame", "multipart"])
@pytest.mark.parametrize("source", ["stdin", "arguments"])
def test_pub_without_subscribers_warns_and_exits_0(source: str, framing: tuple[str, ...]) -> None:
    """``printf 'a\\nb\\nc\\n' | txzpub pub ADDR -t news`` with nobody listening."""
    if source == "arguments":
        publisher = run("pub", ANY_PORT, "-t", "news", *framing, "-m", "a", "-m", "b", "-m", "c")
    else:
        with running("pub", ANY_PORT, "-t", "news", *framing, stdin=subprocess.PIPE) as publisher:
            publisher.errLine("publishing 'news' on", "the publisher's readiness")
            publisher.write(b"a\nb\nc\n", close=True)
            publisher.finish()
    assertClean(publisher)
    assert publisher.err[-2:] == [
        "txzpub pub: published 3 message(s)",
        UNHEARD.format(n=3, sent=3),
    ], publisher


@pytest.mark.parametrize("framing", [(), ("--multipart",)], ids=["one frame", "multipart"])
def test_pub_waiting_for_its_subscriber_does_not_warn(framing: tuple[str, ...]) -> None:
    with running(
        "pub", ANY_PORT, "-t", "news", *framing, "--wait-subscribers", "1", "-m", "a", "-m", "b",
    ) as publisher:  # fmt: skip
        address = publisher.errLine(PUBLISHER_ON, "the publisher's address")[1]
        with running("sub", address, "-t", "news", "--count", "2") as sub:
            assert sub.finish() == 0, sub
        assert publisher.finish() == 0, publisher
    assertClean(sub)
    assertClean(publisher)
    assert sub.out == ["news a", "news b"]
    assert publisher.err[-1] == "txzpub pub: published 2 message(s)", publisher
    assert "no subscriber" not in publisher.stderr, publisher


# -- signals --------------------------------------------------------------------------

READY = {
    "sub": (("sub", "tcp://127.0.0.1:9", "-t", "x"), SUBSCRIBED),
    "pub": (("pub", ANY_PORT, "-t", "x"), r"publishing 'x' on"),
    "pub --wait-subscribers": (("pub", ANY_PORT, "--wait-subscribers", "2"), "waiting for"),
    "proxy": (("proxy", "--xsub", ANY_PORT, "--xpub", ANY_PORT), PROXY_READY),
}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("command", list(READY))
def test_signal_ends_cleanly_with_status_0(command: str, signum: int) -> None:
    args, ready = READY[command]
    with running(*args, stdin=subprocess.PIPE) as process:  # pub reads stdin until stopped
        process.errLine(ready, "the readiness line")
        assert process.stop(signum) == 0, process
    assertClean(process)


# -- bad input: one line on stderr, status 2 ---------------------------------------------

BAD = {
    "malformed endpoint": (("sub", "localhost:5555"), "malformed endpoint 'localhost:5555'"),
    "no port": (("pub", "tcp://127.0.0.1"), "tcp:// needs HOST:PORT"),
    "port out of range": (("sub", "tcp://127.0.0.1:70000"), "the port must be 1 to 65535"),
    "unknown transport": (("pub", "udpx://127.0.0.1:5"), "unknown transport 'udpx://'"),
    "inproc": (("sub", "inproc://name"), "inproc:// reaches only sockets in the same process"),
    "refused bind": (("pub", "tcp://192.0.2.1:5555"), "cannot bind to 'tcp://192.0.2.1:5555'"),
    "missing endpoint": (("sub",), "the following arguments are required: ENDPOINT"),
    "missing --xpub": (("proxy", "--xsub", ANY_PORT), "required: --xpub"),
    "bad proxy endpoint": (("proxy", "--xsub", "x", "--xpub", ANY_PORT), "malformed endpoint"),
    "bad count": (("sub", "tcp://127.0.0.1:9", "--count", "0"), "--count: must be a whole"),
    "bad rate": (("pub", ANY_PORT, "--rate", "fast"), "--rate: must be a number > 0"),
    "unknown bench transport": (("bench", "--transport", "udp"), "invalid choice: 'udp'"),
    "no command": ((), "the following arguments are required: COMMAND"),
    "unknown command": (("serve",), "invalid choice: 'serve'"),
    "prefix against flag": (("sub", "@tcp://127.0.0.1:5", "--connect"), "says bind but"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_status_2(case: str) -> None:
    args, message = BAD[case]
    process = run(*args)
    assertClean(process, status=2)
    assert process.out == []
    assert len(process.err) == 1, process
    prog = f"txzpub {args[0]}" if args and args[0] in COMMANDS else "txzpub"
    assert process.err[0].startswith(f"{prog}: error: "), process
    assert message in process.err[0], process


@pytest.mark.parametrize("command", ["sub", "pub", "proxy"])
def test_address_in_use_is_one_line_and_status_2(command: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        address = f"tcp://127.0.0.1:{holder.getsockname()[1]}"
        args = {
            "sub": ("sub", address, "--bind"),
            "pub": ("pub", address),
            "proxy": ("proxy", "--xsub", ANY_PORT, "--xpub", address),
        }[command]
        process = run(*args)
    assertClean(process, status=2)
    assert len(process.err) == 1, process
    assert f"cannot bind to '{address}'" in process.err[0], process
    assert "Address already in use" in process.err[0], process


# -- demo ----------------------------------------------------------------------------

DEMO_LINE = re.compile(
    r"^\s*\d+\.\d\ds  (?P<who>news reader|weather reader|stocks printer) "
    r"\((?P<how>next\(\)|async for|gotMessage)\)\s+got (?P<tag>\S+)\s+\S"
)
DEMO_SUBSCRIBERS = {
    # who: (how it reads, the prefix of its topics, messages per round)
    "news reader": ("next()", "news.", 1),
    "weather reader": ("async for", "weather.", 1),
    "stocks printer": ("gotMessage", "stocks.", 2),
}


@pytest.mark.parametrize(("args", "rounds"), [((), 6), (("--seconds", "1"), 2)])
def test_demo(args: tuple[str, ...], rounds: int) -> None:
    process = run("demo", *args)
    assertClean(process)
    assert process.stderr == "", process
    lines = process.out

    assert lines[0].startswith("Publishing news, weather and stocks on tcp://127.0.0.1:")
    received: dict[str, list[str]] = {who: [] for who in DEMO_SUBSCRIBERS}
    for line in lines:
        match = DEMO_LINE.match(line)
        if match:
            how, prefix, _ = DEMO_SUBSCRIBERS[match["who"]]
            assert match["how"] == how, line
            assert match["tag"].startswith(prefix), f"a subscriber got another's topic: {line}"
            received[match["who"]].append(match["tag"])
    for who, (_, _, perRound) in DEMO_SUBSCRIBERS.items():
        expected = rounds * perRound
        assert len(received[who]) == expected, (who, lines)
        assert any(
            line.strip().startswith(f"{who} ") and f"received {expected:2} of {expected:2}" in line
            for line in lines
        ), lines
    assert f"Summary: {rounds} rounds published." in lines
    assert (
        lines[-1] == "Each subscriber received all of its own topics' messages, and nothing else."
    )


# -- bench ---------------------------------------------------------------------------

BENCH_ROW = re.compile(
    r"^(?P<transport>inproc|ipc|tcp)\s+2,000\s+64 B\s+(?P<rate>[\d,]+)\s+(?P<mb>[\d.]+)"
    r"\s+(?P<p50>[\d.]+)\s+(?P<p99>[\d.]+)$"
)


@pytest.mark.parametrize("transport", ["inproc", "ipc", "tcp"])
def test_bench_prints_its_table(transport: str) -> None:
    process = run("bench", "--messages", "2000", "--size", "64", "--transport", transport)
    assertClean(process)
    header, row = process.out[-2:]
    assert header.split() == ["transport", "messages", "size", "msgs/s", "MB/s", "p50", "µs", "p99", "µs"]  # fmt: skip
    match = BENCH_ROW.match(row)
    assert match, process
    assert match["transport"] == transport
    assert int(match["rate"].replace(",", "")) > 0
    assert 0 < float(match["p50"]) <= float(match["p99"])
    assert "publisher and subscriber in one process" in process.out[0]
    # Not a terminal: progress is a line per phase on stderr, not a rewritten line.
    assert process.err == [
        "txzpub bench: throughput: 2,000 messages of 64 B",
        "txzpub bench: latency: 2,000 messages one at a time",
    ], process


# -- the entry points --------------------------------------------------------------------


def test_console_script_and_version() -> None:
    script = Path(sys.executable).with_name("txzpub")
    if not script.exists():
        pytest.skip("txzpub is not installed as a console script here")
    result = subprocess.run(  # noqa: S603 - our own console script
        [str(script), "--version"], capture_output=True, timeout=TIMEOUT, check=False
    )
    assert result.returncode == 0
    assert result.stdout.decode().startswith("txzpub ")


# -- in process: the pieces the lines are made of --------------------------------------


@pytest.mark.parametrize(
    ("tag", "body", "line"),
    [
        (b"news", b"Hello, world", "news Hello, world"),
        (b"", b"no tag", " no tag"),
        (b"caf\xc3\xa9", "naïve ☕".encode(), "café naïve ☕"),
        (b"two words", b"x", "two\\x20words x"),
        (b"t", b"line\nbreak\tand \\ backslash", "t line\\nbreak\\tand \\\\ backslash"),
        (b"t", b"\xff\x00raw", "t \\xff\\x00raw"),
        (b"\xfftag", b"back\\slash", "\\xfftag back\\slash"),
        (b"t", "zero\u200bwidth".encode(), "t zero\\u200bwidth"),
    ],
)
def test_text_lines(tag: bytes, body: bytes, line: str) -> None:
    assert renderText(tag, body) == line
    assert "\n" not in line


def test_json_lines() -> None:
    assert json.loads(renderJson(b"news", "café\n".encode())) == {"tag": "news", "body": "café\n"}
    assert json.loads(renderJson(b"\xff", b"\x00\xff")) == {
        "tag": None,
        "tag_base64": "/w==",
        "body": None,
        "body_base64": "AP8=",
    }


def test_escape_leaves_printable_text_alone() -> None:
    assert escape("Ünïcödé text".encode()) == "Ünïcödé text"
    assert escape(b"a b", isTag=True) == "a\\x20b"


@pytest.mark.parametrize(
    ("text", "default", "flag", "expected"),
    [
        ("tcp://127.0.0.1:5555", "connect", None, ("connect", "tcp://127.0.0.1:5555")),
        ("tcp://*:5555", "bind", None, ("bind", "tcp://*:5555")),
        ("tcp://127.0.0.1:*", "bind", None, ("bind", "tcp://127.0.0.1:*")),
        ("@tcp://127.0.0.1:5555", "connect", None, ("bind", "tcp://127.0.0.1:5555")),
        (">ipc:///tmp/x", "bind", None, ("connect", "ipc:///tmp/x")),
        ("ipc:///tmp/x", "bind", "connect", ("connect", "ipc:///tmp/x")),
        ("tcp://[::1]:5555", "connect", None, ("connect", "tcp://[::1]:5555")),
    ],
)
def test_endpoints(text: str, default: str, flag: str | None, expected: tuple[str, str]) -> None:
    assert tuple(endpointFrom(text, default, flag=flag)) == expected


@pytest.mark.parametrize(
    "text", ["tcp://127.0.0.1:*", "tcp://127.0.0.1:0", "tcp://host", "x", "tcp://", "foo://a"]
)
def test_bad_connect_endpoints(text: str) -> None:
    with pytest.raises(UsageError):
        endpointFrom(text, "connect")


class StubPublisher:
    """What pub's Pacer uses of a ZmqPubConnection: subscriptions, framing, publish()."""

    topicSep = b"\0"

    def __init__(self, subscriptions: dict[bytes, int], *, multipart: bool = False) -> None:
        self.subscriptions = subscriptions
        self.multipartFraming = multipart
        self.published: list[tuple[bytes, bytes]] = []
        #: Called after each publish(), as a subscription arriving meanwhile would be.
        self.afterPublish: Callable[[], object] = lambda: None

    def publish(self, message: bytes, tag: bytes) -> None:
        self.published.append((tag, message))
        self.afterPublish()


def naiveHasSubscriber(
    subscriptions: dict[bytes, int], tag: bytes, body: bytes, *, multipart: bool
) -> bool:
    frame = tag if multipart else tag + b"\0" + body
    return any(frame.startswith(prefix) for prefix in subscriptions)


SMALL = st.binary(max_size=4).map(lambda b: bytes(c % 3 for c in b))  # few bytes: many matches


@given(
    subscriptions=st.dictionaries(SMALL | SMALL.map(lambda b: b"ab\0" + b), st.integers(1, 3)),
    tag=st.sampled_from([b"", b"a", b"ab", b"abc"]),
    body=SMALL,
    multipart=st.booleans(),
)
def test_subscriber_check_is_the_naive_prefix_match(
    subscriptions: dict[bytes, int], tag: bytes, body: bytes, multipart: bool
) -> None:
    publisher: Any = StubPublisher(subscriptions, multipart=multipart)
    assert subscriberCheck(publisher, tag)(body) == naiveHasSubscriber(
        subscriptions, tag, body, multipart=multipart
    )


def publishAll(publisher: Any, tag: bytes, bodies: list[str]) -> Pacer:
    pacer = Pacer(Clock(), None)
    outcome: list[object] = []
    ensureDeferred(pacer.publishAll(publisher, tag, fromArguments(bodies))).addBoth(outcome.append)
    assert outcome == [None]
    return pacer


@pytest.mark.parametrize(
    ("subscriptions", "multipart", "unheard"),
    [
        ({}, False, 4),
        ({b"": 1}, False, 0),
        ({b"ne": 2}, False, 0),
        ({b"news\0x": 1}, False, 2),  # reaches into the body: x1 and x2 match
        ({b"news\0x": 1}, True, 4),  # the first frame is the tag alone
        ({b"newsroom": 1, b"weather": 1}, False, 4),
    ],
)
def test_pacer_counts_the_messages_without_subscriber(
    subscriptions: dict[bytes, int], multipart: bool, unheard: int
) -> None:
    publisher = StubPublisher(subscriptions, multipart=multipart)
    pacer = publishAll(publisher, b"news", ["x1", "y1", "x2", "y2"])
    assert (pacer.sent, pacer.unheard) == (4, unheard)
    assert len(publisher.published) == 4


def test_pacer_sees_a_subscription_arrive_between_messages() -> None:
    subscriptions: dict[bytes, int] = {}
    publisher = StubPublisher(subscriptions)
    publisher.afterPublish = lambda: subscriptions.setdefault(b"news", 1)
    pacer = publishAll(publisher, b"news", ["first", "second", "third"])
    assert (pacer.sent, pacer.unheard) == (3, 1)
