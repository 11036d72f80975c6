"""Direct runs of an arena's own engine from the command line: ``python main.py m2n2 ...`` runs one
M2N2 run with a progress bar and prints what it reached; ``--save-model`` writes the reported model
as npz + JSON (never pickle). Bad input exits 2 with one line (see lab.cli)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from lab.cli import UsageError, _load_ref


def cmd_m2n2(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lab.arenas import get_arena
    from lab.arenas.base import device_label
    from lab.arenas.m2n2.engine import M2N2Settings
    from lab.genome import atomic_write_text

    arena = get_arena("m2n2")
    task = dataclasses.replace(arena.default_task(), **{k: v for k, v in (
        ("passes", args.passes), ("dataset", args.dataset), ("data_folder", args.data_folder),
        ("hidden", args.hidden), ("target_acc", args.target_acc), ("eval_interval", args.eval_interval))
        if v is not None})
    genes = arena.gene_spec.defaults()
    if args.genome:
        genome = _load_ref(args.genome, args)
        if genome.spec.name != "m2n2":
            raise UsageError(f"{args.genome} is a {genome.spec.name} genome, not an m2n2 one")
        genes = genome.genes
    overrides = {k: v for k, v in (
        ("archive_size", args.archive_size), ("alpha", args.alpha), ("partner", args.partner),
        ("crossover_rate", args.crossover_rate), ("mutation_sigma", args.mutation_sigma),
        ("init_sigma", args.init_sigma), ("zero_attraction", args.zero_attraction)) if v is not None}
    if args.no_split_point:
        overrides["split_point"] = False
    if args.linear:
        overrides["slerp"] = False
    settings = M2N2Settings.from_genes(genes, **overrides)
    device = arena.resolve_device(args.device)
    t0 = time.perf_counter()
    engine = arena.engine(task, settings, args.seed, device=device)
    print(f"M2N2 seed {args.seed} on {task.dataset} ({device_label(device)}): archive {settings.archive_size}, "
          f"alpha {settings.alpha:g}, partner by {settings.partner}, budget {task.passes} forward passes "
          f"(task {task.task_id})")
    if engine.data.note:
        print(engine.data.note)
    bar = tqdm(total=task.passes, unit="pass", file=sys.stderr, smoothing=0.1)
    try:
        while not engine.done:
            bar.update(engine.step(task.eval_interval))
            bar.set_postfix(train=f"{float(engine.train_acc().max()):.3f}", test=f"{float(engine.test_acc[0]):.3f}")
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted at pass {engine.passes}; test accuracy {float(engine.test_acc[0]):.4f}", file=sys.stderr)
        if args.fitness_log:
            atomic_write_text(Path(args.fitness_log), engine.fitness_log_csv(0))
            print(f"fitness log of the {engine.passes} passes run written to {args.fitness_log}", file=sys.stderr)
        return 130
    bar.close()
    seconds = time.perf_counter() - t0
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
                "seed": args.seed, "test_acc": snap["test_acc"], "train_acc": snap["best_train_acc"]}
        atomic_write_text(out.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
        print(f"reported model written to {out} (+ {out.with_suffix('.json').name})")
    return 0


GENREG_OPTIONS = (("population", int, "genomes in the population (default 200)"),
                  ("survival", float, "share that survives each generation (default 0.2)"),
                  ("child_mutation_rate", float, "probability each weight of a child mutates (default 0.07)"),
                  ("child_mutation_sigma", float, "std of a child mutation (default 0.1)"),
                  ("base_mutation_rate", float, "base mutation of the new population (default 0.08; 0: none)"),
                  ("base_mutation_sigma", float, "std of a base mutation (default 0.1)"),
                  ("trust_decay", float, "per-image trust decay (default 0.001, about x0.82 a generation)"),
                  ("reward", float, "trust for a right answer (default 10)"),
                  ("penalty", float, "trust lost for a wrong answer (default 1.5)"),
                  ("inheritance", float, "share of its parent's trust a child starts with (default 0.03)"),
                  ("images_per_class", int, "images of each class shown per generation (default 20)"),
                  ("hidden", int, "hidden units (default 64)"))


def cmd_genreg(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lab.arenas import get_arena
    from lab.arenas.base import device_label
    from lab.arenas.genreg.checkpoint import read_population_meta, save_model
    from lab.arenas.genreg.engine import GenregSettings
    from lab.arenas.genreg.task import GenregTask

    arena = get_arena("genreg")
    task_overrides = {k: v for k, v in (
        ("generations", args.generations), ("dataset", args.dataset), ("data_folder", args.data_folder),
        ("target_acc", args.target_acc), ("eval_interval", args.eval_interval), ("sampling", args.sampling),
        ("crossover", args.crossover)) if v is not None}
    gene_overrides = {key: getattr(args, key) for key, _, _ in GENREG_OPTIONS if getattr(args, key) is not None}
    device = arena.resolve_device(args.device)
    if args.resume:
        meta = read_population_meta(args.resume)
        changed = sorted(set(task_overrides) - {"generations", "eval_interval", "target_acc"}) + sorted(gene_overrides)
        if changed or args.genome:
            raise UsageError(f"--resume carries on a saved run; it cannot change {', '.join(changed) or '--genome'}")
        try:
            task = dataclasses.replace(GenregTask(**meta["task"]), **task_overrides)
            settings, seed = GenregSettings(**meta["settings"]), meta["seed"]
        except TypeError as exc:
            raise UsageError(f"{args.resume}: population.json does not describe a GENREG run ({exc})") from None
        engine = arena.engine(task, settings, seed, device=device)
        engine.load(args.resume)
        print(f"resumed {args.resume} at generation {engine.generation} of {task.generations}")
    else:
        task = dataclasses.replace(arena.default_task(), **task_overrides)
        genes = arena.gene_spec.defaults()
        if args.genome:
            genome = _load_ref(args.genome, args)
            if genome.spec.name != "genreg":
                raise UsageError(f"{args.genome} is a {genome.spec.name} genome, not a genreg one")
            genes = dict(genome.genes)
        settings = dataclasses.replace(GenregSettings.from_genes(genes), **gene_overrides)
        seed = args.seed
        engine = arena.engine(task, settings, seed, device=device)
    t0 = time.perf_counter()
    print(f"GENREG seed {seed} on {task.dataset} ({device_label(device)}): {engine.data.n_inputs}-{settings.hidden}-"
          f"{engine.data.n_classes}, population {settings.population}, top {settings.survivors} survive, "
          f"{'two-parent crossover, ' if task.crossover else ''}answers by {task.sampling}, "
          f"{task.generations} generations (task {task.task_id})")
    if engine.data.note:
        print(engine.data.note)
    bar = tqdm(total=task.generations, initial=engine.generation, unit="gen", file=sys.stderr, smoothing=0.1)
    try:
        while not engine.done:
            bar.update(engine.step(min(task.eval_interval, 10)))
            bar.set_postfix(train=f"{engine.last['best_train_acc']:.3f}", test=f"{engine.test_acc:.3f}")
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted at generation {engine.generation}; test accuracy {engine.test_acc:.4f}", file=sys.stderr)
        if args.save:
            engine.save(args.save)
            print(f"population saved to {args.save}", file=sys.stderr)
        return 130
    bar.close()
    seconds = time.perf_counter() - t0
    reached = engine.generations_to_target
    print(f"held-out accuracy {engine.test_acc:.4f} (best genome by trust; {engine.last['best_train_acc']:.3f} on "
          f"its last generation's images) after {engine.generation} generations in {seconds:.1f} s; target "
          f"{task.target_acc:g} " + (f"reached at generation {reached}" if reached is not None else "not reached"))
    print("per class: " + "  ".join(f"{c}:{a:.0%}" for c, a in zip(engine.data.classes, engine.test_per_class)))
    trust = np.sort(engine.last["trust"])[::-1]
    print(f"trust of the last generation: best {trust[0]:.1f}, mean {trust.mean():.1f}, survival cutoff "
          f"{trust[settings.survivors - 1]:.1f}, lowest {trust[-1]:.1f}")
    if args.save:
        engine.save(args.save)
        print(f"population saved to {args.save} (population.npz + population.json)")
    if args.save_model:
        paths = save_model(engine, args.save_model)
        print(f"best genome written to {paths[0]} (+ {Path(paths[1]).name})")
    return 0


def cmd_m2n2_specialists(args: argparse.Namespace) -> int:
    from lab.arenas.m2n2.specialists import SpecialistsConfig, SpecialistsRun, load_config, save_config

    config = load_config(args.config) if args.config else SpecialistsConfig()
    overrides = {k: v for k, v in (("dataset", args.dataset), ("data_folder", args.data_folder),
                                   ("generations", args.generations), ("seed", args.seed),
                                   ("device", args.device)) if v is not None}
    config = dataclasses.replace(config, **overrides)
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
        return 130
    _, fitness = run.best()
    print(f"best test accuracy {fitness:.4f} after {run.generation} generation(s)")
    if args.save:
        print(f"population saved to {run.save(args.save)}")
    return 0


def add_arena_parsers(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from lab.arenas.m2n2.engine import PARTNERS, ZERO_ATTRACTION
    from lab.arenas.m2n2.task import DATASETS
    from lab.data import DATASET_NAMES

    p = top.add_parser("m2n2", parents=[common], help="one M2N2 run (model merging of natural niches), watched",
                       description="Evolve MLP classifiers from scratch with M2N2: an archive of models, "
                       "competition for data points, mating by attraction, split-point SLERP. Settings default "
                       "to the paper's (or to --genome's genes); options override them.")
    p.add_argument("--passes", type=int, help="budget in forward passes over the training set (default 50000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--genome", metavar="REF", help="take the settings from an m2n2 genome (file, id or prefix)")
    p.add_argument("--archive-size", type=int)
    p.add_argument("--alpha", type=float, help="competition exponent (0: no competition, the GA baseline)")
    p.add_argument("--partner", choices=PARTNERS, help="how partner B is drawn (default attraction)")
    p.add_argument("--crossover-rate", type=float, help="share of children bred by crossover (0: none)")
    p.add_argument("--no-split-point", action="store_true", help="one mixing ratio for all parameters")
    p.add_argument("--linear", action="store_true", help="linear interpolation instead of SLERP")
    p.add_argument("--mutation-sigma", type=float)
    p.add_argument("--init-sigma", type=float)
    p.add_argument("--zero-attraction", choices=ZERO_ATTRACTION,
                   help="partner when no member attracts A: slot0 (default, as the published code) or fitness")
    p.add_argument("--dataset", choices=DATASETS)
    p.add_argument("--data-folder", metavar="DIR", help="folder of MNIST IDX files (with --dataset mnist)")
    p.add_argument("--hidden", type=int)
    p.add_argument("--target-acc", type=float)
    p.add_argument("--eval-interval", type=int, help="passes between test evaluations (default 250)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--save-model", metavar="FILE.npz", help="write the reported model (npz + JSON)")
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

    from lab.arenas.genreg.task import DATASETS as GENREG_DATASETS

    p = top.add_parser("genreg", parents=[common], help="one GENREG run (trust-based evolution of MLP weights)",
                       description="Evolve the weights of a population of MLPs with no gradients: trust for "
                       "right answers, the top share survives, children copy a parent drawn by trust and "
                       "mutate. Settings default to the GENREG README's (or to --genome's genes); options "
                       "override them.")
    p.add_argument("--dataset", choices=GENREG_DATASETS, help="default digits (scikit-learn's 8x8)")
    p.add_argument("--data-folder", metavar="DIR", help="folder of MNIST IDX files (with --dataset mnist)")
    p.add_argument("--generations", type=int, help="budget in generations (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--genome", metavar="REF", help="take the settings from a genreg genome (file, id or prefix)")
    for key, kind, help_text in GENREG_OPTIONS:
        p.add_argument("--" + key.replace("_", "-"), type=kind, help=help_text)
    p.add_argument("--sampling", choices=("softmax", "argmax"), help="how genomes answer while evolving "
                   "(default softmax: drawn from the softmax, as published)")
    p.add_argument("--crossover", action="store_true", default=None,
                   help="two parents, each weight from either (the later published variant)")
    p.add_argument("--target-acc", type=float, help="held-out accuracy that counts as success (default 0.8)")
    p.add_argument("--eval-interval", type=int, help="generations between held-out evaluations (default 10)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--save", metavar="DIR", help="write the population (npz + JSON) there at the end")
    p.add_argument("--resume", metavar="DIR", help="carry on from a saved population")
    p.add_argument("--save-model", metavar="FILE", help="write the best genome (FILE.npz + FILE.json)")
    p.set_defaults(func=cmd_genreg)

    from lab.cli_neat import add_neat_parser

    add_neat_parser(top, common)
