"""The M2N2 engine's settings: a field per gene of genes.py and the options no gene carries."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lab.arenas.m2n2.genes import M2N2_SPEC
from lab.arenas.settings import GeneSettings, gene_settings

PARTNERS = ("attraction", "fitness", "uniform")
ZERO_ATTRACTION = ("slot0", "fitness")


@gene_settings(M2N2_SPEC, title="M2N2", flags=("split_point", "slerp"), replaced=("attraction",))
class M2N2Settings(GeneSettings):
    """One run's engine settings: a field per gene of genes.py (name, kind and the published default
    from there; ``split_point`` and ``slerp`` held as bool), ``partner`` for the ``attraction`` gene,
    and an option no gene carries.

    ``partner``: "attraction" (the paper's matchmaker), "fitness" (B drawn like A, the published
    no-matchmaker ablation and, with alpha 0, the GA baseline) or "uniform" (B uniform over the
    archive: attraction removed without favouring fit partners)."""

    partner: str = "attraction"         # the `attraction` gene: 1 -> "attraction", 0 -> "fitness"
    zero_attraction: str = "slot0"      # not a gene: what a pass does when no partner attracts

    def problems(self) -> list[str]:
        """What the engine cannot run: it accepts more than the gene table's ranges (an archive of 2,
        alpha up to 10), as tests and ablations use."""
        problems = []
        if isinstance(self.archive_size, bool) or not isinstance(self.archive_size, int) or self.archive_size < 2:
            problems.append(f"archive_size must be a whole number >= 2, got {self.archive_size!r}")
        if self.partner not in PARTNERS:
            problems.append(f"partner {self.partner!r} is not one of {', '.join(PARTNERS)}")
        if self.zero_attraction not in ZERO_ATTRACTION:
            problems.append(f"zero_attraction {self.zero_attraction!r} is not one of {', '.join(ZERO_ATTRACTION)}")
        for name, low, high in (("alpha", 0.0, 10.0), ("crossover_rate", 0.0, 1.0),
                                ("mutation_sigma", 0.0, 10.0), ("init_sigma", 0.0, 10.0)):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or not low <= v <= high:
                problems.append(f"{name} must be a number in [{low:g}, {high:g}], got {v!r}")
        return problems

    @classmethod
    def replaced_from_genes(cls, genes: Mapping[str, Any]) -> dict[str, Any]:
        return {"partner": "attraction" if int(genes["attraction"]) else "fitness"}

    def replaced_to_genes(self) -> dict[str, float | int]:
        if self.partner == "uniform":
            raise ValueError("partner 'uniform' is an ablation of the direct run; the m2n2 genes hold "
                             "attraction (1) or fitness (0)")
        return {"attraction": int(self.partner == "attraction")}


GA_BASELINE = M2N2Settings(alpha=0.0, partner="fitness")
