"""Insights over the whole registry: one row per genome with its genes and the outcomes of its recorded
trials on one task, chosen by top-k / tag / run / Hall-of-Fame filters. The gene-importance model, the
slice and contour plots, parallel coordinates and proposals (lab.analysis.insight_model) all read this
table; the Insights tab and ``python main.py insights`` build it with :func:`insight_data`.

Outcomes are summarised honestly: a racing-stopped trial counts in no success rate (its outcome is
unknown) and is censored at its stop step in the steps median; a failed trial is censored at the cap.
The median steps to success is the Kaplan-Meier median, and a genome whose median was never reached
is marked censored (it is not given a made-up number).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lab.evolution.landscapes import SUCCESS
from lab.genome import Genome, GeneSpec
from lab.registry import Registry, RegistryError

MIN_GENOMES = 8   # a model of fewer genomes predicts nothing worth showing


class InsightError(RegistryError):
    """What the insights cannot do with the data at hand, in one line (a user can act on it)."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One thing a trial records that the model can predict: its column, words, and direction."""

    key: str
    label: str
    higher_is_better: bool
    log: bool = False          # modelled as log10 (steps spread over orders of magnitude)

    def better(self, a: float, b: float) -> bool:
        return a > b if self.higher_is_better else a < b


SUCCESS_OUTCOME = Outcome("success", "success rate", True)


def steps_outcome(task: Any) -> Outcome:
    """The median of ``UNIT`` to ``GOAL`` of the task ("median steps to grok", "median passes to ...")."""
    unit, goal = getattr(task, "UNIT", "steps"), getattr(task, "GOAL", "grok")
    return Outcome("median_steps", f"median {unit} to {goal}", False, log=True)


TEST_ACC_OUTCOME = Outcome("test_acc", "mean test accuracy", True)


@dataclasses.dataclass(frozen=True)
class Filters:
    """Which genomes the views take: the ``top_k`` best by outcome (0: all), those carrying ``tag``,
    those that lived in run ``run_id``, only the Hall of Fame; and at least ``min_trials`` trials
    (finished, or stopped by racing)."""

    top_k: int = 0
    tag: str = ""
    run_id: str = ""
    hall_of_fame: bool = False
    min_trials: int = 1

    def __post_init__(self) -> None:
        for name in ("top_k", "min_trials"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "min_trials" else 0):
                raise ValueError(f"{name.replace('_', '-')} must be a whole number >= "
                                 f"{1 if name == 'min_trials' else 0}, got {value!r}")

    def describe(self) -> str:
        parts = [f"top {self.top_k}" if self.top_k else "", f"tag {self.tag}" if self.tag else "",
                 f"run {self.run_id}" if self.run_id else "", "Hall of Fame" if self.hall_of_fame else "",
                 f">= {self.min_trials} trials" if self.min_trials > 1 else ""]
        return ", ".join(p for p in parts if p) or "all genomes with trials"


@dataclasses.dataclass(frozen=True, eq=False)
class InsightData:
    """The genome table: ``frame`` has genome_id, label, trials, successes, stopped, success,
    median_steps, median_censored, test_acc, one column per gene (its value) and ``unit:<gene>``
    (the gene in the normalised [0, 1] space the model works in)."""

    spec: GeneSpec
    task_id: str
    step_cap: int
    frame: pd.DataFrame
    outcomes: tuple[Outcome, ...]
    filters: Filters = Filters()

    @property
    def genes(self) -> list[str]:
        return [g.key for g in self.spec.genes]

    def unit_matrix(self) -> np.ndarray:
        return self.frame[[f"unit:{k}" for k in self.genes]].to_numpy(dtype=float)

    def outcome(self, key: str) -> Outcome:
        for o in self.outcomes:
            if o.key == key:
                return o
        raise InsightError(f"outcome {key!r} is not recorded here (outcomes: "
                           f"{', '.join(o.key for o in self.outcomes)})")

    def genome_ids(self) -> list[str]:
        return list(self.frame["genome_id"])


