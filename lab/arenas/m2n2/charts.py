"""The M2N2 direct run's charts, as functions of an engine snapshot and the archive fitness history
(see :mod:`lab.direct`). Each takes a matplotlib Axes and draws; none uses pyplot, so the same
functions serve the live window and the exported files. The arena declares them as its direct-run panel.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from lab.analysis.direct_panels import COLOURS, colorbar, draw_grid, empty_chart, mark_settings_changes

CHARTS = {
    "fitness": "Archive fitness over forward passes",
    "accuracy": "Reported model: best train and test accuracy",
    "per_class": "Per-class training accuracy of the archive",
    "attraction": "Attraction g(A, B): what B gets right that A misses",
}
EMPTY_SLOT = "#d9d9d9"


def _passes_axis(ax: Axes, budget: int | None) -> None:
    ax.set_xlabel("forward passes", fontsize=8)
    if budget:
        ax.set_xlim(0, budget)
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
    ax.xaxis.get_offset_text().set_fontsize(7)


def draw_archive_fitness(ax: Axes, history: Mapping[str, Sequence[float]] | None,
                         budget: int | None = None) -> Axes:
    """The band from the weakest to the fittest filled slot and the mean, per report."""
    title = CHARTS["fitness"]
    if not history or not history.get("passes"):
        return empty_chart(ax, title)
    x = np.asarray(history["passes"], dtype=float)
    ax.fill_between(x, history["min"], history["max"], color=COLOURS["band"], alpha=0.6, lw=0, label="min..max")
    ax.plot(x, history["mean"], color=COLOURS["mean"], lw=1.4, label="mean")
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("competition fitness", fontsize=8)
    _passes_axis(ax, budget)
    ax.legend(fontsize=7, loc="best", frameon=False)  # the band wanders: let matplotlib find the space
    ax.grid(alpha=0.3)
    return ax


def draw_accuracy(ax: Axes, curve: Mapping[str, Sequence[float]] | None, target_acc: float | None = None,
                  budget: int | None = None) -> Axes:
    """Train accuracy of the best archive member and test accuracy of that (reported) model, with
    the task's success target dashed."""
    title = CHARTS["accuracy"]
    if not curve or not curve.get("step"):
        return empty_chart(ax, title)
    ax.plot(curve["step"], curve["train_acc"], color=COLOURS["train"], lw=1.4, label="best train")
    ax.plot(curve["step"], curve["val_acc"], color=COLOURS["test"], lw=1.4, label="test (reported)")
    if target_acc is not None:
        ax.axhline(target_acc, color=COLOURS["target"], ls="--", lw=1.0, label=f"target {target_acc:g}")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("accuracy", fontsize=8)
    _passes_axis(ax, budget)
    ax.legend(fontsize=7, loc="lower right", frameon=False)
    ax.grid(alpha=0.3)
    return ax


def _slot_labels(filled: Sequence[bool], best: int | None) -> list[str]:
    return [f"{k}*" if k == best else (str(k) if ok else f"{k} (empty)") for k, ok in enumerate(filled)]


def _thin_ticks(n: int, most: int = 20) -> list[int]:
    step = max(1, -(-n // most))
    return list(range(0, n, step))


def _heatmap(ax: Axes, values: np.ndarray, mask_rows: np.ndarray, mask_cols: np.ndarray | None, vmax: float,
             cmap: str) -> Any:
    """``values`` with empty slots (masked rows/columns) painted in the empty-slot grey."""
    masked = np.ma.masked_array(values, mask=np.zeros_like(values, dtype=bool))
    masked.mask[mask_rows, :] = True
    if mask_cols is not None:
        masked.mask[:, mask_cols] = True
    colours = ListedColormap([EMPTY_SLOT])
    ax.imshow(np.ones_like(values), cmap=colours, aspect="auto", interpolation="nearest")
    return ax.imshow(masked, cmap=cmap, vmin=0.0, vmax=vmax, aspect="auto", interpolation="nearest")


def _mark_row(ax: Axes, row: int, width: int) -> None:
    ax.add_patch(Rectangle((-0.5, row - 0.5), width, 1, fill=False, ec=COLOURS["best"], lw=1.8))


def draw_per_class(ax: Axes, snapshot: Mapping[str, Any] | None) -> Axes:
    """Slots (rows) x classes (columns) of per-class training accuracy; the best slot (the reported
    model) outlined and starred, empty slots grey."""
    title = CHARTS["per_class"]
    if not snapshot or not snapshot.get("per_class"):
        return empty_chart(ax, title)
    values = np.asarray(snapshot["per_class"], dtype=float)
    k, c = values.shape
    filled = list(snapshot.get("filled") or [True] * k)
    best = snapshot.get("best")
    image = _heatmap(ax, values, ~np.asarray(filled, dtype=bool), None, 1.0, "viridis")
    if best is not None:
        _mark_row(ax, best, c)
    classes = list(snapshot.get("classes") or range(c))
    ax.set_xticks(range(c), [str(x) for x in classes], fontsize=7)
    rows = sorted(set(_thin_ticks(k)) | ({best} if best is not None else set()))
    labels = _slot_labels(filled, best)
    ax.set_yticks(rows, [labels[i] for i in rows], fontsize=7)
    ax.set_xlabel("class", fontsize=8)
    ax.set_ylabel("archive slot (* = best)", fontsize=8)
    empty = k - sum(bool(f) for f in filled)
    ax.set_title(title + (f" ({empty} empty)" if empty else ""), fontsize=9)
    colorbar(ax, image, "accuracy")
    return ax


def draw_attraction(ax: Axes, snapshot: Mapping[str, Any] | None) -> Axes:
    """The attraction matrix: parent A (rows) x partner B (columns); empty slots grey."""
    title = CHARTS["attraction"]
    if not snapshot or not snapshot.get("attraction"):
        return empty_chart(ax, title)
    values = np.asarray(snapshot["attraction"], dtype=float)
    k = values.shape[0]
    empty = ~np.asarray(snapshot.get("filled") or [True] * k, dtype=bool)
    shown = values[~empty][:, ~empty] if (~empty).any() else values
    vmax = float(shown.max()) if shown.size and shown.max() > 0 else 1.0
    image = _heatmap(ax, values, empty, empty, vmax, "magma")
    ticks = _thin_ticks(k)
    ax.set_xticks(ticks, [str(i) for i in ticks], fontsize=7)
    ax.set_yticks(ticks, [str(i) for i in ticks], fontsize=7)
    ax.set_xlabel("partner B (slot)", fontsize=8)
    ax.set_ylabel("parent A (slot)", fontsize=8)
    ax.set_title(title, fontsize=9)
    colorbar(ax, image, "g(A, B)")
    return ax


def draw_m2n2_panel(fig: Figure, snapshot: Mapping[str, Any] | None,
                    history: Mapping[str, Sequence[float]] | None, target_acc: float | None = None) -> Figure:
    """The four charts on a 2 x 2 grid: archive fitness, accuracy, per-class heatmap, attraction."""
    budget = (snapshot or {}).get("budget")
    def marked(draw: Any) -> Any:
        return lambda ax: (draw(ax), mark_settings_changes(ax, snapshot))

    return draw_grid(fig, [marked(lambda ax: draw_archive_fitness(ax, history, budget)),
                           marked(lambda ax: draw_accuracy(ax, (snapshot or {}).get("curve"), target_acc, budget)),
                           lambda ax: draw_per_class(ax, snapshot),
                           lambda ax: draw_attraction(ax, snapshot)])
