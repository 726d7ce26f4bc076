"""
SVG charts of a run (``run.py --plot DIR``, or ``--plot-from FILE`` for a saved ``--json``).

Every number comes from the report's raw runs: a bar is the median over the
rounds, its whisker the min..max, a ratio the median of the *paired* ratios
(same round), as in the tables. matplotlib is a bench-only dependency (the
``bench`` dependency group), imported only when charts are asked for.
"""

from __future__ import annotations

import statistics
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import FuncFormatter

from bench import _stats

#: Workloads drawn as one throughput chart each, as throughput-<key>.svg.
THROUGHPUT = (
    "sub100",
    "sub4k",
    "pub",
    "pull100",
    "router100",
    "reqrep",
    "fanout",
    "seqsub",
    "seqpub",
)
#: The latency chart's panels: (workload, panel title).
LATENCY = (
    ("latency", "One-way latency at 10k msgs/s, 100 B"),
    ("reqrep", "REQ/REP round-trip time, 100 B"),
)
#: Sequenced vs plain (seqsub, seqpub, seqlatency) compare each row with the same
#: implementation reading (or sending) one frame; the latency one is a chart of its own.
SEQUENCED_LATENCY = (("seqlatency", "Sequenced vs plain: one-way latency at 10k msgs/s, 100 B"),)
ONE_FRAME = ", one frame"
#: The timer-lateness chart's panels.
LATENESS = (
    ("fairness", "10 ms LoopingCall, subscriber flooded"),
    ("pullfairness", "10 ms LoopingCall, PULL flooded"),
)
STYLE: dict[str, Any] = {
    "svg.fonttype": "none",  # text stays text: small files, the page's own font
    "svg.hashsalt": "txzpub-bench",  # stable ids, so a redraw diffs cleanly
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
TXZPUB, TXZMQ, OTHER = "#2b6cb0", "#dd6b20", "#8a8f98"
FOOTER_IN = 0.5  # inches kept under the axes for the machine and versions
ROW_IN = 0.34

Runs = dict[str, list[dict | None]]


def plot(report: dict, outdir: Path) -> list[Path]:
    """Draw every chart the report has data for into *outdir*; return the files written."""
    outdir.mkdir(parents=True, exist_ok=True)
    workloads: dict[str, dict] = report.get("workloads", {})
    footer = _footer(report.get("meta", {}))
    written: list[Path] = []
    with mpl.rc_context(STYLE):
        for key in THROUGHPUT:
            if key in workloads:
                fig = _throughput(key, workloads[key], footer)
                written.append(_save(fig, outdir / f"throughput-{key}.svg"))
        panels = [(workloads[k], title) for k, title in LATENCY if k in workloads]
        if panels:
            fig = _percentiles(panels, footer, "p50_us", "p99_us", "us", _us, linear=True)
            written.append(_save(fig, outdir / "latency.svg"))
        panels = [(workloads[k], title) for k, title in SEQUENCED_LATENCY if k in workloads]
        if panels:
            fig = _percentiles(panels, footer, "p50_us", "p99_us", "us", _us, linear=True)
            written.append(_save(fig, outdir / "latency-sequenced.svg"))
        panels = [(workloads[k], title) for k, title in LATENESS if k in workloads]
        if panels:
            fig = _percentiles(panels, footer, "late_p99_ms", "late_max_ms", "ms late", _ms)
            written.append(_save(fig, outdir / "timer-lateness.svg"))
    return written


# -- numbers from the raw runs ----------------------------------------------------------


def _values(runs: Sequence[dict | None], key: str) -> list[float | None]:
    """Per round: the run's *key*, or None for a round not made, failed or skipped."""
    return [
        None if r is None or "error" in r or "skip" in r else r.get(key)
        for r in runs  # keep the rounds aligned for pairing
    ]


def _spread(runs: Sequence[dict | None], key: str) -> tuple[float, float, float] | None:
    kept = _stats.present(_values(runs, key))
    return (statistics.median(kept), min(kept), max(kept)) if kept else None


def _ratio(
    runs: Runs, variant: str, base: str | None, key: str
) -> tuple[float, float, float] | None:
    """Median, min and max of variant / base over the rounds where both ran."""
    if base is None or base not in runs:
        return None
    ratios = _stats.pairedRatios(_values(runs[variant], key), _values(runs[base], key))
    return (statistics.median(ratios), min(ratios), max(ratios)) if ratios else None


def _txzmq(runs: Runs) -> str | None:
    return next((name for name in runs if name.startswith("txZMQ")), None)


def _baseline(runs: Runs) -> Callable[[str], str | None]:
    """Each row's reference: the same implementation with one frame, if it has one, else txZMQ."""
    txzmq = _txzmq(runs)

    def base(name: str) -> str | None:
        if ", " in name:
            same = name.rsplit(", ", 1)[0] + ONE_FRAME
            if same in runs:
                return same
        return txzmq

    return base


def _against(name: str, base: str | None) -> str:
    """How a ratio's reference reads: "txZMQ", or "one frame"."""
    return ONE_FRAME[2:] if base is not None and base.endswith(ONE_FRAME) else "txZMQ"


def _fanoutBase(variant: str) -> str | None:
    if "1,000" not in variant:
        return None
    return variant.split(", 1,000", maxsplit=1)[0] + ", 1 subscription"


# -- formatting ---------------------------------------------------------------------------


def _rate(value: float) -> str:
    return _stats.rate(value)


def _axisRate(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    return f"{value / 1e3:g}k" if value >= 1e3 else f"{value:g}"


def _us(value: float) -> str:
    return f"{value:,.0f} us" if value < 10_000 else f"{value / 1000:,.1f} ms"


def _ms(value: float) -> str:
    return f"{value:,.1f} ms" if value < 1000 else f"{value / 1000:,.2f} s"


def _times(ratio: tuple[float, float, float] | None, what: str) -> str:
    if ratio is None:
        return ""
    mid, low, high = ratio
    if mid < 0.1:  # e.g. timer lateness: "1/680 of txZMQ" reads better than "0.00x"
        return f"1/{1 / mid:,.0f} of {what}"
    return f"{mid:.2f}x {what} ({low:.2f}-{high:.2f})"


def _color(name: str) -> str:
    if name.startswith("txzpub"):
        return TXZPUB
    return TXZMQ if name.startswith("txZMQ") else OTHER


def _label(name: str) -> str:
    return "\n".join(textwrap.wrap(name, 34))


def _footer(meta: dict) -> str:
    versions = meta.get("versions", {})
    names = (
        ("Python", "python"),
        ("libzmq", "libzmq"),
        ("pyzmq", "pyzmq"),
        ("Twisted", "twisted"),
        ("txzpub", "txzpub"),
        ("txZMQ", "txzmq"),
    )
    software = ", ".join(f"{shown} {versions[key]}" for shown, key in names if versions.get(key))
    machine = [f"{meta.get('cpus', '?')} CPUs"]
    machine += [meta[key] for key in ("cpu_model", "os") if meta.get(key)]
    if not meta.get("os") and meta.get("platform"):
        machine.append(meta["platform"])
    run = f"{meta.get('repeats', '?')} interleaved rounds{', quick' if meta.get('quick') else ''}"
    if meta.get("started"):
        run += f", {meta['started']}"
    return f"{'; '.join(machine)}; {run}\n{software}"


# -- the charts ---------------------------------------------------------------------------


def _figure(rows: float, footer: str) -> Figure:
    height = 1.0 + ROW_IN * rows + FOOTER_IN
    fig = Figure(figsize=(8.0, height))
    fig.set_layout_engine(
        ConstrainedLayoutEngine(rect=(0, FOOTER_IN / height, 1, 1 - FOOTER_IN / height))
    )
    fig.text(0.01, 0.02, footer, fontsize=7, color="#555555", va="bottom", linespacing=1.4)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, format="svg", metadata={"Date": None})
    return path


def _throughput(key: str, workload: dict, footer: str) -> Figure:
    """Horizontal bars of the median rate, min..max whiskers, and the paired ratio."""
    runs: Runs = workload["runs"]
    names = list(runs)
    fig = _figure(len(names), footer)
    ax = fig.add_subplot()
    baseline = _baseline(runs)
    unit = "round trips/s" if key == "reqrep" else "msgs/s"
    top = 0.0
    for row, name in enumerate(names):
        spread = _spread(runs[name], "rate")
        if spread is None:
            ax.text(0, row, "  no result", va="center", fontsize=8, color="#a00")
            continue
        mid, low, high = spread
        top = max(top, high)
        ax.barh(row, mid, color=_color(name), height=0.62)
        ax.errorbar(
            mid, row, xerr=[[mid - low], [high - mid]], fmt="none", ecolor="#222", capsize=3, lw=1
        )
        base = baseline(name)
        if key == "fanout":
            ratio = _times(_ratio(runs, name, _fanoutBase(name), "rate"), "1 subscription")
        elif name == base:
            ratio = "(baseline)"
        else:
            ratio = _times(_ratio(runs, name, base, "rate"), _against(name, base))
        text = f"{_rate(mid)}/s" + (f"   {ratio}" if ratio else "")
        ax.text(high, row, f"  {text}", va="center", fontsize=8)
    _rows(ax, names)
    ax.set_xlim(0, (top or 1) * 1.55)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _axisRate(x)))
    ax.set_xlabel(f"{unit} (median; whiskers min..max over rounds; ratios paired by round)")
    ax.set_title(workload.get("title", key), loc="left", fontweight="bold")
    return fig


