"""``python main.py registry list|import|export|trash|hof``: the genomes of the shared registry."""
from __future__ import annotations

import argparse
import sys

from lab.cli.common import EXIT_BAD_INPUT, UsageError, open_registry
from lab.genome import spec_names


def cmd_registry_list(args: argparse.Namespace) -> int:
    reg = open_registry(args)
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
    report = open_registry(args).import_paths(args.paths)
    print(report.summary())
    return 0 if report.ok else EXIT_BAD_INPUT


def cmd_registry_export(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    ids = reg.genome_ids() if args.all else args.ids
    if not ids:
        raise UsageError("name genome ids to export, or --all")
    written = reg.export_genomes(ids, args.out)
    print(f"exported {len(ids)} genome(s) to {args.out} ({len(written)} file(s))")
    return 0


def cmd_registry_trash(args: argparse.Namespace) -> int:
    reg = open_registry(args)
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
    reg = open_registry(args)
    if args.add:
        g = reg.get_genome(reg.resolve(args.add))
        print(("admitted " if reg.add_to_hall_of_fame(g, note=args.note or "") else "already in: ") + g.label)
    elif args.remove:
        gid = reg.resolve(args.remove)
        print(("removed " if reg.remove_from_hall_of_fame(gid) else "not in the Hall of Fame: ") + gid)
    else:
        for e in reg.hall_of_fame():
            print(f"{e['genome_id']}  {e.get('name') or '':<24} added {e.get('added') or ''}  {e.get('note') or ''}")
    return 0


def add_parsers(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``registry`` command and its actions."""
    specs = spec_names()
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
