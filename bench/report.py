"""Render saved benchmark runs as Markdown tables and log-log plots: ``make bench-report``.

    python bench/report.py [--results bench/results] [--out bench/results/REPORT.md]
                           [--plots bench/results/plots] [--readme README.md]

CPU: per machine, each benchmark group from the latest pytest-benchmark run that has it (``make
bench``; a run of a few files replaces just their groups), one table per group (min and median,
and the median against fastseg's in the same group) and one PNG per op: time against size,
fastseg against its peers. The range-density groups (``range_mae_density ...``) are summed up in
one table of ratios to ``np.add`` instead of a plot. GPU: each ``bench/gpu_check.py`` record, one table
per shape. With ``--readme``, the block between ``BEGIN``/``END`` below in that file is replaced
by the same report (links relative to it).
"""

from __future__ import annotations

import argparse
import os
import re
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import records

BEGIN = "<!-- bench-report:begin (written by `make bench-report` from bench/results; edits here are overwritten) -->"
END = "<!-- bench-report:end -->"
_SHAPE = re.compile(r"(\d+)x(\d+)|(\d+) elements")


class Row(NamedTuple):
    """One benchmark of a saved CPU run."""

    op: str
    group: str
    context: str
    """The group without its size, e.g. ``range_mae fwd+bwd``: one panel of the op's plot."""
    member: str
    """The benchmark without its size, e.g. ``fastseg[1thread-fwd]``: one line in that panel."""
    elements: int | None
    min: float
    median: float


def _size(group: str) -> tuple[int | None, str]:
    """(elements, the group with the size removed) for ``"range_mae fwd 4096x1024"`` and the like."""
    found = _SHAPE.search(group)
    if found is None:
        return None, group
    elements = int(found[1]) * int(found[2]) if found[1] else int(found[3])
    return elements, " ".join((group[:found.start()] + group[found.end():]).split())


def _member(name: str, group: str = "") -> str:
    """The benchmark's name without ``test_`` and without the size parameters of its group:
    ``test_fastseg[4096x1024-1thread-fwd]`` -> ``fastseg[1thread-fwd]``; in group
    ``"... 4096 elements"``, ``test_threshold[4096-serial]`` -> ``threshold[serial]``."""
    found = _SHAPE.search(group)
    sizes = {found[0], *(n for n in found.groups() if n)} if found else set()
    name = name.removeprefix("test_")
    if "[" in name:
        base, params = name.rstrip("]").split("[", 1)
        kept = [p for p in params.split("-") if not _SHAPE.fullmatch(p) and p not in sizes]
        name = f"{base}[{'-'.join(kept)}]" if kept else base
    return name


DENSITY_OP = "range_mae_density"


def cpu_rows(run: dict) -> list[Row]:
    """The benchmarks of one saved pytest-benchmark run (density groups without a size: not plotted)."""
    rows = []
    for bench in run["benchmarks"]:
        group = bench.get("group") or bench["name"]
        elements, context = _size(group)
        op = group.split()[0]
        rows.append(Row(op, group, context, _member(bench["name"], group), None if op == DENSITY_OP else elements,
                        bench["stats"]["min"], bench["stats"]["median"]))
    return rows


def latest_groups(runs: list[tuple[Path, dict]]) -> tuple[list[Row], list[tuple[Path, dict]]]:
    """The rows of each group from the latest of ``runs`` (oldest first) that has it, and the runs used."""
    by_group: dict[str, tuple[int, list[Row]]] = {}
    for index, (_, run) in enumerate(runs):
        fresh: dict[str, list[Row]] = defaultdict(list)
        for row in cpu_rows(run):
            fresh[row.group].append(row)
        by_group.update({group: (index, members) for group, members in fresh.items()})
    used = sorted({index for index, _ in by_group.values()})
    return [r for _, members in by_group.values() for r in members], [runs[i] for i in used]