def km_median(events: Sequence[float], censored: Sequence[float]) -> tuple[float, bool]:
    """Kaplan-Meier median of times to success: ``events`` are observed successes, ``censored`` times
    after which a trial was not followed (a failure at the cap, a racing stop). Returns (median,
    False), or (the last time observed, True) when the estimate never falls to one half."""
    times = sorted({*events, *censored})
    ev, ce = np.asarray(events, dtype=float), np.asarray(censored, dtype=float)
    at_risk, survival = len(ev) + len(ce), 1.0
    for t in times:
        d = int(np.sum(ev == t))
        if d and at_risk:
            survival *= 1 - d / at_risk
            if survival <= 0.5 + 1e-12:
                return float(t), False
        at_risk -= d + int(np.sum(ce == t))
    return (float(max(times)) if times else math.nan), True


def summarise(trials: Sequence[Any], stopped: Sequence[Any], step_cap: int, horizon: int = 0) -> dict[str, Any]:
    """One genome's finished ``trials`` and racing-``stopped`` ones as the table's outcome columns.
    ``success_by_h``: the share of trials that succeeded by step ``horizon``, over every trial whose
    outcome at that step is known (a trial stopped before it is not)."""
    won = [float(t.metrics["steps_to_grok"]) for t in trials
           if t.status in SUCCESS and t.metrics.get("steps_to_grok") is not None]
    lost = [float(step_cap or t.metrics.get("steps") or 0) for t in trials
            if not (t.status in SUCCESS and t.metrics.get("steps_to_grok") is not None)]
    lost += [float(t.metrics.get("censored_at") or t.metrics.get("steps") or 0) for t in stopped]
    median, censored = km_median(won, lost) if (won or lost) else (math.nan, True)
    accs = [float(t.metrics["test_acc"]) for t in trials if isinstance(t.metrics.get("test_acc"), (int, float))
            and math.isfinite(t.metrics["test_acc"])]
    n = len(trials)
    successes = sum(t.status in SUCCESS for t in trials)
    known = len(won) + len(lost)
    if horizon:
        stopped_early = sum(float(t.metrics.get("censored_at") or 0) < horizon for t in stopped)
        known -= stopped_early
        by_h = sum(w <= horizon for w in won) / known if known else math.nan
    else:
        by_h = math.nan
    return {"trials": n, "successes": successes, "stopped": len(stopped), "success_by_h": by_h, "known_by_h": known,
            "success": successes / n if n else math.nan, "median_steps": median, "median_censored": censored,
            "test_acc": float(np.mean(accs)) if accs else math.nan}


def _chosen_ids(registry: Registry, spec: GeneSpec, filters: Filters) -> set[str] | None:
    """The genome ids the tag / run / Hall-of-Fame filters allow (None: no such filter)."""
    allowed: set[str] | None = None

    def narrow(ids: Iterable[str]) -> None:
        nonlocal allowed
        ids = set(ids)
        allowed = ids if allowed is None else allowed & ids

    if filters.tag:
        narrow(g.id for g in registry.list_genomes(spec=spec.name, tag=filters.tag))
    if filters.hall_of_fame:
        narrow(g.id for g in registry.hall_of_fame_genomes())
    if filters.run_id:
        from lab.evolution.run_files import read_run
        _run, state = read_run(registry, filters.run_id)
        narrow(row["id"] for record in state["history"] for row in record["genomes"] if isinstance(row.get("id"), str))
    return allowed


