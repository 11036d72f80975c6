"""The same generation on 1 and 2 (or more) Dask workers: wall time, speed-up, and what Dask adds per trial.

    python bench/cluster_scaling.py [--genomes 16] [--seeds 2] [--step-cap 400] [--workers 1,2]
                                    [--cluster tcp://HOST:8786]

A generation is ``--genomes`` genomes (the six founders, then random genomes drawn with seed 0) x
``--seeds`` seeds on a + b mod 59 with the default model, every trial trained for at most
``--step-cap`` steps. It runs

1. on the threads backend (this process, torch on every core): the lab's default;
2. on a LocalCluster of N single-threaded workers for each N in ``--workers`` (each cluster is warmed
   up first: a worker's first batch imports torch), split one batch per worker as the lab does;
3. the overhead: ``--tiny`` one-step trials of a tiny model, each its own batch, through one Dask
   worker, against the same trials one by one in this process on one thread;
   (dask time - local time) / trials.

Every run's trials are checked to be identical to the threads run's. With ``--cluster`` the scaling
runs on that cluster (all its workers) instead of LocalClusters. Last line:
``RESULT workers=2 speedup=... overhead_ms_per_trial=...`` (speed-up of the largest worker count
over one worker).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lab import remote  # noqa: E402
from lab.arenas import get_arena  # noqa: E402
from lab.backends import BackendConfig, make_backend  # noqa: E402
from lab.genome import random_genome  # noqa: E402
from lab.registry import founders  # noqa: E402


def same(a, b) -> bool:
    return all((x.key, x.status, dict(x.metrics), dict(x.curve)) == (y.key, y.status, dict(y.metrics), dict(y.curve))
               for x, y in zip(a, b)) and len(a) == len(b)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--genomes", type=int, default=16)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--step-cap", type=int, default=400)
    ap.add_argument("--workers", default=None, help="worker counts, comma-separated (default 1 and every core)")
    ap.add_argument("--tiny", type=int, default=64, help="one-step trials for the overhead measurement")
    ap.add_argument("--cluster", default=None, help="measure on this running cluster instead of LocalClusters")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    counts = [int(x) for x in args.workers.split(",")] if args.workers else sorted({1, cores})
    arena = get_arena("grokking")
    task = dataclasses.replace(arena.default_task(), modulus=59, train_fraction=0.5, step_cap=args.step_cap)
    spec = arena.gene_spec
    rng = np.random.default_rng(0)
    genomes = founders("grokking")[:args.genomes]
    genomes += [random_genome(spec, rng, name=f"r{i}") for i in range(args.genomes - len(genomes))]
    pairs = [(g, 1000 + s) for g in genomes for s in range(args.seeds)]
    print(f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads); task "
          f"{task.task_id}: a + b mod 59, {task.n_params():,} parameters, cap {task.step_cap} steps; "
          f"{len(genomes)} genomes x {args.seeds} seeds = {len(pairs)} trials")

    t_threads, ref = timed(lambda: arena.run_pairs(pairs, task, device="cpu"))
    grokked = sum(r.status == "grokked" for r in ref)
    print(f"threads backend (this process, {torch.get_num_threads()} torch threads): {t_threads:7.2f} s "
          f"({grokked} of {len(ref)} grokked)")

    times: dict[int, float] = {}
    configs = ([(None, BackendConfig("dask", cluster=args.cluster))] if args.cluster else
               [(n, BackendConfig("dask", cluster=f"local:{n}")) for n in counts])
    for n, config in configs:
        t_setup, backend = timed(lambda: make_backend(config))
        with backend:
            workers = backend.status().workers
            n = n or workers
            warm = [(genomes[0], 1)] * 1
            for _ in range(workers):  # each worker imports torch once
                arena.run_pairs(warm, dataclasses.replace(task, step_cap=1), device="cpu", backend=backend)
            t, got = timed(lambda: arena.run_pairs(pairs, task, device="cpu", backend=backend))
        times[n] = t
        print(f"dask {config.cluster:<22} {workers} worker(s): {t:7.2f} s  (setup {t_setup:.1f} s; "
              f"{t_threads / t:.2f}x the threads backend; identical results: {same(got, ref)})")
    lo, hi = min(times), max(times)
    speedup = times[lo] / times[hi] if hi != lo else 1.0
    print(f"speed-up of {hi} worker(s) over {lo}: {speedup:.2f}x")

    # overhead: tiny one-step trials, one per batch, through one worker vs in this process
    tiny = dataclasses.replace(task, modulus=23, d_model=16, heads=2, d_ff=32, batch_size=64, step_cap=1,
                               eval_interval=1)
    tiny_pairs = [(genomes[i % len(genomes)], 5000 + i) for i in range(args.tiny)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    arena.run_pairs(tiny_pairs[:2], tiny, device="cpu")
    t_local, local = timed(lambda: [arena.run_pairs([p], tiny, device="cpu")[0] for p in tiny_pairs])
    torch.set_num_threads(threads)
    remote.BATCH_CAP["cpu"] = 1
    with make_backend(BackendConfig("dask", cluster="local:1")) as backend:
        arena.run_pairs(tiny_pairs[:2], tiny, device="cpu", backend=backend)
        t_dask, remote = timed(lambda: arena.run_pairs(tiny_pairs, tiny, device="cpu", backend=backend))
    overhead_ms = (t_dask - t_local) / len(tiny_pairs) * 1000
    print(f"overhead: {len(tiny_pairs)} one-step trials, one per batch: {t_local * 1000 / len(tiny_pairs):.1f} ms "
          f"each in this process, {t_dask * 1000 / len(tiny_pairs):.1f} ms each through one Dask worker: "
          f"{overhead_ms:.1f} ms per trial added (identical results: {same(remote, local)}); "
          f"one batch per worker spreads that over {len(pairs) // max(1, hi)} trials")
    print(f"RESULT workers={hi} speedup={speedup:.2f} overhead_ms_per_trial={overhead_ms:.1f}")


if __name__ == "__main__":
    main()
