"""The toy hill climber: explicit state (climbers, best, a numpy generator), ``step(n)``,
``snapshot()``, and exact save/restore through lab.arenas.engine_files."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from lab.arenas.engine_files import read_state, read_state_meta, save_state
from tests.toy_arena.task import ClimbTask

KIND = "toy-run"


@dataclasses.dataclass(frozen=True)
class ClimbSettings:
    sigma: float = 0.1
    climbers: int = 8
    pull: float = 0.5

    @classmethod
    def from_genes(cls, genes: Mapping[str, Any]) -> ClimbSettings:
        return cls(float(genes["sigma"]), int(genes["climbers"]), float(genes["pull"]))


class ClimbEngine:
    unit = "generations"

    def __init__(self, task: ClimbTask, settings: ClimbSettings, seed: int):
        self.task, self.settings, self.seed = task, settings, int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.x = self.rng.normal(0.0, 1.0, settings.climbers)
        self.generation = 0
        self.curve: dict[str, list] = {"step": [], "best": [], "mean": [], "val_acc": []}
        self.reached: int | None = None

    def fitness(self) -> np.ndarray:
        return 1.0 - np.abs(self.x - self.task.peak)

    @property
    def passes(self) -> int:
        return self.generation

    @property
    def done(self) -> bool:
        return self.generation >= self.task.generations

    def step(self, n: int = 1) -> int:
        ran = 0
        while ran < n and not self.done:
            best = self.x[int(np.argmax(self.fitness()))]
            self.x = self.x + self.settings.pull * (best - self.x) + self.rng.normal(0, self.settings.sigma, len(self.x))
            self.generation += 1
            f = self.fitness()
            self.curve["step"].append(self.generation)
            self.curve["best"].append(float(f.max()))
            self.curve["mean"].append(float(f.mean()))
            self.curve["val_acc"].append(float(max(0.0, f.max())))
            if self.reached is None and f.max() >= self.task.target_acc:
                self.reached = self.generation
            ran += 1
        return ran

    def snapshot(self) -> dict[str, Any]:
        return {"unit": self.unit, "passes": self.generation, "budget": self.task.generations, "seed": self.seed,
                "fitness": self.fitness().tolist(), "curve": {k: list(v) for k, v in self.curve.items()},
                "best": float(self.fitness().max())}


def save_engine(engine: ClimbEngine, folder: str | os.PathLike[str]) -> list[str]:
    meta = {"settings": dataclasses.asdict(engine.settings), "task": engine.task.to_dict(), "seed": engine.seed,
            "generation": engine.generation, "rng": engine.rng.bit_generator.state, "curve": engine.curve,
            "reached": engine.reached}
    return save_state(folder, KIND, {"x": engine.x}, meta)


def read_meta(folder: str | os.PathLike[str]) -> dict[str, Any]:
    return read_state_meta(folder, KIND)


def load_engine(engine: ClimbEngine, folder: str | os.PathLike[str]) -> None:
    arrays, meta = read_state(folder, KIND, {"x": ((engine.settings.climbers,), "f")})
    engine.x = arrays["x"].copy()
    engine.rng.bit_generator.state = meta["rng"]
    engine.generation, engine.curve, engine.reached = meta["generation"], meta["curve"], meta["reached"]
