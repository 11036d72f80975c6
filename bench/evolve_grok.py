"""Evolve grokking genomes on the default task, then stress the best one on held-out seeds next to
the founders, in one run.

    python bench/evolve_grok.py [--population 12] [--seeds 3] [--generations 6] [--landscape sniper]
                                [--selection tournament3] [--aliens 2] [--elites 2] [--run-seed 1]
                                [--finalists 6] [--validation 10] [--holdout 20] [--device auto]
                                [--registry PATH]

1. Evolution: the settings above (the budget), generation 1 seeded with the founders and topped up
   with random genomes; trial seeds are drawn by the run (all >= 1,000,000).
2. Finalists: the --finalists genomes of the run with the highest success rate over their trials
   in the run, ties broken by the lowest median steps_to_grok (the Sprinter order).
3. Validation: every finalist on --validation seeds 1000 .. 1000+V-1 (disjoint from the run's seeds
   and from the held-out ones), batched as one population. The evolved genome is the finalist with
   the highest success rate over its run and validation trials together, then the lowest median.
   A few trials per genome in the run are a noisy estimate; this step spends a small, fixed budget
   to confirm the best-looking genomes before the held-out seeds are touched.
4. Stress: the evolved genome and every founder on held-out seeds 100 .. 100+N-1, never used by the
   evolution, as one population. The best founder is the one with the lowest median on them.
The registry defaults to a fresh folder under bench/out/, so the user's registry is untouched.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from lab.arenas import get_arena  # noqa: E402
from lab.arenas.base import TrialFinished, device_label, resolve_device  # noqa: E402
from lab.evolution import landscapes  # noqa: E402
from lab.evolution.population import Evolution, GenerationStarted, GenerationSummary  # noqa: E402
from lab.evolution.settings import EvolutionSettings  # noqa: E402
from lab.registry import Registry, founders  # noqa: E402

HOLDOUT_START = 100
VALIDATION_START = 1000


def import_ancestors(reg: Registry, sources: list[str], k: int, min_trials: int, exclude: set[int]) -> list[str]:
    """Continue earlier evolution: rank every genome of the ``sources`` registries that has at least
    ``min_trials`` trials on the default task over the trials those runs recorded; take the best
    ``k - k // 3`` by success rate, then median steps_to_grok (the Sprinter order: the reliable ones),
    and the ``k // 3`` others with the lowest median (the fast ones, which fail a few seeds); copy them
    into ``reg``, tagged "ancestor". Trials on the ``exclude`` seeds (the held-out ones, which earlier
    runs used for their own final stress) are never looked at, so the held-out seeds stay unseen.
    Their old trials are not copied: everything the benchmark reports is run here."""
    import dataclasses

    task = get_arena("grokking").default_task()
    pooled: dict[str, dict[int, object]] = {}
    genomes = {}
    for path in sources:
        old = Registry(path)
        for t in old.trials():
            if t.task_id == task.task_id and t.seed not in exclude:
                pooled.setdefault(t.genome_id, {})[t.seed] = t
        for gid in pooled:
            if gid not in genomes and old.has_genome(gid):
                genomes[gid] = old.get_genome(gid)
    ranked = sorted((gid for gid, ts in pooled.items() if len(ts) >= min_trials and gid in genomes),
                    key=lambda gid: (landscapes.success_rate(list(pooled[gid].values())),
                                     landscapes.sprinter(list(pooled[gid].values()), task.step_cap)), reverse=True)
    reliable = ranked[:k - k // 3]
    fast = sorted((gid for gid in ranked if gid not in reliable),
                  key=lambda gid: -landscapes.sprinter(list(pooled[gid].values()), task.step_cap))[:k // 3]
    lines = [f"ancestors: {len(reliable)} reliable and {len(fast)} fast of {len(ranked)} genomes with >= "
             f"{min_trials} trials (held-out seeds left out) in {len(sources)} earlier registries"]
    chosen = []
    for gid in reliable + fast:
        g = genomes[gid]
        ts = list(pooled[gid].values())
        chosen.append(dataclasses.replace(g, tags=tuple(sorted({*g.tags, "ancestor"}))))
        lines.append(f"  {g.label:<28} {len(ts):>3} earlier trials, success {landscapes.success_rate(ts):>5.0%}, "
                     f"median {-landscapes.sprinter(ts, task.step_cap):>5.0f}")
    reg.add_genomes(chosen)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--population", type=int, default=12)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--generations", type=int, default=6)
    ap.add_argument("--landscape", default="sniper")
    ap.add_argument("--selection", default="tournament3")
    ap.add_argument("--aliens", type=int, default=2)
    ap.add_argument("--elites", type=int, default=2)
    ap.add_argument("--run-seed", type=int, default=1)
    ap.add_argument("--finalists", type=int, default=6)
    ap.add_argument("--validation", type=int, default=10)
    ap.add_argument("--holdout", type=int, default=20)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--registry", default=None)
    ap.add_argument("--continue-from", nargs="+", default=[], metavar="REGISTRY",
                    help="seed generation 1 with the best genomes of earlier runs' registries instead of the "
                         "founders (see --ancestors)")
    ap.add_argument("--ancestors", type=int, default=10, help="how many genomes --continue-from takes")
    ap.add_argument("--min-trials", type=int, default=8, help="--continue-from ranks genomes with this many "
                                                              "trials or more on the default task")
    args = ap.parse_args()
    device = resolve_device(args.device)
    root = Path(args.registry) if args.registry else \
        Path(__file__).resolve().parent / "out" / time.strftime("evolve-%Y%m%d-%H%M%S")
    reg = Registry(root)
    seed_from = ("founders",)
    if args.continue_from:
        seed_from = ("tag:ancestor",)
        held_out = set(range(HOLDOUT_START, HOLDOUT_START + args.holdout))
        for line in import_ancestors(reg, args.continue_from, args.ancestors, args.min_trials, held_out):
            print(line)
    settings = EvolutionSettings(population=args.population, seeds_per_genome=args.seeds,
                                 generations=args.generations, landscape=args.landscape,
                                 selection=args.selection, aliens=args.aliens, elites=args.elites,
                                 run_seed=args.run_seed, device=device, seed_from=seed_from)
    evo = Evolution(settings, reg)
    task = evo.task
    print(f"device {device_label(device)}; registry {root}; task {task.task_id}")
    print(f"budget: population {settings.population}, {settings.seeds_per_genome} seeds per genome, "
          f"{settings.generations} generations = {settings.population * settings.seeds_per_genome * settings.generations} "
          f"trials at most (cap {task.step_cap} steps); {settings.landscape}, {settings.selection}, aliens "
          f"{settings.aliens}, elites {settings.elites}, run seed {settings.run_seed}, seeded with "
          f"{'the best genomes of earlier runs' if args.continue_from else 'the founders'}")
    t0 = time.perf_counter()
    bar = None

    def on_event(e) -> None:
        nonlocal bar
        if isinstance(e, GenerationStarted):
            bar = tqdm(total=e.genomes * len(e.seeds), desc=f"gen {e.generation}", unit="trial", file=sys.stderr)
        elif isinstance(e, TrialFinished) and bar is not None:
            bar.update(1)
        elif isinstance(e, GenerationSummary):
            bar.close()
            r = e.record
            tqdm.write(f"gen {r['generation']}: best {r['best_fitness']:.0f} mean {r['mean_fitness']:.0f} "
                       f"success {r['success_rate']:.0%} diversity {r['diversity']:.3f} best {r['best_id']}")
    evo.run(on_event=on_event)
    evo_time = time.perf_counter() - t0

    # finalists: the Sprinter order (success rate first, then median) over their trials in the run
    seeds_used = {s for h in evo.history for s in h["seeds"]}
    ids = sorted({r["id"] for h in evo.history for r in h["genomes"]})
    trials = {gid: [t for t in reg.trials_for(gid, task.task_id) if t.seed in seeds_used] for gid in ids}

    def rank(ts):
        return landscapes.success_rate(ts), landscapes.sprinter(ts, task.step_cap)

    finalists = sorted(ids, key=lambda gid: rank(trials[gid]), reverse=True)[:args.finalists]
    print(f"evolution: {sum(len(v) for v in trials.values())} trials in {evo_time:.0f} s")
    validation = list(range(VALIDATION_START, VALIDATION_START + args.validation))
    genomes = [reg.get_genome(gid) for gid in finalists]
    t0 = time.perf_counter()
    bar = tqdm(total=len(genomes) * len(validation), desc="validation", unit="trial", file=sys.stderr)
    vres = get_arena("grokking").run_trials(genomes, validation, task, device=device, registry=reg,
                                            on_event=lambda e: bar.update(1) if isinstance(e, TrialFinished) else None)
    bar.close()
    print(f"validation: {len(vres)} trials on seeds {validation[0]}-{validation[-1]} in "
          f"{time.perf_counter() - t0:.0f} s")
    evidence = {}
    for i, g in enumerate(genomes):
        vs = vres[i * len(validation):(i + 1) * len(validation)]
        evidence[g.id] = trials[g.id] + vs
        print(f"  finalist {g.label:<28} run {len(trials[g.id])} trials {landscapes.success_rate(trials[g.id]):>5.0%} "
              f"median {-landscapes.sprinter(trials[g.id], task.step_cap):>5.0f} | validation "
              f"{landscapes.success_rate(vs):>5.0%} median {-landscapes.sprinter(vs, task.step_cap):>5.0f}")
    best_id = max(finalists, key=lambda gid: rank(evidence[gid]))
    evolved = reg.get_genome(best_id)
    print(f"evolved genome {evolved.label}: {len(evidence[best_id])} trials, success "
          f"{landscapes.success_rate(evidence[best_id]):.0%}, median "
          f"{-landscapes.sprinter(evidence[best_id], task.step_cap):.0f} steps")
    for key in evolved.spec.keys:
        print(f"  {key:<18} {evolved.genes[key]:g}")

    holdout = list(range(HOLDOUT_START, HOLDOUT_START + args.holdout))
    fs = founders("grokking")
    contenders = [evolved] + [f for f in fs if f.id != evolved.id]
    bar = tqdm(total=len(contenders) * len(holdout), desc="held-out stress", unit="trial", file=sys.stderr)
    t0 = time.perf_counter()
    results = get_arena("grokking").run_trials(contenders, holdout, task, device=device, registry=reg,
                                               on_event=lambda e: bar.update(1) if isinstance(e, TrialFinished) else None)
    bar.close()
    print(f"held-out stress: {len(results)} trials on seeds {holdout[0]}-{holdout[-1]} in {time.perf_counter() - t0:.0f} s")
    summary = {}
    for i, g in enumerate(contenders):
        rs = results[i * len(holdout):(i + 1) * len(holdout)]
        steps = landscapes.trial_steps(rs, task.step_cap)
        steps[[r.status not in landscapes.SUCCESS for r in rs]] = np.inf
        summary[g.id] = (float(np.median(steps)), landscapes.success_rate(rs))
        name = "EVOLVED " + g.label if i == 0 else g.name
        print(f"  {name:<32} success {summary[g.id][1]:>5.0%}  median steps_to_grok {summary[g.id][0]:>6.0f}")
    best_founder = min((f for f in contenders[1:]), key=lambda f: (summary[f.id][0], -summary[f.id][1]))
    ev_med, ev_ok = summary[evolved.id]
    f_med = summary[best_founder.id][0]
    print(f"best founder on the held-out seeds: {best_founder.name}")
    print(f"RESULT evolved_median_steps={ev_med:.0f} founder_median_steps={f_med:.0f} "
          f"speedup={f_med / ev_med:.2f} evolved_success={ev_ok:.2f}")


if __name__ == "__main__":
    main()
