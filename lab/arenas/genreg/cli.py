"""``python main.py genreg ...``: one GENREG run (trust-based evolution of MLP weights) watched under a
progress bar; ``--save``/``--resume`` keep the population, ``--save-model`` writes the best genome.
Its engine options are the arena's genes, generated from the gene table (genes.py)."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from lab.arenas.genreg.genes import GENREG_SPEC
from lab.cli.common import LazyChoices, UsageError, add_gene_options, gene_values, load_arena_genome
from lab.cli.direct import DirectRun, add_history_option, run_direct, task_overrides

TASK_OPTIONS = ("generations", "dataset", "data_folder", "target_acc", "eval_interval", "sampling", "crossover")


def cmd_genreg(args: argparse.Namespace) -> int:
    import numpy as np

    from lab.arenas import get_arena
    from lab.arenas.base import device_label
    from lab.arenas.genreg.checkpoint import read_population_meta, save_model
    from lab.arenas.genreg.engine import GenregSettings
    from lab.arenas.genreg.task import GenregTask

    arena = get_arena("genreg")
    task_over = task_overrides(args, TASK_OPTIONS)
    gene_over = gene_values(args, GENREG_SPEC, GENREG_SPEC.keys, check=False)
    device = arena.resolve_device(args.device)
    if args.resume:
        meta = read_population_meta(args.resume)
        changed = sorted(set(task_over) - {"generations", "eval_interval", "target_acc"}) + sorted(gene_over)
        if changed or args.genome:
            raise UsageError(f"--resume carries on a saved run; it cannot change {', '.join(changed) or '--genome'}")
        try:
            task = dataclasses.replace(GenregTask(**meta["task"]), **task_over)
            settings, seed = GenregSettings(**meta["settings"]), meta["seed"]
        except TypeError as exc:
            raise UsageError(f"{args.resume}: population.json does not describe a GENREG run ({exc})") from None
        engine = arena.engine(task, settings, seed, device=device)
        engine.load(args.resume)
        print(f"resumed {args.resume} at generation {engine.generation} of {task.generations}")
    else:
        task = dataclasses.replace(arena.default_task(), **task_over)
        genes = dict(load_arena_genome(args.genome, args, "genreg").genes) if args.genome \
            else arena.gene_spec.defaults()
        settings = dataclasses.replace(GenregSettings.from_genes(genes), **gene_over)
        seed = args.seed
        engine = arena.engine(task, settings, seed, device=device)
    print(f"GENREG seed {seed} on {task.dataset} ({device_label(device)}): {engine.data.n_inputs}-{settings.hidden}-"
          f"{engine.data.n_classes}, population {settings.population}, top {settings.survivors} survive, "
          f"{'two-parent crossover, ' if task.crossover else ''}answers by {task.sampling}, "
          f"{task.generations} generations (task {task.task_id})")
    if engine.data.note:
        print(engine.data.note)

    def interrupted() -> None:
        print(f"interrupted at generation {engine.generation}; test accuracy {engine.test_acc:.4f}", file=sys.stderr)
        if args.save:
            engine.save(args.save)
            print(f"population saved to {args.save}", file=sys.stderr)

    def finished(seconds: float) -> None:
        reached = engine.generations_to_target
        last = engine.last   # empty when a resumed run had no generation left to run
        on_images = f"; {last['best_train_acc']:.3f} on its last generation's images" if last else ""
        print(f"held-out accuracy {engine.test_acc:.4f} (best genome by trust{on_images}) after {engine.generation} "
              f"generations in {seconds:.1f} s; target "
              f"{task.target_acc:g} " + (f"reached at generation {reached}" if reached is not None else "not reached"))
        print("per class: " + "  ".join(f"{c}:{a:.0%}" for c, a in zip(engine.data.classes, engine.test_per_class)))
        if last:
            trust = np.sort(last["trust"])[::-1]
            print(f"trust of the last generation: best {trust[0]:.1f}, mean {trust.mean():.1f}, survival cutoff "
                  f"{trust[settings.survivors - 1]:.1f}, lowest {trust[-1]:.1f}")
        if args.save:
            engine.save(args.save)
            print(f"population saved to {args.save} (population.npz + population.json)")
        if args.save_model:
            paths = save_model(engine, args.save_model)
            print(f"best genome written to {paths[0]} (+ {Path(paths[1]).name})")

    return run_direct(DirectRun(
        engine, task.generations, "gen", initial=engine.generation,
        step=lambda: engine.step(min(task.eval_interval, 10)),
        postfix=lambda: {"train": f"{engine.last['best_train_acc']:.3f}", "test": f"{engine.test_acc:.3f}"},
        interrupted=interrupted, finished=finished, history=args.history))


def add_parser(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``genreg`` command."""
    p = top.add_parser("genreg", parents=[common], help="one GENREG run (trust-based evolution of MLP weights)",
                       description="Evolve the weights of a population of MLPs with no gradients: trust for "
                       "right answers, the top share survives, children copy a parent drawn by trust and "
                       "mutate. Settings default to the GENREG README's (or to --genome's genes); options "
                       "override them.")
    p.add_argument("--dataset", choices=LazyChoices("lab.arenas.genreg.task", "DATASETS"), metavar="NAME",
                   help="digits (default; scikit-learn's 8x8), mnist, letters or letters-augmented")
    p.add_argument("--data-folder", metavar="DIR", help="folder of MNIST IDX files (with --dataset mnist)")
    p.add_argument("--generations", type=int, help="budget in generations (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--genome", metavar="REF", help="take the settings from a genreg genome (file, id or prefix)")
    add_gene_options(p, GENREG_SPEC, title="engine settings: the genreg genes (a direct run may go beyond the "
                     "range evolution searches, within what the engine accepts)")
    p.add_argument("--sampling", choices=("softmax", "argmax"), help="how genomes answer while evolving "
                   "(default softmax: drawn from the softmax, as published)")
    p.add_argument("--crossover", action="store_true", default=None,
                   help="two parents, each weight from either (the later published variant)")
    p.add_argument("--target-acc", type=float, help="held-out accuracy that counts as success (default 0.8)")
    p.add_argument("--eval-interval", type=int, help="generations between held-out evaluations (default 10)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    add_history_option(p)
    p.add_argument("--save", metavar="DIR", help="write the population (npz + JSON) there at the end")
    p.add_argument("--resume", metavar="DIR", help="carry on from a saved population")
    p.add_argument("--save-model", metavar="FILE", help="write the best genome (FILE.npz + FILE.json)")
    p.set_defaults(func=cmd_genreg)
