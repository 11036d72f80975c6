"""Commands of the Stress Chamber: ``stress`` (Monte Carlo over seeds with Smart Fill)
and ``charts`` (the seven analysis charts, exported for papers from trials already recorded), and of
the Phylogeny tab: ``phylogeny`` (map, classify and name species, store them, write the 3D page).
Heavy imports (torch, pandas, matplotlib) happen inside the commands, so other commands start fast.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from lab.cli.common import (UsageError, add_backend_options, add_task_options, apply_task_options, open_backend,
                             open_registry, parse_seeds)
from lab.genome import Genome
from lab.registry import Registry, read_genome_file


# ---- shared -------------------------------------------------------------------------------------
def _arena_and_task(args: argparse.Namespace):
    from lab.arenas import get_arena

    arena = get_arena(args.arena)   # --step-cap sets each arena's budget: steps, generations or passes
    return arena, apply_task_options(arena.default_task(), args)


def _genomes(args: argparse.Namespace, reg: Registry, spec: str) -> tuple[list[Genome], list[Genome]]:
    """(every chosen genome, those read from files): refs are genome files, ids, id prefixes or
    names; with --tag they are tags; --hall-of-fame adds the Hall of Fame."""
    from lab.analysis.stress import select_genomes

    if not args.refs and not args.hall_of_fame:
        raise UsageError("name genomes (file, id, id prefix or name), tags with --tag, or --hall-of-fame")
    chosen: dict[str, Genome] = {}
    from_files: list[Genome] = []
    for ref in [] if args.tag else args.refs:
        if ref.endswith(".json") or Path(ref).is_file():
            found = read_genome_file(ref)
            from_files += found
        else:
            found = select_genomes(reg, [ref], spec=spec)
        for g in found:
            chosen.setdefault(g.id, g)
    for g in select_genomes(reg, tags=args.refs if args.tag else (), hall_of_fame=args.hall_of_fame, spec=spec):
        chosen.setdefault(g.id, g)
    if not chosen:
        raise UsageError(f"the Hall of Fame of {reg.root} holds no {spec} genome")
    return list(chosen.values()), from_files


def _add_selection(p: argparse.ArgumentParser) -> None:
    from lab.arenas import arena_names

    p.add_argument("refs", nargs="*", metavar="GENOME_OR_TAG",
                   help="genome file, id, id prefix or name (tags with --tag)")
    p.add_argument("--tag", action="store_true", help="the names given are tags: every genome carrying one")
    p.add_argument("--hall-of-fame", action="store_true", help="add every Hall of Fame genome")
    p.add_argument("--arena", choices=arena_names(), default="grokking")
    add_task_options(p)


# ---- stress -------------------------------------------------------------------------------------
@contextlib.contextmanager
def _first_ctrl_c_cancels(stop: threading.Event, say) -> Iterator[None]:
    """The first Ctrl-C asks the trainer to stop between steps (finished trials are kept); a second
    one interrupts at once. Only the main thread may set signal handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        say("stopping after this step: finished trials are recorded (Ctrl-C again to quit now)")
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def smart_fill(reg: Registry, arena, plan, device: str, args: argparse.Namespace) -> bool:
    """Run ``plan``'s missing trials on the backend the options name, under a bar; the first Ctrl-C
    stops between steps (finished trials are kept). True when stopped before the end."""
    from tqdm import tqdm

    from lab.analysis.stress import run_stress
    from lab.progress import TqdmWork

    # the bar counts work (member-steps, passes, generations), so it moves while a population trains
    # and tqdm's time left comes from the rate of work; the trials finished stand beside it
    bar = TqdmWork(plan.task, plan.to_run)
    stop = threading.Event()
    try:
        with _first_ctrl_c_cancels(stop, tqdm.write), open_backend(args) as backend:
            run_stress(reg, arena, plan, device=device, on_event=bar.update, cancel=stop, backend=backend)
    except KeyboardInterrupt:
        return True
    finally:
        bar.close()
    return stop.is_set()


