# -*- test-case-name: tests.test_security -*-
"""
The ZAP handler: libzmq's authentication requests answered on the reactor.

libzmq sends a ZAP request over ``inproc://zeromq.zap.01`` of the socket's
context for each peer that completes a CURVE handshake with a socket that
has a ZAP domain, and holds the peer until the reply. pyzmq's
ThreadAuthenticator answers from a thread; this one is a ROUTER socket read
by a SocketReader, like any other connection, so no thread is needed and
policies change on the reactor thread without locks.

One handler serves a context: each CURVE server connection registers its
AccessPolicy under a ZAP domain of its own, and removes it on shutdown (its
peers are then refused). Decisions are logged with the peer's address and
key fingerprint, never the key.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import zmq
from twisted.logger import Logger

from ._core._zap import (
    AccessPolicy,
    ZapProtocolError,
    decide,
    encodeReply,
    parseRequest,
    refusal,
)
from ._errors import SecurityError
from ._reactors import ZmqReactor
from ._reader import SocketReader
from ._security import CurveClient, CurveServer, Security

__all__ = ["ZAP_ENDPOINT", "ZapHandler", "secureSocket"]

_log = Logger()

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
# Requests are few (one per handshake); small batches keep a connection storm
# from delaying other sockets.
_BATCH = 64
_domains = itertools.count(1)


class ZapHandler:
    """Answers the ZAP requests of one ZeroMQ context, on *reactor*."""

    def __init__(self, context: zmq.Context[Any], reactor: ZmqReactor) -> None:
        socket: zmq.Socket[bytes] = context.socket(zmq.ROUTER)
        socket.set(zmq.LINGER, 0)
        try:
            socket.bind(ZAP_ENDPOINT)
        except zmq.ZMQError as error:
            socket.close(linger=0)
            msg = (
                "another ZAP handler already serves this ZeroMQ context (for example "
                "zmq.auth's ThreadAuthenticator); use a ZmqFactory of its own for CURVE "
                f"servers, or stop the other handler ({zmq.strerror(error.errno or 0)})"
            )
            raise SecurityError(msg) from error
        self._socket: zmq.Socket[bytes] | None = socket
        self._policies: dict[bytes, tuple[AccessPolicy, object]] = {}
        self.accepted = 0
        self.refused = 0
        self._reader = SocketReader(
            socket, int(socket.get(zmq.FD)), reactor, self._onBatch, _BATCH, "ZAP"
        )
        self._reader.start()

    def register(self, policy: AccessPolicy, owner: object) -> bytes:
        """A new ZAP domain for a socket whose peers *policy* governs; *owner* names it in logs."""
        domain = f"txzpub-{next(_domains)}".encode()
        self._policies[domain] = (policy, owner)
        return domain

    def unregister(self, domain: bytes) -> None:
        self._policies.pop(domain, None)

    def stop(self) -> None:
        """Stop answering; libzmq then refuses every pending and later handshake."""
        socket, self._socket = self._socket, None
        if socket is None:
            return
        self._reader.stop()
        socket.close(linger=0)

    def _onBatch(self, batch: list[list[bytes]]) -> None:
        for frames in batch:
            if self._socket is None:
                return
            reply = self._answer(frames)
            if reply is not None:
                try:
                    self._socket.send_multipart(reply, zmq.NOBLOCK)
                except zmq.ZMQError:
                    _log.failure("could not send a ZAP reply; the peer's handshake fails")
        self._reader.kick()

    def _answer(self, frames: list[bytes]) -> list[bytes] | None:
        """The reply frames (with the envelope), or None for garbage, which gets none."""
        try:
            delimiter = frames.index(b"")
        except ValueError:
            _log.warn("ignored a ZAP message without an envelope delimiter")
            return None
        envelope, body = frames[: delimiter + 1], frames[delimiter + 1 :]
        try:
            request = parseRequest(body)
        except ZapProtocolError as error:
            _log.warn("ignored a malformed ZAP request: {error}", error=str(error))
            return None
        served = self._policies.get(request.domain)
        if served is None:
            self.refused += 1
            _log.warn(
                "refused a peer at {address}: its socket is closed or not served here",
                address=request.address,
            )
            return envelope + refusal(request.requestId, "no such domain")
        policy, owner = served
        decision = decide(policy, request)
        if decision.accepted:
            self.accepted += 1
            _log.debug(
                "{connection!r}: admitted the CURVE client at {address} (key fingerprint {peer})",
                connection=owner,
                address=request.address,
                peer=decision.peer,
            )
        else:
            self.refused += 1
            _log.warn(
                "{connection!r}: refused the client at {address} "
                "(key fingerprint {peer}): {reason}",
                connection=owner,
                address=request.address,
                peer=decision.peer or "none",
                reason=decision.reason,
            )
        return envelope + encodeReply(request, decision)


def secureSocket(
    socket: zmq.Socket[Any],
    security: Security | None,
    zapHandler: Callable[[], ZapHandler],
    owner: object,
) -> bytes | None:
    """
    Set *security*'s CURVE options on *socket*, before it binds or connects.

    A server's policy is registered with the handler *zapHandler* returns,
    named *owner* in its logs; the ZAP domain is returned, to unregister on close.
    """
    if isinstance(security, CurveServer):
        socket.set(zmq.CURVE_SERVER, 1)
        socket.set(zmq.CURVE_SECRETKEY, security.keys.secretKey)
        domain = zapHandler().register(security.policy, owner)
        socket.set(zmq.ZAP_DOMAIN, domain)
        return domain
    if isinstance(security, CurveClient):
        socket.set(zmq.CURVE_SERVERKEY, security.serverKey)
        socket.set(zmq.CURVE_PUBLICKEY, security.keys.publicKey)
        socket.set(zmq.CURVE_SECRETKEY, security.keys.secretKey)
    return None
