"""The Insights' charts: gene importance (with the model's held-out score) and interactions, parallel
coordinates with brushing, the slice (outcome against one gene) and the contour over two genes. Each
is a ``draw_*`` function on a given matplotlib Figure or Axes, used on screen and for paper export; the
tables behind them (CSV) come from :mod:`lab.analysis.insight_tables`. No pyplot.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lab.analysis.insight_model import ModelFit, contour_grid, slice_curve
from lab.analysis.insights import InsightData

TRUSTED, UNTRUSTED = "#2166ac", "#aaaaaa"
OUTCOME_CMAP = "viridis"
BRUSH_COLOUR = "#e08214"


# ---- importance -----------------------------------------------------------------------------------
def draw_importance(fig: Figure, fits: Mapping[str, ModelFit], data: InsightData, top: int = 12) -> None:
    """One bar chart per outcome (permutation importance on held-out folds, ± sd), its held-out R² in
    the title; a model that predicts nothing is drawn grey and says so. Then H² of the top genes."""
    fig.clear()
    keys = list(fits)
    with_h = max((f for f in fits.values() if f.interactions), key=lambda f: f.score, default=None)
    n = len(keys) + (1 if with_h else 0)
    if not n:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "No model yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    labels = {g.key: g.label for g in data.spec.genes}
    grid = fig.add_gridspec(1, n, width_ratios=[1.0] * len(keys) + ([1.5] if with_h else []))
    for i, key in enumerate(keys):
        fit = fits[key]
        ax = fig.add_subplot(grid[0, i])
        genes = fit.ranked_genes()[:top][::-1]
        means = [fit.importance[g][0] for g in genes]
        sds = [fit.importance[g][1] for g in genes]
        ax.barh(range(len(genes)), means, xerr=sds, color=TRUSTED if fit.trusted else UNTRUSTED, capsize=2)
        ax.set_yticks(range(len(genes)), [labels.get(g, g) for g in genes], fontsize=8)
        ax.axvline(0, color="#444444", lw=0.6)
        ax.set_xlabel("held-out R² lost when shuffled")
        verdict = "" if fit.trusted else "\nmodel predicts nothing: do not trust"
        ax.set_title(f"{fit.outcome.label}\n{len(fit.y)} genomes, held-out R² {fit.score:.2f}{verdict}",
                     fontsize=9, color="#000000" if fit.trusted else "#b2182b")
    if with_h:
        draw_interactions(fig.add_subplot(grid[0, n - 1]), with_h, labels)
    fig.tight_layout()


def draw_interactions(ax: Axes, fit: ModelFit, labels: Mapping[str, str]) -> None:
    """Friedman's H² of each pair of the top genes as a heat map."""
    genes = list(dict.fromkeys(g for pair in fit.interactions for g in pair))
    m = np.full((len(genes), len(genes)), np.nan)
    for (a, b), h in fit.interactions.items():
        i, j = genes.index(a), genes.index(b)
        m[i, j] = m[j, i] = h
    image = ax.imshow(m, vmin=0, vmax=max(0.2, float(np.nanmax(m)) if np.isfinite(m).any() else 0.2), cmap="Oranges")
    short = [labels.get(g, g)[:12] for g in genes]
    ax.set_xticks(range(len(genes)), short, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(genes)), short, fontsize=7)
    for i in range(len(genes)):
        for j in range(len(genes)):
            if np.isfinite(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.2f}".lstrip("0"), ha="center", va="center", fontsize=6)
    ax.set_title(f"interaction H² ({fit.outcome.label})", fontsize=9)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


# ---- parallel coordinates -------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Axis:
    """One vertical axis: a gene (in its unit space, so a log gene is on a log axis) or an outcome
    (success on [0, 1]; the steps median on a log axis between the smallest and largest seen)."""

    key: str
    label: str
    kind: str          # "gene" or "outcome"
    lo: float = 0.0    # outcome range (natural units)
    hi: float = 1.0
    log: bool = False


def shown_genes(fits: Mapping[str, ModelFit], top: int) -> list[str] | None:
    """The ``top`` genes by the importance of the best-scoring model, most important first (None: all
    genes, in table order, when ``top`` is 0 or there is no model)."""
    if not top or not fits:
        return None
    best = max(fits.values(), key=lambda f: f.score)
    return best.ranked_genes()[:top]


def parallel_axes(data: InsightData, genes: Sequence[str] | None = None) -> list[Axis]:
    """The axes: ``genes`` in that order (default: every gene in table order), then the outcomes."""
    keys = list(genes) if genes is not None else data.genes
    axes = [Axis(k, data.spec.gene(k).label, "gene") for k in keys]
    for o in data.outcomes:
        values = data.frame[o.key].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if not len(values):
            continue
        lo, hi = (0.0, 1.0) if o.key == "success" else (float(values.min()), float(values.max()))
        axes.append(Axis(o.key, o.label, "outcome", lo, hi if hi > lo else lo + 1, o.log))
    return axes


