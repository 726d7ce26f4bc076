"""
Sequenced streams at the command line: ``txzpub pub --sequenced [--replay ADDR]``,
``txzpub sub --replay ADDR --stats``, and a sequenced stream through ``txzpub proxy``
while the proxy is killed and restarted.

Run as test_cli runs the command line (its helpers: subprocesses whose lines are
read as they come, each wait under a deadline). Replay sockets need a port known
in advance (``pub --replay`` refuses port ``*``), so their ports, and the proxy's
(it is restarted on the same ones), are free ports picked for the test.

The proxy tests publish from this process, so that what is published while the
proxy is down is known exactly; their waits for the subprocesses' lines run in a
thread (``inThread``) while the reactor answers replay requests.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, TypeVar

import pytest
import pytest_twisted
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from txzpub import ZmqFactory, ZmqPubConnection
from txzpub._cli import parseArguments
from txzpub._cli._pub import subscriberCheck
from txzpub._cli._render import renderJson
from txzpub._cli._sub import distinctPrefixes

from .helpers import bind, bounded, connect, repeatUntil
from .test_cli import (
    ANY_PORT,
    PROXY_READY,
    SUBSCRIBED,
    TIMEOUT,
    Running,
    assertClean,
    run,
    running,
)

T = TypeVar("T")

SEQUENCED = r"sequenced as publisher ([0-9a-f]{32}), (without replay|replay on (\S+) \(bind\))"
WAITING = r"on (\S+) \((bind|connect)\), waiting for"
STATS_LINE = re.compile(
    r"^txzpub sub: stats: received=(\d+) lost=(\d+) recovered=(\d+) duplicates=(\d+) "
    r"dropped=(\d+)$"
)
STATS = ("received", "lost", "recovered", "duplicates", "dropped")


def freeAddress() -> str:
    """A tcp address on 127.0.0.1 whose port nothing holds now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def textStats(process: Running) -> dict[str, int]:
    """The counts of ``sub --stats``: its last stderr line."""
    match = STATS_LINE.match(process.err[-1])
    assert match, process
    return dict(zip(STATS, map(int, match.groups()), strict=True))


def jsonStats(process: Running) -> dict[str, int]:
    """The counts of ``sub --stats --json``: its last stderr line, one JSON object."""
    record = json.loads(process.err[-1])
    assert list(record) == ["stats"], process
    assert list(record["stats"]) == list(STATS), process
    counts: dict[str, int] = record["stats"]
    return counts


def lastSequence(process: Running) -> int:
    """The sequence number of the last line ``sub --json`` printed (0 before any)."""
    return int(json.loads(process.out[-1])["sequence"]) if process.out else 0


def inThread(call: Callable[..., T], *args: Any, what: str) -> Deferred[T]:
    """Run a blocking wait on a subprocess in a thread, so the reactor keeps running."""
    return bounded(deferToThread(call, *args), what, TIMEOUT + 5)


# -- pub --sequenced --replay to sub --replay --------------------------------------------


def test_sequenced_pub_to_sub_with_replay_json_and_stats() -> None:
    replay = freeAddress()
    lines = [f"reading {n}" for n in range(1, 301)]
    with running("pub", ANY_PORT, "--sequenced", "--replay", replay, "--replay-depth", "500",
                 "-t", "sensors", "--wait-subscribers", "1", stdin=subprocess.PIPE) as publisher:  # fmt: skip
        identity, _, replayShown = publisher.errLine(
            SEQUENCED, "the publisher's identity"
        ).groups()
        assert replayShown == replay
        address = publisher.errLine(WAITING, "the publisher's address")[1]
        with running("sub", address, "-t", "sensors", "--replay", replay, "--json", "--stats",
                     "--count", str(len(lines))) as sub:  # fmt: skip
            sub.errLine(SUBSCRIBED, "the subscriber's readiness")
            publisher.errLine("publishing 'sensors'", "the publisher publishing")
            publisher.write("".join(f"{line}\n" for line in lines).encode(), close=True)
            assert sub.finish() == 0, sub
        assert publisher.finish() == 0, publisher
    assertClean(sub)
    assertClean(publisher)

    # The identity is said once, first, in full.
    assert [line for line in publisher.err if "sequenced as publisher" in line] == [
        publisher.err[0]
    ], publisher
    assert publisher.err[-1] == f"txzpub pub: published {len(lines)} message(s)", publisher
    assert [json.loads(line) for line in sub.out] == [
        {"tag": "sensors", "body": line, "sequence": n, "publisher": identity}
        for n, line in enumerate(lines, 1)
    ]
    assert jsonStats(sub) == {
        "received": len(lines),
        "lost": 0,
        "recovered": 0,
        "duplicates": 0,
        "dropped": 0,
    }


