"""
Hypothesis strategies for the Mailbox: random programs of owner and consumer steps.

A program is a list of steps, each a small frozen value whose repr reads as
what it does, so a shrunk counterexample is a readable script. The numbers in
a step are kept small on purpose: with bounds of 1 to 5, a handful of puts
overflow, and timeouts of 1 to 3 seconds against clock advances of 0.5 to 2
seconds make waiters expire in the middle of a program, not only at its end.
"""

from __future__ import annotations

import attrs
from hypothesis import strategies as st

__all__ = [
    "Advance",
    "AsyncBatch",
    "AsyncNext",
    "Cancel",
    "Close",
    "Flush",
    "Next",
    "NextBatch",
    "Put",
    "Step",
    "bounds",
    "mailboxPrograms",
    "timeouts",
]


@attrs.frozen
class Put:
    """The owner delivers the next *count* items (items are numbered 0, 1, 2, ...)."""

    count: int


@attrs.frozen
class Next:
    """
    A consumer calls next(timeout). Its callback then does *then*: nothing
    (""), calls next() once more ("next"), cancels the oldest other waiting
    reader ("cancel"), or has the owner close the mailbox, keeping ("close")
    or discarding ("discard") the queue, as a consumer that unsubscribes from
    its callback does. All of them re-enter the mailbox.
    """

    timeout: float | None
    then: str = ""


@attrs.frozen
class NextBatch:
    """A consumer calls nextBatch(limit, timeout)."""

    limit: int
    timeout: float | None


@attrs.frozen
class AsyncNext:
    """One step of ``async for item in mailbox``."""


@attrs.frozen
class AsyncBatch:
    """One step of ``async for batch in mailbox.batches(limit)``."""

    limit: int


@attrs.frozen
class Cancel:
    """Cancel the waiting reader numbered *pick* modulo those waiting."""

    pick: int


@attrs.frozen
class Advance:
    """Let *seconds* pass on the mailbox's clock."""

    seconds: float


@attrs.frozen
class Flush:
    """The owner's read batch ends: it flushes the mailbox if the mailbox asked."""


@attrs.frozen
class Close:
    """The owner closes the mailbox, dropping its queue or not."""

    discard: bool


Step = Put | Next | NextBatch | AsyncNext | AsyncBatch | Cancel | Advance | Flush | Close


def bounds() -> st.SearchStrategy[int]:
    """Small maxQueued values, so that a few puts overflow."""
    return st.integers(min_value=1, max_value=5)


def timeouts() -> st.SearchStrategy[float | None]:
    """No timeout (most often), or one a few clock advances long."""
    return st.sampled_from([None, None, 1.0, 2.0, 3.0])


def _itself(strategy: st.SearchStrategy[Step]) -> st.SearchStrategy[Step]:
    return strategy


def _steps() -> st.SearchStrategy[Step]:
    limits = st.integers(min_value=1, max_value=4)
    puts = st.builds(Put, st.integers(min_value=1, max_value=6))
    nexts = st.builds(
        Next, timeouts(), st.sampled_from(["", "next", "cancel", "close", "discard"])
    )
    # A weighted choice (sampled_from takes repeats as weights): puts and
    # next() three and two times as often as the other steps, so queues fill,
    # overflow and drain within a few steps. Puts come first, so shrinking
    # turns other steps into puts.
    weighted: list[st.SearchStrategy[Step]] = [puts, puts, puts, nexts, nexts]
    weighted += [
        st.builds(NextBatch, limits, timeouts()),
        st.just(AsyncNext()),
        st.builds(AsyncBatch, limits),
        st.builds(Cancel, st.integers(min_value=0, max_value=20)),
        st.builds(Advance, st.sampled_from([0.5, 1.0, 2.0])),
        st.just(Flush()),
    ]
    return st.sampled_from(weighted).flatmap(_itself)


@st.composite
def mailboxPrograms(draw: st.DrawFn, maxSteps: int = 30) -> list[Step]:
    """
    Up to *maxSteps* steps, and at most one close among them, anywhere (the
    test closes again at the end). The length is drawn first, so long
    programs are as likely as short ones. One close, not one per step drawn:
    after it every step is trivial, so it must not come early in most programs.
    """
    size = draw(st.integers(min_value=0, max_value=maxSteps))
    steps: list[Step] = draw(st.lists(_steps(), min_size=size, max_size=size))
    closeAt = draw(st.none() | st.integers(min_value=0, max_value=len(steps)))
    if closeAt is not None:
        steps.insert(closeAt, Close(discard=draw(st.booleans())))
    return steps
