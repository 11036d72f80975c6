"""The grokking population trainer on a shared CPU: member-steps/s with the lab's thread policy
against one thread and against every core with OpenMP's default wait policy (the lab before this
policy), on an idle machine and with competing busy processes this script starts itself.

    python bench/threads_under_load.py [--members 8] [--steps 40] [--repeats 3] [--competitors 1]

Each measurement is a fresh process (OpenMP reads its settings once, when torch loads) that trains
--members random genomes (fixed generator) for --steps steps on the default task and reports
member-steps/s; the best of --repeats runs is kept, so a stray hiccup does not decide. A competitor
is `python -c "while True: pass"`, one per --competitors, started before the measurement and
killed after it.

Configurations:
- ``all cores, default wait``: torch.set_num_threads(os.cpu_count()), OpenMP's default wait policy
  (its threads spin while waiting): what the lab did before.
- ``one thread``: torch.set_num_threads(1), passive wait.
- ``lab``: lab.threads.configure() as every lab process calls it, whatever it decides.

RESULT: idle_lab, idle_all (before), idle_one, load_lab, load_all, load_one, and the ratios
load_lab/load_one (the lab under load against one thread) and idle_lab/idle_all (the lab idle
against before).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("all", "one", "lab")


def measure(members: int, steps: int) -> float:
    """Member-steps/s of one train_population call (in this process, as configured)."""
    import dataclasses

    import numpy as np

    from lab.arenas import load_gene_specs
    from lab.arenas.grokking.task import GrokTask, make_dataset
    from lab.arenas.grokking.trainer import train_population
    from lab.genome import get_spec, random_genome

    load_gene_specs()
    task = dataclasses.replace(GrokTask(), step_cap=steps)
    rng = np.random.default_rng(0)
    trials = [(random_genome(get_spec("grokking"), rng), 0) for _ in range(members)]
    data = make_dataset(task)
    train_population(trials[:2], dataclasses.replace(task, step_cap=2), device="cpu", data=data)   # warm up
    t0 = time.perf_counter()
    results = train_population(trials, task, device="cpu", data=data)
    elapsed = time.perf_counter() - t0
    return sum(int(r.metrics.get("steps") or 0) for r in results) / elapsed


def worker(config: str, members: int, steps: int) -> None:
    sys.path.insert(0, str(ROOT))
    if config == "lab":
        from lab import threads
        threads.configure()
    import torch
    if config == "all":
        torch.set_num_threads(os.cpu_count() or 1)
    elif config == "one":
        torch.set_num_threads(1)
    rate = measure(members, steps)
    print(json.dumps({"rate": rate, "threads": torch.get_num_threads(),
                      "wait": os.environ.get("OMP_WAIT_POLICY", "default")}))


def run_config(config: str, members: int, steps: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    if config == "one":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    out = subprocess.run([sys.executable, __file__, "--worker", config, "--members", str(members),
                          "--steps", str(steps)], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def best_of(config: str, args, competitors: int) -> dict:
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(competitors)]
    try:
        time.sleep(0.3 if busy else 0)
        runs = [run_config(config, args.members, args.steps) for _ in range(args.repeats)]
    finally:
        for p in busy:
            p.kill()
            p.wait()
    return max(runs, key=lambda r: r["rate"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--competitors", type=int, default=1, help="busy processes started for the loaded case")
    ap.add_argument("--worker", choices=CONFIGS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.members, args.steps)
        return
    print(f"{os.cpu_count()} cores; {args.members} members x {args.steps} steps; best of {args.repeats}; "
          f"loaded = {args.competitors} busy process(es)")
    figures: dict[str, float] = {}
    for load in ("idle", "load"):
        for config in CONFIGS:
            r = best_of(config, args, args.competitors if load == "load" else 0)
            figures[f"{load}_{config}"] = r["rate"]
            print(f"  {load:<5} {config:<4} threads {r['threads']}, wait {r['wait']:<8} "
                  f"{r['rate']:8.1f} member-steps/s", flush=True)
    under = figures["load_lab"] / figures["load_one"]
    idle = figures["idle_lab"] / figures["idle_all"]
    print(f"under load the lab runs at {under:.2f}x one thread (before: "
          f"{figures['load_all'] / figures['load_one']:.2f}x); idle it runs at {idle:.2f}x the all-core speed")
    print("RESULT " + " ".join(f"{k}={v:.1f}" for k, v in figures.items())
          + f" load_lab_over_one={under:.2f} idle_lab_over_before={idle:.2f}")


if __name__ == "__main__":
    main()
