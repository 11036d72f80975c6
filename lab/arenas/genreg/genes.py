"""The GENREG arena's gene table: the engine settings of one GENREG run, evolvable by the Evolution Lab.

Defaults are those the GENREG README gives for MNIST: a population of 200, the top 20% by
trust survive, children copy a parent chosen in proportion to trust and mutate each weight with
probability 0.07 (N(0, 0.1^2)), base mutation 0.08 of the new population, +10 trust for a right answer and
-1.5 for a wrong one, a per-image trust decay of 0.001 (about x0.82 over a generation of 200
images: the README's "trust x 0.8 per generation"), children inherit 3% of the parent's trust, 20
images per class per generation, 64 hidden units. The generation budget is the task's, not a gene.
"""
from __future__ import annotations

from lab.genome import Gene, GeneSpec, register_spec

_G = Gene

GENREG_SPEC = register_spec(GeneSpec(
    name="genreg",
    title="GENREG trust-based evolution engine (12 genes)",
    genes=(
        _G("population", "Population", "Selection", 20, 1000, "log", "int", 200,
           "Genomes (MLPs) in the population.", short="Pop"),
        _G("survival", "Survival cutoff", "Selection", 0.05, 0.9, "linear", "float", 0.2,
           "Share of the population, best by trust, that survives each generation.", short="Survive"),
        _G("child_mutation_rate", "Child mutation rate", "Mutation", 1e-3, 0.5, "log", "float", 0.07,
           "Probability that each weight of a child is mutated.", short="ChildRate"),
        _G("child_mutation_sigma", "Child mutation sigma", "Mutation", 1e-3, 1.0, "log", "float", 0.1,
           "Std of the Gaussian added to a mutated weight of a child.", short="ChildSigma"),
        _G("base_mutation_rate", "Base mutation rate", "Mutation", 0.0, 0.5, "linear", "float", 0.08,
           "Probability that each weight of the new population is mutated again (0: the child mutation "
           "only, as in the published evolve()).", short="BaseRate"),
        _G("base_mutation_sigma", "Base mutation sigma", "Mutation", 1e-3, 1.0, "log", "float", 0.1,
           "Std of the Gaussian added by the base mutation.", short="BaseSigma"),
        _G("trust_decay", "Trust decay", "Trust", 1e-5, 0.1, "log", "float", 1e-3,
           "Each image multiplies trust by (1 - decay) before its reward or penalty is added.", short="Decay"),
        _G("reward", "Reward", "Trust", 0.1, 100.0, "log", "float", 10.0,
           "Trust added for a right answer.", short="Reward"),
        _G("penalty", "Penalty", "Trust", 0.0, 50.0, "linear", "float", 1.5,
           "Trust taken away for a wrong answer.", short="Penalty"),
        _G("inheritance", "Trust inheritance", "Trust", 0.0, 1.0, "linear", "float", 0.03,
           "Share of its parent's trust a child starts with.", short="Inherit"),
        _G("images_per_class", "Images per class", "Senses", 1, 200, "log", "int", 20,
           "Images of each class shown to every genome each generation (multi-image sampling).",
           short="Images"),
        _G("hidden", "Hidden units", "Senses", 4, 512, "log", "int", 64,
           "Width of the MLP's hidden layer (64 for 784-64-10; 32 for the capacity-constrained study).",
           short="Hidden"),
    ),
))
