"""Draw the benchmark charts from the JSON results written by bench/bench.py.

    python bench/chart.py ratio bench/results/latest.json OUT.png [OUT.png ...]
    python bench/chart.py scale bench/results/scale.json  OUT.png [OUT.png ...]
    python bench/chart.py queries bench/results/queries.json OUT.png [OUT.png ...]

ratio: featwright/baseline median req/s per endpoint, as bars against the 0.6 target.
scale: featwright list latency (p50 and p99) against table size, log axes, one line per
variant (offset or cursor, first or middle page).
queries: page 1 p50 of each queried list (sort, range filter, search) at the largest size
over the smallest, as bars against the 2x bound; the deep cursor page over its page 1.

Needs matplotlib: run.sh runs it with the bench-only venv made from
bench/requirements-plot.lock, never the project's .venv.
"""

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, LogLocator

TARGET = 0.6
GOOD, BAD = "#2e7d32", "#c62828"


def _stamp(data: dict[str, Any]) -> str:
    commit = (data.get("git_commit") or "")[:10] + ("+dirty" if data.get("git_dirty") else "")
    return f"{data.get('date', '')[:16].replace('T', ' ')}  commit {commit}"


def ratio(data: dict[str, Any], outs: list[Path]) -> None:
    settings = data["settings"]
    target = settings.get("ratio_target", TARGET)
    names, values = [], []
    for endpoint, entry in data["endpoints"].items():
        if entry.get("ratio") is None:
            continue
        against = entry.get("ratio_against")
        names.append(endpoint if against in (None, endpoint) else f"{endpoint}\n(vs {against})")
        values.append(entry["ratio"])
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    bars = ax.bar(names, values, color=[GOOD if v >= target else BAD for v in values], width=0.6)
    ax.axhline(target, color="#333333", linestyle="--", linewidth=1.2)
    ax.text(len(names) - 0.5, target, f" target {target:g}", va="bottom", ha="right", fontsize=9)
    for bar, value in zip(bars, values, strict=True):
        ax.annotate(
            f"{value:.2f}",
            (bar.get_x() + bar.get_width() / 2, value),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=9,
        )
    ax.set_ylim(0, max([1.1, target * 1.2, *values]) * 1.12)
    ax.set_ylabel("featwright req/s ÷ baseline req/s (median)")
    ax.set_title(
        "featwright vs raw Starlette + asyncpg (1 worker each, same PostgreSQL)\n"
        f"{settings['rows']:,} rows, {settings['runs']}x{settings['duration_s']}s interleaved, "
        f"{settings['conns']} connections",
        fontsize=10,
    )
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.text(0.99, 0.01, _stamp(data), ha="right", va="bottom", fontsize=7, color="#666666")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    for out in outs:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)


def scale(data: dict[str, Any], outs: list[Path]) -> None:
    settings = data["settings"]
    variants: dict[str, str] = settings["variants"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), dpi=110, sharey=True)
    for ax, stat, title in ((axes[0], "p50_ms", "p50"), (axes[1], "p99_ms", "p99")):
        for variant, label in variants.items():
            points = sorted(
                (r["rows"], r["median"][stat]) for r in data["results"] if r["variant"] == variant
            )
            if not points:
                continue
            style = "-" if variant.startswith("offset") else "--"
            marker = "o" if variant.endswith("first") else "s"
            ax.plot(*zip(*points, strict=True), style, marker=marker, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(settings["sizes"])
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
        ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
        ax.tick_params(axis="y", which="minor", labelsize=7)
        ax.set_xlabel("rows in the table")
        ax.set_title(f"{title} latency", fontsize=10)
        ax.grid(which="both", alpha=0.3)
    axes[0].set_ylabel("ms (log scale)")
    axes[0].legend(fontsize=8)
    fig.suptitle(
        f"featwright list endpoint, limit {settings['limit']}: offset vs cursor "
        f"({settings['conns']} connections, {settings['runs']}x{settings['duration_s']}s)",
        fontsize=10,
    )
    fig.text(0.99, 0.01, _stamp(data), ha="right", va="bottom", fontsize=7, color="#666666")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    for out in outs:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)


def queries(data: dict[str, Any], outs: list[Path]) -> None:
    settings = data["settings"]
    sizes = settings["sizes"]
    small, large = min(sizes), max(sizes)
    labels = {r["variant"]: r["label"] for r in data["results"]}
    names, values, bounds = [], [], []
    for variant, ratio in data["verdicts"].items():
        if ratio is None:
            continue
        deep = variant.startswith("deep@")
        if deep and int(variant.removeprefix("deep@")) != large:
            continue
        names.append(
            f"middle page by cursor\nvs its page 1, {large:,} rows" if deep else labels[variant]
        )
        values.append(ratio)
        bounds.append(settings["deep_bound"] if deep else settings["bound"])
    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=110)
    colors = [GOOD if v <= b else BAD for v, b in zip(values, bounds, strict=True)]
    bars = ax.barh(names, values, color=colors, height=0.6)
    ax.axvline(settings["bound"], color="#333333", linestyle="--", linewidth=1.2)
    ax.axvline(settings["deep_bound"], color="#777777", linestyle=":", linewidth=1.2)
    for bar, value in zip(bars, values, strict=True):
        ax.annotate(
            f"{value:.2f}x",
            (value, bar.get_y() + bar.get_height() / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.invert_yaxis()
    ax.set_xlim(0, max([settings["bound"] * 1.2, *values]) * 1.1)
    ax.set_xlabel(
        f"p50 at {large:,} rows / p50 at {small:,} rows (page 1 of {settings['limit']});"
        f" bounds {settings['bound']:g}x and {settings['deep_bound']:g}x"
    )
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(
        f"featwright lists people query, as the table grows ({settings['conns']} connections,"
        f" {settings['runs']}x{settings['duration_s']}s)",
        fontsize=10,
    )
    ax.grid(axis="x", alpha=0.3)
    fig.text(0.99, 0.01, _stamp(data), ha="right", va="bottom", fontsize=7, color="#666666")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    for out in outs:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)


CHARTS = {"ratio": ratio, "scale": scale, "queries": queries}


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[1] not in CHARTS:
        print(__doc__, file=sys.stderr)
        return 2
    data = json.loads(Path(sys.argv[2]).read_text())
    CHARTS[sys.argv[1]](data, [Path(p) for p in sys.argv[3:]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
