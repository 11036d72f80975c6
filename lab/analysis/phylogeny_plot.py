"""The phylogeny map as a matplotlib 3D scatter (the Phylogeny tab's view and its export): one colour per
species of the chosen level, marker area from fitness (success / median steps), chosen genomes ringed."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
from matplotlib.figure import Figure

from lab.analysis.phylogeny import Performance, Phylogeny, marker_sizes, species_colours

NO_GENOMES = "No genomes mapped yet: choose which genomes and press Map."
LEGEND_MAX = 13   # more species than this get no legend (the species list beside the map names them)


@dataclasses.dataclass
class MapArtists:
    """What a drawn map hands back: (artist, genome ids in point order) per species for pick events, and
    the ring artist that marks the chosen genomes (moved in place by :func:`ring_genomes`)."""

    pickable: list[tuple[object, list[str]]]
    ring: object | None = None
    phylo: Phylogeny | None = None
    sizes: np.ndarray | None = None


def draw_phylogeny(fig: Figure, phylo: Phylogeny | None, level: str, perf: dict[str, Performance] | None = None,
                   highlight: Iterable[str] = (), view: tuple[float, float] | None = None,
                   legend: bool = True) -> MapArtists:
    """Draw on ``fig`` (cleared first). ``view`` is (elevation, azimuth), to keep the user's rotation
    across redraws; ``highlight``: genome ids to ring."""
    fig.clear()
    if phylo is None:
        fig.text(0.5, 0.5, NO_GENOMES, ha="center", va="center", color="#666666", fontsize=10, wrap=True)
        return MapArtists([])
    ax = fig.add_subplot(projection="3d")
    perf = perf or {}
    sizes = marker_sizes([perf.get(g.id) for g in phylo.genomes])
    species = phylo.level_species(level)
    colours = species_colours(len(species))
    labels = phylo.assignment[level]
    ids = phylo.ids
    pickable = []
    for sp in species:
        rows = [i for i, k in enumerate(labels) if k == sp.index]
        artist = ax.scatter(phylo.coords[rows, 0], phylo.coords[rows, 1], phylo.coords[rows, 2], s=sizes[rows],
                            color=colours[sp.index], edgecolors="#333333", linewidths=0.4, depthshade=False,
                            label=f"{sp.name} ({sp.size})", picker=True)
        pickable.append((artist, [ids[i] for i in rows]))
    ring = ax.scatter([], [], [], s=[], facecolors="none", edgecolors="black", linewidths=1.6, depthshade=False)
    artists = MapArtists(pickable, ring, phylo, sizes)
    ring_genomes(artists, highlight)
    ex = phylo.explained
    ax.set_xlabel(f"PC1 ({ex[0]:.0%})", fontsize=8, labelpad=-2)
    ax.set_ylabel(f"PC2 ({ex[1]:.0%})", fontsize=8, labelpad=-2)
    ax.set_zlabel(f"PC3 ({ex[2]:.0%})", fontsize=8, labelpad=-2)
    ax.tick_params(labelsize=7, pad=0)
    ax.set_title(f"{level}: {len(species)} species of {len(ids)} genomes", fontsize=10)
    if view is not None:
        ax.view_init(elev=view[0], azim=view[1])
    ax.set_position(_place_legend(fig, [a for a, _ in pickable]) if legend and len(species) <= LEGEND_MAX
                    else [0.0, 0.02, 1.0, 0.92])
    return artists


def _place_legend(fig: Figure, handles: list) -> list[float]:
    """A figure legend in its own strip, never on the axes (inside a 3D axes it covered points):
    left of the map where that leaves the map most of the width, else below it in columns, else
    none (the species list beside the map names them). Returns the map's [left, bottom, width, height]."""
    style = dict(fontsize=7, frameon=False, markerscale=0.6, title="species (genomes)", title_fontsize=7)
    key = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.005, 0.93), alignment="left", **style)
    _even_markers(key)
    left = key.get_window_extent().width / fig.bbox.width + 0.015
    if left <= 0.45:
        return [left, 0.02, 1.0 - left, 0.92]
    key.remove()
    key = fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=2, **style)
    _even_markers(key)
    bottom = key.get_window_extent().height / fig.bbox.height + 0.02
    if bottom <= 0.4 and key.get_window_extent().width <= fig.bbox.width:
        return [0.0, bottom, 1.0, 0.94 - bottom]
    key.remove()
    return [0.0, 0.02, 1.0, 0.92]


def _even_markers(key) -> None:
    """One marker size in the legend: on the map size is fitness, in the key it would hide colours."""
    for handle in key.legend_handles:
        handle.set_sizes([25.0])


def legend_overlaps_axes(fig: Figure) -> bool:
    """Whether a figure legend's box overlaps the drawing area of an axes (the test of the layout)."""
    legends = [leg.get_window_extent() for leg in fig.legends]
    boxes = [ax.get_position().transformed(fig.transFigure) for ax in fig.axes]
    return any(leg.overlaps(box) for leg in legends for box in boxes)


def ring_genomes(artists: MapArtists, ids: Iterable[str]) -> int:
    """Move the ring onto ``ids`` (in place: the axes, its rotation and a drag in progress stay).
    Returns how many genomes are ringed."""
    if artists.ring is None or artists.phylo is None:
        return 0
    chosen = set(ids)
    rows = [i for i, gid in enumerate(artists.phylo.ids) if gid in chosen]
    xyz = artists.phylo.coords[rows]
    artists.ring._offsets3d = (xyz[:, 0], xyz[:, 1], xyz[:, 2])
    artists.ring.set_sizes(artists.sizes[rows] + 90)
    return len(rows)


def current_view(fig: Figure) -> tuple[float, float] | None:
    """(elevation, azimuth) of the figure's 3D axes, if it has one."""
    for ax in fig.axes:
        if hasattr(ax, "elev"):
            return float(ax.elev), float(ax.azim)
    return None
