"""
Every example runs as a user runs it: ``python examples/...`` in a subprocess.

Each run is bounded by a timeout and uses free ports (the examples in one
process bind port 0; the legacy ones take $TXZPUB_EXAMPLE_ENDPOINT). The checks
are exit status 0, no traceback, and the lines that show the example worked.

Nothing here sleeps to synchronise: the legacy subscribers run next to the
legacy publisher until their output shows the stock prices arrived, and are
then stopped with SIGTERM, which Twisted turns into a clean reactor.stop()
(exit status 0). The examples that stop on a timer get seconds of slack for
events that take milliseconds.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LEGACY = EXAMPLES / "legacy"

#: Seconds any one example may take; they need a few.
TIMEOUT = 30.0

TESTED = {
    "next_subscriber.py",
    "async_for_subscriber.py",
    "smart_subscriber.py",
    "json_data.py",
    "slow_joiner.py",
    "last_value.py",
    "secure.py",
    "pipeline.py",
    "request_reply.py",
    "router_dealer.py",
    "reliable_feed.py",
    "legacy/publisher.py",
    "legacy/topic_subscribers.py",
    "legacy/smart_subscriber.py",
    "legacy/data_pubsub.py",
    "legacy/push_pull_req_rep.py",
}


def freeEndpoint() -> str:
    """A TCP endpoint on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