def axis_positions(data: InsightData, axes: Sequence[Axis]) -> np.ndarray:
    """[genomes, axes] positions in [0, 1] (NaN where a genome has no value on an outcome axis)."""
    cols = []
    for a in axes:
        if a.kind == "gene":
            cols.append(data.frame[f"unit:{a.key}"].to_numpy(dtype=float))
            continue
        v = data.frame[a.key].to_numpy(dtype=float)
        if a.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                cols.append((np.log10(v) - math.log10(max(a.lo, 1e-12))) /
                            max(1e-12, math.log10(a.hi) - math.log10(max(a.lo, 1e-12))))
        else:
            cols.append((v - a.lo) / (a.hi - a.lo))
    return np.column_stack(cols) if cols else np.empty((len(data.frame), 0))


def brushed(positions: np.ndarray, axes: Sequence[Axis], brushes: Mapping[str, tuple[float, float]]) -> np.ndarray:
    """Genomes inside every brush (a (low, high) range in [0, 1] on an axis, by key); all when none."""
    keep = np.ones(len(positions), dtype=bool)
    keys = [a.key for a in axes]
    for key, (lo, hi) in brushes.items():
        if key in keys:
            col = positions[:, keys.index(key)]
            keep &= (col >= min(lo, hi)) & (col <= max(lo, hi))
    return keep


def axis_ticks(data: InsightData, a: Axis) -> tuple[list[float], list[str]]:
    """Three ticks per axis in the axis' own units (a log gene's ticks are log-spaced)."""
    points = [0.0, 0.5, 1.0]
    if a.kind == "gene":
        gene = data.spec.gene(a.key)
        return points, [f"{gene.from_unit(p):.3g}" for p in points]
    if a.log:
        lo, hi = math.log10(max(a.lo, 1e-12)), math.log10(a.hi)
        return points, [f"{10 ** (lo + p * (hi - lo)):.3g}" for p in points]
    return points, [f"{a.lo + p * (a.hi - a.lo):.3g}" for p in points]


def draw_parallel(ax: Axes, data: InsightData, axes: Sequence[Axis], colour_by: str = "success",
                  brushes: Mapping[str, tuple[float, float]] | None = None,
                  species: Mapping[str, str] | None = None) -> np.ndarray:
    """One line per genome across the axes, coloured by an outcome (or by ``species``: genome id ->
    name, when ``colour_by`` is "species"); genomes outside the brushes are faint. Returns the mask of
    genomes inside the brushes."""
    brushes = brushes or {}
    pos = axis_positions(data, axes)
    keep = brushed(pos, axes, brushes)
    x = np.arange(len(axes))
    colours, key = _line_colours(data, colour_by, species)
    for i in np.argsort(keep, kind="stable"):   # the chosen lines on top
        ax.plot(x, pos[i], color=colours[i] if keep[i] else "#cccccc", lw=1.2 if keep[i] else 0.6,
                alpha=0.9 if keep[i] else 0.5, zorder=3 if keep[i] else 1)
    for j, a in enumerate(axes):
        ax.axvline(j, color="#333333", lw=0.8, zorder=2)
        ticks, labels = axis_ticks(data, a)
        for t, text in zip(ticks, labels):
            ax.text(j + 0.04, t, text, fontsize=6, va="center", color="#555555", zorder=4)
        if a.key in brushes:
            lo, hi = sorted(brushes[a.key])
            ax.add_patch(_rect(j, lo, hi))
    ax.set_xticks(x, [a.label[:22] + ("  (log)" if a.log or (a.kind == "gene" and data.spec.gene(a.key).scale != "linear")
                                         else "") for a in axes], rotation=40, ha="right", fontsize=7)
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlim(-0.3, len(axes) - 0.5)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{int(keep.sum())} of {len(keep)} genomes chosen", fontsize=9)
    if isinstance(key, dict):   # species: a legend of the most common
        from matplotlib.lines import Line2D
        handles = [Line2D([], [], color=c, lw=2, label=name[:28]) for name, c in list(key.items())[:12]]
        ax.legend(handles=handles, fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
                  title=f"species ({len(key)})", title_fontsize=7)
    else:
        bar = ax.figure.colorbar(key, ax=ax, fraction=0.025, pad=0.01)
        bar.set_label(data.outcome(colour_by).label, fontsize=7)
        bar.ax.tick_params(labelsize=6)
    return keep


def _rect(j: float, lo: float, hi: float):
    from matplotlib.patches import Rectangle
    return Rectangle((j - 0.08, lo), 0.16, hi - lo, facecolor=BRUSH_COLOUR, alpha=0.35, edgecolor=BRUSH_COLOUR,
                     zorder=5)


