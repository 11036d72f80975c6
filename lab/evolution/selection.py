"""Selection and reproduction: who breeds, and how offspring are made. Explicit RNG everywhere."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lab.evolution.settings import EvolutionSettings
from lab.genome import Genome, clone, crossover, mutate


def breeding_pool(ranked: Sequence[Genome], selection: str) -> list[Genome]:
    """Survivors allowed to breed, best first. Spartan culls the bottom 50% (at least one survives)."""
    if selection == "spartan":
        return list(ranked[:max(1, math.ceil(len(ranked) / 2))])
    return list(ranked)


def pick_parent(pool: Sequence[Genome], selection: str, rng: np.random.Generator) -> Genome:
    """A parent from a pool ranked best first: k-way tournament (the best-ranked of k random draws
    without replacement), or uniform among Spartan survivors."""
    if selection.startswith("tournament"):
        k = min(int(selection.removeprefix("tournament")), len(pool))
        return pool[int(min(rng.choice(len(pool), size=k, replace=False)))]
    return pool[int(rng.integers(len(pool)))]


def breed(pool: Sequence[Genome], n: int, settings: EvolutionSettings, rng: np.random.Generator,
          generation: int) -> list[Genome]:
    """n offspring: crossover of two parents (probability crossover_rate) or a clone of one, then
    "radiation" (mutation) with probability radiation_rate."""
    out = []
    for i in range(n):
        a = pick_parent(pool, settings.selection, rng)
        meta = {"generation": generation, "name": f"g{generation}-{i:02d}", "notes": "", "tags": ()}
        if rng.random() < settings.crossover_rate and len(pool) > 1:
            b = pick_parent([g for g in pool if g is not a] or pool, settings.selection, rng)
            child = crossover(a, b, rng, **meta)
        else:
            child = clone(a, **meta)
        if rng.random() < settings.radiation_rate:
            # the mutant's parents are the crossover's two parents, or the cloned parent
            child = mutate(child, rng, rate=settings.mutation_rate, sigma=settings.mutation_sigma,
                           parents=child.parents, **meta)
        out.append(child)
    return out
