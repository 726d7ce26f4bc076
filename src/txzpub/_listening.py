# -*- test-case-name: tests.test_awareness -*-
"""
A publisher's awareness API, and the lazy reading of its subscriptions.

ZmqPubConnection mixes this in. Its reader starts on the first publish() or
the first use of the awareness API (until then libzmq keeps the subscription
messages queued, so no count is missed, and a publisher that does neither
registers nothing with the reactor). A send may process libzmq's pending
commands and so swallow the edge of the edge-triggered ZMQ_FD (see
``_reader``), so the publisher schedules ``_recheck`` once per reactor turn
after publishing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred

from ._awareness import Awareness
from ._connection import ReadOnlyView
from ._core._message import asBytes

if TYPE_CHECKING:
    from ._reader import SocketReader

__all__ = ["PublisherAwareness"]


class PublisherAwareness:
    """ZmqPubConnection's awareness API, on the attributes ZmqPubConnection sets."""

    _awareness: Awareness
    _listening: bool
    _closed: bool
    _reader: SocketReader
    _recheckCall: Any  # the IDelayedCall of _recheck, while one is due

    #: A live, read-only mapping: subscribed prefix (bytes) -> how many peers
    #: subscribe to it (see ZmqPubConnection's module docstring). Prefixes with
    #: no subscriber are absent. ``.. versionadded:: 0.1.0``
    subscriptions = ReadOnlyView[Mapping[bytes, int]](lambda self: self._listen().view)

    def waitForSubscribers(
        self, count: int = 1, tag: bytes | str = b"", timeout: float | None = None
    ) -> Deferred[None]:
        """
        Fire (with None) once at least *count* subscriptions matching *tag* have
        reached this publisher: subscriptions to ``b""`` or to any prefix of *tag*,
        counted as in ``subscriptions``. Fires at once if that is already so.

        A message published after it fires reaches those subscribers (the cure
        for ZeroMQ's slow joiner). With *timeout* (seconds, on the factory's
        reactor) it fails with SubscriberTimeout when that passes first; it fails
        with ConnectionClosed on shutdown, and can be cancelled.

        .. versionadded:: 0.1.0
        """
        return self._listen().waitFor(count, asBytes(tag, "tag"), timeout)

    def onSubscription(self, callback: Callable[[bytes, bool], object]) -> Callable[[], None]:
        """
        Call ``callback(prefix, subscribed)`` for every subscription message from
        now on: *subscribed* is True for a subscribe, False for an unsubscribe
        (also the one libzmq sends for a peer that disconnects). Returns a
        function that unregisters the callback (calling it twice is fine).
        Exceptions from the callback are logged and do not stop the others.

        .. versionadded:: 0.1.0
        """
        # Listen first, so that what was queued before is not reported.
        return self._listen().observe(callback)

    def _recheck(self) -> None:
        """A send may have swallowed the reader's edge: read subscriptions now."""
        self._recheckCall = None
        if not self._listening:
            self._listen()
        elif not self._closed:
            self._reader.doRead()

    def _startWriting(self) -> None:
        self._listen()

    def _listen(self) -> Awareness:
        """Start reading subscriptions (once), and read those already queued now."""
        if not (self._listening or self._closed):
            self._listening = True
            self._reader.start()
            self._reader.doRead()
        return self._awareness
