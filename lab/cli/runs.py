"""Commands that run experiments: ``trials run|show`` (genome x seed experiments, recorded once) and
``evolve`` (the Evolution Lab, headless)."""
from __future__ import annotations

import argparse
import sys

from lab.cli.common import (add_backend_options, add_task_options, apply_task_options, load_ref, open_backend,
                             open_registry, parse_seeds)
from lab.genome import Genome


def cmd_trials_run(args: argparse.Namespace) -> int:
    from lab.arenas import get_arena
    from lab.arenas.base import device_label
    from lab.progress import TqdmWork
    from lab.trials import check_spec, run_trials

    reg = open_registry(args)
    genomes = [load_ref(ref, args) for ref in args.refs]
    arena = get_arena(args.arena)
    task = apply_task_options(arena.default_task(), args)
    seeds = parse_seeds(args.seeds)
    device = arena.resolve_device(args.device)
    check_spec(arena, [(g, 0) for g in genomes])   # before anything is written or shown
    todo = sum(len(reg.missing_seeds(g.id, task.task_id, seeds)) for g in genomes)
    if todo:
        from lab.tasks import remember
        remember(reg, task)  # so the views can name the task these trials are on
    print(f"{len(genomes)} genome(s) x {len(seeds)} seed(s) on task {task.task_id} ({device_label(device)}): "
          f"{len(genomes) * len(seeds) - todo} already recorded, {todo} to run")
    bar = TqdmWork(task, todo)   # work units (member-steps, passes, generations), trials beside them
    on_event = bar.update
    with open_backend(args) as backend:
        results = run_trials(arena, genomes, seeds, task, device=device, on_event=on_event, registry=reg,
                             backend=backend)
    bar.close()
    for g in genomes:
        _print_trials(g, [r for r in results if r.genome_id == g.id])
    return 0


