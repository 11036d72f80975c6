"""The Stress Chamber's seven analysis charts, one source for the screen and for paper export.

Each chart is ``draw_<name>(fig, data, style) -> Figure`` (drawing on a given matplotlib Figure,
never pyplot) plus a data function returning the table it draws (``lab.analysis.chart_data``).
:data:`CHARTS` is the one list of charts; :func:`export_chart` writes PNG/PDF/SVG and the CSV.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lab.analysis.chart_data import (ChartData, ChartStyle, chosen_gene, curves_data, genes_data, phase_data,
                                     speed_data, spread_data, success_data, survival_data)
from lab.analysis.export import FORMATS, check_formats, figure_bytes, paper_context, write_files

__all__ = ["CHARTS", "ChartData", "ChartKind", "ChartStyle", "SIZES", "check_export_options", "draw_chart",
           "export_chart"]

NO_TRIALS = "no trials: run a stress test on these genomes first"
ALL_HIDDEN = "no trials to show: every group is hidden"
NO_CURVES = "no trials with learning curves recorded"
FAILED = "#7f7f7f"
STEPS_TO_GROK = "steps to grok"   # chart words for the metric steps_to_grok (CSV columns keep the key)
NOT_GROKKED = "not grokked"       # a failed trial has no step count: charts say so, never show its penalty
SIZES = {"single": 3.5, "double": 7.2}  # figure widths in inches: one and two journal columns
_HEIGHTS = {("single", 1): 2.7, ("single", 2): 5.0, ("double", 1): 3.3, ("double", 2): 3.3}
_SIDE_BY_SIDE_IN = 5.0  # two-panel charts stack their panels on figures narrower than this
# matplotlib 3.10 replaced vert=False with orientation="horizontal"
_HORIZONTAL = ({"orientation": "horizontal"} if tuple(map(int, mpl.__version__.split(".")[:2])) >= (3, 10)
               else {"vert": False})


# ---- shared pieces ---------------------------------------------------------------------------------
def _start(fig: Figure, name: str, panels: int = 1) -> list[Axes]:
    fig.clear()
    fig.set_layout_engine("constrained")
    # the chart's title goes on the figure: over one narrow axes (long group names) it would be cut off
    fig.suptitle(CHARTS[name].title, fontsize="medium")
    if panels == 1:
        return [fig.add_subplot()]
    side = fig.get_figwidth() >= _SIDE_BY_SIDE_IN
    return list(fig.subplots(1, 2) if side else fig.subplots(2, 1))


def _message(fig: Figure, name: str, text: str) -> Figure:
    """A chart with nothing to draw says why, in place of its axes."""
    ax = _start(fig, name)[0]
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666666",
            fontsize="small", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def _nothing(fig: Figure, name: str, data: ChartData) -> Figure | None:
    if data.trials.empty:
        return _message(fig, name, NO_TRIALS)
    if data.visible().empty:
        return _message(fig, name, ALL_HIDDEN)
    return None


def _finish(ax: Axes, title: str | None, xlabel: str, ylabel: str, grid: str = "both") -> None:
    if title:
        ax.set_title(title, fontsize="small")
    ax.set_xlabel(xlabel, fontsize="small")
    ax.set_ylabel(ylabel, fontsize="small")
    ax.tick_params(labelsize="x-small")
    ax.grid(alpha=0.3, axis=grid)


def _legend(ax: Axes, data: ChartData, extra: Sequence[Line2D] = ()) -> None:
    colours = data.colours()
    handles = [Line2D([], [], color=colours[g], lw=1.5, label=g) for g in data.visible_groups] + list(extra)
    if handles:
        ax.legend(handles=handles, fontsize="xx-small", frameon=False, ncol=2 if len(handles) > 8 else 1)


def _group_axis(ax: Axes, labels: Sequence[str]) -> None:
    """Groups down the y axis, first at the top (labels can be long genome names)."""
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)


def _ink_on(rgba) -> str:
    """Black or white, whichever reads better on a cell of colour ``rgba`` (WCAG relative luminance)."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(float(c)) for c in mpl.colors.to_rgba(rgba)[:3])
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if luminance > 0.179 else "white"


