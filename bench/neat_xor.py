"""NEAT on XOR, as in the NEAT paper (Stanley and Miikkulainen 2002): 100 runs of population 150,
each until a network gets all four cases right (output on the right side of 0.5) or the budget
runs out. Prints the mean and worst number of networks evaluated to a solution, the failures, the
hidden nodes of the solutions and the wall time; the paper reports 4,755 evaluations on average
(32 generations), worst 13,459, no failure in 100 runs and 2.35 hidden nodes.

If neat-python is installed (a benchmark-only extra: ``pip install neat-python``), its XOR example
runs in the same process with that example's settings (fitness 4 - sum of squared errors, solved at
3.9) for the same seeds, and both wall times and evaluation counts are printed.

    python bench/neat_xor.py [--runs 100] [--generations 300] [--no-neat-python]

Last line: ``RESULT mean_evals=... worst_evals=... failures=... mean_hidden=... seconds=...``.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from lab.arenas.neat.engine import NeatEngine, NeatSettings  # noqa: E402
from lab.arenas.neat.parallel_config import ParallelConfig  # noqa: E402
from lab.arenas.neat.task import NeatTask  # noqa: E402

PAPER = {"mean_evals": 4755, "worst_evals": 13459, "failures": 0, "mean_hidden": 2.35}

# neat-python's examples/xor/config-feedforward (the settings its XOR example ships with)
NEAT_PYTHON_CONFIG = """
[NEAT]
fitness_criterion     = max
fitness_threshold     = 3.9
pop_size              = 150
reset_on_extinction   = False
no_fitness_termination = False

[DefaultGenome]
activation_default      = sigmoid
activation_mutate_rate  = 0.0
activation_options      = sigmoid
aggregation_default     = sum
aggregation_mutate_rate = 0.0
aggregation_options     = sum
bias_init_mean          = 0.0
bias_init_stdev         = 1.0
bias_max_value          = 30.0
bias_min_value          = -30.0
bias_mutate_power       = 0.5
bias_mutate_rate        = 0.7
bias_replace_rate       = 0.1
compatibility_disjoint_coefficient = 1.0
compatibility_weight_coefficient   = 0.5
conn_add_prob           = 0.5
conn_delete_prob        = 0.5
enabled_default         = True
enabled_mutate_rate     = 0.01
feed_forward            = True
initial_connection      = full
node_add_prob           = 0.2
node_delete_prob        = 0.2
num_hidden              = 0
num_inputs              = 2
num_outputs             = 1
response_init_mean      = 1.0
response_init_stdev     = 0.0
response_max_value      = 30.0
response_min_value      = -30.0
response_mutate_power   = 0.0
response_mutate_rate    = 0.0
response_replace_rate   = 0.0
weight_init_mean        = 0.0
weight_init_stdev       = 1.0
weight_max_value        = 30
weight_min_value        = -30
weight_mutate_power     = 0.5
weight_mutate_rate      = 0.8
weight_replace_rate     = 0.1

[DefaultSpeciesSet]
compatibility_threshold = 3.0

[DefaultStagnation]
species_fitness_func = max
max_stagnation       = 20
species_elitism      = 2

