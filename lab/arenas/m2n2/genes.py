"""The M2N2 arena's gene table: the engine settings of one M2N2 run, evolvable by the Evolution Lab.

Defaults are the published ones (Competition and Attraction Improve Model Fusion, arXiv 2508.16204,
and its code): an archive of 20, alpha 1, SLERP crossover at a random split point, partner chosen
by attraction, N(0, 0.01^2) mutation and initial weights. The forward-pass budget is the task's
(``M2N2Task.passes``), not a gene: genomes are compared at equal compute, or evolution would
simply buy a bigger budget.
"""
from __future__ import annotations

from lab.genome import Gene, GeneSpec, register_spec

_G = Gene

M2N2_SPEC = register_spec(GeneSpec(
    name="m2n2",
    title="M2N2 model merging engine (8 genes)",
    genes=(
        _G("archive_size", "Archive size", "Niches", 4, 64, "linear", "int", 20,
           "Models kept in the archive (paper: 20).", short="Archive"),
        _G("alpha", "Competition alpha", "Niches", 0.0, 3.0, "linear", "float", 1.0,
           "A data point's reward is shared: 1 / z^alpha, z = archive models that get it right "
           "(0 = no competition, the GA baseline).", short="Alpha"),
        _G("attraction", "Attraction", "Mating", 0, 1, "linear", "int", 1,
           "1: partner B drawn by attraction to parent A (what B gets right that A misses); "
           "0: drawn by fitness like A (the published no-matchmaker ablation).", short="Attract"),
        _G("crossover_rate", "Crossover rate", "Mating", 0.0, 1.0, "linear", "float", 1.0,
           "Share of children bred by crossover; the rest are copies of parent A (0 = the no-crossover "
           "ablation).", short="XRate"),
        _G("split_point", "Split point", "Mating", 0, 1, "linear", "int", 1,
           "1: mixing ratio w before a random split point of the flattened parameters and 1 - w after; "
           "0: w everywhere.", short="Split"),
        _G("slerp", "SLERP", "Mating", 0, 1, "linear", "int", 1,
           "1: spherical interpolation of the parents' parameter vectors; 0: linear.", short="SLERP"),
        _G("mutation_sigma", "Mutation sigma", "Mutation", 1e-4, 0.1, "log", "float", 0.01,
           "Std of the Gaussian noise added to every parameter of a child (from-scratch mode).",
           short="MutSigma"),
        _G("init_sigma", "Initial sigma", "Mutation", 1e-3, 1.0, "log", "float", 0.01,
           "Std of the weights of the two random models the archive starts from.", short="InitSigma"),
    ),
))
