"""Command line of the lab: no arguments opens the window; subcommands work headless.

One module per command group (``genome``, ``registry``, ``runs``, ``analysis``, ``cluster``), and one
``cli.py`` in each arena package for its direct run, found through ``lab.arenas.ARENA_PACKAGES``.
The help, and the window's message when it cannot open, are generated from this one parser.
Bad input ends with exit code 2 and a one-line message, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from lab import __version__
from lab.cli import analysis, cluster, genome, insights, mechanism, registry, run_history, runs, scale, sweep
from lab.cli.common import EXIT_BAD_INPUT, EXIT_INTERRUPTED, UsageError, add_backend_options

COMMAND_GROUPS = (genome, registry, runs, run_history, analysis, insights, sweep, mechanism, scale, cluster)
__all__ = ["main", "build_parser", "command_summary", "UsageError"]


def arena_command_modules() -> list:
    """Each arena's ``cli`` module (``lab.arenas.<name>.cli`` beside its arena module), where it has one."""
    from importlib.util import find_spec

    from lab.arenas import ARENA_PACKAGES
    modules = []
    for _, arena_module in ARENA_PACKAGES.values():
        name = arena_module.rsplit(".", 1)[0] + ".cli"
        if find_spec(name) is not None:
            modules.append(importlib.import_module(name))
    return modules


def build_parser() -> argparse.ArgumentParser:
    from lab.arenas import load_gene_specs
    load_gene_specs()   # the gene tables name the choices and write the help of many options
    # --registry may come before the command or after it; a subcommand that is not given it must
    # not reset the one given before it (argparse would write its default over it): SUPPRESS
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", metavar="PATH", default=argparse.SUPPRESS,
                        help="registry folder (default: $SPECIATION_REGISTRY or ./registry)")
    parser = argparse.ArgumentParser(prog="main.py", description="Speciation Lab. With no command, opens "
                                     "the window.", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", metavar="PATH", default=None,
                        help="registry folder (default: $SPECIATION_REGISTRY or ./registry)")
    parser.add_argument("--version", action="version", version=f"Speciation Lab {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.add_parsers(top, common)
    for module in arena_command_modules():
        module.add_parser(top, common)
    # the window's backend at start (Run > Where trials run changes it)
    add_backend_options(top.add_parser("gui", parents=[common], help="open the window (the default)"))
    parser.epilog = command_summary(parser)
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def command_summary(parser: argparse.ArgumentParser | None = None) -> str:
    """Every command and action with its help line, read from the parser (so it cannot drift)."""
    parser = parser or build_parser()
    lines = ["headless commands:"]
    top = _subcommands(parser)
    helps = {a.dest: a.help or "" for a in top._choices_actions} if top else {}
    for name, sub in (top.choices.items() if top else ()):
        actions = _subcommands(sub)
        lines.append(f"  python main.py {name + (' ACTION ...' if actions else ''):<28} {helps.get(name, '')}")
        for action, action_help in ({a.dest: a.help or "" for a in actions._choices_actions}.items()
                                    if actions else ()):
            lines.append(f"  {'':<15}{name + ' ' + action:<28} {action_help}")
    lines.append(f"  python main.py {'COMMAND --help':<28} the options of each")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from lab.backends import BackendConfig, BackendError
    from lab.genome import GenomeError
    from lab.registry import RegistryError
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
    except RecursionError:   # a backstop: every reader refuses deep nesting before this
        print("error: the input is nested too deeply to process", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
