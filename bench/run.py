"""
txzpub's benchmark suite (issue 3): txzpub side by side with txZMQ 1.0.0,
zmq.asyncio and raw pyzmq, in one run.

    python bench/run.py [--quick] [--json out.json] [--repeats N] [--only WORKLOAD ...]
                        [--profile DIR] [--plot DIR]
    python bench/run.py --plot-from out.json --plot DIR    # redraw the charts of a saved run
    nox -s bench -- --quick --json bench/results/latest.json --plot bench/results

Workloads (``--only`` takes these keys): sub100, sub4k (subscriber throughput),
pub (publisher throughput), latency (one-way p50/p99 at 10k msgs/s), fairness
(a 10 ms LoopingCall during a flood), fanout (1,000 subscriptions vs 1), memory
(peak RSS of a stalled consumer while 1M messages arrive); and the other
patterns: pull100 (PULL throughput), reqrep (sequential REQ/REP round trips and
their p99), router100 (ROUTER throughput from a DEALER), pullfairness (the
10 ms LoopingCall while a PULL is flooded); and sequenced vs plain pub/sub:
seqsub (subscriber throughput of each framing), seqpub (publisher throughput,
sequenced with and without a replay buffer) and seqlatency (one-way p50/p99).

Method: every measurement is a fresh publisher process and subscriber process
over tcp on 127.0.0.1, started in sync by a handshake (the publisher waits until
the subscriptions have reached it; no sleeps) and bounded by a timeout; a run
that fails or times out is reported in the table, and a variant that fails
before ever succeeding, or times out twice, is not run again. Repeats are
interleaved (A B C D A B C D ...): each row shows the median and min..max over
repeats, and ratios are *paired*: the ratio of the two rows in the same round,
then the median of those ratios (with their range). The machine's noise hits
both sides of a pair alike, so ratios are steadier than absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _stats, _workloads
from bench._workloads import TXZMQ, TXZMQ_PULL, TXZMQ_REQREP, Settings, Workload


def versions() -> dict:
    import zmq

    out = {"python": platform.python_version(), "libzmq": zmq.zmq_version()}
    for name in ("txzpub", "txzmq", "twisted", "pyzmq"):
        out[name] = _version(name)
    return out


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    """CPU count, CPU model (from /proc/cpuinfo, where there is one) and OS."""
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name") and ":" in line:
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    try:
        release = platform.freedesktop_os_release().get("PRETTY_NAME")
    except OSError:
        release = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor() or None,
        "os": f"{release}, {system}" if release else system,
        "platform": platform.platform(),
    }


def log(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def brief(workload: Workload, outcome: dict) -> str:
    if "skip" in outcome:
        return f"skipped: {outcome['skip']}"
    if "error" in outcome:
        return f"FAILED: {outcome['error']}"
    column = workload.columns[0]
    text = f"{column.fmt(outcome.get(column.key))} {column.header}"
    if outcome.get("lost"):
        text += f", lost {outcome['lost']:,}"
    return text


def runWorkload(
    workload: Workload, repeats: int, progress: Progress | None = None
) -> dict[str, list[dict | None]]:
    """Run the variants interleaved, *repeats* rounds; None marks a run not made."""
    results: dict[str, list[dict | None]] = {v.name: [] for v in workload.variants}
    retired: dict[str, str] = {}
    progress = progress or Progress({workload.key: repeats * len(workload.variants)})
    try:
        _rounds(workload, repeats, results, retired, progress)
    except KeyboardInterrupt:
        # Children are already killed (runPair's finally); keep what was measured.
        log(f"  [{workload.key}] interrupted")
        workload.notes.append("Interrupted (Ctrl-C): partial results.")
        raise Interrupted(results) from None
    return results


class Progress:
    """One stderr line per measurement: step N of M, time elapsed, and a rough time left."""

    def __init__(self, plan: dict[str, int]) -> None:
        self.plan = plan  # workload key -> measurements (variants x rounds)
        self.done = dict.fromkeys(plan, 0)
        self.measured = dict.fromkeys(plan, 0)
        self.spent = dict.fromkeys(plan, 0.0)
        self.began = time.monotonic()

    def step(self, key: str, seconds: float | None) -> str:
        """Count one measurement of *key* (None: not made) and say where the run stands."""
        self.done[key] += 1
        if seconds is not None:
            self.measured[key] += 1
            self.spent[key] += seconds
        done, total = sum(self.done.values()), sum(self.plan.values())
        text = f"step {done}/{total}, {_clock(time.monotonic() - self.began)} elapsed"
        left = self.left()
        return text if left is None else f"{text}, ~{_clock(left)} left"

    def left(self) -> float | None:
        """Each workload's remaining steps at its own mean so far, else at the overall mean."""
        measured = sum(self.measured.values())
        if not measured:
            return None
        overall = sum(self.spent.values()) / measured
        return sum(
            (self.plan[k] - self.done[k])
            * (self.spent[k] / self.measured[k] if self.measured[k] else overall)
            for k in self.plan
        )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


