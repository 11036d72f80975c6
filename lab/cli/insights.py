"""``python main.py insights KIND``: the Insights tab's views from the command line, over the registry's
trials of one task: ``importance`` (which genes matter, with the model's held-out score, and how the
top ones interact), ``parallel``, ``slice``, ``contour``, ``propose`` (new genomes predicted to do
best, with the model's uncertainty), and a run's ``genealogy`` and ``compare`` of runs."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lab.cli.common import UsageError, add_task_options, apply_task_options, open_registry

MODEL_KINDS = ("importance", "parallel", "slice", "contour", "propose")


def _setup(args: argparse.Namespace) -> tuple[Any, Any, Any, dict, dict]:
    """(registry, data, arena, fits, skipped) for the arena, task and filters the options name."""
    from lab.analysis.insight_model import fit_all
    from lab.analysis.insights import Filters, insight_data
    from lab.arenas import get_arena
    reg = open_registry(args)
    arena = get_arena(args.arena)
    task = apply_task_options(arena.default_task(), args)
    if args.task_id:
        task = args.task_id
    try:
        filters = Filters(args.top_k, args.tag or "", args.run or "", args.hall_of_fame, args.min_trials)
    except ValueError as exc:
        raise UsageError(f"--{exc}") from None
    data = insight_data(reg, arena.gene_spec, task, filters)
    needs_h = args.kind == "importance"
    needs_model = args.kind != "parallel" or args.axes > 0   # parallel: to order the top genes
    fits, skipped = fit_all(data, args.seed, interactions=needs_h) if needs_model else ({}, {})
    return reg, data, arena, fits, skipped


def _gene(data: Any, key: str) -> str:
    if key not in data.genes:
        raise UsageError(f"{data.spec.name} genomes have no gene {key!r} (genes: {', '.join(data.genes)})")
    return key


def _outcome(fits: dict, key: str | None) -> str:
    if key is None:
        return "median_steps" if "median_steps" in fits else next(iter(fits))
    if key not in fits:
        raise UsageError(f"--outcome {key!r}: no model of it here (models: {', '.join(fits)})")
    return key


def _brushes(data: Any, items: list[str]) -> dict[str, tuple[float, float]]:
    """GENE=LOW:HIGH in the gene's own units -> unit-space ranges."""
    out = {}
    for item in items:
        key, sep, rest = item.partition("=")
        lo_text, colon, hi_text = rest.partition(":")
        if not sep or not colon:
            raise UsageError(f"--brush {item!r}: give GENE=LOW:HIGH, e.g. learning_rate=0.001:0.01")
        gene = data.spec.gene(_gene(data, key))
        try:
            lo, hi = float(lo_text), float(hi_text)
            out[key] = (gene.to_unit(min(lo, hi)), gene.to_unit(max(lo, hi)))
        except (ValueError, OverflowError):
            raise UsageError(f"--brush {item!r}: LOW and HIGH must be numbers inside the gene's range") from None
    return out


def cmd_insights(args: argparse.Namespace) -> int:
    from lab.analysis.insight_tables import export_view
    reg, data, arena, fits, skipped = _setup(args)
    print(f"{len(data.frame)} {data.spec.name} genomes with trials on task {data.task_id} "
          f"({data.filters.describe()})")
    for key, why in skipped.items():
        print(f"  no model of {key}: {why}")
    for fit in fits.values():
        print(f"  {fit.describe()}")
    options: dict[str, Any] = {}
    if args.kind == "importance":
        _print_importance(fits, data)
    elif args.kind == "parallel":
        from lab.analysis.insight_charts import axis_positions, brushed, parallel_axes, shown_genes
        if args.axes < 0:
            raise UsageError(f"--axes must be 0 (every gene) or more, got {args.axes}")
        options["axis_genes"] = shown_genes(fits, args.axes)
        options["brushes"] = _brushes(data, args.brush or [])
        options["colour_by"] = args.colour_by
        if args.colour_by == "species":
            options["species"] = {g: names.get(args.level, "") for g, names in
                                  reg.species_labels(data.spec.name).items()}
        elif args.colour_by not in [o.key for o in data.outcomes]:
            raise UsageError(f"--colour-by {args.colour_by!r}: one of species, "
                             f"{', '.join(o.key for o in data.outcomes)}")
        axes = parallel_axes(data, options["axis_genes"])
        chosen = brushed(axis_positions(data, axes), axes, options["brushes"])
        print(f"{int(chosen.sum())} of {len(chosen)} genomes inside the brushes:")
        for gid, label in zip(data.frame["genome_id"][chosen], data.frame["label"][chosen]):
            print(f"  {gid}  {label}")
    elif args.kind == "slice":
        options["outcome"] = _outcome(fits, args.outcome)
        fit = fits[options["outcome"]]
        options["gene"] = _gene(data, args.gene) if args.gene else fit.ranked_genes()[0]
        print(f"slice: {fit.outcome.label} against {options['gene']}")
    elif args.kind == "contour":
        options["outcome"] = _outcome(fits, args.outcome)
        fit = fits[options["outcome"]]
        pair = [_gene(data, g) for g in args.genes] if args.genes else fit.ranked_genes()[:2]
        if len(set(pair)) != 2:
            raise UsageError("--genes: name two different genes")
        options["genes"] = tuple(pair)
        print(f"contour: {fit.outcome.label} over {pair[0]} x {pair[1]}")
    else:
        options["proposals"] = _propose(args, reg, data, fits)
    if args.out:
        formats = [f for part in (args.format or ["png,svg,pdf"]) for f in part.split(",") if f]
        try:
            written = export_view(args.kind, Path(args.out), data, fits, formats=formats, **options)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        print(f"wrote {', '.join(str(p) for p in written)}")
    return 0


