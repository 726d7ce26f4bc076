"""The last value cache: late joiners start with the current value of each topic."""

from __future__ import annotations

import pytest
import pytest_twisted

from txzpub import Message, ZmqFactory, ZmqPubConnection, ZmqSubConnection

from .helpers import bind, boundAddress, bounded, connect


@pytest.mark.parametrize("multipart", [False, True])
@pytest_twisted.ensureDeferred
async def test_lateJoinerGetsCurrentValues(factory: ZmqFactory, multipart: bool) -> None:
    publisher = ZmqPubConnection(
        factory, bind("tcp://127.0.0.1:0"), lastValueCache=True, multipartFraming=multipart
    )
    publisher.publish(b"v1", b"news.a")
    publisher.publish(b"v2", b"news.a")
    publisher.publish(b"w1", b"news.b")
    publisher.publish(b"x1", b"weather")
    # Nobody was subscribed: all of that went nowhere. Now a subscriber joins.
    late = ZmqSubConnection(factory, connect(boundAddress(publisher)))
    news = late.subscribe(b"news")
    first = await bounded(news.next(), "the cached news.a")
    second = await bounded(news.next(), "the cached news.b")
    assert {first, second} == {Message(b"news.a", b"v2"), Message(b"news.b", b"w1")}
    publisher.publish(b"v3", b"news.a")  # and then the live feed, as usual
    assert await bounded(news.next()) == Message(b"news.a", b"v3")
    assert news.statistics().queued == 0  # no weather, no stale v1


@pytest_twisted.ensureDeferred
async def test_replayMatchesAsZeroMQDoes(factory: ZmqFactory) -> None:
    """A prefix reaching into the body matches the cached frame, not only the tag."""
    publisher = ZmqPubConnection(factory, bind("tcp://127.0.0.1:0"), lastValueCache=True)
    publisher.publish(b"hello", b"news")
    late = ZmqSubConnection(factory, connect(boundAddress(publisher)))
    assert await bounded(late.next(b"news\0hel")) == Message(b"news", b"hello")


def test_offByDefault(factory: ZmqFactory) -> None:
    publisher = ZmqPubConnection(factory)
    publisher.publish(b"v", b"t")
    assert publisher._lastValues is None  # no cache kept
    assert ZmqPubConnection.lastValueCache is False