def _jitter(i: int, n: int, width: float = 0.3) -> np.ndarray:
    # seeded per group so a chart is the same picture every time, whatever else is hidden
    return np.random.default_rng([7, i]).uniform(-width / 2, width / 2, n)


def _log_if_wide(ax: Axes, axis: str, values: pd.Series) -> bool:
    """Log scale when the values span more than a decade; on less, log ticks crowd into a smear."""
    values = values[np.isfinite(values)]
    wide = bool(len(values) and (values > 0).all() and values.max() > 10 * values.min())
    if wide:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    return wide


def _cap_line(ax: Axes, cap: int) -> None:
    ax.axvline(cap, color=FAILED, lw=0.8, ls=":")


# ---- the seven charts ------------------------------------------------------------------------------
def draw_phase(fig: Figure, data: ChartData, style: ChartStyle = ChartStyle()) -> Figure:
    """Phase transition: validation accuracy against training loss (log, decreasing to the right,
    so time runs left to right) and validation loss over steps; one line per genome (its mean over
    seeds) or per trial ("one line per seed")."""
    if (empty := _nothing(fig, "phase", data)) is not None:
        return empty
    table = phase_data(data, style)
    if table.empty:
        return _message(fig, "phase", NO_CURVES)
    left, right = _start(fig, "phase", panels=2)
    colours = data.colours()
    width = 0.7 if style.per_seed else 1.3
    for _, trace in table.groupby(["genome_id", "seed"], sort=False, dropna=False):
        colour = colours[trace["group"].iloc[0]]
        loss = trace["train_loss"].where(trace["train_loss"] > 0)
        if style.show_lines:
            left.plot(loss, trace["val_acc"], color=colour, lw=width, alpha=0.85)
            right.plot(trace["step"], trace["val_loss"], color=colour, lw=width, alpha=0.85)
        if style.show_points:  # where each trace ended
            left.plot(loss.iloc[-1:], trace["val_acc"].iloc[-1:], "o", color=colour, ms=3)
            right.plot(trace["step"].iloc[-1:], trace["val_loss"].iloc[-1:], "o", color=colour, ms=3)
    log_x = _log_if_wide(left, "x", table["train_loss"])
    left.invert_xaxis()
    left.set_ylim(-0.02, 1.02)
    _log_if_wide(right, "y", table["val_loss"])
    loss_label = "training loss" + (" (log)" if log_x else "") + ", falling →"
    _finish(left, "accuracy against loss", loss_label, "validation accuracy")
    _finish(right, "validation loss", "step", "validation loss")
    _legend(left, data)
    return fig


def draw_speed(fig: Figure, data: ChartData, style: ChartStyle = ChartStyle()) -> Figure:
    """Convergence speed: a box of the steps to grok per group, grokked trials only, n per box."""
    if (empty := _nothing(fig, "speed", data)) is not None:
        return empty
    ax = _start(fig, "speed")[0]
    colours, table, trials = data.colours(), speed_data(data, style), data.visible()
    for i, row in table.iterrows():
        steps = trials.loc[trials["group"] == row["group"], "steps_to_grok"].dropna().to_numpy()
        if not len(steps):
            continue
        if style.show_boxes:
            box = ax.boxplot([steps], positions=[i], widths=0.55, patch_artist=True, showfliers=not style.show_points,
                             medianprops={"color": "black", "lw": 1}, **_HORIZONTAL)
            box["boxes"][0].set(facecolor=colours[row["group"]], alpha=0.6)
        if style.show_points:
            ax.plot(steps, i + _jitter(i, len(steps)), "o", color=colours[row["group"]], ms=2.5, alpha=0.8)
    _group_axis(ax, [f"{g}  n={k}/{n}" for g, k, n in zip(table["group"], table["grokked"], table["trials"])])
    ax.set_xlim(0, data.cap() * 1.02)
    if not table["grokked"].any():
        ax.text(0.5, 0.5, "no trial grokked", ha="center", va="center", transform=ax.transAxes, color="#666666",
                fontsize="small")
    _finish(ax, None, STEPS_TO_GROK, "", grid="x")
    return fig


