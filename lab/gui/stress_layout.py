"""The Stress Chamber's panels: the run box (arena, task, seeds, device, Run/Cancel), the task form,
the chart area with its toolbar and the group legend (part of lab.gui.stress_chamber)."""
from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from matplotlib.figure import Figure

from lab.analysis.phylogeny import LEVELS
from lab.analysis.stress import GROUPINGS, SPECIES
from lab.arenas import arena_names
from lab.arenas.base import TaskConfig
from lab.gui.widgets import list_follows
from lab.gui.widgets.chart_controls import ChartControls, ChartPicker, ExportOptions
from lab.gui.widgets.chart_panel import ChartPanel
from lab.gui.widgets.form import Field, Form, device_field, offer_devices
from lab.gui.widgets.tooltip import Tooltip
from lab.tasks import describe

TITLE = "Stress Chamber"   # its name in the notebook (app.show_tab)
ARENA = "grokking"
DEFAULT_CHART = "speed"
REDRAW_DELAY_MS = 80   # a burst of changes (typing a number, ticking groups) becomes one redraw
LIVE_REDRAW_S = 3.0    # while a stress test runs, the charts follow the registry at most this often
USER_GROUPS = "user"
GROUPING_TEXT = {"genome": "genome", "tag": "tag", USER_GROUPS: "user groups", SPECIES: "species"}
GROUPING_HELP = {"genome": "Each genome is its own group.", "tag": "Genomes grouped by their first tag.",
                 USER_GROUPS: "Your own groups: name one under the chosen list and assign genomes to it.",
                 SPECIES: "The species the Phylogeny tab's last map stored in the registry, at the level chosen "
                          "beside; genomes it did not map are 'unclassified'."}
NO_GENOMES = "Choose genomes on the left (pick them, add a tag or the Hall of Fame).\nTheir recorded trials appear here."


def run_fields(task: TaskConfig) -> list[Field]:
    fields = [Field("runs", "Runs per genome", "int", 20, 1, 10000,
                    help="Seeds per genome: every genome is trained once on each of seeds first seed .. "
                         "first seed + runs - 1."),
              Field("seed_start", "First seed", "int", 0, 0, 2**31 - 1,
                    help="The first training seed. The same seeds give the same trials, which Smart Fill reuses.")]
    if hasattr(task, task.CAP_FIELD):
        fields.append(Field(task.CAP_FIELD, task.CAP_LABEL, "int", getattr(task, task.CAP_FIELD), 1, 10_000_000,
                            help="The budget a trial may use to succeed (training steps to grok, forward passes "
                                 "to the target accuracy) before it counts as failed. Another budget is another "
                                 "task: its trials are counted separately."))
    return fields + [device_field()]


def describe_task(task: TaskConfig, default: TaskConfig) -> str:
    """``task`` in words against the arena's default task (every setting, the budget included)."""
    return describe(task, default)


def _say(fig: Figure, text: str) -> Figure:
    fig.clear()
    fig.text(0.5, 0.5, text, ha="center", va="center", color="#666666", fontsize="medium")
    return fig