def exampleEnvironment(endpoint: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # The warning flags are the command line's (see command()), not the caller's.
    env.pop("PYTHONWARNINGS", None)
    env.pop("PYTHONDEVMODE", None)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env["TXZPUB_EXAMPLE_ENDPOINT"] = endpoint or freeEndpoint()
    return env


def command(script: str, *args: str, strict: bool) -> list[str]:
    """
    The command line running *script*.

    *strict* shows every warning (``-W default``, and ``-b`` for bytes/str
    mix-ups) so that the test can require an empty stderr. The legacy examples
    are the reference's code, which leaves its factory to process exit and
    (on Python >= 3.12) calls the deprecated datetime.utcnow(), so they run
    with Python's default warning filters and are held to "no traceback".
    """
    flags = ["-W", "default", "-b"] if strict else []
    return [sys.executable, *flags, str(EXAMPLES / script), *args]


def run(script: str, *args: str, strict: bool = True) -> list[str]:
    """Run *script* to its end; check its exit status and stderr; return its output lines."""
    result = subprocess.run(  # noqa: S603 - our own examples, run by our own interpreter
        command(script, *args, strict=strict),
        env=exampleEnvironment(),
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    stdout = result.stdout.decode("utf-8")
    stderr = result.stderr.decode("utf-8")
    checkEnded(script, result.returncode, stdout, stderr, strict=strict)
    return stdout.splitlines()


def checkEnded(script: str, returncode: int, stdout: str, stderr: str, *, strict: bool) -> None:
    report = f"{script} exited with {returncode}\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}"
    assert returncode == 0, report
    assert "Traceback" not in stderr, report
    if strict:
        assert stderr == "", report


@contextmanager
def started(
    script: str, *args: str, endpoint: str, logs: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Start *script* in the background; whatever happens, it is not left running."""
    name = script.replace("/", "-")
    with (logs / f"{name}.err").open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 - our own examples, run by our own interpreter
            command(script, *args, strict=False),
            env=exampleEnvironment(endpoint),
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()


def stopped(process: subprocess.Popen[bytes], script: str, logs: Path) -> bytes:
    """Stop *process* as a service manager would (SIGTERM); check it ended cleanly."""
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=TIMEOUT)
    stderr = (logs / f"{script.replace('/', '-')}.err").read_text("utf-8")
    checkEnded(script, process.returncode, (rest or b"").decode("utf-8"), stderr, strict=False)
    return rest or b""


class LineReader:
    """Reads a running process's output lines as they come, with a deadline."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self.process = process
        self.fd = process.stdout.fileno()
        self.lines: list[str] = []
        self.pending = b""  # the start of a line whose end has not arrived yet

    def until(self, enough: Callable[[list[str]], bool], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not enough(self.lines):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {what} within {TIMEOUT} s; output: {self.lines}"
            readable, _, _ = select.select([self.fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                status = self.process.wait(TIMEOUT)
                pytest.fail(f"the process exited ({status}) before {what}; output: {self.lines}")
            self.add(chunk)

    def add(self, data: bytes) -> None:
        *complete, self.pending = (self.pending + data).split(b"\n")
        self.lines.extend(line.decode("utf-8") for line in complete)

    def finish(self, rest: bytes) -> None:
        """Add the output read after the process ended, *rest*."""
        self.add(rest)
        if self.pending:
            self.lines.append(self.pending.decode("utf-8"))
            self.pending = b""


def test_every_example_is_tested() -> None:
    found = {path.relative_to(EXAMPLES).as_posix() for path in EXAMPLES.rglob("*.py")}
    assert found == TESTED


# -- the new-style examples ------------------------------------------------------


def test_next_subscriber() -> None:
    lines = run("next_subscriber.py")

    assert [line.split(" [")[0].strip() for line in lines] == ["news", "weather"] * 3, lines
    assert all(
        line.startswith(("news    [news.world]: ", "weather [weather.today]: ")) for line in lines
    ), lines


def test_async_for_subscriber() -> None:
    lines = run("async_for_subscriber.py", "4")

    assert len(lines) == 4, lines
    quote = re.compile(r"^stocks\.(AAPL|GOOGL): \1 \$\d+\.\d\d \(volume \d+\)$")
    assert all(quote.match(line) for line in lines), lines


def test_smart_subscriber() -> None:
    lines = run("smart_subscriber.py", "1")

    handled = {
        "🚨 BREAKING [news.breaking.markets]: Markets rally",
        "⚽ Sports [news.sports.football]: Team wins championship",
        "📰 News [news.local]: Town hall meeting moved to Friday",
        "🌤 Weather [weather.local]: Sunny, 25C",
    }
    # Each message once, by its most specific handler (news.breaking.* never reaches the
    # b"news" handler), and stocks.AAPL, which nobody subscribed to, never arrives.
    assert set(lines) == handled, lines


def test_json_data() -> None:
    lines = run("json_data.py")

    timestamp = r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00\] "
    assert re.fullmatch(
        timestamp + r"weather\.NYC: \{'temperature': 25\.5, 'humidity': 60\}", lines[0]
    )
    assert re.fullmatch(
        timestamp + r"weather\.LON: \{'temperature': 14\.0, 'humidity': 81\}", lines[1]
    )
    assert lines[2:] == [
        "stocks.AAPL: {'symbol': 'AAPL', 'price': 150.25, 'volume': 1000}",
        "stocks.GOOGL: {'symbol': 'GOOGL', 'price': 2800.5, 'volume': 500}",
        r"stocks.raw: raw b'\x00\x01 not JSON'",
    ]


def test_slow_joiner() -> None:
    lines = run("slow_joiner.py", "3")

    assert lines == [
        "3 subscriber(s) ready: {b'news': 3}",
        "subscriber 1 got [news.first]: the very first message",
        "subscriber 2 got [news.first]: the very first message",
        "subscriber 3 got [news.first]: the very first message",
    ], lines


def test_last_value() -> None:
    lines = run("last_value.py")

    assert lines == [
        "published 3 prices and the weather before anybody listened",
        "late subscriber: prices.AAPL is 151.00",
        "late subscriber: prices.GOOGL is 2800.50",
    ], lines


def test_secure() -> None:
    """Held to strict warnings; its stderr is the refusal, logged at warn level."""
    result = subprocess.run(  # noqa: S603 - our own example, run by our own interpreter
        command("secure.py", strict=True),
        env=exampleEnvironment(),
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    stdout, stderr = result.stdout.decode(), result.stderr.decode()
    checkEnded("secure.py", result.returncode, stdout, stderr, strict=False)
    assert "refused the client at 127.0.0.1" in stderr
    assert all("#warn]" in line for line in stderr.splitlines()), stderr
    lines = stdout.splitlines()
    assert lines == [
        "mallory was refused: her subscription never reaches the publisher",
        "alice received: meet at noon",
        "subscriptions at the publisher: {b'plans': 1}",
    ], lines


def test_pipeline() -> None:
    lines = run("pipeline.py", "30", "3")

    assert lines[:3] == [
        "ventilator: pushed 30 tasks to 3 workers",
        "sink: 30 results, sum of squares 9455",
        "sink: every task done exactly once: True",
    ], lines
    # Which worker got how many depends on when each connected; together they did all 30.
    perWorker = [re.fullmatch(r"worker-([123]): (\d+) tasks", line) for line in lines[3:]]
    assert all(perWorker), lines
    assert sum(int(match[2]) for match in perWorker if match) == 30, lines


def test_request_reply() -> None:
    lines = run("request_reply.py")

    # Sent at once, answered fastest first; the slow one times out.
    assert lines == [
        "requests, all sent at once: AAPL, GOOGL, MSFT, SLOW",
        "GOOGL: ok 2800.50",
        "MSFT: ok 415.10",
        "AAPL: ok 150.25",
        "SLOW: no reply within 2 s (ZmqRequestTimeoutError)",
        "volume AAPL: error unknown command volume",
        "service stopped",
    ], lines


def test_router_dealer() -> None:
    """Held to strict warnings; its stderr is the message to an unknown peer, logged at warn."""
    result = subprocess.run(  # noqa: S603 - our own example, run by our own interpreter
        command("router_dealer.py", "24", strict=True),
        env=exampleEnvironment(),
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    stdout, stderr = result.stdout.decode(), result.stderr.decode()
    checkEnded("router_dealer.py", result.returncode, stdout, stderr, strict=False)
    assert "No peer with routing id b'worker-gone' is connected" in stderr, stderr
    assert all("#warn]" in line for line in stderr.splitlines()), stderr
    lines = stdout.splitlines()
    assert lines[0] == "broker: 24 results, for example 'JOB NUMBER 1'", lines
    assert lines[-1] == "workers stopped", lines
    counts = [re.fullmatch(r"worker-(fast|medium|slow): (\d+) jobs", line) for line in lines[1:-1]]
    assert len(counts) == 3, lines
    assert all(counts), lines
    assert sum(int(match[2]) for match in counts if match) == 24, lines


def test_reliable_feed() -> None:
    lines = run("reliable_feed.py", "3000")

    assert lines[0] == "published 3000 prices in one burst", lines
    # Past the high-water marks the burst's end was dropped: the subscriber with replay
    # saw one gap and got all of it back, in order; the one without counted it as lost.
    gap = re.fullmatch(r"event: gap, (\d+) of prices\.AAPL \((\d+) to 3000\)", lines[1])
    assert gap, lines
    missing = int(gap[1])
    assert missing > 0, lines
    assert int(gap[2]) == 3001 - missing, lines
    assert lines[2:] == [
        f"event: recovered, {missing} of prices.AAPL",
        f"with replay: 3000 received in order, {missing} recovered, 0 lost",
        lines[4],
        f"the publisher sent {missing} message(s) again",
    ], lines
    unrecovered = re.fullmatch(r"without replay: (\d+) lost \(counted, not recovered\)", lines[4])
    assert unrecovered, lines
    assert int(unrecovered[1]) > 0, lines


def test_reliable_feed_beyond_the_replay_buffer() -> None:
    """More than the replay buffer holds (10,000): the rest is lost, and counted."""
    lines = run("reliable_feed.py", "15000")

    gap = re.fullmatch(r"event: gap, (\d+) of prices\.AAPL \((\d+) to 15000\)", lines[1])
    assert gap, lines
    missing, first = int(gap[1]), int(gap[2])
    lost = missing - 10_000
    assert lines[2:5] == [
        "event: recovered, 10000 of prices.AAPL",
        f"event: lost, {lost} of prices.AAPL ({first} to 5000)",
        f"with replay: {15000 - lost} received in order, 10000 recovered, {lost} lost",
    ], lines


# -- the legacy examples (the txZMQ reference's code) ----------------------------

STOCK_LINES = [
    "Stock AAPL: $150.25 (Volume: 1000)",
    "Stock GOOGL: $2800.5 (Volume: 500)",
    'Multi [stocks.AAPL]: {"symbol":"AAPL","price":150.25,"volume":1000}',
    'Multi [stocks.GOOGL]: {"symbol":"GOOGL","price":2800.50,"volume":500}',
]


def test_legacy_topic_subscribers_receive_from_legacy_publisher(tmp_path: Path) -> None:
    endpoint = freeEndpoint()
    # Both would stop by themselves after 60 s; the test stops them once it has seen enough.
    with (
        started("legacy/publisher.py", "60", endpoint=endpoint, logs=tmp_path) as publisher,
        started("legacy/topic_subscribers.py", "60", endpoint=endpoint, logs=tmp_path) as subs,
    ):
        output = LineReader(subs)
        output.until(
            lambda lines: all(line in lines for line in STOCK_LINES),
            "stock prices from the legacy publisher",
        )
        output.finish(stopped(subs, "legacy/topic_subscribers.py", tmp_path))
        assert publisher.poll() is None, "the legacy publisher stopped early"
        stopped(publisher, "legacy/publisher.py", tmp_path)

    # Every line is one of the reference's subscribers' prints, for a topic it subscribed to.
    for line in output.lines:
        assert line.startswith(("Stock ", "Multi [", "News [news]", "Weather Update: ")), line


@pytest.mark.parametrize("script", ["legacy/publisher.py", "legacy/topic_subscribers.py"])
def test_legacy_publisher_and_subscribers_stop_by_themselves(script: str) -> None:
    run(script, "0.5", strict=False)


def test_legacy_smart_subscriber() -> None:
    lines = run("legacy/smart_subscriber.py", "2", strict=False)

    handled = {
        "🚨 BREAKING: Market update",
        "⚽ Sports: Team wins championship",
        "🌤 Weather: Sunny, 25C",
    }
    assert set(lines) == handled, lines


def test_legacy_data_pubsub() -> None:
    lines = run("legacy/data_pubsub.py", "2", strict=False)

    weather = re.compile(
        r"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\] weather\.NYC: "
        r"\{'temperature': 25\.5, 'humidity': 60, 'location': 'NYC'\}$"
    )
    stocks = "stocks.AAPL: {'symbol': 'AAPL', 'price': 150.25, 'volume': 1000}"
    assert any(weather.match(line) for line in lines), lines
    assert stocks in lines, lines
    assert all(weather.match(line) or line == stocks for line in lines), lines


def test_legacy_push_pull_req_rep() -> None:
    """txZMQ-style code that shuts its factory down: held to strict warnings too."""
    lines = run("legacy/push_pull_req_rep.py")

    assert sorted(lines) == sorted(
        [f"pulled [b'task', b'{n}']" for n in (1, 2, 3)]
        + [f"reply [b'echo', b'hello', b'{n}']" for n in (1, 2, 3)]
    ), lines


# -- the twistd application ------------------------------------------------------


def test_service_tac_runs_under_twistd(tmp_path: Path) -> None:
    """``twistd -ny examples/service.tac``: news flows, and SIGTERM stops it cleanly."""
    twistd = "from twisted.scripts.twistd import run; run()"
    process = subprocess.Popen(  # noqa: S603 - our own example, run by our own interpreter
        [sys.executable, "-c", twistd, "--pidfile=", "-ny", str(EXAMPLES / "service.tac")],
        env=exampleEnvironment(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        output = LineReader(process)
        output.until(
            lambda lines: sum("received news: item" in line for line in lines) >= 2,
            "two news items through the subscriber service",
        )
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=TIMEOUT)
        output.finish(rest)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
    report = "\n".join(output.lines)
    # After a clean shutdown, twistd re-raises the signal that stopped it.
    assert process.returncode in (0, -signal.SIGTERM), report
    assert "Traceback" not in report, report
    assert any("subscriber stopped" in line for line in output.lines), report
    assert any("Server Shut Down." in line for line in output.lines), report
