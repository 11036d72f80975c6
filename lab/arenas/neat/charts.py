"""The NEAT direct run's charts, as functions of an engine snapshot and the population's fitness
history (see :mod:`lab.direct`): fitness over generations, species sizes, the champion network as a
graph (drawn by :mod:`lab.arenas.neat.charts_topology`), and the species controller. None uses
pyplot, so they serve the live window and the exports. The arena declares them as its direct-run panel.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from lab.analysis.direct_panels import COLOURS, draw_grid, empty_chart, mark_settings_changes
from lab.arenas.neat.charts_topology import TITLE as CHAMPION_TITLE
from lab.arenas.neat.charts_topology import missing_text
# the champion's graph and its layout are the panel's too: one import for callers
from lab.arenas.neat.charts_topology import draw_champion, node_depths, node_positions  # noqa: F401

CHARTS = {
    "fitness": "Fitness over generations",
    "species": "Species sizes over generations",
    "champion": CHAMPION_TITLE,
    "controller": "Species controller: count, target and threshold",
}
ARM_COLOURS = {"pid": "#1b9e77", "hill": "#d95f02", "fixed": "#7570b3"}
LEGEND_MOST_SPECIES = 8
FITNESS_LEGEND_ROOM = 0.4   # the top of the fitness chart left to its legend (up to three rows)
# tab20 reordered: its ten strong colours first, then their pale partners, so species born one after
# the other never get the two shades of one hue
SPECIES_COLOURS = [mpl.colormaps["tab20"](i) for i in [*range(0, 20, 2), *range(1, 20, 2)]]


def _floats(values: Sequence[Any], n: int | None = None) -> np.ndarray:
    """``values`` as floats (None -> NaN), cut or padded with NaN to ``n``."""
    values = list(values or [])
    n = len(values) if n is None else n
    values = (values + [None] * n)[:n]
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _generations_axis(ax: Axes, budget: int | None) -> None:
    ax.set_xlabel("generation", fontsize=8)
    if budget:
        ax.set_xlim(0, budget)


def _legend(ax: Axes, handles: Sequence[Any], ncol: int) -> None:
    ax.legend(handles=handles, fontsize=7, loc="upper left", ncol=ncol, frameon=True, framealpha=0.85,
              edgecolor="none", handlelength=1.5, columnspacing=1.0)


def _head_room(ax: Axes, low: float, high: float, room: float = 0.3, below: float = 0.03) -> None:
    """y limits from ``low`` to ``high`` with a share ``room`` of the axis left free at the top for
    the legend and ``below`` (a share of the data's span) at the bottom."""
    span = (high - low) or max(abs(high), 1.0)
    ax.set_ylim(low - below * span, high + span * room / (1 - room))


# ---- fitness ---------------------------------------------------------------------------------
def draw_fitness(ax: Axes, snapshot: Mapping[str, Any] | None, history: Mapping[str, Sequence[float]] | None,
                 target_acc: float | None = None) -> Axes:
    """The population's fitness (min..max band and mean) and the champion's, per generation; the
    champion's validation and held-out test accuracy on their own 0..1 axis (the fitness axis when
    fitness is itself on 0..1), the target dashed and the generation that solved the task marked."""
    title = CHARTS["fitness"]
    snapshot = snapshot or {}
    curve = snapshot.get("curve") or {}
    # the band comes from the reports (a few a second), so a fast run (XOR) may have one point: no band
    has_band = bool(history and len(history.get("passes") or []) >= 2)
    has_curve = bool(curve.get("step"))
    if not has_band and not has_curve:
        return empty_chart(ax, title, missing_text(snapshot, "no generation yet"))
    # only curves with a value: XOR has no test split, so its test accuracy is all NaN
    accuracies = [(key, label, colour) for key, label, colour in
                  [("val_acc", "champion val acc", COLOURS["train"]), ("test_acc", "champion test acc", COLOURS["test"])]
                  if has_curve and np.isfinite(_floats(curve.get(key))).any()]
    parts = [_floats(history.get(k)) for k in ("min", "mean", "max")] if has_band else []
    fitness = np.concatenate(parts + [_floats(curve.get(k)) for k in ("best", "mean") if has_curve])
    fitness = fitness[np.isfinite(fitness)]
    shared = bool(fitness.size) and fitness.min() >= 0 and fitness.max() <= 1
    acc_ax = None
    if accuracies or target_acc is not None:
        acc_ax = ax if shared else ax.twinx()
    handles: list[Any] = []
    if has_band:
        x = _floats(history["passes"])
        n = len(x)
        handles.append(ax.fill_between(x, _floats(history.get("min"), n), _floats(history.get("max"), n),
                                       color=COLOURS["band"], alpha=0.6, lw=0, label="population min..max"))
    # the mean from the engine's own curve when it has one: every generation, not only those reported
    if has_curve and curve.get("mean"):
        step = _floats(curve["step"])
        handles += ax.plot(step, _floats(curve["mean"], len(step)), color=COLOURS["mean"], lw=1.2,
                           label="population mean")
    elif has_band:
        handles += ax.plot(x, _floats(history.get("mean"), n), color=COLOURS["mean"], lw=1.2, label="population mean")
    if has_curve and curve.get("best"):
        step = _floats(curve["step"])
        handles += ax.plot(step, _floats(curve["best"], len(step)), color=COLOURS["best"], lw=1.6, label="champion")
    for key, label, colour in accuracies:
        step = _floats(curve["step"])
        handles += acc_ax.plot(step, _floats(curve[key], len(step)), color=colour, lw=1.1, label=label)
    if target_acc is not None:
        handles.append(acc_ax.axhline(target_acc, color=COLOURS["target"], ls="--", lw=1.0,
                                      label=f"target acc {target_acc:g}"))
    low, high = (0.0, 1.0) if shared or not fitness.size else (float(fitness.min()), float(fitness.max()))
    _head_room(ax, min(low, 0.0) if shared else low, high, room=FITNESS_LEGEND_ROOM)
    if acc_ax is not None and acc_ax is not ax:
        _head_room(acc_ax, 0.0, 1.0, room=FITNESS_LEGEND_ROOM)
        acc_ax.set_yticks(np.linspace(0, 1, 6))
        acc_ax.set_ylabel("accuracy (champion)", fontsize=8)
        acc_ax.tick_params(axis="y", labelsize=7)
    if shared:
        ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("fitness / accuracy" if shared and acc_ax is not None else "fitness", fontsize=8)
    _mark_solved(ax, snapshot.get("solved_at"))
    ax.set_title(title, fontsize=9)
    _generations_axis(ax, snapshot.get("budget"))
    # on the top axis, so nothing is drawn over it; two columns, as three are wider than the axis
    _legend(acc_ax if acc_ax is not None else ax, handles, ncol=2)
    ax.grid(alpha=0.3)
    return ax


def _mark_solved(ax: Axes, solved_at: int | None) -> None:
    if solved_at is None:
        return
    ax.axvline(solved_at, color="#333333", ls=":", lw=1.3, label="solved")
    ax.text(solved_at, 0.03, f" solved (gen {solved_at}) ", transform=blended_transform_factory(ax.transData,
            ax.transAxes), ha="right", va="bottom", fontsize=7, color="#333333",
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1})


