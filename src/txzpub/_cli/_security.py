# -*- test-case-name: tests.test_cli_security -*-
"""
The CURVE flags that ``pub``, ``sub`` and ``proxy`` share, and what they make.

Which side is the CURVE server comes from the flags, not from pub/sub or
bind/connect (ZeroMQ keeps the three apart):

* ``--curve-server-key PATH`` alone: this side is the server; PATH is its
  secret certificate, and ``--allow-key`` (or ``--allow-any-key``) says who
  gets in. A publisher that binds is the usual server.
* ``--curve-client-key PATH --curve-server-key KEY``: this side is a client
  with the secret certificate PATH, of the server whose public key is KEY (a
  certificate of it, or the 40-character key). A subscriber is the usual one.

Secret keys come only from certificate files: a key on a command line is
visible to every user of the machine (``ps``). No message here ever shows a
key: an argument that may be one is described, not quoted.
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from txzpub import CurveClient, CurveKeyPair, CurveServer, SecurityError, loadPublicKey
from txzpub._connection import MAX_MESSAGE_SIZE
from txzpub._core._curve import Z85_KEY_LENGTH, checkKey, fingerprint

from ._common import UsageError, positiveInt, say

__all__ = [
    "Security",
    "addSecurityOptions",
    "describeSecurity",
    "keysAsOneArgument",
    "securityFrom",
    "serverFrom",
]

Security = CurveServer | CurveClient

_KEYGEN = "make one with `txzpub keygen NAME`"
_SERVER_ONLY = ("--allow-key", "--allow-any-key", "--allow-ip", "--deny-ip")


#: The flags whose value may be a key, which may start with "-" (a Z85 character);
#: --curve-client-key only to explain that it takes a file, not a key.
_KEY_FLAGS = frozenset({"--curve-server-key", "--curve-client-key", "--allow-key"})


def keysAsOneArgument(argv: Sequence[str]) -> list[str]:
    """
    *argv* with ``--allow-key -KEY`` written ``--allow-key=-KEY``.

    A Z85 key may start with "-", which argparse would take for an option;
    only a well-formed 40-character key is joined to its flag.
    """
    joined: list[str] = []
    pending: str | None = None
    for index, arg in enumerate(argv):
        if arg == "--":
            return joined + list(argv[index:])
        if pending is not None and arg.startswith("-") and _z85Key(arg) is not None:
            joined[-1] = f"{pending}={arg}"
        else:
            joined.append(arg)
        pending = arg if arg in _KEY_FLAGS else None
    return joined


def network(text: str) -> str:
    """An --allow-ip / --deny-ip value: an address or a CIDR range, normalised."""
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        msg = f"{text!r} is not an IP address or range (write 127.0.0.1 or 10.0.0.0/8)"
        raise argparse.ArgumentTypeError(msg) from None


def messageSize(text: str) -> int:
    """A --max-message-size value: 1 byte up to what libzmq can hold."""
    size = positiveInt(text)
    if size > MAX_MESSAGE_SIZE:
        msg = f"must be at most {MAX_MESSAGE_SIZE} (2**63 - 1) bytes, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return size


def addSecurityOptions(
    parser: argparse.ArgumentParser, *, proxy: bool = False, inbound: str = ""
) -> None:
    """
    The CURVE flags and --max-message-size, as one group of *parser*'s help.

    *proxy*: the server role only. *inbound* says what a peer sends this side.
    """
    group = parser.add_argument_group(
        "CURVE security",
        "Encrypt the traffic and admit only known clients. Make a key pair with "
        "`txzpub keygen NAME`: NAME.key is the public certificate to hand out, "
        "NAME.key_secret the secret one to keep."
        + (
            ""
            if proxy
            else " The flags decide which side is the server, not pub/sub or "
            "bind/connect: usually the publisher that binds, with its subscribers "
            "as clients."
        ),
    )
    if proxy:
        group.add_argument(
            "--curve-server-key",
            metavar="PATH",
            help="make both sides (and --capture) CURVE servers with the secret certificate "
            "PATH (NAME.key_secret); every peer, on either side, is a client that needs "
            "--allow-key",
        )
    else:
        group.add_argument(
            "--curve-server-key",
            metavar="KEY",
            help="alone: this side is a CURVE server, and KEY is the path of its secret "
            "certificate (NAME.key_secret); with --curve-client-key: the server's public key, "
            "as the path of its certificate (NAME.key) or the 40-character key",
        )
        group.add_argument(
            "--curve-client-key",
            metavar="PATH",
            help="this side is a CURVE client with the secret certificate PATH "
            "(NAME.key_secret); needs --curve-server-key",
        )
    group.add_argument(
        "--allow-key",
        action="append",
        default=[],
        metavar="KEY",
        help="server: admit the client with this public key: the 40-character key, "
        "its certificate (NAME.key), or a directory whose *.key certificates are all "
        "admitted; repeat for more",
    )
    group.add_argument(
        "--allow-any-key",
        action="store_true",
        help="server: admit every CURVE client (encryption without authentication)",
    )
    group.add_argument(
        "--allow-ip",
        action="append",
        default=[],
        type=network,
        metavar="ADDR[/BITS]",
        help="server: admit clients only from this address or range; repeat for more",
    )
    group.add_argument(
        "--deny-ip",
        action="append",
        default=[],
        type=network,
        metavar="ADDR[/BITS]",
        help="server: refuse clients from this address or range (wins over --allow-ip); "
        "repeat for more",
    )
    group.add_argument(
        "--max-message-size",
        type=messageSize,
        metavar="BYTES",
        help="drop the connection of a peer that sends a message part bigger than BYTES"
        + (f" ({inbound})" if inbound else "")
        + "; it may reconnect (default: no limit)",
    )


def _serverOnlyFlags(args: argparse.Namespace) -> list[str]:
    values = (args.allow_key, args.allow_any_key, args.allow_ip, args.deny_ip)
    return [flag for flag, value in zip(_SERVER_ONLY, values, strict=True) if value]


def securityFrom(args: argparse.Namespace, command: str) -> Security | None:
    """
    The CurveServer or CurveClient the flags ask for, or None; UsageError otherwise.

    A secret certificate given where a public key is enough works, with a note on stderr.
    """
    server: str | None = args.curve_server_key
    client: str | None = getattr(args, "curve_client_key", None)
    serverOnly = _serverOnlyFlags(args)
    if client is not None:
        if server is None:
            msg = (
                "--curve-client-key needs --curve-server-key: the server's public key "
                "(the path of its NAME.key certificate, or the 40-character key)"
            )
            raise UsageError(msg)
        if serverOnly:
            msg = (
                f"{serverOnly[0]} is for a CURVE server, but --curve-client-key makes this "
                "side a client; the server decides whom it admits"
            )
            raise UsageError(msg)
        return CurveClient(
            _secretCertificate(client, "--curve-client-key"),
            _publicKey(server, "--curve-server-key", command),
        )
    if server is None:
        if serverOnly:
            msg = (
                f"{serverOnly[0]} needs --curve-server-key PATH (this side's secret "
                "certificate): only a CURVE server admits clients"
            )
            raise UsageError(msg)
        return None
    keys = _secretCertificate(server, "--curve-server-key", serverRole=True)
    if args.allow_any_key and args.allow_key:
        msg = "--allow-any-key admits every key already: give it or --allow-key, not both"
        raise UsageError(msg)
    if not (args.allow_any_key or args.allow_key):
        msg = (
            "a CURVE server needs to know whom to admit: --allow-key KEY for each client "
            "(its public key or certificate, or a directory of NAME.key certificates), or "
            "--allow-any-key to admit every CURVE client (encryption without authentication)"
        )
        raise UsageError(msg)
    allowed = [key for each in args.allow_key for key in _allowedKeys(each, command)]
    try:
        return CurveServer(
            keys,
            allowKeys=allowed,
            allowAnyKey=args.allow_any_key,
            allowAddresses=args.allow_ip,
            denyAddresses=args.deny_ip,
        )
    except (SecurityError, ValueError) as error:
        raise UsageError(str(error)) from None


def serverFrom(args: argparse.Namespace, command: str) -> CurveServer | None:
    """securityFrom for a command with the server role only (no --curve-client-key)."""
    security = securityFrom(args, command)
    if isinstance(security, CurveClient):  # pragma: no cover - no such flag
        msg = "this command can only be a CURVE server"
        raise UsageError(msg)
    return security


def describeSecurity(security: Security) -> str:
    """One line for stderr: the role and the keys' fingerprints (never a key)."""
    mine = fingerprint(security.keys.publicKey)
    if isinstance(security, CurveClient):
        return (
            f"CURVE client, key fingerprint {mine}, "
            f"of the server with key fingerprint {fingerprint(security.serverKey)}"
        )
    policy = security.policy
    if policy.allowKeys is None:
        admits = "admits any CURVE client's key (encryption without authentication)"
    else:
        admits = f"admits {len(policy.allowKeys)} client key(s)"
    if policy.allowAddresses:
        admits += " from " + ", ".join(map(str, policy.allowAddresses))
    if policy.denyAddresses:
        admits += ", never from " + ", ".join(map(str, policy.denyAddresses))
    return f"CURVE server, key fingerprint {mine}; {admits}"


