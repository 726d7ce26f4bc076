"""
A lossy network for sequenced pub/sub tests: an XSUB/XPUB forwarder that drops data messages.

``LossyForwarder`` binds an XSUB (publishers connect to ``front``) and an XPUB
(subscribers connect to ``back``) and forwards between them in a thread of its
own, as ``txzpub proxy`` or ``zmq.proxy`` would, except that it drops a known
pseudo-random fraction of the sequenced data messages it forwards downstream,
and records each one it dropped.

Rules:

1. Only data messages can be dropped: three frames whose third is a stamp,
   on any tag but the heartbeats'. Heartbeats, subscriptions and any other
   message always pass.
2. Each data message draws one number from ``random.Random(seed)``, dropped
   (below ``rate``) or not, in the order the forwarder receives them: with
   one publisher the same seed drops the same messages on every run. With
   several, what is dropped depends on how their messages interleave, but it
   is recorded. ``rate`` can be changed at any time (0: drop nothing more).
3. A message whose (tag, sequence) was named in ``drop`` (or ``alsoDrop``)
   is dropped whatever the draw: a test forces the loss of the last message
   of a tag this way.
4. A number 1 is spared by the random draw unless ``dropFirst``: a
   subscriber starts a stream at the first number it sees (a late joiner),
   so losing number 1 of a stream is never detected, by design.
5. Subscriptions from ``back`` go upstream to the publishers. The XPUB is
   XPUB_VERBOSER: every subscribe passes (as through ``txzpub proxy``), and
   every unsubscribe too, so a publisher's last value cache and awareness
   API see each subscriber.
6. The sockets belong to the thread once it runs; ``stop()`` (or leaving the
   ``with`` block) ends it through a PAIR socket and closes them, before the
   context can be terminated under it.
7. ``hold()`` keeps every message from the publishers (data and heartbeats,
   in order, after the drop decision) until ``release()``: a slow link, or
   one that stalls, without reordering anything. ``release(n)`` forwards only
   up to and with the next *n* heartbeats, and goes on holding.

Use it as a context manager on the factory's context, with inproc addresses
(one context, no kernel buffers: the high-water marks are exact)::

    with LossyForwarder(factory.context, rate=0.05, seed=7) as network:
        pub = ZmqPubConnection(factory, connect(network.front), sequenced=True)
        sub = ZmqSubConnection(factory, connect(network.back))
        ...  # subscribe, wait for the subscriptions upstream, publish
        await until(lambda: network.received == published, "the forwarder to see them")
        network.count(b"t")  # how many of tag t it dropped; network.drops says which

``received`` counts the data messages the forwarder has read, so once it
reaches what was published, ``drops`` is final.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
from collections import deque
from collections.abc import Iterable
from types import TracebackType
from typing import NamedTuple

import zmq

__all__ = ["HEARTBEAT_TAG", "Drop", "LossyForwarder", "stampOf"]

#: The reserved tag of a sequenced publisher's heartbeats (the wire format's, spelled out).
HEARTBEAT_TAG = b"\xa7txzpub.heartbeat"
_DATA_STAMP = b"\xa7tz1D"
_DATA_STAMP_SIZE = len(_DATA_STAMP) + 16 + 8

_names = itertools.count()


class Drop(NamedTuple):
    """One data message the forwarder dropped."""

    publisher: bytes
    tag: bytes
    sequence: int


def stampOf(frames: list[bytes]) -> tuple[bytes, int] | None:
    """(publisher, sequence) of a sequenced data message's frames; None for anything else."""
    if len(frames) != 3 or frames[0] == HEARTBEAT_TAG:
        return None
    stamp = frames[2]
    if len(stamp) != _DATA_STAMP_SIZE or not stamp.startswith(_DATA_STAMP):
        return None
    return stamp[5:21], int.from_bytes(stamp[-8:], "big")


