"""The Evolution Lab's panels: settings pages and run controls on the left, the live charts, the
population table, the diversity grid, the Hall of Fame and saved runs (part of lab.gui.evolution_lab)."""
from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from lab.gui.evolution_settings import SettingsPanel
from lab.gui.widgets.diversity_grid import DiversityGrid
from lab.gui.widgets.table import HeadingTips, fit_columns, scroll_both

# population table: column -> (heading, width, numeric)
COLUMNS = {"rank": ("#", 28, True), "id": ("genome id", 140, False), "name": ("name", 70, False),
           "origin": ("origin", 70, False), "elite": ("elite", 38, False), "fitness": ("fitness", 60, True),
           "median": ("median steps", 60, True), "success": ("success", 58, True),
           "censored": ("stopped", 52, True)}
COLUMN_TIPS = {
    "rank": "Rank in this generation (by the landscape's fitness; an elite and its clone share a row).",
    "id": "The genome's id: the hash of its genes (same genes, same id).",
    "name": "The genome's name (founders and Forge saves have one; evolved genomes usually not).",
    "origin": "How the genome was made: founder, crossover, clone, mutation, alien, elite, forge.",
    "elite": "Cloned into this generation as one of the best of the last (senescence: it must re-prove itself).",
    "fitness": "The landscape's fitness over this generation's seeds (higher is better).",
    "median": "Median steps to success over this generation's seeds. 'failed': most of its trials did not "
              "succeed within the budget (the landscapes count a failure as twice the budget).",
    "success": "Share of THIS generation's seeds on which it succeeded (the Hall of Fame shows the share in the "
               "generation that admitted it).",
    "censored": "Trials that racing stopped early this generation (censored: not finished, never failures).",
}
HOF_TIPS = {
    "#0": "The genome's id: the hash of its genes.",
    "name": "The genome's name.",
    "success": "Share of the seeds on which it succeeded in the generation that admitted it (not this "
               "generation's: see the population table for that).",
    "run": "The run and generation that admitted it.",
}


