"""The GENREG direct run's charts, as functions of an engine snapshot and the population's trust
history (see :mod:`lab.direct`): accuracy over generations, per-class test accuracy, the trust
distribution with its survival cutoff, and the best genome's first-layer weights as images. None
uses pyplot, so they serve the live window and the exports. The arena declares them as its
direct-run panel.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lab.analysis.direct_panels import COLOURS, colorbar, draw_grid, empty_chart, mark_settings_changes

CHARTS = {
    "accuracy": "Best genome's accuracy and the population's trust",
    "per_class": "Per-class test accuracy, best genome",
    "trust": "Trust of the population this generation",
    "weights": "First-layer weights of the best genome",
}
TRUST_COLOURS = {"band": "#d9d9d9", "mean": "#8c8c8c", "dropped": "#c6dbef", "survivors": "#4292c6",
                 "cutoff": "#08306b"}
WEIGHT_PERCENTILE = 99
TILE_GAP = "#f4f4f4"    # between weight tiles: a neutral grey, not a weight of 0 (which is white in RdBu)


def _generations_axis(ax: Axes, budget: int | None) -> None:
    ax.set_xlabel("generation", fontsize=8)
    if budget:
        ax.set_xlim(0, budget)


def _draw_trust_band(ax: Axes, history: Mapping[str, Sequence[float]]) -> list[Any]:
    """The population's trust (min..max band and mean) on ``ax``, pale so accuracy stays in front;
    returns the legend handles."""
    x = np.asarray(history["passes"], dtype=float)
    band = ax.fill_between(x, history["min"], history["max"], color=TRUST_COLOURS["band"], alpha=0.7, lw=0,
                           label="trust min..max")
    (mean,) = ax.plot(x, history["mean"], color=TRUST_COLOURS["mean"], lw=1.0, label="trust mean")
    ax.set_ylabel("trust (population)", fontsize=8, color=TRUST_COLOURS["mean"])
    ax.tick_params(axis="y", labelsize=7, colors=TRUST_COLOURS["mean"])
    ax.set_ylim(bottom=min(0.0, float(np.min(history["min"]))))
    return [band, mean]


def draw_accuracy(ax: Axes, curve: Mapping[str, Sequence[float]] | None,
                  history: Mapping[str, Sequence[float]] | None = None, target_acc: float | None = None,
                  budget: int | None = None) -> Axes:
    """Test accuracy of the best genome (by trust) at each evaluation and its accuracy on that
    generation's images, the target dashed; the population's trust behind them on its own axis."""
    title = CHARTS["accuracy"]
    has_curve = bool(curve and curve.get("step"))
    has_trust = bool(history and history.get("passes"))
    if not has_curve and not has_trust:
        return empty_chart(ax, title)
    handles: list[Any] = []
    if has_trust:
        trust_ax = ax.twinx()
        handles += _draw_trust_band(trust_ax, history)
        ax.set_zorder(trust_ax.get_zorder() + 1)    # accuracy in front of the pale trust band
        ax.patch.set_visible(False)
    if has_curve:
        handles += ax.plot(curve["step"], curve["train_acc"], color=COLOURS["train"], lw=1.4, label="best train")
        handles += ax.plot(curve["step"], curve["val_acc"], color=COLOURS["test"], lw=1.4, label="best test")
    if target_acc is not None:
        handles.append(ax.axhline(target_acc, color=COLOURS["target"], ls="--", lw=1.0,
                                  label=f"target {target_acc:g}"))
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("accuracy", fontsize=8)
    _generations_axis(ax, budget)
    # upper left: early in a run both accuracy and trust are low there; two columns keep the target clear
    ax.legend(handles=handles, fontsize=7, loc="upper left", ncol=2, frameon=True, framealpha=0.85,
              edgecolor="none")
    ax.grid(alpha=0.3)
    return ax


def draw_per_class(ax: Axes, snapshot: Mapping[str, Any] | None) -> Axes:
    """One bar per class: the best genome's accuracy on the held-out images of that class, at the
    last evaluation, with the mean over classes dashed."""
    title = CHARTS["per_class"]
    if not snapshot or not snapshot.get("per_class"):
        return empty_chart(ax, title)
    if not (snapshot.get("curve") or {}).get("step"):
        return empty_chart(ax, title, "no held-out evaluation yet")
    values = np.asarray(snapshot["per_class"], dtype=float)
    classes = [str(c) for c in (snapshot.get("classes") or range(len(values)))]
    x = np.arange(len(values))
    bars = ax.bar(x, values, width=0.8, color=COLOURS["band"], edgecolor=COLOURS["mean"], lw=0.6)
    if len(values) <= 12:     # room for the numbers (a class at 0 would otherwise look like a gap)
        ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
    mean = float(values.mean())
    ax.axhline(mean, color=COLOURS["mean"], ls="--", lw=1.0)
    ax.set_xticks(x, classes, fontsize=7 if len(classes) <= 12 else 6)
    ax.set_xlim(-0.6, len(values) - 0.4)
    ax.set_ylim(0, 1.13)                # head room above 1 for the mean's label
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.text(0.01, 0.985, f"dashed: mean over classes {mean:.3f}", transform=ax.transAxes, ha="left", va="top",
            fontsize=7, color=COLOURS["mean"])
    ax.set_xlabel("class", fontsize=8)
    ax.set_ylabel("test accuracy", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return ax


def survival_cutoff(trust: Sequence[float], survivors: int) -> float:
    """The trust of the ``survivors``-th best genome: the least trust that still survives."""
    ranked = np.sort(np.asarray(trust, dtype=float))[::-1]
    return float(ranked[max(0, min(len(ranked), int(survivors)) - 1)])


def draw_trust(ax: Axes, snapshot: Mapping[str, Any] | None) -> Axes:
    """Histogram of the population's trust, survivors stacked darker; the survival cutoff (the trust
    of the last survivor) and the best genome's trust as vertical lines."""
    title = CHARTS["trust"]
    if not snapshot or not snapshot.get("fitness"):
        return empty_chart(ax, title)
    trust = np.asarray(snapshot["fitness"], dtype=float)
    label = snapshot.get("fitness_label") or "trust"
    edges = np.histogram_bin_edges(trust, bins=int(min(40, max(8, math.sqrt(len(trust)) * 2))))
    survivors = snapshot.get("survivors")
    cutoff = survival_cutoff(trust, survivors) if survivors else None
    kept = trust >= cutoff if cutoff is not None else np.zeros(len(trust), dtype=bool)
    counts, _, _ = ax.hist([trust[~kept], trust[kept]], bins=edges, stacked=True, edgecolor="white", lw=0.4,
                           color=[TRUST_COLOURS["dropped"], TRUST_COLOURS["survivors"]])
    if cutoff is not None:
        ax.axvline(cutoff, color=TRUST_COLOURS["cutoff"], ls="--", lw=1.2,
                   label=f"survival cutoff (top {survivors} of {len(trust)})")
    best = snapshot.get("best")
    if best is not None and 0 <= best < len(trust):
        ax.axvline(trust[best], color=COLOURS["best"], lw=1.6, label=f"best genome ({trust[best]:,.0f})")
    ax.set_xlabel(label, fontsize=8)
    ax.set_ylabel("genomes", fontsize=8)
    ax.set_ylim(0, max(1.0, float(np.max(counts))) * 1.3)     # head room for the legend
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", frameon=True, framealpha=0.85, edgecolor="none")
    ax.grid(axis="y", alpha=0.3)
    return ax


