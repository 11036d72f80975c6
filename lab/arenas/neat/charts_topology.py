"""The NEAT direct run's champion network as a graph: nodes placed by depth (inputs left, outputs
right, nodes on a cycle apart), edges coloured and sized by weight, recurrent edges as arcs. Split
from :mod:`lab.arenas.neat.charts`, which draws it in its panel; no pyplot here either.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.patches import Arc, FancyArrowPatch

from lab.analysis.direct_panels import colorbar, empty_chart

TITLE = "Champion network"
NODE_COLOURS = {"input": "#d9d9d9", "hidden": "#fdae6b", "output": "#74c476"}
ACTIVATION_TAGS = {"sigmoid": "sig", "identity": "id", "gauss": "gau", "clamped": "clmp", "softplus": "sp+",
                   "square": "sq", "log": "log", "exp": "exp", "inv": "inv", "hat": "hat", "cube": "cube"}
LABELS_MOST_INPUTS = 16
WEIGHT_PERCENTILE = 95     # edges at or above this |weight| are drawn at their widest and deepest colour
EDGE_LEAST_SHADE = 0.4     # a small weight's edge still this far from white to the deepest colour: its sign shows


def missing_text(snapshot: Mapping[str, Any] | None, what: str) -> str:
    """What an empty chart says: ``what`` is missing from a run, or there is no run yet."""
    return what if snapshot else "no run yet"


# ---- champion network --------------------------------------------------------------------------
def _kinds(genome: Mapping[str, Any]) -> dict[int, str]:
    return {n["id"]: n.get("kind", "hidden") for n in genome.get("nodes") or []}


def _enabled_edges(genome: Mapping[str, Any], kinds: Mapping[int, str]) -> list[tuple[int, int]]:
    return [(c["src"], c["dst"]) for c in genome.get("connections") or []
            if c.get("enabled", True) and c["src"] in kinds and c["dst"] in kinds]


def _in_cycles(nodes: Sequence[int], edges: Sequence[tuple[int, int]]) -> set[int]:
    """Nodes on a cycle of two or more nodes (a self-loop alone does not upset the layering)."""
    succ: dict[int, list[int]] = {n: [] for n in nodes}
    for s, d in edges:
        if s != d:
            succ[s].append(d)
    cyclic = set()
    for start in nodes:        # a champion has tens of nodes: a search from each is cheap
        seen, frontier = set(), list(succ[start])
        while frontier:
            node = frontier.pop()
            if node == start:
                cyclic.add(start)
                break
            if node not in seen:
                seen.add(node)
                frontier += succ[node]
    return cyclic


def node_depths(genome: Mapping[str, Any]) -> dict[int, int | None]:
    """Each non-input node's depth: its longest path from the inputs over enabled connections, or
    None for a node on a cycle (recurrent genomes) or that no input reaches."""
    kinds = _kinds(genome)
    edges = [(s, d) for s, d in _enabled_edges(genome, kinds) if s != d and kinds[d] != "input"]
    cyclic = _in_cycles(list(kinds), edges)
    succ: dict[int, list[int]] = {n: [] for n in kinds}
    waiting = dict.fromkeys(kinds, 0)
    for s, d in edges:
        if s not in cyclic and d not in cyclic:
            succ[s].append(d)
            waiting[d] += 1
    depth: dict[int, int] = {n: 0 for n, k in kinds.items() if k == "input"}
    ready = [n for n in kinds if waiting[n] == 0]
    while ready:       # Kahn's topological order: a node's depth is final once all its sources are done
        node = ready.pop()
        for d in succ[node]:
            if node in depth:
                depth[d] = max(depth.get(d, 0), depth[node] + 1)
            waiting[d] -= 1
            if waiting[d] == 0:
                ready.append(d)
    return {n: (None if n in cyclic else depth.get(n)) for n, k in kinds.items() if k != "input"}


def node_positions(genome: Mapping[str, Any]) -> dict[int, tuple[float, float]]:
    """Node id -> (x, y): inputs at x = 0, hidden nodes at their depth (those on cycles or unreached
    in the middle), outputs in the last column; each column spread over 0..1, top to bottom, hidden
    nodes ordered by the mean height of their sources so edges cross less."""
    kinds = _kinds(genome)
    depths = node_depths(genome)
    hidden = sorted(n for n, k in kinds.items() if k == "hidden")
    known = [depths[n] for n in hidden if depths[n] is not None]
    out_x = float(max(max(known, default=0) + 1, 2 if hidden else 1))
    column = {n: 0.0 for n, k in kinds.items() if k == "input"}
    column |= {n: out_x for n, k in kinds.items() if k == "output"}
    column |= {n: float(depths[n]) if depths[n] is not None else out_x / 2 for n in hidden}
    sources: dict[int, list[int]] = {n: [] for n in kinds}
    for s, d in _enabled_edges(genome, kinds):
        sources[d].append(s)
    positions: dict[int, tuple[float, float]] = {}
    for x in sorted(set(column.values())):
        members = [n for n in kinds if column[n] == x]
        if x not in (0.0, out_x):
            def height(n: int) -> float:
                placed = [positions[s][1] for s in sources[n] if s in positions]
                return float(np.mean(placed)) if placed else 0.5
            members.sort(key=lambda n: (-height(n), n))
        for i, n in enumerate(members):
            positions[n] = (x, 1 - (i + 1) / (len(members) + 1))
    return positions


def _short_activation(name: str) -> str:
    return ACTIVATION_TAGS.get(name, name[:4])


def _marker_sizes(positions: Mapping[int, tuple[float, float]]) -> dict[int, float]:
    """Marker area (points^2) per node: smaller in crowded columns (64 digit pixels) so they do not merge."""
    counts: dict[float, int] = {}
    for x, _ in positions.values():
        counts[x] = counts.get(x, 0) + 1
    return {n: float(np.clip((110 / (counts[x] + 1)) ** 2, 4, 70)) for n, (x, _) in positions.items()}


def _draw_edge(ax: Axes, a: tuple[float, float], b: tuple[float, float], colour: Any, width: float,
               shrink: tuple[float, float], x_span: float) -> None:
    """A forward edge as a straight line; one going back or within a column (recurrent) curved with
    an arrow head, so it reads as feedback; a self-loop as a small ring above its node."""
    if a == b:
        ax.add_patch(Arc((a[0], a[1] + 0.035), 0.05 * x_span, 0.07, theta1=-60, theta2=240, color=colour,
                         lw=width, zorder=2))
        return
    forward = b[0] > a[0]
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-" if forward else "-|>", mutation_scale=7,
                                 connectionstyle="arc3" if forward else "arc3,rad=0.35", color=colour, lw=width,
                                 shrinkA=shrink[0], shrinkB=shrink[1], zorder=2, alpha=0.85))


def _label_room(ax: Axes, labels: Sequence[str], fontsize: float) -> float:
    """The share of the axis width that the longest of ``labels`` needs beside its node."""
    if not labels:
        return 0.03
    fig = ax.figure
    width_pt = ax.get_position().width * fig.get_figwidth() * 72
    return min(0.35, (max(map(len, labels)) * 0.6 * fontsize + 10) / max(width_pt, 1.0))


def draw_champion(ax: Axes, snapshot: Mapping[str, Any] | None) -> Axes:
    """The champion genome as a graph: inputs left, outputs right, hidden nodes at their depth with
    their activation; enabled connections coloured by the sign of the weight (red positive, blue
    negative) and as wide as its size, disabled ones faint and dotted."""
    title = TITLE
    snapshot = snapshot or {}
    genome = snapshot.get("champion")
    if not genome or not genome.get("nodes"):
        return empty_chart(ax, title, missing_text(snapshot, "no champion yet"))
    kinds = _kinds(genome)
    positions = node_positions(genome)
    sizes = _marker_sizes(positions)
    out_x = max(x for x, _ in positions.values()) or 1.0
    connections = [c for c in genome.get("connections") or [] if c["src"] in kinds and c["dst"] in kinds]
    enabled = [c for c in connections if c.get("enabled", True)]
    disabled = [c for c in connections if not c.get("enabled", True)]
    if disabled:
        ax.add_collection(LineCollection([[positions[c["src"]], positions[c["dst"]]] for c in disabled],
                                         colors="#aaaaaa", linestyles=":", linewidths=0.6, alpha=0.6, zorder=1))
    if enabled:
        weights = np.array([float(c["weight"]) for c in enabled])
        vmax = float(np.percentile(np.abs(weights), WEIGHT_PERCENTILE)) or 1.0
        norm, cmap = Normalize(-vmax, vmax), mpl.colormaps["RdBu_r"]
        thin = len(enabled) > 60
        for c, w in zip(enabled, weights):
            width = (0.3 if thin else 0.5) + (1.2 if thin else 2.3) * min(abs(w) / vmax, 1.0)
            shrink = (np.sqrt(sizes[c["src"]]) / 2 + 1, np.sqrt(sizes[c["dst"]]) / 2 + 1)
            shade = 0.5 + np.copysign(max(abs(float(norm(w)) - 0.5), EDGE_LEAST_SHADE / 2), w)
            _draw_edge(ax, positions[c["src"]], positions[c["dst"]], cmap(shade), width, shrink, out_x)
        colorbar(ax, ScalarMappable(norm=norm, cmap=cmap), "weight", extend="both")
    else:
        ax.text(0.5, 0.02, "no enabled connections", transform=ax.transAxes, ha="center", va="bottom",
                fontsize=7, color="#777777")
    order = [n["id"] for n in genome["nodes"]]
    xy = np.array([positions[n] for n in order])
    ax.scatter(xy[:, 0], xy[:, 1], s=[sizes[n] for n in order], c=[NODE_COLOURS.get(kinds[n], "#ffffff") for n in order],
               edgecolors="#333333", linewidths=0.5, zorder=3)
    inputs = [n for n in order if kinds[n] == "input"]
    outputs = [n for n in order if kinds[n] == "output"]
    in_labels = _side_labels(snapshot.get("input_labels"), len(inputs), "x") if len(inputs) <= LABELS_MOST_INPUTS else []
    out_labels = _side_labels(snapshot.get("output_labels"), len(outputs), "y") if len(outputs) <= LABELS_MOST_INPUTS \
        else []
    for labels, nodes, dx, ha in [(in_labels, inputs, -5, "right"), (out_labels, outputs, 5, "left")]:
        for label, n in zip(labels, nodes):
            ax.annotate(label, positions[n], xytext=(dx, 0), textcoords="offset points", ha=ha, va="center",
                        fontsize=7)
    for node in genome["nodes"]:
        if kinds[node["id"]] == "hidden":
            ax.annotate(_short_activation(str(node.get("activation", ""))), positions[node["id"]],
                        xytext=(0, np.sqrt(sizes[node["id"]]) / 2 + 1), textcoords="offset points", ha="center",
                        va="bottom", fontsize=6, color="#7f2704", zorder=4,
                        bbox={"facecolor": "white", "alpha": 0.9, "edgecolor": "none", "pad": 0.5})
    left, right = _label_room(ax, in_labels, 7), _label_room(ax, out_labels, 7)
    span = out_x / max(1 - left - right, 0.3)
    ax.set_xlim(-left * span - 0.02 * out_x, out_x + right * span + 0.02 * out_x)
    ax.set_ylim(-0.02, 1.04)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    hidden = sum(k == "hidden" for k in kinds.values())
    fitness = snapshot.get("champion_fitness")
    details = f"{hidden} hidden, {len(enabled)} enabled connections" + \
        (f", fitness {fitness:.4g}" if fitness is not None else "")
    ax.set_title(f"{title}\n({details})", fontsize=9)     # on one line it is wider than the chart
    return ax


def _side_labels(given: Sequence[str] | None, n: int, prefix: str) -> list[str]:
    given = list(given or [])
    return [str(given[i]) if i < len(given) else f"{prefix}{i}" for i in range(n)]
