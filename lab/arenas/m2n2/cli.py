"""``python main.py m2n2 ...``: one M2N2 run of the engine, watched under a progress bar, with
``--save-model`` writing the reported model as npz + JSON (never pickle) and ``--save``/``--resume``
keeping the whole run; and
``python main.py m2n2-specialists ...``: M2N2 from per-class specialists. The engine options that
are genes come from the gene table (genes.py). Bad input exits 2 with one line (see lab.cli)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from lab.arenas.m2n2.genes import M2N2_SPEC
from lab.cli.common import EXIT_INTERRUPTED, LazyChoices, add_gene_options, gene_values, load_arena_genome
from lab.cli.direct import DirectRun, add_history_option, run_direct, task_overrides

GENE_OPTIONS = ("archive_size", "alpha", "crossover_rate", "mutation_sigma", "init_sigma")
TASK_OPTIONS = ("passes", "dataset", "data_folder", "hidden", "target_acc", "eval_interval")


def cmd_m2n2(args: argparse.Namespace) -> int:
    import numpy as np

    from lab.arenas import get_arena
    from lab.arenas.base import device_label
    from lab.arenas.m2n2.engine import M2N2Settings
    from lab.files import atomic_write_text

    arena = get_arena("m2n2")
    task = dataclasses.replace(arena.default_task(), **task_overrides(args, TASK_OPTIONS))
    genes = load_arena_genome(args.genome, args, "m2n2", "an").genes if args.genome else arena.gene_spec.defaults()
    overrides = {**gene_values(args, M2N2_SPEC, GENE_OPTIONS, check=False),
                 **task_overrides(args, ("partner", "zero_attraction"))}
    if args.no_split_point:
        overrides["split_point"] = False
    if args.linear:
        overrides["slerp"] = False
    settings = M2N2Settings.from_genes(genes, **overrides)
    device = arena.resolve_device(args.device)
    if args.resume:   # the saved run's own settings and task; --passes may raise its budget
        engine = arena.resume_run(args.resume, device=device)
        engine.task = task = dataclasses.replace(engine.task, passes=max(args.passes or 0, engine.task.passes))
        settings = engine.settings[0]
        print(f"resumed {args.resume} at pass {engine.passes} of {task.passes}")
    else:
        engine = arena.engine(task, settings, args.seed, device=device)
    print(f"M2N2 seed {engine.seeds[0]} on {task.dataset} ({device_label(device)}): archive {settings.archive_size}, "
          f"alpha {settings.alpha:g}, partner by {settings.partner}, budget {task.passes} forward passes "
          f"(task {task.task_id})")
    if engine.data.note:
        print(engine.data.note)

    def save() -> None:
        if args.save:
            arena.save_run(engine, args.save)
            print(f"the run at pass {engine.passes} saved to {args.save} (--resume carries it on)", file=sys.stderr)

    def interrupted() -> None:
        print(f"interrupted at pass {engine.passes}; test accuracy {float(engine.test_acc[0]):.4f}", file=sys.stderr)
        save()
        if args.fitness_log:
            atomic_write_text(Path(args.fitness_log), engine.fitness_log_csv(0))
            print(f"fitness log of the {engine.passes} passes run written to {args.fitness_log}", file=sys.stderr)

    def finished(seconds: float) -> None:
        save()
        snap = engine.snapshot()
        reached = engine.passes_to_target[0]
        print(f"test accuracy {snap['test_acc']:.4f} (best training accuracy {snap['best_train_acc']:.4f}) after "
              f"{engine.passes} passes in {seconds:.1f} s; target {task.target_acc:g} "
              + (f"reached at pass {reached}" if reached is not None else "not reached"))
        if args.fitness_log:
            atomic_write_text(Path(args.fitness_log), engine.fitness_log_csv(0))
            print(f"fitness log (one row per pass) written to {args.fitness_log}")
        if args.save_model:
            out = Path(args.save_model).with_suffix(".npz")
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".tmp.npz")
            np.savez(tmp, params=engine.reported_params(0).cpu().numpy())
            tmp.replace(out)
            meta = {"kind": "m2n2-model", "layout": "W1 [inputs, hidden] row-major, b1, W2 [hidden, classes], b2",
                    "inputs": engine.data.n_inputs, "hidden": task.hidden, "classes": list(engine.data.classes),
                    "task": task.to_dict(), "task_id": task.task_id, "settings": dataclasses.asdict(settings),
                    "seed": engine.seeds[0], "test_acc": snap["test_acc"], "train_acc": snap["best_train_acc"]}
            atomic_write_text(out.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
            print(f"reported model written to {out} (+ {out.with_suffix('.json').name})")

    return run_direct(DirectRun(
        engine, task.passes, "pass", step=lambda: engine.step(task.eval_interval),
        postfix=lambda: {"train": f"{float(engine.train_acc().max()):.3f}", "test": f"{float(engine.test_acc[0]):.3f}"},
        interrupted=interrupted, finished=finished, initial=engine.passes, history=args.history))


def cmd_m2n2_specialists(args: argparse.Namespace) -> int:
    from lab.arenas.m2n2.specialists import SpecialistsConfig, SpecialistsRun, load_config, save_config

    config = load_config(args.config) if args.config else SpecialistsConfig()
    config = dataclasses.replace(config, **task_overrides(args, ("dataset", "data_folder", "generations", "seed",
                                                                 "device")))
    if args.write_config:
        save_config(config, args.write_config)
        print(f"config written to {args.write_config}")
    if args.resume:
        run = SpecialistsRun.load(args.resume, config=config)
        print(f"resumed {args.resume} at generation {run.generation} of {config.generations}")
    else:
        run = SpecialistsRun(config)
    names = run.data.classes
    print(f"specialists M2N2 on {config.dataset}: {run.n_classes} classes, population {run.population_size}, "
          f"{config.generations} generations, seed {config.seed}")

    def report(r: dict) -> None:
        if r["phase"] == "specialists":
            c = r["specialist"]
            print(f"  specialist for {names[c]}: test accuracy {run.niche_bank[c].fitness:.3f} "
                  f"(its own class {run.niche_bank[c].per_class[c]:.2f})", flush=True)
            return
        m = r["merge"] or {}
        print(f"  generation {r['generation']:>3}: best {r['best_fitness']:.4f}, mean {r['mean_fitness']:.4f}; "
              f"merged {m.get('parent1_origin')} + specialist for {names[m['weakest_class']]} "
              f"(weight {m.get('weight1', 0):.2f}{', mutated' if m.get('mutated') else ''}) -> "
              f"{m.get('child_fitness', 0):.4f}{'' if m.get('child_survived') else ' (not kept)'}", flush=True)

    try:
        run.run(on_report=report)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        if args.save:
            print(f"population saved to {run.save(args.save)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    _, fitness = run.best()
    print(f"best test accuracy {fitness:.4f} after {run.generation} generation(s)")
    if args.save:
        print(f"population saved to {run.save(args.save)}")
    return 0


def add_parser(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``m2n2`` and ``m2n2-specialists`` commands."""
    from lab.data import DATASET_NAMES

    p = top.add_parser("m2n2", parents=[common], help="one M2N2 run (model merging of natural niches), watched",
                       description="Evolve MLP classifiers from scratch with M2N2: an archive of models, "
                       "competition for data points, mating by attraction, split-point SLERP. Settings default "
                       "to the paper's (or to --genome's genes); options override them.")
    p.add_argument("--passes", type=int, help="budget in forward passes over the training set (default 50000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--genome", metavar="REF", help="take the settings from an m2n2 genome (file, id or prefix)")
    add_gene_options(p, M2N2_SPEC, GENE_OPTIONS, title="engine settings that are m2n2 genes")
    p.add_argument("--partner", choices=LazyChoices("lab.arenas.m2n2.engine", "PARTNERS"),
                   metavar="PARTNER", help="how partner B is drawn: attraction (default), fitness or uniform")
    p.add_argument("--no-split-point", action="store_true", help="one mixing ratio for all parameters")
    p.add_argument("--linear", action="store_true", help="linear interpolation instead of SLERP")
    p.add_argument("--zero-attraction", choices=LazyChoices("lab.arenas.m2n2.engine", "ZERO_ATTRACTION"),
                   metavar="PARTNER",
                   help="partner when no member attracts A: slot0 (default, as the published code) or fitness")
    p.add_argument("--dataset", choices=LazyChoices("lab.arenas.m2n2.task", "DATASETS"), metavar="NAME",
                   help="digits (default) or mnist")
    p.add_argument("--data-folder", metavar="DIR", help="folder of MNIST IDX files (with --dataset mnist)")
    p.add_argument("--hidden", type=int)
    p.add_argument("--target-acc", type=float)
    p.add_argument("--eval-interval", type=int, help="passes between test evaluations (default 250)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--save-model", metavar="FILE.npz", help="write the reported model (npz + JSON)")
    add_history_option(p)
    p.add_argument("--save", metavar="DIR", help="write the run's whole state (npz + JSON) there at the end or on "
                   "Ctrl-C")
    p.add_argument("--resume", metavar="DIR", help="carry on a saved run exactly (its own settings and task; "
                   "--passes raises its budget)")
    p.add_argument("--fitness-log", metavar="FILE.csv", help="write the per-pass fitness log: slot replaced, "
                   "children accepted, best and mean training accuracy, the reported model's test accuracy")
    p.set_defaults(func=cmd_m2n2)

    p = top.add_parser("m2n2-specialists", parents=[common], help="M2N2 from per-class specialists (CIFAR-10 style)",
                       description="Train one specialist per class from one shared initialisation, then merge: "
                       "the fittest model with the specialist for its weakest class, fitness-weighted, mutated "
                       "now and then, fine-tuned on all classes, elitist survival. Settings from --config "
                       "(JSON, see --write-config), options override them.")
    p.add_argument("--config", metavar="FILE.json", help="a specialists config file")
    p.add_argument("--dataset", choices=DATASET_NAMES)
    p.add_argument("--data-folder", metavar="DIR", help="MNIST IDX files or the CIFAR-10 python batches")
    p.add_argument("--generations", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="cpu, cuda or cuda:N")
    p.add_argument("--save", metavar="DIR", help="write the population (npz + JSON) there at the end")
    p.add_argument("--resume", metavar="DIR", help="carry on from a saved population")
    p.add_argument("--write-config", metavar="FILE.json", help="write the settings used to a config file")
    p.set_defaults(func=cmd_m2n2_specialists)
