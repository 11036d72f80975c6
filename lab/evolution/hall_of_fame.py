"""Hall of Fame admission.

Strictness s (0..1): a genome of a generation is admitted when
  1. its success rate over the generation's seeds is at least s (and it succeeded at least once), and
  2. it ranks in the top max(1, round((1 - s) x N)) of the N genomes of the generation by fitness.
s = 0 admits every genome that grokked at least once; s = 0.5 the top half with >= 50% success;
s = 1 only the generation's best, and only if it succeeded on every seed. Admission is by id, so
a genome is in the Hall of Fame once, with the evidence of the generation that admitted it.
"""
from __future__ import annotations

from collections.abc import Sequence


def admitted(ranked_success: Sequence[float], strictness: float) -> list[int]:
    """Indices (into a list ranked best first, given as success rates) that pass ``strictness``."""
    n = len(ranked_success)
    top = max(1, round((1.0 - strictness) * n))
    return [i for i, rate in enumerate(ranked_success[:top]) if rate > 0 and rate >= strictness]