class Interrupted(Exception):
    def __init__(self, results: dict) -> None:
        super().__init__("interrupted")
        self.results = results


def _rounds(
    workload: Workload, repeats: int, results: dict, retired: dict, progress: Progress
) -> None:
    for round_ in range(repeats):
        for variant in workload.variants:
            runs = results[variant.name]
            if variant.name in retired:
                runs.append(None)
                progress.step(workload.key, None)
                continue
            started = time.monotonic()
            try:
                outcome = variant.run()
            except Exception as error:  # a bug in the harness must not lose the rest
                outcome = {"error": f"harness: {error!r}"}
            outcome["wall_s"] = round(time.monotonic() - started, 2)
            runs.append(outcome)
            where = progress.step(workload.key, outcome["wall_s"])
            log(
                f"  [{workload.key} {round_ + 1}/{repeats}] {variant.name}: "
                f"{brief(workload, outcome)} ({outcome['wall_s']:.1f} s) | {where}"
            )
            made = [r for r in runs if r is not None]
            failed = [r for r in made if "error" in r]
            if "skip" in outcome:
                retired[variant.name] = "skipped"
            elif len(failed) == len(made) or sum(1 for r in failed if r.get("timeout")) >= 2:
                retired[variant.name] = "gave up"
                log(f"  [{workload.key}] {variant.name}: failing, not run again")


def summarize(workload: Workload, results: dict[str, list[dict | None]]) -> dict:
    """Per variant: each column's median/min/max (or paired ratios), runs, losses, errors."""
    summary: dict[str, dict] = {}
    for variant in workload.variants:
        runs = results[variant.name]
        good = [
            r if r is not None and "error" not in r and "skip" not in r else None for r in runs
        ]
        entry: dict = {
            "runs": sum(1 for r in runs if r is not None),
            "ok": sum(1 for r in good if r is not None),
            "errors": sorted({r["error"] for r in runs if r is not None and "error" in r}),
            "skip": next((r["skip"] for r in runs if r is not None and "skip" in r), None),
        }
        if workload.lossKey:
            entry["lost"] = sum(r.get(workload.lossKey) or 0 for r in good if r is not None)
        for column in workload.columns:
            values = [None if r is None else r.get(column.key) for r in good]
            if column.kind == "ratio":
                base = column.baseline(variant.name) if column.baseline else None
                if base is None or base not in results:
                    continue
                baseValues = [
                    None if r is None or "error" in r or "skip" in r else r.get(column.key)
                    for r in results[base]
                ]
                ratios = _stats.pairedRatios(values, baseValues)
                entry[column.header] = {
                    "median": _stats.median(ratios),
                    "min": min(ratios, default=None),
                    "max": max(ratios, default=None),
                    "pairs": len(ratios),
                    "baseline": base,
                }
            else:
                kept = _stats.present(values)
                entry[column.key] = {
                    "median": _stats.median(kept),
                    "min": min(kept, default=None),
                    "max": max(kept, default=None),
                    "n": len(kept),
                }
        summary[variant.name] = entry
    return summary


def render(workload: Workload, summary: dict) -> str:
    headers = ["implementation"]
    for column in workload.columns:
        headers.append(column.header)
        if column.kind == "spread":
            headers.append("min..max")
    headers.append("runs / notes")
    rows = []
    for variant in workload.variants:
        entry = summary[variant.name]
        row = [variant.name]
        for column in workload.columns:
            if column.kind == "ratio":
                ratio = entry.get(column.header)
                if ratio is None or ratio["median"] is None:
                    row.append("-")
                else:
                    mid, low, high = ratio["median"], ratio["min"], ratio["max"]
                    row.append(
                        f"{mid:.2f}x"
                        if ratio["pairs"] < 2
                        else f"{mid:.2f}x ({low:.2f}-{high:.2f})"
                    )
                continue
            stat = entry.get(column.key, {})
            row.append(column.fmt(stat.get("median")))
            if column.kind == "spread":
                low, high = stat.get("min"), stat.get("max")
                row.append("-" if low is None else f"{column.fmt(low)}..{column.fmt(high)}")
        notes = [f"{entry['ok']}/{entry['runs']}"]
        if entry["skip"]:
            notes = [f"skipped: {entry['skip']}"]
        if workload.lossKey and entry["ok"]:
            notes.append(f"lost {entry['lost']:,}")
        notes.extend(f"FAILED: {error}" for error in entry["errors"][:2])
        row.append("; ".join(notes))
        rows.append(row)
    text = [f"### {workload.title}", "", workload.setup, "", _stats.table(headers, rows)]
    text.extend(f"\n{note}" for note in workload.notes)
    return "\n".join(text)


