# -*- test-case-name: tests.test_cli -*-
"""
How received messages are written to stdout, one line each.

Text: ``TAG BODY``, split at the first space. A field is shown as it is when it
is printable UTF-8 (and, for the tag, has no space); otherwise it is escaped
as Python would (``\\n``, ``\\t``, ``\\\\``, ``\\xff`` for a byte that is not
UTF-8, ``\\x20`` for a space in a tag), so one message is always one line.
JSON (``--json``): ``{"tag": ..., "body": ...}`` per line; a field that is not
UTF-8 is null and comes as ``tag_base64`` / ``body_base64`` instead, exactly.
A message of a sequenced stream adds ``"sequence"`` (its number) and
``"publisher"`` (its publisher's identity, in hex).
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["LineWriter", "escape", "renderJson", "renderText"]

#: Non-ASCII text goes to stdout as it is if stdout is UTF-8, else as JSON's \u escapes.
_UTF8_STDOUT = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "") == "utf8"

_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(data: bytes, *, isTag: bool = False) -> str:
    """*data* as text if it is printable UTF-8 (a tag: without spaces), else escaped."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if text.isprintable() and not (isTag and " " in text):
            return text
    return "".join(_escapeChar(c, isTag=isTag) for c in data.decode("utf-8", "surrogateescape"))


def _escapeChar(char: str, *, isTag: bool) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if char == " ":
        return "\\x20" if isTag else " "
    if char.isprintable():
        return char
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def renderText(tag: bytes, body: bytes) -> str:
    return f"{escape(tag, isTag=True)} {escape(body)}"


def renderJson(
    tag: bytes, body: bytes, *, sequence: int | None = None, publisher: bytes | None = None
) -> str:
    record: dict[str, Any] = {}
    for name, data in (("tag", tag), ("body", body)):
        text = _utf8(data)
        record[name] = text
        if text is None:
            record[f"{name}_base64"] = base64.b64encode(data).decode("ascii")
    if sequence is not None:  # a sequenced stream's message
        record["sequence"] = sequence
    if publisher is not None:
        record["publisher"] = publisher.hex()
    return json.dumps(record, ensure_ascii=not _UTF8_STDOUT)


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class LineWriter:
    """
    Writes lines to *stream*, flushed once per reactor turn (so a pipe sees each
    read batch at once, not one system call per message).

    When the reader goes away (``| head``), *onClosed* is called once and later
    lines are dropped; stdout is then pointed at /dev/null so that Python's own
    flush at exit does not complain.
    """

    def __init__(
        self, reactor: Any, onClosed: Callable[[], object], stream: TextIO | None = None
    ) -> None:
        self._reactor = reactor
        self._onClosed = onClosed
        self._stream = sys.stdout if stream is None else stream
        self._flushing: Any = None
        self.closed = False

    def write(self, line: str) -> None:
        if self.closed:
            return
        try:
            self._stream.write(line + "\n")
        except BrokenPipeError:
            self._lost()
            return
        if self._flushing is None:
            self._flushing = self._reactor.callLater(0, self.flush)

    def flush(self) -> None:
        if self._flushing is not None and self._flushing.active():
            self._flushing.cancel()
        self._flushing = None
        if self.closed:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._lost()

    def _lost(self) -> None:
        self.closed = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # not a real file: nothing to redirect
            pass
        self._onClosed()
