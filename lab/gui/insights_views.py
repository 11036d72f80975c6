"""The Insights tab's model pages (part of lab.gui.insights.InsightsTab): gene importance, parallel
coordinates with brushing (drag along an axis to keep a range, click an axis to clear it), slice and
contour (computed as a quick job, drawn when it ends), and proposals. Tables and charts come from
lab.analysis.insight_charts / insight_tables; nothing here computes science."""
from __future__ import annotations

import tkinter as tk
from tkinter import ttk
from typing import Any

import numpy as np

from lab.analysis import insight_charts as charts
from lab.analysis.phylogeny import LEVELS
from lab.gui.widgets.chart_panel import ChartPanel
from lab.gui.widgets.form import FormError
from lab.gui.widgets.table import scroll_both
from lab.gui.widgets.tooltip import Tooltip
from lab.jobs import JobEnded

AXIS_CHOICES = ("top 5 genes", "top 8 genes", "top 12 genes", "every gene")


def shape_job(job, fit, gene: str, pair: tuple[str, str]) -> tuple[Any, Any]:
    """The slice curve and the contour grid (a few hundred thousand forest predictions)."""
    from lab.analysis.insight_model import contour_grid, slice_curve
    job.report(0.1, "slice")
    curve = slice_curve(fit, gene)
    job.report(0.5, "contour")
    return curve, contour_grid(fit, *pair)


def propose_job(job, data, fits, n: int, seed: int) -> list:
    from lab.analysis.insight_model import propose
    return propose(data, fits, n, seed=seed, tags=("proposed",), report=job.report)


def page_with_bar(nb: ttk.Notebook, title: str) -> tuple[ttk.Frame, ttk.Frame]:
    """A notebook page and the bar of controls along its top."""
    page = ttk.Frame(nb)
    nb.add(page, text=title)
    bar = ttk.Frame(page, padding=(2, 2))
    bar.pack(fill="x")
    return page, bar


def _row_buttons(parent: ttk.Frame, send, ids) -> ttk.Frame:
    row = ttk.Frame(parent)
    for text, topic, tip in (("To Evolution", "send_to_evolution_lab", "ancestors of the next run's generation 1"),
                             ("To Stress", "send_to_stress_chamber", "the Stress Chamber's list"),
                             ("To Forge", "send_to_gene_forge", "the Gene Forge (the first one)")):
        button = ttk.Button(row, text=text, command=lambda t=topic: send(t, ids()))
        button.pack(side="left", padx=(0, 4))
        Tooltip(button, f"Send the chosen genomes to {tip}.")
    return row


