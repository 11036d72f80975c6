"""The toy arena's task: climb f(x) = 1 - |x - peak| within a budget of generations."""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from lab.arenas.base import TaskConfig


@dataclasses.dataclass(frozen=True)
class ClimbTask(TaskConfig):
    CAP_FIELD: ClassVar[str] = "generations"
    CAP_LABEL: ClassVar[str] = "Budget (generations)"
    UNIT: ClassVar[str] = "generations"
    GOAL: ClassVar[str] = "reach the peak"
    DONE: ClassVar[str] = "at the peak"
    BOUNDS: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        "generations": (1, 10_000), "peak": (-10.0, 10.0), "target_acc": (0.0, 1.0)}

    generations: int = 30
    peak: float = 3.0
    target_acc: float = 0.99

    def __post_init__(self) -> None:
        if isinstance(self.generations, bool) or not isinstance(self.generations, int) or self.generations < 1:
            raise ValueError(f"invalid toy task: generations must be a whole number >= 1, got {self.generations!r}")

    @property
    def step_cap(self) -> int:
        return self.generations
