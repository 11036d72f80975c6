"""The hidden-layer map window, opened from a direct run (Hidden-layer map...): the best model's
hidden activations on held-out images projected to 2D (lab.analysis.hidden_map), coloured by class
with the images it gets wrong ringed. PCA follows the run live; t-SNE and UMAP take seconds, so
they are computed as a quick job (the run goes on) and redone with Recompute. Export writes the
map for a paper (PNG, PDF, SVG) and its points as CSV.
"""
from __future__ import annotations

import time
import tkinter as tk
from pathlib import Path
from tkinter import ttk
from typing import Any

from lab.analysis.hidden_map import METHOD_LABELS, available_methods, draw_hidden_map, map_data, project
from lab.gui.widgets.chart_panel import ChartPanel
from lab.gui.widgets.tooltip import Tooltip
from lab.gui.widgets.window import tool_window
from lab.jobs import JobEnded

LIVE_REDRAW_S = 0.5     # the live PCA map redraws at most twice a second


class HiddenMapWindow:
    """A Toplevel over the direct-run window ``owner``; it asks the run for the map's data while open."""

    def __init__(self, owner: Any):
        self.owner, self.app = owner, owner.app
        self.data: dict[str, Any] | None = None
        self.points: Any = None
        self.points_at: int | None = None      # the generation the points were projected at
        self.job = None
        self.closed = False
        self._last_draw = 0.0
        self._latest: dict[str, Any] | None = None
        self._due: str | None = None
        self.top = tool_window(owner.top, f"Hidden-layer map: {owner.arena.title}", (760, 700), (60, 40), self.close)
        bar = ttk.Frame(self.top, padding=(6, 4))
        bar.pack(fill="x")
        ttk.Label(bar, text="Projection").pack(side="left")
        self.methods = available_methods()
        self.method = tk.StringVar(value=METHOD_LABELS["pca"])
        self.chooser = ttk.Combobox(bar, textvariable=self.method, state="readonly", width=8,
                                    values=[METHOD_LABELS[m] for m in self.methods])
        self.chooser.pack(side="left", padx=(4, 8))
        self.chooser.bind("<<ComboboxSelected>>", lambda _e: self.recompute())
        Tooltip(self.chooser, "PCA (live, deterministic), t-SNE (scikit-learn) or UMAP (with umap-learn installed): "
                              "t-SNE and UMAP are computed in the background, seeded, for the generation shown.")
        self.recompute_button = ttk.Button(bar, text="Recompute", command=self.recompute)
        self.recompute_button.pack(side="left")
        ttk.Button(bar, text="Close", command=self.close).pack(side="right")
        self.export_button = ttk.Button(bar, text="Export...", command=self.export)
        self.export_button.pack(side="right", padx=4)
        self.status = ttk.Label(self.top, text="", padding=(6, 0))
        self.status.pack(fill="x")
        self.charts = ChartPanel(self.top, figsize=(7.4, 6.4), dpi=90)
        self.charts.pack(fill="both", expand=True)
        if owner.inbox is not None:
            owner.inbox.map_wanted = True
        self.show((owner.snapshot or {}).get("hidden_map") or self._from_kept_engine())

    @property
    def method_key(self) -> str:
        return next(k for k, v in METHOD_LABELS.items() if v == self.method.get())

    def _from_kept_engine(self) -> dict[str, Any] | None:
        """The map of the engine a stopped or finished run left (no run to ask)."""
        engine = self.owner.engine
        if engine is None or self.owner.running or not callable(getattr(engine, "hidden_layer", None)):
            return None
        return map_data(engine)

    def update_from(self, snapshot: dict[str, Any]) -> None:
        """A report of the run: PCA follows it (at most every LIVE_REDRAW_S); t-SNE/UMAP wait for Recompute."""
        data = snapshot.get("hidden_map")
        if data is None or self.closed:
            return
        if self.method_key != "pca":
            self._say()
            return
        self._latest = data
        if self._due is None:   # the latest report's map, at most every LIVE_REDRAW_S
            wait = max(0.0, LIVE_REDRAW_S - (time.monotonic() - self._last_draw))
            self._due = self.top.after(int(wait * 1000), self._show_latest)

    def _show_latest(self) -> None:
        self._due = None
        if not self.closed and self.method_key == "pca":
            self.show(self._latest)

    def show(self, data: dict[str, Any] | None) -> None:
        self.data = data
        if data is not None and self.method_key == "pca":
            self.points, self.points_at = project(data["acts"], "pca"), data["at"]
        self.draw()

    def draw(self) -> None:
        self._last_draw = time.monotonic()
        self.charts.redraw(lambda fig: draw_hidden_map(fig, self.data, self.points, self.method_key))
        self._say()

    def _say(self) -> None:
        unit = self.owner.unit(self.owner.snapshot or {})
        if self.data is None:
            text = ("Waiting for the run's next report..." if self.owner.running else
                    "This run's model has no hidden units to map (yet)." if self.owner.engine is not None
                    else "Start a run: the map shows its best model.")
        elif self.job is not None:
            text = f"Computing {self.method.get()} of {unit} {self.data['at']:,}..."
        else:
            live = self.method_key == "pca" and self.owner.running
            text = (f"{self.method.get()} after {self.points_at:,} {unit}" + (" (live)" if live else
                    "; Recompute for the latest" if self.owner.running else ""))
        self.status.configure(text=text)

    def recompute(self) -> None:
        """Project the latest data by the chosen method: PCA at once, t-SNE/UMAP as a quick job."""
        if self.owner.running and self.owner.snapshot and self.owner.snapshot.get("hidden_map") is not None:
            self.data = self.owner.snapshot["hidden_map"]
        elif not self.owner.running:
            self.data = self._from_kept_engine() or self.data
        if self.data is None or self.method_key == "pca":
            self.show(self.data)
            return
        if self.job is not None and self.job.active:
            self.job.cancel()
        data, method = self.data, self.method_key
        self.job = self.app.submit(lambda job: project(data["acts"], method, seed=0),
                                   title=f"{METHOD_LABELS[method]} of the hidden layer", quick=True,
                                   on_event=lambda e: self._projected(e, data, method))
        self._say()

    def _projected(self, event: Any, data: dict[str, Any], method: str) -> None:
        if not isinstance(event, JobEnded) or self.closed:
            return
        self.job = None
        if event.state == "done" and method == self.method_key:
            self.data, self.points, self.points_at = data, event.result, data["at"]
            self.draw()
        else:
            self._say()

    def export(self) -> list[Path]:
        if self.data is None or self.points is None:
            self.app.show_error("Export map", "There is no map to export yet.")
            return []
        folder = self.app.ask_export_folder("Export the hidden-layer map to folder")
        if not folder:
            return []
        from lab.analysis.export import export_figure
        from lab.files import atomic_write_text
        data, points, method = self.data, self.points, self.method_key
        stem = f"{self.owner.arena.name}-hidden-map-{method}-{self.points_at}{self.owner.unit(self.owner.snapshot or {})}"
        paths = export_figure(lambda fig: draw_hidden_map(fig, data, points, method), folder, stem, figsize=(6.0, 5.4))
        rows = ["x,y,label,predicted"] + [f"{x:.6g},{y:.6g},{data['classes'][t]},{data['classes'][p]}"
                                          for (x, y), t, p in zip(points, data["labels"], data["pred"])]
        paths.append(atomic_write_text(Path(folder) / f"{stem}.csv", "\n".join(rows) + "\n"))
        self.status.configure(text=f"Wrote {len(paths)} file(s) to {folder}")
        return paths

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._due is not None:
            self.top.after_cancel(self._due)
        if self.owner.inbox is not None:
            self.owner.inbox.map_wanted = False
        if self.job is not None and self.job.active:
            self.job.cancel()
        self.charts.figure.clear()
        self.top.destroy()
        self.charts = None