class ModelViews:
    # ---- layout ------------------------------------------------------------------------------------
    def _build_model_views(self, nb: ttk.Notebook) -> None:
        self.brushes: dict[str, tuple[float, float]] = {}
        self.proposals: list = []
        self._drag: tuple[int, float] | None = None
        self._shape_job = None
        self._propose_job = None
        self.importance_panel = ChartPanel(nb, figsize=(9.0, 4.8), dpi=90)
        nb.add(self.importance_panel, text="Importance")
        self._build_parallel(nb)
        self._build_slice(nb)
        self._build_propose(nb)

    def _build_parallel(self, nb: ttk.Notebook) -> None:
        page, bar = page_with_bar(nb, "Parallel")
        ttk.Label(bar, text="Colour by").pack(side="left")
        self.colour_by = tk.StringVar(self.frame, value="success")
        self.colour_box = ttk.Combobox(bar, textvariable=self.colour_by, state="readonly", width=14,
                                       values=["success", "species"])
        self.colour_box.pack(side="left", padx=(4, 8))
        self.colour_box.bind("<<ComboboxSelected>>", lambda _e: self._draw_parallel())
        ttk.Label(bar, text="Species level").pack(side="left")
        self.species_level = tk.StringVar(self.frame, value="Family")
        level = ttk.Combobox(bar, textvariable=self.species_level, values=LEVELS, state="readonly", width=9)
        level.pack(side="left", padx=(4, 8))
        level.bind("<<ComboboxSelected>>", lambda _e: self._draw_parallel())
        ttk.Label(bar, text="Genes").pack(side="left")
        self.axis_choice = tk.StringVar(self.frame, value=AXIS_CHOICES[1])
        axes_box = ttk.Combobox(bar, textvariable=self.axis_choice, values=AXIS_CHOICES, state="readonly", width=11)
        axes_box.pack(side="left", padx=(4, 8))
        axes_box.bind("<<ComboboxSelected>>", lambda _e: self._draw_parallel())
        Tooltip(axes_box, "The axes: the genes the best-scoring model finds most important, most important "
                          "first, or every gene in table order; the outcomes come last.")
        ttk.Button(bar, text="Clear brushes", command=self.clear_brushes).pack(side="left")
        ttk.Label(bar, text="drag along an axis: keep that range; click an axis: clear it", style="Muted.TLabel"
                  ).pack(side="left", padx=(8, 0))
        body = ttk.PanedWindow(page, orient="horizontal")
        body.pack(fill="both", expand=True)
        self.parallel_panel = ChartPanel(body, figsize=(9.0, 4.6), dpi=90, toolbar=False)
        body.add(self.parallel_panel, weight=1)
        canvas = self.parallel_panel.canvas
        canvas.mpl_connect("button_press_event", self._press)
        canvas.mpl_connect("button_release_event", self._release)
        side = ttk.Frame(body, padding=(4, 0))
        body.add(side, weight=0)
        frame = ttk.Frame(side)
        frame.pack(fill="both", expand=True)
        self.chosen_tree = ttk.Treeview(frame, columns=("genome", "success", "median"), show="headings",
                                        height=16, selectmode="extended")
        for col, text, width in (("genome", "Genome", 130), ("success", "Success", 56), ("median", "Median", 56)):
            self.chosen_tree.heading(col, text=text)
            self.chosen_tree.column(col, width=width, anchor="w" if col == "genome" else "e")
        scroll_both(self.chosen_tree, frame)
        self.chosen_tree.bind("<<TreeviewSelect>>", lambda _e: self._chosen_clicked())
        _row_buttons(side, self.send, self.chosen_ids).pack(fill="x", pady=(4, 0))
        self.chosen_label = ttk.Label(side, text="", style="Muted.TLabel")
        self.chosen_label.pack(fill="x")

    def _build_slice(self, nb: ttk.Notebook) -> None:
        page, bar = page_with_bar(nb, "Slice & contour")
        self.outcome = tk.StringVar(self.frame, value="")
        self.slice_gene = tk.StringVar(self.frame, value="")
        self.contour_a = tk.StringVar(self.frame, value="")
        self.contour_b = tk.StringVar(self.frame, value="")
        self.shape_boxes = {}
        for label, var in (("Outcome", self.outcome), ("Slice gene", self.slice_gene),
                           ("Contour genes", self.contour_a), ("", self.contour_b)):
            if label:
                ttk.Label(bar, text=label).pack(side="left", padx=(6, 2))
            box = ttk.Combobox(bar, textvariable=var, state="readonly", width=16)
            box.pack(side="left")
            box.bind("<<ComboboxSelected>>", lambda _e: self.draw_shapes())
            self.shape_boxes[str(var)] = box
        self.shape_progress = ttk.Progressbar(bar, maximum=1.0, length=90)
        self.shape_progress.pack(side="left", padx=(8, 0))
        self.shape_panel = ChartPanel(page, figsize=(9.0, 4.4), dpi=90)
        self.shape_panel.pack(fill="both", expand=True)

    def _build_propose(self, nb: ttk.Notebook) -> None:
        page = ttk.Frame(nb, padding=4)
        nb.add(page, text="Propose")
        bar = ttk.Frame(page)
        bar.pack(fill="x")
        self.propose_button = ttk.Button(bar, text="Propose (Ctrl+Shift+P)", command=self.propose)
        self.propose_button.pack(side="left")
        Tooltip(self.propose_button, "New genomes predicted to do best: candidates around the best genomes "
                                     "and across the gene space, ranked by the forest's mean objective (expected "
                                     "steps, a failure counting 2 x the cap), kept apart from each other and from "
                                     "genomes already tried. ± is the spread over the forest's trees.")
        ttk.Button(bar, text="Save to registry", command=self.save_proposals).pack(side="left", padx=(6, 0))
        _row_buttons(bar, self._send_proposals, self.proposal_ids).pack(side="left", padx=(6, 0))
        frame = ttk.Frame(page)
        frame.pack(fill="both", expand=True, pady=(4, 0))
        cols = ("rank", "genome", "objective", "success", "median", "genes")
        self.proposal_tree = ttk.Treeview(frame, columns=cols, show="headings", height=12, selectmode="extended")
        widths = {"rank": 30, "genome": 160, "objective": 130, "success": 120, "median": 100, "genes": 420}
        for col, text in zip(cols, ("#", "Genome", "Expected steps ± sd", "Success ± sd", "Median ± sd",
                                    "Genes (the most important first)")):
            self.proposal_tree.heading(col, text=text)
            self.proposal_tree.column(col, width=widths[col], anchor="w", stretch=col == "genes")
        scroll_both(self.proposal_tree, frame)
        self.proposal_tree.bind("<<TreeviewSelect>>", lambda _e: self._proposal_clicked())
        self.propose_note = ttk.Label(page, text="Fit the model (F9), then Propose. The Evolution Lab can also "
                                      "propose at the start of a run: seed source proposed:N.",
                                      style="Muted.TLabel", wraplength=800, justify="left")
        self.propose_note.pack(fill="x", pady=(4, 0))

    # ---- after a fit --------------------------------------------------------------------------------
    def _show_model(self) -> None:
        self.importance_panel.redraw(lambda fig: charts.draw_importance(fig, self.fits, self.data))
        outcomes = [o.key for o in self.data.outcomes]
        self.colour_box.configure(values=[*outcomes, "species"])
        if self.colour_by.get() not in (*outcomes, "species"):
            self.colour_by.set("success")
        self._draw_parallel()
        keys = list(self.fits)
        self.shape_boxes[str(self.outcome)].configure(values=keys)
        if self.outcome.get() not in keys:
            self.outcome.set("median_steps" if "median_steps" in keys else keys[0])
        fit = self.fits[self.outcome.get()]
        ranked = fit.ranked_genes()
        for var in (self.slice_gene, self.contour_a, self.contour_b):
            self.shape_boxes[str(var)].configure(values=ranked)
        self.slice_gene.set(ranked[0])
        self.contour_a.set(ranked[0])
        self.contour_b.set(ranked[1])
        self.draw_shapes()
        self.proposals = []
        self.proposal_tree.delete(*self.proposal_tree.get_children())

    # ---- parallel coordinates -----------------------------------------------------------------------
    def _species(self) -> dict[str, str]:
        try:
            labels = self.app.registry.species_labels(self.data.spec.name)
        except OSError:
            labels = {}
        return {gid: names.get(self.species_level.get(), "") for gid, names in labels.items()}

    def _draw_parallel(self) -> None:
        if self.data is None:
            return
        top = AXIS_CHOICES.index(self.axis_choice.get()) if self.axis_choice.get() in AXIS_CHOICES else 1
        self.axis_genes = charts.shown_genes(self.fits, (5, 8, 12, 0)[top])
        self.parallel_axes = charts.parallel_axes(self.data, self.axis_genes)
        shown = {a.key for a in self.parallel_axes}
        for key in [k for k in self.brushes if k not in shown]:   # a hidden axis keeps no brush
            del self.brushes[key]

        def draw(fig) -> None:
            fig.clear()
            self.parallel_ax = fig.add_subplot(1, 1, 1)
            self.chosen_mask = charts.draw_parallel(self.parallel_ax, self.data, self.parallel_axes,
                                                    self.colour_by.get(), self.brushes, self._species())
            fig.subplots_adjust(left=0.1, right=0.86 if self.colour_by.get() == "species" else 0.93,
                                bottom=0.26, top=0.92)
        self.parallel_panel.redraw(draw)
        self._fill_chosen()

    def _fill_chosen(self) -> None:
        self.chosen_tree.delete(*self.chosen_tree.get_children())
        frame = self.data.frame[self.chosen_mask]
        for row in frame.itertuples():
            median = "-" if not np.isfinite(row.median_steps) else \
                f"{'>=' if row.median_censored else ''}{row.median_steps:.0f}"
            success = "-" if not np.isfinite(row.success) else f"{row.success:.0%}"
            self.chosen_tree.insert("", "end", iid=row.genome_id, values=(row.label, success, median))
        self.chosen_label.configure(text=f"{len(frame)} of {len(self.data.frame)} genomes chosen")

    def brush(self, key: str, low: float | None, high: float | None = None) -> None:
        """Keep the genomes with ``key`` in [low, high] (positions on the axis, 0 bottom to 1 top);
        ``low`` None clears that axis."""
        if low is None:
            self.brushes.pop(key, None)
        else:
            self.brushes[key] = (max(0.0, min(low, high)), min(1.0, max(low, high)))
        self._draw_parallel()

    def clear_brushes(self) -> None:
        self.brushes.clear()
        self._draw_parallel()

    def _press(self, event) -> None:
        if self.data is None or event.inaxes is not getattr(self, "parallel_ax", None) or event.xdata is None:
            return
        j = int(round(event.xdata))
        if 0 <= j < len(self.parallel_axes) and abs(event.xdata - j) < 0.35:
            self._drag = (j, float(event.ydata))

    def _release(self, event) -> None:
        if self._drag is None:
            return
        j, y0 = self._drag
        self._drag = None
        y1 = float(event.ydata) if event.ydata is not None and event.inaxes is self.parallel_ax else y0
        key = self.parallel_axes[j].key
        self.brush(key, None) if abs(y1 - y0) < 0.02 else self.brush(key, y0, y1)

    def chosen_ids(self) -> list[str]:
        picked = list(self.chosen_tree.selection())
        return picked or list(self.chosen_tree.get_children())

    def _chosen_clicked(self) -> None:
        picked = self.chosen_tree.selection()
        if picked:
            self.app.hub.publish("genome_selected", genome_id=picked[0])

    # ---- slice and contour --------------------------------------------------------------------------
    def draw_shapes(self) -> bool:
        if self.data is None or self._shape_job is not None or self.outcome.get() not in self.fits:
            return False
        fit = self.fits[self.outcome.get()]
        pair = (self.contour_a.get(), self.contour_b.get())
        if pair[0] == pair[1]:
            self.app.status_message.set("Insights: choose two different contour genes")
            return False
        self.shape_progress.configure(value=0)
        self._shape_job = self.app.submit(shape_job, fit, self.slice_gene.get(), pair, title="Insights slice",
                                          on_event=lambda e: self._on_shape(e, fit, pair), quick=True)
        return True

    def _on_shape(self, event, fit, pair) -> None:
        if not isinstance(event, JobEnded):
            if getattr(event, "fraction", None) is not None:
                self.shape_progress.configure(value=event.fraction)
            return
        self._shape_job = None
        self.shape_progress.configure(value=1.0 if event.state == "done" else 0)
        if event.state != "done":
            return
        curve, grid = event.result
        gene = self.slice_gene.get()

        def draw(fig) -> None:
            fig.clear()
            charts.draw_slice(fig.add_subplot(1, 2, 1), self.data, fit, gene, curve=curve)
            charts.draw_contour(fig.add_subplot(1, 2, 2), self.data, fit, *pair, grid=grid)
            fig.tight_layout()
        self.shape_panel.redraw(draw)

    # ---- proposals ----------------------------------------------------------------------------------
    def propose(self) -> bool:
        if self.data is None or not self.fits:
            self.app.show_error("Insights", "Fit the model first (Fit model, F9): proposals come from it.")
            return False
        if self._propose_job is not None:
            return False
        try:
            values = self.form.values()
        except FormError as exc:
            self.app.show_error("Insights", "Nothing was proposed:\n" + "\n".join(exc.problems))
            return False
        self.app.show_tab("Insights")   # the shortcut works from every tab: show where the proposals land
        self.views.select(self.views.index(self.propose_button.master.master))
        self.propose_button.state(["disabled"])
        self._propose_job = self.app.submit(propose_job, self.data, self.fits, values["proposals"], values["seed"],
                                            title="Insights proposals", on_event=self._on_proposals, quick=True)
        return True

    def _on_proposals(self, event) -> None:
        if not isinstance(event, JobEnded):
            return
        self._propose_job = None
        self.propose_button.state(["!disabled"])
        if event.state != "done":
            return
        self.proposals = event.result
        tree = self.proposal_tree
        tree.delete(*tree.get_children())
        from lab.analysis.insight_model import success_model
        ranked = charts.shown_genes(self.fits, 4) or []
        chance = success_model(self.fits)
        label = self.data.outcome(chance).label if chance else "success"
        tree.heading("success", text=f"{label[:1].upper()}{label[1:]} ± sd")
        for i, p in enumerate(self.proposals, start=1):
            s = p.predicted.get(chance or "success", (float("nan"), 0.0))
            m = p.predicted.get("median_steps", (float("nan"), 0.0))
            genes = ", ".join(f"{k} {p.genome.genes[k]:.3g}" for k in ranked)
            tree.insert("", "end", iid=p.genome.id, values=(i, p.genome.label, f"{p.objective:.0f} ± {p.objective_sd:.0f}",
                                                           f"{s[0]:.2f} ± {s[1]:.2f}", f"{m[0]:.0f} ± {m[1]:.0f}", genes))
        self.app.status_message.set(f"Insights: {len(self.proposals)} proposals (Save to registry keeps them)")

    def proposal_ids(self) -> list[str]:
        return list(self.proposal_tree.selection()) or [p.genome.id for p in self.proposals]

    def save_proposals(self, ids: list[str] | None = None) -> int:
        chosen = set(ids if ids is not None else self.proposal_ids())
        genomes = [p.genome for p in self.proposals if p.genome.id in chosen]
        if genomes:
            self.app.registry.add_genomes(genomes)
            self.app.status_message.set(f"saved {len(genomes)} proposal(s), tagged 'proposed'")
        return len(genomes)

    def _send_proposals(self, topic: str, ids: list[str]) -> bool:
        self.save_proposals(ids)   # the other tabs read genomes from the registry
        return self.send(topic, ids)

    def _proposal_clicked(self) -> None:
        picked = self.proposal_tree.selection()
        if picked and self.app.registry.has_genome(picked[0]):
            self.app.hub.publish("genome_selected", genome_id=picked[0])

    # ---- export -------------------------------------------------------------------------------------
    def page_exports(self, page: str) -> list[tuple[str, dict[str, Any]]]:
        """(view, options) that export the model page ``page`` as shown."""
        if page == "Importance":
            return [("importance", {})]
        if page == "Parallel":
            return [("parallel", {"colour_by": self.colour_by.get(), "brushes": dict(self.brushes),
                                  "species": self._species(), "axis_genes": self.axis_genes})]
        if page == "Slice & contour":
            return [("slice", {"outcome": self.outcome.get(), "gene": self.slice_gene.get()}),
                    ("contour", {"outcome": self.outcome.get(), "genes": (self.contour_a.get(), self.contour_b.get())})]
        return [("propose", {"proposals": self.proposals})]
