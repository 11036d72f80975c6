"""``python main.py scale``: grokking genomes re-run on larger MicroTransformers (lab.analysis.scaling),
each size a task, with Smart Fill; the median steps to grok and the success against the parameter
count, printed and, with --out, charted and written as CSV."""
from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from lab.cli.common import UsageError, add_backend_options, open_backend, open_registry, parse_seeds


def _ints(text: str, what: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--{what} {text!r}: give whole numbers, comma-separated") from None
    if not values or min(values) < 1:
        raise UsageError(f"--{what} {text!r}: give whole numbers >= 1, comma-separated")
    return values


def cmd_scale(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lab.analysis.scaling import draw_scaling, scaling_table, size_tasks
    from lab.analysis.stress import plan_stress, run_stress
    from lab.arenas import get_arena
    from lab.arenas.base import device_label
    from lab.cli.analysis import _first_ctrl_c_cancels, _genomes
    from lab.cli.sweep import _formats, task_with
    from lab.progress import TqdmWork

    formats = _formats(args.format)
    d_models, layers = _ints(args.d_model, "d-model"), _ints(args.layers, "layers")
    seeds = parse_seeds(args.seeds)
    if seeds != list(range(seeds[0], seeds[0] + len(seeds))):
        raise UsageError(f"--seeds {args.seeds!r}: give a count (5) or a range (10-14): consecutive seeds")
    reg = open_registry(args)
    arena = get_arena("grokking")
    try:
        tasks = size_tasks(task_with(arena.default_task(), args.task or []), d_models, layers)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    args.refs, args.tag, args.hall_of_fame = list(args.genomes), False, False
    genomes, from_files = _genomes(args, reg, arena.gene_spec.name)
    reg.add_genomes(from_files)
    device = arena.resolve_device(args.device)
    stop = threading.Event()
    from lab.tasks import remember
    try:
        with _first_ctrl_c_cancels(stop, tqdm.write), open_backend(args) as backend:
            for task in tasks:
                if stop.is_set():
                    break
                plan = plan_stress(reg, genomes, task, len(seeds), seeds[0])
                remember(reg, task)
                print(f"d_model {task.d_model}, layers {task.layers} ({task.n_params():,} parameters, task "
                      f"{task.task_id}, {device_label(device)}): {plan.existing} trials exist, {plan.to_run} will run",
                      flush=True)
                bar = TqdmWork(plan.task, plan.to_run)
                try:
                    run_stress(reg, arena, plan, device=device, on_event=bar.update, cancel=stop, backend=backend)
                finally:
                    bar.close()
    except KeyboardInterrupt:
        stop.set()
    table = scaling_table(reg, genomes, tasks, seeds)
    print(f"{'genome':<20} {'d_model':>7} {'layers':>6} {'params':>10} {'grokked':>9} {'median steps [95% CI]':>24}")
    for r in table.itertuples():
        med = "-" if r.grokked == 0 else f"{r.median_steps:.0f} [{r.median_low:.0f}, {r.median_high:.0f}]"
        print(f"{r.genome:<20} {r.d_model:>7} {r.layers:>6} {r.params:>10,} {f'{r.grokked}/{r.runs}':>9} {med:>24}")
    if args.out:
        from lab.analysis.export import export_figure
        from lab.files import atomic_write_text
        out = Path(args.out)
        paths = [atomic_write_text(out / "scaling.csv", table.to_csv(index=False))]
        paths += export_figure(lambda fig: draw_scaling(fig, table), out, "scaling", formats, figsize=(11.0, 4.8))
        print(f"wrote {', '.join(str(p) for p in paths)}")
    if stop.is_set():
        print("stopped: the trials that finished are recorded; run the same command again to fill in the rest",
              file=sys.stderr)
        return 130
    return 0


def add_parsers(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = top.add_parser("scale", parents=[common], help="grokking genomes on larger MicroTransformers (Smart Fill): "
                       "steps to grok and success against the parameter count",
                       description="Re-runs each GENOME on the default task at every --d-model (d_ff = 4 x d_model) "
                       "and --layers, each size its own task, over --seeds (trials already in the registry are not "
                       "run again); prints, and with --out charts and writes, the median steps to grok and the "
                       "success rate per genome and size with 95%% intervals.")
    p.add_argument("genomes", nargs="+", metavar="GENOME", help="grokking genomes: file, id, id prefix or name")
    p.add_argument("--d-model", default="64,128,256", help="widths, comma-separated (default 64,128,256)")
    p.add_argument("--layers", default="1,2", help="depths, comma-separated (default 1,2)")
    p.add_argument("--seeds", default="5", help="a count (5) or a range (10-14) of seeds (default 5)")
    p.add_argument("--task", action="append", metavar="FIELD=VALUE", help="another task setting, e.g. step_cap=4000")
    p.add_argument("--out", metavar="DIR", help="write the chart (scaling.pdf/png/svg) and its table as CSV there")
    p.add_argument("--format", action="append", metavar="FMT", help="chart formats (default pdf,png,svg)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    add_backend_options(p)
    p.set_defaults(func=cmd_scale)
