"""M2N2 and the GA baseline evolving the paper's digits MLP from scratch, 30 seeds each, in one run.

    python bench/m2n2_digits.py [--seeds 30] [--first-seed 100] [--passes 50000] [--methods m2n2,ga]
                                [--batch 10] [--threads N] [--device cpu|cuda] [--out FILE.json]

The paper's "MNIST" experiment (Competition and Attraction Improve Model Fusion, arXiv 2508.16204):
scikit-learn's bundled 8x8 digits (first 1,437 images train, last 360 test, raw 0-16 pixels), a
64-256-10 MLP (19,210 parameters) started from two random models N(0, 0.01^2), archive 20, budget
50,000 forward passes over the training set. M2N2 runs with the published settings (alpha 1,
attraction, split-point SLERP, N(0, 0.01^2) mutation); the GA baseline is the published one (alpha 0,
both parents drawn by fitness, same crossover and mutation). The reported model of a run is its
archive member with the best training accuracy; its test accuracy is what counts.

Each method's seeds run in batches of ``--batch`` (one engine, runs advanced together; a run's
numbers do not depend on its batch). Each batch's wall time is printed, for its runs together and
per run; wall time per run = the batches' wall time / runs, so ``--seeds 10 --batch 10 --methods
m2n2`` times ten runs batched in one engine (``--device cuda`` on a GPU). Prints one line per run
(final test and training accuracy of the reported model, children accepted, passes at which no
member attracted parent A, and whether the run stalled: training accuracy below 95% at the end), then per method the mean, std (ddof 1), min and max of the final test accuracy, the
stalled share with its Wilson 95% interval, the mean curve at a few budgets, the paper's anchors
(M2N2 about 87.0%, CMA-ES about 86%, GA about 68% at 50,000 passes), and last:
``RESULT m2n2_test_acc=... m2n2_std=... m2n2_stalled=... ga_test_acc=... seconds_per_run=...``
(accuracies in percent, stalled as a count of runs, seconds per run averaged over the methods run).
The default seeds, 100-129, played no part in developing the engine.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
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
STALL_TRAIN_ACC = 0.95      # a run whose best training accuracy ends below this has stalled
CHECKPOINTS = (1_000, 5_000, 10_000, 25_000, 50_000)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n."""
    p, d = k / n, 1 + z * z / n
    c, h = (p + z * z / (2 * n)) / d, z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def run_method(name: str, settings: M2N2Settings, seeds: list[int], task: M2N2Task, device: str,
               batch: int) -> dict:
    data = load_task_data(task, device)
    out: dict = {"name": name, "settings": dataclasses.asdict(settings), "seeds": seeds, "wall_s": 0.0,
                 "test_acc": [], "train_acc": [], "accepted": [], "zero_attraction_passes": [], "curves": []}
    for start in range(0, len(seeds), batch):
        part = seeds[start:start + batch]
        t0 = last = time.perf_counter()
        engine = M2N2Engine(task, [settings] * len(part), part, device=device, data=data)
        while not engine.done:
            engine.step(task.eval_interval)
            if time.perf_counter() - last > 60 or engine.done:
                last = time.perf_counter()
                acc = engine.test_acc.cpu().numpy() * 100
                print(f"  {name} seeds {part[0]}-{part[-1]}: pass {engine.passes:>6} of {task.passes}, "
                      f"test accuracy mean {acc.mean():.2f}% ({last - t0:.0f} s)", flush=True)
        wall = time.perf_counter() - t0
        out["wall_s"] += wall
        print(f"  {name} seeds {part[0]}-{part[-1]}: {len(part)} runs together in {wall:.2f} s, "
              f"{wall / len(part):.2f} s per run", flush=True)
        train = engine.train_acc().max(1).values.cpu().numpy() * 100
        for r, seed in enumerate(part):
            run = {"test": float(engine.test_acc[r]) * 100, "train": float(train[r]),
                   "accepted": int(engine.replaced[r]), "zero": int(engine.zero_attraction_passes[r])}
            stalled = run["train"] < STALL_TRAIN_ACC * 100
            print(f"  {name} seed {seed:>4}: test {run['test']:6.2f}%  train {run['train']:6.2f}%  accepted "
                  f"{run['accepted']:>5}  zero-attraction passes {run['zero']:>3}{'  STALLED' if stalled else ''}",
                  flush=True)
            out["test_acc"].append(run["test"])
            out["train_acc"].append(run["train"])
            out["accepted"].append(run["accepted"])
            out["zero_attraction_passes"].append(run["zero"])
            out["curves"].append(engine.curve[r])
    out["seconds_per_run"] = out["wall_s"] / len(seeds)
    out["stalled"] = sum(t < STALL_TRAIN_ACC * 100 for t in out["train_acc"])
    return out