def rank_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Best first: success rate (in a raced registry, success by the racing horizon, which every
    trial informs), then a median reached before one censored, then the lower median."""
    success = frame["success_by_h"] if frame["success_by_h"].notna().any() else frame["success"]
    key = frame.assign(_s=-success.fillna(-1), _c=frame["median_censored"].astype(int),
                       _m=frame["median_steps"].fillna(math.inf))
    return frame.loc[key.sort_values(["_s", "_c", "_m", "genome_id"]).index]


def insight_data(registry: Registry, spec: GeneSpec, task: Any, filters: Filters = Filters(),
                 report: Callable[[float, str], None] | None = None) -> InsightData:
    """The genome table of ``spec``'s genomes with trials on ``task`` (a TaskConfig, or a task id with
    no cap known), filtered. Raises InsightError naming what is missing when nothing is left."""
    task_id = task if isinstance(task, str) else task.task_id
    step_cap = 0 if isinstance(task, str) else int(getattr(task, "step_cap", 0) or 0)
    say = report or (lambda f, t: None)
    say(0.0, "reading trials")
    finished: dict[str, list] = {}
    for t in registry.trials():
        if t.task_id == task_id:
            finished.setdefault(t.genome_id, []).append(t)
    stopped: dict[str, list] = {}
    for t in registry.censored_trials():
        if t.task_id == task_id:
            stopped.setdefault(t.genome_id, []).append(t)
    allowed = _chosen_ids(registry, spec, filters)
    horizon = success_horizon(stopped)
    rows = []
    ids = sorted(set(finished) | set(stopped))
    for i, gid in enumerate(ids):
        if allowed is not None and gid not in allowed:
            continue
        if len(finished.get(gid, [])) + len(stopped.get(gid, [])) < filters.min_trials \
                or not registry.has_genome(gid):
            continue
        genome = registry.get_genome(gid)
        if genome.spec.name != spec.name:
            continue
        rows.append(_row(genome, finished.get(gid, []), stopped.get(gid, []), step_cap, horizon))
        if i % 50 == 0:
            say(0.5 * i / max(1, len(ids)), "reading genomes")
    frame = pd.DataFrame(rows, columns=_columns(spec))
    if frame.empty:
        raise InsightError(f"no {spec.name} genome has {filters.min_trials}+ trial(s) on task "
                           f"{task_id} ({filters.describe()}): run trials first (Stress Chamber, Evolution Lab, "
                           "or python main.py trials run)")
    frame = rank_order(frame).reset_index(drop=True)
    if filters.top_k:
        frame = frame.head(filters.top_k).reset_index(drop=True)
    outcomes = [SUCCESS_OUTCOME]
    if horizon and frame["success_by_h"].notna().any():
        unit = getattr(task, "UNIT", "steps")
        outcomes.append(Outcome("success_by_h", f"success by {unit.rstrip('s')} {horizon}", True))
    if step_cap or frame["median_steps"].notna().any():
        outcomes.append(steps_outcome(task))
    if frame["test_acc"].notna().any():
        outcomes.append(TEST_ACC_OUTCOME)
    say(1.0, f"{len(frame)} genomes")
    return InsightData(spec, task_id, step_cap, frame, tuple(outcomes), filters)


def _columns(spec: GeneSpec) -> list[str]:
    return ["genome_id", "label", "trials", "successes", "stopped", "success", "success_by_h", "known_by_h",
            "median_steps", "median_censored",
            "test_acc", *[g.key for g in spec.genes], *[f"unit:{g.key}" for g in spec.genes]]


def success_horizon(stopped: dict[str, list]) -> int:
    """The step at which almost every racing-stopped trial's outcome is known: the 10th percentile of
    their stop steps (0 where racing stopped none). By then they had not succeeded, so "succeeded by
    this step" is known for the trials stopped later and for every finished one."""
    stops = [float(t.metrics.get("censored_at") or 0) for ts in stopped.values() for t in ts]
    return int(np.percentile(stops, 10)) if stops else 0


def _row(genome: Genome, trials: list, stopped: list, step_cap: int, horizon: int) -> dict[str, Any]:
    unit = genome.unit_vector()
    return {"genome_id": genome.id, "label": genome.label, **summarise(trials, stopped, step_cap, horizon),
            **{g.key: genome.genes[g.key] for g in genome.spec.genes},
            **{f"unit:{g.key}": float(u) for g, u in zip(genome.spec.genes, unit)}}


def model_rows(data: InsightData, outcome: Outcome) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(X in the unit space, y, sample weights, rows left out) for a model of ``outcome``: the steps
    median only where it was reached (a censored median is a bound, not a value: those genomes are
    left out and counted), in log10; success weighted by the trials behind it."""
    frame = data.frame
    if outcome.key == "median_steps":
        keep = frame["median_steps"].notna() & ~frame["median_censored"].astype(bool)
    else:
        keep = frame[outcome.key].notna()
    kept = frame[keep]
    y = kept[outcome.key].to_numpy(dtype=float)
    if outcome.log:
        y = np.log10(np.maximum(y, 1.0))
    behind = {"success": "trials", "success_by_h": "known_by_h"}
    weights = kept[behind[outcome.key]].to_numpy(dtype=float) if outcome.key in behind else np.ones(len(kept))
    X = kept[[f"unit:{k}" for k in data.genes]].to_numpy(dtype=float)
    return X, y, weights, int((~keep).sum())
