"""The Evolution Lab's live charts, as functions of a run's history (the records of
:class:`lab.evolution.population.Evolution`). The same functions draw on screen and for export:
each takes a matplotlib Axes (or Figure) and draws; none uses pyplot.

- fitness: best, mean and median fitness per generation;
- steps: the distribution of steps_to_grok in one generation (grokked trials; failures counted apart);
- success: the share of trials that grokked, per generation;
- diversity: mean pairwise normalised distance of the population, per generation.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lab.analysis.export import FORMATS, export_figure

CHARTS = {
    "fitness": "Fitness per generation (best, mean, median)",
    "steps": "Steps to grok this generation",
    "success": "Success rate per generation",
    "diversity": "Population diversity per generation",
}


@dataclasses.dataclass(frozen=True)
class Words:
    """How the charts speak of a trial's outcome, from the arena's task (``TaskConfig.UNIT``,
    ``GOAL``, ``DONE``): grokking's "steps to grok" and "grokked", M2N2's "passes to reach the
    target" and "at target"."""
    unit: str = "steps"
    goal: str = "grok"
    done: str = "grokked"

    @classmethod
    def of(cls, task: Any) -> Words:
        return cls(*(getattr(task, k, getattr(cls, f)) for k, f in (("UNIT", "unit"), ("GOAL", "goal"),
                                                                      ("DONE", "done"))))

    def steps_title(self) -> str:
        return f"{self.unit.capitalize()} to {self.goal} this generation"


COLOURS = {"best": "#1b7837", "mean": "#2166ac", "median": "#b2182b", "bar": "#5e3c99", "fail": "#999999"}


def _empty(ax: Axes, title: str, text: str = "no generation finished yet") -> None:
    ax.set_title(title, fontsize=9)
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#777777", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_fitness(ax: Axes, history: Sequence[dict[str, Any]]) -> Axes:
    title = CHARTS["fitness"]
    if not history:
        _empty(ax, title)
        return ax
    gens = [h["generation"] for h in history]
    for key, label in (("best_fitness", "best"), ("mean_fitness", "mean"), ("median_fitness", "median")):
        ax.plot(gens, [h[key] for h in history], marker="o", ms=3, lw=1.4, color=COLOURS[label], label=label)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("generation", fontsize=8)
    ax.set_ylabel("fitness (higher is better)", fontsize=8)
    ax.legend(fontsize=7, loc="lower right", frameon=False)
    ax.grid(alpha=0.3)
    return ax


def draw_steps(ax: Axes, steps_to_grok: Sequence[float], failed: int, step_cap: int,
               generation: int | None = None, words: Words = Words()) -> Axes:
    """Histogram of the grokked trials' steps_to_grok; failed trials (capped, diverged) are
    reported in the title, since they have no steps_to_grok."""
    title = words.steps_title() + (f" (generation {generation})" if generation else "")
    if not steps_to_grok and not failed:
        _empty(ax, title, "no trial finished yet")
        return ax
    bins = [step_cap * i / 20 for i in range(21)]
    if steps_to_grok:
        ax.hist(list(steps_to_grok), bins=bins, color=COLOURS["bar"], alpha=0.85)
    ax.set_xlim(0, step_cap)
    ax.set_title(f"{title}: {len(steps_to_grok)} {words.done}, {failed} failed", fontsize=9)
    ax.set_xlabel(f"{words.unit} to {words.goal} (trials {words.done} only)", fontsize=8)
    ax.set_ylabel("trials", fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def draw_success(ax: Axes, history: Sequence[dict[str, Any]], words: Words = Words()) -> Axes:
    title = CHARTS["success"]
    if not history:
        _empty(ax, title)
        return ax
    gens = [h["generation"] for h in history]
    ax.bar(gens, [100 * h["success_rate"] for h in history], color=COLOURS["best"], alpha=0.8)
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("generation", fontsize=8)
    ax.set_ylabel(f"trials {words.done} (%)", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return ax


def draw_diversity(ax: Axes, history: Sequence[dict[str, Any]]) -> Axes:
    title = CHARTS["diversity"]
    if not history:
        _empty(ax, title)
        return ax
    gens = [h["generation"] for h in history]
    ax.plot(gens, [h["diversity"] for h in history], marker="o", ms=3, color=COLOURS["mean"])
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("generation", fontsize=8)
    ax.set_ylabel("mean pairwise distance", fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def last_generation_steps(history: Sequence[dict[str, Any]]) -> tuple[list[float], int, int | None]:
    """(steps_to_grok of every grokked trial, failed trials, generation) of the last record."""
    if not history:
        return [], 0, None
    h = history[-1]
    steps = [s for r in h["genomes"] for s in r["steps_to_grok"]]
    return steps, sum(r["failed"] for r in h["genomes"]), h["generation"]   # censored trials are not failed


def draw_dashboard(fig: Figure, history: Sequence[dict[str, Any]], step_cap: int,
                   live_steps: tuple[Sequence[float], int, int | None] | None = None,
                   words: Words = Words()) -> Figure:
    """The four charts on a 2 x 2 grid. ``live_steps`` (steps, failed, generation) shows the
    generation in progress; by default the last finished one."""
    fig.clear()
    axes = fig.subplots(2, 2)
    draw_fitness(axes[0, 0], history)
    draw_steps(axes[0, 1], *(live_steps or last_generation_steps(history))[:2], step_cap,
               (live_steps or last_generation_steps(history))[2], words)
    draw_success(axes[1, 0], history, words)
    draw_diversity(axes[1, 1], history)
    gens = [h["generation"] for h in history]
    for ax in (axes[0, 0], axes[1, 0], axes[1, 1]):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        if gens:  # half a generation of margin: one generation alone gets a whole-number tick too
            ax.set_xlim(min(gens) - 0.5, max(gens) + 0.5)
    for ax in axes.flat:
        ax.tick_params(labelsize=7)
    fig.tight_layout(pad=0.6, h_pad=0.8, w_pad=0.8)
    return fig


def export_dashboard(folder: str | Path, stem: str, history: Sequence[dict[str, Any]], step_cap: int,
                     formats: Sequence[str] = FORMATS, words: Words = Words()) -> list[Path]:
    """Write the four charts as ``<stem>.<fmt>`` for each format, on a fresh figure under paper
    settings (embedded TrueType fonts, editable SVG text, fixed metadata, so files are reproducible)."""
    return export_figure(lambda fig: draw_dashboard(fig, history, step_cap, words=words), folder, stem, formats,
                         figsize=(7.0, 5.0))
