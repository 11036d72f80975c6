"""Radar chart of genomes: one axis per gene, each normalised to [0, 1] by its spec (Gene.to_unit),
so genes of any scale share one picture. ``draw_radar`` draws on any Figure (screen or export);
:class:`RadarPanel` is a ChartPanel that redraws it, at most every ``min_interval_ms``, never losing
the last update."""
from __future__ import annotations

import dataclasses
import textwrap
import tkinter as tk
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from lab.genome import Genome
from lab.gui.widgets.chart_panel import ChartPanel


@dataclasses.dataclass(frozen=True)
class RadarLayer:
    label: str
    genome: Genome
    colour: str
    linestyle: str = "-"
    fill: bool = False


def draw_radar(fig: Figure, layers: Sequence[RadarLayer], title: str = "") -> Figure:
    """Overlay ``layers`` (genomes of one spec) on a polar axes, one spoke per gene in table order."""
    fig.clear()
    if not layers:
        return fig
    spec = layers[0].genome.spec
    n = len(spec.genes)
    angles = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    closed = np.append(angles, angles[0])
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_offset(np.pi / 2)
    ax.set_theta_direction(-1)
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([0.25, 0.5, 0.75, 1.0], labels=["", "0.5", "", "1"], fontsize=7, color="#888888")
    # words, as the editor shows them; when the spokes crowd, each label runs out along its spoke
    # (neighbours are then apart by their angle); else the long ones at the sides wrap
    crowded = n > 17
    size = 6.5 if crowded else 7.5
    labels = [g.label if crowded or not (len(g.label) > 13 and abs(np.sin(a)) > 0.6)
              else "\n".join(textwrap.wrap(g.label, 13, break_long_words=False)) for g, a in zip(spec.genes, angles)]
    # labels on the left half read towards the centre, so none runs over the plot
    aligns = ["center" if np.isclose(np.sin(a), 0, atol=0.1) else "left" if np.sin(a) > 0 else "right"
              for a in angles]
    if crowded:
        ax.set_xticks(angles, labels=[""] * n)
        for text, a in zip(labels, angles):
            screen = 90 - np.degrees(a)   # the spoke's direction on screen, anticlockwise from east
            right = np.sin(a) > 1e-9 or np.isclose(a, 0)
            ax.text(a, 1.05, text, fontsize=size, rotation=screen if right else screen + 180,
                    rotation_mode="anchor", ha="left" if right else "right", va="center", clip_on=False)
    else:
        ax.set_xticks(angles, labels=labels, fontsize=size)
        for label, align in zip(ax.get_xticklabels(), aligns):
            label.set_horizontalalignment(align)
    ax.tick_params(axis="x", pad=1)
    for layer in layers:
        u = np.append(layer.genome.unit_vector(), layer.genome.unit_vector()[0])
        ax.plot(closed, u, color=layer.colour, linestyle=layer.linestyle, linewidth=1.6, label=layer.label)
        if layer.fill:
            ax.fill(closed, u, color=layer.colour, alpha=0.15)
    # the legend sits under the chart, where no gene label can collide with it
    if crowded:   # at the foot of the figure, under the labels that run out from the lower spokes
        fig.legend(*ax.get_legend_handles_labels(), loc="lower center", fontsize=8, frameon=False)
    else:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=9, pad=18)
    width, height = fig.get_size_inches() * fig.dpi
    if crowded:   # a square that leaves the longest label room on every side and the legend its rows
        reach = max(len(t) for t in labels) * 0.6 * size * fig.dpi / 72 + 6
        legend = (len(layers) * 11 + 8) * fig.dpi / 72
        side = max(0.2 * min(width, height), min(width, height - legend) - 2 * reach)
        left = (width - side) / 2 / width
        bottom = (legend + max(0.0, height - legend - side) / 2) / height
        fig.subplots_adjust(left=left, right=1 - left, bottom=bottom, top=min(0.98, bottom + side / height))
        return fig
    # room at the sides for the longest line of a side label (about 0.65 em a character)
    side_lines = [len(line) for text, a in zip(labels, angles) if abs(np.sin(a)) > 0.6 for line in text.split("\n")]
    need = (max(side_lines, default=0) * 0.65 * size * fig.dpi / 72 + 8) / width
    margin = min(0.3, max(0.21, need))
    fig.subplots_adjust(left=margin, right=1 - margin, top=0.9 if title else 0.94, bottom=0.22)
    return fig


class RadarPanel(ChartPanel):
    """A radar chart that follows edits: ``show(layers)`` redraws after at most ``min_interval_ms``."""

    def __init__(self, parent: tk.Misc, figsize: tuple[float, float] = (4.8, 4.0), dpi: int = 80,
                 min_interval_ms: int = 150):
        super().__init__(parent, figsize=figsize, dpi=dpi, toolbar=False)
        self.min_interval_ms = min_interval_ms
        self.layers: list[RadarLayer] = []
        self.title = ""
        self._pending: str | None = None
        self._width = 0
        # the label margins are worked out for the figure's width: a new width redraws (coalesced)
        self.canvas.get_tk_widget().bind("<Configure>", self._resized, add="+")

    def _resized(self, event: tk.Event) -> None:
        if event.width != self._width and self.layers:
            self._width = event.width
            self.show(self.layers, self.title)

    def show(self, layers: Sequence[RadarLayer], title: str = "", now: bool = False) -> None:
        self.layers, self.title = list(layers), title
        if now:
            self.flush()
        elif self._pending is None:
            # coalesce a burst of edits (a slider drag) into one redraw with the latest layers
            self._pending = self.after(self.min_interval_ms, self.flush)

    def flush(self) -> None:
        if self._pending is not None:
            self.after_cancel(self._pending)
            self._pending = None
        self.redraw(lambda fig: draw_radar(fig, self.layers, self.title))

    def destroy(self) -> None:
        if self._pending is not None:
            self.after_cancel(self._pending)
            self._pending = None
        super().destroy()