def _print_importance(fits: dict, data: Any) -> None:
    labels = {g.key: g.label for g in data.spec.genes}
    for key, fit in fits.items():
        print(f"{fit.outcome.label} (held-out R² {fit.score:.2f}{'' if fit.trusted else ', NOT trusted'}):")
        for gene in fit.ranked_genes()[:8]:
            mean, sd = fit.importance[gene]
            print(f"  {labels[gene]:<22} {mean:7.3f} ± {sd:.3f}")
        for (a, b), h in sorted(fit.interactions.items(), key=lambda kv: -kv[1])[:3]:
            print(f"  interaction {labels[a]} x {labels[b]}: H² {h:.2f}")


def _propose(args: argparse.Namespace, reg: Any, data: Any, fits: dict) -> list:
    from lab.analysis.insight_model import propose
    if args.n < 1:
        raise UsageError(f"--n must be at least 1, got {args.n}")
    proposals = propose(data, fits, args.n, seed=args.seed, tags=("proposed",))
    for i, p in enumerate(proposals, start=1):
        print(f"{i:>2}. {p.genome.id}  objective {p.objective:.0f} ± {p.objective_sd:.0f}  {p.describe()}")
    if args.save:
        reg.add_genomes([p.genome for p in proposals])
        print(f"saved {len(proposals)} genome(s) tagged 'proposed' (evolve --seed-from tag:proposed, or "
              f"--seed-from proposed:N to propose afresh at the start of a run)")
    return proposals


def add_parsers(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from lab.analysis.phylogeny import LEVELS
    from lab.arenas import arena_names
    insights = top.add_parser("insights", help="which genes matter, slices, contours, parallel coordinates, "
                              "proposals; a run's genealogy and runs compared")
    sub = insights.add_subparsers(dest="kind", metavar="KIND", required=True)
    helps = {"importance": "gene importance per outcome (random forest, held-out R², interactions H²)",
             "parallel": "parallel coordinates of genes and outcomes, with --brush ranges",
             "slice": "an outcome against one gene (model and genomes)",
             "contour": "an outcome over two genes (default: the two most important)",
             "propose": "N new genomes predicted to do best, with the model's uncertainty"}
    for kind in MODEL_KINDS:
        p = sub.add_parser(kind, parents=[common], help=helps[kind])
        p.add_argument("--arena", choices=arena_names(), default="grokking")
        p.add_argument("--task-id", default=None, help="the trials of this task id (default: the arena's "
                       "task with the task options below)")
        add_task_options(p)
        p.add_argument("--top-k", type=int, default=0, help="only the K best genomes (success, then median)")
        p.add_argument("--tag", default=None, help="only genomes carrying this tag")
        p.add_argument("--run", default=None, metavar="RUN_ID", help="only genomes that lived in this run")
        p.add_argument("--hall-of-fame", action="store_true", help="only Hall-of-Fame genomes")
        p.add_argument("--min-trials", type=int, default=1, help="only genomes with this many finished trials")
        p.add_argument("--seed", type=int, default=0, help="the model's random seed")
        p.add_argument("--out", metavar="DIR", help="write the chart (PNG/SVG/PDF) and its table (CSV) there")
        p.add_argument("--format", action="append", metavar="FMT", help="chart formats (default png,svg,pdf)")
        if kind in ("slice", "contour"):
            p.add_argument("--outcome", default=None, help="success, median_steps or test_acc (default: median_steps)")
        if kind == "slice":
            p.add_argument("--gene", default=None, help="the gene (default: the most important)")
        if kind == "contour":
            p.add_argument("--genes", nargs=2, metavar="GENE", help="the two genes")
        if kind == "parallel":
            p.add_argument("--colour-by", default="success", help="success, median_steps, test_acc or species")
            p.add_argument("--level", choices=LEVELS, default="Family", help="species level (--colour-by species)")
            p.add_argument("--axes", type=int, default=0, metavar="N", help="only the N most important genes "
                           "(fits the model to rank them; default 0: every gene)")
            p.add_argument("--brush", action="append", metavar="GENE=LOW:HIGH", help="keep genomes in this "
                           "range of a gene, in its own units (repeatable)")
        if kind == "propose":
            p.add_argument("--n", type=int, default=8, help="how many genomes (default 8)")
            p.add_argument("--save", action="store_true", help="add them to the registry, tagged 'proposed'")
        p.set_defaults(func=cmd_insights)
    from lab.cli.run_history import add_compare_parser, add_genealogy_parser
    add_genealogy_parser(sub, common)
    add_compare_parser(sub, common)
