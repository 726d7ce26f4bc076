"""
The framing hot paths side by side: the subscriber's inlined one-frame decode
and the publisher's encoder, each against the pure core function it must equal.

    python bench/decode.py [--repeats N] [--size BYTES]

``Subscriber._deliver`` inlines the one-frame case of ``decodeFrames`` (the
lines copied below); the publisher calls the closure ``oneFrameEncoder(sep)``
built once per connection. The table shows what each costs per message, and
core / inline: how much the inlining saves, or what going through the core
costs. tests/test_wire.py checks that the two sides agree; this measures
only. Both sides run in the same timeit function body (setup names are
locals), on a frames list that already exists, as in the reader's batch.
Repeats are interleaved (inline, core, inline, core, ...); the ratio is the
median of the per-round ratios, so machine noise hits both sides alike.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import timeit
from importlib import metadata

from txzpub._core._framing import decodeFrames, oneFrameEncoder
from txzpub._core._message import trustedMessage

# The lines of Subscriber._deliver's one-frame branch (routing left out).
INLINE_DECODE = """
if len(frames) == 1:
    tag, found, body = frames[0].partition(separator)
    if found:
        message = trustedMessage(tag, body)
    else:
        message = trustedMessage(b"", tag)
"""
CORE_DECODE = "message = decodeFrames(frames, separator)"

# What publish() would do without the closure: the check and the join, in place.
INLINE_ENCODE_ONE_BYTE = """
if separator in tag:
    raise ValueError(tag)
frame = tag + separator + body
"""
# A multi-byte separator needs fitsOneFrame's check (b"a:" + b"::" has b"::" at 1).
INLINE_ENCODE_LONGER = """
if (tag + separator).find(separator) != len(tag):
    raise ValueError(tag)
frame = tag + separator + body
"""
CORE_ENCODE = "frame = encode(tag, body)"

TAG = b"market.quotes.EURUSD"


def namespace(separator: bytes, size: int) -> dict[str, object]:
    """The locals both sides of a row run with: a *size*-byte message with tag TAG."""
    body = bytes(range(256)) * (size // 256 + 1)
    body = body.replace(separator[:1], b"x")[: max(0, size - len(TAG) - len(separator))]
    frame = TAG + separator + body
    return {
        "frames": [frame],
        "separator": separator,
        "tag": TAG,
        "body": body,
        "encode": oneFrameEncoder(separator),
        "decodeFrames": decodeFrames,
        "trustedMessage": trustedMessage,
    }


def checkEquivalent(inline: str, core: str, names: dict[str, object], result: str) -> None:
    """Run both sides once: they must compute the same value, or the row means nothing."""
    inlineNames, coreNames = dict(names), dict(names)
    exec(inline, {}, inlineNames)
    exec(core, {}, coreNames)
    if inlineNames[result] != coreNames[result]:
        msg = f"{inlineNames[result]!r} != {coreNames[result]!r}"
        raise AssertionError(msg)


def measure(
    inline: str, core: str, names: dict[str, object], repeats: int
) -> tuple[float, float, list[float]]:
    """Median ns per message of each side, and the per-round core/inline ratios."""
    setup = "\n".join(f"{name} = _names[{name!r}]" for name in names)
    timers = [timeit.Timer(stmt, setup, globals={"_names": names}) for stmt in (inline, core)]
    # Short rounds (about 50 ms), many of them: on a busy machine a burst of
    # noise then spoils a round or two, not the median.
    number = max(1, timers[0].autorange()[0] // 4)
    rounds: list[list[float]] = [[], []]
    for _ in range(repeats):
        for side, timer in enumerate(timers):
            rounds[side].append(timer.timeit(number) / number * 1e9)
    ratios = [c / i for i, c in zip(rounds[0], rounds[1], strict=True)]
    return statistics.median(rounds[0]), statistics.median(rounds[1]), ratios


ROWS = [
    # (label, separator, inline statement, core statement, name compared)
    ("decode, one frame", b"\0", INLINE_DECODE, CORE_DECODE, "message"),
    ("encode, one frame", b"\0", INLINE_ENCODE_ONE_BYTE, CORE_ENCODE, "frame"),
    ("encode, one frame", b"::", INLINE_ENCODE_LONGER, CORE_ENCODE, "frame"),
]

CORE_NAMES = {
    CORE_DECODE: "decodeFrames(frames, sep)",
    CORE_ENCODE: "oneFrameEncoder(sep)(tag, body)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="interleaved rounds (15)")
    parser.add_argument("--size", type=int, default=100, help="bytes per message (100)")
    options = parser.parse_args()

    print(
        f"txzpub {metadata.version('txzpub')}, {platform.python_implementation()} "
        f"{platform.python_version()}; {options.size} B messages, tag {TAG!r}, "
        f"median of {options.repeats} interleaved rounds\n"
    )
    header = "| path | sep | inline ns/msg | core ns/msg | core call | core / inline (range) |"
    print(header)
    print("|---|---|--:|--:|---|--:|")
    for label, separator, inline, core, result in ROWS:
        names = namespace(separator, options.size)
        checkEquivalent(inline, core, names, result)
        inlineNs, coreNs, ratios = measure(inline, core, names, options.repeats)
        ratio = statistics.median(ratios)
        print(
            f"| {label} | {separator!r} | {inlineNs:,.1f} | {coreNs:,.1f} | "
            f"`{CORE_NAMES[core]}` | {ratio:.2f}x ({min(ratios):.2f}..{max(ratios):.2f}) |"
        )
    frame = namespace(b"\0", options.size)["frames"][0]  # type: ignore[index]
    print(f"\nthe message: {len(frame)} bytes, {frame[:32]!r}...")


if __name__ == "__main__":
    main()
