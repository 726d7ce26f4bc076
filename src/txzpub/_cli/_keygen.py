# -*- test-case-name: tests.test_cli_security -*-
"""
``txzpub keygen NAME``: a new CURVE key pair, as ZeroMQ certificates.

Writes ``NAME.key`` (the public certificate, to hand out) and
``NAME.key_secret`` (the secret one, mode 0600, to keep) in ZeroMQ's format,
which pyzmq's ``zmq.auth.load_certificate`` and czmq's ``zcert`` read too.
Prints the two paths and the public key (never the secret one) to stdout.

It refuses to overwrite either file. With ``--force`` the new pair is written
in a private temporary directory next to them and then renamed over the old
files, so no reader ever sees half a file and a symbolic link in their place
is replaced, not followed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from txzpub import CurveKeyPair
from txzpub._core._curve import fingerprint

from ._common import UsageError, say

__all__ = ["addArguments", "run"]


def addArguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name",
        metavar="NAME",
        help="the pair's name: writes NAME.key (public) and NAME.key_secret (secret)",
    )
    parser.add_argument(
        "-d",
        "--directory",
        default=".",
        metavar="DIR",
        help="where to write them (default: the current directory)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing pair of that name (the old keys are lost)",
    )


def _checkName(name: str) -> str:
    if not name or "/" in name or os.sep in name or name.startswith("."):
        msg = (
            "NAME is a plain file name such as 'alice' (no '/', not starting with '.'), "
            f"not {name!r}"
        )
        raise UsageError(msg)
    for suffix in (".key", ".key_secret"):
        if name.endswith(suffix):
            msg = f"give NAME without {suffix}: `txzpub keygen {name.removesuffix(suffix)}`"
            raise UsageError(msg)
    return name


def _replace(keys: CurveKeyPair, directory: Path, name: str) -> tuple[Path, Path]:
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=directory))  # mode 0700
    try:
        public, secret = keys.save(staging, name)
        targets = directory / public.name, directory / secret.name
        # The secret first: a pair is never two files one can mistake for a match.
        secret.replace(targets[1])
        public.replace(targets[0])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return targets


async def run(reactor: Any, args: argparse.Namespace) -> int:
    return keygen(args)


def keygen(args: argparse.Namespace) -> int:
    """Write the pair; print the paths and the public key."""
    name = _checkName(args.name)
    directory = Path(args.directory)
    if not directory.is_dir():
        msg = f"--directory: {args.directory!r} is not a directory"
        raise UsageError(msg)
    existing = [
        path
        for path in (directory / f"{name}.key", directory / f"{name}.key_secret")
        if path.exists() or path.is_symlink()
    ]
    if existing and not args.force:
        msg = (
            f"{os.fspath(existing[0])!r} exists; --force replaces the pair (its keys are "
            "lost), or choose another NAME"
        )
        raise UsageError(msg)
    keys = CurveKeyPair.generate()
    try:
        if existing:
            public, secret = _replace(keys, directory, name)
        else:
            public, secret = keys.save(directory, name)
    except OSError as error:
        where = f" {os.fspath(error.filename)!r}" if error.filename else ""
        msg = f"cannot write{where}: {error.strerror or error}"
        raise UsageError(msg) from None
    if existing:
        say("keygen", f"replaced the pair {name!r} in {os.fspath(directory)!r}")
    sys.stdout.write(
        f"public certificate: {os.fspath(public)}\n"
        f"secret certificate: {os.fspath(secret)}\n"
        f"public key: {keys.publicKey.decode('ascii')}\n"
        f"key fingerprint: {fingerprint(keys.publicKey)}\n"
    )
    sys.stdout.flush()
    return 0
