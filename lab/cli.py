"""Command line of the lab: no arguments opens the window; subcommands work headless.

``python main.py genome new|show|validate|mutate|cross|splice|diff|spec`` and
``python main.py registry list|import|export|trash|hof`` and ``python main.py trials run|show`` (plus ``evolve``,
``stress`` and ``charts`` from ``lab.cli_runs`` and ``lab.cli_analysis``). Gene choices and help texts come from
the gene table. Bad input ends with exit code 2 and a one-line message, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lab import __version__
from lab.backends import BackendConfig, BackendError
from lab.genome import (Genome, GenomeError, clone, crossover, diff, distance, get_spec, mutate,
                        random_genome, spec_names, splice)
from lab.registry import Registry, RegistryError, read_genome_file

EXIT_BAD_INPUT = 2
HEADLESS_HELP = """headless commands:
  python main.py genome new|show|validate|mutate|cross|clone|splice|diff|spec ...
  python main.py registry list|import|export|trash|hof ...
  python main.py trials run|show ...
  python main.py evolve --population 16 --seeds 3 --generations 10 ... | --resume RUN_ID
  python main.py stress GENOME_OR_TAG ... --runs N [--tag] [--hall-of-fame]
  python main.py charts GENOME_OR_TAG ... --kind NAME|all --format pdf --out DIR
  python main.py m2n2 --passes 50000 --seed 0 [--alpha 0 --partner fitness] ...
  python main.py <command> --help   for the options of each"""


class UsageError(Exception):
    """Bad input from the command line: reported in one line with exit code 2."""


# ---- helpers ------------------------------------------------------------------------------------
def _registry(args: argparse.Namespace) -> Registry:
    return Registry(args.registry)


def _load_ref(ref: str, args: argparse.Namespace) -> Genome:
    """A genome from a JSON file path, or from the registry by id or unique id prefix."""
    path = Path(ref)
    if path.suffix == ".json" or path.exists():
        genomes = read_genome_file(path)
        if len(genomes) != 1:
            raise UsageError(f"{ref} holds {len(genomes)} genomes; name one by id instead")
        return genomes[0]
    reg = _registry(args)
    return reg.get_genome(reg.resolve(ref))


def _parse_sets(spec_name: str, pairs: Sequence[str]) -> dict[str, float]:
    spec = get_spec(spec_name)
    values, problems = {}, []
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            problems.append(f"--set expects GENE=VALUE, got {pair!r}")
        elif key not in spec.keys:
            problems.append(f"unknown gene `{key}` (genes: {', '.join(spec.keys)})")
        else:
            try:
                values[key] = float(text)
            except ValueError:
                problems.append(f"gene `{key}` = {text!r} is not a number")
                continue
            problem = spec.gene(key).check(values[key])
            if problem:
                problems.append(problem)
    if problems:
        raise GenomeError(problems)
    return values


def _emit(genome: Genome, args: argparse.Namespace) -> None:
    """Write a new genome where the user asked: --out FILE, --save (registry), else stdout JSON."""
    if getattr(args, "out", None):
        genome.save(args.out)
        print(f"wrote {genome.label} to {args.out}")
    if getattr(args, "save", False):
        reg = _registry(args)
        reg.add_genome(genome)
        print(f"saved {genome.label} to {reg.root}")
    if not getattr(args, "out", None) and not getattr(args, "save", False):
        sys.stdout.write(genome.to_json())


def _meta(args: argparse.Namespace) -> dict:
    meta = {}
    if getattr(args, "name", None) is not None:
        meta["name"] = args.name
    if getattr(args, "notes", None) is not None:
        meta["notes"] = args.notes
    if getattr(args, "tag", None):
        meta["tags"] = tuple(args.tag)
    return meta


def _format_genome(g: Genome) -> str:
    lines = [f"{g.label}   spec {g.spec.name}   origin {g.origin}   created {g.created}"]
    if g.parents:
        lines.append(f"parents: {', '.join(g.parents)}")
    if g.tags:
        lines.append(f"tags: {', '.join(g.tags)}")
    if g.notes:
        lines.append(f"notes: {g.notes}")
    for group, keys in g.spec.groups.items():
        lines.append(f"\n[{group}]")
        for key in keys:
            gene = g.spec.gene(key)
            lines.append(f"  {key:<18} {g.genes[key]:>12g}   {gene.describe_bounds():<34} {gene.doc}")
    return "\n".join(lines)


# ---- genome commands ----------------------------------------------------------------------------
def cmd_genome_new(args: argparse.Namespace) -> int:
    spec = get_spec(args.spec)
    if args.random:
        genes, origin = dict(random_genome(spec, np.random.default_rng(args.seed)).genes), "alien"
    else:
        genes, origin = spec.defaults(), "forge"
    genes.update(_parse_sets(args.spec, args.set))
    _emit(Genome(spec, genes, origin=origin, **_meta(args)), args)
    return 0


def cmd_genome_show(args: argparse.Namespace) -> int:
    g = _load_ref(args.ref, args)
    if args.json:
        sys.stdout.write(g.to_json())
    else:
        print(_format_genome(g))
    return 0


def cmd_genome_validate(args: argparse.Namespace) -> int:
    bad = 0
    for path in args.files:
        try:
            genomes = read_genome_file(path)
        except GenomeError as exc:
            bad += 1
            print(f"INVALID {path}")
            for problem in exc.problems:
                print(f"  - {problem}")
            continue
        print(f"OK      {path}: " + ", ".join(g.label for g in genomes))
    if bad:
        print(f"error: {bad} of {len(args.files)} file(s) invalid", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def cmd_genome_mutate(args: argparse.Namespace) -> int:
    parent = _load_ref(args.ref, args)
    child = mutate(parent, np.random.default_rng(args.seed), rate=args.rate, sigma=args.sigma, **_meta(args))
    _emit(child, args)
    return 0


def cmd_genome_cross(args: argparse.Namespace) -> int:
    a, b = _load_ref(args.a, args), _load_ref(args.b, args)
    _emit(crossover(a, b, np.random.default_rng(args.seed), blend=args.blend, **_meta(args)), args)
    return 0


def cmd_genome_clone(args: argparse.Namespace) -> int:
    _emit(clone(_load_ref(args.ref, args), **_meta(args)), args)
    return 0


def cmd_genome_splice(args: argparse.Namespace) -> int:
    recipient, donor = _load_ref(args.recipient, args), _load_ref(args.donor, args)
    genes = [k.strip() for item in args.genes for k in item.split(",") if k.strip()]
    _emit(splice(recipient, donor, genes, **_meta(args)), args)
    return 0


def cmd_genome_diff(args: argparse.Namespace) -> int:
    a, b = _load_ref(args.a, args), _load_ref(args.b, args)
    rows = diff(a, b)
    print(f"{a.label}  vs  {b.label}   distance {distance(a, b):.4f} (normalised, 0..1)")
    if not rows:
        print("identical genes")
    for key, va, vb in rows:
        print(f"  {key:<18} {va:>12g} -> {vb:<12g}")
    return 0


def cmd_genome_spec(args: argparse.Namespace) -> int:
    spec = get_spec(args.spec)
    if args.markdown:
        print(spec.markdown_table())
        return 0
    print(f"{spec.title}  (spec `{spec.name}`, {len(spec.genes)} genes in {len(spec.groups)} groups)")
    for group, keys in spec.groups.items():
        print(f"\n[{group}]")
        for key in keys:
            g = spec.gene(key)
            print(f"  {key:<18} default {g.default:<8g} {g.describe_bounds():<34} {g.doc}")
    return 0


# ---- registry commands --------------------------------------------------------------------------
def cmd_registry_list(args: argparse.Namespace) -> int:
    reg = _registry(args)
    if args.hall_of_fame:
        genomes = reg.hall_of_fame_genomes()
    else:
        genomes = reg.list_genomes(spec=args.spec, tag=args.tag, origin=args.origin, name=args.name)
    counts: dict[str, int] = {}
    for t in reg.trials():
        counts[t.genome_id] = counts.get(t.genome_id, 0) + 1
    aliases = reg.aliases()   # other names users saved a genome under (README: The registry)
    rows = [(g.id, g.name or "-", ", ".join(aliases.get(g.id, [])) or "-", g.spec.name, g.origin,
             str(counts.get(g.id, 0)), ",".join(g.tags)) for g in genomes]
    head = ("id", "name", "also named", "spec", "origin", "trials", "tags")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print("  ".join(cell.rjust(w) if i == 5 else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
    print(f"{len(genomes)} genome(s) in {reg.root}")
    for problem in reg.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


def cmd_registry_import(args: argparse.Namespace) -> int:
    report = _registry(args).import_paths(args.paths)
    print(report.summary())
    return 0 if report.ok else EXIT_BAD_INPUT


def cmd_registry_export(args: argparse.Namespace) -> int:
    reg = _registry(args)
    ids = reg.genome_ids() if args.all else args.ids
    if not ids:
        raise UsageError("name genome ids to export, or --all")
    written = reg.export_genomes(ids, args.out)
    print(f"exported {len(ids)} genome(s) to {args.out} ({len(written)} file(s))")
    return 0


def cmd_registry_trash(args: argparse.Namespace) -> int:
    reg = _registry(args)
    if args.list:
        for gid in reg.trash_ids():
            print(gid)
        return 0
    if not args.ids:
        raise UsageError("name genome ids to move to the trash (or --list, --restore)")
    for ref in args.ids:
        if args.restore:
            g = reg.restore_genome(ref)
            print(f"restored {g.label}")
        else:
            dest = reg.delete_genome(reg.resolve(ref))
            print(f"moved {dest.stem} to {dest.parent}")
    return 0


def cmd_registry_hof(args: argparse.Namespace) -> int:
    reg = _registry(args)
    if args.add:
        g = reg.get_genome(reg.resolve(args.add))
        print(("admitted " if reg.add_to_hall_of_fame(g, note=args.note or "") else "already in: ") + g.label)
    elif args.remove:
        gid = reg.resolve(args.remove)
        print(("removed " if reg.remove_from_hall_of_fame(gid) else "not in the Hall of Fame: ") + gid)
    else:
        for e in reg.hall_of_fame():
            print(f"{e['genome_id']}  {e.get('name', ''):<24} added {e.get('added', '')}  {e.get('note', '')}")
    return 0


# ---- parser -------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    specs = spec_names()
    # --registry may come before the command or after it; a subcommand that is not given it must
    # not reset the one given before it (argparse would write its default over it): SUPPRESS
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", metavar="PATH", default=argparse.SUPPRESS,
                        help="registry folder (default: $SPECIATION_REGISTRY or ./registry)")
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("--out", metavar="FILE", help="write the genome JSON to FILE")
    out.add_argument("--save", action="store_true", help="store the genome in the registry")
    out.add_argument("--name", help="genome name")
    out.add_argument("--notes", help="free-text notes")
    out.add_argument("--tag", action="append", help="a tag (repeatable)")

    parser = argparse.ArgumentParser(prog="main.py", description="Speciation Lab. With no command, opens "
                                     "the window.", epilog=HEADLESS_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", metavar="PATH", default=None,
                        help="registry folder (default: $SPECIATION_REGISTRY or ./registry)")
    parser.add_argument("--version", action="version", version=f"Speciation Lab {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")

    genome = top.add_parser("genome", help="create, inspect and breed genomes")
    gsub = genome.add_subparsers(dest="action", metavar="ACTION", required=True)
    spec_help = f"gene spec ({', '.join(specs)})"

    p = gsub.add_parser("new", parents=[common, out], help="a new genome from defaults or at random")
    p.add_argument("--spec", choices=specs, default="grokking", help=spec_help)
    p.add_argument("--random", action="store_true", help="draw every gene uniformly in its normalised scale")
    p.add_argument("--seed", type=int, default=None, help="random seed for --random")
    gene_keys = ", ".join(get_spec("grokking").keys)
    p.add_argument("--set", action="append", default=[], metavar="GENE=VALUE",
                   help=f"set one gene (repeatable); grokking genes: {gene_keys}")
    p.set_defaults(func=cmd_genome_new)

    p = gsub.add_parser("show", parents=[common], help="show a genome (file, id or id prefix)")
    p.add_argument("ref", help="genome JSON file, id or unique id prefix in the registry")
    p.add_argument("--json", action="store_true", help="print canonical JSON")
    p.set_defaults(func=cmd_genome_show)

    p = gsub.add_parser("validate", parents=[common], help="validate genome JSON files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_genome_validate)

    p = gsub.add_parser("mutate", parents=[common, out], help="radiation: a mutated child")
    p.add_argument("ref")
    p.add_argument("--rate", type=float, default=0.2, help="per-gene mutation probability (default 0.2)")
    p.add_argument("--sigma", type=float, default=0.1, help="step std in the normalised space (default 0.1)")
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=cmd_genome_mutate)

    p = gsub.add_parser("cross", parents=[common, out], help="crossover of two parents")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--blend", action="store_true", help="blend genes instead of uniform crossover")
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=cmd_genome_cross)

    p = gsub.add_parser("clone", parents=[common, out], help="a clone (same genes, same id)")
    p.add_argument("ref")
    p.set_defaults(func=cmd_genome_clone)

    p = gsub.add_parser("splice", parents=[common, out], help="horizontal gene transfer, donor -> recipient")
    p.add_argument("recipient")
    p.add_argument("donor")
    groups = ", ".join(get_spec("grokking").groups)
    p.add_argument("--genes", action="append", required=True, metavar="G1,G2",
                   help=f"genes or gene groups to take from the donor (grokking groups: {groups})")
    p.set_defaults(func=cmd_genome_splice)

    p = gsub.add_parser("diff", parents=[common], help="genes that differ and the normalised distance")
    p.add_argument("a")
    p.add_argument("b")
    p.set_defaults(func=cmd_genome_diff)

    p = gsub.add_parser("spec", help="print a gene table")
    p.add_argument("--spec", choices=specs, default="grokking", help=spec_help)
    p.add_argument("--markdown", action="store_true", help="as a Markdown table (as in the README)")
    p.set_defaults(func=cmd_genome_spec)

    registry = top.add_parser("registry", help="list, import, export and trash registry genomes")
    rsub = registry.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = rsub.add_parser("list", parents=[common], help="list genomes")
    p.add_argument("--spec", choices=specs)
    p.add_argument("--tag", help="genomes with this tag (tags given on a later save count too)")
    p.add_argument("--origin")
    p.add_argument("--name", help="substring of any of the genome's names")
    p.add_argument("--hall-of-fame", action="store_true", help="only Hall of Fame genomes")
    p.set_defaults(func=cmd_registry_list)

    p = rsub.add_parser("import", parents=[common], help="import genome files and folders (validated)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.set_defaults(func=cmd_registry_import)

    p = rsub.add_parser("export", parents=[common], help="export genomes to a folder or a bundle .json")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true")
    p.add_argument("--out", required=True, metavar="DEST", help="folder, or FILE.json for one bundle")
    p.set_defaults(func=cmd_registry_export)

    p = rsub.add_parser("trash", parents=[common], help="move genomes to the trash (or list/restore)")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--list", action="store_true", help="list the trash")
    p.add_argument("--restore", action="store_true", help="restore the named ids from the trash")
    p.set_defaults(func=cmd_registry_trash)

    p = rsub.add_parser("hof", parents=[common], help="list the Hall of Fame, or --add / --remove")
    p.add_argument("--add", metavar="ID")
    p.add_argument("--remove", metavar="ID")
    p.add_argument("--note")
    p.set_defaults(func=cmd_registry_hof)

    from lab.cli_runs import add_run_parsers
    add_run_parsers(top, common)
    from lab.cli_analysis import add_analysis_parsers
    add_analysis_parsers(top, common)
    from lab.cli_arenas import add_arena_parsers
    add_arena_parsers(top, common)

    from lab.cli_runs import add_backend_options
    # the window's backend at start (Run > Where trials run changes it)
    add_backend_options(top.add_parser("gui", parents=[common], help="open the window (the default)"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in (None, "gui"):
        from lab.gui.app import run_gui
        try:
            backend = BackendConfig.from_args(*(getattr(args, k, None) for k in
                                                ("backend", "cluster", "workers", "connect_timeout")))
        except BackendError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        return run_gui(registry=args.registry, backend=backend)
    try:
        return args.func(args)
    except GenomeError as exc:  # one line, even when it lists several problems
        where = f"{exc.source}: " if exc.source else ""
        print(f"error: {where}" + "; ".join(exc.problems), file=sys.stderr)
        return EXIT_BAD_INPUT
    except (RegistryError, UsageError, ValueError, OSError, BackendError) as exc:
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