# -- the targets ----------------------------------------------------------------


def targets(summaries: dict[str, dict]) -> str | None:
    rows: list[list[str]] = []

    def ratio(key: str, variant: str, header: str) -> float | None:
        entry = summaries.get(key, {}).get(variant, {}).get(header)
        return None if entry is None else entry["median"]

    def verdict(ok: bool | None) -> str:
        return "?" if ok is None else ("met" if ok else "MISSED")

    def throughput(variant: str, target: float, label: str) -> None:
        if "sub100" not in summaries:
            return
        value = ratio("sub100", variant, "vs txZMQ")
        shown = "-" if value is None else f"{value:.3f}x txZMQ"
        ok = None if value is None else value >= target
        rows.append([f"subscriber throughput, {label}", f">= {target}x txZMQ", shown, verdict(ok)])

    throughput("txzpub gotMessage", 2.0, "legacy gotMessage")
    throughput("txzpub next()", 1.5, "next() loop")
    throughput("txzpub async for", 1.3, "async for")
    if "sub100" in summaries:
        batch = "txzpub nextBatch(1000)"
        vsTx, vsRaw = ratio("sub100", batch, "vs txZMQ"), ratio("sub100", batch, "vs raw")
        ok = None if vsTx is None or vsRaw is None else vsTx >= 3.0 and vsRaw >= 0.5
        shown = "-" if ok is None else f"{vsTx:.3f}x txZMQ, {vsRaw:.3f}x raw"
        target = ">= 3.0x txZMQ, >= 0.5x raw"
        rows.append(["subscriber throughput, batch", target, shown, verdict(ok)])
    if "pub" in summaries:
        value = ratio("pub", "txzpub publish()", "vs txZMQ")
        rows.append(
            [
                "publisher throughput",
                ">= 1.5x txZMQ",
                "-" if value is None else f"{value:.3f}x txZMQ",
                verdict(None if value is None else value >= 1.5),
            ]
        )
    if "latency" in summaries:
        for variant in ("txzpub next()", "txzpub async for", "txzpub gotMessage"):
            p50 = ratio("latency", variant, "p50 vs txZMQ")
            p99 = ratio("latency", variant, "p99 vs txZMQ")
            ok = None if p50 is None or p99 is None else p50 <= 1.0 and p99 <= 1.0
            shown = "-" if ok is None else f"{p50:.3f}x / {p99:.3f}x txZMQ"
            rows.append([f"latency p50 / p99, {variant}", "<= 1.0x txZMQ", shown, verdict(ok)])

    def lateness(key: str, variants: tuple[str, ...], reference: str, label: str) -> None:
        if key not in summaries:
            return
        for variant in variants:
            stat = summaries[key].get(variant, {}).get("late_max_ms", {})
            mid, worst = stat.get("median"), stat.get("max")
            ok = None if mid is None else mid <= 20
            shown = "-" if mid is None else f"median {mid:.1f} ms, worst {worst:.1f} ms"
            rows.append([f"{label}, {variant}", "max <= 20 ms", shown, verdict(ok)])
        stat = summaries[key].get(reference, {}).get("late_max_ms", {})
        if stat.get("median") is not None:
            rows.append([f"{label}, txZMQ", "(reference)", f"{stat['median']:.0f} ms", ""])

    lateness("fairness", ("txzpub gotMessage", "txzpub next()"), TXZMQ, "10 ms timer lateness")

    def versus(key: str, variant: str, target: float, label: str) -> None:
        if key not in summaries:
            return
        value = ratio(key, variant, "vs txZMQ")
        rows.append(
            [
                f"{label}, {variant}",
                f">= {target}x txZMQ",
                "-" if value is None else f"{value:.3f}x txZMQ",
                verdict(None if value is None else value >= target),
            ]
        )

    for variant, target in (
        ("txzpub next()", 1.5),
        ("txzpub async for", 1.4),
        ("txzpub nextBatch(1000)", 3.0),
        ("txzpub onPull", 2.5),
    ):
        versus("pull100", variant, target, "PULL throughput")
    if "reqrep" in summaries:
        for variant in summaries["reqrep"]:
            if variant == TXZMQ_REQREP:
                continue
            rate, p99 = (
                ratio("reqrep", variant, "vs txZMQ"),
                ratio("reqrep", variant, "p99 vs txZMQ"),
            )
            ok = None if rate is None or p99 is None else rate >= 1.2 and p99 <= 1.0
            shown = "-" if ok is None else f"{rate:.3f}x txZMQ, p99 {p99:.3f}x"
            target = ">= 1.2x txZMQ, p99 <= 1.0x"
            rows.append([f"REQ/REP round trips, {variant}", target, shown, verdict(ok)])
    for variant in ("txzpub next()", "txzpub nextBatch(1000)", "txzpub gotMessage"):
        versus("router100", variant, 2.0, "ROUTER throughput")
    lateness("pullfairness", ("txzpub next()",), TXZMQ_PULL, "10 ms timer lateness, PULL")
    if "fanout" in summaries:
        for variant, entry in summaries["fanout"].items():
            if "1,000" not in variant:
                continue
            value = entry.get("vs 1 subscription", {}).get("median")
            rows.append(
                [
                    variant.split(" (")[0],
                    ">= 0.8x 1 subscription",
                    "-" if value is None else f"{value:.3f}x",
                    verdict(None if value is None else value >= 0.8),
                ]
            )
    if "memory" in summaries:
        for variant, entry in summaries["memory"].items():
            growth = entry.get("growth_mb", {}).get("median")
            bound = entry.get("bound_mb", {}).get("median")
            if growth is None:
                shown, ok = "-", None
            elif bound is None:
                shown, ok = f"{growth:.1f} MB, no bound", None
            else:
                shown, ok = f"{growth:.1f} MB (bound {bound:.1f} MB)", growth <= bound + 1
            if variant.startswith("txZMQ"):
                rows.append([f"memory, {variant}", "(reference)", shown, ""])
            else:
                rows.append([f"memory, {variant}", "growth <= bound (+1 MB)", shown, verdict(ok)])
    rows.extend(sequencedTargets(summaries))
    if not rows:
        return None
    headers = ["workload", "target", "measured (median)", ""]
    table = _stats.table(headers, rows, left={0, 1, 2, 3})
    return "### Targets\n\n" + table