def draw_success(fig: Figure, data: ChartData, style: ChartStyle = ChartStyle()) -> Figure:
    """Success rate per group (share of trials that grokked) with its Wilson 95% interval."""
    if (empty := _nothing(fig, "success", data)) is not None:
        return empty
    ax = _start(fig, "success")[0]
    colours, table = data.colours(), success_data(data, style)
    y = np.arange(len(table))
    rate = 100 * table["success_rate"].to_numpy(dtype=float)
    if style.show_boxes:
        ax.barh(y, rate, height=0.6, color=[colours[g] for g in table["group"]], alpha=0.8)
    else:
        ax.plot(rate, y, "o", color="black", ms=3)
    if style.show_ci:
        low, high = 100 * table["ci_low"].to_numpy(dtype=float), 100 * table["ci_high"].to_numpy(dtype=float)
        ax.errorbar(rate, y, xerr=[rate - low, high - rate], fmt="none", ecolor="black", lw=0.8, capsize=2)
    counts = [f"  {k}/{n}" if style.show_points else "" for k, n in zip(table["successes"], table["trials"])]
    _group_axis(ax, [g + c for g, c in zip(table["group"], counts)])
    ax.set_xlim(0, 100)
    _finish(ax, None, "success rate (%)" + (", Wilson 95% CI" if style.show_ci else ""),
            "", grid="x")
    return fig


def draw_curves(fig: Figure, data: ChartData, style: ChartStyle = ChartStyle()) -> Figure:
    """Learning curves: validation accuracy over steps, the mean per group with its 95% band;
    the points toggle adds each trial's own curve, faint."""
    if (empty := _nothing(fig, "curves", data)) is not None:
        return empty
    table = curves_data(data, style)
    if table.empty:
        return _message(fig, "curves", NO_CURVES)
    ax = _start(fig, "curves")[0]
    colours = data.colours()
    if style.show_points:
        for row, curve in data.visible_curves():
            ax.plot(curve["step"], curve["val_acc"], color=colours[row["group"]], lw=0.5, alpha=0.25)
    for group, rows in table.groupby("group", sort=False):
        if style.show_ci:
            ax.fill_between(rows["step"], rows["ci_low"].clip(0, 1), rows["ci_high"].clip(0, 1),
                            color=colours[group], alpha=0.2, lw=0)
        if style.show_lines:
            ax.plot(rows["step"], rows["mean_val_acc"], color=colours[group], lw=1.4)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0, data.cap())
    _finish(ax, None, "step", "validation accuracy" + (" (mean, 95% CI)" if style.show_ci else ""))
    _legend(ax, data)
    return fig


def draw_survival(fig: Figure, data: ChartData, style: ChartStyle = ChartStyle()) -> Figure:
    """Share of trials grokked by each step (Kaplan-Meier, failed trials censored at the cap, dotted
    line), so a group with failures ends below 100%; the log-log 95% band is drawn light, and only
    where it is defined (not before a group's first grok, nor after its last trial grokked)."""
    if (empty := _nothing(fig, "survival", data)) is not None:
        return empty
    ax = _start(fig, "survival")[0]
    colours, table = data.colours(), survival_data(data, style)
    for group, rows in table.groupby("group", sort=False):
        steps, share = rows["step"].to_numpy(), 100 * rows["share_grokked"].to_numpy(dtype=float)
        if style.show_ci:  # no band where the interval is undefined (nothing grokked yet, or all grokked)
            low, high = (100 * rows[k].to_numpy(dtype=float) for k in ("ci_low", "ci_high"))
            ax.fill_between(steps, np.nan_to_num(low), np.nan_to_num(high), where=np.isfinite(low) & np.isfinite(high),
                            step="post", color=colours[group], alpha=0.12, lw=0, clip_on=True)
        if style.show_lines:
            ax.step(steps, share, where="post", color=colours[group], lw=1.4)
        if style.show_points:  # the censored end: share grokked at the cap
            ax.plot(steps[-1:], share[-1:], "|", color=colours[group], ms=8, mew=1.5)
    _cap_line(ax, data.cap())
    ax.set_xlim(0, data.cap() * 1.02)
    ax.set_ylim(-2, 102)
    _finish(ax, None, "training step (not grokked: censored at the cap)",
            "trials grokked (%)" + (", 95% CI" if style.show_ci else ""))
    _legend(ax, data)
    return fig


