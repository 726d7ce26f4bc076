"""Shared fixtures: factories that cannot leak, free endpoints, log capture."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from twisted.logger import globalLogPublisher

from txzpub import ZmqFactory

settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

_names = itertools.count()


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
