"""Backprop NEAT on the two-spirals benchmark: held-out accuracy and time.

The networks train on the classic 194 points (Lang and Witbrock: 97 per spiral, three turns);
backprop fitness scores them on the points half-way between (validation) and the run reports
the champion on the points a quarter of the way (the held-out test set, 384 points; see
lab.arenas.neat.tasks.spirals). Each genome's weights are trained by Adam before it is scored,
Lamarckian, with the two-stage refinement of the best; the settings are the neat-spirals
founder's (printed). Target: held-out
accuracy >= 95%.

    python bench/neat_spirals.py [--seeds 0 1 2] [--generations 150] [--workers 1]

Last line: ``RESULT heldout_acc=... val_acc=... seconds=... generations=... hidden=...`` (means
over the seeds).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from lab.arenas.neat.engine import NeatEngine, NeatSettings  # noqa: E402
from lab.arenas.neat.parallel_config import ParallelConfig  # noqa: E402
from lab.arenas.neat.task import NeatTask  # noqa: E402
from lab.genome import Genome  # noqa: E402

FOUNDER = Path(__file__).resolve().parents[1] / "genomes" / "neat-spirals.json"   # the settings it runs
TASK = {"activations": "sin,tanh"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--generations", type=int, default=150)
    ap.add_argument("--workers", type=int, default=1, help="thread workers for the evaluation")
    ap.add_argument("--settings", type=json.loads, default={}, help="JSON overrides of the engine settings")
    args = ap.parse_args()
    genes = dict(Genome.load(FOUNDER).genes)
    settings = NeatSettings.from_genes({**genes, **args.settings})
    task = NeatTask(task="spirals", generations=args.generations, stop_at_target=False, **TASK)
    print(f"backprop NEAT on two spirals: seeds {args.seeds}, {args.generations} generations, torch "
          f"{torch.__version__}, {os.cpu_count()} cores, {args.workers} evaluation worker(s)")
    print(f"settings ({FOUNDER.name}): " + ", ".join(f"{k} {getattr(settings, k):g}" for k in sorted(genes)))
    print(f"task: activations {task.activations}, alpha_nodes {task.alpha_nodes}, alpha_edges {task.alpha_edges}, "
          f"batch {task.batch_size} (the whole training set)")
    rows = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        with NeatEngine(task, settings, seed, parallel=ParallelConfig(workers=args.workers)) as e:
            while not e.done:
                e.step(1)
                if e.generation % 25 == 0:
                    print(f"  seed {seed} generation {e.generation}: validation {e.curve['val_acc'][-1]:.3f}, "
                          f"held-out {e.curve['test_acc'][-1]:.3f}, {e.champion.n_hidden} hidden, "
                          f"{len(e.species)} species, {time.perf_counter() - t0:.0f} s", flush=True)
            seconds = time.perf_counter() - t0
            c = e.champion
            first95 = next((g for g, a in zip(e.curve["step"], e.curve["test_acc"]) if a >= 0.95), None)
            rows.append({"seed": seed, "test": e.curve["test_acc"][-1], "val": e.curve["val_acc"][-1],
                         "seconds": seconds, "hidden": c.n_hidden, "conns": c.n_enabled, "first95": first95})
        r = rows[-1]
        print(f"seed {seed}: held-out {r['test']:.4f}, validation {r['val']:.4f}, champion {r['hidden']} hidden / "
              f"{r['conns']} connections, held-out >= 95% first at generation {first95}, {seconds:.1f} s")
    mean = {k: statistics.mean(r[k] for r in rows) for k in ("test", "val", "seconds", "hidden")}
    print(f"mean over {len(rows)} seeds: held-out {mean['test']:.4f} (min {min(r['test'] for r in rows):.4f}), "
          f"validation {mean['val']:.4f}, {mean['seconds']:.1f} s per run; target held-out >= 0.95: "
          + ("met" if mean["test"] >= 0.95 else "not met"))
    print(f"RESULT heldout_acc={100 * mean['test']:.2f} val_acc={100 * mean['val']:.2f} seconds={mean['seconds']:.1f} "
          f"generations={args.generations} hidden={mean['hidden']:.1f}")


if __name__ == "__main__":
    main()