def _line_colours(data: InsightData, colour_by: str, species: Mapping[str, str] | None) -> tuple[list[Any], Any]:
    """Each genome's colour, and the key to them: a ScalarMappable for an outcome (for a colour bar;
    the better end bright), species name -> colour (most common first) for species."""
    from collections import Counter

    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    ids = data.genome_ids()
    if colour_by == "species":
        names = [(species or {}).get(g) or "no species" for g in ids]
        order = [n for n, _ in Counter(names).most_common()]
        palette = colormaps["tab20"]
        colours = {n: palette(i % 20) for i, n in enumerate(order)}
        return [colours[n] for n in names], colours
    values = data.frame[colour_by].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    cmap = colormaps[OUTCOME_CMAP if data.outcome(colour_by).higher_is_better else OUTCOME_CMAP + "_r"]
    norm = Normalize(lo, hi if hi > lo else lo + 1)
    return [cmap(norm(v)) if np.isfinite(v) else "#999999" for v in values], ScalarMappable(norm, cmap)


# ---- slice and contour ----------------------------------------------------------------------------
def gene_values(data: InsightData, key: str, units: np.ndarray) -> np.ndarray:
    """A gene's values at unit-space points (uniform in the gene's own scale)."""
    gene = data.spec.gene(key)
    return np.array([float(gene.from_unit(u)) for u in units])


def draw_slice(ax: Axes, data: InsightData, fit: ModelFit, gene: str, curve: tuple | None = None) -> None:
    """The outcome against one gene: every genome (a censored median as an open triangle at its
    bound), and the forest's partial dependence with ± one sd over the trees (``curve``: that of
    :func:`slice_curve`, when it was computed elsewhere)."""
    o = fit.outcome
    spec_gene = data.spec.gene(gene)
    frame = data.frame
    x = frame[gene].to_numpy(dtype=float)
    y = frame[o.key].to_numpy(dtype=float)
    censored = frame["median_censored"].to_numpy(dtype=bool) if o.key == "median_steps" else np.zeros(len(y), bool)
    ax.scatter(x[~censored], y[~censored], s=14, color="#444444", alpha=0.7, label="genomes", zorder=3)
    if censored.any():
        ax.scatter(x[censored], y[censored], s=18, marker="^", facecolors="none", edgecolors="#b2182b",
                   label="median not reached (at least)", zorder=3)
    grid, mean, sd = curve if curve is not None else slice_curve(fit, gene)
    xs = gene_values(data, gene, grid)
    ax.plot(xs, fit.natural(mean), color=TRUSTED, lw=2, label="model (partial dependence)")
    ax.fill_between(xs, fit.natural(mean - sd), fit.natural(mean + sd), color=TRUSTED, alpha=0.2, lw=0,
                    label="± 1 sd over trees")
    if spec_gene.scale == "log":
        ax.set_xscale("log")
    if o.log:
        ax.set_yscale("log")
    ax.set_xlabel(spec_gene.label + (" (log)" if spec_gene.scale == "log" else ""))
    ax.set_ylabel(o.label)
    ax.set_title(f"{o.label} against {spec_gene.label}\n(model's held-out R² {fit.score:.2f})", fontsize=8)
    ax.legend(fontsize=7, loc="best")


def draw_contour(ax: Axes, data: InsightData, fit: ModelFit, a: str, b: str, grid: tuple | None = None) -> None:
    """The forest's joint partial dependence over genes ``a`` and ``b`` with the genomes on top
    (``grid``: that of :func:`contour_grid`, when it was computed elsewhere)."""
    ga, gb, z = grid if grid is not None else contour_grid(fit, a, b)
    xa, xb = gene_values(data, a, ga), gene_values(data, b, gb)
    z = fit.natural(z)
    cmap = OUTCOME_CMAP if fit.outcome.higher_is_better else OUTCOME_CMAP + "_r"
    filled = ax.contourf(xa, xb, z, levels=12, cmap=cmap)
    ax.figure.colorbar(filled, ax=ax, label=fit.outcome.label)
    ax.scatter(data.frame[a], data.frame[b], s=10, color="white", edgecolors="black", linewidths=0.5, zorder=3)
    ga_, gb_ = data.spec.gene(a), data.spec.gene(b)
    if ga_.scale == "log":
        ax.set_xscale("log")
    if gb_.scale == "log":
        ax.set_yscale("log")
    ax.set_xlabel(ga_.label)
    ax.set_ylabel(gb_.label)
    ax.set_title(f"{fit.outcome.label} over {ga_.label} x {gb_.label}\n(the model; dots: genomes)", fontsize=8)
