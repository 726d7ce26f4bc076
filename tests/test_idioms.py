"""
The README's reader loops end quietly when the subscriber shuts down.

The code under test is the README's own: its Python blocks defining
``readNews()`` (``@inlineCallbacks``, ``while True`` inside
``try``/``except ConnectionClosed``) and ``readWeather()`` (``async for``) are
executed as written, with ``sub`` a real subscriber on tcp 127.0.0.1 and
``print`` recording. Each loop receives a message and waits for the next; then
the subscriber, or its factory (as Ctrl-C does through registerForShutdown()),
shuts down. The loop's Deferred must fire with None, and after a garbage
collection nothing may have been logged as an error, in particular no
"Unhandled error in Deferred". A last test runs the loop without the ``try``
to show what the idiom prevents, and that this check would catch it.

Every wait has a deadline; nothing sleeps.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.defer import Deferred
from twisted.logger import formatEvent
from twisted.python.failure import Failure

from txzpub import ConnectionClosed, ZmqFactory, ZmqPubConnection, ZmqSubConnection
from txzpub.testing import waitForSubscription

from .helpers import bind, boundAddress, bounded, connect

README = Path(__file__).resolve().parent.parent / "README.md"

UNHANDLED = "Unhandled error in Deferred"


def readmeBlock(defines: str) -> str:
    """The one ```python block of the README that defines the function *defines*."""
    text = README.read_text("utf-8")
    blocks: list[str] = re.findall(r"^```python\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
    definition = re.compile(rf"^(async )?def {defines}\(", re.MULTILINE)
    found = [block for block in blocks if definition.search(block)]
    assert len(found) == 1, f"README.md should define {defines}() in exactly one block: {found}"
    return found[0]


class Printed:
    """
    The README's ``print``: records each call, and fires ``next`` for it on
    the following reactor turn, once the loop has gone back to waiting.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.next: Deferred[tuple[Any, ...]] = Deferred()

    def __call__(self, *args: Any) -> None:
        self.calls.append(args)
        printed, self.next = self.next, Deferred()
        reactor.callLater(0, printed.callback, args)  # type: ignore[arg-type]


class Defer:
    """The README's ``defer`` (twisted.internet.defer), keeping the Deferreds it starts."""

    inlineCallbacks = staticmethod(defer.inlineCallbacks)

    def __init__(self) -> None:
        self.started: list[Deferred[Any]] = []

    def ensureDeferred(self, coroutine: Any) -> Deferred[Any]:
        started: Deferred[Any] = defer.ensureDeferred(coroutine)
        self.started.append(started)
        return started


def runReadme(
    defines: str, sub: ZmqSubConnection, printed: Printed
) -> tuple[dict[str, Any], Defer]:
    """Execute the README block defining *defines*; return its names and its ``defer``."""
    readmeDefer = Defer()
    names: dict[str, Any] = {
        "defer": readmeDefer,
        "sub": sub,
        "print": printed,
        "ConnectionClosed": ConnectionClosed,
    }
    exec(compile(readmeBlock(defines), f"README.md: {defines}()", "exec"), names)  # noqa: S102 - the README's own code
    return names, readmeDefer


def collectedErrors(errors: list[dict[str, Any]]) -> list[str]:
    """The errors logged so far, after a collection (which reports unhandled failures)."""
    gc.collect()
    return [formatEvent(event) or repr(event.get("log_failure")) for event in errors]


SHUTDOWNS: dict[str, Callable[[ZmqFactory, ZmqSubConnection], None]] = {
    "the connection": lambda factory, sub: sub.shutdown(),
    "its factory": lambda factory, sub: factory.shutdown(),
}


@pytest.fixture(params=sorted(SHUTDOWNS))
def shutDown(request: pytest.FixtureRequest) -> Callable[[ZmqFactory, ZmqSubConnection], None]:
    return SHUTDOWNS[request.param]


def pair(factory: ZmqFactory) -> tuple[ZmqPubConnection, ZmqSubConnection]:
    publisher = ZmqPubConnection(factory, bind("tcp://127.0.0.1:0"))
    return publisher, ZmqSubConnection(factory, connect(boundAddress(publisher)))


@pytest_twisted.ensureDeferred
async def test_inlineCallbacksLoopEndsQuietly(
    factory: ZmqFactory,
    shutDown: Callable[[ZmqFactory, ZmqSubConnection], None],
    errors: list[dict[str, Any]],
) -> None:
    publisher, sub = pair(factory)
    printed = Printed()
    names, _ = runReadme("readNews", sub, printed)
    loop = names["readNews"]()  # subscribes to b"news" and waits
    await waitForSubscription(publisher, sub)

    publisher.publish(b"hello", b"news")
    assert await bounded(printed.next, "readNews() printing the message") == (b"news", b"hello")
    assert not loop.called
    assert sub.subscriptions[b"news"].statistics().waiting == 1  # a next() is pending

    shutDown(factory, sub)

    assert await bounded(loop, "readNews() ending") is None
    assert printed.calls == [(b"news", b"hello")]
    assert collectedErrors(errors) == []


@pytest_twisted.ensureDeferred
async def test_asyncForLoopEndsQuietly(
    factory: ZmqFactory,
    shutDown: Callable[[ZmqFactory, ZmqSubConnection], None],
    errors: list[dict[str, Any]],
) -> None:
    publisher, sub = pair(factory)
    printed = Printed()
    _, readmeDefer = runReadme("readWeather", sub, printed)  # runs ensureDeferred(readWeather())
    [loop] = readmeDefer.started
    await waitForSubscription(publisher, sub)

    publisher.publish(b"sunny", b"weather")
    assert await bounded(printed.next, "readWeather() printing the message") == (b"sunny",)
    assert not loop.called

    shutDown(factory, sub)

    assert await bounded(loop, "readWeather() ending") is None
    assert collectedErrors(errors) == []


def assertFailedWith(d: Deferred[Any], error: type[Exception]) -> None:
    """*d* has failed with *error*, and that failure is left unhandled (no errback added)."""
    assert d.called
    result = d.result
    assert isinstance(result, Failure), result
    assert result.check(error), result


@pytest_twisted.ensureDeferred
async def test_withoutTheIdiomShutdownIsAnUnhandledError(
    factory: ZmqFactory, errors: list[dict[str, Any]]
) -> None:
    """The same loop without ``try``/``except ConnectionClosed``: what the idiom prevents."""
    publisher, sub = pair(factory)
    printed = Printed()

    @defer.inlineCallbacks
    def readNewsNaively() -> Any:
        while True:
            msg = yield sub.next(b"news")
            printed(msg.tag, msg.body)

    loop = readNewsNaively()
    await waitForSubscription(publisher, sub)
    publisher.publish(b"hello", b"news")
    await bounded(printed.next, "the loop printing the message")

    sub.shutdown()

    assertFailedWith(loop, ConnectionClosed)
    del loop  # nobody handles its failure: collecting it reports one
    logged = collectedErrors(errors)
    assert any(UNHANDLED in line for line in logged), logged
    assert any("ConnectionClosed" in line for line in logged), logged
