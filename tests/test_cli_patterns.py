"""
``txzpub push``/``pull`` and ``txzpub req``/``rep``, run as users run them
(subprocesses, with test_cli's helpers), alone and through ``txzpub proxy``.

Nothing sleeps: each test waits, under test_cli's deadline, for the readiness
line a process prints (``pull`` and ``rep`` once attached, ``push`` while it
waits for a puller) and then for the processes to end. Binding sides use
port * and the tests read the real port from those lines.
"""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from txzpub._cli._pull import renderFrames

from .test_cli import ANY_PORT, assertClean, run, running
from .test_proxy_patterns import QUEUE_READY, STREAMER_READY

PULLING = r"pulling on (\S+) \((bind|connect)\)"
SERVING = r"(echoing|answering) requests on (\S+) \((bind|connect)\)"
PUSHER_ON = r"on (\S+) \((bind|connect)\), waiting for a puller"

LINES = ["first line", "café ☕", "tab\there"]


def test_push_to_pull_every_line_once_in_order() -> None:
    with running("pull", ANY_PORT, "--bind", "--count", str(len(LINES) + 1), "--json") as puller:
        address = puller.errLine(PULLING, "the puller's address")[1]
        with running("push", address, "--connect", stdin=subprocess.PIPE) as pusher:
            pusher.errLine(PUSHER_ON, "the pusher waiting for a puller")
            data = "".join(f"{line}\n" for line in LINES).encode() + b"\xff raw\n"
            pusher.write(data, close=True)
            assert pusher.finish() == 0, pusher
        assert puller.finish() == 0, puller
    assertClean(pusher)
    assertClean(puller)
    assert pusher.err[-1] == f"txzpub push: pushed {len(LINES) + 1} message(s)"
    assert [json.loads(line) for line in puller.out] == [
        *({"frames": [line]} for line in LINES),
        {"frames": [None], "frames_base64": ["/yByYXc="]},
    ]


def test_push_waits_for_a_puller_that_comes_later() -> None:
    with running("push", ANY_PORT, "-m", "one", "-m", "two") as pusher:
        address = pusher.errLine(PUSHER_ON, "the pusher's address")[1]
        puller = run("pull", address, "--count", "2")
        assert pusher.finish() == 0, pusher
    assertClean(pusher)
    assertClean(puller)
    assert puller.out == ["one", "two"]


def test_pull_timeout_with_nothing_exits_1() -> None:
    process = run("pull", "tcp://127.0.0.1:9", "--timeout", "0.2")
    assertClean(process, status=1)
    assert process.err[-1] == "txzpub pull: timed out after 0.2 s with no message"


def test_req_to_rep_echo_replies_in_order() -> None:
    with running("rep", ANY_PORT, "--echo", "--count", str(len(LINES))) as replier:
        address = replier.errLine(SERVING, "the replier's address")[2]
        with running("req", address, "--timeout", "30", stdin=subprocess.PIPE) as requester:
            requester.write("".join(f"{line}\n" for line in LINES).encode(), close=True)
            assert requester.finish() == 0, requester
        assert replier.finish() == 0, replier
    assertClean(requester)
    assertClean(replier)
    expected = [renderFrames([line.encode()]) for line in LINES]
    assert requester.out == expected
    assert replier.out == expected
    assert requester.err[-1] == f"txzpub req: got {len(LINES)} reply(s)"


def test_rep_fixed_reply_and_json() -> None:
    with running("rep", ANY_PORT, "--reply", "ok", "--count", "2", "--json") as replier:
        address = replier.errLine(SERVING, "the replier's address")[2]
        requester = run("req", address, "-m", "a", "-m", "b", "--json")
        assert replier.finish() == 0, replier
    assertClean(requester)
    assertClean(replier)
    assert requester.out == ['{"frames": ["ok"]}'] * 2
    assert replier.out == ['{"frames": ["a"]}', '{"frames": ["b"]}']


def test_req_timeout_without_replier_exits_1() -> None:
    process = run("req", "tcp://127.0.0.1:9", "-m", "anyone?", "--timeout", "0.2")
    assertClean(process, status=1)
    assert process.out == []
    assert process.err[-1] == (
        "txzpub req: no reply within 0.2 s to request 1 ('anyone?'); giving up"
    )


