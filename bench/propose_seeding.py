"""Does seeding an evolution with the Insights' proposals help? Same budget with and without, judged on
held-out seeds, in one run.

    python bench/propose_seeding.py [--prior-run-seed 101] [--prior-generations 5] [--run-seeds 201-202]
                                    [--generations 3] [--proposals 6] [--holdout-seeds 100-109]
                                    [--registry PATH] [--device auto]

1. Prior data: an Evolution Lab run from the founders (the lab's default settings, --prior-run-seed,
   --prior-generations): the registry a researcher has after a first run.
2. Three arms per run seed, all created before any of them runs (so each sees only the prior data):
   - founders: generation 1 = the founders topped up with random genomes (the default);
   - proposed: the founders + ``proposed:N`` (the random forest's N best-predicted new genomes);
   - best-seen: the founders + the N best genomes already in the registry (success rate, then
     the Kaplan-Meier median, among genomes with 3+ finished trials): what a researcher would do
     without a model.
   Same population, seeds per genome, generations, racing and run seed: the same trial budget; the
   member-steps each arm trained are printed beside it.
3. Each arm's result is its best genome over the run's own trials (success rate, then the Sniper score,
   as bench/evolve_grok.py ranks finalists), run to the cap on --holdout-seeds, which no run and no
   model ever saw (seeds below 1,000,000; the runs draw theirs above).
The registry defaults to a fresh folder under bench/out/. Ends with
``RESULT proposed_median=... founders_median=... best_seen_median=... proposed_success=... founders_success=...
best_seen_success=... run_seeds=... minutes=...`` (medians: the mean over run seeds of each arm's held-out
median steps to grok; success: pooled over run seeds).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from evolve_grok import median_steps, rank_key, run_evidence, run_trials, seed_range  # noqa: E402

from lab.analysis.insights import Filters, insight_data  # noqa: E402
from lab.arenas import get_arena  # noqa: E402
from lab.arenas.base import device_label, resolve_device  # noqa: E402
from lab.evolution import landscapes  # noqa: E402
from lab.evolution.population import Evolution  # noqa: E402
from lab.evolution.settings import EvolutionSettings  # noqa: E402
from lab.registry import Registry  # noqa: E402

ARMS = ("founders", "proposed", "best-seen")


def evolution(reg: Registry, run_id: str, settings: EvolutionSettings, arena) -> Evolution:
    """The run ``run_id``: resumed where it exists (a rerun of this script continues), else created."""
    if reg.run_dir(run_id).exists():
        return Evolution.resume(reg, run_id, arena=arena)
    return Evolution(settings, reg, arena=arena, run_id=run_id)


def run_to_end(evo: Evolution, label: str) -> float:
    t0 = time.perf_counter()
    while not evo.done:
        r = evo.step()
        best = next(x for x in r["genomes"] if x["id"] == r["best_id"])
        print(f"  {label} gen {r['generation']}: best median {best['median_steps']:.0f} ({best['success']:.0%}), "
              f"success {r['success_rate']:.0%}, {(r.get('race') or {}).get('member_steps', 0):,} member-steps",
              flush=True)
    return time.perf_counter() - t0


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prior-run-seed", type=int, default=101)
    ap.add_argument("--prior-generations", type=int, default=5)
    ap.add_argument("--run-seeds", type=seed_range, default=seed_range("201-202"), metavar="A-B")
    ap.add_argument("--generations", type=int, default=3)
    ap.add_argument("--proposals", type=int, default=6)
    ap.add_argument("--holdout-seeds", type=seed_range, default=seed_range("100-109"), metavar="A-B")
    ap.add_argument("--registry", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--step-cap", type=int, default=None, help="another task's step cap (for a quick check of "
                                                                 "the script; the figures use the default task)")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    arena = get_arena("grokking")
    device = resolve_device(args.device)
    root = Path(args.registry) if args.registry else \
        Path(__file__).resolve().parent / "out" / time.strftime("propose-%Y%m%d-%H%M%S")
    reg = Registry(root)
    base = EvolutionSettings(device=device, task=(("step_cap", args.step_cap),) if args.step_cap else ())
    print(f"device {device_label(device)}; registry {root}")

    prior = evolution(reg, f"prior-s{args.prior_run_seed}",
                      EvolutionSettings.from_dict({**base.to_dict(), "run_seed": args.prior_run_seed,
                                                  "generations": args.prior_generations}), arena)
    print(f"prior data: run {prior.run_id}, {args.prior_generations} generations from the founders")
    run_to_end(prior, "prior")
    task, cap = prior.task, prior.task.step_cap
    data = insight_data(reg, arena.gene_spec, task, Filters(min_trials=3))
    print(f"prior registry: {len(data.frame)} genomes with 3+ trials (finished or stopped) on task {task.task_id}")
    best_seen = [reg.get_genome(gid) for gid in data.genome_ids()[:args.proposals]]
    reg.add_genomes([g.replace(tags=tuple(sorted({*g.tags, "best-seen"}))) for g in best_seen])
    for g in best_seen:
        row = data.frame.set_index("genome_id").loc[g.id]
        print(f"  best seen {g.label:<26} {row['trials']} trials, success {row['success']:.0%}, "
              f"median {row['median_steps']:.0f}")

    sources = {"founders": ("founders",), "proposed": ("founders", f"proposed:{args.proposals}"),
               "best-seen": ("founders", "tag:best-seen")}
    runs = {}
    for s in args.run_seeds:   # every arm made (its generation 1 chosen) before any arm runs
        for arm in ARMS:
            settings = EvolutionSettings.from_dict({**base.to_dict(), "seed_from": list(sources[arm]),
                                                    "run_seed": s, "generations": args.generations})
            runs[(s, arm)] = evolution(reg, f"{arm}-s{s}", settings, arena)
    for g in runs[(args.run_seeds[0], "proposed")].population:
        if g.origin == "proposed":
            print(f"  proposal {g.label:<26} {g.notes}")

    results: dict[str, list[tuple[float, float]]] = {arm: [] for arm in ARMS}
    for (s, arm), evo in runs.items():
        print(f"run seed {s}, arm {arm}:")
        seconds = run_to_end(evo, arm)
        trained = sum((r.get("race") or {}).get("member_steps", 0) for r in evo.history)
        evidence = run_evidence(reg, evo)
        best_id = max(evidence, key=lambda gid: rank_key(evidence[gid], cap))
        genome = reg.get_genome(best_id)
        held = run_trials(arena, [genome], args.holdout_seeds, task, device, reg, f"held-out {arm} s{s}")
        med, ok = median_steps(held, cap), landscapes.success_rate(held)
        results[arm].append((med, ok))
        print(f"  {arm} s{s}: {trained:,} member-steps in {seconds:.0f} s; result {genome.label} "
              f"(origin {genome.origin}), run trials {landscapes.success_rate(evidence[best_id]):.0%} of "
              f"{len(evidence[best_id])}; held-out {ok:.0%} success, median {med:.0f}", flush=True)

    print("held-out seeds", f"{args.holdout_seeds[0]}-{args.holdout_seeds[-1]}:")
    out = {}
    for arm in ARMS:
        meds = [m for m, _ in results[arm]]
        oks = [o for _, o in results[arm]]
        print(f"  {arm:<10} medians {', '.join(f'{m:.0f}' for m in meds)}; success {', '.join(f'{o:.0%}' for o in oks)}")
        key = arm.replace("-", "_")
        out[f"{key}_median"] = float(np.mean(meds))
        out[f"{key}_success"] = float(np.mean(oks))
    minutes = (time.perf_counter() - started) / 60
    print("RESULT " + " ".join(f"{k}={v:.0f}" if k.endswith("median") else f"{k}={v:.2f}" for k, v in out.items())
          + f" run_seeds={args.run_seeds[0]}-{args.run_seeds[-1]} minutes={minutes:.1f}")
    return out


if __name__ == "__main__":
    main()
