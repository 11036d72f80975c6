"""Grokking trials compared by how they compute (``python main.py mechanism A B ... --seeds S``): per
trial its key frequencies, the share of neurons one frequency explains and the phase boundaries of
its progress measures, as a table (``mechanism-compare.csv``), and a chart of every trial's test
and excluded loss over training with the boundaries marked (``mechanism-compare.*``)."""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lab.analysis.mechanism_charts import final_measures
from lab.arenas.grokking.mechanism import phases, progress_measures

COLUMNS = ("genome", "genome_id", "seed", "status", "steps", "keys", "keys_from", "n_keys", "neurons_explained",
           "circuit", "cleanup", "clean")
MARKERS = {"circuit": "o", "cleanup": "s", "clean": "*"}


def compare_rows(trials: Sequence[tuple[Any, int, Any]], task: Any) -> list[dict[str, Any]]:
    """A row per (genome, seed, snapshots): the measures of its last snapshot and its phases; the
    progress measures are kept under ``"_measures"`` for the chart."""
    rows = []
    for genome, seed, snaps in trials:
        scale = float(genome.genes["layer_scale"])
        final = final_measures(snaps.weights[-1], task, scale)
        measures = progress_measures(snaps.steps, snaps.weights, task, scale, keys=final["keys"])
        marks = phases(measures)
        alive = final["neuron_freq"] > 0
        explained = float((alive & (np.nan_to_num(final["neuron_share"]) >= 0.5)).mean())
        grokked = measures["test_acc"][-1] >= task.grok_threshold
        rows.append({"genome": genome.name or genome.id[:8], "genome_id": genome.id, "seed": int(seed),
                     "status": "grokked" if grokked else "not grokked", "steps": snaps.steps[-1],
                     "keys": " ".join(map(str, final["keys"])), "keys_from": final["keys_from"],
                     "n_keys": len(final["keys"]),
                     "neurons_explained": explained, **marks, "_measures": measures})
    return rows


def table_csv(rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow(["" if r[c] is None else (f"{r[c]:.4f}" if isinstance(r[c], float) else r[c]) for c in COLUMNS])
    return out.getvalue()


def draw_comparison(fig: Any, rows: Sequence[dict[str, Any]]) -> Any:
    """Test loss (left) and excluded loss (right) of every trial, a colour per genome and a line style
    per seed, with the phase boundaries marked (o: circuit, s: cleanup, *: clean)."""
    import matplotlib as mpl

    fig.clear()
    left, right = fig.subplots(1, 2, sharex=True)
    names = list(dict.fromkeys(r["genome"] for r in rows))
    colours = {n: mpl.colormaps["tab10"](i % 10) for i, n in enumerate(names)}
    seeds = sorted({r["seed"] for r in rows})
    styles = {s: ("-", "--", ":", "-.")[i % 4] for i, s in enumerate(seeds)}
    for r in rows:
        m = r["_measures"]
        for ax, key in ((left, "test_loss"), (right, "excluded_loss")):
            ax.plot(m["step"], m[key], color=colours[r["genome"]], ls=styles[r["seed"]], lw=1.2,
                    label=r["genome"] if r["seed"] == seeds[0] and ax is left else None)
            for phase, marker in MARKERS.items():
                at = r.get(phase)
                if at is not None:
                    ax.plot([at], [m[key][m["step"].index(at)]], marker=marker, color=colours[r["genome"]],
                            ms=6, mec="black", mew=0.5, ls="none")
    for ax, title in ((left, "test loss"), (right, "excluded loss (key directions removed)")):
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_title(title, fontsize="medium")
        ax.grid(True, alpha=0.3)
    left.set_ylabel("cross-entropy loss")
    left.legend(fontsize="x-small", loc="lower left")
    fig.suptitle(f"Trials compared (seeds {', '.join(map(str, seeds))}: line styles); "
                 "o circuit formation, s cleanup, * clean", fontsize="medium")
    fig.tight_layout()
    return fig


def write_comparison(rows: Sequence[dict[str, Any]], trials: Sequence[Any], task: Any, out: Path,
                     formats: Sequence[str]) -> list[Path]:
    from lab.analysis.export import export_figure
    from lab.files import atomic_write_text

    paths = [atomic_write_text(out / "mechanism-compare.csv", table_csv(rows))]
    paths += export_figure(lambda fig: draw_comparison(fig, rows), out, "mechanism-compare", formats,
                           figsize=(11.0, 4.8))
    return paths