class EvolutionLayout:
    # ---- layout ------------------------------------------------------------------------------
    def _build_left(self, left: ttk.Frame) -> None:
        # the run controls are packed first, at the bottom: when the window is short (or the log is
        # shown) it is the settings pages above them that give up room (they scroll), never the bars
        controls = ttk.Frame(left)
        controls.pack(side="bottom", fill="x")
        self.settings_panel = SettingsPanel(left)
        self.settings_panel.pack(fill="both", expand=True)
        # beside the arena picker: watch the chosen arena's own engine (arenas that have one)
        self.direct_button = ttk.Button(self.settings_panel.arena_box.master, text="Direct run...",
                                        command=lambda: self.app.invoke("direct_run"))
        self.direct_button.pack(side="left")
        self.settings_panel.arena.trace_add("write", lambda *_a: self._arena_picked())
        self._arena_picked()
        buttons = ttk.Frame(controls)
        buttons.pack(fill="x", pady=(8, 2))
        self.start_button = ttk.Button(buttons, text="Start (F5)", command=lambda: self.app.invoke("start_run"))
        self.pause_button = ttk.Button(buttons, text="Pause (F6)", command=lambda: self.app.invoke("pause_run"))
        self.stop_button = ttk.Button(buttons, text="Stop", command=lambda: self.app.invoke("stop_run"))
        for b in (self.start_button, self.pause_button, self.stop_button):
            b.pack(side="left", expand=True, fill="x", padx=1)
        ttk.Label(controls, text="Saved run").pack(anchor="w", pady=(6, 0))
        # the entry holds the run id only, across the pane's whole width; the chosen run's state is
        # spelled out below it, beside Resume (the drop-down list shows ids and states together)
        self.run_choice = tk.StringVar(controls, value="")
        self.run_box = ttk.Combobox(controls, textvariable=self.run_choice, state="readonly", width=14)
        self.run_box.pack(fill="x", pady=(0, 2))
        self.run_box.bind("<<ComboboxSelected>>", lambda _e: self.show_saved_run())
        saved = ttk.Frame(controls)
        saved.pack(fill="x", pady=(0, 2))
        self.resume_button = ttk.Button(saved, text="Resume", command=lambda: self.app.invoke("resume_run"))
        self.resume_button.pack(side="right")
        self.run_state = ttk.Label(saved, text="", style="Muted.TLabel", wraplength=210)
        self.run_state.pack(side="left", anchor="w")
        self.gen_label = ttk.Label(controls, text="Generation: -", wraplength=300)
        self.gen_label.pack(anchor="w", pady=(8, 0))
        self.gen_bar = ttk.Progressbar(controls, maximum=1)
        self.gen_bar.pack(fill="x")
        self.run_label = ttk.Label(controls, text="Run: not started", wraplength=300)
        self.run_label.pack(anchor="w", pady=(4, 0))
        self.run_bar = ttk.Progressbar(controls, maximum=1.0)
        self.run_bar.pack(fill="x")

    def _build_population(self, bottom: ttk.PanedWindow) -> None:
        box = ttk.Frame(bottom)
        bottom.add(box, weight=3)
        self.pop_title = ttk.Label(box, text="Population", style="Heading.TLabel")
        self.pop_title.pack(anchor="w")
        self.grid = DiversityGrid(box, on_select=self.select_genome)
        self.grid.pack(fill="x", pady=(2, 4))
        table = ttk.Frame(box)
        table.pack(fill="both", expand=True)
        self.table = ttk.Treeview(table, columns=list(COLUMNS), show="headings", selectmode="browse", height=6)
        for col, (heading, width, numeric) in COLUMNS.items():
            self.table.heading(col, text=heading, command=lambda c=col: self.sort_by(c))
            self.table.column(col, width=width, anchor="e" if numeric else "w")
        HeadingTips(self.table, COLUMN_TIPS)
        fit_columns(self.table)      # the headings are never cut, even before a population lands
        scroll_both(self.table, table)
        self.table.bind("<<TreeviewSelect>>", lambda _e: self._table_selected())

    def _build_side(self, bottom: ttk.PanedWindow) -> None:
        side = ttk.Notebook(bottom)
        bottom.add(side, weight=2)
        genome = ttk.Frame(side, padding=4)
        side.add(genome, text="Selected genome")
        self.genome_title = ttk.Label(genome, text="Select a genome in the table or the grid.")
        self.genome_title.pack(anchor="w")
        self.genes = ttk.Treeview(genome, columns=("value", "group"), show="tree headings", height=5)
        self.genes.heading("#0", text="gene")
        self.genes.heading("value", text="value")
        self.genes.heading("group", text="group")
        self.genes.column("#0", width=104)
        self.genes.column("value", width=64, anchor="e")
        self.genes.column("group", width=84)
        self.genes.pack(fill="both", expand=True)
        actions = ttk.Frame(genome)
        actions.pack(fill="x")
        self.forge_button = ttk.Button(actions, text="Open in Gene Forge", command=self.open_in_forge, state="disabled")
        self.stress_button = ttk.Button(actions, text="Stress test", command=self.stress_test, state="disabled")
        self.forge_button.pack(side="left")
        self.stress_button.pack(side="left", padx=4)
        hof = ttk.Frame(side, padding=4)
        side.add(hof, text="Hall of Fame")
        self.hof_title = ttk.Label(hof, text="", wraplength=360, justify="left")
        self.hof_title.pack(anchor="w")
        self.hof = ttk.Treeview(hof, columns=("name", "success", "run"), show="tree headings", height=5)
        self.hof.heading("#0", text="genome id")
        self.hof.heading("name", text="name")
        self.hof.heading("success", text="success when admitted")
        self.hof.heading("run", text="admitted")
        self.hof.column("#0", width=130)
        self.hof.column("name", width=90)
        self.hof.column("success", width=60, anchor="e")
        self.hof.column("run", width=90)
        self.hof.pack(fill="both", expand=True)
        HeadingTips(self.hof, HOF_TIPS)
        fit_columns(self.hof)
        self.hof.bind("<<TreeviewSelect>>", lambda _e: self.hof.selection() and self.select_genome(self.hof.selection()[0]))
        self.side = side
