"""Throughput of the grokking trainers: the same trials run one model at a time by the reference
trainer and all at once by the population trainer, in one run.

    python bench/grok_throughput.py [--device cpu|cuda] [--genomes 32] [--seeds 2] [--steps 200]
                                    [--population-only] [--precision float32|tf32|bf16]
                                    [--step-mode eager|static|graphs]

Trials are random genomes (fixed generator) x seeds on the default task with the step cap set to
--steps, evaluation every 25 steps as in real runs. Member-steps are counted from the results
(a trial that diverges stops early in both trainers). GFLOP/s counts the matmul FLOPs of the plain
model (what the reference computes) for training (forward + backward = 3 x forward) and evaluation;
the population's one-block table path does fewer FLOPs for the same function, so its figure is
"plain-model-equivalent" GFLOP/s.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lab.arenas import load_gene_specs  # noqa: E402
from lab.arenas.base import PRECISIONS, device_label, resolve_device  # noqa: E402
from lab.arenas.grokking.reference import train_reference  # noqa: E402
from lab.arenas.grokking.task import GrokTask, make_dataset  # noqa: E402
from lab.arenas.grokking.trainer import STEP_MODES, TRAIN_PROBE, train_population  # noqa: E402
from lab.genome import get_spec, random_genome  # noqa: E402


def forward_flops_per_example(task: GrokTask) -> int:
    """Matmul FLOPs of one example's forward pass (the last block computes only the "=" position)."""
    d, f, T, p = task.d_model, task.d_ff, task.seq_len, task.modulus
    total = 0
    for layer in range(task.layers):
        tq = 1 if layer == task.layers - 1 else T
        total += 2 * T * d * d * 2          # keys and values at every position
        total += 2 * tq * d * d * 2         # queries and the output projection
        total += 2 * tq * T * d             # scores and the weighted sum of values
        total += 2 * tq * d * f * 2         # feed-forward
    return total + 2 * d * p               # unembedding


def run_flops(task: GrokTask, member_steps: int, evals: int, n_val: int, n_probe: int) -> float:
    fwd = forward_flops_per_example(task)
    return member_steps * 3 * fwd * task.batch_size + evals * fwd * (n_val + n_probe)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--genomes", type=int, default=32)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--population-only", action="store_true",
                    help="skip the reference trainer (for populations too large to run one model at a time)")
    ap.add_argument("--precision", choices=PRECISIONS, default="float32", help="the task's arithmetic")
    ap.add_argument("--step-mode", choices=STEP_MODES, default="eager",
                    help="the population trainer's steps: launched from Python, or replayed CUDA graphs")
    args = ap.parse_args()
    load_gene_specs()
    device = resolve_device(args.device)
    task = dataclasses.replace(GrokTask(), step_cap=args.steps, precision=args.precision)
    rng = np.random.default_rng(0)
    genomes = [random_genome(get_spec("grokking"), rng) for _ in range(args.genomes)]
    trials = [(g, s) for g in genomes for s in range(args.seeds)]
    data = make_dataset(task)
    n_val, n_probe = len(data.val_x), min(TRAIN_PROBE, len(data.train_x))
    print(f"device {device_label(device)}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"task: d_model {task.d_model}, d_ff {task.d_ff}, heads {task.heads}, layers {task.layers}, "
          f"{task.n_params():,} parameters, batch {task.batch_size}, {args.steps} steps, eval every "
          f"{task.eval_interval}; {len(trials)} trials ({args.genomes} genomes x {args.seeds} seeds)")

    # warm up both paths (allocator, kernels) on a few steps
    warm = dataclasses.replace(task, step_cap=3)
    train_reference(trials[0][0], 0, warm, device=device, data=data)
    train_population(trials[:4], warm, device=device, data=data, step_mode=args.step_mode)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    sync()
    t0 = time.perf_counter()
    pop = train_population(trials, task, device=device, data=data, step_mode=args.step_mode)
    sync()
    pop_time = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else 0.0
    kind = "cuda" if device.startswith("cuda") else "cpu"
    if args.population_only:
        pop_steps = sum(r.metrics["steps"] for r in pop)
        pop_evals = sum(len(r.curve["step"]) for r in pop)
        rate = pop_steps / pop_time
        print(f"population: {pop_steps:>7} member-steps in {pop_time:7.1f} s = {rate:8.1f} member-steps/s, "
              f"{run_flops(task, pop_steps, pop_evals, n_val, n_probe) / pop_time / 1e9:6.1f} GFLOP/s "
              f"(plain-model equivalent){f', peak memory {peak:.1f} GiB' if peak else ''}")
        print(f"RESULT device={kind} members={len(trials)} precision={task.precision} "
              f"step_mode={args.step_mode} pop_steps_per_s={rate:.1f}")
        return
    t0 = time.perf_counter()
    ref = [train_reference(g, s, task, device=device, data=data) for g, s in trials]
    sync()
    ref_time = time.perf_counter() - t0

    def summary(results):
        steps = sum(r.metrics["steps"] for r in results)
        evals = sum(len(r.curve["step"]) for r in results)
        return steps, evals
    ref_steps, ref_evals = summary(ref)
    pop_steps, pop_evals = summary(pop)
    ref_rate, pop_rate = ref_steps / ref_time, pop_steps / pop_time
    same = sum(a.status == b.status and a.metrics["steps"] == b.metrics["steps"] for a, b in zip(ref, pop))
    statuses = {k: [r.status for r in pop].count(k) for k in sorted({r.status for r in pop})}
    print(f"statuses: {statuses}; "
          f"{same}/{len(trials)} trials ended at the same step with the same status in both trainers")
    print(f"reference : {ref_steps:>7} member-steps in {ref_time:7.1f} s = {ref_rate:8.1f} member-steps/s, "
          f"{run_flops(task, ref_steps, ref_evals, n_val, n_probe) / ref_time / 1e9:6.1f} GFLOP/s")
    print(f"population: {pop_steps:>7} member-steps in {pop_time:7.1f} s = {pop_rate:8.1f} member-steps/s, "
          f"{run_flops(task, pop_steps, pop_evals, n_val, n_probe) / pop_time / 1e9:6.1f} GFLOP/s "
          "(plain-model equivalent)")
    print(f"ratio population / reference: {pop_rate / ref_rate:.2f}x")
    print(f"RESULT device={kind} members={len(trials)} ref_steps_per_s={ref_rate:.1f} "
          f"pop_steps_per_s={pop_rate:.1f} ratio={pop_rate / ref_rate:.2f}")


if __name__ == "__main__":
    main()
