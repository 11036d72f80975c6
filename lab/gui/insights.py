"""The Insights tab: the whole registry's trials on one task, read as a model of outcome from genes.
Left: which genomes (gene spec, task, top-k / tag / run / Hall-of-Fame filters) and Fit (F9), a job
with progress. Right, one page per view: gene importance with the model's held-out score and the
interactions, parallel coordinates with brushing (the brushed genomes go to the other tabs), slice
and contour, proposals (lab.gui.insights_views), and a run's genealogy and runs compared
(lab.gui.insights_runs). It is a tab of its own because it spans every run and every stress test of
a task, where the other tabs each work on the genomes in hand.
"""
from __future__ import annotations

import tkinter as tk
from pathlib import Path
from tkinter import ttk
from typing import Any

from lab.analysis.insights import Filters, InsightError
from lab.arenas import arena_names, get_arena
from lab.gui.commands import Command
from lab.gui.insights_runs import RunViews
from lab.gui.insights_views import ModelViews
from lab.gui.widgets.form import Field, Form, FormError
from lab.gui.widgets.tooltip import Tooltip
from lab.jobs import JobEnded
from lab.registry import RegistryError

COMMANDS = [
    Command("fit_insights", "Run", "Fit the Insights model", "F9"),
    Command("propose_genomes", "Run", "Propose genomes from the Insights model", "Ctrl+Shift+P"),
]
PREFS_SECTION = "insights"
FIELDS = [
    Field("top_k", "Top k (0: all)", "int", 0, 0, 1_000_000,
          help="Only the k best genomes by success rate, then median steps to success."),
    Field("min_trials", "Min. trials", "int", 1, 1, 10_000, help="Only genomes with this many finished trials."),
    Field("tag", "Tag", "text", "", help="Only genomes carrying this tag (empty: any)."),
    Field("proposals", "Proposals", "int", 8, 1, 256, help="How many new genomes Propose suggests."),
    Field("seed", "Model seed", "int", 0, 0, 2**31 - 1, help="The random forest's and the proposals' seed."),
]
ANY_RUN, DEFAULT_TASK = "(any run)", "the arena's default task"


def fit_job(job, registry, spec, task, filters: Filters, seed: int) -> tuple[Any, dict, dict] | str:
    """Read the genome table and fit a model of every outcome (with progress); a problem the user can
    fix (no trials, too few genomes, an unreadable run) comes back as its message."""
    from lab.analysis.insight_model import fit_all
    from lab.analysis.insights import insight_data
    try:
        data = insight_data(registry, spec, task, filters, report=lambda f, t: job.report(0.1 * f, t))
        fits, skipped = fit_all(data, seed, report=lambda f, t: job.report(0.1 + 0.9 * f, t))
    except (InsightError, RegistryError) as exc:
        return str(exc)
    return data, fits, skipped


def _choice_row(parent: ttk.Frame, label: str, var: tk.StringVar, tip: str) -> ttk.Combobox:
    """A labelled read-only dropdown filling its row."""
    row = ttk.Frame(parent)
    row.pack(fill="x", pady=(4, 0))
    ttk.Label(row, text=label).pack(side="left")
    box = ttk.Combobox(row, textvariable=var, state="readonly", width=28)
    box.pack(side="left", fill="x", expand=True, padx=(6, 0))
    Tooltip(box, tip)
    return box