def draw_genes(fig: Figure, data: ChartData, style: ChartStyle = ChartStyle()) -> Figure:
    """Gene against speed: each trial's steps to grok over one gene (trials that did not grok as grey
    crosses at the cap), and the Spearman correlation of every gene with the steps to grok and with
    success (n under each column)."""
    if (empty := _nothing(fig, "genes", data)) is not None:
        return empty
    table = genes_data(data, style)
    gene = chosen_gene(table, style)
    if gene is None:
        return _message(fig, "genes", "these genomes have no genes to compare")
    scatter, heat = _start(fig, "genes", panels=2)
    trials, colours, cap = data.visible(), data.colours(), data.cap()
    x = trials[f"gene:{gene}"].astype(float)
    ok = trials["steps_to_grok"].notna()
    scatter.scatter(x[ok], trials.loc[ok, "steps_to_grok"], s=9, c=[colours[g] for g in trials.loc[ok, "group"]],
                    alpha=0.85, lw=0)
    scatter.scatter(x[~ok], np.full((~ok).sum(), cap), s=12, marker="x", color=FAILED, lw=0.8)
    if (x > 0).all() and x.max() > 20 * x.min():
        scatter.set_xscale("log")
    scatter.axhline(cap, color=FAILED, lw=0.8, ls=":")
    scatter.set_ylim(0, cap * 1.05)
    label = data.gene_label(gene)
    _finish(scatter, f"{label} against speed", label, f"{STEPS_TO_GROK} (x: {NOT_GROKKED})")
    _legend(scatter, data)

    matrix = table[["spearman_steps_to_grok", "spearman_success"]].to_numpy(dtype=float)
    cmap = mpl.colormaps["RdBu_r"].with_extremes(bad="#eeeeee")  # no correlation (constant gene): grey
    image = heat.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=-1, vmax=1, aspect="auto")
    for (r, c), value in np.ndenumerate(matrix):
        heat.text(c, r, "–" if np.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=5,
                  color=_ink_on(cmap(image.norm(value)) if np.isfinite(value) else cmap.get_bad()))
    grokked, trials = (int(table[k].iloc[0]) if len(table) else 0 for k in ("grokked", "trials"))
    heat.set_xticks([0, 1], [f"{STEPS_TO_GROK}\nn={grokked} grokked", f"success\nn={trials} trials"],
                    fontsize="xx-small")
    heat.set_yticks(range(len(table)), [data.gene_label(g) for g in table["gene"]], fontsize="xx-small")
    for label, chosen in zip(heat.get_yticklabels(), table["chosen"]):
        label.set_fontweight("bold" if chosen else "normal")
    heat.set_title("Spearman ρ per gene", fontsize="small")
    fig.colorbar(image, ax=heat, shrink=0.8).ax.tick_params(labelsize="xx-small")
    return fig


def draw_spread(fig: Figure, data: ChartData, style: ChartStyle = ChartStyle()) -> Figure:
    """Per-seed spread: each trial's steps to grok as a point per group (trials that did not grok as
    grey crosses at the cap), over a violin of the grokked ones; the lines toggle marks the median."""
    if (empty := _nothing(fig, "spread", data)) is not None:
        return empty
    ax = _start(fig, "spread")[0]
    colours, table, cap = data.colours(), spread_data(data, style), data.cap()
    groups = data.visible_groups
    for i, group in enumerate(groups):
        rows = table[table["group"] == group]
        steps = rows["steps_to_grok"].dropna().to_numpy()
        if style.show_boxes and len(steps) >= 2 and np.ptp(steps) > 0:
            body = ax.violinplot([steps], positions=[i], widths=0.8, showextrema=False, **_HORIZONTAL)["bodies"][0]
            body.set(facecolor=colours[group], alpha=0.3, lw=0)
        if style.show_points:
            ax.plot(steps, i + _jitter(i, len(steps)), "o", color=colours[group], ms=2.5, alpha=0.85)
            failed = len(rows) - len(steps)
            ax.plot(np.full(failed, cap), i + _jitter(i + 1000, failed), "x", color=FAILED, ms=3, mew=0.8)
        if style.show_lines and len(steps):
            ax.plot([np.median(steps)] * 2, [i - 0.35, i + 0.35], color="black", lw=1.2)
    _cap_line(ax, cap)
    _group_axis(ax, groups)
    ax.set_xlim(0, cap * 1.04)
    _finish(ax, None, f"{STEPS_TO_GROK} (x: {NOT_GROKKED}, drawn at the cap)", "", grid="x")
    return fig


