"""Evolve grokking genomes on the default task from the founders, then stress the evolved genome on
held-out seeds next to every founder, in one run.

    python bench/evolve_grok.py [--run-seed 1] [--holdout-seeds 100-119] [--validation-seeds 1000-1009]
                                [--finalists 6] [--device auto] [--registry PATH] [evolution options]

The evolution options (--population, --seeds, --generations, --landscape, --selection, --aliens,
--elites, --crossover-rate, --radiation-rate, --mutation-rate, --mutation-sigma, --racing-factor,
--racing-floor, --no-racing) default to the Evolution Lab's own defaults (EvolutionSettings), so this
measures exactly what a new user's run does.

1. Evolution: generation 1 seeded with the founders and topped up with random genomes; trial seeds
   are drawn by the run (all >= 1,000,000), with racing as the settings say.
2. Finalists: the --finalists genomes with the highest success rate over all their trials in the
   run (a trial racing stopped counts as not grokked), ties broken by the Sniper score
   (-(mean + std) of steps_to_grok).
3. Validation: every finalist on the --validation-seeds, run to the cap. The evolved genome is the
   finalist with the highest success rate over its run and validation trials together, then the
   best Sniper score over them.
4. Stress on the --holdout-seeds, which the evolution and the finalist choice never see: the evolved
   genome, run to the cap, then the founders as one raced population: they stop at the step S where
   the first founder has grokked on a majority of the seeds (factor 1, no floor). A founder with
   fewer than half its seeds grokked by S has a median above S, so above the leader's; every other
   founder (the leader among them) is then run to the cap. So the best founder's median and success
   are exact, and the others are reported as "median above". The best founder is the one with the
   lowest median.
The registry defaults to a fresh folder under bench/out/, so the user's registry is untouched.
Ends with ``RESULT evolved_median_steps=... founder_median_steps=... speedup=... evolved_success=...
minutes=...`` (minutes: the whole script, evolution to held-out stress).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from lab.arenas import get_arena  # noqa: E402
from lab.arenas.base import TrialFinished, TrialResult, device_label, resolve_device  # noqa: E402
from lab.arenas.racing import CENSORED, Race, RacingRule  # noqa: E402
from lab.evolution import landscapes  # noqa: E402
from lab.evolution.population import SEED_LOW, Evolution, GenerationStarted, GenerationSummary  # noqa: E402
from lab.evolution.settings import EvolutionSettings  # noqa: E402
from lab.registry import Registry, founders  # noqa: E402

# the founders' held-out race: stop at the leading founder's upper median (see step 4 of the docstring)
FOUNDER_RACE = RacingRule(factor=1.0, floor=0, leader="majority")


def seed_range(text: str) -> list[int]:
    """"100-119" -> 100..119 (a single number is one seed)."""
    try:
        lo, _, hi = text.partition("-")
        lo, hi = int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed range such as 100-119") from None
    if lo < 0 or hi < lo:
        raise argparse.ArgumentTypeError(f"{text!r}: give A-B with 0 <= A <= B")
    if hi >= SEED_LOW:
        raise argparse.ArgumentTypeError(f"{text!r}: seeds at or above {SEED_LOW:,} are the evolution's own")
    return list(range(lo, hi + 1))


def import_ancestors(reg: Registry, sources: list[str], k: int, min_trials: int, exclude: set[int]) -> list[str]:
    """Continue earlier evolution: rank every genome of the ``sources`` registries that has at least
    ``min_trials`` trials on the default task over the trials those runs recorded; take the best
    ``k - k // 3`` by success rate, then median steps_to_grok (the reliable ones), and the ``k // 3``
    others with the lowest median (the fast ones); copy them into ``reg``, tagged "ancestor". Trials on
    the ``exclude`` seeds (the held-out ones) are never looked at. Old trials are not copied."""
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
        chosen.append(dataclasses.replace(g, tags=tuple(sorted({*g.tags, "ancestor"}))))
        ts = list(pooled[gid].values())
        lines.append(f"  {g.label:<28} {len(ts):>3} earlier trials, success {landscapes.success_rate(ts):>5.0%}, "
                     f"median {-landscapes.sprinter(ts, task.step_cap):>5.0f}")
    reg.add_genomes(chosen)
    return lines


def run_trials(arena, genomes, seeds, task, device, reg, desc, race=None) -> list[TrialResult]:
    bar = tqdm(total=len(genomes) * len(seeds), desc=desc, unit="trial", file=sys.stderr)
    extra = {"race": race} if race is not None else {}
    out = arena.run_trials(genomes, seeds, task, device=device, registry=reg,
                           on_event=lambda e: bar.update(1) if isinstance(e, TrialFinished) else None, **extra)
    bar.close()
    return race.finalize(out) if race is not None else out


def run_evidence(reg: Registry, evo: Evolution) -> dict[str, list[TrialResult]]:
    """Every trial each genome of the run ran in it: the finished ones, and those racing stopped
    (not grokked), one per seed."""
    seeds_of: dict[str, set[int]] = {}
    for h in evo.history:
        for row in h["genomes"]:
            seeds_of.setdefault(row["id"], set()).update(h["seeds"])
    task_id = evo.task.task_id
    out: dict[str, list[TrialResult]] = {}
    stopped = {(t.genome_id, t.seed): t for t in reg.censored_trials() if t.task_id == task_id}
    for gid, seeds in seeds_of.items():
        full = {t.seed: t for t in reg.trials_for(gid, task_id) if t.seed in seeds}
        out[gid] = [full.get(s) or stopped[(gid, s)] for s in sorted(seeds) if s in full or (gid, s) in stopped]
    return out


def median_steps(trials: Sequence[TrialResult], cap: int) -> float:
    """Median steps_to_grok, a trial that did not grok counting as infinitely slow."""
    steps = landscapes.trial_steps(trials, cap)
    steps[[t.status not in landscapes.SUCCESS for t in trials]] = np.inf
    return float(np.median(steps)) if len(steps) else float("inf")


def rank_key(trials: Sequence[TrialResult], cap: int) -> tuple[float, float]:
    """Higher is better: success rate, then the Sniper score (-(mean + std) of steps_to_grok, a trial
    that did not grok counting 2 x cap): among genomes that grokked every seed, the fast and steady
    one, since a wide spread over a few seeds is what turns into a failed seed among twenty."""
    return landscapes.success_rate(trials), landscapes.sniper(trials, cap)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    d = EvolutionSettings()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--population", type=int, default=d.population)
    ap.add_argument("--seeds", type=int, default=d.seeds_per_genome)
    ap.add_argument("--generations", type=int, default=d.generations)
    ap.add_argument("--landscape", default=d.landscape)
    ap.add_argument("--selection", default=d.selection)
    ap.add_argument("--aliens", type=int, default=d.aliens)
    ap.add_argument("--elites", type=int, default=d.elites)
    ap.add_argument("--crossover-rate", type=float, default=d.crossover_rate)
    ap.add_argument("--radiation-rate", type=float, default=d.radiation_rate)
    ap.add_argument("--mutation-rate", type=float, default=d.mutation_rate)
    ap.add_argument("--mutation-sigma", type=float, default=d.mutation_sigma)
    ap.add_argument("--no-racing", dest="racing", action="store_false", help="train every trial to the cap")
    ap.add_argument("--racing-factor", type=float, default=d.racing_factor)
    ap.add_argument("--racing-floor", type=int, default=d.racing_floor)
    ap.add_argument("--run-seed", type=int, default=1)
    ap.add_argument("--finalists", type=int, default=6)
    ap.add_argument("--validation-seeds", type=seed_range, default=seed_range("1000-1009"), metavar="A-B")
    ap.add_argument("--holdout-seeds", type=seed_range, default=seed_range("100-119"), metavar="A-B")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--registry", default=None)
    ap.add_argument("--continue-from", nargs="+", default=[], metavar="REGISTRY",
                    help="(a continuation experiment, not the default) seed generation 1 with the best genomes "
                         "of earlier runs' registries instead of the founders")
    ap.add_argument("--ancestors", type=int, default=10, help="how many genomes --continue-from takes")
    ap.add_argument("--min-trials", type=int, default=8, help="--continue-from ranks genomes with this many "
                                                              "trials or more on the default task")
    args = ap.parse_args(argv)
    if set(args.validation_seeds) & set(args.holdout_seeds):
        ap.error("--validation-seeds and --holdout-seeds overlap")
    return args


def main(argv: Sequence[str] | None = None, arena=None) -> dict[str, float]:
    args = parse_args(argv)
    started = time.perf_counter()
    arena = arena or get_arena("grokking")
    device = resolve_device(args.device)
    root = Path(args.registry) if args.registry else \
        Path(__file__).resolve().parent / "out" / time.strftime("evolve-%Y%m%d-%H%M%S")
    reg = Registry(root)
    seed_from = ("founders",)
    if args.continue_from:
        seed_from = ("tag:ancestor",)
        for line in import_ancestors(reg, args.continue_from, args.ancestors, args.min_trials, set(args.holdout_seeds)):
            print(line)
    settings = EvolutionSettings(population=args.population, seeds_per_genome=args.seeds,
                                 generations=args.generations, landscape=args.landscape,
                                 selection=args.selection, aliens=args.aliens, elites=args.elites,
                                 crossover_rate=args.crossover_rate, radiation_rate=args.radiation_rate,
                                 mutation_rate=args.mutation_rate, mutation_sigma=args.mutation_sigma,
                                 racing=args.racing, racing_factor=args.racing_factor,
                                 racing_floor=args.racing_floor, run_seed=args.run_seed, device=device,
                                 seed_from=seed_from)
    evo = Evolution(settings, reg, arena=arena)
    task, cap = evo.task, evo.task.step_cap
    print(f"device {device_label(device)}; registry {root}; task {task.task_id}")
    print(f"budget: population {settings.population}, {settings.seeds_per_genome} seeds per genome, "
          f"{settings.generations} generations (cap {cap} steps); {settings.landscape}, {settings.selection}, "
          f"aliens {settings.aliens}, elites {settings.elites}, mutation {settings.mutation_rate:g} x "
          f"sigma {settings.mutation_sigma:g}, racing "
          f"{settings.racing_rule().describe() if settings.racing else 'off'}; run seed {settings.run_seed}, "
          f"seeded with {'the best genomes of earlier runs (a continuation)' if args.continue_from else 'the founders'}")
    bar = None
    raced = {"member_steps": 0, "not_trained": 0, "censored": 0}
    gen_started = time.perf_counter()

    def on_event(e) -> None:
        nonlocal bar, gen_started
        if isinstance(e, GenerationStarted):
            gen_started = time.perf_counter()
            bar = tqdm(total=e.genomes * len(e.seeds), desc=f"gen {e.generation}", unit="trial", file=sys.stderr)
        elif isinstance(e, TrialFinished) and bar is not None:
            bar.update(1)
        elif isinstance(e, GenerationSummary):
            bar.close()
            r, race = e.record, e.record.get("race") or {}
            best = next(x for x in r["genomes"] if x["id"] == r["best_id"])
            raced["member_steps"] += race.get("member_steps", 0)
            raced["not_trained"] += race.get("member_steps_not_trained", 0)
            raced["censored"] += race.get("censored", 0)
            stop = race.get("stop_step")
            tqdm.write(f"gen {r['generation']}: best {best['median_steps']:.0f} steps median "
                       f"({best['success']:.0%} of {len(r['seeds'])}) success {r['success_rate']:.0%} diversity "
                       f"{r['diversity']:.3f} best {r['best_id']}; racing stopped {race.get('censored', 0)} trial(s)"
                       f"{f' at step {stop}' if stop and race.get('censored') else ''}; "
                       f"{race.get('member_steps', 0):,} member-steps in {time.perf_counter() - gen_started:.0f} s")
    t0 = time.perf_counter()
    evo.run(on_event=on_event)
    evo_time = time.perf_counter() - t0
    evidence = run_evidence(reg, evo)
    print(f"evolution: {sum(len(v) for v in evidence.values())} trials in {evo_time:.0f} s; "
          f"{raced['member_steps']:,} member-steps trained")
    if settings.racing:
        total = raced["member_steps"] + raced["not_trained"]
        print(f"racing: {raced['censored']} trial(s) stopped; they did not train {raced['not_trained']:,} "
              f"member-steps they would have at most (to the cap): up to {raced['not_trained'] / max(total, 1):.0%} "
              f"of the evolution's compute saved")

    finalists = sorted(evidence, key=lambda gid: rank_key(evidence[gid], cap), reverse=True)[:args.finalists]
    genomes = [reg.get_genome(gid) for gid in finalists]
    t0 = time.perf_counter()
    vres = run_trials(arena, genomes, args.validation_seeds, task, device, reg, "validation")
    print(f"validation: {len(vres)} trials on seeds {args.validation_seeds[0]}-{args.validation_seeds[-1]} in "
          f"{time.perf_counter() - t0:.0f} s")
    pooled = {}
    nv = len(args.validation_seeds)
    for i, g in enumerate(genomes):
        vs = vres[i * nv:(i + 1) * nv]
        pooled[g.id] = evidence[g.id] + vs
        print(f"  finalist {g.label:<28} run {len(evidence[g.id])} trials {landscapes.success_rate(evidence[g.id]):>5.0%} "
              f"median {median_steps(evidence[g.id], cap):>5.0f} | validation "
              f"{landscapes.success_rate(vs):>5.0%} median {median_steps(vs, cap):>5.0f}")
    best_id = max(finalists, key=lambda gid: rank_key(pooled[gid], cap))
    evolved = reg.get_genome(best_id)
    print(f"evolved genome {evolved.label}: {len(pooled[best_id])} trials, success "
          f"{landscapes.success_rate(pooled[best_id]):.0%}, median {median_steps(pooled[best_id], cap):.0f} steps")
    for key in evolved.spec.keys:
        print(f"  {key:<18} {evolved.genes[key]:g}")

    holdout = args.holdout_seeds
    t0 = time.perf_counter()
    ev_res = run_trials(arena, [evolved], holdout, task, device, reg, "held-out: evolved")
    fs = [f for f in founders("grokking") if f.id != evolved.id]
    race = Race.for_pairs(FOUNDER_RACE, [(f, s) for f in fs for s in holdout], cap, task.eval_interval)
    f_res = run_trials(arena, fs, holdout, task, device, reg, "held-out: founders", race=race)
    n = len(holdout)
    undecided = [f for i, f in enumerate(fs)
                 if any(r.status == CENSORED for r in f_res[i * n:(i + 1) * n])
                 and sum(r.status in landscapes.SUCCESS for r in f_res[i * n:(i + 1) * n]) >= n // 2]
    if undecided:   # their medians could be at or below the leader's: finish their stopped trials
        done = run_trials(arena, undecided, holdout, task, device, reg, "held-out: founders to the cap")
        full = {(r.genome_id, r.seed): r for r in done}
        f_res = [full.get((r.genome_id, r.seed), r) for r in f_res]
    print(f"held-out stress: {len(ev_res) + len(f_res)} trials on seeds {holdout[0]}-{holdout[-1]} in "
          f"{time.perf_counter() - t0:.0f} s")
    ev_med, ev_ok = median_steps(ev_res, cap), landscapes.success_rate(ev_res)
    print(f"  {'EVOLVED ' + evolved.label:<32} success {ev_ok:>5.0%}  median steps_to_grok {ev_med:>6.0f}")
    summary = {}
    for i, f in enumerate(fs):
        rs = f_res[i * len(holdout):(i + 1) * len(holdout)]
        stopped = [r for r in rs if r.status == CENSORED]
        summary[f.id] = (median_steps(rs, cap) if not stopped else float("inf"), landscapes.success_rate(rs))
        if stopped:
            print(f"  {f.name:<32} stopped at step {stopped[0].metrics['censored_at']} with "
                  f"{sum(r.status in landscapes.SUCCESS for r in rs)} of {len(rs)} grokked: median above "
                  f"the best founder's")
        else:
            print(f"  {f.name:<32} success {summary[f.id][1]:>5.0%}  median steps_to_grok {summary[f.id][0]:>6.0f}")
    best_founder = min(fs, key=lambda f: (summary[f.id][0], -summary[f.id][1]))
    f_med = summary[best_founder.id][0]
    minutes = (time.perf_counter() - started) / 60
    print(f"best founder on the held-out seeds: {best_founder.name}")
    result = {"evolved_median_steps": ev_med, "founder_median_steps": f_med, "speedup": f_med / ev_med,
              "evolved_success": ev_ok, "minutes": minutes}
    print(f"RESULT evolved_median_steps={ev_med:.0f} founder_median_steps={f_med:.0f} "
          f"speedup={f_med / ev_med:.2f} evolved_success={ev_ok:.2f} minutes={minutes:.1f}")
    return result


if __name__ == "__main__":
    main()
