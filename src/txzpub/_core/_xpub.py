# -*- test-case-name: tests.core.test_xpub -*-
"""
What an XPUB socket learns about its peers' subscriptions.

Rules:

1. A subscription message is one frame: ``b"\\x01" + prefix`` subscribes,
   ``b"\\x00" + prefix`` unsubscribes. Anything else (an XSUB peer may send
   any message upstream) is not a subscription and changes nothing.
2. With exact unsubscribes (libzmq's XPUB_VERBOSER, >= 4.3) every subscribe
   and every unsubscribe arrives, including those libzmq makes up for a peer
   that disconnects, so ``counts[prefix]`` is the number of peers subscribed
   to *prefix*. Without them (XPUB_VERBOSE alone passes only the *last*
   unsubscribe of a prefix) an unsubscribe drops the prefix's whole count.
   A prefix with no subscriber is absent; unsubscribing one that is absent
   changes nothing.
3. ``matching(tag)`` counts the subscriptions ZeroMQ would deliver *tag* to:
   those to any prefix of it, ``b""`` included.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

import attrs

__all__ = ["SubscriptionChange", "SubscriptionCounts", "parseSubscription"]

_SUBSCRIBE = 1
_UNSUBSCRIBE = 0


@attrs.frozen
class SubscriptionChange:
    """One subscription message: *prefix* was subscribed (True) or unsubscribed."""

    prefix: bytes
    subscribed: bool


def parseSubscription(frames: list[bytes]) -> SubscriptionChange | None:
    """The change a received message reports, or None if it is not one (rule 1)."""
    if len(frames) != 1:
        return None
    frame = frames[0]
    if not frame or frame[0] > _SUBSCRIBE:
        return None
    return SubscriptionChange(frame[1:], frame[0] == _SUBSCRIBE)


class SubscriptionCounts:
    """Subscribed prefix -> how many peers subscribe to it (rules 2 and 3)."""

    __slots__ = ("_counts", "exactUnsubscribes", "view")

    def __init__(self, *, exactUnsubscribes: bool = True) -> None:
        self._counts: dict[bytes, int] = {}
        self.exactUnsubscribes = exactUnsubscribes
        #: A live, read-only view of the counts.
        self.view: Mapping[bytes, int] = MappingProxyType(self._counts)

    def apply(self, change: SubscriptionChange) -> None:
        """Count *change* in."""
        counts, prefix = self._counts, change.prefix
        if change.subscribed:
            counts[prefix] = counts.get(prefix, 0) + 1
        elif prefix in counts:
            left = counts[prefix] - 1 if self.exactUnsubscribes else 0
            if left > 0:
                counts[prefix] = left
            else:
                del counts[prefix]

    def matching(self, tag: bytes) -> int:
        """Subscriptions that *tag* reaches: to any prefix of it (rule 3)."""
        return sum(n for prefix, n in self._counts.items() if tag.startswith(prefix))

    def clear(self) -> None:
        """Forget every subscription (the publisher shut down)."""
        self._counts.clear()

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._counts)