def test_req_through_a_queue_to_two_reps_each_answered_once() -> None:
    requests = [f"job {n}" for n in range(20)]
    with running("proxy", "--shape", "queue", "--frontend", ANY_PORT, "--backend", ANY_PORT,
                 "--stats", "0") as proxy:  # fmt: skip
        frontend, backend = proxy.errLine(QUEUE_READY, "the queue's addresses").groups()
        with (
            running("rep", backend, "--connect", "--echo") as first,
            running("rep", backend, "--connect", "--echo") as second,
        ):
            for each in (first, second):
                each.errLine(SERVING, "a worker's readiness")
            requester = run("req", frontend, "--timeout", "30",
                            *[f"--message={r}" for r in requests])  # fmt: skip
            for each in (first, second):
                assert each.stop() == 0, each
        assert proxy.stop() == 0, proxy
    for each in (proxy, requester, first, second):
        assertClean(each)
    assert requester.out == requests  # every reply, in order
    assert sorted(first.out + second.out) == sorted(requests)  # each served once


def test_push_through_a_streamer_to_pull() -> None:
    with running("proxy", "--shape", "streamer", "--frontend", ANY_PORT, "--backend", ANY_PORT,
                 "--stats", "0") as proxy:  # fmt: skip
        frontend, backend = proxy.errLine(STREAMER_READY, "the streamer's addresses").groups()
        with running("pull", backend, "--count", str(len(LINES))) as puller:
            puller.errLine(PULLING, "the puller's readiness")
            pusher = run("push", frontend, "--connect", *[f"--message={m}" for m in LINES])
            assert puller.finish() == 0, puller
        assert proxy.stop() == 0, proxy
    for each in (proxy, pusher, puller):
        assertClean(each)
    assert puller.out == [renderFrames([line.encode()]) for line in LINES]


READY = {
    "push": (("push", ANY_PORT), PUSHER_ON),
    "pull": (("pull", "tcp://127.0.0.1:9"), PULLING),
    "rep": (("rep", ANY_PORT, "--echo"), SERVING),
}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("command", list(READY))
def test_signal_ends_cleanly_with_status_0(command: str, signum: int) -> None:
    args, ready = READY[command]
    with running(*args, stdin=subprocess.PIPE) as process:
        process.errLine(ready, "the readiness line")
        assert process.stop(signum) == 0, process
    assertClean(process)
    assert "interrupted after 0 " in process.err[-1], process


def test_req_waiting_for_a_reply_ends_cleanly_on_sigterm() -> None:
    with running("req", "tcp://127.0.0.1:9", "-m", "anyone?") as process:
        process.errLine("requesting on", "the readiness line")
        assert process.stop() == 0, process
    assertClean(process)
    assert process.err[-1] == "txzpub req: interrupted after 0 reply(s)"


BAD = {
    "echo and reply": (("rep", ANY_PORT, "--echo", "--reply", "x"), "not allowed with"),
    "pull count": (("pull", "tcp://127.0.0.1:9", "--count", "0"), "--count: must be a whole"),
    "req timeout": (("req", "tcp://127.0.0.1:9", "--timeout", "0"), "--timeout: must be"),
    "push inproc": (("push", "inproc://x"), "inproc:// reaches only sockets in the same"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_status_2(case: str) -> None:
    args, message = BAD[case]
    process = run(*args)
    assertClean(process, status=2)
    assert len(process.err) == 1, process
    assert process.err[0].startswith(f"txzpub {args[0]}: error: "), process
    assert message in process.err[0], process


@pytest.mark.parametrize(
    ("frames", "line"),
    [
        ([b"one frame with spaces"], "one frame with spaces"),
        ([b"tag", b"body text"], "tag body text"),
        ([b"a b", b"\xff", b"last one"], "a\\x20b \\xff last one"),
        ([b"line\nbreak"], "line\\nbreak"),
    ],
)
def test_frames_as_text(frames: list[bytes], line: str) -> None:
    assert renderFrames(frames) == line


def test_frames_as_json() -> None:
    assert json.loads(renderFrames([b"a", b"\xff", b"b"], asJson=True)) == {
        "frames": ["a", None, "b"],
        "frames_base64": [None, "/w==", None],
    }
    assert json.loads(renderFrames([b"plain"], asJson=True)) == {"frames": ["plain"]}
