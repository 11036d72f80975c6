"""What the Stress Chamber's charts draw: the data and style they take, and the tables behind them.

:class:`ChartData` holds a stress test's trials (from :func:`lab.analysis.stress.stress_frame`), their
learning curves, the step cap and the hidden groups. Each ``<name>_data`` function returns the
table one chart draws, which is also what its CSV export holds. No matplotlib here.
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lab.analysis.stress import curves as registry_curves
from lab.analysis.stress import stress_frame

Z95 = 1.959964  # two-sided 95% normal quantile


@dataclasses.dataclass(frozen=True)
class ChartStyle:
    """Toggles shared by the charts (each chart honours those in its ``ChartKind.toggles``):
    ``show_lines`` means, medians and step curves; ``show_boxes`` boxes, bars and violins;
    ``show_ci`` 95% intervals and bands; ``show_points`` the single trials (points, faint curves,
    counts). ``per_seed`` draws one phase trajectory per trial instead of a genome's mean over
    its seeds; ``gene`` picks the genes chart's scatter gene (default: the most correlated one)."""

    show_lines: bool = True
    show_boxes: bool = True
    show_ci: bool = True
    show_points: bool = True
    per_seed: bool = False
    gene: str | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class ChartData:
    """Trials (one row per trial, see ``stress_frame``), curves ((genome_id, seed) -> curve dict),
    the task's step cap and the names of groups to leave out of every chart."""

    trials: pd.DataFrame
    curves: Mapping[tuple[str, int], Mapping[str, Sequence[float]]] = dataclasses.field(default_factory=dict)
    step_cap: int = 0
    hidden: frozenset[str] = frozenset()
    gene_labels: Mapping[str, str] = dataclasses.field(default_factory=dict)   # gene key -> its words

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", frozenset(self.hidden))

    @classmethod
    def from_registry(cls, registry: Any, genomes: Sequence[Any], task: Any, seeds: Iterable[int] | None = None,
                      groups: Mapping[str, str] | None = None, hidden: Iterable[str] = ()) -> ChartData:
        """The recorded trials of ``genomes`` on ``task`` (only ``seeds`` if given), grouped by ``groups``."""
        seeds = None if seeds is None else list(seeds)
        frame = stress_frame(registry, genomes, task.task_id, seeds, groups)
        labels = {gene.key: gene.label for g in genomes for gene in g.spec.genes}
        return cls(frame, registry_curves(registry, genomes, task.task_id, seeds),
                   int(getattr(task, "step_cap", 0) or 0), frozenset(hidden), labels)

    def gene_label(self, key: str) -> str:
        """The gene's words for a chart ("Weight decay"), its key where no label is known."""
        return self.gene_labels.get(key, key.replace("_", " "))

    @property
    def groups(self) -> list[str]:
        """Every group with trials, hidden or not, in order of first appearance (hiding a group keeps the
        others' colours; a group that gets its first trial mid-run can move the colours after it)."""
        return list(dict.fromkeys(self.trials["group"])) if len(self.trials) else []

    @property
    def visible_groups(self) -> list[str]:
        return [g for g in self.groups if g not in self.hidden]

    def visible(self) -> pd.DataFrame:
        return self.trials[~self.trials["group"].isin(self.hidden)] if len(self.trials) else self.trials

    def colours(self) -> dict[str, Any]:
        import seaborn as sns
        groups = self.groups
        palette = sns.color_palette("colorblind" if len(groups) <= 10 else "husl", max(1, len(groups)))
        return dict(zip(groups, palette))

    def cap(self) -> int:
        """The step cap, or the largest step seen when the task named none."""
        if self.step_cap:
            return int(self.step_cap)
        steps = [max(c["step"]) for c in self.curves.values() if len(c.get("step", []))]
        finite = self.trials["steps_to_grok"].dropna() if len(self.trials) else []
        return int(max([*steps, *finite, 1]))

    def visible_curves(self) -> list[tuple[pd.Series, Mapping[str, Sequence[float]]]]:
        """(trial row, curve) for every visible trial with a recorded curve."""
        out = []
        for _, row in self.visible().iterrows():
            curve = self.curves.get((row["genome_id"], int(row["seed"])))
            if curve and len(curve.get("step", [])):
                out.append((row, curve))
        return out


