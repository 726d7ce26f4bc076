"""Medians, ranges, paired ratios and the plain-text (Markdown-compatible) tables."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def present(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def pairedRatios(values: Sequence[float | None], baseline: Sequence[float | None]) -> list[float]:
    """value / baseline of the same repeat round, for every round where both exist."""
    return [v / b for v, b in zip(values, baseline, strict=False) if v is not None and b]


# -- formatting -----------------------------------------------------------------


def rate(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def number(digits: int = 1):
    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:,.{digits}f}"

    return fmt


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], left: set[int] | None = None
) -> str:
    """
    A pipe table, padded so it reads in a terminal and pastes into Markdown. The
    columns in *left* (default: the first and the last) are text, left-aligned;
    the others are numbers, right-aligned.
    """
    if left is None:
        left = {0, len(headers) - 1}
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=False)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.ljust(width) if index in left else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=False))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        ":" + "-" * (w + 1) if i in left else "-" * (w + 1) + ":" for i, w in enumerate(widths)
    )
    rule += "|"
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])
