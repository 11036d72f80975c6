"""Charts of finished runs: a run's family tree (generation across, rank down, edges to parents, the
winner's line of descent drawn thick, nodes pickable so a window can name the genome clicked) and
several runs compared metric by metric. Each draws on a given Axes or Figure; none uses pyplot.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from lab.analysis.genealogy import OPERATORS, Genealogy, NodeKey

if TYPE_CHECKING:
    import pandas as pd

# Okabe & Ito's colour-blind-safe palette, one colour per operator (lab.analysis.genealogy.OPERATORS)
OPERATOR_COLOURS = {"ancestor": "#0072B2", "alien": "#E69F00", "crossover": "#009E73", "clone": "#56B4E9",
                    "mutation": "#D55E00", "elite": "#CC79A7"}
EDGE_COLOUR, LINE_COLOUR, HIGHLIGHT_COLOUR = "#bbbbbb", "#000000", "#000000"
# runs compared: the same palette (black last), cycled past eight runs
RUN_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
PICK_RADIUS = 5   # points: a click this close to a node picks it
COMPARE_TITLES = {"best_fitness": "Best fitness", "mean_fitness": "Mean fitness",
                  "median_fitness": "Median fitness", "success_rate": "Success rate",
                  "diversity": "Population diversity"}

PickMap = dict[tuple[Any, int], NodeKey]   # (artist, index in it) -> node


def draw_genealogy(ax: Axes, tree: Genealogy, highlight: str | None = None,
                   max_per_generation: int | None = None) -> PickMap:
    """Draw the family tree on ``ax``: x = generation, y = rank in it (best at the top), grey edges
    to the parents, nodes coloured by operator, the winner's line of descent thick. ``highlight``
    (a genome id) rings its nodes; ``max_per_generation`` shows only the best ranked of each
    generation (and the nodes of the winner's and the highlighted genome's lines). Returns the
    map from (artist, index) to node that :func:`node_at` reads a pick event with."""
    ax.set_title(f"Genealogy of run {tree.run_id}", fontsize=9)
    if not tree.nodes:
        ax.text(0.5, 0.5, "no generation finished yet", ha="center", va="center", transform=ax.transAxes,
                color="#777777", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        return {}
    line = tree.line_of_descent(tree.winner())
    line_keys = {s.node for s in line}
    marked = {k for k in tree.nodes if k[1] == highlight} if highlight else set()
    keep = set(line_keys) | marked
    keep |= {k for k, n in tree.nodes.items() if max_per_generation is None or n.rank <= max_per_generation}
    shown = {k: tree.nodes[k] for k in sorted(keep)}

    def xy(key: NodeKey) -> tuple[float, float]:
        return (float(key[0]), float(tree.nodes[key].rank))

    edges = [(xy(p), xy(k)) for k, n in shown.items() for p in n.parents if p in shown]
    ax.add_collection(LineCollection(edges, colors=EDGE_COLOUR, linewidths=0.5, zorder=1))
    path = [xy(s.node) for s in line]
    ax.plot([p[0] for p in path], [p[1] for p in path], color=LINE_COLOUR, lw=2.4, zorder=2,
            solid_capstyle="round", label="winner's line")
    mapping: PickMap = {}
    for operator in OPERATORS:
        keys = [k for k, n in shown.items() if n.operator == operator]
        if not keys:
            continue
        points = ax.scatter([xy(k)[0] for k in keys], [xy(k)[1] for k in keys], s=22,
                            color=OPERATOR_COLOURS[operator], edgecolors="white", linewidths=0.4, zorder=3,
                            label=operator, picker=True, pickradius=PICK_RADIUS)
        mapping.update({(points, i): k for i, k in enumerate(keys)})
    if marked & set(shown):
        ring = sorted(marked & set(shown))
        ax.scatter([xy(k)[0] for k in ring], [xy(k)[1] for k in ring], s=70, facecolors="none",
                   edgecolors=HIGHLIGHT_COLOUR, linewidths=1.2, zorder=4, label=f"genome {highlight[:8]}")
    winner = tree.winner()
    ax.annotate(winner.name or winner.genome_id[:8], xy(winner.key), xytext=(4, -8), textcoords="offset points",
                fontsize=7)
    gens = tree.generations()
    ax.set_xlim(gens[0] - 0.5, gens[-1] + 0.5)
    ax.set_ylim(max(n.rank for n in shown.values()) + 0.8, 0.2)   # rank 1 at the top
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlabel("generation", fontsize=8)
    ax.set_ylabel("rank in its generation", fontsize=8)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.tick_params(labelsize=7)
    return mapping


def node_at(mapping: PickMap, pick_event: Any) -> NodeKey | None:
    """The node a matplotlib pick event landed on (the first, where nodes overlap), or None for an
    artist that is not a node."""
    for index in getattr(pick_event, "ind", ()) or ():
        key = mapping.get((pick_event.artist, int(index)))
        if key is not None:
            return key
    return None


def draw_genealogy_figure(fig: Figure, tree: Genealogy, highlight: str | None = None,
                          max_per_generation: int | None = None) -> Figure:
    """The tree alone on ``fig`` (for export), leaving room on the right for the legend."""
    fig.clear()
    draw_genealogy(fig.add_subplot(), tree, highlight, max_per_generation)
    fig.tight_layout(pad=0.6)
    return fig


def draw_compare(fig: Figure, frame: pd.DataFrame,
                 metrics: Sequence[str] = ("best_fitness", "success_rate", "diversity")) -> Figure:
    """One subplot per metric of :func:`lab.analysis.run_history.compare_frame`, one line per run."""
    missing = [m for m in metrics if m not in frame.columns]
    if missing or not metrics:
        raise ValueError(f"cannot compare {', '.join(missing) or 'no metric'} (metrics: "
                         f"{', '.join(c for c in COMPARE_TITLES if c in frame.columns)})")
    fig.clear()
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    runs = list(dict.fromkeys(frame["run_id"]))
    for ax, metric in zip(axes, metrics):
        for i, run_id in enumerate(runs):
            rows = frame[frame["run_id"] == run_id]
            ax.plot(rows["generation"], rows[metric], marker="o", ms=3, lw=1.3, label=run_id,
                    color=RUN_COLOURS[i % len(RUN_COLOURS)])
        ax.set_title(COMPARE_TITLES.get(metric, metric), fontsize=9)
        ax.set_xlabel("generation", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    if runs:
        handles = [Line2D([], [], color=RUN_COLOURS[i % len(RUN_COLOURS)], marker="o", ms=3)
                   for i in range(len(runs))]
        fig.legend(handles, runs, fontsize=7, frameon=False, loc="lower center", ncol=min(len(runs), 4))
    fig.tight_layout(pad=0.6, rect=(0, 0.08 if runs else 0, 1, 1))
    return fig
