"""The Phylogeny tab's panels: the genomes to map (spec, scope, tag, task), the species at the chosen
level, the 3D map with its toolbar, and the genome table (part of lab.gui.phylogeny.PhylogenyTab)."""
from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from lab.analysis.phylogeny import LEVELS, SCOPES
from lab.genome import spec_names
from lab.gui.widgets import list_follows
from lab.gui.widgets.chart_panel import ChartPanel
from lab.gui.widgets.table import HeadingTips, scroll_both
from lab.gui.widgets.tooltip import Tooltip

DEFAULT_SPEC = "grokking"
DEFAULT_LEVEL = "Family"
SCOPE_TEXT = {"all": "All genomes (registry and founders)", "hall": "Hall of Fame", "tag": "Tag:"}



def gene_specs() -> list[str]:
    """Every registered arena's gene spec (the gene tables are imported first)."""
    from lab.arenas import load_gene_specs
    load_gene_specs()
    return spec_names()

class PhylogenyLayout:
    # ---- layout ------------------------------------------------------------------------------
    def _build_source(self, left: ttk.Frame) -> None:
        box = ttk.LabelFrame(left, text="Genomes to map", padding=6)
        box.pack(fill="x")
        row = ttk.Frame(box)
        row.pack(fill="x")
        ttk.Label(row, text="Gene spec").pack(side="left")
        self.spec = tk.StringVar(self.frame, value=DEFAULT_SPEC if DEFAULT_SPEC in spec_names() else spec_names()[0])
        self.spec_box = ttk.Combobox(row, textvariable=self.spec, values=spec_names(), state="readonly", width=14)
        list_follows(self.spec_box, gene_specs)   # a spec registered later is offered too
        self.spec_box.pack(side="left", padx=(6, 0))
        self.scope = tk.StringVar(self.frame, value="all")
        for key in SCOPES:
            text = SCOPE_TEXT[key]
            line = ttk.Frame(box)
            line.pack(fill="x")
            ttk.Radiobutton(line, text=text, value=key, variable=self.scope).pack(side="left")
            if key == "tag":
                self.tag = tk.StringVar(self.frame, value="")
                self.tag_entry = ttk.Entry(line, textvariable=self.tag, width=14)
                self.tag_entry.pack(side="left", padx=(4, 0))
                self.tag_entry.bind("<FocusIn>", lambda _e: self.scope.set("tag"))
                self.tag_entry.bind("<Return>", lambda _e: self.map())
        self.map_button = ttk.Button(box, text="Map genomes", command=self.map)
        self.map_button.pack(fill="x", pady=(6, 0))
        Tooltip(self.map_button, "PCA of the standardised genes to 3D, Ward clustering cut at seven levels, "
                                 "species named by their most deviating genes; the species are stored in the "
                                 "registry for the Stress Chamber's species grouping.")
        self.progress = ttk.Progressbar(box, maximum=1.0)
        self.progress.pack(fill="x", pady=(4, 0))
        self.stale_label = ttk.Label(box, text="", style="Muted.TLabel", wraplength=250, justify="left")
        self.stale_label.pack(fill="x")

    def _build_species(self, left: ttk.Frame) -> None:
        box = ttk.LabelFrame(left, text="Species", padding=6)
        box.pack(fill="both", expand=True, pady=(4, 0))
        row = ttk.Frame(box)
        row.pack(fill="x")
        ttk.Label(row, text="Level").pack(side="left")
        self.level = tk.StringVar(self.frame, value=DEFAULT_LEVEL)
        self.level_box = ttk.Combobox(row, textvariable=self.level, values=LEVELS, state="readonly", width=10)
        self.level_box.pack(side="left", padx=(6, 0))
        self.level_box.bind("<<ComboboxSelected>>", lambda _e: self.choose_level(self.level.get()))
        self._level_chosen = False   # until the user picks a level, each map opens at its default level
        Tooltip(self.level_box, "Domain (coarsest) .. Genus (finest); every species lies inside one species "
                                "of the level above. Keys + and - step finer and coarser.")
        self.level_count = ttk.Label(row, text="", style="Muted.TLabel")
        self.level_count.pack(side="left", padx=(6, 0))
        frame = ttk.Frame(box)
        frame.pack(fill="both", expand=True, pady=(4, 0))
        self.species_tree = ttk.Treeview(frame, columns=("count",), show="tree headings", height=12,
                                         selectmode="browse")
        self.species_tree.heading("#0", text="Species")
        self.species_tree.heading("count", text="N")
        self.species_tree.column("#0", width=214)
        self.species_tree.column("count", width=40, anchor="e")
        scroll_both(self.species_tree, frame)
        self.species_tree.bind("<<TreeviewSelect>>", lambda _e: self._species_clicked())
        Tooltip(self.species_tree, "Click a species to copy the ids of all its genomes and choose them.")
        buttons = ttk.Frame(box)
        buttons.pack(fill="x", pady=(4, 0))
        self.copy_button = ttk.Button(buttons, text="Copy", width=5, command=self.copy_selection)
        self.copy_button.pack(side="left")
        Tooltip(self.copy_button, "Copy the chosen genomes' ids (Ctrl+C), one per line.")
        self.evolution_button = ttk.Button(buttons, text="To Evolution",
                                           command=lambda: self.send_to("send_to_evolution_lab"))
        self.evolution_button.pack(side="left", padx=(4, 0))
        self.stress_button = ttk.Button(buttons, text="To Stress",
                                        command=lambda: self.send_to("send_to_stress_chamber"))
        self.stress_button.pack(side="left", padx=(4, 0))
        Tooltip(self.evolution_button, "Send the chosen genomes to the Evolution Lab as ancestors of the next run's generation 1.")
        Tooltip(self.stress_button, "Send the chosen genomes to the Stress Chamber's list.")
        self.selection_label = ttk.Label(box, text="Nothing chosen.", style="Muted.TLabel", wraplength=270,
                                         justify="left")
        self.selection_label.pack(fill="x", pady=(2, 0))

    def _build_map(self, middle: ttk.Frame) -> None:
        bottom = ttk.Frame(middle)
        bottom.pack(side="bottom", fill="x", pady=(2, 0))
        self.panel = ChartPanel(middle, figsize=(6.4, 5.2), dpi=90, toolbar=False)
        self.panel.pack(fill="both", expand=True)
        self.panel.canvas.mpl_connect("pick_event", self._on_pick)
        self.open_button = ttk.Button(bottom, text="Open interactive 3D", command=self.open_interactive)
        self.open_button.pack(side="left")
        Tooltip(self.open_button, "The same map as a plotly page in its own window: hover for genes and "
                                  "performance, click a genome or a species to copy ids here.")
        self.html_button = ttk.Button(bottom, text="Export HTML...", command=self.export_html)
        self.html_button.pack(side="left", padx=(4, 0))
        self.info_label = ttk.Label(bottom, text="drag: rotate, click: copy id", style="Muted.TLabel")
        self.info_label.pack(side="left", padx=(8, 0))

    def _build_genomes(self, right: ttk.Frame) -> None:
        box = ttk.LabelFrame(right, text="Genomes", padding=6)
        box.pack(fill="both", expand=True)
        cols = ("name", "species", "success", "median")
        frame = ttk.Frame(box)
        frame.pack(fill="both", expand=True)
        self.genome_tree = ttk.Treeview(frame, columns=cols, show="headings", height=20, selectmode="extended")
        widths = {"name": 96, "species": 140, "success": 64, "median": 64}
        titles = {"name": "Genome", "species": "Species", "success": "Success", "median": "Median"}
        for c in cols:
            self.genome_tree.heading(c, text=titles[c], command=lambda c=c: self.sort_genomes(c))
            self.genome_tree.column(c, width=widths[c], anchor="w" if c in ("name", "species") else "e")
        scroll_both(self.genome_tree, frame)
        # the numbers first: the (long) species names are what scrolls out of a narrow pane
        self.genome_tree.configure(displaycolumns=("name", "success", "median", "species"))
        self.genome_tree.bind("<<TreeviewSelect>>", lambda _e: self._genomes_clicked())
        Tooltip(self.genome_tree, "Click a genome to copy its id (Shift/Ctrl-click for several). Success and "
                                  "median steps to success: over its recorded trials of the task chosen below; "
                                  "marker size on the map grows with success / median.")
        row = ttk.Frame(box)
        row.pack(fill="x", pady=(4, 0))
        ttk.Label(row, text="Trials of task").pack(side="left")
        self.task_choice = tk.StringVar(self.frame, value="")
        self.task_box = ttk.Combobox(row, textvariable=self.task_choice, state="readonly", width=20)
        self.task_box.pack(side="left", fill="x", expand=True, padx=(4, 0))
        self.task_box.bind("<<ComboboxSelected>>", lambda _e: self.choose_task(self.task_choice.get()))
        Tooltip(self.task_box, "Success and median are read from one task's trials (its settings hashed to a task "
                               "id; trials at another budget are another task's). The tasks that have trials of the "
                               "mapped genomes, most first.")
        HeadingTips(self.genome_tree, {
            "name": "The genome's name and the start of its id.",
            "species": "Its species at the level shown (named by the genes that most set it apart).",
            "success": "Share of its recorded trials of the chosen task that succeeded, of how many trials.",
            "median": "Median steps to success over its successful trials of the chosen task; 'failed': it has "
                      "trials but none succeeded."})
        self._task_choices: list = []
        self.task_id: str | None = None
        self._task_chosen: str | None = None
