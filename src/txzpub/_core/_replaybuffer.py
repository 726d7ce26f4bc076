# -*- test-case-name: tests.core.test_replaybuffer -*-
"""
The publisher's replay buffer: its recent sequenced messages, kept to answer
replay requests from subscribers that missed some.

Rules:

1. Two bounds, shared by every tag: ``maxMessages`` messages and ``maxBytes``
   bytes, a message weighing ``len(tag) + len(body) + len(header)``.
2. Adding beyond either bound evicts the globally oldest messages, whatever
   their tag, until the new one fits; each eviction is counted. What is held
   is therefore always the newest messages that fit both bounds.
3. A message heavier than ``maxBytes`` on its own is not kept and evicts
   nothing (it could never fit): it is counted as ``refused``, and a replay
   request for it finds a gap.
4. The numbers of one tag arrive in increasing order (the publisher's
   sequencer guarantees it; add() does not check, it runs per publish).
5. A tag whose last message is evicted is forgotten, so memory stays bounded
   by what is held, not by every tag ever published.

Cost: add() is a few appends and two comparisons under the bounds; eviction
is amortized O(1) per message; find() is O(log n + k) (a bisection over the
tag's numbers, then one slice).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from typing import Final

import attrs

from ._checks import checkCount

__all__ = [
    "DEFAULT_REPLAY_BYTES",
    "DEFAULT_REPLAY_DEPTH",
    "BufferStatistics",
    "ReplayBuffer",
]

#: Messages held by default: ten seconds of a 1,000 msgs/s feed.
DEFAULT_REPLAY_DEPTH: Final = 10_000
#: Bytes held by default, so a feed of large messages cannot pin much memory.
DEFAULT_REPLAY_BYTES: Final = 64 * 1024 * 1024

# Stands in for an evicted entry until its tag's lists are compacted, so its
# body and header are freed at once: what is held in memory is what is counted.
_GONE: Final[tuple[bytes, bytes]] = (b"", b"")
# Evicted slots a tag may keep before compacting, and only once they are at
# least half of its list: compaction then costs O(1) per eviction, amortized.
_COMPACT_AFTER: Final = 32


@attrs.frozen
class BufferStatistics:
    """A snapshot of a replay buffer."""

    #: Messages held now.
    messages: int
    #: Bytes held now (rule 1's weight, summed).
    bytes: int
    #: The configured bound on messages.
    maxMessages: int
    #: The configured bound on bytes.
    maxBytes: int
    #: Messages evicted to make room, in total (rule 2).
    evicted: int
    #: Messages too large to keep at all, in total (rule 3).
    refused: int


class _Held:
    """One tag's messages: parallel lists, oldest first, from index ``head`` on."""

    __slots__ = ("entries", "head", "numbers")

    def __init__(self) -> None:
        self.numbers: list[int] = []
        self.entries: list[tuple[bytes, bytes]] = []
        self.head = 0


class ReplayBuffer:
    """Recent sequenced messages by tag, within two bounds; see the module rules."""

    __slots__ = ("_held", "_order", "evicted", "maxBytes", "maxMessages", "refused", "size")

    def __init__(
        self, maxMessages: int = DEFAULT_REPLAY_DEPTH, maxBytes: int = DEFAULT_REPLAY_BYTES
    ) -> None:
        self.maxMessages = checkCount(maxMessages, "maxMessages")
        self.maxBytes = checkCount(maxBytes, "maxBytes")
        #: Bytes held now (read it; only the methods change it).
        self.size = 0
        self.evicted = 0
        self.refused = 0
        self._held: dict[bytes, _Held] = {}
        # The tag of every held message, oldest first: who to evict next.
        self._order: deque[bytes] = deque()

    def add(self, tag: bytes, sequence: int, body: bytes, header: bytes) -> None:
        """Keep message *sequence* of *tag*, evicting older ones if needed (rules 1 to 3)."""
        weight = len(tag) + len(body) + len(header)
        size = self.size + weight
        if size > self.maxBytes or len(self._order) >= self.maxMessages:
            if weight > self.maxBytes:
                self.refused += 1
                return
            self._evictFor(weight)
            size = self.size + weight
        held = self._held.get(tag)
        if held is None:
            held = self._held[tag] = _Held()
        # Rule 4: sequence > held.numbers[-1], by the caller's guarantee.
        held.numbers.append(sequence)
        held.entries.append((body, header))
        self._order.append(tag)
        self.size = size

    def _evictFor(self, weight: int) -> None:
        """Evict the oldest messages until one more of *weight* bytes fits."""
        order = self._order
        allHeld = self._held
        limit = self.maxMessages - 1
        room = self.maxBytes - weight
        size = self.size
        evicted = 0
        while len(order) > limit or size > room:
            tag = order.popleft()
            held = allHeld[tag]
            head = held.head
            body, header = held.entries[head]
            size -= len(tag) + len(body) + len(header)
            evicted += 1
            head += 1
            if head == len(held.numbers):
                del allHeld[tag]  # rule 5
                continue
            held.entries[head - 1] = _GONE
            if head >= _COMPACT_AFTER and 2 * head >= len(held.numbers):
                del held.numbers[:head], held.entries[:head]
                head = 0
            held.head = head
        self.size = size
        self.evicted += evicted

    def find(self, tag: bytes, first: int, last: int) -> list[tuple[bytes, bytes]]:
        """(body, header) of each held message of *tag* numbered *first* to *last*, in order."""
        held = self._held.get(tag)
        if held is None:
            return []
        numbers = held.numbers
        start = bisect_left(numbers, first, held.head)
        return held.entries[start : bisect_right(numbers, last, start)]

    def oldest(self, tag: bytes) -> int | None:
        """The oldest number of *tag* still held, or None when none is."""
        held = self._held.get(tag)
        return None if held is None else held.numbers[held.head]

    def statistics(self) -> BufferStatistics:
        """A snapshot of the sizes, bounds and counters."""
        return BufferStatistics(
            messages=len(self._order),
            bytes=self.size,
            maxMessages=self.maxMessages,
            maxBytes=self.maxBytes,
            evicted=self.evicted,
            refused=self.refused,
        )

    def __len__(self) -> int:
        return len(self._order)
