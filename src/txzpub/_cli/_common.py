# -*- test-case-name: tests.test_cli -*-
"""
What every subcommand shares: exit statuses, usage errors, endpoint parsing and
the lines written to stderr.

Endpoints are ZeroMQ's strings. A leading ``@`` (bind) or ``>`` (connect), as
CZMQ spells it, overrides a command's default, which is how ``proxy`` connects
one side to another proxy; ``--bind``/``--connect`` do the same for pub and sub.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

import zmq

from txzpub import ZmqEndpoint, ZmqEndpointType

__all__ = [
    "EXIT_BUG",
    "EXIT_NOTHING",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "addAttachOptions",
    "attachedAddress",
    "complain",
    "endpointFrom",
    "nonNegativeFloat",
    "nonNegativeInt",
    "positiveFloat",
    "positiveInt",
    "say",
    "topicBytes",
]

#: Success, and how pub, sub and proxy end after Ctrl-C or SIGTERM.
EXIT_OK = 0
#: sub: --timeout passed before the messages it waited for arrived.
EXIT_NOTHING = 1
#: Bad input: a malformed endpoint, an unknown transport, an address in use, a bad argument.
EXIT_USAGE = 2
#: An unexpected error, a bug: reported with its traceback (BSD's EX_SOFTWARE).
EXIT_BUG = 70

#: The transports libzmq knows; whether this build supports one is libzmq's to say.
TRANSPORTS = ("tcp", "ipc", "inproc", "pgm", "epgm", "tipc", "vmci", "ws", "wss", "udp", "norm")

_PREFIXES = {"@": ZmqEndpointType.bind, ">": ZmqEndpointType.connect}


class UsageError(Exception):
    """Bad input: reported as one line on stderr, exit status 2."""


def say(command: str, text: str) -> None:
    """Write one progress line to stderr, e.g. ``txzpub sub: subscribed to ...``."""
    sys.stderr.write(f"txzpub {command}: {text}\n")
    sys.stderr.flush()


def complain(command: str, text: str) -> None:
    """Write a one-line error to stderr, as argparse does."""
    say(command, f"error: {text}")


def endpointFrom(text: str, default: str, *, flag: str | None = None) -> ZmqEndpoint:
    """
    Parse *text* into a ZmqEndpoint, bound or connected as its prefix (``@``, ``>``),
    *flag* (``--bind``/``--connect``) or else *default* says.

    Raises UsageError for anything libzmq would refuse as malformed, and for
    inproc://, which no other process can reach.
    """
    kind = flag or default
    address = text
    if text[:1] in _PREFIXES:
        kind, address = _PREFIXES[text[0]], text[1:]
        if flag is not None and flag != kind:
            msg = f"{text!r} says {kind} but --{flag} was given; use one or the other"
            raise UsageError(msg)
    checkAddress(address, kind)
    return ZmqEndpoint(kind, address)


def checkAddress(address: str, kind: str) -> None:
    """Raise UsageError saying what is wrong with *address*, if anything is."""
    example = "write it as tcp://127.0.0.1:5555 or ipc:///tmp/name"
    transport, separator, rest = address.partition("://")
    if not separator:
        msg = f"malformed endpoint {address!r}: {example}"
        raise UsageError(msg)
    if transport not in TRANSPORTS:
        msg = f"unknown transport {transport + '://'!r} in {address!r}: use tcp:// or ipc://"
        raise UsageError(msg)
    if transport == "inproc":
        msg = f"{address!r}: inproc:// reaches only sockets in the same process; use tcp:// or ipc://"
        raise UsageError(msg)
    if not rest:
        msg = f"malformed endpoint {address!r}: nothing after {transport}://; {example}"
        raise UsageError(msg)
    if transport == "tcp":
        _checkTcp(address, rest.rpartition(";")[2], kind, example)


def _checkTcp(address: str, hostPort: str, kind: str, example: str) -> None:
    host, colon, port = hostPort.rpartition(":")
    if not colon or not host:
        msg = f"malformed endpoint {address!r}: tcp:// needs HOST:PORT; {example}"
        raise UsageError(msg)
    wildcard = port in {"*", "0"}
    if wildcard and kind == ZmqEndpointType.bind:
        return
    if not port.isdigit() or not 0 < int(port) < 65536:
        allowed = "1 to 65535"
        if kind == ZmqEndpointType.bind:
            allowed += ", or * for any free port"
        msg = f"malformed endpoint {address!r}: the port must be {allowed}, not {port!r}"
        raise UsageError(msg)


def topicBytes(topic: str) -> bytes:
    """A topic from the command line as bytes: UTF-8, or the bytes the shell passed."""
    return topic.encode("utf-8", "surrogateescape")


def addAttachOptions(parser: argparse.ArgumentParser, default: str, other: str) -> None:
    """
    --bind / --connect (one or neither) into ``args.attach``.

    *default* (a ZmqEndpointType) is what applies without either; *other*
    says when to use the other one.
    """
    group = parser.add_mutually_exclusive_group()
    for kind in (ZmqEndpointType.bind, ZmqEndpointType.connect):
        meaning = "bind ENDPOINT" if kind == ZmqEndpointType.bind else "connect to ENDPOINT"
        note = "the default" if kind == default else other
        group.add_argument(
            f"--{kind}",
            dest="attach",
            action="store_const",
            const=kind,
            help=f"{meaning} ({note})",
        )


def attachedAddress(socket: Any, endpoint: ZmqEndpoint) -> str:
    """The address *socket* is attached to: a bound wildcard port resolved to the real one."""
    if endpoint.type == ZmqEndpointType.bind:
        return str(socket.get_string(zmq.LAST_ENDPOINT))
    return endpoint.address


# -- argument types: argparse reports their errors as one line, exit status 2


def positiveInt(text: str) -> int:
    return _whole(text, 1)


def nonNegativeInt(text: str) -> int:
    return _whole(text, 0)


def positiveFloat(text: str) -> float:
    return _real(text, allowZero=False)


def nonNegativeFloat(text: str) -> float:
    return _real(text, allowZero=True)


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        msg = f"must be a whole number >= {least}, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _real(text: str, *, allowZero: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and (value > 0 or (allowZero and value == 0))):
        msg = f"must be a number {'>=' if allowZero else '>'} 0, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value
