"""The adaptive species controller: steer the compatibility threshold so that the population
holds a target number of species, and adapt that target to how fast fitness is improving.

Each generation, after speciation, :meth:`SpeciesController.update` sees the species count and the
best fitness:

1. **Progress.** The best fitness gained this generation enters an exponentially weighted
   moving average (``ewma``, weight ``ewma_alpha``).
2. **Bandit.** Two arms can move the threshold: a PID controller on the relative error
   ``e = (species - target) / target`` and a hill-climb. The PID output u = kp e + ki sum(e) + kd de
   moves the threshold multiplicatively, threshold x exp(u) with |u| <= ``max_log_step`` (more
   species than wanted raises the threshold and merges species; working on the log of the
   threshold and on a relative error keeps the gains meaningful whatever the scale of c1, c2, c3
   and of the population). The hill-climb moves the threshold one step x(1 +- ``hill_step``) in
   the direction the error says.
   The arm that steered the last generation is credited with the progress average; the next arm
   is chosen epsilon-greedily on the arms' mean credit (an untried arm first).
3. **Target.** Every ``adapt_every`` generations the target takes one step within
   [target_min, target_max] by hill-climbing on progress: it keeps moving in the same direction
   while the progress average grows, and turns round when it falls.

``mode`` "fixed" leaves the threshold alone (the paper's constant delta_t); "pid" uses the PID arm
only; "adaptive" is the whole scheme above. The history of every generation (target, threshold,
species, arm) is kept for the direct-run chart.
"""
from __future__ import annotations

import dataclasses
import math
import random

MODES = ("fixed", "pid", "adaptive")
ARMS = ("pid", "hill")


@dataclasses.dataclass(frozen=True)
class ControllerSettings:
    mode: str = "fixed"
    target: int = 8
    target_min: int = 2
    target_max: int = 20
    kp: float = 0.35
    ki: float = 0.02
    kd: float = 0.10
    hill_step: float = 0.1
    epsilon: float = 0.1
    ewma_alpha: float = 0.3
    adapt_every: int = 5
    threshold_min: float = 0.05
    threshold_max: float = 100.0
    integral_limit: float = 10.0
    max_log_step: float = 0.5

    def problems(self) -> list[str]:
        out = []
        if self.mode not in MODES:
            out.append(f"species control {self.mode!r} is not one of {', '.join(MODES)}")
        if not 1 <= self.target_min <= self.target_max:
            out.append(f"species target range {self.target_min}..{self.target_max} is empty or below 1")
        elif self.mode != "fixed" and not self.target_min <= self.target <= self.target_max:
            out.append(f"species target {self.target} is outside its range {self.target_min}..{self.target_max}")
        for name in ("kp", "ki", "kd", "hill_step", "epsilon", "ewma_alpha", "threshold_min"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                out.append(f"{name} must be a finite number >= 0, got {v!r}")
        if not 0 <= self.epsilon <= 1 or not 0 < self.ewma_alpha <= 1:
            out.append("epsilon must be in [0, 1] and ewma_alpha in (0, 1]")
        if self.adapt_every < 1:
            out.append(f"adapt_every must be >= 1, got {self.adapt_every}")
        return out


class SpeciesController:
    def __init__(self, settings: ControllerSettings, threshold: float, rng: random.Random):
        self.s = settings
        self.rng = rng
        self.threshold = float(threshold)
        self.target = settings.target
        self.integral = 0.0
        self.last_error: float | None = None
        self.arm = "fixed" if settings.mode == "fixed" else "pid"
        self.credit = {a: 0.0 for a in ARMS}
        self.pulls = {a: 0 for a in ARMS}
        self.ewma = 0.0
        self.last_best: float | None = None
        self.window_ewma: float | None = None
        self.direction = 1
        self.generation = 0
        self.history: dict[str, list] = {"generation": [], "target": [], "threshold": [], "species": [], "arm": [],
                                         "progress": []}

    def update(self, species: int, best_fitness: float) -> float:
        """Record this generation and return the threshold for the next speciation."""
        s = self.s
        self.generation += 1
        gain = 0.0 if self.last_best is None or not math.isfinite(best_fitness) else max(
            0.0, best_fitness - self.last_best)
        if math.isfinite(best_fitness):
            self.last_best = best_fitness if self.last_best is None else max(self.last_best, best_fitness)
        self.ewma = s.ewma_alpha * gain + (1 - s.ewma_alpha) * self.ewma
        self._record(species)
        if s.mode == "fixed":
            return self.threshold
        if s.mode == "adaptive":
            if self.arm in ARMS and self.generation > 1:
                self.pulls[self.arm] += 1
                self.credit[self.arm] += (self.ewma - self.credit[self.arm]) / self.pulls[self.arm]
            if self.generation % s.adapt_every == 0:
                self._adapt_target()
            self.arm = self._choose_arm()
        error = (species - self.target) / self.target
        if self.arm == "pid":
            self.integral = max(-s.integral_limit, min(s.integral_limit, self.integral + error))
            deriv = 0.0 if self.last_error is None else error - self.last_error
            u = s.kp * error + s.ki * self.integral + s.kd * deriv
            self.threshold *= math.exp(max(-s.max_log_step, min(s.max_log_step, u)))
        elif error:
            self.threshold *= (1 + s.hill_step) if error > 0 else (1 - s.hill_step)
        self.last_error = error
        self.threshold = min(s.threshold_max, max(s.threshold_min, self.threshold))
        return self.threshold

    def _record(self, species: int) -> None:
        h = self.history
        h["generation"].append(self.generation)
        h["target"].append(None if self.s.mode == "fixed" else self.target)   # fixed: nothing aims at a target
        h["threshold"].append(self.threshold)
        h["species"].append(species)
        h["arm"].append(self.arm)
        h["progress"].append(self.ewma)

    def _adapt_target(self) -> None:
        if self.window_ewma is not None and self.ewma < self.window_ewma:
            self.direction = -self.direction
        self.window_ewma = self.ewma
        new = self.target + self.direction
        if not self.s.target_min <= new <= self.s.target_max:
            self.direction = -self.direction
            new = self.target + self.direction
        self.target = min(self.s.target_max, max(self.s.target_min, new))

    def _choose_arm(self) -> str:
        untried = [a for a in ARMS if self.pulls[a] == 0]
        if untried:
            return untried[0]
        if self.rng.random() < self.s.epsilon:
            return self.rng.choice(ARMS)
        return max(ARMS, key=lambda a: self.credit[a])

    def state(self) -> dict:
        return {"threshold": self.threshold, "target": self.target, "arm": self.arm, "ewma": self.ewma,
                "credit": dict(self.credit), "pulls": dict(self.pulls)}
