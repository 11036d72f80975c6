"""A finished (or stopped) Evolution Lab run as tables and paper figures: its history per generation,
its genomes per generation, the trials it ran, several runs side by side, and ``export_run``, which
writes them all with the run's charts and family tree. Everything is rendered before anything is
written, so a run that cannot be read leaves the output folder as it was.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lab.analysis import run_charts
from lab.analysis.export import FORMATS, check_formats, figure_bytes, paper_context, write_files
from lab.analysis.genealogy import Genealogy, from_history, held_genome, read_history
from lab.analysis.run_history_charts import draw_compare, draw_genealogy_figure
from lab.registry import Registry, RegistryError

HISTORY_COLUMNS = ("generation", "best_id", "best_fitness", "mean_fitness", "median_fitness", "success_rate",
                   "diversity", "genomes", "hall_of_fame_added", "died", "racing_censored")
GENOME_COLUMNS = ("generation", "genome_id", "origin", "elite", "parents", "fitness", "success", "median_steps",
                  "failed", "censored")
TRIAL_COLUMNS = ("generation", "genome_id", "seed", "status", "steps_to_grok")
COMPARE_COLUMNS = ("run_id", "arena", "generation", "best_fitness", "mean_fitness", "success_rate", "diversity")
DPI = 200   # as lab.analysis.export.export_figure


def history_frame(history: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per generation; the lists of a record become counts (racing_censored is 0 where
    racing was off)."""
    rows = [{"generation": h["generation"], "best_id": h["best_id"], "best_fitness": h["best_fitness"],
             "mean_fitness": h["mean_fitness"], "median_fitness": h["median_fitness"],
             "success_rate": h["success_rate"], "diversity": h["diversity"], "genomes": len(h["genomes"]),
             "hall_of_fame_added": len(h["hall_of_fame_added"]), "died": len(h.get("died") or ()),
             "racing_censored": int((h.get("race") or {}).get("censored") or 0)} for h in history]
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def genomes_frame(history: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per population member per generation, as the history records it (an elite and a
    bred clone of it are two rows with one id); parents joined by ';' (empty in runs written
    before the rows recorded them)."""
    rows = [{"generation": h["generation"], "genome_id": r.get("id"), "origin": r.get("origin"),
             "elite": bool(r.get("elite")), "parents": ";".join(r.get("parents") or ()),
             "fitness": r.get("fitness"), "success": r.get("success"), "median_steps": r.get("median_steps"),
             "failed": r.get("failed"), "censored": r.get("censored", 0)}
            for h in history for r in h["genomes"]]
    return pd.DataFrame(rows, columns=list(GENOME_COLUMNS))


def trials_frame(registry: Registry, run_id: str) -> pd.DataFrame:
    """Every recorded trial the run ran: its genomes on the seeds of the generations they were in,
    on the run's task (trials of the same genomes elsewhere, such as stress tests, are left out).
    Columns: generation, genome_id, seed, status, steps_to_grok, the other scalar metrics,
    wall_time, and ``gene:<key>`` per gene."""
    run, history = read_history(registry, run_id)
    return _trials_frame(registry, run_id, run, history)


def _trials_frame(registry: Registry, run_id: str, run: dict[str, Any],
                  history: Sequence[dict[str, Any]]) -> pd.DataFrame:
    task_id = run.get("task_id")
    if not isinstance(task_id, str):
        raise RegistryError(f"run {run_id}: its run.json names no task_id")
    generation_of: dict[tuple[str, int], int] = {}
    for h in history:
        for r in h["genomes"]:
            for seed in h["seeds"]:
                generation_of.setdefault((r.get("id"), seed), h["generation"])
    trials = [t for t in registry.trials() + registry.censored_trials()
              if t.task_id == task_id and (t.genome_id, t.seed) in generation_of]
    trials.sort(key=lambda t: (generation_of[(t.genome_id, t.seed)], t.genome_id, t.seed))
    # a genome deleted since the run keeps its trials, with empty gene columns
    genomes = {gid: g for gid in sorted({t.genome_id for t in trials}) if (g := held_genome(registry, gid))}
    metric_keys = sorted({k for t in trials for k, v in t.metrics.items()
                          if k != "steps_to_grok" and _scalar(v)})
    gene_keys = list(dict.fromkeys(k for g in genomes.values() for k in g.spec.keys))
    rows = []
    for t in trials:
        genome = genomes.get(t.genome_id)
        row = {"generation": generation_of[(t.genome_id, t.seed)], "genome_id": t.genome_id, "seed": t.seed,
               "status": t.status, "steps_to_grok": t.metrics.get("steps_to_grok")}
        row.update({k: t.metrics.get(k) if _scalar(t.metrics.get(k)) else None for k in metric_keys})
        row["wall_time"] = t.wall_time
        row.update({f"gene:{k}": genome.genes.get(k) if genome else None for k in gene_keys})
        rows.append(row)
    columns = [*TRIAL_COLUMNS, *metric_keys, "wall_time", *(f"gene:{k}" for k in gene_keys)]
    return pd.DataFrame(rows, columns=columns)


def compare_frame(registry: Registry, run_ids: Sequence[str]) -> pd.DataFrame:
    """Runs side by side, one row per run and generation; runs of different arenas are allowed
    (their fitness scales differ: the ``arena`` column says which is which)."""
    if not run_ids:
        raise ValueError("name at least one run to compare")
    twice = sorted({r for r in run_ids if list(run_ids).count(r) > 1})
    if twice:
        raise ValueError(f"run {twice[0]} is named more than once")
    rows = []
    for run_id in run_ids:
        run, history = read_history(registry, run_id)
        arena = run["settings"].get("arena", "")
        rows += [{"run_id": run_id, "arena": arena, "generation": h["generation"],
                  "best_fitness": h["best_fitness"], "mean_fitness": h["mean_fitness"],
                  "success_rate": h["success_rate"], "diversity": h["diversity"]} for h in history]
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


# ---- export ---------------------------------------------------------------------------------------
def export_run(registry: Registry, run_id: str, out_dir: str | Path,
               formats: Sequence[str] = ("png", "svg", "pdf")) -> list[Path]:
    """Write history.csv, genomes.csv, trials.csv, genealogy.csv and the fitness, success, diversity
    and genealogy charts in each format into ``out_dir``; returns the paths written. A run that
    cannot be read raises RegistryError before anything is written."""
    formats = check_formats(list(formats))
    out = Path(out_dir)
    run, history = read_history(registry, run_id)
    tree = from_history(registry, run_id, history)
    files = {out / "history.csv": _csv(history_frame(history)), out / "genomes.csv": _csv(genomes_frame(history)),
             out / "trials.csv": _csv(_trials_frame(registry, run_id, run, history)),
             out / "genealogy.csv": _csv(tree.table())}
    words = _words(run)
    charts: dict[str, Callable[[Any], Any]] = {
        "fitness": lambda ax: run_charts.draw_fitness(ax, history),
        "success": lambda ax: run_charts.draw_success(ax, history, words),
        "diversity": lambda ax: run_charts.draw_diversity(ax, history)}
    for stem, draw in charts.items():
        files.update(_chart_files(out, stem, _one_chart(draw, history), (5.0, 3.4), formats))
    files.update(_chart_files(out, "genealogy", lambda fig: draw_genealogy_figure(fig, tree),
                              genealogy_figsize(tree), formats))
    return write_files(files)


def export_genealogy(tree: Genealogy, out_dir: str | Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """genealogy.csv and the tree chart in each format."""
    out = Path(out_dir)
    files = {out / "genealogy.csv": _csv(tree.table())}
    files.update(_chart_files(out, "genealogy", lambda fig: draw_genealogy_figure(fig, tree),
                              genealogy_figsize(tree), check_formats(list(formats))))
    return write_files(files)


def export_compare(frame: pd.DataFrame, out_dir: str | Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """compare.csv and the comparison chart in each format."""
    out = Path(out_dir)
    files = {out / "compare.csv": _csv(frame)}
    files.update(_chart_files(out, "compare", lambda fig: draw_compare(fig, frame), (9.0, 3.4),
                              check_formats(list(formats))))
    return write_files(files)


def genealogy_figsize(tree: Genealogy) -> tuple[float, float]:
    """Wide enough for the generations and tall enough for the largest generation, within a page."""
    generations = len(tree.generations())
    per_generation = max((n.rank for n in tree.nodes.values()), default=1)
    return (min(16.0, max(6.0, 2.0 + 0.55 * generations)), min(12.0, max(4.0, 1.5 + 0.2 * per_generation)))


def _chart_files(folder: Path, stem: str, draw: Callable[[Figure], Any], figsize: tuple[float, float],
                 formats: Sequence[str]) -> dict[Path, bytes]:
    # export_figure writes as it renders; here every file is rendered first and written together
    with paper_context():
        fig = Figure(figsize=figsize)
        draw(fig)
        return {folder / f"{stem}.{fmt}": figure_bytes(fig, fmt, dpi=DPI) for fmt in formats}


def _one_chart(draw: Callable[[Any], Any], history: Sequence[dict[str, Any]]) -> Callable[[Figure], Any]:
    """A run chart alone on a figure, with whole generations on its axis (as the dashboard has)."""
    def on(fig: Figure) -> Figure:
        ax = fig.add_subplot()
        draw(ax)
        gens = [h["generation"] for h in history]
        if gens:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            ax.set_xlim(min(gens) - 0.5, max(gens) + 0.5)
        ax.tick_params(labelsize=7)
        fig.tight_layout(pad=0.6)
        return fig
    return on


def _words(run: dict[str, Any]) -> run_charts.Words:
    """How the charts speak of the run's outcomes (its arena's task words; the default for an
    arena this lab no longer has)."""
    from lab.arenas import get_arena
    try:
        return run_charts.Words.of(get_arena(run["settings"].get("arena")).default_task())
    except (ValueError, KeyError, TypeError):
        return run_charts.Words()


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode()


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))
