"""The Insights tab's run pages (part of lab.gui.insights.InsightsTab): a run's genealogy (the family
tree, clicking a genome selects it in every tab and shows its line of descent with the genes that
changed at each step) and the saved runs (compare two or more on one chart, export a run's history,
genomes, trials and charts). Reading runs is a quick job; the science is in lab.analysis.genealogy
and lab.analysis.run_history."""
from __future__ import annotations

import tkinter as tk
from pathlib import Path
from tkinter import ttk

from lab.gui.insights_views import page_with_bar
from lab.gui.widgets.chart_panel import ChartPanel
from lab.gui.widgets.table import scroll_both
from lab.gui.widgets.tooltip import Tooltip
from lab.jobs import JobEnded
from lab.registry import RegistryError


def genealogy_job(job, registry, run_id: str):
    from lab.analysis.genealogy import genealogy
    try:
        return genealogy(registry, run_id)
    except RegistryError as exc:
        return str(exc)


def compare_job(job, registry, run_ids: list[str]):
    from lab.analysis.run_history import compare_frame
    try:
        return compare_frame(registry, run_ids)
    except (RegistryError, ValueError) as exc:
        return str(exc)


class RunViews:
    def _build_run_views(self, nb: ttk.Notebook) -> None:
        self.tree = None
        self.compared = None
        self.node_map: dict = {}
        self.chosen_node = None
        self._build_genealogy(nb)
        self._build_runs(nb)

    def _build_genealogy(self, nb: ttk.Notebook) -> None:
        page, bar = page_with_bar(nb, "Genealogy")
        ttk.Label(bar, text="Run").pack(side="left")
        self.genealogy_run = tk.StringVar(self.frame, value="")
        self.genealogy_box = ttk.Combobox(bar, textvariable=self.genealogy_run, state="readonly", width=34)
        self.genealogy_box.pack(side="left", padx=(4, 8))
        self.genealogy_box.bind("<<ComboboxSelected>>", lambda _e: self.show_genealogy())
        self.genealogy_note = ttk.Label(bar, text="click a genome: select it everywhere and show its line of descent",
                                        style="Muted.TLabel")
        self.genealogy_note.pack(side="left")
        body = ttk.PanedWindow(page, orient="horizontal")
        body.pack(fill="both", expand=True)
        self.genealogy_panel = ChartPanel(body, figsize=(7.0, 4.6), dpi=90)
        body.add(self.genealogy_panel, weight=1)
        self.genealogy_panel.canvas.mpl_connect("pick_event", self._on_pick)
        side = ttk.Frame(body, padding=(4, 0))
        body.add(side, weight=0)
        self.line_title = ttk.Label(side, text="Line of descent", style="Heading.TLabel")
        self.line_title.pack(anchor="w")
        frame = ttk.Frame(side)
        frame.pack(fill="both", expand=True)
        self.line_tree = ttk.Treeview(frame, columns=("gen", "genome", "operator", "changes"), show="headings",
                                      height=8, selectmode="browse")
        for col, text, width in (("gen", "Gen", 36), ("genome", "Genome", 130), ("operator", "By", 80),
                                 ("changes", "Changed", 70)):
            self.line_tree.heading(col, text=text)
            self.line_tree.column(col, width=width, anchor="w")
        ttk.Label(side, text="Genes changed at each step (parent -> child):").pack(anchor="w", pady=(4, 0))
        self.changes_text = tk.Text(side, height=12, width=44, wrap="word", font=("TkDefaultFont", 9),
                                    borderwidth=0, highlightthickness=0, state="disabled")
        self.changes_text.pack(fill="both", expand=True)
        scroll_both(self.line_tree, frame)
        self.line_tree.bind("<<TreeviewSelect>>", lambda _e: self._line_clicked())

    def _build_runs(self, nb: ttk.Notebook) -> None:
        page, bar = page_with_bar(nb, "Runs")
        compare = ttk.Button(bar, text="Compare chosen runs", command=self.compare_runs)
        compare.pack(side="left")
        Tooltip(compare, "Best fitness, success rate and diversity per generation of the chosen runs on one "
                         "chart (Shift/Ctrl-click to choose several).")
        export = ttk.Button(bar, text="Export run...", command=self.export_chosen_run)
        export.pack(side="left", padx=(6, 0))
        Tooltip(export, "The chosen run's per-generation history, genomes, trials and genealogy as CSV, and its "
                        "charts as PNG/SVG/PDF (python main.py runs export RUN --out DIR does the same).")
        body = ttk.PanedWindow(page, orient="vertical")
        body.pack(fill="both", expand=True)
        frame = ttk.Frame(body)
        body.add(frame, weight=0)
        self.runs_tree = ttk.Treeview(frame, columns=("run", "state"), show="headings", height=5,
                                      selectmode="extended")
        self.runs_tree.heading("run", text="Run")
        self.runs_tree.heading("state", text="State")
        self.runs_tree.column("run", width=280)
        self.runs_tree.column("state", width=320)
        scroll_both(self.runs_tree, frame)
        self.compare_panel = ChartPanel(body, figsize=(9.0, 3.6), dpi=90)
        body.add(self.compare_panel, weight=1)

    def _offer_genealogy_runs(self, ids: list[str]) -> None:
        self.genealogy_box.configure(values=ids)
        from lab.evolution.run_files import run_infos
        chosen = set(self.runs_tree.selection())
        self.runs_tree.delete(*self.runs_tree.get_children())
        for info in run_infos(self.app.registry):
            self.runs_tree.insert("", "end", iid=info.run_id, values=(info.run_id, info.state))
        self.runs_tree.selection_set([i for i in chosen if self.runs_tree.exists(i)])
        if self.genealogy_run.get() not in ids and ids:
            self.genealogy_run.set(ids[0])

    # ---- genealogy -----------------------------------------------------------------------------------
    def show_genealogy(self, run_id: str | None = None) -> bool:
        run_id = run_id or self.genealogy_run.get()
        if not run_id:
            self.app.status_message.set("Insights: no saved run to show (run the Evolution Lab first)")
            return False
        self.genealogy_run.set(run_id)
        self.app.submit(genealogy_job, self.app.registry, run_id, title="Genealogy", quick=True,
                        on_event=self._on_genealogy)
        return True

    def _job_result(self, event, title: str):
        """The result of an ended job, or None (still running, failed, or a message shown to the user)."""
        if not isinstance(event, JobEnded) or event.state != "done":
            return None
        if isinstance(event.result, str):
            self.app.show_error(title, event.result)
            return None
        return event.result

    def _on_genealogy(self, event) -> None:
        tree = self._job_result(event, "Genealogy")
        if tree is None:
            return
        self.tree = tree
        self.chosen_node = None
        self._draw_genealogy()
        if self.tree.history:
            self.show_line(self.tree.winner().key, publish=False)
        note = " (parents read from the registry: this run predates recorded parents)" \
            if self.tree.parents_from_registry else ""
        self.genealogy_note.configure(text=f"{len(self.tree.nodes)} genomes in {len(self.tree.generations())} "
                                           f"generations; click one to select it{note}")

    def _draw_genealogy(self) -> None:
        from lab.analysis.run_history_charts import draw_genealogy
        highlight = self.chosen_node[1] if self.chosen_node else None

        def draw(fig) -> None:
            fig.clear()
            self.node_map = draw_genealogy(fig.add_subplot(1, 1, 1), self.tree, highlight)
            fig.subplots_adjust(left=0.1, right=0.82, bottom=0.12, top=0.92)
        self.genealogy_panel.redraw(draw)

    def _on_pick(self, event) -> None:
        from lab.analysis.run_history_charts import node_at
        key = node_at(self.node_map, event)
        if key is not None:
            self.select_node(key)

    def select_node(self, key) -> None:
        """A genome of the tree chosen: selected in every tab, ringed, its line of descent listed."""
        self.chosen_node = tuple(key)
        self.app.hub.publish("genome_selected", genome_id=key[1])
        node = self.tree.nodes[self.chosen_node]
        self.app.status_message.set(f"selected {node.name or key[1][:8]} ({key[1][:8]}) of generation {key[0]}: "
                                    "File > Export selected genome and Run > Mechanism use it")
        self._draw_genealogy()
        self.show_line(self.chosen_node, publish=False)

    def show_line(self, key, publish: bool = True) -> None:
        tree = self.line_tree
        tree.delete(*tree.get_children())
        node = self.tree.nodes[tuple(key)]
        whose = "the winner" if tuple(key) == self.tree.winner().key else (node.name or key[1][:8])
        self.line_title.configure(text=f"Line of descent of {whose}")
        lines = []
        for step in self.tree.line_of_descent(tuple(key)):
            n = self.tree.nodes[step.node]
            changes = ", ".join(f"{g} {a:.3g} -> {b:.3g}" if isinstance(a, float) or isinstance(b, float)
                                else f"{g} {a} -> {b}" for g, a, b in step.changes) or \
                ("(first generation)" if step.parent is None else "none (a copy)")
            name = n.name or step.node[1][:8]
            count = f"{len(step.changes)} gene{'s' * (len(step.changes) != 1)}" if step.parent else "-"
            tree.insert("", "end", iid=f"{step.node[0]}:{step.node[1]}",
                        values=(step.node[0], name, step.operator, count))
            lines.append(f"{step.node[0]}. {name} ({step.operator}): {changes}")
        self.changes_text.configure(state="normal")
        self.changes_text.delete("1.0", "end")
        self.changes_text.insert("1.0", "\n".join(lines))
        self.changes_text.configure(state="disabled")
        if publish:
            self.app.hub.publish("genome_selected", genome_id=key[1])

    def _line_clicked(self) -> None:
        picked = self.line_tree.selection()
        if picked:
            gen, gid = picked[0].split(":", 1)
            self.app.hub.publish("genome_selected", genome_id=gid)

    # ---- runs ----------------------------------------------------------------------------------------
    def compare_runs(self, run_ids: list[str] | None = None) -> bool:
        ids = list(run_ids if run_ids is not None else self.runs_tree.selection())
        if not ids:
            self.app.status_message.set("Insights: choose one or more runs to compare")
            return False
        self.app.submit(compare_job, self.app.registry, ids, title="Compare runs", quick=True,
                        on_event=self._on_compare)
        return True

    def _on_compare(self, event) -> None:
        compared = self._job_result(event, "Compare runs")
        if compared is None:
            return
        from lab.analysis.run_history_charts import draw_compare
        self.compared = compared
        self.compare_panel.redraw(lambda fig: draw_compare(fig, self.compared))

    def export_chosen_run(self, folder: str | None = None):
        chosen = self.runs_tree.selection()
        if len(chosen) != 1:
            self.app.show_error("Export run", "Choose one run in the list to export.")
            return None
        folder = folder or self.app.ask_export_folder(f"Export run {chosen[0]} to folder")
        if not folder:
            return None
        run_id = chosen[0]

        def done(event) -> None:
            if isinstance(event, JobEnded) and event.state == "done":
                self.app.status_message.set(f"exported run {run_id}: {len(event.result)} files to {folder}")
        from lab.analysis.run_history import export_run
        return self.app.submit(lambda job: export_run(self.app.registry, run_id, folder), title=f"Export run {run_id}",
                               quick=True, on_event=done)

    def export_run_view(self, page: str, folder: Path) -> list[Path]:
        from lab.analysis import run_history
        if page == "Genealogy":
            if self.tree is None:
                raise RegistryError("show a run's genealogy first")
            return run_history.export_genealogy(self.tree, folder)
        if self.compared is None:
            raise RegistryError("compare runs first (Compare chosen runs)")
        return run_history.export_compare(self.compared, folder)