def density_table(rows: list[Row]) -> str:
    """The range-density groups as one table: fastseg (1 thread) and the vectorised torch peer
    against ``np.add`` over the same arrays, medians, and fastseg's speed-up on all threads (fwd+bwd
    and fwd)."""
    cells: dict[tuple[str, str], dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        if r.op != DENSITY_OP:
            continue
        mode, shape, label = r.group.split(" ", 3)[1:]
        cells[(shape, label)][mode][r.member.split("[")[0].removeprefix("density_") + (
            "[allthreads]" if "allthreads" in r.member else "")] = r.median
    if not cells:
        return ""
    out = ["**range_mae at any range density** (float32; medians; `np.add` reads two arrays and writes one)", "",
           "| shape | ranges | fwd+bwd / np.add | fwd / np.add | all threads' speed-up, fwd+bwd | fwd | "
           "torch vectorised fwd+bwd / np.add |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]

    def order(key):
        shape, label = key
        return (shape, float("inf") if label == "one-range" else float(label.split()[-1]))

    for shape, label in sorted(cells, key=order):
        both, fwd = cells[(shape, label)]["fwd+bwd"], cells[(shape, label)]["fwd"]

        def ratio(mode, member):
            base = mode.get("numpy_add_roofline")
            return f"{mode[member] / base:.2f}x" if base and member in mode else ""

        def speedup(mode):
            return (f"{mode['fastseg'] / mode['fastseg[allthreads]']:.2f}x"
                    if "fastseg" in mode and "fastseg[allthreads]" in mode else "")

        out.append(f"| {shape} | {label} | {ratio(both, 'fastseg')} | {ratio(fwd, 'fastseg')} | {speedup(both)} | "
                   f"{speedup(fwd)} | {ratio(both, 'torch_vectorized')} |")
    return "\n".join(out) + "\n"


def fmt_time(seconds: float) -> str:
    """A time with a unit that keeps 3 significant digits: ``412 ns``, ``1.50 ms``."""
    unit, scale = next(((u, s) for u, s in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)) if seconds >= s),
                       ("ns", 1e-9))
    value = seconds / scale
    return f"{value:.{0 if value >= 100 else 1 if value >= 10 else 2}f} {unit}"


def _machine(run: dict) -> str:
    info, commit = run.get("machine_info", {}), run.get("commit_info", {})
    cpu = info.get("cpu", {})
    versions = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items())
    parts = [f"{cpu.get('brand_raw', info.get('processor', '?'))}, {cpu.get('count', '?')} cores",
             f"Python {info.get('python_version', '?')}", versions,
             f"Numba threads {info['numba_threads']}" if "numba_threads" in info else "",
             f"commit {commit.get('id', '?')[:10]}{' (dirty)' if commit.get('dirty') else ''}",
             run.get("datetime", "")[:10]]
    return "; ".join(p for p in parts if p)


def cpu_tables(rows: list[Row]) -> str:
    """One Markdown table per group, fastest median first."""
    by_group: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_group[row.group].append(row)
    out = []
    for group in sorted(by_group, key=lambda g: (by_group[g][0].op, by_group[g][0].context,
                                                   by_group[g][0].elements or 0, g)):
        members = sorted(by_group[group], key=lambda r: r.median)
        fastseg = min((r.median for r in members if "fastseg" in r.member), default=None)
        out += [f"**{group}**", "", "| benchmark | min | median | median / fastseg's |",
                "| --- | ---: | ---: | ---: |"]
        for r in members:
            ratio = f"{r.median / fastseg:.2f}" if fastseg else ""
            out.append(f"| `{r.member}` | {fmt_time(r.min)} | {fmt_time(r.median)} | {ratio} |")
        out.append("")
    return "\n".join(out)