[DefaultReproduction]
elitism            = 2
survival_threshold = 0.2
"""


def lab_runs(runs: int, generations: int) -> dict:
    task = NeatTask(task="xor", generations=generations)
    evals, hidden, gens, failures = [], [], [], 0
    t0 = time.perf_counter()
    for seed in range(runs):
        with NeatEngine(task, NeatSettings(), seed, parallel=ParallelConfig()) as e:
            e.run()
            if e.solved_at is None:
                failures += 1
                continue
            evals.append(e.evaluations)
            gens.append(e.solved_at)
            hidden.append(e.solver.n_hidden)
    return {"evals": evals, "hidden": hidden, "generations": gens, "failures": failures,
            "seconds": time.perf_counter() - t0}


def neat_python_runs(runs: int, generations: int) -> dict | None:
    try:
        import neat
    except ImportError:
        return None
    xor_in = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)]
    xor_out = [0.0, 1.0, 1.0, 0.0]
    counter = {"n": 0}

    def eval_genomes(genomes, config):
        for _, genome in genomes:
            counter["n"] += 1
            net = neat.nn.FeedForwardNetwork.create(genome, config)
            genome.fitness = 4.0 - sum((net.activate(x)[0] - y) ** 2 for x, y in zip(xor_in, xor_out))

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "config-feedforward")
        Path(path).write_text(NEAT_PYTHON_CONFIG)
        config = neat.Config(neat.DefaultGenome, neat.DefaultReproduction, neat.DefaultSpeciesSet,
                             neat.DefaultStagnation, path)
    evals, hidden, failures, correct = [], [], 0, 0
    t0 = time.perf_counter()
    for seed in range(runs):
        random.seed(seed)
        counter["n"] = 0
        pop = neat.Population(config)
        winner = pop.run(eval_genomes, generations)
        if winner.fitness is None or winner.fitness < config.fitness_threshold:
            failures += 1
            continue
        evals.append(counter["n"])
        hidden.append(len(winner.nodes) - config.genome_config.num_outputs)
        net = neat.nn.FeedForwardNetwork.create(winner, config)
        correct += all((net.activate(x)[0] > 0.5) == (y > 0.5) for x, y in zip(xor_in, xor_out))
    return {"evals": evals, "hidden": hidden, "failures": failures, "all_four_right": correct,
            "seconds": time.perf_counter() - t0, "version": getattr(neat, "__version__", "?")}


def describe(name: str, r: dict, runs: int) -> None:
    ev = r["evals"]
    print(f"{name}: {runs - r['failures']} of {runs} runs solved, {r['failures']} failures")
    if ev:
        print(f"  evaluations to solve: mean {statistics.mean(ev):,.0f}, median {statistics.median(ev):,.0f}, "
              f"worst {max(ev):,}, best {min(ev):,}")
        print(f"  hidden nodes of the solutions: mean {statistics.mean(r['hidden']):.2f}, "
              f"max {max(r['hidden'])}")
    print(f"  wall time {r['seconds']:.1f} s ({r['seconds'] / runs:.2f} s per run)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--generations", type=int, default=300, help="budget per run (a run not solved by then fails)")
    ap.add_argument("--no-neat-python", action="store_true", help="skip the neat-python comparison")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"NEAT on XOR: {args.runs} runs, population 150, budget {args.generations} generations; "
          f"torch {torch.__version__}, {os.cpu_count()} cores")
    s = NeatSettings()
    print(f"settings: c1 {s.c1}, c2 {s.c2}, c3 {s.c3}, delta_t {s.compat_threshold}, weight mutation {s.weight_mutate} "
          f"(replace {s.weight_replace}, perturb std {s.weight_sigma}), add node {s.add_node}, add connection "
          f"{s.add_conn}, crossover {s.crossover}, stagnation {s.stagnation}, survival {s.survival}")
    ours = lab_runs(args.runs, args.generations)
    describe("this lab's NEAT", ours, args.runs)
    if ours["generations"]:
        print(f"  generations to solve: mean {statistics.mean(ours['generations']):.1f}")
    print(f"  NEAT paper: mean {PAPER['mean_evals']:,} evaluations, worst {PAPER['worst_evals']:,}, "
          f"{PAPER['failures']} failures, {PAPER['mean_hidden']} hidden nodes")
    other = None if args.no_neat_python else neat_python_runs(args.runs, args.generations)
    if other is not None:
        describe(f"neat-python {other['version']} (its XOR example settings)", other, args.runs)
        print(f"  its solutions with all four cases on the right side of 0.5: {other['all_four_right']} of "
              f"{args.runs - other['failures']}")
        if ours["evals"] and other["evals"]:
            print(f"  ratios (neat-python / this lab): evaluations "
                  f"{statistics.mean(other['evals']) / statistics.mean(ours['evals']):.2f}x, wall time "
                  f"{other['seconds'] / ours['seconds']:.2f}x")
    elif not args.no_neat_python:
        print("neat-python is not installed: no comparison (pip install neat-python)")
    ev = ours["evals"] or [0]
    hid = ours["hidden"] or [0]
    print(f"RESULT mean_evals={statistics.mean(ev):.0f} worst_evals={max(ev)} failures={ours['failures']} "
          f"mean_hidden={statistics.mean(hid):.2f} seconds={ours['seconds']:.1f}")


if __name__ == "__main__":
    main()