# ---- species ---------------------------------------------------------------------------------
def species_table(species: Mapping[str, Any]) -> tuple[np.ndarray, list[Any], np.ndarray]:
    """(generations, species ids, sizes[generation, species]): rows written before a species was
    born are shorter than ``ids``, padded here with zeros."""
    ids = list(species.get("ids") or [])
    rows = list(species.get("sizes") or [])
    generations = _floats(species.get("generation"))[:len(rows)]
    sizes = np.zeros((len(generations), len(ids)))
    for g, row in enumerate(rows[:len(generations)]):
        row = list(row)[:len(ids)]
        sizes[g, :len(row)] = row
    return generations, ids, sizes


def draw_species(ax: Axes, snapshot: Mapping[str, Any] | None) -> Axes:
    """The population split into species, stacked, per generation: each band is one species from
    its birth to its extinction."""
    title = CHARTS["species"]
    species = (snapshot or {}).get("species") or {}
    if not species.get("generation") or not species.get("ids") or not species.get("sizes"):
        return empty_chart(ax, title, missing_text(snapshot, "no species yet"))
    generations, ids, sizes = species_table(species)
    colours = [SPECIES_COLOURS[i % len(SPECIES_COLOURS)] for i in range(len(ids))]
    ax.stackplot(generations, sizes.T, colors=colours, labels=[f"species {s}" for s in ids],
                 edgecolor="white", linewidth=0.3)
    alive = int((sizes[-1] > 0).sum())
    _head_room(ax, 0.0, float(sizes.sum(axis=1).max()) or 1.0, room=0.3)
    ax.set_ylim(bottom=0)
    if len(ids) <= LEGEND_MOST_SPECIES:
        _legend(ax, ax.collections, ncol=4)
    else:
        ax.text(0.02, 0.97, f"{len(ids)} species so far, {alive} alive", transform=ax.transAxes, ha="left",
                va="top", fontsize=7, bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1.5})
    ax.set_ylabel("genomes", fontsize=8)
    ax.set_title(title, fontsize=9)
    _generations_axis(ax, (snapshot or {}).get("budget"))
    ax.grid(axis="y", alpha=0.3)
    return ax


