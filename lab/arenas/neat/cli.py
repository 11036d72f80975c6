"""``python main.py neat ...``: one NEAT run from the command line with a progress bar, or
``--evaluate NET.json`` to score a saved network. Every gene of the NEAT arena is an option;
``--save-champion`` writes the best network as JSON (a graph, validated when read back);
``--save``/``--resume`` keep the whole run. Bad input
exits 2 with one line (see lab.cli);
the run itself is lab.cli.direct's loop."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from lab.arenas.neat.genes import NEAT_SPEC
from lab.cli.common import UsageError, add_gene_options, gene_values, load_arena_genome
from lab.cli.direct import DirectRun, add_history_option, run_direct, task_overrides


def _parallel(args: argparse.Namespace):
    from lab.arenas.neat.parallel_config import ParallelConfig

    over = {k: v for k, v in (("workers", args.workers), ("backend", args.backend),
                              ("start_method", args.start_method), ("restart_every", args.restart_every))
            if v is not None}
    try:
        return dataclasses.replace(ParallelConfig.from_env(), **over)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _task(args: argparse.Namespace):
    from lab.arenas.neat.task import NeatTask

    over = task_overrides(args, ("generations", "fitness", "target_acc", "activations", "batch_size"))
    if args.no_stop:
        over["stop_at_target"] = False
    if args.recurrent:
        over["recurrent"] = True
    return NeatTask.for_task(args.task, **over)


def cmd_neat(args: argparse.Namespace) -> int:
    from lab.arenas import get_arena
    from lab.arenas.neat.engine import NeatSettings
    from lab.arenas.neat.network import accuracy
    from lab.files import atomic_write_text

    task = _task(args)
    if args.evaluate:
        return _evaluate(args.evaluate, task)
    arena = get_arena("neat")
    genes = dict(load_arena_genome(args.genome, args, "neat").genes) if args.genome \
        else dict(arena.gene_spec.defaults())
    genes.update(gene_values(args, NEAT_SPEC, NEAT_SPEC.keys))
    settings = NeatSettings.from_genes(genes)
    if args.resume:   # the saved run's own settings and task; --generations may raise its budget
        engine = arena.resume_run(args.resume)
        engine.extend(args.generations or 0)
        task = engine.task
        settings = engine.settings
        print(f"resumed {args.resume} at generation {engine.generation} of {task.generations}")
    else:
        engine = arena.engine(task, settings, args.seed, parallel=_parallel(args))
    control = ("fixed threshold", "PID species control", "adaptive species control")[settings.species_control]

    def save() -> None:
        if args.save:
            arena.save_run(engine, args.save)
            print(f"the run at generation {engine.generation} saved to {args.save} (--resume carries it on)",
                  file=sys.stderr)

    def interrupted() -> None:
        print(f"interrupted at generation {engine.generation}", file=sys.stderr)
        save()

    def finished(seconds: float) -> None:
        save()
        best = engine.solver or engine.champion
        what = "training cases right" if task.fitness == "classic" else "validation accuracy"
        if engine.solved_at is not None:
            print(f"solved at generation {engine.solved_at} after {engine.evaluations:,} evaluations "
                  f"({what} >= {task.target_acc:g}) in {seconds:.1f} s")
        else:
            print(f"target {what} {task.target_acc:g} not reached in {engine.generation} generations "
                  f"({engine.evaluations:,} evaluations, {seconds:.1f} s)")
        print(f"{'solution' if engine.solver else 'champion'}: {best.n_hidden} hidden nodes, {best.n_enabled} enabled "
              f"connections, fitness {best.fitness:.4f}; accuracy train "
              f"{accuracy(best, engine.data.x_train, engine.data.y_train, engine.feed_forward, task.ticks):.4f}, "
              f"validation {accuracy(best, engine.data.x_val, engine.data.y_val, engine.feed_forward, task.ticks):.4f}, "
              f"held-out {engine.test_accuracy(best):.4f}")
        print(f"species: {len(engine.species)} at the end, compatibility threshold {engine.threshold:.3f}, "
              f"species target {engine.controller.target}")
        if args.save_champion:
            out = Path(args.save_champion)
            out.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out, best.to_json() + "\n")
            print(f"network written to {out}")

    print(f"NEAT seed {engine.seed} on {task.task} ({task.fitness} fitness): population {settings.population}, "
          f"delta_t {settings.compat_threshold:g} ({control}), {task.generations} generations, "
          f"evaluation {engine.evaluator.backend} x{engine.parallel.workers} (task {task.task_id})")
    return run_direct(DirectRun(
        engine, task.generations, "gen", step=lambda: engine.step(1), context=engine,
        postfix=lambda: {"species": len(engine.species), "best": f"{engine.curve['best'][-1]:.3f}",
                         "acc": f"{engine.champion_score.accuracy:.3f}"},
        interrupted=interrupted, finished=finished, initial=engine.generation, history=args.history))


def _evaluate(path: str, task) -> int:
    """``--evaluate``: score a saved network (validated on reading) on the task's three splits."""
    from lab.arenas.neat.genome import NeatGenome, NeatGenomeError
    from lab.arenas.neat.network import accuracy
    from lab.arenas.neat.tasks import load_task_data

    try:
        net = NeatGenome.load(path, feed_forward=not task.recurrent)
    except NeatGenomeError as exc:
        raise UsageError(str(exc)) from None
    data = load_task_data(task.task)
    n_out = 1 if task.fitness == "classic" else data.n_classes
    if (net.n_inputs, net.n_outputs) != (data.n_inputs, n_out):
        raise UsageError(f"{path}: the network has {net.n_inputs} inputs and {net.n_outputs} outputs; the "
                         f"{task.task} task with {task.fitness} fitness needs {data.n_inputs} and {n_out}")
    ff = not task.recurrent
    print(f"{path}: {net.n_hidden} hidden nodes, {net.n_enabled} enabled connections on {task.task}: accuracy "
          f"train {accuracy(net, data.x_train, data.y_train, ff, task.ticks):.4f}, validation "
          f"{accuracy(net, data.x_val, data.y_val, ff, task.ticks):.4f}, held-out "
          f"{accuracy(net, data.x_test, data.y_test, ff, task.ticks):.4f}")
    return 0


