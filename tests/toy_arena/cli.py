"""``python main.py toy ...``: one climb watched under a progress bar, saved and resumed with
``--save``/``--resume``; its engine options are generated from the gene table."""
from __future__ import annotations

import argparse
import dataclasses

from lab.cli.common import UsageError, add_gene_options, gene_values
from lab.cli.direct import DirectRun, run_direct
from tests.toy_arena.genes import TOY_SPEC


def cmd_toy(args: argparse.Namespace) -> int:
    from lab.arenas import get_arena

    arena = get_arena("toy")
    if args.resume:
        engine = arena.resume_run(args.resume, device=args.device)
    else:
        task = dataclasses.replace(arena.default_task(), **(
            {"generations": args.generations} if args.generations is not None else {}))
        genes = {**TOY_SPEC.defaults(), **gene_values(args, TOY_SPEC, TOY_SPEC.keys)}
        engine = arena.engine(task, arena.settings_class.from_genes(genes), args.seed, device=args.device)
    if args.save and not args.save.strip():
        raise UsageError("--save needs a folder")

    def finished(seconds: float) -> None:
        print(f"best fitness {engine.curve['best'][-1]:.4f} after {engine.generation} generations")
        if args.save:
            arena.save_run(engine, args.save)

    return run_direct(DirectRun(engine, engine.task.generations, "generation", lambda: engine.step(1),
                                lambda: {}, lambda: None, finished, initial=engine.generation))


def add_parser(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = top.add_parser("toy", parents=[common], help="one toy hill climb")
    p.add_argument("--generations", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--save", metavar="DIR")
    p.add_argument("--resume", metavar="DIR")
    add_gene_options(p, TOY_SPEC)
    p.set_defaults(func=cmd_toy)
