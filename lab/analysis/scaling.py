"""The scaling study: do genes found on the default MicroTransformer keep their edge on larger ones?
Genomes re-run on the default task at other sizes (``d_model`` with ``d_ff = 4 x d_model``, and
``layers``; everything else as the task says), each size a task of its own, through the Stress
Chamber's Smart Fill (trials the registry holds are not run again); then per genome and size the
success rate (95% Wilson interval) and the median steps to grok of the trials that grokked (95%
interval of the median from the binomial order statistics), against the parameter count.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lab.arenas.grokking.task import GrokTask
from lab.evolution.landscapes import SUCCESS

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("genome", "genome_id", "d_model", "layers", "params", "task_id", "runs", "grokked", "success",
           "success_low", "success_high", "median_steps", "median_low", "median_high")


def size_tasks(base: GrokTask, d_models: Sequence[int], layers: Sequence[int]) -> list[GrokTask]:
    """``base`` at every (layers, d_model): d_ff 4 x d_model, the heads kept (ValueError names a size
    the task refuses, e.g. a width the heads do not divide)."""
    out = []
    for n_layers in layers:
        for d in d_models:
            try:
                out.append(dataclasses.replace(base, d_model=int(d), d_ff=4 * int(d), layers=int(n_layers)))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"size d_model {d}, layers {n_layers}: {' '.join(str(exc).split())}") from None
    return out


def median_interval(values: Sequence[float], z: float = 1.96) -> tuple[float, float, float]:
    """The median of ``values`` and a distribution-free ~95% interval (order statistics at
    n/2 -+ z sqrt(n)/2); NaN where there are no values."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan
    half = z * math.sqrt(n) / 2
    lo, hi = max(0, int(math.floor(n / 2 - half))), min(n - 1, int(math.ceil(n / 2 + half)) - 1)
    return float(np.median(x)), float(x[lo]), float(x[max(lo, hi)])


def scaling_table(registry: Any, genomes: Sequence[Any], tasks: Sequence[GrokTask], seeds: Sequence[int]
                  ) -> pd.DataFrame:
    import pandas as pd

    from lab.analysis.chart_data import wilson_interval

    wanted, rows = set(seeds), []
    for g in genomes:
        for task in tasks:
            trials = [t for t in registry.trials_for(g.id, task.task_id) if t.seed in wanted]
            steps = [t.metrics["steps_to_grok"] for t in trials if t.status in SUCCESS
                     and isinstance(t.metrics.get("steps_to_grok"), (int, float))]
            lo, hi = (float(v) for v in wilson_interval(len(steps), len(trials))) if trials else (math.nan, math.nan)
            med = median_interval(steps)
            rows.append({"genome": g.name or g.id[:8], "genome_id": g.id, "d_model": task.d_model,
                         "layers": task.layers, "params": task.n_params(), "task_id": task.task_id,
                         "runs": len(trials), "grokked": len(steps),
                         "success": len(steps) / len(trials) if trials else math.nan, "success_low": lo,
                         "success_high": hi, "median_steps": med[0], "median_low": med[1], "median_high": med[2]})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def draw_scaling(fig: Any, table: pd.DataFrame) -> Any:
    """Median steps to grok (left) and success rate (right) against the parameter count, a colour per
    genome and a line per depth, with their 95% intervals."""
    import matplotlib as mpl

    fig.clear()
    left, right = fig.subplots(1, 2, sharex=True)
    names = list(dict.fromkeys(table["genome"]))
    colours = {n: mpl.colormaps["tab10"](i % 10) for i, n in enumerate(names)}
    for (name, layers), part in table.groupby(["genome", "layers"], sort=False):
        part = part.sort_values("params")
        style = "-" if layers == 1 else "--"
        x = part["params"].to_numpy(dtype=float)
        for ax, key, lo, hi in ((left, "median_steps", "median_low", "median_high"),
                                (right, "success", "success_low", "success_high")):
            y = part[key].to_numpy(dtype=float)
            err = np.vstack([y - part[lo].to_numpy(dtype=float), part[hi].to_numpy(dtype=float) - y])
            ax.errorbar(x, y, yerr=np.nan_to_num(err), color=colours[name], ls=style, marker="o", ms=4, capsize=3,
                        label=f"{name}, {layers} layer{'s' if layers > 1 else ''}")
    if not table["grokked"].any():
        left.text(0.5, 0.5, "no trial grokked", ha="center", va="center", transform=left.transAxes, color="#777777")
    left.set_ylabel("median steps to grok (grokked trials)")
    right.set_ylabel("trials grokked")
    right.set_ylim(-0.03, 1.05)
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("parameters")
        ax.grid(True, alpha=0.3)
    left.legend(fontsize="x-small")
    runs = sorted(set(int(r) for r in table["runs"]))
    fig.suptitle(f"Scaling: the genomes on larger MicroTransformers ({'/'.join(map(str, runs))} seeds a size; "
                 "95% intervals)", fontsize="medium")
    fig.tight_layout()
    return fig
