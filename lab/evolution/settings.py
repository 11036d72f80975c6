"""What an evolution run is: a frozen, validated, JSON-round-trippable settings object."""
from __future__ import annotations

import dataclasses
from typing import Any

from lab.arenas.racing import RacingRule
from lab.evolution.landscapes import LANDSCAPES

SELECTIONS = {
    "tournament2": "2-way tournament: the fitter of 2 random survivors is a parent",
    "tournament3": "3-way tournament: the fittest of 3 random survivors is a parent",
    "spartan": "Spartan: the bottom 50% are culled every generation, parents drawn from the rest",
}
SEED_SOURCES = "hall-of-fame, founders, custom, tag:NAME, id:GENOME_ID, proposed:N"


@dataclasses.dataclass(frozen=True)
class EvolutionSettings:
    """Settings of one run. The defaults are a run that fits a 2-core CPU in under half an hour
    and, from the founders, finds a grokking recipe about twice as fast as the best founder
    (measured with bench/evolve_grok.py; see docs/benchmarks.md, "Benchmark: evolved against the founders")."""

    arena: str = "grokking"
    population: int = 16
    seeds_per_genome: int = 3
    generations: int = 8
    landscape: str = "sniper"
    selection: str = "tournament3"
    crossover_rate: float = 0.5     # share of offspring bred sexually (else cloned from one parent)
    radiation_rate: float = 0.8     # share of offspring that are then mutated
    mutation_rate: float = 0.2      # per-gene mutation probability when mutated
    mutation_sigma: float = 0.1     # Gaussian step in the normalised [0, 1] gene space
    aliens: int = 1                 # random genomes injected every generation
    elites: int = 2                 # top genomes cloned into the next generation (with senescence)
    hof_strictness: float = 0.5     # 0..1, see hall_of_fame.py
    seed_from: tuple[str, ...] = ("founders",)  # ancestral seeding sources for generation 1
    run_seed: int = 0
    device: str = "auto"
    racing: bool = True             # stop trials that can no longer matter (lab/arenas/racing.py)
    racing_factor: float = 2.0      # ... at S = max(racing_floor, racing_factor x best median so far)
    racing_floor: int = 400
    task: tuple[tuple[str, Any], ...] = ()  # overrides of the arena's default task, as (field, value)

    def __post_init__(self) -> None:
        problems = []
        ints = {"population": 2, "seeds_per_genome": 1, "generations": 1, "aliens": 0, "elites": 0}
        for name, low in ints.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                problems.append(f"{name} must be a whole number >= {low}, got {v!r}")
        for name in ("crossover_rate", "radiation_rate", "mutation_rate", "hof_strictness"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                problems.append(f"{name} must be between 0 and 1, got {v!r}")
        if not isinstance(self.mutation_sigma, (int, float)) or not 0.0 < self.mutation_sigma <= 1.0:
            problems.append(f"mutation_sigma must be in (0, 1], got {self.mutation_sigma!r}")
        if not isinstance(self.racing, bool):
            problems.append(f"racing must be true or false, got {self.racing!r}")
        try:
            self.racing_rule()
        except ValueError as exc:
            problems.append(str(exc))
        if self.landscape not in LANDSCAPES:
            problems.append(f"landscape {self.landscape!r} is not one of {', '.join(LANDSCAPES)}")
        if self.selection not in SELECTIONS:
            problems.append(f"selection {self.selection!r} is not one of {', '.join(SELECTIONS)}")
        if not problems and self.aliens + self.elites >= self.population:
            problems.append(f"aliens ({self.aliens}) + elites ({self.elites}) must leave room for offspring "
                            f"in a population of {self.population}")
        for source in self.seed_from:
            kind = source.split(":", 1)[0]
            if source not in ("hall-of-fame", "founders", "custom") and kind not in ("tag", "id", "proposed"):
                problems.append(f"seed source {source!r} is not one of {SEED_SOURCES}")
            elif kind == "proposed" and not (source[9:].isdigit() and 1 <= int(source[9:]) <= (self.population if isinstance(self.population, int) else 1 << 30)):
                problems.append(f"seed source {source!r}: N in proposed:N must be a whole number from 1 to the "
                                f"population ({self.population})")
        if problems:
            raise ValueError("invalid evolution settings: " + "; ".join(problems))

    def racing_rule(self) -> RacingRule:
        return RacingRule(self.racing_factor, self.racing_floor)

    def task_overrides(self) -> dict[str, Any]:
        return dict(self.task)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["seed_from"], d["task"] = list(self.seed_from), {k: v for k, v in self.task}
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvolutionSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = [k for k in data if k not in known]
        if unknown:
            raise ValueError(f"unknown evolution setting(s): {', '.join(unknown)}")
        d = dict(data)
        d.setdefault("racing", False)   # a run saved before racing existed resumes without it
        d["seed_from"] = tuple(d.get("seed_from", ()))
        d["task"] = tuple(sorted(dict(d.get("task", {})).items()))
        return cls(**d)
