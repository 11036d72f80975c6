"""``python main.py mechanism``: inside grokking trials. Each trial (genome, task, seed) is re-run with
its weights every N steps (kept in the registry's snapshots folder and reused next time), then the
Fourier measures and progress measures are computed (lab.arenas.grokking.mechanism). One trial:
the four Mechanism charts, with the CSV behind each. Several genomes or seeds: the trials side by
side (key frequencies, neurons, phase boundaries) as a table and a chart of their progress
measures (lab.analysis.mechanism_compare)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lab.cli.common import UsageError, add_task_options, open_registry, parse_seeds


def trial_snapshots(reg: Any, genome: Any, task: Any, seed: int, every: int, device: str) -> Any:
    """The trial's snapshots: those kept in the registry (at this interval), else a re-run that keeps
    them (and records the trial where the registry lacks it)."""
    from tqdm import tqdm

    from lab.arenas.grokking import snapshots

    folder = snapshots.snapshot_folder(reg.root, genome.id, task.task_id, seed)
    if (folder / "state.json").exists():
        try:
            snaps = snapshots.load(folder)
        except ValueError as exc:
            print(f"the snapshots in {folder} are not usable ({exc}); re-running the trial", file=sys.stderr)
        else:
            if snaps.every == every:
                print(f"{len(snaps.steps)} snapshots of {genome.label} seed {seed} read from {folder}")
                return snaps
    bar = tqdm(total=task.step_cap, unit="step", file=sys.stderr, desc=f"{genome.label} seed {seed}")
    last = [0]

    def seen(step: int, _weights: Any) -> None:
        bar.update(step - last[0])
        last[0] = step

    result, snaps = snapshots.record(genome, task, seed, every, device=device, on_snapshot=seen)
    bar.close()
    snapshots.save(snaps, folder, dict(genome.genes))
    if not reg.has_trial(genome.id, task.task_id, seed):
        reg.record_trials([result])
    print(f"re-ran {genome.label} seed {seed} on task {task.task_id}: {result.status} at step "
          f"{result.metrics['steps']}; {len(snaps.steps)} snapshots saved to {folder}")
    return snaps


def cmd_mechanism(args: argparse.Namespace) -> int:
    from lab.analysis.mechanism_compare import compare_rows, write_comparison
    from lab.arenas import get_arena
    from lab.cli.analysis import _genomes
    from lab.cli.common import apply_task_options
    from lab.cli.sweep import _formats, task_with

    if args.every < 1:
        raise UsageError(f"--every must be >= 1 (steps between snapshots), got {args.every}")
    formats = _formats(args.format)
    seeds = parse_seeds(args.seeds) if args.seeds else [args.seed]
    reg = open_registry(args)
    arena = get_arena("grokking")
    task = task_with(apply_task_options(arena.default_task(), args), args.task or [])
    if task.operation != "+":
        raise UsageError(f"the Fourier measures are those of a + b mod p; --task operation={task.operation} is not")
    args.refs, args.tag, args.hall_of_fame = list(args.genomes), False, False
    genomes, from_files = _genomes(args, reg, arena.gene_spec.name)
    reg.add_genomes(from_files)
    out = Path(args.out)
    trials = [(g, s, trial_snapshots(reg, g, task, s, args.every, args.device)) for g in genomes for s in seeds]
    if len(trials) == 1:
        _one(trials[0], task, out, formats)
        return 0
    rows = compare_rows(trials, task)
    for r in rows:
        print(f"{r['genome']} seed {r['seed']}: {r['status']} at step {r['steps']}; key frequencies "
              f"{r['keys'] or 'none'} ({r['keys_from']}); {r['neurons_explained']:.0%} of neurons in one frequency; circuit "
              f"{r['circuit'] if r['circuit'] is not None else '-'}, cleanup "
              f"{r['cleanup'] if r['cleanup'] is not None else '-'}, clean {r['clean'] if r['clean'] is not None else '-'}")
    paths = write_comparison(rows, trials, task, out, formats)
    print(f"wrote {len(paths)} files to {out}")
    return 0


def _one(trial: tuple, task: Any, out: Path, formats: tuple[str, ...]) -> None:
    from lab.analysis.export import export_figure
    from lab.analysis.mechanism_charts import (draw_attention, draw_fourier, draw_neurons, draw_progress,
                                               final_measures, tables)
    from lab.arenas.grokking.mechanism import phases, progress_measures
    from lab.files import atomic_write_text

    genome, seed, snaps = trial
    scale = float(genome.genes["layer_scale"])
    final = final_measures(snaps.weights[-1], task, scale)
    measures = progress_measures(snaps.steps, snaps.weights, task, scale, keys=final["keys"])
    marks = phases(measures)
    explained = int(((final["neuron_freq"] > 0) & (final["neuron_share"] >= 0.5)).sum())
    print(f"key frequencies (step {snaps.steps[-1]}, read from the {final['keys_from']}): "
          f"{', '.join(map(str, final['keys'])) or 'none'}; "
          f"{explained} of {len(final['neuron_freq'])} neurons have half or more of their variance in one frequency")
    words = {"circuit": "circuit formation begins", "cleanup": "cleanup begins", "clean": "clean (test loss < 0.1)"}
    print("phases: " + "; ".join(f"{words[k]} at step {v}" if v is not None else f"{words[k]}: not seen"
                                 for k, v in marks.items()))
    stem = f"mechanism-{genome.id[:8]}-seed{seed}"
    draws = {"fourier": lambda fig: draw_fourier(fig, final), "neurons": lambda fig: draw_neurons(fig, final),
             "attention": lambda fig: draw_attention(fig, final),
             "progress": lambda fig: draw_progress(fig, measures, marks)}
    paths = []
    for name, text in tables(final, measures).items():
        paths += export_figure(draws[name], out, f"{stem}-{name}", formats, figsize=(7.0, 4.6))
        paths.append(atomic_write_text(out / f"{stem}-{name}.csv", text))
    print(f"wrote {len(paths)} files to {out}")


def add_parsers(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = top.add_parser("mechanism", parents=[common], help="inside grokking trials: Fourier key frequencies, "
                       "neurons, attention and progress measures over training; several genomes side by side",
                       description="Re-runs each trial (GENOME on the task with each seed) with its weights every "
                       "--every steps (kept under the registry's snapshots/ and reused), computes the measures of "
                       "Nanda et al. (2023) on all p x p inputs and writes, for one trial, the four charts and their "
                       "CSV to --out; for several genomes or seeds, the trials compared (table and chart).")
    p.add_argument("genomes", nargs="+", metavar="GENOME", help="grokking genomes: file, id, id prefix or name")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", default=None, help="several seeds: a count (5), a range (10-14) or a list (1,3,7)")
    p.add_argument("--every", type=int, default=100, help="steps between snapshots (default 100)")
    p.add_argument("--task", action="append", metavar="FIELD=VALUE", help="a task setting, e.g. modulus=59")
    add_task_options(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the charts and tables")
    p.add_argument("--format", action="append", metavar="FMT", help="chart formats (default pdf,png,svg)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.set_defaults(func=cmd_mechanism)
