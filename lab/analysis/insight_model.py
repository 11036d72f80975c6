"""The model behind the Insights: a random forest of an outcome from the genes (in the normalised unit
space), its held-out score, permutation importance measured on held-out folds, Friedman's H for the
interaction of the top genes, partial dependence for the slice and contour plots, and proposals of new
genomes predicted to do best, each with the spread of the forest's trees as its uncertainty.

Every number is computed on data the forest did not see where that matters: the score and the
importance come from K-fold cross-validation, so a model that predicts nothing says so (score <= 0)
and its importances are shown as what they are.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lab.analysis.insights import MIN_GENOMES, InsightData, InsightError, Outcome, model_rows
from lab.evolution.landscapes import PENALTY_FACTOR
from lab.genome import Genome

TREES = 200
FOLDS = 5
PERMUTATION_REPEATS = 5
INTERACTION_GENES = 5       # Friedman's H for every pair of the top genes
H_SAMPLE = 60               # points the partial dependences are evaluated at
Report = Callable[[float, str], None]


@dataclasses.dataclass(frozen=True, eq=False)
class ModelFit:
    """A fitted forest of ``outcome``: its cross-validated R² (``score``; <= 0 predicts nothing),
    permutation importance per gene (mean and sd over folds and repeats, in units of R² lost),
    pairwise H² of the top genes, and the rows it learned from."""

    outcome: Outcome
    genes: tuple[str, ...]
    forest: Any
    X: np.ndarray
    y: np.ndarray
    score: float
    importance: dict[str, tuple[float, float]]
    interactions: dict[tuple[str, str], float]
    left_out: int = 0

    @property
    def trusted(self) -> bool:
        """Whether the held-out score says the model predicts something (R² above 0.1)."""
        return self.score > 0.1

    def ranked_genes(self) -> list[str]:
        return sorted(self.genes, key=lambda g: -self.importance[g][0])

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sd over the trees at unit-space points ``X`` (in the model's own scale: log10 steps)."""
        per_tree = self.tree_predictions(X)
        return per_tree.mean(axis=0), per_tree.std(axis=0)

    def tree_predictions(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=float))
        return np.stack([t.predict(X) for t in self.forest.estimators_])

    def natural(self, values: np.ndarray) -> np.ndarray:
        """Model scale back to the outcome's own (10 ** for a log outcome)."""
        return np.power(10.0, values) if self.outcome.log else values

    def describe(self) -> str:
        what = "predicts" if self.trusted else "does NOT predict (do not trust its importances)"
        why = {"median_steps": "median not reached", "success": "no finished trial",
               "success_by_h": "stopped before that step"}.get(self.outcome.key, "no value")
        return (f"{self.outcome.label}: random forest of {len(self.y)} genomes, held-out R² {self.score:.2f} "
                f"({FOLDS}-fold), {what}" + (f"; {self.left_out} genomes left out ({why})" if self.left_out else ""))


def _forest(seed: int):
    from sklearn.ensemble import RandomForestRegressor
    return RandomForestRegressor(n_estimators=TREES, min_samples_leaf=2, max_features=0.5, random_state=seed,
                                 n_jobs=1)


def fit_outcome(data: InsightData, outcome: Outcome | str, seed: int = 0, report: Report | None = None,
                interactions: bool = True) -> ModelFit:
    """Fit the forest of ``outcome`` over ``data``'s genomes, with its held-out score, importance and
    (``interactions``) the pairwise interaction of its top genes. Raises InsightError when too few
    genomes have the outcome."""
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold

    outcome = data.outcome(outcome) if isinstance(outcome, str) else outcome
    say = report or (lambda f, t: None)
    X, y, w, left_out = model_rows(data, outcome)
    if len(y) < MIN_GENOMES:
        raise InsightError(f"{outcome.label}: only {len(y)} genome(s) have it on task {data.task_id} "
                           f"({left_out} more have no value); the model needs at least {MIN_GENOMES}")
    if np.ptp(y) == 0:
        raise InsightError(f"{outcome.label}: all {len(y)} genomes have the same value "
                           f"({float(outcome.log and 10 ** y[0] or y[0]):.3g}), nothing to model")
    genes = tuple(data.genes)
    folds = min(FOLDS, len(y))
    oof = np.empty(len(y))
    drops = np.zeros((len(genes), 0))
    for i, (train, test) in enumerate(KFold(folds, shuffle=True, random_state=seed).split(X)):
        say(0.7 * i / folds, f"{outcome.label}: held-out fold {i + 1} of {folds}")
        forest = _forest(seed).fit(X[train], y[train], sample_weight=w[train])
        oof[test] = forest.predict(X[test])
        if len(test) >= 2 and np.ptp(y[test]) > 0:
            drops = np.hstack([drops, permutation_drops(forest, X[test], y[test], seed + i)])
    score = float(r2_score(y, oof, sample_weight=w))
    importance = {g: (float(drops[j].mean()), float(drops[j].std())) if drops.shape[1] else (0.0, 0.0)
                  for j, g in enumerate(genes)}
    say(0.75, f"{outcome.label}: fitting on all {len(y)} genomes")
    forest = _forest(seed).fit(X, y, sample_weight=w)
    fit = ModelFit(outcome, genes, forest, X, y, score, importance, {}, left_out)
    if interactions:
        top = fit.ranked_genes()[:INTERACTION_GENES]
        pairs = [(a, b) for i, a in enumerate(top) for b in top[i + 1:]]
        found = {}
        for k, (a, b) in enumerate(pairs):
            say(0.8 + 0.2 * k / max(1, len(pairs)), f"{outcome.label}: interaction {a} x {b}")
            found[(a, b)] = h_statistic(fit, a, b, seed)
        fit = dataclasses.replace(fit, interactions=found)
    say(1.0, f"{outcome.label}: done")
    return fit


