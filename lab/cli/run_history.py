"""Commands over saved Evolution Lab runs: ``runs list`` and ``runs export`` (tables and paper figures
of a run), and the ``insights genealogy`` and ``insights compare`` actions, whose parsers the insights
command group adds through :func:`add_genealogy_parser` and :func:`add_compare_parser`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from lab.cli.common import UsageError, open_registry

DEFAULT_FORMATS = ("png", "svg", "pdf")


def cmd_runs_list(args: argparse.Namespace) -> int:
    from lab.evolution import run_files
    from lab.registry import RegistryError

    reg = open_registry(args)
    infos = run_files.run_infos(reg)
    if not infos:
        print(f"no runs in {reg.root}")
        return 0
    width = max(len("id"), *(len(i.run_id) for i in infos))
    print(f"{'id':<{width}}  {'arena':<9} {'generations':>11}  state")
    for info in infos:
        try:   # the arena is in run.json; a run too damaged to read shows none
            arena = str(run_files.read_run(reg, info.run_id)[0]["settings"].get("arena", "-"))
        except RegistryError:
            arena = "-"
        done = f"{info.generation}/{info.generations}" if info.readable else "-"
        print(f"{info.run_id:<{width}}  {arena:<9} {done:>11}  {info.state}")
    return 0


def cmd_runs_export(args: argparse.Namespace) -> int:
    from lab.analysis.run_history import export_run

    formats = parse_formats(args.formats)
    paths = export_run(open_registry(args), args.run, Path(args.out), formats)
    _wrote(paths)
    return 0


def cmd_genealogy(args: argparse.Namespace) -> int:
    from lab.analysis.genealogy import genealogy
    from lab.analysis.run_history import export_genealogy

    formats = parse_formats(args.formats)
    tree = genealogy(open_registry(args), args.run)
    winner = tree.winner()
    print(f"run {tree.run_id}: {len(tree.nodes)} genomes over {len(tree.generations())} generations")
    if tree.parents_from_registry:
        print("note: this run predates parents in its history; parents are the registry's first-written ones")
    print(f"winner: {_label(winner)}, generation {winner.generation}, fitness {winner.fitness:g}, "
          f"success {winner.success:.0%}")
    print("line of descent (generation 1 first):")
    for step in tree.line_of_descent(winner):
        node = tree.nodes[step.node]
        changes = ", ".join(f"{key} {old:g} -> {new:g}" for key, old, new in step.changes)
        if step.parent is None:
            changes = "(first of the line)"
        print(f"  {node.generation:>4}  {node.operator:<9} {_label(node):<28} fitness {node.fitness:>10g}  "
              f"{changes or '(no gene changed)'}")
    if args.out:
        _wrote(export_genealogy(tree, Path(args.out), formats))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from lab.analysis.run_history import compare_frame, export_compare

    if len(args.runs) < 2:
        raise UsageError("name at least two runs to compare")
    formats = parse_formats(args.formats)
    frame = compare_frame(open_registry(args), args.runs)
    width = max(len("run"), *(len(r) for r in args.runs))
    print(f"{'run':<{width}}  {'arena':<9} {'gen':>4} {'best':>10} {'mean':>10} {'success':>8} {'divers.':>8}")
    for row in frame.itertuples():
        print(f"{row.run_id:<{width}}  {row.arena:<9} {row.generation:>4} {row.best_fitness:>10.1f} "
              f"{row.mean_fitness:>10.1f} {row.success_rate:>8.0%} {row.diversity:>8.3f}")
    if args.out:
        _wrote(export_compare(frame, Path(args.out), formats))
    return 0


def parse_formats(given: list[str] | None) -> tuple[str, ...]:
    """``["png,svg"]`` (or ``["png", "svg"]``) -> ("png", "svg"); a UsageError names an unknown format."""
    from lab.analysis.export import check_formats
    try:
        return check_formats([f.strip() for part in (given or DEFAULT_FORMATS) for f in part.split(",") if f.strip()])
    except ValueError as exc:
        raise UsageError(f"--formats: {exc}") from None


def _label(node) -> str:
    return f"{node.name} ({node.genome_id[:8]})" if node.name else node.genome_id[:8]


def _wrote(paths: list[Path]) -> None:
    print(f"wrote {len(paths)} file(s):")
    for path in paths:
        print(f"  {path}")


def _add_formats(p: argparse.ArgumentParser) -> None:
    # --format too, repeatable, as `sweep` and the other insights spell it
    p.add_argument("--formats", "--format", dest="formats", action="append", default=None, metavar="LIST",
                   help=f"chart formats, comma-separated (default {','.join(DEFAULT_FORMATS)})")


def add_parsers(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``runs`` command group (list, export) to the main parser."""
    runs = top.add_parser("runs", help="saved evolution runs: list them, export one as tables and figures")
    sub = runs.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("list", parents=[common], help="the saved runs: id, arena, generations, state")
    p.set_defaults(func=cmd_runs_list)
    p = sub.add_parser("export", parents=[common], help="a run's tables (CSV) and charts, for papers",
                       description="Writes history.csv, genomes.csv, trials.csv and genealogy.csv, and the "
                       "fitness, success, diversity and genealogy charts in each format, into --out; a run "
                       "that cannot be read writes nothing.")
    p.add_argument("run", metavar="RUN", help="run id (see `runs list`)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder the files are written to")
    _add_formats(p)
    p.set_defaults(func=cmd_runs_export)


def add_genealogy_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``genealogy`` to the insights actions."""
    p = sub.add_parser("genealogy", parents=[common], help="a run's winner and its line of descent, with the "
                       "genes changed at each step")
    p.add_argument("run", metavar="RUN", help="run id (see `runs list`)")
    p.add_argument("--out", metavar="DIR", help="write genealogy.csv and the family tree chart there")
    _add_formats(p)
    p.set_defaults(func=cmd_genealogy)


def add_compare_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``compare`` to the insights actions."""
    p = sub.add_parser("compare", parents=[common], help="runs side by side: best and mean fitness, success "
                       "and diversity per generation")
    p.add_argument("runs", nargs="+", metavar="RUN", help="two or more run ids (see `runs list`)")
    p.add_argument("--out", metavar="DIR", help="write compare.csv and the comparison chart there")
    _add_formats(p)
    p.set_defaults(func=cmd_compare)