# -- reading keys


def _z85Key(text: str) -> bytes | None:
    """*text* as a public key if it is 40 characters of Z85, else None."""
    if len(text) != Z85_KEY_LENGTH:
        return None
    try:
        return checkKey(text)
    except SecurityError:
        return None


def _mayBeKey(text: str) -> bool:
    """Whether *text* is shaped like a key (Z85 or hex), so not to be quoted."""
    hexadecimal = len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)
    return len(text) == Z85_KEY_LENGTH or hexadecimal


def _secretCertificate(text: str, flag: str, *, serverRole: bool = False) -> CurveKeyPair:
    path = Path(text)
    if not path.exists() and _mayBeKey(text):
        msg = (
            f"{flag} takes the path of a secret certificate (NAME.key_secret), not a key "
            "(a secret key on a command line is visible to every user of this machine); "
            "no such file"
        )
        if serverRole:
            msg += (
                ". To be a client of the server with that public key, add "
                "--curve-client-key YOUR.key_secret"
            )
        raise UsageError(msg)
    try:
        return CurveKeyPair.load(path)
    except SecurityError as error:
        msg = f"{flag}: {error}"
        if serverRole and "is a public certificate" in msg:
            msg += "; or, to be a client of that server, add --curve-client-key YOUR.key_secret"
        raise UsageError(msg) from None


