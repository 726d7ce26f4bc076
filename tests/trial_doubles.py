"""
txzpub.testing's memory connections under trial, as users' trial suites use them.

Run by tests/test_testing_doubles.py::test_underTrial in a subprocess:
``python -m twisted.trial tests.trial_doubles``. SynchronousTestCase: no
reactor runs; the MemoryFactory's Clock is advanced by hand.
"""

from __future__ import annotations

from twisted.internet.defer import ensureDeferred
from twisted.trial.unittest import SynchronousTestCase

from txzpub import (
    ConnectionClosed,
    Message,
    ReceiveTimeout,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqRequestTimeoutError,
)
from txzpub.testing import (
    MemoryFactory,
    MemoryPubConnection,
    MemoryPullConnection,
    MemoryPushConnection,
    MemoryREPConnection,
    MemoryREQConnection,
    MemorySubConnection,
)


def bind(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.bind, address)


def connect(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.connect, address)


class PubSubTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.bus = MemoryFactory()
        self.addCleanup(self.bus.shutdown)
        self.pub = MemoryPubConnection(self.bus, bind("inproc://news"))
        self.sub = MemorySubConnection(self.bus, connect("inproc://news"))

    def test_nextFiresOnTheNextTurn(self) -> None:
        received = self.sub.next(b"news", timeout=5)
        self.pub.publish(b"rain", b"news")
        self.assertNoResult(received)
        self.bus.flush()
        self.assertEqual(self.successResultOf(received), Message(b"news", b"rain"))
        self.assertEqual(self.bus.published, [("inproc://news", Message(b"news", b"rain"))])

    def test_timeout(self) -> None:
        received = self.sub.next(b"news", timeout=5)
        self.bus.clock.advance(5)
        self.failureResultOf(received, ReceiveTimeout)

    def test_asyncForEndsAtShutdown(self) -> None:
        seen: list[bytes] = []

        async def read() -> None:
            async for message in self.sub.subscribe(b""):
                seen.append(message.body)

        loop = ensureDeferred(read())
        self.pub.publish(b"1")
        self.pub.publish(b"2")
        self.bus.flush()
        self.bus.shutdown()
        self.assertEqual(seen, [b"1", b"2"])
        self.assertIsNone(self.successResultOf(loop))
        self.failureResultOf(self.sub.next(b""), ConnectionClosed)


class PipelineTests(SynchronousTestCase):
    def test_pushPull(self) -> None:
        bus = MemoryFactory()
        push = MemoryPushConnection(bus, bind("inproc://work"))
        pull = MemoryPullConnection(bus, connect("inproc://work"))
        push.push([b"resize", b"photo.jpg"])
        bus.flush()
        self.assertEqual(self.successResultOf(pull.next()), [b"resize", b"photo.jpg"])
        self.assertEqual(bus.sent, [("inproc://work", [b"resize", b"photo.jpg"])])


class RequestReplyTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.bus = MemoryFactory()
        self.rep = MemoryREPConnection(self.bus, bind("inproc://svc"))
        self.req = MemoryREQConnection(self.bus, connect("inproc://svc"))

    def test_serve(self) -> None:
        self.rep.serve(lambda command, symbol: [b"ok", symbol])
        reply = self.req.sendMsg(b"price", b"AAPL", timeout=5)
        self.bus.flush()
        self.assertEqual(self.successResultOf(reply), [b"ok", b"AAPL"])

    def test_nextAndReply(self) -> None:
        reply = self.req.sendMsg(b"ping")
        self.bus.flush()
        request = self.successResultOf(self.rep.next())
        self.assertEqual(request.parts, [b"ping"])
        request.reply(b"pong")
        self.bus.flush()
        self.assertEqual(self.successResultOf(reply), [b"pong"])

    def test_requestTimeout(self) -> None:
        reply = self.req.sendMsg(b"ping", timeout=1)
        self.bus.clock.advance(1)
        self.failureResultOf(reply, ZmqRequestTimeoutError)
