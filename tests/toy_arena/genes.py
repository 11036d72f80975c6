"""The toy arena's gene table (light: no torch), the one source of its settings."""
from __future__ import annotations

from lab.genome import Gene, GeneSpec, register_spec

TOY_SPEC = register_spec(GeneSpec(
    name="toy-climber",
    title="Toy hill climber (3 genes)",
    genes=(
        Gene("sigma", "Step size", "Search", 0.001, 1.0, "log", "float", 0.1,
             "Std of the Gaussian step each climber takes per generation.", short="Sigma"),
        Gene("climbers", "Climbers", "Search", 2, 32, "linear", "int", 8,
             "Points climbing at once.", short="N"),
        Gene("pull", "Pull to the best", "Search", 0.0, 1.0, "linear", "float", 0.5,
             "Share of the way each climber moves towards the best so far.", short="Pull"),
    ),
))