# ---- the chart table -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ChartKind:
    """One chart: its title, how to draw it, the table behind it, its panels and the style toggles
    it honours (the Stress Chamber greys out the others)."""

    name: str
    title: str
    draw: Callable[[Figure, ChartData, ChartStyle], Figure]
    data: Callable[[ChartData, ChartStyle], pd.DataFrame]
    panels: int = 1
    toggles: tuple[str, ...] = ()


CHARTS: dict[str, ChartKind] = {k.name: k for k in (
    ChartKind("phase", "Phase transition", draw_phase, phase_data, 2, ("show_lines", "show_points", "per_seed")),
    ChartKind("speed", "Convergence speed (grokked trials)", draw_speed, speed_data, 1, ("show_boxes", "show_points")),
    ChartKind("success", "Success rate", draw_success, success_data, 1, ("show_boxes", "show_ci", "show_points")),
    ChartKind("curves", "Learning curves", draw_curves, curves_data, 1, ("show_lines", "show_ci", "show_points")),
    ChartKind("survival", "Survival: trials grokked by step", draw_survival, survival_data, 1,
              ("show_lines", "show_ci", "show_points")),
    ChartKind("genes", "Genes against speed", draw_genes, genes_data, 2, ("gene",)),
    ChartKind("spread", "Per-seed spread of steps to grok", draw_spread, spread_data, 1,
              ("show_lines", "show_boxes", "show_points")),
)}


def _check_kind(kind: str) -> ChartKind:
    if kind not in CHARTS:
        raise ValueError(f"unknown chart {kind!r} (charts: {', '.join(CHARTS)})")
    return CHARTS[kind]


def draw_chart(kind: str, fig: Figure, data: ChartData, style: ChartStyle = ChartStyle()) -> Figure:
    """Draw chart ``kind`` on ``fig`` (what the Stress Chamber's chart panel calls)."""
    return _check_kind(kind).draw(fig, data, style)


def check_export_options(formats: Sequence[str], size: str, dpi: int) -> tuple[str, ...]:
    """The formats, deduplicated, once formats, size and dpi are known to be valid (else ValueError)."""
    formats = check_formats(list(formats))
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r} (sizes: {', '.join(SIZES)})")
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not 50 <= dpi <= 2400:
        raise ValueError(f"dpi must be a whole number from 50 to 2400, got {dpi!r}")
    return formats


def export_chart(kind: str, data: ChartData, out_dir: str | Path, *, formats: Sequence[str] = FORMATS,
                 dpi: int = 300, size: str = "single", style: ChartStyle = ChartStyle(),
                 stem: str | None = None) -> list[Path]:
    """Write chart ``kind`` as ``<stem>.<fmt>`` per format plus ``<stem>.csv`` (its table) into
    ``out_dir``, on a fresh figure under paper settings, one (``single``, 3.5 in) or two
    (``double``, 7.2 in) journal columns wide. Everything is rendered before anything is written."""
    chart = _check_kind(kind)
    formats = check_export_options(formats, size, dpi)
    stem = stem or kind
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", stem):
        raise ValueError(f"file stem {stem!r} must be letters, digits, '_', '-' or '.'")
    out_dir = Path(out_dir)
    table = chart.data(data, style)
    with paper_context():
        fig = Figure(figsize=(SIZES[size], _HEIGHTS[size, chart.panels]))
        chart.draw(fig, data, style)
        files = {out_dir / f"{stem}.{fmt}": figure_bytes(fig, fmt, dpi) for fmt in formats}
    files[out_dir / f"{stem}.csv"] = table.to_csv(index=False, float_format="%.6g").encode("utf-8")
    return write_files(files)
