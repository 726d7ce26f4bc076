# -*- test-case-name: tests.core.test_routing -*-
"""
Topic routing: which subscriptions does a received message belong to?

Rules:

1. A message belongs to every subscription whose prefix is a prefix of the
   message's raw first frame, exactly as libzmq's SUB filter matched it (so
   ``b"news"`` also gets ``b"newsletter"``, and ``b""`` gets everything).
2. Each matching subscription gets the message once, however it was matched.
3. Subscriptions are reference counted, as libzmq counts them: subscribing
   twice and unsubscribing once leaves the subscription in place. The router
   says when the socket option must actually change (first subscribe, last
   unsubscribe) so the socket and the router never disagree.

Cost: a lookup tries one dict probe per *distinct prefix length*, never one per
subscription, so a subscriber holding thousands of prefixes of a few lengths
routes as fast as one holding a single prefix. ``routeCached`` also remembers
answers per key (topics repeat; bodies do not, so only pass it topics), and
forgets them all whenever the subscriptions change or ``CACHE_LIMIT`` keys
have piled up.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["CACHE_LIMIT", "TopicRouter"]

T = TypeVar("T")

#: Most keys routeCached() remembers before starting afresh: plenty for the
#: topics of a real feed, bounded for a peer that invents a new topic per message.
CACHE_LIMIT = 4096

#: Longest key routeCached() remembers. Real topics are short; a longer key (a
#: peer inventing huge tags) is routed uncached, so the cache never pins more
#: than CACHE_LIMIT * CACHE_KEY_LIMIT bytes of keys.
CACHE_KEY_LIMIT = 256


class TopicRouter(Generic[T]):
    """Reference-counted prefix subscriptions, each with one target (its queue)."""

    __slots__ = ("_cache", "_counts", "_lengthUse", "_lengths", "_targets")

    def __init__(self) -> None:
        self._targets: dict[bytes, T] = {}
        self._counts: dict[bytes, int] = {}
        # Sorted distinct prefix lengths, and how many prefixes have each.
        self._lengths: list[int] = []
        self._lengthUse: dict[int, int] = {}
        self._cache: dict[bytes, tuple[T, ...]] = {}

    def subscribe(self, prefix: bytes, makeTarget: Callable[[], T]) -> tuple[T, bool]:
        """Count one more subscription to *prefix*; return its target and whether it is new."""
        count = self._counts.get(prefix, 0)
        self._counts[prefix] = count + 1
        if count:
            return self._targets[prefix], False
        target = makeTarget()
        self._targets[prefix] = target
        self._cache.clear()
        size = len(prefix)
        used = self._lengthUse.get(size, 0)
        self._lengthUse[size] = used + 1
        if not used:
            bisect.insort(self._lengths, size)
        return target, True

    def unsubscribe(self, prefix: bytes) -> tuple[T | None, bool]:
        """
        Count one subscription to *prefix* less.

        Returns the target and whether that was the last reference (the target
        is then forgotten). Unsubscribing what is not subscribed is ignored, as
        libzmq ignores it, and returns ``(None, False)``.
        """
        count = self._counts.get(prefix, 0)
        if count == 0:
            return None, False
        if count > 1:
            self._counts[prefix] = count - 1
            return self._targets[prefix], False
        del self._counts[prefix]
        target = self._targets.pop(prefix)
        self._cache.clear()
        size = len(prefix)
        used = self._lengthUse[size] - 1
        if used:
            self._lengthUse[size] = used
        else:
            del self._lengthUse[size]
            self._lengths.remove(size)
        return target, True

    def get(self, prefix: bytes) -> T | None:
        """The target of exactly *prefix*, if subscribed."""
        return self._targets.get(prefix)

    def count(self, prefix: bytes) -> int:
        """How many times *prefix* is subscribed."""
        return self._counts.get(prefix, 0)

    def targets(self) -> list[T]:
        """Every current target, in subscription order."""
        return list(self._targets.values())

    def route(self, firstFrame: bytes) -> tuple[T, ...]:
        """The targets of every subscription matching *firstFrame*, shortest prefix first."""
        targets = self._targets
        if not targets:
            return ()
        found = []
        limit = len(firstFrame)
        for size in self._lengths:
            if size > limit:
                break
            target = targets.get(firstFrame[:size])
            if target is not None:
                found.append(target)
        return tuple(found)

    def routeCached(self, key: bytes) -> tuple[T, ...]:
        """route(*key*), remembered until the subscriptions change."""
        cache = self._cache
        found = cache.get(key)
        if found is None:
            found = self.route(key)
            if len(key) <= CACHE_KEY_LIMIT:
                if len(cache) >= CACHE_LIMIT:
                    cache.clear()
                cache[key] = found
        return found

    def __len__(self) -> int:
        return len(self._targets)
