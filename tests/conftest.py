"""Shared fixtures: factories that cannot leak, free endpoints, log capture; the reactor."""

from __future__ import annotations

import importlib
import itertools
import os
import sys
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from twisted.logger import LogLevel, globalLogPublisher

from txzpub import ZmqFactory

settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

_names = itertools.count()

# The reactor: pytest-twisted's --reactor offers default (epoll on Linux) and asyncio. With
# TXZPUB_TEST_REACTOR=select or poll, its "default" becomes Twisted's select() or poll()
# reactor (pytest-twisted installs twisted.internet.default.install and expects the class
# named after that function's module). tests/test_reactor.py checks what really runs.
TEST_REACTOR = os.environ.get("TXZPUB_TEST_REACTOR", "")
_REACTOR_MODULES = {
    "select": "twisted.internet.selectreactor",
    "poll": "twisted.internet.pollreactor",
}
if TEST_REACTOR:
    if TEST_REACTOR not in _REACTOR_MODULES:
        msg = f"TXZPUB_TEST_REACTOR={TEST_REACTOR!r}: expected one of {sorted(_REACTOR_MODULES)}"
        raise pytest.UsageError(msg)
    import twisted.internet.default

    chosen = importlib.import_module(_REACTOR_MODULES[TEST_REACTOR])
    twisted.internet.default.install = chosen.install


def pytest_configure(config: pytest.Config) -> None:
    if TEST_REACTOR and config.getoption("reactor", "default") != "default":
        msg = f"TXZPUB_TEST_REACTOR={TEST_REACTOR} needs --reactor=default"
        raise pytest.UsageError(msg)


def pytest_report_header(config: pytest.Config) -> str:
    installed = sys.modules.get("twisted.internet.reactor")
    kind = type(installed) if installed is not None else None
    return f"reactor: {kind.__module__}.{kind.__qualname__}" if kind else "reactor: none installed"


@pytest.fixture
def factory() -> Iterator[ZmqFactory]:
    """A factory on the real (pytest-twisted) reactor, shut down after the test."""
    from twisted.internet import reactor

    made = ZmqFactory(reactor)
    made.lingerPeriod = 0
    yield made
    made.shutdown()


@pytest.fixture
def inprocAddress() -> str:
    return f"inproc://txzpub-test-{os.getpid()}-{next(_names)}"


@pytest.fixture
def ipcAddress(tmp_path_factory: pytest.TempPathFactory) -> str:
    # Short paths: ipc addresses are limited to ~107 bytes.
    return f"ipc://{tmp_path_factory.mktemp('ipc')}/s{next(_names)}"


@pytest.fixture
def logged() -> Iterator[list[dict[str, object]]]:
    """Every twisted.logger event emitted during the test."""
    events: list[dict[str, object]] = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


@pytest.fixture
def errors() -> Iterator[list[dict[str, object]]]:
    """Every twisted.logger event at level error or above (or with a failure) during the test."""
    events: list[dict[str, object]] = []

    def observer(event: dict[str, object]) -> None:
        if event.get("log_level") in (LogLevel.error, LogLevel.critical) or "log_failure" in event:
            events.append(event)

    globalLogPublisher.addObserver(observer)
    yield events
    globalLogPublisher.removeObserver(observer)
