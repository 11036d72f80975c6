"""Fitness landscapes: how a genome's trials of one generation become one fitness number.

Higher fitness is better. A trial "succeeds" when it grokked (status ``grokked``, or ``ok`` in
arenas without a grok test); its speed is ``steps_to_grok``. A failed trial (capped, diverged,
cancelled) counts as ``PENALTY_FACTOR x step_cap`` steps.

- **Sprinter** (raw speed): ``-median(steps)``.
- **Sniper** (low variance): ``-(mean(steps) + SNIPER_K * std(steps))``, population std over seeds:
  a genome that is fast on average but erratic loses to a steady one.
- **Tank** (survival): ``1000 * success_rate - median(steps) / step_cap``: success rate first (one
  more surviving seed always outweighs any speed difference), speed breaks ties. Tank runs
  ``TANK_HARD_SEEDS`` extra seeds per genome from a fixed pool of seeds on which the classic
  recipe failed to grok within the cap on the default task, so survival is tested where it is hard.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lab.arenas.base import TrialResult

PENALTY_FACTOR = 2.0
SNIPER_K = 1.0
TANK_HARD_SEEDS = 1
SUCCESS = ("grokked", "ok")


def trial_steps(trials: Sequence[TrialResult], step_cap: int) -> np.ndarray:
    """Steps to success per trial, a failed trial counting PENALTY_FACTOR x step_cap."""
    penalty = PENALTY_FACTOR * step_cap
    return np.array([float(t.metrics["steps_to_grok"]) if t.status in SUCCESS and
                     t.metrics.get("steps_to_grok") is not None else penalty for t in trials], dtype=float)


def success_rate(trials: Sequence[TrialResult]) -> float:
    return float(np.mean([t.status in SUCCESS for t in trials])) if trials else 0.0


def sprinter(trials: Sequence[TrialResult], step_cap: int) -> float:
    return -float(np.median(trial_steps(trials, step_cap)))


def sniper(trials: Sequence[TrialResult], step_cap: int) -> float:
    steps = trial_steps(trials, step_cap)
    return -float(steps.mean() + SNIPER_K * steps.std())


def tank(trials: Sequence[TrialResult], step_cap: int) -> float:
    return 1000.0 * success_rate(trials) - float(np.median(trial_steps(trials, step_cap))) / step_cap


LANDSCAPES = {"sprinter": sprinter, "sniper": sniper, "tank": tank}
LANDSCAPE_HELP = {
    "sprinter": "raw speed: -median(steps_to_grok), a failed trial counting 2 x step_cap",
    "sniper": "low variance: -(mean + 1 x std) of steps_to_grok over seeds",
    "tank": "survival: 1000 x success rate - median steps / step_cap, with one extra hard seed",
}

# Seeds 0-19 of the default grokking task on which classic-adamw did not grok within the 2,500-step
# cap (measured with `python main.py trials run genomes/classic-adamw.json --seeds 20`), hardest
# first by its validation accuracy at the cap: 7 (0.26), 16 (0.49), 11 (0.59), 17 (0.67), 13 (0.90).
# Tank adds the first TANK_HARD_SEEDS of them to every genome's seeds.
HARD_SEEDS = (7, 16, 11, 17, 13)


def fitness(landscape: str, trials: Sequence[TrialResult], step_cap: int) -> float:
    if landscape not in LANDSCAPES:
        raise ValueError(f"unknown landscape {landscape!r} (one of {', '.join(LANDSCAPES)})")
    if not trials:
        return float("-inf")
    return LANDSCAPES[landscape](trials, step_cap)