def weight_mosaic(weights: np.ndarray, columns: int | None = None) -> np.ndarray:
    """Images [n, rows, cols] tiled into one array, ``columns`` tiles wide (a square grid by default),
    one NaN pixel between tiles and in the unused tiles."""
    n, rows, cols = weights.shape
    columns = columns or math.ceil(math.sqrt(n))
    lines = math.ceil(n / columns)
    mosaic = np.full((lines * (rows + 1) - 1, columns * (cols + 1) - 1), np.nan)
    for k in range(n):
        r, c = divmod(k, columns)
        mosaic[r * (rows + 1):r * (rows + 1) + rows, c * (cols + 1):c * (cols + 1) + cols] = weights[k]
    return mosaic


def draw_weights(ax: Axes, snapshot: Mapping[str, Any] | None) -> Axes:
    """The best genome's first-layer weights, one tile per hidden unit (an image of what that unit
    looks for), in one image: red positive, blue negative, the scale symmetric about 0 and clipped
    at the 99th percentile of |weight| so a few large weights do not wash the rest out."""
    title = CHARTS["weights"]
    if not snapshot or "weights" not in snapshot:
        return empty_chart(ax, title)
    if snapshot["weights"] is None:
        return empty_chart(ax, title, "the inputs are not images")
    weights = np.asarray(snapshot["weights"], dtype=float)
    mosaic = weight_mosaic(weights)
    vmax = float(np.nanpercentile(np.abs(mosaic), WEIGHT_PERCENTILE)) or 1.0
    cmap = mpl.colormaps["RdBu_r"].with_extremes(bad=TILE_GAP)
    image = ax.imshow(mosaic, cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(f"{title} ({len(weights)} hidden units)", fontsize=9)
    colorbar(ax, image, "weight", extend="both")   # arrows: the scale is clipped
    return ax


def draw_genreg_panel(fig: Figure, snapshot: Mapping[str, Any] | None,
                      history: Mapping[str, Sequence[float]] | None, target_acc: float | None = None) -> Figure:
    """The four charts on a 2 x 2 grid: accuracy and trust, per-class accuracy, trust histogram,
    first-layer weights."""
    budget = (snapshot or {}).get("budget")
    def accuracy(ax: Axes) -> None:
        draw_accuracy(ax, (snapshot or {}).get("curve"), history, target_acc, budget)
        mark_settings_changes(ax, snapshot)

    return draw_grid(fig, [accuracy,
                           lambda ax: draw_per_class(ax, snapshot),
                           lambda ax: draw_trust(ax, snapshot),
                           lambda ax: draw_weights(ax, snapshot)])
