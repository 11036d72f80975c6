"""The NEAT task: which data set, how genomes are scored, the generation budget and the target.

``fitness`` "classic" scores the network's outputs as they are (the paper's XOR fitness
(4 - error)^2); "backprop" first trains each genome's weights by gradient descent, then scores
validation accuracy minus a size penalty (see :class:`lab.arenas.neat.network.EvalSpec`). A run
succeeds (status ``ok``) when a genome's accuracy reaches ``target_acc``: on the training cases in
classic mode (XOR: all four right), on the validation split in backprop mode; the generations that
took are its ``steps_to_grok``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

from lab.arenas.base import TaskConfig
from lab.arenas.neat.genome import ACTIVATIONS
from lab.arenas.neat.tasks import TASKS

FITNESS_MODES = ("classic", "backprop")
# task -> (fitness mode, target accuracy, activations of hidden nodes, budget in generations)
TASK_DEFAULTS = {
    "xor": ("classic", 1.0, "sigmoid", 100),
    "spirals": ("backprop", 0.95, "tanh,sin,gauss,relu,sigmoid,identity", 150),
    "circles": ("backprop", 0.97, "tanh,sin,gauss,relu,sigmoid,identity", 50),
    "clusters": ("backprop", 0.95, "tanh,sin,gauss,relu,sigmoid,identity", 50),
    "digits": ("backprop", 0.9, "tanh,relu,sigmoid,identity", 40),
}


@dataclasses.dataclass(frozen=True)
class NeatTask(TaskConfig):
    """Task settings of the NEAT arena. ``generations``, ``fitness``, ``target_acc`` and
    ``activations`` left at their "auto" values (0 or "auto") take the task's defaults
    (TASK_DEFAULTS) when the task is made."""

    CAP_FIELD: ClassVar[str] = "generations"
    CAP_LABEL: ClassVar[str] = "Budget (generations)"
    UNIT: ClassVar[str] = "generations"
    GOAL: ClassVar[str] = "reach the target"
    DONE: ClassVar[str] = "at target"
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        "task": tuple(TASKS), "fitness": FITNESS_MODES,
        # a set of activations: each task's own set, or one activation alone
        "activations": tuple(dict.fromkeys([d[2] for d in TASK_DEFAULTS.values()] + list(ACTIVATIONS)))}
    BOUNDS: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        "generations": (1, 1_000_000), "target_acc": (0.001, 1.0), "ticks": (1, 1000),
        "batch_size": (1, 1_000_000), "alpha_nodes": (0.0, 1e6), "alpha_edges": (0.0, 1e6)}
    HELP: ClassVar[dict[str, str]] = {
        "task": "The data set. Choosing one sets budget, fitness, target and activations to its own.",
        "fitness": "classic: the outputs as they are (XOR's (4 - error)^2); backprop: weights trained by "
                   "gradient descent first, then validation accuracy minus a size penalty.",
        "target_acc": "Accuracy at which a run succeeds (training cases in classic mode, validation in backprop).",
        "activations": "Activations hidden nodes may take (comma separated).",
        "recurrent": "Allow recurrent connections (the network is run for 'ticks' steps).",
        "alpha_nodes": "Size penalty per hidden node (backprop fitness).",
        "alpha_edges": "Size penalty per enabled connection (backprop fitness)."}

    task: str = "xor"
    generations: int = 0            # 0: the task's budget
    fitness: str = "auto"           # auto: the task's mode
    target_acc: float = 0.0         # 0: the task's target
    stop_at_target: bool = True
    activations: str = "auto"       # auto: the task's set
    recurrent: bool = False
    ticks: int = 4
    batch_size: int = 256
    alpha_nodes: float = 1e-3
    alpha_edges: float = 5e-4

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"invalid neat task: task {self.task!r} is not one of {', '.join(TASKS)}")
        # "auto" values become the task's own, so the task_id hashes what the run really does
        fitness, target, acts, budget = TASK_DEFAULTS[self.task]
        for name, auto, value in (("fitness", "auto", fitness), ("target_acc", 0, target),
                                  ("activations", "auto", acts), ("generations", 0, budget)):
            if getattr(self, name) == auto and not isinstance(getattr(self, name), bool):
                object.__setattr__(self, name, value)
        problems = []
        if self.fitness not in FITNESS_MODES:
            problems.append(f"fitness {self.fitness!r} is not one of {', '.join(FITNESS_MODES)}")
        if self.fitness == "classic" and self.task != "xor":
            problems.append("classic fitness reads one sigmoid output: it is for xor; the other tasks use backprop")
        for name in ("generations", "ticks", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                problems.append(f"{name} must be a whole number >= 1, got {v!r}")
        if not isinstance(self.target_acc, (int, float)) or not 0.0 < self.target_acc <= 1.0:
            problems.append(f"target_acc {self.target_acc!r} must be in (0, 1]")
        for name in ("alpha_nodes", "alpha_edges"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                problems.append(f"{name} must be a finite number >= 0, got {v!r}")
        for name in ("stop_at_target", "recurrent"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be true or false, got {getattr(self, name)!r}")
        bad = [a for a in self.activation_set if a not in ACTIVATIONS]
        if bad or not self.activation_set:
            problems.append(f"activations {self.activations!r}: each must be one of {', '.join(ACTIVATIONS)}")
        if problems:
            raise ValueError("invalid neat task: " + "; ".join(problems))

    @classmethod
    def for_task(cls, task: str, **overrides) -> NeatTask:
        """The task's defaults (fitness mode, target, activations, budget), then ``overrides``."""
        return cls(task=task, **overrides)

    @property
    def activation_set(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in str(self.activations).split(",") if a.strip())

    @property
    def step_cap(self) -> int:
        return self.generations