# ---- species controller --------------------------------------------------------------------------
def draw_controller(ax: Axes, snapshot: Mapping[str, Any] | None) -> Axes:
    """How the species controller steers: the species count and its target (a step line) on the
    left axis, the compatibility threshold it sets on the right, and a row of marks along the bottom
    coloured by the arm (pid, hill, fixed) that set the threshold each generation."""
    title = CHARTS["controller"]
    control = (snapshot or {}).get("controller") or {}
    if not control.get("generation"):
        return empty_chart(ax, title, missing_text(snapshot, "no generation yet"))
    x = _floats(control["generation"])
    n = len(x)
    species, target, threshold = (_floats(control.get(k), n) for k in ("species", "target", "threshold"))
    handles: list[Any] = []
    handles += ax.plot(x, species, color=COLOURS["mean"], lw=1.4, label="species")
    if np.isfinite(target).any():
        handles += ax.plot(x, target, color=COLOURS["target"], ls="--", lw=1.1, drawstyle="steps-post",
                           label="target")
    arms = [str(a) for a in list(control.get("arm") or [])[:n]]
    bottom = blended_transform_factory(ax.transData, ax.transAxes)
    spare = iter(mpl.colormaps["Dark2"].colors[3:])
    for arm in dict.fromkeys(arms):
        at = [x[i] for i, a in enumerate(arms) if a == arm]
        colour = ARM_COLOURS.get(arm) or next(spare, "#666666")
        handles.append(ax.scatter(at, [0.035] * len(at), transform=bottom, marker="|", s=40, lw=2.0,
                                  color=colour, label=f"arm: {arm}", zorder=3, clip_on=False))
    counts = np.concatenate([species, target])
    counts = counts[np.isfinite(counts)]
    _head_room(ax, 0.0, float(counts.max()) if counts.size else 1.0)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("species", fontsize=8)
    top = ax
    if np.isfinite(threshold).any():
        top = ax.twinx()
        handles += top.plot(x, threshold, color=COLOURS["best"], lw=1.3, label="threshold")
        shown = threshold[np.isfinite(threshold)]
        _head_room(top, float(shown.min()), float(shown.max()), below=0.15)   # above the row of arm marks
        top.set_ylabel("compatibility threshold", fontsize=8, color=COLOURS["best"])
        top.tick_params(axis="y", labelsize=7, colors=COLOURS["best"])
    ax.set_title(title, fontsize=9)
    _generations_axis(ax, (snapshot or {}).get("budget"))
    _legend(top, handles, ncol=3)
    ax.grid(alpha=0.3)
    return ax


# ---- the panel --------------------------------------------------------------------------------------
def draw_neat_panel(fig: Figure, snapshot: Mapping | None, history: Mapping[str, Sequence[float]] | None,
                    target_acc: float | None = None) -> Figure:
    """The four charts on a 2 x 2 grid: fitness, species sizes, champion network, species controller."""
    def marked(draw: Any) -> Any:
        return lambda ax: (draw(ax, snapshot), mark_settings_changes(ax, snapshot))

    return draw_grid(fig, [marked(lambda ax, s: draw_fitness(ax, s, history, target_acc)),
                           marked(draw_species),
                           lambda ax: draw_champion(ax, snapshot),
                           lambda ax: draw_controller(ax, snapshot)])
