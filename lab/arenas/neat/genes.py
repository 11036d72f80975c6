"""The NEAT arena's gene table: the engine settings of one NEAT run, evolvable by the Evolution Lab.

Defaults are the NEAT paper's XOR settings (Stanley and Miikkulainen 2002): a population of 150,
c1 = c2 = 1.0, c3 = 0.4, delta_t = 3.0, weights mutated in 80% of offspring (each weight replaced
with 10% probability, otherwise perturbed), new nodes 0.03, 75% of offspring by crossover, stagnant
species dropped after 15 generations, species champions copied unchanged. Two differ, chosen by
40-seed XOR runs (mean evaluations to solve 4,868 -> 3,825): new connections 0.1 (the paper used 0.05
for 150 genomes and 0.3 for larger populations) and perturbations of std 1.0 (new weights std 2.0).
The backprop genes are the lab's: 40 Adam steps at lr 5e-3, the best 10% refined 80 more.
The species controller (off by default, as in the paper), backprop fitness (40 Adam steps at lr
5e-3, Lamarckian) and activation mutation are the lab's additions. The generation budget is the
task's, not a gene.
"""
from __future__ import annotations

from lab.genome import Gene, GeneSpec, register_spec

_G = Gene

NEAT_SPEC = register_spec(GeneSpec(
    name="neat",
    title="NEAT topology and weight evolution engine (23 genes)",
    genes=(
        _G("population", "Population", "Selection", 10, 1000, "log", "int", 150,
           "Genomes (networks) in the population.", short="Pop"),
        _G("survival", "Survival threshold", "Selection", 0.05, 1.0, "linear", "float", 0.2,
           "Share of each species, best first, allowed to breed.", short="Survive"),
        _G("elitism", "Species elitism", "Selection", 0, 10, "linear", "int", 1,
           "Best genomes of each species of 5 or more copied unchanged into the next generation.",
           short="Elite"),
        _G("stagnation", "Stagnation limit", "Selection", 3, 200, "log", "int", 15,
           "Generations without improvement after which a species may not breed (the best two species "
           "are spared).", short="Stag"),
        _G("crossover", "Crossover share", "Mating", 0.0, 1.0, "linear", "float", 0.75,
           "Share of offspring made by crossover; the rest are mutated copies.", short="Cross"),
        _G("compat_threshold", "Compatibility threshold", "Speciation", 0.1, 50.0, "log", "float", 3.0,
           "delta_t: a genome joins the first species whose representative is closer than this "
           "(the start value when the species controller steers it).", short="Delta"),
        _G("c1", "Excess coefficient", "Speciation", 0.0, 5.0, "linear", "float", 1.0,
           "c1: weight of excess genes in the compatibility distance.", short="C1"),
        _G("c2", "Disjoint coefficient", "Speciation", 0.0, 5.0, "linear", "float", 1.0,
           "c2: weight of disjoint genes in the compatibility distance.", short="C2"),
        _G("c3", "Weight coefficient", "Speciation", 0.0, 5.0, "linear", "float", 0.4,
           "c3: weight of the mean weight difference of matching genes.", short="C3"),
        _G("species_control", "Species control", "Speciation", 0, 2, "linear", "int", 0,
           "0: fixed threshold (the paper); 1: a PID controller holds the species target; 2: adaptive "
           "(PID and hill-climb switched by a bandit, the target adapted to fitness progress).",
           short="Ctrl"),
        _G("species_target", "Species target", "Speciation", 2, 20, "linear", "int", 8,
           "Number of species the controller aims for (its start value when adaptive).", short="Target"),
        _G("weight_mutate", "Weight mutation", "Mutation", 0.0, 1.0, "linear", "float", 0.8,
           "Probability that an offspring's weights and biases are mutated.", short="WMut"),
        _G("weight_sigma", "Weight perturbation", "Mutation", 0.01, 5.0, "log", "float", 1.0,
           "Std of the Gaussian added to a perturbed weight.", short="WSigma"),
        _G("weight_init_sigma", "Initial weight std", "Mutation", 0.01, 5.0, "log", "float", 2.0,
           "Std of the weights of the first networks, of new connections and of replaced weights.",
           short="WInit"),
        _G("weight_replace", "Weight replacement", "Mutation", 0.0, 1.0, "linear", "float", 0.1,
           "Probability that a mutated weight is drawn afresh instead of perturbed.", short="WRepl"),
        _G("add_node", "Add node", "Mutation", 0.0, 1.0, "linear", "float", 0.03,
           "Probability that an offspring splits a connection with a new node.", short="AddN"),
        _G("add_conn", "Add connection", "Mutation", 0.0, 1.0, "linear", "float", 0.1,
           "Probability that an offspring gains a connection.", short="AddC"),
        _G("toggle", "Enable/disable", "Mutation", 0.0, 1.0, "linear", "float", 0.01,
           "Probability that an offspring enables or disables one connection.", short="Toggle"),
        _G("activation_mutate", "Activation mutation", "Mutation", 0.0, 1.0, "linear", "float", 0.0,
           "Probability that an offspring changes one hidden node's activation (among the task's set).",
           short="ActMut"),
        _G("backprop_steps", "Backprop steps", "Backprop", 0, 1000, "linear", "int", 40,
           "Adam steps on each genome's weights before scoring (classification tasks).", short="Steps"),
        _G("learning_rate", "Learning rate", "Backprop", 1e-4, 1.0, "log", "float", 5e-3,
           "Adam learning rate of the backprop fitness.", short="LR"),
        _G("refine_steps", "Refinement steps", "Backprop", 0, 2000, "linear", "int", 80,
           "Extra Adam steps for the best 10% after the first scoring (two-stage refinement).",
           short="Refine"),
        _G("lamarckian", "Lamarckian", "Backprop", 0, 1, "linear", "int", 1,
           "1: the trained weights are written back into the genome; 0: only the fitness is kept "
           "(Baldwinian).", short="Lamarck"),
    ),
))
