"""``python main.py sweep``: one gene of a genome swept over values and seeds with Smart Fill, and the
metric against the gene's values with 95% intervals (lab.analysis.sweep)."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from lab.cli.common import UsageError, add_backend_options, add_task_options, open_registry


def task_with(task: Any, items: list[str]) -> Any:
    """``task`` with FIELD=VALUE settings (each value read as the field's type); UsageError names a
    field the task has not or a value it refuses."""
    fields = {f.name: f for f in dataclasses.fields(task)}
    changes: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in fields:
            raise UsageError(f"--task {item!r}: give FIELD=VALUE with a field of the task "
                             f"({', '.join(fields)})")
        current = getattr(task, name)
        try:
            if isinstance(current, bool):
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(f"{text!r} is not true or false")
                changes[name] = text.lower() in ("true", "1")
            else:
                changes[name] = type(current)(text) if current is not None else text
        except (TypeError, ValueError) as exc:
            raise UsageError(f"--task {item!r}: {exc}") from None
    try:
        return dataclasses.replace(task, **changes)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--task: {' '.join(str(exc).split())}") from None


def cmd_sweep(args: argparse.Namespace) -> int:
    from lab.analysis.sweep import default_metric, parse_values, plan_sweep, sweep_genomes, sweep_table
    from lab.arenas import get_arena
    from lab.arenas.base import device_label
    from lab.cli.analysis import _genomes, smart_fill
    from lab.cli.common import apply_task_options

    if args.runs < 1:
        raise UsageError(f"--runs must be >= 1, got {args.runs}")
    formats = _formats(args.format)
    reg = open_registry(args)
    arena = get_arena(args.arena)
    task = task_with(apply_task_options(arena.default_task(), args), args.task or [])
    args.refs, args.tag, args.hall_of_fame = [args.genome], False, False
    (base, *_), from_files = _genomes(args, reg, arena.gene_spec.name)
    try:
        gene = arena.gene_spec.gene(args.gene)
    except KeyError:
        raise UsageError(f"{arena.gene_spec.name} genomes have no gene {args.gene!r} "
                         f"(genes: {', '.join(arena.gene_spec.keys)})") from None
    try:
        genomes = sweep_genomes(base, gene.key, parse_values(args.values, gene))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    metric = args.metric or default_metric(arena)
    plan = plan_sweep(reg, genomes, task, args.runs, args.seed_start)
    device = arena.resolve_device(args.device)
    reg.add_genomes([*from_files, *genomes])   # the Stress Chamber and `charts` find the variants by name
    print(f"{gene.key} = {', '.join(f'{g.genes[gene.key]:g}' for g in genomes)} of {base.label}, seeds "
          f"{plan.seeds[0]}-{plan.seeds[-1]} on task {task.task_id} ({device_label(device)}): "
          f"{plan.existing} trials exist, {plan.to_run} will run")
    interrupted = smart_fill(reg, arena, plan, device, args)
    table = sweep_table(reg, genomes, gene.key, task.task_id, plan.seeds, metric)
    width = max(12, len(gene.key))
    print(f"{gene.key:>{width}}  {'runs':>4}  {metric + ' mean [95% CI]':>28}  {'success [95% CI]':>22}")
    for row in table.itertuples():
        acc = "-" if row.metric_n == 0 else f"{row.metric_mean:.3f} [{row.metric_low:.3f}, {row.metric_high:.3f}]"
        print(f"{row.value:>{width}g}  {row.runs:>4}  {acc:>28}  "
              f"{row.success_rate:>6.0%} [{row.success_low:.2f}, {row.success_high:.2f}]")
    if args.out:
        _write(Path(args.out), formats, table, gene, metric)
    if interrupted:
        print("stopped: the trials that finished are recorded; run the same command again to fill in the rest",
              file=sys.stderr)
        return 130
    return 0


def _formats(given: list[str] | None) -> tuple[str, ...]:
    from lab.analysis.export import check_formats
    try:
        return check_formats([f for part in (given or ["pdf,png,svg"]) for f in part.split(",") if f])
    except ValueError as exc:
        raise UsageError(f"--format: {exc}") from None


def _write(out: Path, formats: tuple[str, ...], table: Any, gene: Any, metric: str) -> None:
    from lab.analysis.export import export_figure
    from lab.analysis.sweep import draw_sweep
    from lab.files import atomic_write_text

    stem = f"sweep-{gene.key}"
    paths = [atomic_write_text(out / f"{stem}.csv", table.to_csv(index=False))]
    paths += export_figure(lambda fig: draw_sweep(fig, table, gene.label, metric), out, stem, formats,
                           figsize=(6.0, 4.2))
    print(f"wrote {', '.join(str(p) for p in paths)}")


def add_parsers(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from lab.arenas import arena_names

    p = top.add_parser("sweep", parents=[common], help="sweep one gene of a genome over values and seeds "
                       "(Smart Fill); its metric against the values with 95%% intervals",
                       description="Variants of GENOME that differ only in --gene run on seeds SEED_START .. "
                       "SEED_START+RUNS-1 (trials already in the registry are not run again); prints, and with "
                       "--out draws and writes, the metric's mean and the success rate per value with 95%% "
                       "intervals. Example: the GENREG architecture sweep, `sweep genreg-readme --arena genreg "
                       "--gene hidden --values 16,32,64,128,256 --runs 5`.")
    p.add_argument("genome", metavar="GENOME", help="the genome swept: file, id, id prefix or name")
    p.add_argument("--arena", choices=arena_names(), default="grokking")
    p.add_argument("--gene", required=True, help="the gene swept")
    p.add_argument("--values", required=True, help="its values, comma-separated (within the gene's bounds)")
    p.add_argument("--runs", type=int, default=5, help="seeds per value (default 5)")
    p.add_argument("--seed-start", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--metric", default=None, help="trial metric charted (default: test_acc; grokking: "
                   "final_val_acc)")
    p.add_argument("--task", action="append", metavar="FIELD=VALUE", help="a task setting, e.g. dataset=mnist "
                   "(repeatable; a different task is a different task_id)")
    add_task_options(p)
    p.add_argument("--out", metavar="DIR", help="write the chart (sweep-GENE.pdf/png/svg) and its table as CSV there")
    p.add_argument("--format", action="append", metavar="FMT", help="chart formats (default pdf,png,svg)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    add_backend_options(p)
    p.set_defaults(func=cmd_sweep)
