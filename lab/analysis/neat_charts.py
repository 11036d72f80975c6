"""The NEAT direct run's charts, as functions of an engine snapshot and the population's fitness
history (see :mod:`lab.direct`): fitness over generations, species sizes, the champion network as a
graph, and the species controller. Like :mod:`lab.analysis.m2n2_charts`, none uses pyplot, so they
serve the live window and the exports.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Arc, FancyArrowPatch
from matplotlib.transforms import blended_transform_factory

from lab.analysis.export import FORMATS, export_figure
from lab.analysis.m2n2_charts import COLOURS, _colorbar, _empty, draw_grid

CHARTS = {
    "fitness": "Fitness over generations",
    "species": "Species sizes over generations",
    "champion": "Champion network",
    "controller": "Species controller: count, target and threshold",
}
NODE_COLOURS = {"input": "#d9d9d9", "hidden": "#fdae6b", "output": "#74c476"}
ARM_COLOURS = {"pid": "#1b9e77", "hill": "#d95f02", "fixed": "#7570b3"}
ACTIVATION_TAGS = {"sigmoid": "sig", "identity": "id", "gauss": "gau", "clamped": "clmp", "softplus": "sp+",
                   "square": "sq", "log": "log", "exp": "exp", "inv": "inv", "hat": "hat", "cube": "cube"}
LEGEND_MOST_SPECIES = 8
LABELS_MOST_INPUTS = 16
FITNESS_LEGEND_ROOM = 0.4   # the top of the fitness chart left to its legend (up to three rows)
WEIGHT_PERCENTILE = 95     # edges at or above this |weight| are drawn at their widest and deepest colour
EDGE_LEAST_SHADE = 0.4     # a small weight's edge still this far from white to the deepest colour: its sign shows
# tab20 reordered: its ten strong colours first, then their pale partners, so species born one after
# the other never get the two shades of one hue
SPECIES_COLOURS = [mpl.colormaps["tab20"](i) for i in [*range(0, 20, 2), *range(1, 20, 2)]]


def _missing(snapshot: Mapping[str, Any] | None, what: str) -> str:
    return what if snapshot else "no run yet"


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
        return _empty(ax, title, _missing(snapshot, "no generation yet"))
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
        return _empty(ax, title, _missing(snapshot, "no species yet"))
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
    title = CHARTS["champion"]
    snapshot = snapshot or {}
    genome = snapshot.get("champion")
    if not genome or not genome.get("nodes"):
        return _empty(ax, title, _missing(snapshot, "no champion yet"))
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
        _colorbar(ax, ScalarMappable(norm=norm, cmap=cmap), "weight", extend="both")
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


# ---- species controller --------------------------------------------------------------------------
def draw_controller(ax: Axes, snapshot: Mapping[str, Any] | None) -> Axes:
    """How the species controller steers: the species count and its target (a step line) on the
    left axis, the compatibility threshold it sets on the right, and a row of marks along the bottom
    coloured by the arm (pid, hill, fixed) that set the threshold each generation."""
    title = CHARTS["controller"]
    control = (snapshot or {}).get("controller") or {}
    if not control.get("generation"):
        return _empty(ax, title, _missing(snapshot, "no generation yet"))
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
    return draw_grid(fig, [lambda ax: draw_fitness(ax, snapshot, history, target_acc),
                           lambda ax: draw_species(ax, snapshot),
                           lambda ax: draw_champion(ax, snapshot),
                           lambda ax: draw_controller(ax, snapshot)])


def export_neat_panel(folder: str | Path, stem: str, snapshot: Mapping[str, Any] | None,
                      history: Mapping[str, Sequence[float]] | None, target_acc: float | None = None,
                      formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write the four charts as ``<stem>.<fmt>`` for each format, on a fresh figure under paper
    settings (see :mod:`lab.analysis.export`), so the files are reproducible and editable."""
    return export_figure(lambda fig: draw_neat_panel(fig, snapshot, history, target_acc), folder, stem, formats)
