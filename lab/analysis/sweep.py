"""A sweep of one gene: a genome's variants that differ only in that gene (GENREG's hidden size
16/32/64/128/256, its child mutation rate ...), each run over the same seeds with Smart Fill (the
Stress Chamber's plan and runner, so trials the registry holds are not run again), and a metric
against the gene's values with 95% confidence intervals: the mean of the metric (Student t) and
the success rate (Wilson). The GENREG README's "architecture sweep" and "mutation rate ablation"
are such sweeps.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lab.analysis.stress import StressPlan, plan_stress
from lab.arenas.base import TaskConfig
from lab.evolution.landscapes import SUCCESS
from lab.genome import Genome, GenomeError
from lab.registry import Registry

if TYPE_CHECKING:
    import pandas as pd

SWEEP_TAG = "sweep"
TABLE_COLUMNS = ("value", "genome_id", "runs", "metric_n", "metric_mean", "metric_low", "metric_high",
                 "successes", "success_rate", "success_low", "success_high")


def parse_values(text: str, gene: Any) -> list[float | int]:
    """The values of ``gene`` a sweep takes, from "16,32,64" (duplicates dropped, order kept);
    ValueError names a value that is not a number or is outside the gene's bounds."""
    values: list[float | int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            number = float(part)
        except ValueError:
            raise ValueError(f"sweep value {part!r} of {gene.key} is not a number") from None
        if not math.isfinite(number) or not gene.low <= number <= gene.high:
            raise ValueError(f"sweep value {part} of {gene.key} is outside its bounds [{gene.low:g}, {gene.high:g}]")
        value = int(round(number)) if gene.kind == "int" else number
        if value not in values:
            values.append(value)
    if len(values) < 2:
        raise ValueError(f"a sweep of {gene.key} needs at least two values, got {text!r}")
    return values


def sweep_genomes(base: Genome, gene: str, values: Sequence[float | int]) -> list[Genome]:
    """``base`` with ``gene`` set to each value, named after the base and the value, tagged "sweep"."""
    if gene not in base.spec.keys:
        raise ValueError(f"{base.spec.name} genomes have no gene {gene!r} (genes: {', '.join(base.spec.keys)})")
    stem = base.name or base.id[:8]
    out = []
    for v in values:
        try:
            out.append(base.replace(genes={gene: v}, name=f"{stem} {gene}={v:g}", origin="forge",
                                    parents=(base.id,), tags=tuple(dict.fromkeys((*base.tags, SWEEP_TAG)))))
        except GenomeError as exc:
            raise ValueError(f"{gene}={v}: {exc}") from None
    return out


def plan_sweep(registry: Registry, genomes: Sequence[Genome], task: TaskConfig, runs: int,
               seed_start: int = 0) -> StressPlan:
    """The Smart Fill plan of a sweep: every variant on seeds ``seed_start`` .. + runs - 1."""
    return plan_stress(registry, genomes, task, runs, seed_start)


def default_metric(arena: Any) -> str:
    """The metric a sweep charts when none is named: held-out accuracy where the arena reports it."""
    return "final_val_acc" if arena.name == "grokking" else "test_acc"


def sweep_table(registry: Registry, genomes: Sequence[Genome], gene: str, task_id: str, seeds: Sequence[int],
                metric: str) -> pd.DataFrame:
    """A row per gene value (in sweep order): runs, the metric's mean with its 95% interval (over the
    trials that report it as a finite number) and the success rate with its Wilson interval."""
    import pandas as pd

    from lab.analysis.chart_data import mean_interval, wilson_interval

    wanted, rows = set(seeds), []
    for g in genomes:
        trials = [t for t in registry.trials_for(g.id, task_id) if t.seed in wanted]
        values = np.array([_number(t.metrics.get(metric)) for t in trials], dtype=float)
        mean, low, high, n = (float(x[0]) for x in mean_interval(values.reshape(-1, 1))) if len(values) else (
            math.nan, math.nan, math.nan, 0)
        wins = sum(t.status in SUCCESS for t in trials)
        s_low, s_high = (float(x) for x in wilson_interval(wins, len(trials))) if trials else (math.nan, math.nan)
        rows.append({"value": g.genes[gene], "genome_id": g.id, "runs": len(trials), "metric_n": int(n),
                     "metric_mean": mean, "metric_low": low, "metric_high": high, "successes": wins,
                     "success_rate": wins / len(trials) if trials else math.nan,
                     "success_low": s_low, "success_high": s_high})
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def draw_sweep(fig: Any, table: pd.DataFrame, gene_label: str, metric: str, log_x: bool | None = None) -> Any:
    """The metric (mean, 95% CI) and the success rate (95% Wilson CI) against the gene's values."""
    fig.clear()
    ax = fig.add_subplot(1, 1, 1)
    x = table["value"].astype(float).to_numpy()
    if table.empty:
        ax.text(0.5, 0.5, "no trials recorded yet", ha="center", va="center", transform=ax.transAxes)
        return fig
    order = np.argsort(x)
    x = x[order]
    t = table.iloc[order]
    mean = t["metric_mean"].to_numpy(dtype=float)
    err = np.vstack([mean - t["metric_low"].to_numpy(dtype=float), t["metric_high"].to_numpy(dtype=float) - mean])
    ax.errorbar(x, mean, yerr=np.nan_to_num(err), color="#2166ac", marker="o", ms=4, lw=1.4, capsize=3,
                label=f"{metric} (mean, 95% CI)")
    rate = t["success_rate"].to_numpy(dtype=float)
    s_err = np.vstack([rate - t["success_low"].to_numpy(dtype=float), t["success_high"].to_numpy(dtype=float) - rate])
    if log_x is None:
        log_x = bool((x > 0).all() and x.max() >= 8 * x.min())
    # the rate's marks a little to the right of the metric's, so that the two intervals never hide each other
    dodged = x * 1.04 if log_x else x + 0.015 * (x.max() - x.min() or 1.0)
    ax.errorbar(dodged, rate, yerr=np.nan_to_num(s_err), color="#b2182b", marker="s", ms=3.5, lw=1.0, ls="--",
                capsize=3, label="success rate (95% Wilson CI)")
    if log_x:
        ax.set_xscale("log")
    ax.set_xticks(x, [f"{v:g}" for v in x])
    ax.minorticks_off()
    ax.set_ylim(-0.02, 1.05 if np.nanmax(np.r_[t["metric_high"].to_numpy(dtype=float), 1.0]) <= 1.0 else None)
    runs = sorted(set(int(r) for r in t["runs"]))
    ax.set_xlabel(gene_label)
    ax.set_ylabel("accuracy / rate")
    ax.set_title(f"{metric} against {gene_label} ({'/'.join(map(str, runs))} seeds each)", fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    return fig