class StressLayout:
    # ---- layout ------------------------------------------------------------------------------
    def _build_run(self, right: ttk.Frame) -> None:
        box = ttk.LabelFrame(right, text="Stress test", padding=(6, 2))
        box.pack(fill="x")
        row = ttk.Frame(box)
        row.pack(fill="x", pady=(0, 2))
        ttk.Label(row, text="Arena").pack(side="left")
        self.arena_name = tk.StringVar(self.frame, value=self.arena.name)
        self.arena_box = ttk.Combobox(row, textvariable=self.arena_name, values=arena_names(), state="readonly",
                                      width=12)
        list_follows(self.arena_box, arena_names)   # an arena registered later is offered too
        self.arena_box.pack(side="left", padx=(6, 0))
        self.arena_box.bind("<<ComboboxSelected>>", lambda _e: self.set_arena(self.arena_name.get()))
        Tooltip(self.arena_box, "Which arena's genomes to stress-test: each arena has its own gene spec, task "
                                "and budget. Genomes sent from another tab switch it to theirs.")
        self.run_box = box
        self._build_form(self.base_task)
        self.task_label = ttk.Label(box, text="", style="Muted.TLabel", wraplength=246, justify="left",
                                    font=("TkDefaultFont", 8))
        self.task_label.pack(fill="x", pady=(2, 0))
        self.task_tip = Tooltip(self.task_label, "")
        row = ttk.Frame(box)
        row.pack(fill="x")
        ttk.Label(row, text="Tasks with trials", style="Muted.TLabel").pack(side="left")
        self.task_choice = tk.StringVar(self.frame, value="")
        self.task_box = ttk.Combobox(row, textvariable=self.task_choice, state="readonly", width=14)
        self.task_box.pack(side="left", fill="x", expand=True, padx=(4, 0))
        self.task_box.bind("<<ComboboxSelected>>", lambda _e: self.choose_task(self.task_choice.get()))
        Tooltip(self.task_box, "Trials belong to one task (its settings hashed to a task id): trials run at "
                               "another budget or setting are another task's. The tasks that have trials of this "
                               "arena, most first; choosing one shows its trials and runs on it.")
        self._task_choices: list = []
        self.task_button = ttk.Button(box, text="Task settings...", command=self.edit_task)
        self.task_button.pack(anchor="e")
        Tooltip(self.task_button, "Every setting of the arena's task (modulus, train fraction, model size, ...).")
        self.plan_label = ttk.Label(box, text="", wraplength=246, justify="left", font=("TkDefaultFont", 10, "bold"))
        self.plan_label.pack(fill="x", pady=(4, 0))
        Tooltip(self.plan_label, "Smart Fill: a (genome, seed) trial already recorded on this task is read from the "
                                 "registry, never run again. Only the missing trials train.")
        self.plan_detail = ttk.Label(box, text="", style="Muted.TLabel", wraplength=246, justify="left")
        self.plan_detail.pack(fill="x")
        buttons = ttk.Frame(box)
        buttons.pack(fill="x", pady=(4, 2))
        self.run_button = ttk.Button(buttons, text="Run", command=self.run)
        self.cancel_button = ttk.Button(buttons, text="Cancel", command=self.cancel)
        self.run_button.pack(side="left", expand=True, fill="x")
        self.cancel_button.pack(side="left", expand=True, fill="x", padx=(2, 0))
        Tooltip(self.cancel_button, "Stop after the current training step; finished trials stay in the registry.")
        # clam draws a full bar in the trough's grey: a colour tells done from not started
        ttk.Style(box).configure("Stress.Horizontal.TProgressbar", background="#4a7fc1")
        self.progress = ttk.Progressbar(box, maximum=1, style="Stress.Horizontal.TProgressbar")
        self.progress.pack(fill="x")
        self.progress_label = ttk.Label(box, text="", style="Muted.TLabel", wraplength=246, justify="left")
        self.progress_label.pack(fill="x")

    def _build_form(self, task: TaskConfig) -> None:
        """The runs, first seed, budget and device fields (the budget is the arena task's CAP_FIELD)."""
        values = {}
        if getattr(self, "form", None) is not None:
            values = {k: v.get() for k, v in self.form.vars.items() if k in ("runs", "seed_start", "device")}
            self.form.destroy()
        self.form = Form(self.run_box, run_fields(task), width=8)
        if getattr(self, "task_label", None) is not None:
            self.form.pack(fill="x", before=self.task_label)
        else:
            self.form.pack(fill="x")
        for key, value in values.items():
            self.form.set(key, value)
        offer_devices(self.form, self.arena.name)
        for var in self.form.vars.values():
            var.trace_add("write", lambda *_a: self._changed())

    def _build_legend(self, right: ttk.Frame) -> None:
        box = ttk.LabelFrame(right, text="Show", padding=(6, 2))
        box.pack(fill="both", expand=True, pady=(4, 0))
        ttk.Label(box, text="Group by").pack(anchor="w")
        grouping = ttk.Frame(box)
        grouping.pack(fill="x")
        self.grouping = tk.StringVar(self.frame, value="genome")
        self.grouping_buttons: dict[str, ttk.Radiobutton] = {}
        names = [*GROUPINGS, USER_GROUPS, SPECIES]
        for i, name in enumerate(names):   # three a row; the species level sits beside "species"
            button = ttk.Radiobutton(grouping, text=GROUPING_TEXT.get(name, name), value=name, variable=self.grouping,
                                     command=self.redraw_soon)
            button.grid(row=i // 3, column=i % 3, sticky="w", padx=(0, 8))
            Tooltip(button, GROUPING_HELP.get(name, ""))
            self.grouping_buttons[name] = button
        self.species_level = tk.StringVar(self.frame, value="Genus")
        self.species_level_box = ttk.Combobox(grouping, textvariable=self.species_level, values=LEVELS,
                                              state="readonly", width=9)
        self.species_level_box.grid(row=(len(names) - 1) // 3, column=(len(names) - 1) % 3 + 1, columnspan=2,
                                    sticky="w")
        self.species_level_box.bind("<<ComboboxSelected>>", lambda _e: self._level_picked())
        self._level_picked_by_user = False
        Tooltip(self.species_level_box, "Taxonomy level of the species grouping: Domain (coarsest) .. Genus (finest). "
                                        "Until you pick one: the finest level whose median species has two members "
                                        "(as the Phylogeny tab opens).")
        ttk.Separator(box).pack(fill="x", pady=4)
        self.controls = ChartControls(box, on_change=self.redraw_soon)
        self.controls.pack(fill="both", expand=True)

    def _build_charts(self, middle: ttk.Frame) -> None:
        self.chart_picker = ChartPicker(middle, DEFAULT_CHART, on_change=self.redraw)
        self.chart_picker.pack(fill="x")
        # the last export, in full: the status bar is shared and narrow, this line wraps instead of clipping
        self.export_note = ttk.Label(middle, text="", style="Muted.TLabel", anchor="w", justify="left")
        self.export_note.pack(side="bottom", fill="x")
        self.export_note.bind("<Configure>", lambda e: self.export_note.configure(wraplength=max(200, e.width - 4)))
        bottom = ttk.Frame(middle)
        bottom.pack(side="bottom", fill="x", pady=(2, 0))   # packed before the chart, so it is never squeezed out
        self.chart_box = self.chart_picker.box
        self.panel = ChartPanel(middle, figsize=(7.0, 5.0), dpi=90)
        self.panel.pack(fill="both", expand=True, pady=(2, 0))
        self.export_button = ttk.Button(bottom, text="Export chart...", command=self.export)
        self.export_button.pack(side="right")
        Tooltip(self.export_button, "Write this chart for a paper (each ticked format, plus its table as CSV) "
                                    "into a folder you choose. Also File > Export charts of this tab.")
        self.export_options = ExportOptions(bottom)
        self.export_options.pack(side="left")