def plot_op(rows: list[Row], op: str, path: Path) -> Path:
    """Median time against elements, log-log, one panel per context of ``op``: fastseg solid,
    peers dashed; the min of each point as a small dot below it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mine = [r for r in rows if r.op == op and r.elements]
    contexts = sorted({r.context for r in mine})
    fig, axes = plt.subplots(len(contexts), 1, figsize=(8, 3.6 * len(contexts)), squeeze=False)
    for ax, context in zip(axes[:, 0], contexts):
        series: dict[str, list[Row]] = defaultdict(list)
        for r in mine:
            if r.context == context:
                series[r.member].append(r)
        for member, points in sorted(series.items()):
            points.sort(key=lambda r: r.elements)
            x = [r.elements for r in points]
            style = "-" if "fastseg" in member else "--"
            line, = ax.plot(x, [r.median for r in points], style, marker="o", label=member)
            ax.plot(x, [r.min for r in points], ".", color=line.get_color(), markersize=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(context, fontsize=10)
        ax.set_xlabel("elements")
        ax.set_ylabel("seconds (median; dot: min)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def gpu_tables(record: dict) -> str:
    """``bench/gpu_check.py``'s timings as one table per shape (each time the best of 3)."""
    by_table: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for t in record.get("timings", []):
        op, _, name = t["name"].rpartition(": ")  # "hinge: fastseg native fused kernel"; range_mae's have no prefix
        by_table[(op or "range_mae", t["shape"])].append({**t, "name": name})
    n_ok = sum(c.get("ok", False) for c in record.get("correctness", []))
    out = [f"{record.get('device', '?')}: {n_ok} of {len(record.get('correctness', []))} correctness "
           f"cases passed; times are CUDA-event times, best of 3 runs.", ""]
    for (op, shape), timings in by_table.items():
        out += [f"**{op} {shape} float32**", "", "| implementation | mode | time | GB/s |",
                "| --- | --- | ---: | ---: |"]
        for t in sorted(timings, key=lambda t: (t["mode"], t["seconds"])):
            out.append(f"| {t['name']} | {t['mode']} | {fmt_time(t['seconds'])} | {t['gbps']:.0f} |")
        out.append("")
    return "\n".join(out)


def render(results: Path, plots: Path, relative_to: Path) -> str:
    """The whole report as Markdown, plot links relative to the directory ``relative_to``."""
    out = ["### CPU (`make bench`)", ""]
    machines = records.cpu_machine_runs(results)
    if not machines:
        out += [f"No saved CPU run in `{os.path.relpath(results / 'cpu', relative_to)}` yet: "
                "`make bench`, then `make bench-report`.", ""]
    for machine, paths in machines.items():
        rows, used = latest_groups([(path, records.load(path)) for path in paths])
        for path, run in used:
            out += [f"Run `{path.relative_to(results).as_posix()}`: {_machine(run)}.", ""]
        for op in sorted({r.op for r in rows if r.elements}):
            png = plot_op(rows, op, plots / f"cpu_{machine}_{op}.png")
            out += [f"![{op}: time against size]({Path(os.path.relpath(png, relative_to)).as_posix()})", ""]
        density = density_table(rows)
        out += [density] if density else []
        out.append(cpu_tables(rows))
    out += ["### GPU (`python bench/gpu_check.py`)", ""]
    for path in records.gpu_runs(results):
        out += [f"Record `{path.relative_to(results).as_posix()}`:", "", gpu_tables(records.load(path))]
    return "\n".join(out).rstrip() + "\n"


def replace_block(text: str, block: str) -> str:
    """``text`` with what lies between :data:`BEGIN` and :data:`END` replaced by ``block``."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no {BEGIN!r} ... {END!r} block to rewrite")
    return text[:start + len(BEGIN)] + "\n" + block + text[end:]


def main(argv: list[str] | None = None) -> None:
    """Write the report (and, with ``--readme``, its block in that file)."""
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--results", type=Path, default=records.RESULTS, help="saved runs (default bench/results)")
    cli.add_argument("--out", type=Path, help="Markdown report (default RESULTS/REPORT.md)")
    cli.add_argument("--plots", type=Path, help="PNG folder (default RESULTS/plots)")
    cli.add_argument("--readme", type=Path, help="a Markdown file whose report block to rewrite")
    args = cli.parse_args(argv)
    out = args.out or args.results / "REPORT.md"
    plots = args.plots or args.results / "plots"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# Benchmark report\n\n" + render(args.results, plots, out.parent))
    print(f"wrote {out}")
    for png in sorted(plots.glob("*.png")):
        print(f"wrote {png}")
    if args.readme:
        block = render(args.results, plots, args.readme.parent)
        args.readme.write_text(replace_block(args.readme.read_text(), block))
        print(f"rewrote the report block of {args.readme}")


if __name__ == "__main__":
    main()
