"""The Stress Chamber tab: peer review of genomes. Choose genomes, run each on N seeds of a task as a
background job (Smart Fill runs only the trials the registry lacks), then read the seven analysis
charts grouped by genome, tag or the user's own groups, and export them for papers.
"""
from __future__ import annotations

import dataclasses
import time
import tkinter as tk
from collections.abc import Sequence
from pathlib import Path
from tkinter import ttk
from typing import Any

from matplotlib.figure import Figure

from lab.analysis.charts import CHARTS, ChartData, draw_chart, export_chart
from lab.analysis.export import FORMATS, written_message
from lab.analysis.phylogeny import LEVELS, default_level_of_labels
from lab.analysis.stress import GROUPINGS, SPECIES, StressPlan, group_genomes, plan_stress, run_stress
from lab.arenas import arena_names, get_arena
from lab.arenas.base import TaskConfig, TrialFinished, TrialProgress, TrialResult, resolve_device, with_cap
from lab.genome import Genome
from lab.gui.stress_genomes import GenomeChoice
from lab.gui.widgets.chart_controls import DPI_FIELD, ChartControls, ChartPicker, ExportOptions
from lab.gui.widgets.chart_panel import ChartPanel
from lab.gui.widgets.form import (Field, Form, FormError, device_field, follow_task_defaults, offer_devices,
                                  task_fields)
from lab.gui.widgets.tooltip import Tooltip
from lab.jobs import Job, JobEnded
from lab.progress import ProgressReader
from lab.registry import RegistryError
from lab.tasks import describe, task_choices

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


def stress_job(job: Job, registry: Any, arena: Any, plan: StressPlan, device: str,
               backend: Any = None) -> list[TrialResult]:
    """The job: Smart Fill of ``plan`` (finished trials are recorded as they finish, so a cancel keeps them)."""
    return run_stress(registry, arena, plan, device=device, on_event=job.emit, cancel=job.cancel_token,
                      backend=backend)


def describe_task(task: TaskConfig, default: TaskConfig) -> str:
    """``task`` in words against the arena's default task (every setting, the budget included)."""
    return describe(task, default)


def _say(fig: Figure, text: str) -> Figure:
    fig.clear()
    fig.text(0.5, 0.5, text, ha="center", va="center", color="#666666", fontsize="medium")
    return fig