def add_parser(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``neat`` command."""
    from lab.arenas.neat.parallel_config import BACKENDS
    from lab.arenas.neat.task import FITNESS_MODES, TASK_DEFAULTS

    p = top.add_parser("neat", parents=[common], help="one NEAT run (evolving network topologies and weights)",
                       description="Evolve networks with NEAT: innovation numbers, speciation, fitness sharing, "
                       "crossover aligned by innovation; backprop fitness on the classification tasks. Settings "
                       "default to the gene table's (or to --genome's genes); options override them. Evaluation "
                       "workers default to the NEAT_EVAL_* / NEAT_POOL_* environment variables.")
    p.add_argument("--task", choices=tuple(TASK_DEFAULTS), default="xor")
    p.add_argument("--generations", type=int, help="budget in generations (default: the task's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--genome", metavar="REF", help="take the settings from a neat genome (file, id or prefix)")
    add_gene_options(p, NEAT_SPEC)
    p.add_argument("--fitness", choices=FITNESS_MODES, help="classic (xor) or backprop (default: the task's)")
    p.add_argument("--target-acc", type=float, help="accuracy that counts as solved (default: the task's)")
    p.add_argument("--no-stop", action="store_true", help="run the whole budget even after the target is reached")
    p.add_argument("--activations", help="comma-separated activations of hidden nodes (default: the task's)")
    p.add_argument("--recurrent", action="store_true", help="allow recurrent connections")
    p.add_argument("--batch-size", type=int, help="backprop mini-batch (default 256)")
    p.add_argument("--workers", type=int, help="evaluation workers (default NEAT_EVAL_WORKERS or 1)")
    p.add_argument("--backend", choices=BACKENDS, help="thread or process (default NEAT_EVAL_BACKEND or thread)")
    p.add_argument("--start-method", help="process start method (spawn, forkserver, fork)")
    p.add_argument("--restart-every", type=int, help="rolling restart of process workers every N generations")
    p.add_argument("--save-champion", metavar="FILE.json", help="write the best network as JSON")
    add_history_option(p)
    p.add_argument("--save", metavar="DIR", help="write the run's whole state (JSON + npz) there at the end or on "
                   "Ctrl-C")
    p.add_argument("--resume", metavar="DIR", help="carry on a saved run exactly (its own settings and task; "
                   "--generations raises its budget)")
    p.add_argument("--evaluate", metavar="NET.json", help="score a saved network on --task instead of evolving")
    p.set_defaults(func=cmd_neat)
