# -*- test-case-name: tests.test_testing -*-
"""
Test helpers for code that uses txzpub, shipped so nobody needs a sleep.

ZeroMQ's "slow joiner": a subscription travels to the publisher
asynchronously, so messages published right after ``subscribe()`` are
silently lost. Sleeping "long enough" makes tests slow and still flaky.
waitForSubscription() instead publishes probes until one arrives, under a
deadline; subscriptions made before it are then in place at the publisher,
because ZeroMQ applies a peer's subscriptions in order.

Imports only the public txzpub API, as user code would.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall

from txzpub import Message, ZmqPubConnection, ZmqSubConnection

__all__ = ["PROBE_PREFIX", "waitForSubscription", "withDeadline"]

#: Tag prefix of the probes. It starts with byte 0xFF, which no text topic does, so
#: only the queue of a subscription to ``b""`` sees probes (skip them by this
#: prefix there); a txZMQ-style gotMessage never sees them.
PROBE_PREFIX = b"\xfftxzpub.probe."

T = TypeVar("T")


def withDeadline(d: Deferred[T], seconds: float, reactor: Any, what: str = "") -> Deferred[T]:
    """
    Fail *d* with TimeoutError if it has not fired within *seconds*.

    The error says what was awaited, so a hung test explains itself.
    """
    description = what or repr(d)

    def explain(failure: Any) -> Any:
        from twisted.internet.defer import TimeoutError as DeferTimeout  # noqa: PLC0415

        if failure.check(DeferTimeout):
            msg = f"{description} did not happen within {seconds} s"
            raise TimeoutError(msg)
        return failure

    d.addTimeout(seconds, reactor)
    d.addErrback(explain)
    return d


def waitForSubscription(
    publisher: ZmqPubConnection,
    subscriber: ZmqSubConnection,
    timeout: float = 10.0,
    interval: float = 0.005,
) -> Deferred[None]:
    """
    Fire once *subscriber*'s subscriptions have reached *publisher*.

    Call it after subscribing. It publishes a probe every *interval* seconds
    on a fresh tag under PROBE_PREFIX until the subscriber receives one, then
    unsubscribes the probe tag. Fails with TimeoutError after *timeout* seconds.
    The queue of a subscription to ``b""`` also receives the probes; skip tags
    starting with PROBE_PREFIX there. A txZMQ-style gotMessage never sees them.
    """
    reactor = publisher.factory.reactor
    tag = PROBE_PREFIX + os.urandom(6).hex().encode()
    # A hidden subscription: its probes never reach a txZMQ-style gotMessage.
    arrived = subscriber._subscribeHidden(tag).next()  # noqa: SLF001
    probing = LoopingCall(publisher.publish, b"", tag)
    probing.clock = reactor
    probing.start(interval, now=True)

    def finish(result: Message | Any) -> None:
        probing.stop()
        subscriber.unsubscribe(tag)
        if not isinstance(result, Message):
            result.raiseException()

    withDeadline(arrived, timeout, reactor, f"a probe from {publisher!r} reaching {subscriber!r}")
    return arrived.addBoth(finish)