class LossyForwarder:
    """An XSUB/XPUB forwarder in a thread that drops data messages; see the module rules."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]] | None,
        *,
        rate: float = 0.0,
        seed: int = 0,
        drop: Iterable[tuple[bytes, int]] = (),
        dropFirst: bool = False,
        front: str | None = None,
        back: str | None = None,
    ) -> None:
        if context is None:
            msg = "the factory was shut down: a forwarder needs its live context"
            raise ValueError(msg)
        name = f"inproc://lossy-{os.getpid()}-{next(_names)}"
        #: Where publishers connect, and where subscribers connect.
        self.front = front or f"{name}-front"
        self.back = back or f"{name}-back"
        self._rate = rate
        self._random = random.Random(seed)
        self._dropFirst = dropFirst
        self._lock = threading.Lock()
        self._forced = set(drop)
        self._drops: list[Drop] = []
        self._data = 0
        self._heldBeats = 0
        self._passedBeats = 0
        self._heldOthers = 0
        self._thread: threading.Thread | None = None
        sockets: list[zmq.Socket[bytes]] = []
        try:
            self._xsub = context.socket(zmq.XSUB)
            sockets.append(self._xsub)
            self._xpub = context.socket(zmq.XPUB)
            sockets.append(self._xpub)
            for socket in sockets:
                socket.linger = 0
            self._xpub.set(zmq.XPUB_VERBOSER, 1)
            self._xsub.bind(self.front)
            self._xpub.bind(self.back)
            self._control = context.socket(zmq.PAIR)
            sockets.append(self._control)
            self._stopper = context.socket(zmq.PAIR)
            sockets.append(self._stopper)
            self._control.bind(f"{name}-control")
            self._stopper.connect(f"{name}-control")
        except BaseException:
            for socket in sockets:
                socket.close(0)
            raise

    # -- what a test asks --------------------------------------------------------------------

    @property
    def drops(self) -> list[Drop]:
        """Every data message dropped so far, in the order received."""
        with self._lock:
            return list(self._drops)

    @property
    def dropped(self) -> list[tuple[bytes, int]]:
        """(tag, sequence) of every data message dropped so far."""
        return [(each.tag, each.sequence) for each in self.drops]

    @property
    def received(self) -> int:
        """Data messages received from publishers so far, dropped or forwarded."""
        with self._lock:
            return self._data

    def count(self, tag: bytes | None = None, publisher: bytes | None = None) -> int:
        """How many data messages were dropped, of *tag* and of *publisher* when given."""
        return sum(
            1
            for each in self.drops
            if (tag is None or each.tag == tag)
            and (publisher is None or each.publisher == publisher)
        )

    def sequences(self, tag: bytes, publisher: bytes | None = None) -> list[int]:
        """The sequence numbers of *tag* dropped so far, sorted."""
        return sorted(
            each.sequence
            for each in self.drops
            if each.tag == tag and (publisher is None or each.publisher == publisher)
        )

    @property
    def rate(self) -> float:
        """The fraction of data messages dropped at random; set it to 0 for a clean network."""
        with self._lock:
            return self._rate

    @rate.setter
    def rate(self, rate: float) -> None:
        with self._lock:
            self._rate = rate

    def alsoDrop(self, tag: bytes, sequence: int) -> None:
        """Drop the message *sequence* of *tag* when it comes (rule 3)."""
        with self._lock:
            self._forced.add((tag, sequence))

    def hold(self) -> None:
        """From now on keep every message from the publishers, in order, until released (rule 7)."""
        self._stopper.send_multipart([b"hold"])

    def release(self, heartbeats: int | None = None) -> None:
        """
        Forward what is held, in order: everything (and stop holding), or
        only up to and with the next *heartbeats* heartbeats (and go on holding).
        """
        self._stopper.send_multipart([b"release", b"%d" % heartbeats if heartbeats else b""])

    @property
    def heartbeats(self) -> int:
        """Heartbeats forwarded so far."""
        with self._lock:
            return self._passedBeats

    @property
    def heldHeartbeats(self) -> int:
        """Heartbeats held now."""
        with self._lock:
            return self._heldBeats

    @property
    def heldMessages(self) -> int:
        """Other messages (data) held now."""
        with self._lock:
            return self._heldOthers

    # -- running ------------------------------------------------------------------------------

    def start(self) -> LossyForwarder:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="LossyForwarder", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """End the thread and close its sockets; calling it twice is fine."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopper.send_multipart([b"stop"])
            thread.join(10)
            if thread.is_alive():  # pragma: no cover - a stuck forwarder
                msg = "the lossy forwarder did not stop"
                raise AssertionError(msg)
        elif not self._xsub.closed:  # never started: its sockets are still ours
            for socket in (self._xsub, self._xpub, self._control):
                socket.close(0)
        if not self._stopper.closed:
            self._stopper.close(0)

    def __enter__(self) -> LossyForwarder:  # noqa: PYI034 - Self is 3.11; this class is final
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        xsub, xpub, control = self._xsub, self._xpub, self._control
        poller = zmq.Poller()
        for socket in (xsub, xpub, control):
            poller.register(socket, zmq.POLLIN)
        held: deque[list[bytes]] = deque()
        holding: bool | None = False
        try:
            while True:
                ready = dict(poller.poll())
                if control in ready:
                    holding = self._command(control.recv_multipart(), held)
                    if holding is None:
                        return
                if xpub in ready:  # subscriptions go upstream (rule 5)
                    xsub.send_multipart(xpub.recv_multipart())
                if xsub in ready:
                    frames = xsub.recv_multipart()
                    if self._drop(frames):
                        continue
                    if holding:
                        held.append(frames)
                        self._count(frames, +1)
                    else:
                        self._forward(frames)
        finally:
            for socket in (xsub, xpub, control):
                socket.close(0)

    def _command(self, command: list[bytes], held: deque[list[bytes]]) -> bool | None:
        """Carry out a command from the test's thread: whether to hold now, None to stop."""
        if command[0] == b"stop":
            return None
        if command[0] == b"hold":
            return True
        beats = int(command[1]) if command[1] else None  # release (rule 7)
        self._release(held, beats)
        return beats is not None

    def _release(self, held: deque[list[bytes]], beats: int | None) -> None:
        """Forward what is held, in order: all of it, or up to and with the *beats*-th heartbeat."""
        sent = 0
        while held and (beats is None or sent < beats):
            frames = held.popleft()
            self._count(frames, -1)
            self._forward(frames)
            sent += frames[0] == HEARTBEAT_TAG

    def _forward(self, frames: list[bytes]) -> None:
        self._xpub.send_multipart(frames)
        if frames[0] == HEARTBEAT_TAG:
            with self._lock:
                self._passedBeats += 1

    def _count(self, frames: list[bytes], change: int) -> None:
        with self._lock:
            if frames[0] == HEARTBEAT_TAG:
                self._heldBeats += change
            else:
                self._heldOthers += change

    def _drop(self, frames: list[bytes]) -> bool:
        stamp = stampOf(frames)
        if stamp is None:  # rule 1
            return False
        publisher, sequence = stamp
        tag = frames[0]
        draw = self._random.random()  # one per data message, dropped or not (rule 2)
        with self._lock:
            self._data += 1
            forced = (tag, sequence) in self._forced
            if forced or (draw < self._rate and (sequence > 1 or self._dropFirst)):
                self._drops.append(Drop(publisher, tag, sequence))
                return True
        return False
