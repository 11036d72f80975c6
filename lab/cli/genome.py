"""``python main.py genome new|show|validate|mutate|cross|clone|splice|diff|spec``: create, inspect
and breed genomes. Gene choices and help texts come from the gene table."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from lab.cli.common import EXIT_BAD_INPUT, load_ref, open_registry
from lab.genome import (Genome, GenomeError, clone, crossover, diff, distance, get_spec, mutate,
                        random_genome, spec_names, splice)
from lab.registry import read_genome_file


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
        reg = open_registry(args)
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
    g = load_ref(args.ref, args)
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
    parent = load_ref(args.ref, args)
    child = mutate(parent, np.random.default_rng(args.seed), rate=args.rate, sigma=args.sigma, **_meta(args))
    _emit(child, args)
    return 0


def cmd_genome_cross(args: argparse.Namespace) -> int:
    a, b = load_ref(args.a, args), load_ref(args.b, args)
    _emit(crossover(a, b, np.random.default_rng(args.seed), blend=args.blend, **_meta(args)), args)
    return 0


def cmd_genome_clone(args: argparse.Namespace) -> int:
    _emit(clone(load_ref(args.ref, args), **_meta(args)), args)
    return 0


def cmd_genome_splice(args: argparse.Namespace) -> int:
    recipient, donor = load_ref(args.recipient, args), load_ref(args.donor, args)
    genes = [k.strip() for item in args.genes for k in item.split(",") if k.strip()]
    _emit(splice(recipient, donor, genes, **_meta(args)), args)
    return 0


def cmd_genome_diff(args: argparse.Namespace) -> int:
    a, b = load_ref(args.a, args), load_ref(args.b, args)
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


def add_parsers(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``genome`` command and its actions."""
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("--out", metavar="FILE", help="write the genome JSON to FILE")
    out.add_argument("--save", action="store_true", help="store the genome in the registry")
    out.add_argument("--name", help="genome name")
    out.add_argument("--notes", help="free-text notes")
    out.add_argument("--tag", action="append", help="a tag (repeatable)")
    specs = spec_names()
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
