# -*- test-case-name: tests.test_service -*-
"""
Twisted services: run a txzpub publisher or subscriber under ``twistd``.

A service creates its connection on startService() and shuts it down on
stopService(), so it follows the application's lifecycle::

    from twisted.application import service
    from txzpub import PublisherService, SubscriberService, ZmqEndpoint, ZmqEndpointType

    async def consume(sub):
        async for msg in sub.subscribe(b"news"):  # ends when the service stops
            print(msg.body)

    application = service.Application("news")
    SubscriberService(
        ZmqEndpoint(ZmqEndpointType.connect, "tcp://127.0.0.1:5555"), run=consume
    ).setServiceParent(application)

*run*, if given, is called with the new connection once it exists; it may
return a Deferred or a coroutine (which is then run with ensureDeferred).
stopService() shuts the connection down (ending ``async for`` loops and
failing pending ``next()``), cancels *run*'s Deferred if it is still going,
waits for it, and shuts down the factory if the service made it. It returns
that Deferred, so twistd waits for the component to finish. Failures of *run*
other than ConnectionClosed and cancellation are logged.

Imports only the public txzpub API, as user code would.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, ensureDeferred, succeed
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import Logger
from twisted.python.failure import Failure

from txzpub import (
    ConnectionClosed,
    ZmqConnection,
    ZmqEndpoint,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)

__all__ = ["PublisherService", "SubscriberService"]

_log = Logger()

C = TypeVar("C", bound=ZmqConnection)


class _ConnectionService(Service, Generic[C]):
    """A connection that lives from startService() to stopService()."""

    connectionClass: type[C]

    def __init__(
        self,
        endpoints: ZmqEndpoint | Sequence[ZmqEndpoint],
        *,
        factory: ZmqFactory | None = None,
        run: Callable[[C], object] | None = None,
        connectionClass: type[C] | None = None,
        **connectionOptions: Any,
    ) -> None:
        if isinstance(endpoints, (str, bytes)):
            msg = f"endpoints must be a ZmqEndpoint or a list of them, not {endpoints!r}"
            raise TypeError(msg)
        self._endpoints = [endpoints] if isinstance(endpoints, ZmqEndpoint) else list(endpoints)
        for each in self._endpoints:
            if not isinstance(each, ZmqEndpoint):
                msg = f"endpoints must be ZmqEndpoints, not {each!r} ({type(each).__name__})"
                raise TypeError(msg)
        if factory is not None and not isinstance(factory, ZmqFactory):
            msg = f"factory must be a txzpub.ZmqFactory or None, not {factory!r}"
            raise TypeError(msg)
        if run is not None and not callable(run):
            msg = f"run must be callable or None, not {run!r}"
            raise TypeError(msg)
        self._givenFactory = factory
        self._run = run
        if connectionClass is not None:
            self.connectionClass = connectionClass
        _checkOptions(self.connectionClass, connectionOptions)
        self._options = connectionOptions
        self._ownFactory: ZmqFactory | None = None
        self._running: Deferred[object] | None = None
        #: The connection while the service runs; None before and after.
        self.connection: C | None = None

    @property
    def factory(self) -> ZmqFactory | None:
        """The factory in use while running (given, or made by the service)."""
        if self._givenFactory is not None:
            return self._givenFactory
        return self._ownFactory

    def startService(self) -> None:
        factory = self._givenFactory
        if factory is None:
            factory = self._ownFactory = ZmqFactory()
        try:
            connection = self.connectionClass(factory, **self._options)
            try:
                connection.addEndpoints(self._endpoints)
            except BaseException:
                connection.shutdown()
                raise
        except BaseException:
            ownFactory, self._ownFactory = self._ownFactory, None
            if ownFactory is not None:
                ownFactory.shutdown()
            raise
        self.connection = connection
        super().startService()  # type: ignore[no-untyped-call]
        if self._run is not None:
            self._running = self._start(connection, self._run)

    def _start(self, connection: C, run: Callable[[C], object]) -> Deferred[object]:
        try:
            result = run(connection)
        except Exception:  # noqa: BLE001 - a failing component is logged, not fatal to twistd
            return self._watch(_failed())
        if inspect.iscoroutine(result):
            return self._watch(ensureDeferred(result))
        if isinstance(result, Deferred):
            return self._watch(result)
        return succeed(result)

    def _watch(self, running: Deferred[object]) -> Deferred[object]:
        def report(failure: Failure) -> None:
            expected = failure.check(ConnectionClosed, CancelledError)  # type: ignore[no-untyped-call]
            if expected is None:
                _log.failure("{service!r}: the component failed", failure, service=self)

        running.addErrback(report)
        return running

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.shutdown()
        running, self._running = self._running, None
        if running is not None and not running.called:
            running.cancel()
        done: Deferred[Any] = running if running is not None else succeed(None)

        def finish(_: object) -> None:
            factory, self._ownFactory = self._ownFactory, None
            if factory is not None:
                factory.shutdown()

        return done.addBoth(finish)


def _checkOptions(connectionClass: type[ZmqConnection], options: dict[str, Any]) -> None:
    """
    Options the connection's constructor would refuse (unknown names, bad
    values) are refused now, when the service is built, not when twistd
    starts it.
    """
    try:
        inspect.signature(connectionClass).bind(None, **options)  # None: the factory
    except TypeError as error:
        known = [
            name
            for name, parameter in inspect.signature(connectionClass).parameters.items()
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        msg = f"{connectionClass.__name__} {error}; its options are {', '.join(known)}"
        raise TypeError(msg) from None
    if connectionClass.__init__.__module__.startswith("txzpub."):
        # The values too: build the connection once, attached to nothing (but
        # its replay endpoints), on a factory and a reactor of its own, and
        # close it. (Not for a subclass with its own constructor, whose side
        # effects are its own.)
        rehearsal = ZmqFactory(MemoryReactorClock())  # type: ignore[no-untyped-call]
        try:
            connectionClass(rehearsal, **options).shutdown()
        finally:
            rehearsal.shutdown()


def _failed() -> Deferred[object]:
    d: Deferred[object] = Deferred()
    d.errback(Failure())  # type: ignore[no-untyped-call]
    return d


class PublisherService(_ConnectionService[ZmqPubConnection]):
    """
    A ZmqPubConnection from startService() to stopService().

    ``PublisherService(endpoints, factory=None, run=None, **options)``:
    *endpoints* (one ZmqEndpoint or several) are attached in order; *options*
    go to the ZmqPubConnection constructor; without *factory*, the service
    makes one and shuts it down on stopService(). ``service.connection`` is
    the publisher while running.

    .. versionadded:: 0.1.0
    """

    connectionClass = ZmqPubConnection


class SubscriberService(_ConnectionService[ZmqSubConnection]):
    """
    A ZmqSubConnection from startService() to stopService(); see
    PublisherService for the arguments. Subscribe in *run*, which is called
    with the connection: an ``async def`` that loops ``async for`` over a
    subscription ends by itself when the service stops.

    .. versionadded:: 0.1.0
    """

    connectionClass = ZmqSubConnection
