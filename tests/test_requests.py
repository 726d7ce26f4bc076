"""PendingRequests and Request, run synchronously on a Clock."""

from __future__ import annotations

import re

import pytest
from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txzpub import AlreadyReplied, ConnectionClosed, TooManyRequests, ZmqRequestTimeoutError
from txzpub._core._envelope import Envelope
from txzpub._requests import PendingRequests, Request


def exactly(text: str) -> str:
    return f"^{re.escape(text)}$"


class PendingRequestsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.pending = PendingRequests(self.clock, limit=3)

    def test_replyFiresOnceAndForgets(self) -> None:
        reply = self.pending.add(b"1", None)
        self.assertNoResult(reply)
        taken = self.pending.take(b"1")
        self.assertIs(taken, reply)
        self.assertIsNone(self.pending.take(b"1"))  # a second reply finds nobody
        assert taken is not None
        taken.callback([b"answer"])
        self.assertEqual(self.successResultOf(reply), [b"answer"])
        self.assertEqual(self.pending.waiting, {})

    def test_unknownIdFindsNobody(self) -> None:
        self.pending.add(b"1", None)
        self.assertIsNone(self.pending.take(b"never sent"))
        self.assertEqual(list(self.pending.waiting), [b"1"])

    def test_limitRefusesOneMore(self) -> None:
        replies = [self.pending.add(b"%d" % n, None) for n in range(3)]
        with pytest.raises(
            TooManyRequests,
            match=exactly(
                "3 requests already await replies (maxPending=3); wait for some of them "
                "before sending more, or raise maxPending"
            ),
        ):
            self.pending.add(b"3", None)
        self.assertEqual(list(self.pending.waiting), [b"0", b"1", b"2"])  # none disturbed
        for reply in replies:
            self.assertNoResult(reply)

    def test_answeredRequestFreesItsPlace(self) -> None:
        for n in range(3):
            self.pending.add(b"%d" % n, None)
        taken = self.pending.take(b"0")
        assert taken is not None
        taken.callback([])
        self.assertNoResult(self.pending.add(b"3", None))

    def test_cancelFailsAndForgets(self) -> None:
        reply = self.pending.add(b"1", None)
        other = self.pending.add(b"2", None)
        reply.cancel()
        self.failureResultOf(reply, CancelledError)
        self.assertEqual(list(self.pending.waiting), [b"2"])
        self.assertIsNone(self.pending.take(b"1"))  # a late reply is dropped
        self.assertNoResult(other)

    def test_cancelFreesItsPlace(self) -> None:
        replies = [self.pending.add(b"%d" % n, None) for n in range(3)]
        replies[1].cancel()
        self.failureResultOf(replies[1], CancelledError)
        self.assertNoResult(self.pending.add(b"3", None))

    def test_timeoutFailsAndForgets(self) -> None:
        reply = self.pending.add(b"1", 2.5)
        patient = self.pending.add(b"2", None)
        self.clock.advance(2.4)
        self.assertNoResult(reply)
        self.clock.advance(0.1)
        failure = self.failureResultOf(reply, ZmqRequestTimeoutError)
        self.assertEqual(
            str(failure.value),
            "no reply within 2.5 s; a later reply is dropped. Check that a replier is "
            "running, or allow more time",
        )
        self.assertIsInstance(failure.value, TimeoutError)
        self.assertEqual(list(self.pending.waiting), [b"2"])
        self.assertIsNone(self.pending.take(b"1"))
        self.assertNoResult(patient)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_replyBeforeTimeoutCancelsTheTimer(self) -> None:
        reply = self.pending.add(b"1", 5)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        taken = self.pending.take(b"1")
        assert taken is not None
        taken.callback([b"in time"])
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(10)
        self.assertEqual(self.successResultOf(reply), [b"in time"])

    def test_noTimeoutNoTimer(self) -> None:
        self.pending.add(b"1", None)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_closeFailsEveryWaiting(self) -> None:
        replies = [self.pending.add(b"%d" % n, 30) for n in range(3)]
        reason = ConnectionClosed()
        self.pending.close(reason)
        for reply in replies:
            self.assertIs(self.failureResultOf(reply, ConnectionClosed).value, reason)
        self.assertEqual(self.pending.waiting, {})
        self.assertEqual(self.clock.getDelayedCalls(), [])  # no timer outlives its request
        self.pending.close(reason)  # nothing left: harmless

    def test_closeSkipsWhatAlreadyEnded(self) -> None:
        cancelled = self.pending.add(b"1", None)
        cancelled.cancel()
        self.failureResultOf(cancelled, CancelledError)
        waiting = self.pending.add(b"2", None)
        self.pending.close(ConnectionClosed())
        self.failureResultOf(waiting, ConnectionClosed)


class RequestTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.answers: list[tuple[Envelope, tuple[bytes | str, ...]]] = []
        self.envelope = Envelope((b"peer", b"msg-1"))
        self.request = Request(
            self.envelope, [b"ping", b"2"], lambda e, p: self.answers.append((e, p))
        )

    def test_attributes(self) -> None:
        self.assertEqual(self.request.parts, [b"ping", b"2"])
        self.assertIs(self.request.envelope, self.envelope)
        self.assertEqual(self.request.messageId, b"msg-1")
        self.assertFalse(self.request.replied)
        self.assertEqual(repr(self.request), "<Request b'msg-1' parts=[b'ping', b'2'] unanswered>")

    def test_replyOnce(self) -> None:
        self.request.reply(b"pong", "text")
        self.assertTrue(self.request.replied)
        self.assertEqual(self.answers, [(self.envelope, (b"pong", "text"))])
        self.assertEqual(repr(self.request), "<Request b'msg-1' parts=[b'ping', b'2'] replied>")
        with pytest.raises(
            AlreadyReplied,
            match=exactly("request b'msg-1' was already answered; a request has one reply"),
        ):
            self.request.reply(b"again")
        self.assertEqual(len(self.answers), 1)  # the second reply never left

    def test_failedReplyIsNotAReply(self) -> None:
        """A reply the connection refused (shut down) leaves the request unanswered."""

        def closed(envelope: Envelope, parts: tuple[bytes | str, ...]) -> None:
            raise ConnectionClosed

        request = Request(self.envelope, [], closed)
        with pytest.raises(ConnectionClosed):
            request.reply(b"late")
        self.assertFalse(request.replied)