# ---- statistics ------------------------------------------------------------------------------------
def wilson_interval(successes: np.ndarray | int, trials: np.ndarray | int,
                    z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion (NaN where there are no trials)."""
    k, n = np.asarray(successes, dtype=float), np.asarray(trials, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z ** 2 / n
        centre = (p + z ** 2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z ** 2 / (4 * n ** 2)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def mean_interval(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``values`` [trials, points]: (mean, low, high, n) with a Student-t 95% interval
    of the mean, ignoring NaN; a column with fewer than two values gets no interval (NaN)."""
    from scipy.stats import t as student_t

    values = np.asarray(values, dtype=float)
    n = np.isfinite(values).sum(axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns are expected: NaN is the answer
        mean = np.nanmean(values, axis=0)
        sd = np.nanstd(values, axis=0, ddof=1)
        half = np.where(n > 1, student_t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(n), np.nan)
    return mean, mean - half, mean + half, n


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (average ranks for ties); NaN with < 3 pairs or a constant side."""
    frame = pd.DataFrame({"x": x, "y": y}).dropna()
    if len(frame) < 3 or frame["x"].nunique() < 2 or frame["y"].nunique() < 2:
        return math.nan
    return float(np.corrcoef(frame["x"].rank(), frame["y"].rank())[0, 1])


def step_grid(curves: Iterable[Mapping[str, Sequence[float]]]) -> np.ndarray:
    """Every step any curve was evaluated at: the common grid curves are interpolated onto."""
    steps = [np.asarray(c["step"], dtype=float) for c in curves]
    return np.unique(np.concatenate(steps)) if steps else np.empty(0)


def on_grid(curve: Mapping[str, Sequence[float]], key: str, grid: np.ndarray) -> np.ndarray:
    """``curve[key]`` interpolated onto ``grid``. A trial that stopped early (it grokked or diverged)
    holds its last value, which is where training left it."""
    x, y = np.asarray(curve["step"], dtype=float), np.asarray(curve.get(key, []), dtype=float)
    keep = np.isfinite(y[:len(x)]) if len(y) >= len(x) else np.zeros(len(x), dtype=bool)
    if not keep.any():
        return np.full(len(grid), np.nan)
    return np.interp(grid, x[keep], y[:len(x)][keep])


# ---- the tables behind the charts ---------------------------------------------------------------
def phase_data(data: ChartData, style: ChartStyle = ChartStyle()) -> pd.DataFrame:
    """Per genome (mean over its seeds on the common step grid) or per trial (``per_seed``):
    step, train_loss, val_acc and val_loss."""
    columns = ["group", "genome_id", "label", "seed", "step", "train_loss", "val_acc", "val_loss"]
    pairs = data.visible_curves()
    if not pairs:
        return pd.DataFrame(columns=columns)
    grid = step_grid(c for _, c in pairs)
    frames = []
    by_genome: dict[str, list[tuple[pd.Series, Mapping[str, Sequence[float]]]]] = {}
    for row, curve in pairs:
        by_genome.setdefault(row["genome_id"], []).append((row, curve))
    for trials in by_genome.values():
        row = trials[0][0]
        traces = [(int(r["seed"]), [c]) for r, c in trials] if style.per_seed else [(pd.NA, [c for _, c in trials])]
        for seed, group in traces:
            values = {k: mean_interval([on_grid(c, k, grid) for c in group])[0]
                      for k in ("train_loss", "val_acc", "val_loss")}
            frames.append(pd.DataFrame({"group": row["group"], "genome_id": row["genome_id"], "label": row["label"],
                                        "seed": seed, "step": grid, **values}))
    frame = pd.concat(frames, ignore_index=True)[columns]
    return frame.astype({"seed": "Int64", "step": "int64"})


def speed_data(data: ChartData, style: ChartStyle = ChartStyle()) -> pd.DataFrame:
    """Per group: trials, grokked, and the quartiles of steps_to_grok of the grokked ones."""
    rows = []
    for group, trials in _by_group(data):
        steps = trials["steps_to_grok"].dropna().to_numpy()
        q = np.percentile(steps, [0, 25, 50, 75, 100]) if len(steps) else [math.nan] * 5
        rows.append({"group": group, "trials": len(trials), "grokked": len(steps), "min": q[0], "q1": q[1],
                     "median": q[2], "q3": q[3], "max": q[4]})
    return pd.DataFrame(rows, columns=["group", "trials", "grokked", "min", "q1", "median", "q3", "max"])


def success_data(data: ChartData, style: ChartStyle = ChartStyle()) -> pd.DataFrame:
    """Per group: trials, successes, success_rate and its Wilson 95% interval."""
    rows = [{"group": g, "trials": len(t), "successes": int(t["success"].sum())} for g, t in _by_group(data)]
    frame = pd.DataFrame(rows, columns=["group", "trials", "successes"])
    frame["success_rate"] = frame["successes"] / frame["trials"] if len(frame) else []
    frame["ci_low"], frame["ci_high"] = wilson_interval(frame["successes"].to_numpy(), frame["trials"].to_numpy())
    return frame


def curves_data(data: ChartData, style: ChartStyle = ChartStyle()) -> pd.DataFrame:
    """Per group and step of the common grid: val_acc mean over trials with its 95% interval."""
    pairs = data.visible_curves()
    columns = ["group", "step", "trials", "mean_val_acc", "ci_low", "ci_high"]
    if not pairs:
        return pd.DataFrame(columns=columns)
    grid = step_grid(c for _, c in pairs)
    frames = []
    for group in data.visible_groups:
        values = np.array([on_grid(c, "val_acc", grid) for row, c in pairs if row["group"] == group])
        if not len(values):
            continue
        mean, low, high, n = mean_interval(values)
        frames.append(pd.DataFrame({"group": group, "step": grid.astype(int), "trials": n, "mean_val_acc": mean,
                                    "ci_low": low, "ci_high": high}))
    return pd.concat(frames, ignore_index=True)[columns]


def survival_data(data: ChartData, style: ChartStyle = ChartStyle()) -> pd.DataFrame:
    """Per group: the share of trials grokked by each step, ``1 - S(t)`` of the Kaplan-Meier estimate
    in which a failed trial is censored at the cap (so the curve ends below 1 when any failed), with
    a log-log (Kalbfleisch-Prentice) 95% interval from Greenwood's variance. The interval is NaN where
    it is undefined: before a group's first event (nothing has grokked yet, S = 1) and once every
    trial at risk has grokked (S = 0); a group with 0 of n or n of n grokked is not "uncertain over
    the whole run", it simply has no band there."""
    rows = []
    cap = data.cap()
    for group, trials in _by_group(data):
        steps = np.sort(trials["steps_to_grok"].dropna().to_numpy())
        n = len(trials)
        survival, greenwood, at_risk = 1.0, 0.0, n
        for step in np.unique([0.0, *steps, float(max(cap, *steps, 0))]):
            events = int(np.sum(steps == step))
            if events and at_risk:
                survival *= 1 - events / at_risk
                greenwood = greenwood + events / (at_risk * (at_risk - events)) if at_risk > events else math.inf
                at_risk -= events
            low, high = km_loglog_interval(survival, greenwood)
            rows.append({"group": group, "step": int(step), "trials": n, "grokked": int(np.sum(steps <= step)),
                         "share_grokked": 1 - survival, "ci_low": 1 - high, "ci_high": 1 - low})
    frame = pd.DataFrame(rows, columns=["group", "step", "trials", "grokked", "share_grokked", "ci_low", "ci_high"])
    return frame.reset_index(drop=True)


def km_loglog_interval(survival: float, greenwood: float, z: float = Z95) -> tuple[float, float]:
    """95% interval of a Kaplan-Meier S(t) on the log(-log S) scale (it stays inside [0, 1]);
    ``greenwood`` is Greenwood's sum of d / (n (n - d)). (NaN, NaN) where S is 0 or 1."""
    if not 0 < survival < 1 or not math.isfinite(greenwood):
        return math.nan, math.nan
    half = z * math.sqrt(greenwood) / abs(math.log(survival))
    return survival ** math.exp(half), survival ** math.exp(-half)


def genes_data(data: ChartData, style: ChartStyle = ChartStyle()) -> pd.DataFrame:
    """Per gene: Spearman correlation with steps_to_grok (grokked trials) and with success (all
    trials); ``chosen`` marks the scatter's gene (``style.gene``, else the most correlated one)."""
    trials = data.visible()
    genes = [c for c in data.trials.columns if c.startswith("gene:")]
    grokked = trials[trials["success"] & trials["steps_to_grok"].notna()]
    rows = [{"gene": c.removeprefix("gene:"),
             "spearman_steps_to_grok": spearman(grokked[c], grokked["steps_to_grok"]),
             "spearman_success": spearman(trials[c], trials["success"].astype(float)),
             "grokked": len(grokked), "trials": len(trials)} for c in genes]
    frame = pd.DataFrame(rows, columns=["gene", "spearman_steps_to_grok", "spearman_success", "grokked", "trials"])
    frame["chosen"] = frame["gene"] == chosen_gene(frame, style)
    return frame


def chosen_gene(table: pd.DataFrame, style: ChartStyle = ChartStyle()) -> str | None:
    """The scatter's gene: ``style.gene`` if set, else the gene most correlated with steps_to_grok."""
    if style.gene is not None:
        if style.gene not in set(table["gene"]):
            raise ValueError(f"unknown gene {style.gene!r} (genes: {', '.join(table['gene'])})")
        return style.gene
    if table.empty:
        return None
    strength = table["spearman_steps_to_grok"].abs()
    return str(table.loc[strength.idxmax(), "gene"]) if strength.notna().any() else str(table["gene"].iloc[0])


def spread_data(data: ChartData, style: ChartStyle = ChartStyle()) -> pd.DataFrame:
    """Every visible trial: group, genome, seed, status and steps_to_grok (NaN: did not grok)."""
    return data.visible()[["group", "genome_id", "label", "seed", "status", "steps_to_grok"]].reset_index(drop=True)


def _by_group(data: ChartData) -> list[tuple[str, pd.DataFrame]]:
    trials = data.visible()
    return [(g, trials[trials["group"] == g]) for g in data.visible_groups]