class StressChamberTab:
    def __init__(self, app, parent: ttk.Frame):
        self.app, self.frame = app, parent
        self.arena = get_arena(ARENA)
        self.base_task: TaskConfig = self.arena.default_task()
        self.plan: StressPlan | None = None
        self.data: ChartData | None = None
        self.job: Job | None = None
        self.running_plan: StressPlan | None = None
        self.finished = 0
        self._pending: str | None = None
        self._stale = False
        self._last_live = 0.0
        self.reader = ProgressReader()   # work done over expected, and the time left, of the running job
        self.memory: dict[str, dict[str, dict[str, Any]]] = {}   # arena -> settings left there

        outer = ttk.PanedWindow(parent, orient="horizontal")
        outer.pack(fill="both", expand=True, padx=4, pady=4)
        left = ttk.Frame(outer, padding=(2, 0))
        outer.add(left, weight=0)
        self.choice = GenomeChoice(left, app, self.arena.gene_spec.name, self._changed)
        self.choice.pack(fill="both", expand=True)
        middle = ttk.Frame(outer, padding=(4, 0))
        outer.add(middle, weight=1)
        self._build_charts(middle)
        right = ttk.Frame(outer, padding=(2, 0))
        outer.add(right, weight=0)
        self._build_run(right)
        self._build_legend(right)

        app.hub.subscribe("registry_changed", self._registry_changed)
        app.hub.subscribe("send_to_stress_chamber", self._receive_genomes)
        app.hub.subscribe("tab_shown", self._tab_changed)
        self._set_running(False)
        self.follow_default_level()
        self.set_task(self.base_task)
        self.redraw()

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

    def set_arena(self, name: str) -> bool:
        """Stress-test another arena's genomes (with the settings last used for it, else its
        defaults); refused while a test runs."""
        if name == self.arena.name:
            return True
        if self.running:
            self.arena_name.set(self.arena.name)
            self.app.show_error("Stress test", "A stress test is running: cancel it before switching arenas.")
            return False
        self.remember()
        self.arena = get_arena(name)
        self.arena_name.set(name)
        self.choice.set_spec(self.arena.gene_spec.name)
        self.follow_default_level()
        self._show_remembered()
        return True

    # ---- settings kept per arena and between sessions (lab.gui.prefs) --------------------------
    def remember(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Keep the shown arena's settings in ``memory`` (returned): "stress" holds runs, first seed
        and device, "stress_task" the task settings (the budget included) that differ from the
        arena's defaults. A value being typed that is not valid yet is left out."""
        default_task = self.arena.default_task()
        form = {}
        for f in run_fields(default_task):
            if f.name == default_task.CAP_FIELD:
                continue
            try:
                value = f.parse(self.form.vars[f.name].get())
            except ValueError:
                continue
            if value != f.default:
                form[f.name] = value
        try:
            task = self._task(self.form.values())
        except ValueError:
            task = self.base_task
        overrides = {f.name: getattr(task, f.name) for f in dataclasses.fields(task)
                     if isinstance(getattr(task, f.name), (bool, int, float, str))
                     and getattr(task, f.name) != getattr(default_task, f.name)}
        self.memory[self.arena.name] = {"stress": form, "stress_task": overrides}
        return self.memory

    def _show_remembered(self) -> None:
        remembered = self.memory.get(self.arena.name, {})
        default_task = self.arena.default_task()
        try:
            task = dataclasses.replace(default_task, **remembered.get("stress_task", {}))
        except (TypeError, ValueError):
            task = default_task
        self._build_form(task)
        for f in run_fields(default_task):
            if f.name != task.CAP_FIELD:
                self.form.set(f.name, remembered.get("stress", {}).get(f.name, f.default))
        offer_devices(self.form, self.arena.name)   # a remembered device the arena lacks falls back
        self.set_task(task)

    def load_prefs(self, prefs) -> None:
        """Show the stored settings (``prefs.Prefs``; defaults where none are stored)."""
        self.memory = prefs.arenas_section("stress", "stress_task")
        name = prefs.stress_arena if prefs.stress_arena in arena_names() else ARENA
        self.arena = get_arena(name)
        self.arena_name.set(name)
        self.choice.set_spec(self.arena.gene_spec.name)
        self._show_remembered()
        export = {"formats": list(FORMATS), "dpi": DPI_FIELD.default, "size": "single", **prefs.export}
        self.export_options.set_values(**export)

    def store_prefs(self, prefs) -> None:
        prefs.stress_arena = self.arena.name
        prefs.set_arenas_section(self.remember())
        try:
            prefs.export = self.export_options.values()
        except FormError:
            pass   # a half-typed dpi: the stored choice stands

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

    # ---- the task and the plan ---------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.chart_picker.kind

    def set_chart(self, kind: str) -> None:
        self.chart_picker.set_kind(kind)
        self.redraw()

    def set_task(self, task: TaskConfig) -> None:
        """Stress-test on ``task`` (its step cap stays editable); scripts and tests set a small one."""
        self.base_task = task
        if task.CAP_FIELD in self.form.vars:
            self.form.set(task.CAP_FIELD, getattr(task, task.CAP_FIELD))
        self._changed()

    def _refresh_task_choices(self, task: TaskConfig) -> None:
        try:
            self._task_choices = task_choices(self.app.registry, self.arena.name, include=task)
        except (OSError, RegistryError) as exc:
            self._task_choices = []
            self.app.status_message.set(f"tasks with trials: {exc}")
        self.task_box.configure(values=[c.label for c in self._task_choices])
        current = next((c.label for c in self._task_choices if c.task_id == task.task_id), "")
        self.task_choice.set(current)

    def choose_task(self, label: str) -> bool:
        """Show (and run on) the task offered as ``label`` in the tasks-with-trials list."""
        choice = next((c for c in self._task_choices if c.label == label), None)
        if choice is None:
            return False
        if self.running:
            self.app.show_error("Stress test", "A stress test is running: cancel it before switching tasks.")
            self.update_plan()
            return False
        if choice.task is None:
            self.app.show_error("Stress test", f"Task {choice.task_id} has {choice.trials} trial(s), but this "
                                               "registry does not know its settings (tasks.json), so it cannot be shown.")
            self.update_plan()
            return False
        self.set_task(choice.task)
        return True

    def edit_task(self) -> tk.Toplevel:
        """A small dialog with one validated field per task setting; OK applies a valid task."""
        dialog = tk.Toplevel(self.frame)
        dialog.title("Stress test task")
        dialog.transient(self.frame.winfo_toplevel())
        current = self._task(self.form.values()) if not self._form_problems() else self.base_task
        form = Form(dialog, task_fields(current), width=10)
        form.pack(fill="x", padx=10, pady=8)
        follow_task_defaults(form, current)

        def apply() -> None:
            try:
                task = dataclasses.replace(self.base_task, **form.values())
            except FormError as exc:
                self.app.show_error("Task", "\n".join(exc.problems))
                return
            except (ValueError, TypeError) as exc:
                self.app.show_error("Task", str(exc))
                return
            self.set_task(task)
            dialog.destroy()

        buttons = ttk.Frame(dialog)
        buttons.pack(fill="x", padx=10, pady=(0, 8))
        ttk.Button(buttons, text="OK", command=apply).pack(side="right")
        ttk.Button(buttons, text="Cancel", command=dialog.destroy).pack(side="right", padx=4)
        ttk.Button(buttons, text="Arena default", command=lambda: form.set_values(
            self.arena.default_task().to_dict())).pack(side="left")
        dialog.task_form, dialog.apply = form, apply  # for tests and scripts
        return dialog

    def _form_problems(self) -> bool:
        try:
            self.form.values()
        except FormError:
            return True
        return False

    def _task(self, values: dict[str, Any]) -> TaskConfig:
        if self.base_task.CAP_FIELD in values:
            return with_cap(self.base_task, values[self.base_task.CAP_FIELD])
        return self.base_task

    def _changed(self) -> None:
        self.update_plan()
        self.redraw_soon()

    def update_plan(self) -> StressPlan | None:
        """Smart Fill's count for the current choice and settings: X recorded, Y to run (cheap)."""
        self.plan = None
        try:
            values = self.form.values()
            task = self._task(values)
        except FormError as exc:
            return self._say_plan("; ".join(exc.problems), error=True)
        except ValueError as exc:
            return self._say_plan(str(exc), error=True)
        self.task_label.configure(text=f"Task {task.task_id}: {describe_task(task, self.arena.default_task())}")
        self._refresh_task_choices(task)
        self.task_tip.text = f"{self.arena.title}\n" + "\n".join(f"{k} = {v}" for k, v in task.to_dict().items())
        genomes = self.choice.genomes()
        if not genomes:
            return self._say_plan("Choose genomes to plan a stress test.")
        self.plan = plan_stress(self.app.registry, genomes, task, values["runs"], values["seed_start"])
        p = self.plan
        self._say_plan(f"{p.existing} trials already in the registry, {p.to_run} will run",
                       f"{len(p.genomes)} genome{'s' * (len(p.genomes) != 1)} \u00d7 seeds {p.seeds[0]}\u2013"
                       f"{p.seeds[-1]} = {p.total} trials")
        return p

    def _say_plan(self, text: str, detail: str = "", error: bool = False) -> None:
        self.plan_label.configure(text=text, foreground="#b00020" if error else "")
        self.plan_detail.configure(text=detail)

    # ---- running -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None and self.job.active

    def run(self) -> bool:
        """Start Smart Fill as a job; bad settings show a message naming the problem and start nothing.
        Returns whether a job started (not when every trial is recorded already)."""
        if self.running:
            self.app.status_message.set("a stress test is already running")
            return False
        try:
            values = self.form.values()
        except FormError as exc:
            self.app.show_error("Stress test", "Nothing was started:\n" + "\n".join(exc.problems))
            return False
        if not self.choice.genomes():
            self.app.show_error("Stress test", "Nothing was started: choose genomes first (pick them, add a tag "
                                               "or the Hall of Fame).")
            return False
        try:
            device = resolve_device(values["device"])
            plan = self.update_plan()
        except ValueError as exc:
            self.app.show_error("Stress test", f"Nothing was started: {exc}")
            return False
        if plan is None:
            self.app.show_error("Stress test", f"Nothing was started: {self.plan_label.cget('text')}")
            return False
        if plan.to_run == 0:
            self.app.status_message.set(f"all {plan.total} trials are in the registry already: nothing to run")
            self.redraw()
            return False
        try:  # trials name their genome by id: keep the genomes beside them (the registry may have changed)
            self.app.registry.add_genomes(plan.genomes)
        except (OSError, RegistryError) as exc:
            self.app.show_error("Stress test", f"Nothing was started: could not store the genomes: {exc}")
            return False
        self.finished, self._last_live = 0, time.monotonic()
        self.reader.reset(plan.to_run, plan.task)
        self.progress.configure(maximum=1.0, value=0)
        self.running_plan = plan
        self.job = self.app.submit(stress_job, self.app.registry, self.arena, plan, device, self.app.backend,
                                   title="Stress test", on_event=self._on_event)
        self._set_running(True)
        self._show_progress()
        self.app.status_message.set(f"stress test started: {plan.to_run} trial(s) on {device}")
        return True

    def cancel(self) -> None:
        if self.running:
            self.job.cancel()
            self.progress_label.configure(text="Stopping after this training step...")

    def _set_running(self, running: bool) -> None:
        self.run_button.configure(state="disabled" if running else "normal")
        self.cancel_button.configure(state="normal" if running else "disabled")
        self.form.set_enabled(not running)

    def _show_progress(self) -> None:
        """The bar is the work done (member-steps, passes, generations) over the work expected; the
        trials finished are the secondary line: a population trains as one batch, so they move late."""
        r, total = self.reader, self.running_plan.to_run
        self.progress.configure(value=r.fraction)
        steps = f"; {r.steps_text}" if r.steps_text else ""
        self.progress_label.configure(text=f"{r.work_text()}\n{self.finished} of {total} trials finished{steps}")
        self.job.progress = (r.fraction, f"{r.short_text()}; {self.finished} of {total} trials")  # status bar

    def _on_event(self, event: Any) -> None:
        if isinstance(event, TrialFinished) and event.result.status != "cancelled":
            self.finished += 1
            self._show_progress()
            if time.monotonic() - self._last_live >= LIVE_REDRAW_S:  # recorded trials join the charts
                self._last_live = time.monotonic()
                self.redraw_soon()
        elif isinstance(event, TrialProgress):
            self.reader.update(event)
            self._show_progress()
        elif isinstance(event, JobEnded):
            self._ended(event)

    def _ended(self, event: JobEnded) -> None:
        self._set_running(False)
        kept = self.finished
        if event.state == "done":
            self.progress.configure(value=1.0)
            text = f"Stress test done: {kept} trial(s) recorded."
        elif event.state == "cancelled":
            text = f"Stress test cancelled: {kept} finished trial(s) kept; Run fills in the rest."
        else:
            text = f"Stress test failed (see the log); {kept} finished trial(s) kept."
        self.progress_label.configure(text=text)
        self.app.status_message.set(text)
        self.app.hub.publish("registry_changed", registry=self.app.registry)
        self.update_plan()
        self.redraw()

    # ---- charts ------------------------------------------------------------------------------
    def groups(self, genomes: Sequence[Genome]) -> dict[str, str]:
        """genome id -> group under the chosen grouping."""
        how = self.grouping.get()
        if how == USER_GROUPS:
            return self.choice.groups()
        try:
            return group_genomes(how, genomes, self.app.registry, self.species_level.get())
        except RegistryError as exc:   # an unreadable species.json: say so, group by genome meanwhile
            self.app.status_message.set(str(exc))
            return group_genomes("genome", genomes)

    def redraw_soon(self) -> None:
        if self.app.shown_tab() != TITLE:
            self._stale = True   # other tabs change the registry often: draw when this tab is shown
        elif self._pending is None:
            self._pending = self.frame.after(REDRAW_DELAY_MS, self.redraw)

    def _tab_changed(self, title: str) -> None:
        if self._stale and title == TITLE:
            self.redraw()

    def redraw(self) -> None:
        """Read the chosen genomes' trials on the task and seeds of the plan and draw the chosen chart."""
        if self._pending is not None:
            self.frame.after_cancel(self._pending)
            self._pending = None
        self._stale = False
        kind = self.kind
        self.controls.set_kind(CHARTS[kind])
        if not self.choice.genomes():
            self.data = None
            self.controls.set_groups([])
            self.panel.redraw(lambda fig: _say(fig, NO_GENOMES))
            return
        plan = self.plan
        if plan is None:
            return  # the settings are invalid (the plan line says why): the chart stays as it was
        data = ChartData.from_registry(self.app.registry, plan.genomes, plan.task, plan.seeds,
                                       self.groups(plan.genomes))
        self.controls.set_groups(data.groups, data.colours())
        self.controls.set_genes([c.removeprefix("gene:") for c in data.trials.columns if c.startswith("gene:")])
        self.data = dataclasses.replace(data, hidden=self.controls.hidden())
        elsewhere = self.trials_elsewhere(plan) if data.trials.empty else ""
        if elsewhere:
            self.panel.redraw(lambda fig: _say(fig, elsewhere))
            return
        style = self.controls.style()
        self.panel.redraw(lambda fig: draw_chart(kind, fig, self.data, style))

    def trials_elsewhere(self, plan: StressPlan) -> str:
        """When the chosen genomes have no trials on the plan's task but do on other tasks: says so and
        names them (trials run at another budget are another task's); "" otherwise."""
        try:
            others = [c for c in task_choices(self.app.registry, self.arena.name, [g.id for g in plan.genomes])
                      if c.task_id != plan.task.task_id and c.trials]
        except (OSError, RegistryError):
            return ""
        if not others:
            return ""
        lines = "\n".join(f"{c.text} [{c.task_id}]: {c.trials} trial{'s' * (c.trials != 1)}" for c in others[:4])
        return (f"No trials of these genomes on task {plan.task.task_id} ({describe(plan.task, self.arena.default_task())})."
                f"\nThey have trials on:\n{lines}\nChoose one under 'Tasks with trials' on the left.")

    # ---- export ------------------------------------------------------------------------------
    def export(self) -> list[Path]:
        folder = self.app.ask_export_folder("Export the chart to a folder")
        return self.export_charts(Path(folder)) if folder else []

    def export_charts(self, folder: Path) -> list[Path]:
        """Write the chart on screen (ticked formats, dpi, width) and its CSV into ``folder``."""
        try:
            options = self.export_options.values()
        except FormError as exc:
            self.app.show_error("Export chart", "Nothing was written:\n" + "\n".join(exc.problems))
            return []
        self.redraw()  # export exactly what the current settings show
        data, kind = self.data, self.kind
        if data is None or data.trials.empty:
            self.app.show_error("Export chart", "Nothing was written: the chosen genomes have no recorded trials on "
                                                "this task and these seeds yet (press Run first).")
            return []
        if data.visible().empty:
            self.app.show_error("Export chart", "Nothing was written: every group is hidden (tick one under "
                                                "\"Groups shown\").")
            return []
        try:
            paths = export_chart(kind, data, folder, style=self.controls.style(), **options)   # named as `charts` names them
        except (OSError, ValueError) as exc:
            self.app.show_error("Export chart", f"Could not write the {CHARTS[kind].title} chart to {folder}: {exc}")
            return []
        self.app.status_message.set(written_message(paths, folder, kind))
        names = ", ".join(p.name for p in paths)
        self.export_note.configure(text=f"Exported the {CHARTS[kind].title} chart: {len(paths)} files ({names}) "
                                        f"to {Path(folder).resolve()}")
        return paths

    # ---- the hub -----------------------------------------------------------------------------
    def _registry_changed(self, registry) -> None:
        self.choice.refresh()
        self.follow_default_level()
        self._changed()

    def _level_picked(self) -> None:
        self._level_picked_by_user = True
        self.grouping.set(SPECIES)
        self.redraw_soon()

    def follow_default_level(self) -> None:
        """Until the user picks a species level, show the one the stored species are best read at
        (the Phylogeny tab's rule: the finest level whose median species has two members)."""
        if self._level_picked_by_user:
            return
        labels = self.app.registry.species_labels(self.arena.gene_spec.name)
        self.species_level.set(default_level_of_labels(labels) if labels else "Genus")

    def _receive_genomes(self, genome_ids: list[str]) -> None:
        """Another tab sent genomes: add them to the chosen list (switching to their arena) and show this tab."""
        specs = {self.app.registry.get_genome(gid).spec.name for gid in genome_ids
                 if self.app.registry.has_genome(gid)}
        if len(specs) == 1 and self.choice.spec not in specs:
            spec = specs.pop()
            names = [n for n in arena_names() if get_arena(n).gene_spec.name == spec]
            if names and not self.set_arena(names[0]):
                return
        self.choice.add_ids(genome_ids)
        self.app.show_tab(TITLE)

    def close(self) -> None:
        if self._pending is not None:
            self.frame.after_cancel(self._pending)
            self._pending = None
        self.panel.figure.clear()


def build(app, parent: ttk.Frame) -> StressChamberTab:
    return StressChamberTab(app, parent)