def cmd_stress(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lab.analysis.stress import plan_stress, run_stress, stress_frame, stress_summary
    from lab.arenas.base import device_label
    from lab.progress import TqdmWork

    reg = open_registry(args)
    arena, task = _arena_and_task(args)
    genomes, from_files = _genomes(args, reg, arena.gene_spec.name)
    plan = plan_stress(reg, genomes, task, args.runs, args.seed_start)
    device = arena.resolve_device(args.device)
    reg.add_genomes(from_files)  # so the Stress Chamber and `charts` find them by name later
    print(f"{len(plan.genomes)} genome(s) x seeds {plan.seeds[0]}-{plan.seeds[-1]} on task {task.task_id} "
          f"({device_label(device)}): {plan.existing} trials exist, {plan.to_run} will run")
    interrupted = smart_fill(reg, arena, plan, device, args)
    summary = stress_summary(stress_frame(reg, plan.genomes, task.task_id, plan.seeds))
    width = max([len("genome"), *(len(x) for x in summary["label"])])
    print(f"{'genome':<{width}}  {'runs':>5}  {'success rate':>12}  {'median steps_to_grok':>20}")
    for row in summary.itertuples():
        median = "-" if row.median_steps_to_grok != row.median_steps_to_grok else f"{row.median_steps_to_grok:.0f}"
        print(f"{row.label:<{width}}  {row.runs:>5}  {row.success_rate:>12.0%}  {median:>20}")
    if interrupted:
        print("stopped: the trials that finished are recorded; run the same command again to fill in the rest",
              file=sys.stderr)
        return 130
    return 0


# ---- charts -------------------------------------------------------------------------------------
def _names(values: list[str], default: str) -> list[str]:
    """Repeatable, comma-separated option values."""
    return [x.strip() for v in (values or [default]) for x in v.split(",") if x.strip()]


def _writable_folder(out: Path) -> tuple[Path, bool]:
    """Create ``out`` if needed and prove it writable. Returns (folder, whether we created it)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = tempfile.mkdtemp(prefix=".charts-", dir=out)
    except OSError as exc:
        raise UsageError(f"cannot write charts to {out}: {exc.strerror or exc}") from None
    return Path(probe), created


def _task_words(reg: Registry, arena, task) -> str:
    from lab.tasks import describe
    if not hasattr(task, "to_dict"):   # chosen by --task-id, settings not remembered
        return "a task whose settings this registry does not know"
    return describe(task, arena.default_task())


def _no_trials_message(reg: Registry, arena, genomes: list[Genome], task, some_seeds: bool) -> str:
    """Why there is nothing to draw, and, where these genomes have trials on other tasks (another step
    cap is another task), which tasks those are and how to choose one."""
    from lab.tasks import task_choices

    where = f"on task {task.task_id} ({_task_words(reg, arena, task)}){' for those seeds' if some_seeds else ''}"
    others = [c for c in task_choices(reg, arena.name, [g.id for g in genomes])
              if c.trials and c.task_id != task.task_id]
    if not others:
        return f"no recorded trials of these {len(genomes)} genome(s) {where}; run `python main.py stress` first"
    listed = "; ".join(f"{c.task_id} ({c.text}): {c.trials} trial{'s' * (c.trials != 1)}" for c in others[:6])
    more = f"; and {len(others) - 6} more" if len(others) > 6 else ""
    return (f"no recorded trials of these {len(genomes)} genome(s) {where}, but they have trials on other tasks: "
            f"{listed}{more}; choose one with --task-id ID")


def _task_by_id(reg: Registry, arena, genomes: list[Genome], ref: str):
    """The task ``ref`` (a task id or a unique prefix of one) among the tasks these genomes have trials
    on and those the registry knows; its settings where known, else just its id (the step cap is then
    read from the trials)."""
    from lab.tasks import known_tasks, task_choices

    choices = {c.task_id: c for c in task_choices(reg, arena.name, [g.id for g in genomes])}
    known = {tid: t for tid, (owner, t) in known_tasks(reg).items() if owner == arena.name}
    ids = sorted(set(choices) | set(known))
    found = [tid for tid in ids if tid == ref] or [tid for tid in ids if tid.startswith(ref)]
    if len(found) != 1:
        listed = ", ".join(f"{c.task_id} ({c.trials} trials)" for c in choices.values() if c.trials) or "none"
        why = "matches no task" if not found else f"matches {len(found)} tasks"
        raise UsageError(f"--task-id {ref!r} {why} of arena {arena.name} (tasks with trials of these genomes: "
                         f"{listed})")
    task = known.get(found[0]) or (choices[found[0]].task if found[0] in choices else None)
    return task if task is not None else argparse.Namespace(task_id=found[0], step_cap=0)


def cmd_charts(args: argparse.Namespace) -> int:
    from lab.analysis.charts import CHARTS, ChartData, ChartStyle, check_export_options, export_chart
    from lab.analysis.phylogeny import LEVELS, default_level_of_labels
    from lab.analysis.stress import GROUPING_NAMES, group_genomes

    kinds = _names(args.kind, "all")
    kinds = list(CHARTS) if kinds == ["all"] else kinds
    unknown = [k for k in kinds if k not in CHARTS]
    if unknown:
        raise UsageError(f"unknown chart {unknown[0]!r} (charts: {', '.join(CHARTS)} or all)")
    formats = check_export_options(_names(args.format, "pdf"), args.size, args.dpi)
    if args.group_by not in GROUPING_NAMES:
        raise UsageError(f"unknown grouping {args.group_by!r} (groupings: {', '.join(GROUPING_NAMES)})")
    if args.level is not None and args.level not in LEVELS:
        raise UsageError(f"unknown taxonomy level {args.level!r} (levels: {', '.join(LEVELS)})")
    if args.task_id is not None and (args.step_cap is not None or args.precision is not None):
        raise UsageError("give --task-id or --step-cap/--precision, not both (a task id already fixes them)")
    reg = open_registry(args)
    arena, task = _arena_and_task(args)
    genomes, _ = _genomes(args, reg, arena.gene_spec.name)
    if args.task_id is not None:
        task = _task_by_id(reg, arena, genomes, args.task_id)
    if args.runs is not None and args.runs < 1:
        raise UsageError(f"--runs must be >= 1, got {args.runs}")
    seeds = (range(args.seed_start, args.seed_start + args.runs) if args.runs is not None
             else parse_seeds(args.seeds) if args.seeds else None)
    level = args.level or default_level_of_labels(reg.species_labels(arena.gene_spec.name))
    data = ChartData.from_registry(reg, genomes, task, seeds, group_genomes(args.group_by, genomes, reg, level), args.hide)
    if data.trials.empty:
        raise UsageError(_no_trials_message(reg, arena, genomes, task, seeds is not None))
    if args.gene is not None and f"gene:{args.gene}" not in data.trials.columns:
        genes = [c.removeprefix("gene:") for c in data.trials.columns if c.startswith("gene:")]
        raise UsageError(f"unknown gene {args.gene!r} (genes: {', '.join(genes)})")
    style = ChartStyle(gene=args.gene)
    out = Path(args.out)
    staging, created = _writable_folder(out)
    try:  # everything is drawn into a hidden folder first, so a failure leaves nothing half-written
        files = [p for kind in kinds for p in export_chart(kind, data, staging, formats=formats, dpi=args.dpi,
                                                           size=args.size, style=style)]
        for path in files:
            os.replace(path, out / path.name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    groups = data.visible_groups
    print(f"{len(data.visible())} trial(s) of {len(genomes)} genome(s) in {len(groups)} group(s) on task "
          f"{task.task_id} ({_task_words(reg, arena, task)}): wrote {len(kinds)} chart(s) x {len(formats)} "
          f"format(s) + CSV to {out}")
    for path in files:
        print(f"  {out / path.name}")
    return 0


def cmd_phylogeny(args: argparse.Namespace) -> int:
    from lab.analysis.phylogeny import LEVELS, PhylogenyError, map_registry
    from lab.arenas import load_gene_specs
    from lab.genome import spec_names

    load_gene_specs()
    if args.spec not in spec_names():
        raise UsageError(f"unknown gene spec {args.spec!r} (specs: {', '.join(spec_names())})")
    if args.level is not None and args.level not in LEVELS:
        raise UsageError(f"unknown taxonomy level {args.level!r} (levels: {', '.join(LEVELS)})")
    scope, tag = ("tag", args.tag) if args.tag is not None else ("hall", "") if args.hall_of_fame else ("all", "")
    if args.html is not None and Path(args.html).suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--html {args.html} does not end in .html")
    reg = open_registry(args)
    try:
        phylo, perf = map_registry(reg, args.spec, scope, tag)
    except PhylogenyError as exc:
        raise UsageError(str(exc)) from None
    level = args.level or phylo.default_level()
    ex = ", ".join(f"PC{i + 1} {v:.0%}" for i, v in enumerate(phylo.explained))
    print(f"{len(phylo.genomes)} {args.spec} genomes mapped (explained variance: {ex}); species stored in {reg.root}")
    print("  ".join(f"{lv} {k}" for lv, k in zip(LEVELS, phylo.counts())))
    why = "" if args.level else " (the finest level whose median species has 2+ members; --level for another)"
    print(f"\n{level}{why}:")
    for sp in phylo.level_species(level):
        parent = "" if sp.parent is None else f"  (in {phylo.species[LEVELS[LEVELS.index(level) - 1]][sp.parent].name})"
        print(f"  {sp.size:>4}  {sp.name}{parent}")
    if args.html is not None:
        from lab.analysis.phylogeny_html import write_html
        path = write_html(args.html, phylo, perf, level)
        print(f"\nwrote {path} (open it in a browser, or: python -m lab.analysis.webview {path})")
    return 0


def add_parsers(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``stress``, ``charts`` and ``phylogeny`` subcommands to the main parser."""
    p = top.add_parser("phylogeny", parents=[common], help="Phylogeny: map genomes to 3D, name species at seven "
                       "levels, store them in the registry", description="PCA of the standardised genes to 3D, "
                       "Ward clustering cut at Domain .. Genus, species named by their most deviating genes; the "
                       "labels are stored in the registry (the species grouping of `charts` reads them).")
    p.add_argument("--spec", default="grokking", help="gene spec to map (default grokking)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--hall-of-fame", action="store_true", help="map the Hall of Fame only")
    which.add_argument("--tag", default=None, help="map the registry's genomes with this tag only")
    p.add_argument("--level", default=None, help="level whose species are listed (default: the finest level whose "
                   "median species has two or more members)")
    p.add_argument("--html", default=None, metavar="FILE", help="also write the interactive 3D page")
    p.set_defaults(func=cmd_phylogeny)

    p = top.add_parser("stress", parents=[common], help="Stress Chamber: run genomes over many seeds (Smart Fill)",
                       description="Run every chosen genome on seeds SEED_START .. SEED_START+RUNS-1. Smart Fill: "
                       "trials already in the registry are not run again.")
    _add_selection(p)
    p.add_argument("--runs", type=int, required=True, help="seeds per genome")
    p.add_argument("--seed-start", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    add_backend_options(p)
    p.set_defaults(func=cmd_stress)

    p = top.add_parser("charts", parents=[common], help="Stress Chamber charts from recorded trials, for papers",
                       description="Draw analysis charts from trials already in the registry (no training) and "
                       "write each as the chosen formats plus a CSV of the data behind it.")
    _add_selection(p)
    p.add_argument("--kind", action="append", metavar="NAME",
                   help="a chart name or all (the default); repeatable, comma-separated; a wrong name lists them")
    p.add_argument("--format", action="append", metavar="FMT", help="pdf (default), png or svg (repeatable, "
                   "comma-separated)")
    p.add_argument("--dpi", type=int, default=300, help="resolution of PNG files (default 300)")
    p.add_argument("--size", default="single", help="single (3.5 in, one column; default) or double (7.2 in)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the files (created if needed)")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--runs", type=int, default=None, help="only seeds SEED_START .. SEED_START+RUNS-1")
    seeds.add_argument("--seeds", default=None, help="only these seeds: a count (5), a range (10-14) or a list")
    p.add_argument("--seed-start", type=int, default=0, help="first seed with --runs (default 0)")
    from lab.analysis.stress import GROUPING_NAMES
    p.add_argument("--group-by", default="genome", metavar="GROUPING",
                   help=f"{' or '.join(GROUPING_NAMES)} (default genome; tag: a genome's first tag; species: "
                        "as the Phylogeny tab last classified them, see --level)")
    p.add_argument("--level", default=None, help="taxonomy level of --group-by species: Domain, Kingdom, Phylum, "
                   "Class, Order, Family or Genus (default: the finest whose median species has 2+ members)")
    p.add_argument("--hide", action="append", default=[], metavar="GROUP", help="leave a group out (repeatable)")
    p.add_argument("--gene", default=None, help="the gene of the genes chart's scatter (default: most correlated)")
    p.add_argument("--task-id", default=None, metavar="ID",
                   help="chart the trials of this task (an id or a unique prefix; default: the arena's default "
                        "task, or --step-cap's); with no trials on the chosen task, the tasks that have some "
                        "are listed")
    p.set_defaults(func=cmd_charts)
