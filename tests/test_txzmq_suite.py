"""
txZMQ 1.0's own tests, run against txzpub with only their imports changed.

The test modules come from the installed ``txzmq`` package (a test
dependency): each ``from txzmq.<module> import X`` becomes
``from txzpub import X``; txZMQ's own test helper (``txzmq.test._wait``)
stays. They run under trial, as txZMQ runs them, in a subprocess with its own
reactor. These are txZMQ's tests, written txZMQ's way (short waits instead of
handshakes); txzpub's own tests never sleep.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import txzmq.test

#: txZMQ's test modules for what txzpub provides: connections, the factory,
#: and every pattern (pub/sub, req/rep, router/dealer).
MODULES = ("test_connection", "test_factory", "test_pubsub", "test_reqrep", "test_router_dealer")

#: txZMQ's own helpers stay: txzmq.test (its _wait) and txzmq.compat.
_IMPORT = re.compile(
    r"^from txzmq\.(connection|factory|pubsub|req_rep|router_dealer) import ", re.MULTILINE
)


def txzmqSuite(into: Path) -> Path:
    """Copy txZMQ's test modules into a package under *into*, imports changed."""
    source = Path(txzmq.test.__file__).parent
    package = into / "txzmq_on_txzpub"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in MODULES:
        text = (source / f"{name}.py").read_text()
        changed, count = _IMPORT.subn("from txzpub import ", text)
        assert count, f"{name}: no txzmq import to change"
        (package / f"{name}.py").write_text(changed)
    return package


def test_txzmqsOwnTestsPassAgainstTxzpub(tmp_path: Path) -> None:
    package = txzmqSuite(tmp_path)
    assert "from txzpub import ZmqConnection" in (package / "test_connection.py").read_text()
    run = subprocess.run(  # noqa: S603 - our own interpreter, files written here
        [sys.executable, "-m", "twisted.trial", "--temp-directory", "_trial", package.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "test_interfaces" in report
    assert re.search(r"PASSED \(.*successes=\d+\)", report), report