def _percentiles(
    panels: list[tuple[dict, str]],
    footer: str,
    low: str,
    high: str,
    unit: str,
    fmt: Callable[[float], str],
    linear: bool = False,
) -> Figure:
    """Per panel and implementation, two bars (*low* and *high* percentile) with whiskers."""
    rows = sum(len(workload["runs"]) for workload, _title in panels)
    fig = _figure(rows * 1.45 + 1.2 * (len(panels) - 1), footer)
    axes = fig.subplots(
        len(panels), 1, squeeze=False, height_ratios=[len(w["runs"]) for w, _ in panels]
    )
    for ax, (workload, title) in zip(axes[:, 0], panels, strict=True):
        _percentilePanel(ax, workload["runs"], title, low, high, unit, fmt, linear)
    return fig


def _percentilePanel(
    ax: Axes,
    runs: Runs,
    title: str,
    low: str,
    high: str,
    unit: str,
    fmt: Callable[[float], str],
    linear: bool,
) -> None:
    names = list(runs)
    baseline = _baseline(runs)
    values: list[float] = []
    for row, name in enumerate(names):
        for offset, key, alpha in ((-0.19, low, 0.55), (0.19, high, 1.0)):
            spread = _spread(runs[name], key)
            if spread is None:
                continue
            mid, least, most = spread
            values += [least, most]
            ax.barh(row + offset, mid, height=0.36, color=_color(name), alpha=alpha)
            ax.errorbar(
                mid,
                row + offset,
                xerr=[[mid - least], [most - mid]],
                fmt="none",
                ecolor="#222",
                capsize=2,
                lw=0.8,
            )
            base = baseline(name)
            ratio = (
                "" if name == base else _times(_ratio(runs, name, base, key), _against(name, base))
            )
            label = f"{_short(key)} {fmt(mid)}" + (f"   {ratio}" if ratio else "")
            ax.text(most, row + offset, f"  {label}", va="center", fontsize=7)
    _rows(ax, names)
    positive = [v for v in values if v > 0]
    if not linear or (positive and max(positive) / min(positive) > 30):
        ax.set_xscale("log")
        if positive:
            ax.set_xlim(min(positive) / 2, max(positive) * 25)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: fmt(x)))
    else:
        ax.set_xlim(0, (max(positive) if positive else 1) * 1.7)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:,.0f}"))
    ax.set_xlabel(
        f"{unit}: {_short(low)} (light), {_short(high)} (dark); median, whiskers min..max"
    )
    ax.set_title(title, loc="left", fontweight="bold")


def _short(key: str) -> str:
    return {"p50_us": "p50", "p99_us": "p99", "late_p99_ms": "p99", "late_max_ms": "max"}.get(
        key, key
    )


def _rows(ax: Axes, names: Sequence[str]) -> None:
    ax.set_yticks(range(len(names)), [_label(n) for n in names], fontsize=8)
    ax.invert_yaxis()
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#e5e5e5", lw=0.6)
    ax.set_axisbelow(True)