def cmd_trials_show(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    for ref in args.refs:
        g = load_ref(ref, args)
        _print_trials(g, reg.trials_for(g.id))
    return 0


def _print_trials(g: Genome, results: list) -> None:
    from lab.evolution.landscapes import SUCCESS

    won = [r for r in results if r.status in SUCCESS]
    steps = sorted(r.metrics["steps_to_grok"] for r in won if r.metrics.get("steps_to_grok") is not None)
    word = "grokked" if g.spec.name == "grokking" else "reached the target"
    ok = f"median steps_to_grok {steps[len(steps) // 2]}" if steps else f"none {word}"
    print(f"{g.label}: {len(results)} trial(s), {len(won)} {word}, {ok}")
    for r in sorted(results, key=lambda r: (r.task_id, r.seed)):
        m = r.metrics
        if "test_acc" in m:  # a model-merging or weight-evolution arena: passes and test accuracy
            print(f"  task {r.task_id} seed {r.seed:<5} {r.status:<9} passes {m.get('passes')!s:<6} "
                  f"to target {m.get('steps_to_grok')!s:<6} test_acc {m['test_acc']:.3f}")
            continue
        acc = m.get("final_val_acc")
        print(f"  task {r.task_id} seed {r.seed:<5} {r.status:<9} steps {m.get('steps')!s:<5} "
              f"steps_to_grok {m.get('steps_to_grok')!s:<5} val_acc {acc if acc is None else f'{acc:.3f}'}")


# ---- evolution ----------------------------------------------------------------------------------
def cmd_evolve(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    with open_backend(args) as backend:
        return _evolve(args, reg, backend)


def _evolve(args: argparse.Namespace, reg, backend) -> int:
    from tqdm import tqdm

    from lab.evolution.population import Evolution, GenerationStarted, GenerationSummary, RunInterrupted
    from lab.evolution.settings import EvolutionSettings
    from lab.progress import TqdmWork

    if args.resume:
        evo = Evolution.resume(reg, args.resume, backend=backend)
        print(f"resuming run {evo.run_id} after generation {evo.generation} of {evo.settings.generations}")
    else:
        from lab.arenas import get_arena
        cap = get_arena(args.arena).default_task().CAP_FIELD
        task = ((cap, args.step_cap),) if args.step_cap is not None else ()
        if args.precision is not None:
            apply_task_options(get_arena(args.arena).default_task(), args)   # refuses an arena without it
            task += (("precision", args.precision),)
        seed_from = tuple(x.strip() for item in args.seed_from for x in item.split(",") if x.strip()) \
            or EvolutionSettings().seed_from
        settings = EvolutionSettings(
            arena=args.arena, population=args.population, seeds_per_genome=args.seeds,
            generations=args.generations, landscape=args.landscape, selection=args.selection,
            crossover_rate=args.crossover_rate, radiation_rate=args.radiation_rate,
            mutation_rate=args.mutation_rate, mutation_sigma=args.mutation_sigma, aliens=args.aliens,
            elites=args.elites, hof_strictness=args.hof_strictness, seed_from=seed_from,
            racing=args.racing, racing_factor=args.racing_factor, racing_floor=args.racing_floor,
            run_seed=args.run_seed, device=args.device, task=task)
        evo = Evolution(settings, reg, run_id=args.run_id, backend=backend)
        print(f"run {evo.run_id}: {settings.population} genomes x {settings.seeds_per_genome} seeds, "
              f"{settings.generations} generations, {settings.landscape}, {settings.selection}; "
              f"task {evo.task.task_id}; checkpoints in {evo.dir}")
    s = evo.settings
    if not s.racing:
        print("racing: off (every trial trains to the cap)")
    elif getattr(evo.arena, "supports_racing", False):
        print(f"racing: on, {s.racing_rule().describe()}; stopped trials are 'censored', not failed")
    else:
        print(f"racing: the {s.arena} arena cannot stop a trial mid-way; every trial runs to its budget")
    print(f"{'gen':>4} {'best':>10} {'mean':>10} {'median':>10} {'success':>8} {'divers.':>8}  best genome"
          f"{'':<8} {'hof+':>4} {'died':>4} {'stopped':>7}")
    bar = None

    def on_event(event) -> None:
        nonlocal bar
        if isinstance(event, GenerationStarted):
            bar = TqdmWork(evo.task, event.genomes * len(event.seeds), desc=f"generation {event.generation}",
                           leave=False)
        elif isinstance(event, GenerationSummary):
            if bar is not None:
                bar.close()
                bar = None
            r = event.record
            best = next(x for x in r["genomes"] if x["id"] == r["best_id"])
            tqdm.write(f"{r['generation']:>4} {r['best_fitness']:>10.1f} {r['mean_fitness']:>10.1f} "
                       f"{r['median_fitness']:>10.1f} {r['success_rate']:>8.0%} {r['diversity']:>8.3f}  "
                       f"{r['best_id']} (median {best['median_steps']:.0f}) {len(r['hall_of_fame_added']):>4} "
                       f"{len(r.get('died', [])):>4} {_stopped(r):>7}")
        elif bar is not None:
            bar.update(event)   # the generation's work, so the bar moves while its population trains
    try:
        evo.run(on_event=on_event)
    except (KeyboardInterrupt, RunInterrupted):
        if bar is not None:
            bar.close()
        print(f"\nstopped: generation {evo.generation} is checkpointed; continue with\n"
              f"  python main.py evolve --resume {evo.run_id}" + (f" --registry {args.registry}" if args.registry else ""),
              file=sys.stderr)
        return 130
    best = evo.history[-1]["best_id"] if evo.history else None
    print(f"done: run {evo.run_id}, best genome of the last generation {best}; "
          f"Hall of Fame: {len(reg.hall_of_fame())} genome(s)")
    return 0


def _stopped(record) -> str:
    """The 'stopped' column of ``evolve``: trials racing censored in a generation, and where."""
    race = record.get("race")
    if not race:
        return "-"
    return f"{race['censored']}@{race['stop_step']}" if race.get("censored") else "0"


def add_parsers(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``trials`` and ``evolve`` subcommands to the main parser."""
    trials = top.add_parser("trials", help="run and show trials (genome x seed experiments)")
    tsub = trials.add_subparsers(dest="action", metavar="ACTION", required=True)
    from lab.arenas import arena_names
    p = tsub.add_parser("run", parents=[common], help="run the trials not yet recorded, record them")
    p.add_argument("refs", nargs="+", metavar="GENOME", help="genome file, id or id prefix")
    p.add_argument("--arena", choices=arena_names(), default="grokking")
    p.add_argument("--seeds", default="5", help="a count (5 = seeds 0-4), a range (10-14) or a list (1,3,7)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    add_task_options(p)
    add_backend_options(p)
    p.set_defaults(func=cmd_trials_run)
    p = tsub.add_parser("show", parents=[common], help="recorded trials of genomes")
    p.add_argument("refs", nargs="+", metavar="GENOME")
    p.set_defaults(func=cmd_trials_show)

    from lab.evolution.landscapes import LANDSCAPE_HELP
    from lab.evolution.settings import SEED_SOURCES, SELECTIONS, EvolutionSettings
    d = EvolutionSettings()
    p = top.add_parser("evolve", parents=[common], help="evolve genomes (Evolution Lab, headless)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="landscapes:\n" + "\n".join(f"  {k:<9} {v}" for k, v in LANDSCAPE_HELP.items())
                       + "\nselections:\n" + "\n".join(f"  {k:<12} {v}" for k, v in SELECTIONS.items()))
    p.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted run (other settings ignored)")
    p.add_argument("--arena", choices=arena_names(), default=d.arena)
    p.add_argument("--population", type=int, default=d.population)
    p.add_argument("--seeds", type=int, default=d.seeds_per_genome, help="seeds per genome per generation")
    p.add_argument("--generations", type=int, default=d.generations)
    p.add_argument("--landscape", choices=list(LANDSCAPE_HELP), default=d.landscape)
    p.add_argument("--selection", choices=list(SELECTIONS), default=d.selection)
    p.add_argument("--crossover-rate", type=float, default=d.crossover_rate)
    p.add_argument("--radiation-rate", type=float, default=d.radiation_rate, help="share of offspring mutated")
    p.add_argument("--mutation-rate", type=float, default=d.mutation_rate, help="per-gene probability")
    p.add_argument("--mutation-sigma", type=float, default=d.mutation_sigma)
    p.add_argument("--aliens", type=int, default=d.aliens)
    p.add_argument("--elites", type=int, default=d.elites)
    p.add_argument("--hof-strictness", type=float, default=d.hof_strictness)
    p.add_argument("--seed-from", action="append", default=[], metavar="SOURCE",
                   help=f"ancestral seeding for generation 1 (repeatable): {SEED_SOURCES} "
                        f"(default: {', '.join(d.seed_from)})")
    p.add_argument("--no-racing", dest="racing", action="store_false",
                   help="train every trial to the cap (default: racing on)")
    p.add_argument("--racing-factor", type=float, default=d.racing_factor, metavar="K",
                   help=f"racing stops trials at S = max(floor, K x the best median so far) (default {d.racing_factor:g})")
    p.add_argument("--racing-floor", type=int, default=d.racing_floor, metavar="STEPS",
                   help=f"racing never stops a trial before this step (default {d.racing_floor})")
    p.add_argument("--device", default=d.device)
    p.add_argument("--run-seed", type=int, default=d.run_seed)
    p.add_argument("--run-id", default=None, help="name the run (default: arena-date-time-seed)")
    add_task_options(p, "override the task's step cap")
    add_backend_options(p)
    p.set_defaults(func=cmd_evolve)
