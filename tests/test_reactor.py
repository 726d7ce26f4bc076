"""The reactor the suite runs on is the one asked for (nox's sockets and suite sessions vary it).

pytest --reactor=asyncio (or TXZPUB_TEST_REACTOR=select|poll with --reactor=default, see
conftest.py); pytest's header names the reactor too.
"""

from __future__ import annotations

import os
import sys

import pytest
import pytest_twisted

from txzpub import ZmqFactory, ZmqPullConnection, ZmqPushConnection

from .helpers import bind, boundAddress, bounded, connect

_EXPECTED = {
    "asyncio": "AsyncioSelectorReactor",
    "select": "SelectReactor",
    "poll": "PollReactor",
    "default": "EPollReactor" if sys.platform == "linux" else None,
}


def requestedReactor(config: pytest.Config) -> str:
    return os.environ.get("TXZPUB_TEST_REACTOR") or str(config.getoption("reactor"))


def test_the_requested_reactor_is_installed(pytestconfig: pytest.Config) -> None:
    from twisted.internet import reactor

    requested = requestedReactor(pytestconfig)
    expected = _EXPECTED.get(requested)
    if expected is None:
        pytest.skip(f"no expected reactor class for {requested!r} on {sys.platform}")
    assert type(reactor).__name__ == expected


@pytest_twisted.ensureDeferred
async def test_a_message_crosses_a_socket_on_it(factory: ZmqFactory, ipcAddress: str) -> None:
    from twisted.internet import reactor

    assert reactor.running
    name = type(reactor).__name__.encode()
    puller = ZmqPullConnection(factory, bind(ipcAddress))
    pusher = ZmqPushConnection(factory, connect(boundAddress(puller)))
    pusher.push([b"over", name])
    assert await bounded(puller.next(), "the message") == [b"over", name]
