"""The tables behind the Insights' charts (what their CSV files hold) and the export of each view:
chart under the shared paper settings (PNG/SVG/PDF) plus its table, written whole or not at all.
The Insights tab and ``python main.py insights`` both export through :func:`export_view`."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lab.analysis.insight_model import ModelFit, Proposal, contour_grid, slice_curve
from lab.analysis.insights import InsightData

VIEWS = ("importance", "parallel", "slice", "contour", "propose")


def importance_table(fits: Mapping[str, ModelFit]) -> pd.DataFrame:
    rows = []
    for key, fit in fits.items():
        for rank, gene in enumerate(fit.ranked_genes(), start=1):
            mean, sd = fit.importance[gene]
            rows.append({"outcome": key, "rank": rank, "gene": gene, "importance": mean, "importance_sd": sd,
                         "held_out_r2": fit.score, "trusted": fit.trusted, "genomes": len(fit.y),
                         "left_out": fit.left_out})
    return pd.DataFrame(rows, columns=["outcome", "rank", "gene", "importance", "importance_sd", "held_out_r2",
                                       "trusted", "genomes", "left_out"])


def interactions_table(fits: Mapping[str, ModelFit]) -> pd.DataFrame:
    rows = [{"outcome": key, "gene_a": a, "gene_b": b, "h2": h}
            for key, fit in fits.items() for (a, b), h in sorted(fit.interactions.items(), key=lambda kv: -kv[1])]
    return pd.DataFrame(rows, columns=["outcome", "gene_a", "gene_b", "h2"])


def parallel_table(data: InsightData, chosen: np.ndarray | None = None) -> pd.DataFrame:
    frame = data.frame.drop(columns=[c for c in data.frame.columns if c.startswith("unit:")]).copy()
    frame.insert(2, "chosen", True if chosen is None else np.asarray(chosen, dtype=bool))
    return frame


def slice_table(data: InsightData, fit: ModelFit, gene: str) -> pd.DataFrame:
    from lab.analysis.insight_charts import gene_values
    grid, mean, sd = slice_curve(fit, gene)
    return pd.DataFrame({gene: gene_values(data, gene, grid), "unit": grid,
                         f"predicted_{fit.outcome.key}": fit.natural(mean),
                         "minus_1sd": fit.natural(mean - sd), "plus_1sd": fit.natural(mean + sd)})


def contour_table(data: InsightData, fit: ModelFit, a: str, b: str) -> pd.DataFrame:
    from lab.analysis.insight_charts import gene_values
    ga, gb, z = contour_grid(fit, a, b)
    xa, xb = gene_values(data, a, ga), gene_values(data, b, gb)
    za = fit.natural(z)
    return pd.DataFrame([{a: xa[i], b: xb[j], f"predicted_{fit.outcome.key}": za[j, i]}
                         for j in range(len(xb)) for i in range(len(xa))])


def proposals_table(proposals: Sequence[Proposal]) -> pd.DataFrame:
    rows = []
    for rank, p in enumerate(proposals, start=1):
        row: dict[str, Any] = {"rank": rank, "genome_id": p.genome.id, "name": p.genome.name,
                               "objective": p.objective, "objective_sd": p.objective_sd}
        for key, (mean, sd) in p.predicted.items():
            row[f"predicted_{key}"], row[f"predicted_{key}_sd"] = mean, sd
        rows.append({**row, **dict(p.genome.genes)})
    return pd.DataFrame(rows)


def default_pair(fit: ModelFit) -> tuple[str, str]:
    """The contour's genes: the two the model finds most important."""
    ranked = fit.ranked_genes()
    return ranked[0], ranked[1]


def export_view(view: str, folder: str | Path, data: InsightData, fits: Mapping[str, ModelFit], *,
                formats: Sequence[str] = ("png", "svg", "pdf"), outcome: str | None = None,
                gene: str | None = None, genes: tuple[str, str] | None = None, colour_by: str = "success",
                brushes: Mapping[str, tuple[float, float]] | None = None,
                species: Mapping[str, str] | None = None, proposals: Sequence[Proposal] = (),
                axis_genes: Sequence[str] | None = None) -> list[Path]:
    """Write ``insights-<view>`` chart files and ``insights-<view>.csv`` (and for importance the
    interactions' CSV) into ``folder``; everything is computed before the first file is written."""
    from lab.analysis import insight_charts as charts
    from matplotlib.figure import Figure

    from lab.analysis.export import check_formats, figure_bytes, paper_context, write_files
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r} (views: {', '.join(VIEWS)})")
    folder = Path(folder)
    fit = fits.get(outcome or "", next(iter(fits.values()))) if fits else None
    tables: dict[str, pd.DataFrame] = {}
    if view == "importance":
        tables = {"insights-importance": importance_table(fits), "insights-interactions": interactions_table(fits)}

        def draw(fig): charts.draw_importance(fig, fits, data)
        size = (4.2 * (len(fits) + 1), 4.8)
    elif view == "parallel":
        axes = charts.parallel_axes(data, axis_genes)
        chosen = charts.brushed(charts.axis_positions(data, axes), axes, brushes or {})
        tables = {"insights-parallel": parallel_table(data, chosen)}

        def draw(fig): charts.draw_parallel(fig.add_subplot(1, 1, 1), data, axes, colour_by, brushes, species)
        size = (11.0, 5.0)
    elif view == "slice":
        gene = gene or fit.ranked_genes()[0]
        tables = {"insights-slice": slice_table(data, fit, gene)}

        def draw(fig): charts.draw_slice(fig.add_subplot(1, 1, 1), data, fit, gene)
        size = (6.4, 4.6)
    elif view == "contour":
        a, b = genes or default_pair(fit)
        tables = {"insights-contour": contour_table(data, fit, a, b)}

        def draw(fig): charts.draw_contour(fig.add_subplot(1, 1, 1), data, fit, a, b)
        size = (6.8, 5.2)
    else:
        tables = {"insights-propose": proposals_table(proposals)}
        draw, size = None, (0, 0)
    files = {folder / f"{stem}.csv": table.to_csv(index=False).encode() for stem, table in tables.items()}
    if draw is not None:
        with paper_context():
            fig = Figure(figsize=size)
            draw(fig)
            fig.tight_layout()
            files.update({folder / f"insights-{view}.{fmt}": figure_bytes(fig, fmt, dpi=200)
                          for fmt in check_formats(list(formats))})
    return write_files(files)