def test_sequenced_pub_without_replay_to_sub_text_stats() -> None:
    """Text lines as ever; the stats line ends the output; overlapping topics print once."""
    with running("pub", ANY_PORT, "--sequenced", "--heartbeat", "0.2", "-t", "news.world",
                 "--wait-subscribers", "1", "-m", "one", "-m", "two", "-m", "three") as publisher:  # fmt: skip
        assert publisher.errLine(SEQUENCED, "the publisher's identity")[2] == "without replay"
        address = publisher.errLine(WAITING, "the publisher's address")[1]
        sub = run("sub", address, "-t", "news", "-t", "news.w", "--stats", "--count", "3")
        assert publisher.finish() == 0, publisher
    assertClean(sub)
    assertClean(publisher)
    assert sub.out == ["news.world one", "news.world two", "news.world three"]
    assert sub.err[-1] == "txzpub sub: stats: received=3 lost=0 recovered=0 duplicates=0 dropped=0"
    assert publisher.err[-1] == "txzpub pub: published 3 message(s)", publisher


def test_stats_after_sigterm_as_json() -> None:
    with running("sub", "tcp://127.0.0.1:9", "--stats", "--json") as sub:
        sub.errLine(SUBSCRIBED, "the subscriber's readiness")
        assert sub.stop(signal.SIGTERM) == 0, sub
    assertClean(sub)
    assert sub.err[-2] == "txzpub sub: interrupted after 0 message(s)", sub
    assert jsonStats(sub) == dict.fromkeys(STATS, 0)


def test_stats_after_timeout() -> None:
    sub = run("sub", "tcp://127.0.0.1:9", "--stats", "--timeout", "0.2")
    assertClean(sub, status=1)
    assert sub.err[-2] == "txzpub sub: timed out after 0.2 s with no message", sub
    assert textStats(sub) == dict.fromkeys(STATS, 0)


# -- mistakes: one line, status 2 ------------------------------------------------------

MISTAKES = {
    "replay without sequenced": (("pub", ANY_PORT, "--replay", "tcp://127.0.0.1:5599"),
                                 "--replay needs --sequenced"),
    "replay depth without replay": (("pub", ANY_PORT, "--sequenced", "--replay-depth", "10"),
                                    "--replay-depth needs --replay"),
    "heartbeat without sequenced": (("pub", ANY_PORT, "--heartbeat", "0.5"),
                                    "--heartbeat needs --sequenced"),
    "replay on any port": (("pub", ANY_PORT, "--sequenced", "--replay", ANY_PORT),
                           "--replay: 'tcp://127.0.0.1:*': give a port"),
    "malformed replay": (("pub", ANY_PORT, "--sequenced", "--replay", "localhost:5"),
                         "--replay: malformed endpoint 'localhost:5'"),
    "heartbeat too short": (("pub", ANY_PORT, "--sequenced", "--heartbeat", "0.0001"),
                            "argument --heartbeat: must be a number of seconds >= 0.001"),
    "zero replay depth": (("pub", ANY_PORT, "--sequenced", "--replay", "tcp://127.0.0.1:5599",
                           "--replay-depth", "0"), "argument --replay-depth: must be a whole"),
    "replay timeout without replay": (("sub", "tcp://127.0.0.1:9", "--replay-timeout", "1"),
                                      "--replay-timeout needs --replay"),
    "sub replay on any port": (("sub", "tcp://127.0.0.1:9", "--replay", ANY_PORT),
                               "--replay: malformed endpoint 'tcp://127.0.0.1:*'"),
    "bad replay timeout": (("sub", "tcp://127.0.0.1:9", "--replay", "tcp://127.0.0.1:5599",
                            "--replay-timeout", "soon"), "argument --replay-timeout: must be"),
}  # fmt: skip


