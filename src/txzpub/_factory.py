# -*- test-case-name: tests.test_connection -*-
"""
ZmqFactory: one ZeroMQ context, the reactor, and every connection made with it.

The factory is the only place that may fall back to the global reactor, and
it imports it lazily, so tests (and applications with a custom reactor) pass
their own and nothing else ever touches the global one.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, cast

import zmq

from ._authenticator import ZapHandler
from ._errors import ConnectionClosed
from ._reactors import ZmqReactor

if TYPE_CHECKING:
    from ._connection import ZmqConnection

__all__ = ["ZmqFactory"]


class ZmqFactory:
    """
    Owns a ZeroMQ context and the connections made with it, as in txZMQ.

    Pass *reactor* to use one other than the global reactor (tests pass a fake
    one); subclasses may also set the ``reactor`` class attribute, as txZMQ
    allowed.

    .. versionadded:: 0.1.0
    """

    #: The reactor every connection of this factory uses: the global reactor
    #: unless one is given (or a subclass sets this attribute, as txZMQ allowed).
    reactor: ZmqReactor = cast("ZmqReactor", None)
    #: ZeroMQ I/O threads for the context.
    ioThreads = 1
    #: Milliseconds a closing socket may keep trying to deliver queued messages.
    lingerPeriod = 100

    def __init__(self, reactor: ZmqReactor | None = None) -> None:
        if reactor is not None:
            self.reactor = reactor
        elif getattr(type(self), "reactor", None) is None:
            from twisted.internet import reactor as global_reactor  # noqa: PLC0415

            self.reactor = global_reactor
        #: The live connections; shutdown() closes them all.
        self.connections: set[ZmqConnection] = set()
        #: The zmq.Context; None once the factory is shut down.
        self.context: zmq.Context[zmq.Socket[bytes]] | None = zmq.Context(self.ioThreads)
        self._trigger: object = None
        self._zap: ZapHandler | None = None

    def __repr__(self) -> str:
        return "ZmqFactory()"

    @property
    def closed(self) -> bool:
        """True once shutdown() has run."""
        return self.context is None

    def shutdown(self) -> None:
        """
        Shut every connection down, then terminate the context.

        Pending ``next()`` Deferreds of every connection fail with
        ConnectionClosed. Terminating waits at most ``lingerPeriod`` ms for
        unsent messages. Calling it twice is fine.
        """
        context = self.context
        if context is None:
            return
        for connection in list(self.connections):
            connection.shutdown()
        self.connections.clear()
        if self._zap is not None:
            self._zap.stop()
            self._zap = None
        self.context = None
        # destroy(), not term(): a socket the application made from this
        # context and forgot to close must not hang the shutdown.
        context.destroy(linger=self.lingerPeriod)
        trigger, self._trigger = self._trigger, None
        if trigger is not None:
            with suppress(ValueError, KeyError):  # the trigger is running right now
                self.reactor.removeSystemEventTrigger(trigger)

    def _liveContext(self) -> zmq.Context[zmq.Socket[bytes]]:
        """The ZeroMQ context; ConnectionClosed once the factory is shut down."""
        if self.context is None:
            msg = "the factory was shut down; create a new ZmqFactory"
            raise ConnectionClosed(msg)
        return self.context

    def _zapHandler(self) -> ZapHandler:
        """This context's ZAP handler (started on first use, by the first CURVE server)."""
        if self._zap is None:
            self._zap = ZapHandler(self._liveContext(), self.reactor)
        return self._zap

    def registerForShutdown(self) -> None:
        """Shut this factory down when the reactor shuts down (recommended)."""
        if self._trigger is None and self.context is not None:
            self._trigger = self.reactor.addSystemEventTrigger("during", "shutdown", self.shutdown)
