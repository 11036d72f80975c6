"""How fast each founder genome groks on the default task: the baseline the Evolution Lab must beat.

    python bench/grok_default.py [--seeds 20] [--device cpu|cuda] [--registry PATH] [--precision float32|tf32|bf16]

All founders x seeds (0 .. N-1) train as one population. Per founder it prints the success rate
(grokked within the step cap), the median steps_to_grok with failed trials counted as infinitely
slow (so the median is "inf" when fewer than half of the seeds grok), the quartiles and the
median over successful seeds only. With --registry the trials are recorded there.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from lab.arenas import get_arena  # noqa: E402
from lab.arenas.base import PRECISIONS, TrialFinished, device_label, resolve_device  # noqa: E402
from lab.registry import Registry, founders  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--registry", default=None, help="record the trials in this registry")
    ap.add_argument("--precision", choices=PRECISIONS, default="float32", help="the task's arithmetic")
    ap.add_argument("--step-cap", type=int, default=None, help="a shorter cap (a smoke run; not the baseline)")
    args = ap.parse_args()
    device = resolve_device(args.device)
    arena = get_arena("grokking")
    task = dataclasses.replace(arena.default_task(), precision=args.precision,
                               **({"step_cap": args.step_cap} if args.step_cap else {}))
    fs = founders("grokking")
    pairs = [(f, s) for f in fs for s in range(args.seeds)]
    print(f"device {device_label(device)}; task {task.task_id}: {task.modulus} {task.operation}, train "
          f"{task.train_fraction:.0%}, {task.n_params():,} parameters, cap {task.step_cap} steps; "
          f"{len(fs)} founders x {args.seeds} seeds; precision {task.precision}")
    bar = tqdm(total=len(pairs), desc="trials", unit="trial", file=sys.stderr)

    def on_event(event) -> None:
        if isinstance(event, TrialFinished):
            bar.update(1)
    t0 = time.perf_counter()
    registry = Registry(args.registry) if args.registry else None
    results = arena.run_pairs(pairs, task, device=device, on_event=on_event, registry=registry)
    bar.close()
    print(f"{len(pairs)} trials in {time.perf_counter() - t0:.0f} s")
    lines = []
    print(f"{'founder':<22} {'success':>8} {'median':>8} {'q25':>7} {'q75':>7} {'median(ok)':>11}")
    for i, f in enumerate(fs):
        rs = results[i * args.seeds:(i + 1) * args.seeds]
        steps = np.array([r.metrics["steps_to_grok"] if r.status == "grokked" else np.inf for r in rs], float)
        ok = steps[np.isfinite(steps)]
        success = len(ok) / len(steps)
        med = np.median(steps)
        q25, q75 = (np.quantile(steps, q, method="inverted_cdf") for q in (0.25, 0.75))
        med_ok = f"{np.median(ok):.0f}" if len(ok) else "-"
        print(f"{f.name:<22} {success:>8.0%} {med:>8.0f} {q25:>7.0f} {q75:>7.0f} {med_ok:>11}")
        lines.append(f"RESULT founder={f.name} precision={task.precision} median_steps={med:.0f} success={success:.2f}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