def test_replay_without_sequenced_is_one_line_and_status_2() -> None:
    """As users meet it: the process, its status and its one line."""
    args, message = MISTAKES["replay without sequenced"]
    process = run(*args)
    assertClean(process, status=2)
    assert process.out == []
    assert process.err == [
        f"txzpub pub: error: {message} (see 'txzpub pub --help')",
    ], process


@pytest.mark.parametrize("case", list(MISTAKES))
def test_sequencing_mistakes_are_usage_errors(
    case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every other mistake, parsed in process (what the process would do, without its start)."""
    args, message = MISTAKES[case]
    with pytest.raises(SystemExit) as exited:
        parseArguments(args)
    assert exited.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"txzpub {args[0]}: error: "), lines
    assert message in lines[0], lines


@pytest.mark.parametrize("command", ["pub", "sub"])
def test_replay_address_in_use_is_one_line_and_status_2(command: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        address = f"tcp://127.0.0.1:{holder.getsockname()[1]}"
        if command == "pub":
            process = run("pub", ANY_PORT, "--sequenced", "--replay", address, "-m", "x")
        else:
            process = run("sub", "tcp://127.0.0.1:9", "--replay", f"@{address}", "--timeout", "1")
    assertClean(process, status=2)
    assert len(process.err) == 1, process
    assert f"cannot bind to '{address}'" in process.err[0], process


# -- in process: the pieces ----------------------------------------------------------------


def test_json_lines_of_a_sequenced_stream() -> None:
    identity = bytes(range(16))
    assert json.loads(renderJson(b"t", b"x", sequence=7, publisher=identity)) == {
        "tag": "t",
        "body": "x",
        "sequence": 7,
        "publisher": identity.hex(),
    }
    assert json.loads(renderJson(b"t", b"x")) == {"tag": "t", "body": "x"}


TOPICS = st.lists(st.binary(max_size=3).map(lambda b: bytes(c % 2 for c in b)), max_size=6)


@given(topics=TOPICS, tag=st.binary(max_size=4).map(lambda b: bytes(c % 2 for c in b)))
def test_distinct_prefixes_match_each_tag_once(topics: list[bytes], tag: bytes) -> None:
    """Reading only these, a tag any topic matches is read once, and only such tags."""
    kept = distinctPrefixes(topics)
    assert set(kept) <= set(topics)
    assert sum(tag.startswith(prefix) for prefix in kept) == any(map(tag.startswith, topics))


class SequencedStub:
    """What subscriberCheck reads of a sequenced ZmqPubConnection."""

    topicSep = b"\0"
    multipartFraming = False
    sequenced = True

    def __init__(self, subscriptions: dict[bytes, int]) -> None:
        self.subscriptions = subscriptions


def test_subscriber_check_of_a_sequenced_publisher_matches_the_tag_alone() -> None:
    """A sequenced stream's first frame is the tag: no subscription reaches into the body."""
    publisher: Any = SequencedStub({b"news\0x": 1})
    assert not subscriberCheck(publisher, b"news")(b"x1")
    publisher = SequencedStub({b"ne": 1})
    assert subscriberCheck(publisher, b"news")(b"x1")


# -- through txzpub proxy, killed and restarted while publishing ---------------------------

#: Messages before the outage, during it, and after the subscriber is back.
BEFORE, DURING, AFTER = 100, 4000, 100
#: What a PUB pipe can keep while its peer is away: its high-water mark, and as much
#: again for the peer's, as a generous bound. The outage publishes more, so it loses
#: messages however libzmq keeps the pipe.
PIPE = 2 * 1000
assert DURING > PIPE + 1000


class Outage:
    """
    A sequenced publisher in this process -> ``txzpub proxy`` -> ``txzpub sub --json
    --stats`` (with ``--replay`` when the publisher has a replay socket), and the
    proxy killed and started again on the same ports while publishing.
    """

    def __init__(self, factory: ZmqFactory, stack: ExitStack, **options: Any) -> None:
        self.factory = factory
        self.stack = stack
        self.options = options
        self.xsub, self.xpub, self.replayAt = freeAddress(), freeAddress(), freeAddress()
        self.published = 0

    async def startProxy(self) -> Running:
        proxy = self.stack.enter_context(
            running("proxy", "--xsub", self.xsub, "--xpub", self.xpub)
        )
        await inThread(proxy.errLine, PROXY_READY, "the proxy's readiness", what="the proxy")
        return proxy

    async def run(self, *, replay: bool) -> None:
        proxy = await self.startProxy()
        replayArgs: tuple[str, ...] = ()
        if replay:
            self.options["replay"] = bind(self.replayAt)
            # A loaded machine must not turn a slow replay into a loss.
            replayArgs = ("--replay", self.replayAt, "--replay-timeout", "20")
        self.publisher = ZmqPubConnection(
            self.factory, connect(self.xsub), sequenced=True, **self.options
        )
        sub = running("sub", self.xpub, "-t", "feed", "--json", "--stats", *replayArgs)
        self.sub = self.stack.enter_context(sub)
        await inThread(self.sub.errLine, SUBSCRIBED, "readiness", what="the subscriber")
        await bounded(self.publisher.waitForSubscribers(1, b"feed"), "the subscriber, proxied")

        self.publish(BEFORE)
        await self.heard(BEFORE, "the messages before the outage")
        proxy.process.kill()
        assert proxy.finish() == -signal.SIGKILL, proxy
        self.publish(DURING)  # nobody to send them to: lost, but for what the pipe keeps
        self.outage = range(BEFORE + 1, self.published + 1)

        proxy = await self.startProxy()
        # Publish, every 5 ms, until the subscriber hears from this side of the outage.
        back = self.heard(self.outage[-1] + 1, "a message after the outage")
        await repeatUntil(self.publish, back, "the subscriber back", TIMEOUT)
        self.probes = range(self.outage[-1] + 1, self.published + 1)
        self.publish(AFTER)
        await self.heard(self.published, "the last message")
        assert await inThread(self.sub.stop, what="the subscriber's end") == 0, self.sub
        assert await inThread(proxy.stop, what="the proxy's end") == 0, proxy

    def publish(self, count: int = 1) -> None:
        for _ in range(count):
            self.published += 1
            self.publisher.publish(f"m{self.published}".encode(), b"feed")

    def heard(self, number: int, what: str) -> Deferred[None]:
        """Wait until the subscriber has printed message *number* (or a later one)."""
        return inThread(self.sub.until, lambda s: lastSequence(s) >= number, what, what=what)


@pytest.mark.parametrize(
    ("replay", "replayDepth"),
    [(True, 10_000), (True, 1_000), (False, None)],
    ids=["replay covers the outage", "replay buffer too small", "without replay"],
)
@pytest_twisted.ensureDeferred
async def test_proxy_killed_and_restarted_while_publishing(
    factory: ZmqFactory, replay: bool, replayDepth: int | None
) -> None:
    """
    With replay covering the outage every message arrives once, in order; otherwise
    each one missing is counted lost, exactly.
    """
    with ExitStack() as stack:
        outage = Outage(factory, stack, replayDepth=replayDepth)
        await outage.run(replay=replay)
    sub, published = outage.sub, outage.published
    assertClean(sub)

    records = [json.loads(line) for line in sub.out]
    identity = outage.publisher.publisherId
    assert identity is not None
    assert all(r["tag"] == "feed" and r["publisher"] == identity.hex() for r in records)
    assert all(r["body"] == f"m{r['sequence']}" for r in records)
    numbers = [r["sequence"] for r in records]
    assert numbers == sorted(set(numbers)), "out of order, or twice"
    missing = sorted(set(range(1, published + 1)) - set(numbers))
    # Nothing is missing but from the outage and the probing that ended it.
    assert set(missing) <= set(outage.outage) | set(outage.probes), missing
    counts = jsonStats(sub)
    assert counts["received"] == len(records)
    assert counts["lost"] == len(missing), (counts, len(missing))
    assert counts["dropped"] == 0
    if replay and replayDepth == 10_000:
        assert numbers == list(range(1, published + 1))
        assert counts["recovered"] >= DURING - PIPE, counts
    elif replay:
        assert counts["lost"] >= DURING - PIPE - 1_000, counts
        assert counts["recovered"] >= 1, counts
    else:
        assert counts["lost"] >= DURING - PIPE, counts
        assert counts["recovered"] == 0
        assert "are missing" in sub.stderr, sub
