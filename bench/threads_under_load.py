"""The grokking population trainer on a shared CPU: member-steps/s with the lab's thread policy
against one thread and against every core with OpenMP's default wait policy (the lab before this
policy), on an idle machine and with competing busy processes this script starts itself.

    python bench/threads_under_load.py [--members 8] [--steps 120] [--repeats 3] [--competitors 1]

Each measurement is a fresh process (OpenMP reads its settings once, when torch loads) that trains
--members random genomes (fixed generator) for --steps steps on the default task and reports
member-steps/s; the best of --repeats runs is kept, so a stray hiccup does not decide. A competitor
(--competitors of them, started before the measurement and killed after it) is another torch
process doing small matrix products on every core (--competitor torch, like a second lab process)
or a pure-Python busy loop (--competitor python).

Configurations:
- ``all cores, default wait``: torch.set_num_threads(os.cpu_count()), OpenMP's default wait policy
  (its threads spin while waiting): what the lab did before.
- ``one thread``: torch.set_num_threads(1).
- ``lab``: lab.threads.configure() as the window calls it, then the trainer with its Governor
  (the thread count follows the cores other processes leave free).

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
    from lab import threads
    used = threads.latest.used if config == "lab" and threads.latest is not None else [torch.get_num_threads()]
    print(json.dumps({"rate": rate, "threads": "->".join(map(str, used))}))


COMPETITORS = {
    "python": "while True: pass",
    "torch": "import os, torch\ntorch.set_num_threads(os.cpu_count())\na = torch.randn(96, 96)\n"
             "while True:\n    b = a @ a\n    a = torch.tanh(b) * 0.5",
}


def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}


def run_config(config: str, members: int, steps: int) -> dict:
    env = _plain_env()
    out = subprocess.run([sys.executable, __file__, "--worker", config, "--members", str(members),
                          "--steps", str(steps)], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def best_of(config: str, args, competitors: int) -> dict:
    busy = [subprocess.Popen([sys.executable, "-c", COMPETITORS[args.competitor]], env=_plain_env())
            for _ in range(competitors)]
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
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--competitors", type=int, default=1, help="busy processes started for the loaded case")
    ap.add_argument("--competitor", choices=("python", "torch"), default="torch",
                    help="python: a pure-Python busy loop; torch: another torch process (every core, OpenMP's "
                         "default wait) doing small matrix products, like a second lab process")
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
            print(f"  {load:<5} {config:<4} threads {r['threads']:<8} {r['rate']:8.1f} member-steps/s", flush=True)
    under = figures["load_lab"] / figures["load_one"]
    idle = figures["idle_lab"] / figures["idle_all"]
    print(f"under load the lab runs at {under:.2f}x one thread (before: "
          f"{figures['load_all'] / figures['load_one']:.2f}x); idle it runs at {idle:.2f}x the all-core speed")
    print("RESULT " + " ".join(f"{k}={v:.1f}" for k, v in figures.items())
          + f" load_lab_over_one={under:.2f} idle_lab_over_before={idle:.2f}")


if __name__ == "__main__":
    main()