def permutation_drops(forest, X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """[genes, repeats] of the R² lost on (X, y) when one gene's column is shuffled (Breiman's
    permutation importance, as sklearn.inspection computes it), all copies predicted in one call."""
    from sklearn.metrics import r2_score
    rng = np.random.default_rng(seed)
    n, d = X.shape
    base = r2_score(y, forest.predict(X))
    copies = np.repeat(X[None], d * PERMUTATION_REPEATS, axis=0)
    for j in range(d):
        for r in range(PERMUTATION_REPEATS):
            copies[j * PERMUTATION_REPEATS + r, :, j] = X[rng.permutation(n), j]
    predicted = forest.predict(copies.reshape(-1, d)).reshape(d * PERMUTATION_REPEATS, n)
    scores = np.array([r2_score(y, p) for p in predicted]).reshape(d, PERMUTATION_REPEATS)
    return base - scores


def _sample(fit: ModelFit, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(fit.X)
    return fit.X[rng.choice(n, size=min(n, H_SAMPLE), replace=False)]


def _pd_at(fit: ModelFit, background: np.ndarray, columns: Sequence[int], points: np.ndarray) -> np.ndarray:
    """Partial dependence: for each row of ``points`` (values of ``columns``), the forest's mean
    prediction over ``background`` with those columns set to it."""
    m, n = len(points), len(background)
    grid = np.repeat(background[None, :, :], m, axis=0)
    for j, c in enumerate(columns):
        grid[:, :, c] = points[:, j][:, None]
    return fit.forest.predict(grid.reshape(m * n, -1)).reshape(m, n).mean(axis=1)


def h_statistic(fit: ModelFit, a: str, b: str, seed: int = 0) -> float:
    """Friedman and Popescu's H² of genes ``a`` and ``b``: the share of the variance of their joint
    partial dependence that the two single ones do not explain (0: no interaction, 1: all of it)."""
    ia, ib = fit.genes.index(a), fit.genes.index(b)
    xs = _sample(fit, seed)
    joint = _pd_at(fit, xs, [ia, ib], xs[:, [ia, ib]])
    pa = _pd_at(fit, xs, [ia], xs[:, [ia]])
    pb = _pd_at(fit, xs, [ib], xs[:, [ib]])
    joint, pa, pb = joint - joint.mean(), pa - pa.mean(), pb - pb.mean()
    total = float(np.sum(joint ** 2))
    return float(np.sum((joint - pa - pb) ** 2) / total) if total > 1e-15 else 0.0


def slice_curve(fit: ModelFit, gene: str, points: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit grid, mean, sd over the trees) of the partial dependence of the outcome on ``gene``."""
    j = fit.genes.index(gene)
    grid = np.linspace(0, 1, points)
    background = _sample(fit, 0)
    per_tree = []
    for tree in fit.forest.estimators_:
        rows = np.repeat(background[None], points, axis=0)
        rows[:, :, j] = grid[:, None]
        per_tree.append(tree.predict(rows.reshape(-1, len(fit.genes))).reshape(points, -1).mean(axis=1))
    per_tree = np.array(per_tree)
    return grid, per_tree.mean(axis=0), per_tree.std(axis=0)


def contour_grid(fit: ModelFit, a: str, b: str, points: int = 25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit grid of ``a``, of ``b``, mean prediction [len(b grid), len(a grid)]) of the two genes'
    joint partial dependence."""
    ia, ib = fit.genes.index(a), fit.genes.index(b)
    grid = np.linspace(0, 1, points)
    ga, gb = np.meshgrid(grid, grid)
    values = _pd_at(fit, _sample(fit, 0), [ia, ib], np.column_stack([ga.ravel(), gb.ravel()]))
    return grid, grid, values.reshape(points, points)


# ---- proposals ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Proposal:
    """A proposed genome and what the models predict of it: the objective (lower is better: expected
    steps with a failure counted PENALTY_FACTOR x cap, or 1 - success), with its sd over the trees,
    and each outcome's mean and sd in the outcome's own units."""

    genome: Genome
    objective: float
    objective_sd: float
    predicted: dict[str, tuple[float, float]]

    def describe(self) -> str:
        parts = []
        for key, (mean, sd) in self.predicted.items():
            parts.append(f"{key} {mean:.2f} ± {sd:.2f}" if key != "median_steps" else f"{key} {mean:.0f} ± {sd:.0f}")
        return "predicted " + ", ".join(parts)


def objective_samples(fits: dict[str, ModelFit], X: np.ndarray, step_cap: int) -> tuple[np.ndarray, dict]:
    """Per tree and point: the objective (lower is better) and each outcome's per-tree predictions in its
    own units. With a success and a steps model: p x steps + (1 - p) x PENALTY_FACTOR x cap, the
    landscapes' penalised steps in expectation (p from :func:`success_model`); with success only:
    1 - p; else the first outcome."""
    per = {k: np.asarray(f.natural(f.tree_predictions(X))) for k, f in fits.items()}
    chance = success_model(fits)
    if chance and "median_steps" in per and step_cap:
        p = np.clip(per[chance], 0, 1)
        return p * per["median_steps"] + (1 - p) * PENALTY_FACTOR * step_cap, per
    if chance:
        return 1 - np.clip(per[chance], 0, 1), per
    key, fit = next(iter(fits.items()))
    return (-per[key] if fit.outcome.higher_is_better else per[key]), per


def success_model(fits: dict[str, ModelFit]) -> str | None:
    """Which model gives the chance of success: the success rate's when it predicts something; else
    success by the racing horizon's (in a raced registry the finished trials are mostly the
    successes, and the stopped ones only tell what happened by the horizon)."""
    if "success" in fits and (fits["success"].trusted or "success_by_h" not in fits):
        return "success"
    return "success_by_h" if "success_by_h" in fits else None


def propose(data: InsightData, fits: dict[str, ModelFit], n: int, seed: int = 0, candidates: int = 3000,
            min_distance: float = 0.08, report: Report | None = None, **meta: Any) -> list[Proposal]:
    """``n`` new genomes predicted to do best: candidates drawn uniformly in the unit space and around
    the best genomes seen, ranked by the forest's mean objective, taken greedily at least
    ``min_distance`` (RMS over genes in the unit space) from each other and from genomes already
    tried. Deterministic for a seed."""
    if n < 1:
        raise ValueError(f"the number of proposals must be at least 1, got {n}")
    if not fits:
        raise InsightError("no model to propose from")
    say = report or (lambda f, t: None)
    rng = np.random.default_rng(seed)
    d = len(data.genes)
    seen = data.unit_matrix()
    best = seen[: max(1, min(len(seen), 10))]   # the frame is ranked best first
    around = best[rng.integers(len(best), size=candidates // 2)] + rng.normal(0, 0.1, (candidates // 2, d))
    pool = np.clip(np.vstack([rng.random((candidates - len(around), d)), around]), 0, 1)
    say(0.2, f"scoring {len(pool)} candidates")
    samples, per = objective_samples(fits, pool, data.step_cap)
    mean, sd = samples.mean(axis=0), samples.std(axis=0)
    chosen: list[int] = []
    taken = list(seen)
    for i in np.argsort(mean, kind="stable"):
        if len(chosen) == n:
            break
        if taken and np.min(np.sqrt(np.mean((np.asarray(taken) - pool[i]) ** 2, axis=1))) < min_distance:
            continue
        chosen.append(int(i))
        taken.append(pool[i])
    out = []
    for rank, i in enumerate(chosen):
        predicted = {k: (float(v[:, i].mean()), float(v[:, i].std())) for k, v in per.items()}
        genome = Genome.from_unit_vector(data.spec, pool[i], **{"origin": "proposed", "name": f"proposed-{rank + 1}",
                                                                  **meta})
        note = Proposal(genome, float(mean[i]), float(sd[i]), predicted)
        out.append(dataclasses.replace(note, genome=genome.replace(notes=note.describe())))
    say(1.0, f"{len(out)} proposals")
    return out


def fit_all(data: InsightData, seed: int = 0, report: Report | None = None, interactions: bool = True,
            ) -> tuple[dict[str, ModelFit], dict[str, str]]:
    """A model of every outcome that has enough genomes; the others' reasons, by outcome key."""
    fits, skipped = {}, {}
    k = len(data.outcomes)
    for i, outcome in enumerate(data.outcomes):
        part = (lambda f, t, i=i: report(float((i + f) / k), t)) if report else None
        try:
            fits[outcome.key] = fit_outcome(data, outcome, seed, part, interactions)
        except InsightError as exc:
            skipped[outcome.key] = str(exc)
    if not fits:
        raise InsightError("; ".join(skipped.values()))
    return fits, skipped


def proposals_from_registry(registry, spec, task: Any, n: int, seed: int = 0, filters: Any = None,
                            report: Report | None = None, **meta: Any) -> list[Proposal]:
    """Fit on every genome of ``spec`` with trials on ``task`` (or ``filters``) and propose ``n``."""
    from lab.analysis.insights import Filters, insight_data
    data = insight_data(registry, spec, task, filters or Filters())
    fits, _ = fit_all(data, seed, report, interactions=False)
    return propose(data, fits, n, seed=seed, **meta)
