"""M2N2 and the GA baseline evolving the paper's digits MLP from scratch, ten seeds each, in one run.

    python bench/m2n2_digits.py [--seeds 10] [--first-seed 0] [--passes 50000] [--device cpu|cuda] [--out FILE.json]

The paper's "MNIST" experiment (Competition and Attraction Improve Model Fusion, arXiv 2508.16204):
scikit-learn's bundled 8x8 digits (first 1,437 images train, last 360 test, raw 0-16 pixels), a
64-256-10 MLP (19,210 parameters) started from two random models N(0, 0.01^2), archive 20, budget
50,000 forward passes over the training set. M2N2 runs with the published settings (alpha 1,
attraction, split-point SLERP, N(0, 0.01^2) mutation); the GA baseline is the published one (alpha 0,
both parents drawn by fitness, same crossover and mutation). The reported model of a run is its
archive member with the best training accuracy; its test accuracy is what counts.

Each method's seeds run as one batch (one engine, runs advanced together; a run's numbers do not
depend on its batch). Wall time per run = the batch's wall time / its runs. Prints mean and std
(ddof 1) of the final test accuracy, the mean curve at a few budgets, the paper's anchors (M2N2
about 87.0%, CMA-ES about 86%, GA about 68% at 50,000 passes), and last:
``RESULT m2n2_test_acc=... m2n2_std=... ga_test_acc=... seconds_per_run=...`` (accuracies in percent,
seconds per run averaged over both methods).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lab.arenas.base import device_label, resolve_device  # noqa: E402
from lab.arenas.m2n2.engine import GA_BASELINE, M2N2Engine, M2N2Settings  # noqa: E402
from lab.arenas.m2n2.task import M2N2Task, load_task_data  # noqa: E402

ANCHORS = {"M2N2": 87.0, "CMA-ES": 86.0, "GA": 68.0}
CHECKPOINTS = (1_000, 5_000, 10_000, 25_000, 50_000)


def run_method(name: str, settings: M2N2Settings, seeds: list[int], task: M2N2Task, device: str) -> dict:
    data = load_task_data(task, device)
    t0 = time.perf_counter()
    engine = M2N2Engine(task, [settings] * len(seeds), seeds, device=device, data=data)
    last = t0
    while not engine.done:
        engine.step(task.eval_interval)
        if time.perf_counter() - last > 30 or engine.done:
            last = time.perf_counter()
            acc = engine.test_acc.cpu().numpy() * 100
            print(f"  {name}: pass {engine.passes:>6} of {task.passes}, test accuracy mean {acc.mean():.2f}% "
                  f"({last - t0:.0f} s)", flush=True)
    wall = time.perf_counter() - t0
    final = engine.test_acc.cpu().numpy() * 100
    curves = [engine.curve[r] for r in range(len(seeds))]
    return {"name": name, "settings": dataclasses.asdict(settings), "seeds": seeds, "wall_s": wall,
            "seconds_per_run": wall / len(seeds), "test_acc": final.tolist(),
            "train_acc": (engine.train_acc().max(1).values.cpu().numpy() * 100).tolist(), "curves": curves}


def at_budget(curves: list[dict], passes: int) -> float:
    """Mean test accuracy (%) over runs at the last evaluation at or before ``passes``."""
    values = []
    for c in curves:
        idx = max(i for i, s in enumerate(c["step"]) if s <= passes)
        values.append(c["val_acc"][idx] * 100)
    return float(np.mean(values))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--passes", type=int, default=50_000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=None, help="write every run's curve and figures as JSON")
    args = ap.parse_args()
    device = resolve_device(args.device)
    task = M2N2Task(passes=args.passes, eval_interval=250)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(f"digits 64-256-10 MLP, {args.passes} forward passes, seeds {seeds[0]}-{seeds[-1]}, "
          f"{device_label(device)}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}", flush=True)
    methods = [run_method("M2N2", M2N2Settings(), seeds, task, device),
               run_method("GA", GA_BASELINE, seeds, task, device)]
    print()
    print(f"{'method':<6} {'test acc mean':>13} {'std':>6} {'min':>6} {'max':>6} {'train acc':>9} "
          f"{'s/run':>6}  " + "  ".join(f"@{c // 1000}k" for c in CHECKPOINTS if c <= args.passes))
    for m in methods:
        acc = np.array(m["test_acc"])
        m["mean"], m["std"] = float(acc.mean()), float(acc.std(ddof=1)) if len(acc) > 1 else 0.0
        marks = "  ".join(f"{at_budget(m['curves'], c):5.1f}" for c in CHECKPOINTS if c <= args.passes)
        print(f"{m['name']:<6} {m['mean']:>12.2f}% {m['std']:>6.2f} {acc.min():>6.1f} {acc.max():>6.1f} "
              f"{np.mean(m['train_acc']):>8.2f}% {m['seconds_per_run']:>6.1f}  {marks}")
    print("paper anchors at 50,000 passes: " + ", ".join(f"{k} about {v:g}%" for k, v in ANCHORS.items()))
    m2n2, ga = methods
    seconds = (m2n2["wall_s"] + ga["wall_s"]) / (2 * len(seeds))
    print(f"M2N2 - GA: {m2n2['mean'] - ga['mean']:+.2f} points; wall time {m2n2['wall_s']:.0f} s + "
          f"{ga['wall_s']:.0f} s for {2 * len(seeds)} runs")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"task": task.to_dict(), "methods": methods}, indent=1) + "\n")
    print(f"RESULT m2n2_test_acc={m2n2['mean']:.2f} m2n2_std={m2n2['std']:.2f} ga_test_acc={ga['mean']:.2f} "
          f"seconds_per_run={seconds:.1f}")


if __name__ == "__main__":
    main()