def sequencedTargets(summaries: dict[str, dict]) -> list[list[str]]:
    """
    Sequenced >= 0.8x plain: throughput ratios at least 0.8, latency ratios at
    most 1 / 0.8 = 1.25, each against the same implementation with a plain
    publisher's default framing (one frame) in the same round; the ratio vs
    two frames (plain multipartFraming) is shown beside it.
    """
    one, two, seq = _workloads.ONE, _workloads.TWO, _workloads.SEQ
    least = _workloads.SEQ_TARGET
    most = 1 / least
    rows: list[list[str]] = []

    def ratio(key: str, variant: str, header: str) -> float | None:
        entry = summaries.get(key, {}).get(variant, {}).get(header)
        return None if entry is None else entry["median"]

    def verdict(ok: bool | None) -> str:
        return "?" if ok is None else ("met" if ok else "MISSED")

    def throughput(key: str, name: str, label: str, row: str) -> None:
        if key not in summaries:
            return
        variant = _workloads.framed(name, label)
        vsOne, vsTwo = ratio(key, variant, f"vs {one}"), ratio(key, variant, f"vs {two}")
        shown = "-" if vsOne is None else f"{vsOne:.3f}x {one}"
        if vsOne is not None and vsTwo is not None:
            shown += f" ({vsTwo:.3f}x {two})"
        ok = None if vsOne is None else vsOne >= least
        rows.append([row, f">= {least}x plain ({one})", shown, verdict(ok)])

    for name in _workloads.SEQ_SUBSCRIBERS:
        if name.startswith("txzpub"):
            throughput("seqsub", name, seq, f"sequenced subscriber throughput, {name}")
    throughput("seqpub", "txzpub publish()", seq, "sequenced publisher throughput")
    throughput(
        "seqpub",
        "txzpub publish()",
        "sequenced + replay buffer",
        "sequenced publisher throughput, with replay",
    )
    if "seqlatency" in summaries:
        for name in ("txzpub next()", "txzpub async for", "txzpub gotMessage"):
            variant = _workloads.framed(name, seq)
            p50 = ratio("seqlatency", variant, f"p50 vs {one}")
            p99 = ratio("seqlatency", variant, f"p99 vs {one}")
            ok = None if p50 is None or p99 is None else p50 <= most and p99 <= most
            shown = "-" if ok is None else f"{p50:.3f}x / {p99:.3f}x {one}"
            rows.append(
                [
                    f"sequenced latency p50 / p99, {name}",
                    f"<= {most:.2f}x plain ({one})",
                    shown,
                    verdict(ok),
                ]
            )
    return rows


