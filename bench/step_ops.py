"""Operations the grokking population trainer dispatches per training step (what keeps a GPU idle
while Python launches kernels), counted with torch.profiler on the CPU.

    python bench/step_ops.py [--genomes 16] [--seeds 4] [--baseline CHECKOUT]

Trains the same population for 10 and for 30 steps (no evaluation in between) and counts the aten
operations that do work (views, reshapes and empty allocations left out); the difference over 20
steps is the count per step, free of set-up. The weights are held as on a CUDA device (one flat
buffer: ``layout="flat"``, where the trainer has that choice), since the count stands for kernel
launches. ``--baseline`` counts the same with another checkout of the lab (for example an earlier
commit in a git worktree) in a subprocess, and prints the ratio.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_WORK = {"as_strided", "view", "slice", "narrow", "reshape", "flatten", "unsqueeze", "transpose", "expand",
            "resolve_conj", "empty", "empty_strided", "empty_like", "to", "detach", "alias", "t", "permute",
            "select", "split", "squeeze", "_unsafe_view", "lift_fresh", "result_type", "_reshape_alias", "unbind",
            "chunk", "contiguous", "view_as", "split_with_sizes", "expand_as", "_local_scalar_dense", "item"}


def count_per_step(genomes: int, seeds: int) -> tuple[float, dict[str, float]]:
    import numpy as np
    from torch.profiler import ProfilerActivity, profile

    from lab.arenas import get_arena
    from lab.arenas.grokking.task import GrokTask
    from lab.arenas.grokking.trainer import train_population
    from lab.genome import get_spec, random_genome

    get_arena("grokking")
    rng = np.random.default_rng(0)
    spec = get_spec("grokking")
    trials = [(random_genome(spec, rng), s) for _ in range(genomes) for s in range(seeds)]

    import inspect
    # the device layout where the trainer offers the choice (an earlier checkout has one layout only)
    kw = {"layout": "flat"} if "layout" in inspect.signature(train_population).parameters else {}

    def counts(steps: int) -> dict[str, int]:
        task = dataclasses.replace(GrokTask(), step_cap=steps, eval_interval=1000)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            train_population(trials, task, device="cpu", **kw)
        return {e.key: e.count for e in prof.key_averages()
                if e.key.startswith("aten::") and e.key[6:] not in NOT_WORK}

    train_population(trials[:4], dataclasses.replace(GrokTask(), step_cap=5), device="cpu")   # warm up
    short, long = counts(10), counts(30)
    per = {k: (v - short.get(k, 0)) / 20 for k, v in long.items()}
    return sum(per.values()), per


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--genomes", type=int, default=16)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--baseline", default="", help="another checkout of the lab to count too")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)   # the checkout whose lab is counted
    args = ap.parse_args()
    sys.path.insert(0, args.root)
    total, per = count_per_step(args.genomes, args.seeds)
    if args.json:
        print(json.dumps({"total": total}))
        return
    members = args.genomes * args.seeds
    top = sorted(per.items(), key=lambda kv: -kv[1])[:8]
    print(f"{members} members: {total:.0f} operations per training step; most frequent: "
          + ", ".join(f"{k[6:]} {v:.0f}" for k, v in top))
    fields = f"members={members} ops_per_step={total:.0f}"
    if args.baseline:
        baseline = str(Path(args.baseline).resolve())
        env = {**os.environ, "PYTHONPATH": baseline}
        run = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--json", "--genomes", str(args.genomes),
                              "--seeds", str(args.seeds), "--root", baseline], capture_output=True, text=True,
                             env=env, cwd=baseline, check=True)
        base = json.loads(run.stdout.strip().splitlines()[-1])["total"]
        print(f"baseline {args.baseline}: {base:.0f} per step; this checkout dispatches {total / base:.2f}x as many")
        fields += f" baseline_ops_per_step={base:.0f} ratio={total / base:.2f}"
    print(f"RESULT {fields}")


if __name__ == "__main__":
    main()
