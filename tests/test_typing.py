"""
Users' code gets precise types: mypy --strict on tests/typed_program.py.

The program uses every pattern the way users do. Each ``reveal_type(expr)``
in it must reveal exactly the type listed in REVEALED below: a Message, a list
of frames, a Request, never Any. The program also runs for real, so what it
shows type-checks and works.

mypy's first run on Twisted takes a few seconds; its cache lives in the system
temporary directory (one per mypy version), so later runs take well under one.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "tests" / "typed_program.py"

BYTES = r"(builtins\.)?bytes"
FRAMES = rf"(builtins\.)?list\[{BYTES}\]"
# mypy names a class by the module that defines it, not by the txzpub re-export.
MESSAGE = r"txzpub(\.\w+)*\.Message"
REQUEST = r"txzpub(\.\w+)*\.Request"

#: Each expression revealed in the program, and the type mypy must reveal for it.
REVEALED = {
    'sub.next(b"x")': rf"twisted\.internet\.defer\.Deferred\[{MESSAGE}\]",
    "message": MESSAGE,
    "msg": MESSAGE,
    "msg.tag": BYTES,
    "msg.body": BYTES,
    "batch": rf"(builtins\.)?list\[{MESSAGE}\]",
    "sub.subscriptions": rf"typing\.Mapping\[{BYTES}, txzpub(\.\w+)*\.Subscription\]",
    "publisher.subscriptions": rf"typing\.Mapping\[{BYTES}, (builtins\.)?int\]",
    "msg.sequence": r"(builtins\.)?int \| None",
    "sub.streamStatistics().lost": r"(builtins\.)?int",
    "publisher.publisherId": rf"{BYTES} \| None",
    "first": FRAMES,
    "frames": FRAMES,
    "await pull.nextBatch()": rf"(builtins\.)?list\[{FRAMES}\]",
    "reply": FRAMES,
    "served": r"twisted\.internet\.defer\.Deferred\[None\]",
    "request": REQUEST,
    "request.parts": FRAMES,
    "senderId": BYTES,
    "await router.next()": rf"(builtins\.)?tuple\[{BYTES}, {FRAMES}\]",
    "answer": FRAMES,
}

REVEAL_CALL = re.compile(r"^\s*reveal_type\((?P<expression>.+)\)$")
NOTE = re.compile(r'^(?P<path>.+?):(?P<line>\d+): note: Revealed type is "(?P<type>.+)"$')


def revealCalls() -> dict[int, str]:
    """The program's ``reveal_type`` calls: line number to expression."""
    lines = PROGRAM.read_text("utf-8").splitlines()
    calls = {n: REVEAL_CALL.match(line) for n, line in enumerate(lines, 1)}
    return {n: match["expression"] for n, match in calls.items() if match}


def runMypy() -> tuple[str, int]:
    api = pytest.importorskip("mypy.api", reason="mypy is not installed (the test group has it)")
    version = pytest.importorskip("mypy.version").__version__
    # One cache per checkout: mypy's cache remembers where each module was.
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"txzpub-mypy-cache-{version}-{checkout}"
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--strict",
            "--cache-dir",
            str(cache),
            "--show-absolute-path",
            "--no-pretty",
            "--no-color-output",
            str(PROGRAM),
        ]
    )
    return stdout + stderr, status


def test_revealed_types_are_precise() -> None:
    output, status = runMypy()

    assert status == 0, output
    revealed: dict[int, str] = {}
    for line in output.splitlines():
        note = NOTE.match(line)
        if note and Path(note["path"]).name == PROGRAM.name:
            revealed[int(note["line"])] = note["type"]
    calls = revealCalls()
    assert set(revealed) == set(calls), output
    assert {calls[n] for n in calls} == set(REVEALED), "reveal_type calls differ from REVEALED"
    imprecise = [
        f"line {n}: reveal_type({calls[n]}) is {revealed[n]!r}, expected {REVEALED[calls[n]]!r}"
        for n in sorted(calls)
        if not re.fullmatch(REVEALED[calls[n]], revealed[n])
    ]
    assert not imprecise, "\n".join(imprecise)


def test_typed_program_runs() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONWARNINGS", "PYTHONDEVMODE"}}
    result = subprocess.run(  # noqa: S603 - our own program, run by our own interpreter
        [sys.executable, "-W", "default", "-b", str(PROGRAM)],
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    stdout, stderr = result.stdout.decode(), result.stderr.decode()

    assert (result.returncode, stderr) == (0, ""), f"{stdout}\n{stderr}"
    lines = stdout.splitlines()
    assert lines[:2] == ["next: b'x.0' b'body 0'", "async for: b'x.1' b'body 1'"], lines
    # What one nextBatch() returns depends on how many messages had arrived.
    assert lines[2].startswith("nextBatch: [b'x.2'"), lines
    assert lines[3:] == [
        "pull.next: [b'one']",
        "async for: [b'two', b'frames']",
        "sendMsg: [b'echo', b'x']",
        "async for request: [b'got', b'y']",
        "router got [b'hello'] from b'dealer-1'; the dealer got [b'hi', b'hello']",
        "done",
    ], lines
