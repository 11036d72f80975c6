"""Population diversity: one figure, and a colour per genome for the diversity grid."""
from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from lab.genome import GeneSpec, Genome, distance


def diversity(genomes: Sequence[Genome]) -> float:
    """Mean pairwise normalised distance (0 = clones only .. 1 = opposite corners)."""
    pairs = list(combinations(genomes, 2))
    return float(np.mean([distance(a, b) for a, b in pairs])) if pairs else 0.0


def _projection(spec: GeneSpec) -> np.ndarray:
    """A fixed 3 x n map from the normalised gene space to RGB, the same for every run of a spec,
    so a genome keeps its colour across generations and runs."""
    seed = sum(spec.name.encode()) + 7919 * len(spec.genes)
    w = np.random.default_rng(seed).normal(size=(3, len(spec.genes)))
    return w / np.linalg.norm(w, axis=1, keepdims=True)


def colours(genomes: Sequence[Genome]) -> list[tuple[float, float, float]]:
    """RGB in [0, 1] per genome: a fixed linear map of its normalised genes, so related genomes
    (small distance) get similar colours."""
    if not genomes:
        return []
    w = _projection(genomes[0].spec)
    u = np.stack([g.unit_vector() for g in genomes]) - 0.5
    rgb = np.clip(0.5 + 1.5 * (u @ w.T), 0.0, 1.0)  # a uniform random genome: std ~0.43 per channel
    return [tuple(float(c) for c in row) for row in rgb]