def _isSecret(certificate: Path) -> bool:
    """Whether *certificate*, which holds a public key, is a secret one (holds its pair)."""
    try:
        CurveKeyPair.load(certificate)
    except SecurityError:
        return False
    return True


def _publicKey(text: str, flag: str, command: str) -> bytes:
    """A public key given as a certificate (public or secret) or as 40 characters of Z85."""
    path = Path(text)
    if path.is_file():
        try:
            key = loadPublicKey(path)
        except SecurityError as error:
            msg = f"{flag}: {error}"
            raise UsageError(msg) from None
        if _isSecret(path):
            say(
                command,
                f"note: {flag} {text!r} is a secret certificate; only its public one "
                "(NAME.key) is needed here, and the secret one should stay with its owner",
            )
        return key
    z85 = _z85Key(text)
    if z85 is not None:
        return z85
    if path.exists():
        msg = f"{flag}: {text!r} is not a certificate file"
    elif len(text) == Z85_KEY_LENGTH:
        try:
            checkKey(text, "the key")
        except SecurityError as error:
            msg = f"{flag}: no such file, and {error}"
    elif _mayBeKey(text):
        msg = f"{flag}: no such file, and not a 40-character Z85 key ({_KEYGEN})"
    else:
        msg = (
            f"{flag}: no such file {text!r}; give a certificate's path (NAME.key) "
            f"or the 40-character key ({_KEYGEN})"
        )
    raise UsageError(msg)


def _allowedKeys(text: str, command: str) -> list[bytes]:
    """The keys one --allow-key admits: one, or every *.key certificate of a directory."""
    path = Path(text)
    if not path.is_dir():
        return [_publicKey(text, "--allow-key", command)]
    certificates = sorted(path.glob("*.key"))
    if not certificates:
        msg = f"--allow-key: the directory {text!r} has no NAME.key certificates"
        raise UsageError(msg)
    return [_publicKey(str(each), "--allow-key", command) for each in certificates]