def at_budget(curves: list[dict], passes: int) -> float:
    """Mean test accuracy (%) over runs at the last evaluation at or before ``passes``."""
    values = []
    for c in curves:
        idx = max(i for i, s in enumerate(c["step"]) if s <= passes)
        values.append(c["val_acc"][idx] * 100)
    return float(np.mean(values))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--first-seed", type=int, default=100, help="seeds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--passes", type=int, default=50_000)
    ap.add_argument("--methods", default="m2n2,ga", help="comma-separated: m2n2, ga")
    ap.add_argument("--batch", type=int, default=10, help="runs advanced together in one engine")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=None, help="write every run's curve and figures as JSON")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    names = [m.strip().lower() for m in args.methods.split(",") if m.strip()]
    if not names or any(m not in ("m2n2", "ga") for m in names) or args.seeds < 1 or args.batch < 1:
        ap.error("--methods takes m2n2 and/or ga; --seeds and --batch must be at least 1")
    device = resolve_device(args.device)
    task = M2N2Task(passes=args.passes, eval_interval=250)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(f"digits 64-256-10 MLP, {args.passes} forward passes, seeds {seeds[0]}-{seeds[-1]}, "
          f"{device_label(device)}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}", flush=True)
    every = {"m2n2": ("M2N2", M2N2Settings()), "ga": ("GA", GA_BASELINE)}
    methods = {m: run_method(*every[m], seeds, task, device, args.batch) for m in names}
    print()
    print(f"{'method':<6} {'test acc mean':>13} {'std':>6} {'min':>6} {'max':>6} {'train acc':>9} "
          f"{'stalled (95% CI)':>17} {'s/run':>6}  " + "  ".join(f"@{c // 1000}k" for c in CHECKPOINTS if c <= args.passes))
    for m in methods.values():
        acc = np.array(m["test_acc"])
        m["mean"], m["std"] = float(acc.mean()), float(acc.std(ddof=1)) if len(acc) > 1 else 0.0
        lo, hi = wilson(m["stalled"], len(acc))
        marks = "  ".join(f"{at_budget(m['curves'], c):5.1f}" for c in CHECKPOINTS if c <= args.passes)
        stalls = f"{m['stalled']}/{len(acc)} ({100 * lo:.0f}-{100 * hi:.0f}%)"
        print(f"{m['name']:<6} {m['mean']:>12.2f}% {m['std']:>6.2f} {acc.min():>6.1f} {acc.max():>6.1f} "
              f"{np.mean(m['train_acc']):>8.2f}% {stalls:>17} {m['seconds_per_run']:>6.1f}  {marks}")
    print("paper anchors at 50,000 passes: " + ", ".join(f"{k} about {v:g}%" for k, v in ANCHORS.items()))
    if len(methods) == 2:
        print(f"M2N2 - GA: {methods['m2n2']['mean'] - methods['ga']['mean']:+.2f} points")
    seconds = sum(m["wall_s"] for m in methods.values()) / (len(methods) * len(seeds))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"task": task.to_dict(), "methods": list(methods.values())},
                                             indent=1) + "\n")
    fields = []
    if "m2n2" in methods:
        m = methods["m2n2"]
        fields += [f"m2n2_test_acc={m['mean']:.2f}", f"m2n2_std={m['std']:.2f}", f"m2n2_stalled={m['stalled']}"]
    if "ga" in methods:
        fields += [f"ga_test_acc={methods['ga']['mean']:.2f}"]
    print("RESULT " + " ".join(fields) + f" seconds_per_run={seconds:.2f}")


if __name__ == "__main__":
    main()
