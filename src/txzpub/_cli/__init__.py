# -*- test-case-name: tests.test_cli -*-
"""
The ``txzpub`` command line (also ``python -m txzpub``).

    txzpub sub ENDPOINT [-t TOPIC]... [--json] [--count N] [--timeout S]
               [--replay ADDR]... [--replay-timeout S] [--stats] [CURVE]
    txzpub pub ENDPOINT [-t TOPIC] [--multipart] [--rate R] [--wait-subscribers N]
               [-m MSG]... [--sequenced [--replay ADDR] [--replay-depth N]
               [--heartbeat S]] [CURVE]
    txzpub proxy [--shape forwarder|queue|streamer] --frontend ENDPOINT
                 --backend ENDPOINT [--capture ENDPOINT] [--stats SECONDS] [CURVE]
                 (the forwarder's sides are also --xsub and --xpub)
    txzpub push ENDPOINT [-m MSG]... [CURVE]
    txzpub pull ENDPOINT [--json] [--count N] [--timeout S] [CURVE]
    txzpub req ENDPOINT [-m MSG]... [--timeout S] [--json] [CURVE]
    txzpub rep ENDPOINT [--echo | --reply MSG] [--count N] [--json] [CURVE]
    txzpub keygen NAME [--directory DIR] [--force]
    txzpub demo [--seconds S]
    txzpub bench [--messages N] [--size B] [--transport inproc|ipc|tcp]

CURVE (see _security): --curve-server-key KEY, --curve-client-key PATH,
--allow-key KEY..., --allow-any-key, --allow-ip/--deny-ip ADDR[/BITS]...,
--max-message-size BYTES.

Data goes to stdout, progress and errors to stderr. Exit status: 0 on success
and after Ctrl-C or SIGTERM (pub, sub, push, pull, req, rep, proxy); 1 when
``sub --timeout`` or ``pull --timeout`` ended short, or a ``req --timeout``
passed; 2 for bad input (one line on stderr, never a traceback); 128 + the
signal's number for demo and bench cut short; 70 for a bug. Built on the public
txzpub API, but for key fingerprints and the proxy's raw sockets (which use the
library's ZAP handler and socket monitor); each subcommand lives in its own
module.

A module may also define ``checkArguments(args)``, raising UsageError for
what argparse cannot check alone (options that depend on each other): its
message is reported as argparse reports its own, before anything runs.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import NoReturn

from txzpub import __version__

from . import _bench, _demo, _keygen, _proxy, _pub, _pull, _push, _rep, _req, _sub
from ._common import EXIT_OK, EXIT_USAGE, UsageError
from ._runner import Interrupted, exitEarlyOnSignals, runCommand
from ._security import keysAsOneArgument

__all__ = ["main"]


def _keepsRunning(signum: int) -> int:
    return EXIT_OK


def _wasCut(signum: int) -> int:
    return 128 + signum


#: name -> (module with addArguments and run, one-line help, exit status after a signal)
COMMANDS: dict[str, tuple[ModuleType, str, Callable[[int], int]]] = {
    "sub": (_sub, "print the messages published on some topics, one per line", _keepsRunning),
    "pub": (_pub, "publish each line of stdin (or each -m) on a topic", _keepsRunning),
    "push": (_push, "push each line of stdin (or each -m) to pullers, each to one", _keepsRunning),
    "pull": (_pull, "print the messages pushers send, one per line", _keepsRunning),
    "req": (
        _req,
        "send each line of stdin (or each -m) as a request; print the replies",
        _keepsRunning,
    ),
    "rep": (_rep, "answer requests (--echo: with the request), printing each", _keepsRunning),
    "proxy": (
        _proxy,
        "forward with libzmq's proxy: publishers to subscribers, or work shared by workers",
        _keepsRunning,
    ),
    "keygen": (
        _keygen,
        "make a CURVE key pair: NAME.key (public) and NAME.key_secret (secret)",
        _wasCut,
    ),
    "demo": (
        _demo,
        "a publisher and three subscribers in one process, for a few seconds",
        _wasCut,
    ),
    "bench": (_bench, "measure txzpub's throughput and latency on this machine", _wasCut),
}


class Parser(argparse.ArgumentParser):
    """argparse, with errors on one line: ``txzpub sub: error: ... (see --help)``."""

    #: The subcommands' own parsers, by name, so their errors name them.
    commandParsers: dict[str, Parser]

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def parser() -> Parser:
    made = Parser(
        prog="txzpub",
        description="Deferred-first ZeroMQ publish/subscribe for Twisted, at the command line.",
        epilog="Endpoints: tcp://HOST:PORT, ipc:///PATH; a leading @ binds, > connects. "
        "CURVE: `txzpub keygen NAME` makes a key pair; see --curve-server-key in "
        "`txzpub pub --help`.",
    )
    made.add_argument("--version", action="version", version=f"txzpub {__version__}")
    made.commandParsers = {}
    commands = made.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, summary, _) in COMMANDS.items():
        sub = commands.add_parser(
            name, help=summary, description=summary[:1].upper() + summary[1:] + "."
        )
        module.addArguments(sub)
        made.commandParsers[name] = sub
    return made


def parseArguments(argv: Sequence[str]) -> argparse.Namespace:
    """*argv* parsed and checked, or a usage error on one line (exit status 2)."""
    made = parser()
    args = made.parse_args(keysAsOneArgument(argv))
    check = getattr(COMMANDS[args.command][0], "checkArguments", None)
    if check is not None:
        try:
            check(args)
        except UsageError as error:
            made.commandParsers[args.command].error(str(error))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (the console script exits with it)."""
    exitEarlyOnSignals()
    if isinstance(sys.stdout, io.TextIOWrapper):  # a message is never worth a crash
        sys.stdout.reconfigure(errors="backslashreplace")
    name = None
    try:
        args = parseArguments(sys.argv[1:] if argv is None else argv)
        name = args.command
        module, _, interruptedStatus = COMMANDS[name]
        return runCommand(name, lambda reactor: module.run(reactor, args), interruptedStatus)
    except Interrupted as interrupted:
        return COMMANDS[name][2](interrupted.signum) if name else EXIT_OK
