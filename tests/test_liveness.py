"""Liveness: silent publishers, resumed ones, forgotten ones, on a task.Clock."""

from __future__ import annotations

from twisted.internet.task import Clock

from txzpub._liveness import CHECK_EVERY, FORGET_AFTER, MAX_WATCHED, Liveness

P, Q = b"p" * 16, b"q" * 16


#: When each publisher was last heard: the owner's mapping, which Liveness only reads.
heard: dict[bytes, float] = {}


def watched() -> tuple[Clock, Liveness, list[tuple[str, bytes]]]:
    clock = Clock()
    seen: list[tuple[str, bytes]] = []
    heard.clear()
    liveness = Liveness(
        clock,
        heard,
        onSilent=lambda p, s: seen.append(("silent", p)),
        onResumed=lambda p: seen.append(("resumed", p)),
        onForgotten=lambda p: seen.append(("forgotten", p)),
    )
    return clock, liveness, seen


def test_silentAfterThreeMissedHeartbeatsThenResumed() -> None:
    clock, liveness, seen = watched()
    liveness.beat(P, 1.0, clock.seconds())
    clock.advance(2.9)
    assert seen == []
    clock.advance(0.2)
    assert seen == [("silent", P)]
    liveness.beat(P, 1.0, clock.seconds())
    assert seen == [("silent", P), ("resumed", P)]
    assert not clock.getDelayedCalls() or all(c.active() for c in clock.getDelayedCalls())


def test_messagesKeepAPublisherHeard() -> None:
    """Heartbeats lost under load: messages still prove the publisher alive."""
    clock, liveness, seen = watched()
    liveness.beat(P, 1.0, clock.seconds())
    for _ in range(10):
        clock.advance(1.0)
        heard[P] = clock.seconds()
    assert seen == []
    clock.advance(3.0)
    assert seen == [("silent", P)]


def test_forgottenAfterLongSilence() -> None:
    clock, liveness, seen = watched()
    liveness.beat(P, 0.5, clock.seconds())
    clock.advance(1.5)
    clock.advance(FORGET_AFTER)
    assert seen == [("silent", P), ("forgotten", P)]
    assert clock.getDelayedCalls() == []


def test_quietAndDue() -> None:
    """quiet: no message since the previous heartbeat; due: every CHECK_EVERY heartbeats."""
    clock, liveness, _ = watched()
    assert liveness.beat(P, 1.0, clock.seconds()) == (True, False)
    clock.advance(0.5)
    heard[P] = clock.seconds()
    clock.advance(0.5)
    assert liveness.beat(P, 1.0, clock.seconds()) == (False, False)
    results = [liveness.beat(P, 1.0, clock.seconds())[1] for _ in range(CHECK_EVERY * 2)]
    assert results.count(True) == 2


def test_boundedWatches() -> None:
    """Forged identities cost bounded timers: the first watched goes first."""
    clock, liveness, _ = watched()
    for n in range(MAX_WATCHED + 5):
        liveness.beat(n.to_bytes(16, "big"), 1.0, clock.seconds())
    assert len(clock.getDelayedCalls()) == MAX_WATCHED
    liveness.stop()
    assert clock.getDelayedCalls() == []


def test_forgetCancelsTheTimer() -> None:
    clock, liveness, seen = watched()
    liveness.beat(P, 1.0, clock.seconds())
    liveness.beat(Q, 1.0, clock.seconds())
    liveness.forget(P)
    clock.advance(10)
    assert seen == [("silent", Q)]