def main() -> int:
    keys = [w.key for w in _workloads.allWorkloads(Settings())]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and messages (~2 min)")
    parser.add_argument("--repeats", type=int, help="interleaved rounds (default 7, quick 3)")
    parser.add_argument("--json", metavar="FILE", help="also write every run and summary here")
    parser.add_argument("--only", nargs="+", metavar="WORKLOAD", choices=keys, help=" ".join(keys))
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="write a cProfile .prof of every Twisted subscriber run into DIR",
    )
    parser.add_argument(
        "--plot",
        metavar="DIR",
        help="also draw SVG charts of the run into DIR (needs matplotlib: the bench group)",
    )
    parser.add_argument(
        "--plot-from",
        metavar="FILE",
        help="run nothing: draw the charts of a saved --json FILE (with --plot DIR)",
    )
    args = parser.parse_args()
    if args.plot_from and not args.plot:
        parser.error("--plot-from needs --plot DIR")
    plotter = _plotter(parser) if args.plot else None
    if args.plot_from:
        saved = json.loads(Path(args.plot_from).read_text())
        _draw(plotter, saved, args.plot)
        return 0
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        os.environ["TXZPUB_BENCH_PROFILE"] = str(Path(args.profile).resolve())

    repeats = args.repeats or (3 if args.quick else 7)
    settings = Settings(quick=args.quick, repeats=repeats)
    chosen = [w for w in _workloads.allWorkloads(settings) if not args.only or w.key in args.only]
    meta = {
        "versions": versions(),
        **machine(),
        "quick": args.quick,
        "repeats": repeats,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    info = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    cpus = f"{meta['cpus']} CPUs" + (f" ({meta['cpu_model']})" if meta["cpu_model"] else "")
    print(f"## txzpub benchmarks ({'quick, ' if args.quick else ''}{repeats} interleaved repeats)")
    print(f"\n{info}; {cpus}; {meta['platform']}; {meta['started']}\n")
    sys.stdout.flush()

    began = time.monotonic()
    report: dict = {"meta": meta, "workloads": {}}
    summaries: dict[str, dict] = {}
    stop = False
    rounds = {w.key: min(repeats, w.maxRepeats or repeats) for w in chosen}
    progress = Progress({w.key: rounds[w.key] * len(w.variants) for w in chosen})
    for number, workload in enumerate(chosen, 1):
        log(
            f"{workload.title} [{workload.key}, workload {number}/{len(chosen)}]: "
            f"{len(workload.variants)} variants x {rounds[workload.key]} rounds"
        )
        try:
            results = runWorkload(workload, rounds[workload.key], progress)
        except Interrupted as interrupted:
            results, stop = interrupted.results, True
        summary = summaries[workload.key] = summarize(workload, results)
        print(render(workload, summary) + "\n")
        sys.stdout.flush()
        report["workloads"][workload.key] = {
            "title": workload.title,
            "setup": workload.setup,
            "rounds": rounds[workload.key],
            "runs": results,
            "summary": summary,
        }
        if stop:
            break
    verdicts = targets(summaries)
    if verdicts:
        print(verdicts + "\n")
    elapsed = time.monotonic() - began
    meta["seconds"] = round(elapsed, 1)
    print(f"Total: {elapsed / 60:.1f} min (`python bench/run.py {' '.join(sys.argv[1:])}`)")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1, default=str) + "\n")
        print(f"JSON: {path}")
    if plotter is not None:
        _draw(plotter, report, args.plot)
    return 0


def _plotter(parser: argparse.ArgumentParser) -> ModuleType:
    """bench._plot, imported only for --plot: matplotlib is a bench-only dependency."""
    try:
        from bench import _plot
    except ImportError as error:
        parser.error(
            f"--plot needs matplotlib ({error}): pip install matplotlib, "
            "or the 'bench' dependency group (nox -s bench has it)"
        )
    return _plot


def _draw(plotter: ModuleType | None, report: dict, outdir: str) -> None:
    assert plotter is not None
    for path in plotter.plot(report, Path(outdir)):
        size = path.stat().st_size / 1024
        print(f"Chart: {path} ({size:.0f} KB)")


if __name__ == "__main__":
    sys.exit(main())