class InsightsTab(ModelViews, RunViews):
    def __init__(self, app, parent: ttk.Frame):
        self.app = app
        self.frame = parent
        self.job = None
        self.data = None
        self.fits: dict = {}
        self.skipped: dict = {}
        self._task_choices: list = []
        self._fitted_root = None
        outer = ttk.PanedWindow(parent, orient="horizontal")
        outer.pack(fill="both", expand=True, padx=4, pady=4)
        left = ttk.Frame(outer, padding=(2, 0))
        outer.add(left, weight=0)
        self._build_source(left)
        right = ttk.Frame(outer)
        outer.add(right, weight=1)
        self.views = ttk.Notebook(right)
        self.views.pack(fill="both", expand=True)
        self._build_model_views(self.views)
        self._build_run_views(self.views)
        self._offer_tasks()
        self._offer_runs()
        app.add_commands(COMMANDS, {"fit_insights": self.fit, "propose_genomes": self.propose})
        app.hub.subscribe("registry_changed", self._registry_changed)
        app.hub.subscribe("tab_shown", self._tab_shown)
        self._fitted_once = False

    # ---- which genomes -----------------------------------------------------------------------
    def _build_source(self, left: ttk.Frame) -> None:
        box = ttk.LabelFrame(left, text="Genomes and trials", padding=6)
        box.pack(fill="x")
        row = ttk.Frame(box)
        row.pack(fill="x")
        ttk.Label(row, text="Arena").pack(side="left")
        self.arena = tk.StringVar(self.frame, value="grokking")
        box_a = ttk.Combobox(row, textvariable=self.arena, values=arena_names(), state="readonly", width=12)
        box_a.pack(side="left", padx=(6, 0))
        box_a.bind("<<ComboboxSelected>>", lambda _e: self._arena_changed())
        self.task_choice = tk.StringVar(self.frame, value=DEFAULT_TASK)
        self.task_box = _choice_row(box, "Task", self.task_choice, "The task whose trials are read (its settings "
                                    "hashed to a task id); the tasks with trials, most first.")
        self.run_filter = tk.StringVar(self.frame, value=ANY_RUN)
        self.run_box = _choice_row(box, "Run", self.run_filter, "Only the genomes that lived in this Evolution "
                                   "Lab run.")
        self.hall_of_fame = tk.BooleanVar(self.frame, value=False)
        ttk.Checkbutton(box, text="Hall of Fame only", variable=self.hall_of_fame).pack(anchor="w", pady=(4, 0))
        self.form = Form(box, FIELDS, width=8)
        self.form.pack(fill="x", pady=(4, 0))
        self.fit_button = ttk.Button(box, text="Fit model (F9)", command=self.fit)
        self.fit_button.pack(fill="x", pady=(6, 0))
        Tooltip(self.fit_button, "A random forest of each outcome from the genes: held-out R² from 5-fold "
                                 "cross-validation, permutation importance on the held-out folds, Friedman's H² "
                                 "for the top genes. Runs as a job; the window stays responsive.")
        self.progress = ttk.Progressbar(box, maximum=1.0)
        self.progress.pack(fill="x", pady=(4, 0))
        self.summary = ttk.Label(left, text="Press Fit model to read the registry's trials.", wraplength=270,
                                 justify="left", padding=(2, 6))
        self.summary.pack(fill="x")

    def _arena_changed(self) -> None:
        self._offer_tasks()

    def _offer_tasks(self) -> None:
        from lab.tasks import task_choices
        arena = get_arena(self.arena.get())
        try:
            choices = task_choices(self.app.registry, self.arena.get(), include=arena.default_task())
            # this arena's own tasks first (a task whose arena is unknown may hold another spec's trials)
            self._task_choices = sorted(choices, key=lambda c: c.arena != self.arena.get())
        except (OSError, RegistryError) as exc:
            self._task_choices = []
            self.app.status_message.set(f"tasks with trials: {exc}")
        labels = [c.label for c in self._task_choices]
        self.task_box.configure(values=labels)
        if labels and (self.task_choice.get() not in labels or self.data is None):
            self.task_choice.set(labels[0])

    def _offer_runs(self) -> None:
        from lab.evolution.run_files import run_infos
        try:
            ids = [i.run_id for i in run_infos(self.app.registry) if i.readable]
        except OSError:
            ids = []
        self.run_box.configure(values=[ANY_RUN, *ids])
        if self.run_filter.get() not in (ANY_RUN, *ids):
            self.run_filter.set(ANY_RUN)
        self._offer_genealogy_runs(ids)

    def task(self) -> Any:
        """The chosen task (its TaskConfig where the registry knows it, else its id)."""
        choice = next((c for c in self._task_choices if c.label == self.task_choice.get()), None)
        if choice is None:
            return get_arena(self.arena.get()).default_task()
        return choice.task if choice.task is not None else choice.task_id

    def filters(self) -> tuple[Filters, dict[str, Any]]:
        values = self.form.values()
        run = self.run_filter.get()
        return Filters(values["top_k"], values["tag"], "" if run == ANY_RUN else run, self.hall_of_fame.get(),
                       values["min_trials"]), values

    # ---- the model ----------------------------------------------------------------------------
    def fit(self) -> bool:
        if self.job is not None:
            return False
        try:
            filters, values = self.filters()
        except FormError as exc:
            self.app.show_error("Insights", "Nothing was fitted:\n" + "\n".join(exc.problems))
            return False
        self.store_prefs(self.app.prefs)
        self._fitted_once = True
        if self.app.shown_tab() != "Insights":   # F9 from another tab
            self.app.show_tab("Insights")
        self.fit_button.state(["disabled"])
        self.progress.configure(value=0)
        arena = get_arena(self.arena.get())
        self.job = self.app.submit(fit_job, self.app.registry, arena.gene_spec, self.task(), filters, values["seed"],
                                   title="Insights model", on_event=self._on_fit_event, quick=True)
        return True

    def _on_fit_event(self, event) -> None:
        if isinstance(event, JobEnded):
            self.job = None
            self.fit_button.state(["!disabled"])
            self.progress.configure(value=1.0 if event.state == "done" else 0)
            if event.state != "done":
                return
            if isinstance(event.result, str):
                self.clear_model()
                self.summary.configure(text=event.result)
                self.app.status_message.set("Insights: " + event.result[:120])
                return
            self.data, self.fits, self.skipped = event.result
            self._fitted_root = self.app.registry.root
            self.brushes.clear()
            lines = [f"{len(self.data.frame)} genomes on task {self.data.task_id} ({self.data.filters.describe()})."]
            lines += [f.describe() + "." for f in self.fits.values()]
            lines += [f"No model of {k}: {why}" for k, why in self.skipped.items()]
            self.summary.configure(text="\n".join(lines))
            self.app.status_message.set(f"Insights: model of {len(self.data.frame)} genomes fitted")
            self._show_model()
        elif getattr(event, "fraction", None) is not None:
            self.progress.configure(value=event.fraction)

    def _registry_changed(self, registry) -> None:
        if self.data is not None and registry.root != self._fitted_root:
            self.clear_model()
            self.summary.configure(text="Another registry: press Fit model (F9) to read its trials.")
        elif self.data is not None:
            self.summary.configure(text=self.summary.cget("text").split("\n\nThe registry changed")[0] +
                                   "\n\nThe registry changed since this fit: Fit model (F9) updates it.")
        self._offer_tasks()
        self._offer_runs()

    def clear_model(self) -> None:
        """Forget the model and blank its pages (a failed fit, another registry)."""
        self.data, self.fits, self.skipped = None, {}, {}
        self.brushes.clear()
        self.proposals = []
        for panel in (self.importance_panel, self.parallel_panel, self.shape_panel):
            panel.redraw(lambda fig: fig.clear())
        for tree in (self.chosen_tree, self.proposal_tree):
            tree.delete(*tree.get_children())

    def _tab_shown(self, title: str) -> None:
        if title == "Insights":
            self._offer_tasks()
            self._offer_runs()
            if not self._fitted_once:   # the first look finds the model of the registry as it is
                self.fit()

    # ---- sending genomes to the other tabs ----------------------------------------------------
    def send(self, topic: str, ids: list[str]) -> bool:
        if not ids:
            self.app.status_message.set("Insights: no genome chosen")
            return False
        if topic == "send_to_gene_forge":
            self.app.hub.publish(topic, genome_id=ids[0])
        else:
            self.app.hub.publish(topic, genome_ids=list(ids))
        self.app.hub.publish("genome_selected", genome_id=ids[0])
        self.app.status_message.set(f"sent {len(ids)} genome(s) from the Insights")
        return True

    # ---- settings and export ------------------------------------------------------------------
    def load_prefs(self, prefs) -> None:
        self.form.set_values(prefs.section(self.arena.get(), PREFS_SECTION))

    def store_prefs(self, prefs) -> None:
        try:
            values = self.form.values()
        except FormError:
            return   # a half-typed field keeps the last good values
        defaults = {f.name: f.default for f in FIELDS}
        prefs.set_section(self.arena.get(), PREFS_SECTION, {k: v for k, v in values.items() if v != defaults[k]})

    def export_charts(self, folder: Path) -> list[Path]:
        """The view shown: its chart (PNG/SVG/PDF) and its table (CSV)."""
        page = self.views.tab(self.views.select(), "text")
        if page in ("Genealogy", "Runs"):
            return self.export_run_view(page, folder)
        if self.data is None:
            raise InsightError("fit the model first (Fit model, F9)")
        from lab.analysis.insight_tables import export_view
        return [path for view, options in self.page_exports(page)
                for path in export_view(view, folder, self.data, self.fits, **options)]


def build(app, parent: ttk.Frame) -> InsightsTab:
    return InsightsTab(app, parent)
