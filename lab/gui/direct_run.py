"""The direct-run window, opened from the Evolution Lab: watch one arena's own engine work through
the charts that arena declares as its direct-run panel (``lab/arenas/<name>/charts.py``, see
:class:`lab.direct.DirectPanel`). A validated form sets seed, task and engine settings; the run is a
background job (:func:`lab.direct.direct_job`) whose reports redraw the charts.
"""
from __future__ import annotations

import dataclasses
import functools
import gc
import math
import time
import tkinter as tk
from pathlib import Path
from tkinter import ttk
from typing import Any

from lab.analysis.direct_panels import panel_for
from lab.arenas import get_arena
from lab.arenas.base import resolve_device
from lab.direct import (EngineKept, EngineReport, EngineUnavailable, SettingsApplied, SettingsRefused,
                        arenas_with_panels, direct_job, engine_settings, snapshot_unit)
from lab.gui.direct_live import (build_apply, build_map_button, close_map, export_charts, new_inbox, on_report,
                                 on_settings_event, set_running)
from lab.gui.direct_forms import RUN_FIELDS, engine_fields, has_direct_run
from lab.gui.direct_save import resume_engine, save_engine
from lab.gui.widgets.chart_panel import ChartPanel
from lab.gui.widgets.form import Form, FormError, follow_task_defaults, offer_devices, task_fields
from lab.gui.widgets.scrolled import ScrolledFrame
from lab.gui.widgets.tooltip import Tooltip
from lab.jobs import Job, JobEnded
from lab.registry import RegistryError

REDRAW_S = 0.25         # at most ~4 chart redraws a second
DRAW_SHARE = 0.35       # and rarer when a redraw is slow, so the window keeps answering between redraws
MAX_CHUNK = 25          # passes (generations) per engine step at most (fewer when they are slow)
class DirectRunWindow:
    """A Toplevel: the forms (scrolling when the arena's are long), Start / Stop / Export charts,
    progress and status on the left; the arena's charts on the right. ``genome``: its genes are the
    engine settings' defaults."""

    def __init__(self, app, arena_name: str, genome=None):
        self.app = app
        self.arena = get_arena(arena_name)
        self.panel = panel_for(arena_name)
        self.genome = genome
        self.job: Job | None = None
        self.engine: Any = None     # the last run's engine, kept for Save; closed with the window
        self.max_chunk = MAX_CHUNK
        self.snapshot: dict[str, Any] | None = None
        self.history: dict[str, list[float]] = {}
        # an arena may start its task form from other values than its default task ("auto" fields,
        # so that choosing another task there takes that task's defaults)
        self.task: Any = self.arena.default_task()
        self.outcome = ""
        self.closed = False
        self._draw_after: str | None = None
        self._last_draw = 0.0
        self._draw_cost = 0.0   # seconds the last chart redraw took (building the figure, not painting)

        self.top = tk.Toplevel(app.root)
        self.top.title(f"Direct run: {self.arena.title}")
        height = min(740, self.top.winfo_screenheight() - 60)
        self.top.geometry(f"1240x{height}+{app.root.winfo_rootx() + 20}+{app.root.winfo_rooty() + 10}")
        self.top.minsize(980, 640)
        self.top.protocol("WM_DELETE_WINDOW", self.close)
        for key in ("<Escape>", "<Control-w>"):
            self.top.bind(key, lambda _e: (self.request_close(), "break")[1])
        outer = ttk.PanedWindow(self.top, orient="horizontal")
        outer.pack(fill="both", expand=True, padx=4, pady=4)
        left = ttk.Frame(outer, padding=(4, 4))
        outer.add(left, weight=0)
        self._build_left(left)
        self.charts = ChartPanel(outer, figsize=(8.6, 6.6), dpi=90)
        outer.add(self.charts, weight=1)
        self._set_running(False)
        self.draw()

    # ---- layout ------------------------------------------------------------------------------
    def _build_left(self, left: ttk.Frame) -> None:
        ttk.Label(left, text=self.arena.title, style="Heading.TLabel", wraplength=330, justify="left"
                  ).pack(anchor="w")
        source = (f"Engine settings from genome {self.genome.label}" if self.genome is not None
                  else "Engine settings: the gene table's defaults")
        self.source_label = ttk.Label(left, text=source, style="Muted.TLabel", wraplength=330, justify="left")
        self.source_label.pack(anchor="w", pady=(0, 4))
        # the forms, then the controls right below them; the grid takes what the window lacks from the
        # forms (which then scroll) and never from Start or the status, and gives spare room to a spacer
        body = ttk.Frame(left)
        body.pack(fill="both", expand=True)
        body.columnconfigure(0, weight=1)
        body.rowconfigure(0, weight=1)
        body.rowconfigure(2, weight=10_000)
        self.settings_frame = ScrolledFrame(body)
        self.settings_frame.grid(row=0, column=0, sticky="nsew")
        self._build_forms(self.settings_frame.inner)
        self.settings_frame.bind_wheel()
        controls = ttk.Frame(body)
        controls.grid(row=1, column=0, sticky="ew")
        buttons = ttk.Frame(controls)
        buttons.pack(fill="x", pady=(8, 2))
        self.start_button = ttk.Button(buttons, text="Start", command=self.start)
        self.stop_button = ttk.Button(buttons, text="Stop", command=self.stop)
        self.export_button = ttk.Button(buttons, text="Export charts...", command=self.export_charts)
        self.close_button = ttk.Button(buttons, text="Close", command=self.request_close)
        for b in (self.start_button, self.stop_button, self.export_button, self.close_button):
            b.pack(side="left", expand=True, fill="x", padx=1)
        files = ttk.Frame(controls)
        files.pack(fill="x", pady=(2, 2))
        self.save_button = ttk.Button(files, text="Save...", command=self.save_run, state="disabled")
        self.resume_button = ttk.Button(files, text="Resume...", command=self.resume_run)
        build_apply(self, files)
        for b in (self.save_button, self.resume_button):
            b.pack(side="left", expand=True, fill="x", padx=1)
        build_map_button(self, files)
        Tooltip(self.save_button, "Save the stopped or finished run's engine to a folder, to resume it exactly later.")
        Tooltip(self.resume_button, "Continue a run saved in a folder, to its budget, with that folder's settings.")
        Tooltip(self.close_button, "Close this window (Esc or Ctrl+W); a run under way is stopped after you agree.")
        self.progress = ttk.Progressbar(controls, maximum=1.0)
        self.progress.pack(fill="x", pady=(6, 0))
        self.status = ttk.Label(controls, text="Not started.", wraplength=330, justify="left")
        self.status.pack(anchor="w", pady=(2, 0))
        # wrap at the pane's own width (a long folder name in the source line would be cut off otherwise)
        left.bind("<Configure>", lambda e: [w.configure(wraplength=max(200, e.width - 12)) for w in
                                            (self.source_label, self.status)], add="+")

    def _build_forms(self, parent: ttk.Frame) -> None:
        box = ttk.LabelFrame(parent, text="Run", padding=(6, 2))
        box.pack(fill="x")
        self.run_form = Form(box, RUN_FIELDS)
        offer_devices(self.run_form, self.arena.name)
        self.run_form.pack(fill="x")
        box = ttk.LabelFrame(parent, text="Task", padding=(6, 2))
        box.pack(fill="x", pady=(4, 0))
        self.task_form = Form(box, task_fields(self.task))
        self.task_form.pack(fill="x")
        follow_task_defaults(self.task_form, self.task)
        if "data_folder" in self.task_form.fields:
            self.folder_button = ttk.Button(box, text="Choose data folder...", command=self.choose_data_folder)
            self.folder_button.pack(anchor="e", pady=(2, 0))
        genes = dict(self.genome.genes) if self.genome is not None else self.arena.gene_spec.defaults()
        box = ttk.LabelFrame(parent, text="Engine settings", padding=(6, 2))
        box.pack(fill="x", pady=(4, 0))
        self.engine_form = Form(box, engine_fields(self.arena, genes))
        self.engine_form.pack(fill="x")

    @property
    def forms(self) -> tuple[Form, ...]:
        return self.run_form, self.task_form, self.engine_form

    def _set_running(self, running: bool) -> None:
        self.start_button.configure(state="disabled" if running else "normal")
        self.stop_button.configure(state="normal" if running else "disabled")
        self.resume_button.configure(state="disabled" if running else "normal")
        self.save_button.configure(state="normal" if self.engine is not None and not running else "disabled")
        set_running(self, running)
        if hasattr(self, "folder_button"):
            self.folder_button.configure(state="disabled" if running else "normal")

    # ---- reading the form ----------------------------------------------------------------------
    def read(self) -> tuple[Any, Any, int, str]:
        """(task, engine settings, seed, device) from the widgets; FormError names every problem."""
        problems: list[str] = []
        values: dict[str, dict[str, Any]] = {}
        for key, form in (("run", self.run_form), ("task", self.task_form), ("engine", self.engine_form)):
            try:
                values[key] = form.values()
            except FormError as exc:
                problems += exc.problems
        task = settings = None
        if "task" in values:
            try:
                task = dataclasses.replace(self.arena.default_task(), **values["task"])  # validates itself
            except (ValueError, TypeError) as exc:
                problems.append(str(exc))
            folder = getattr(task, "data_folder", "")
            if task is not None and folder and not Path(folder).is_dir():
                problems.append(f"data folder {folder} " + ("is a file, not a folder" if Path(folder).exists()
                                                            else "does not exist"))
        if "engine" in values:
            option_names = {o.name for o in self.panel.options}
            genes = {k: v for k, v in values["engine"].items() if k not in option_names}
            options = {k: v for k, v in values["engine"].items() if k in option_names}
            try:
                settings = engine_settings(self.arena, genes, options)
            except ValueError as exc:
                problems.append(str(exc))
        if "run" in values:
            try:
                resolve_device(values["run"]["device"])
            except ValueError as exc:
                problems.append(f"Device: {exc}")
        if problems:
            raise FormError(problems)
        return task, settings, values["run"]["seed"], values["run"]["device"]

    # ---- run control -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None and self.job.active

    def refuse_while_busy(self, title: str, doing: str) -> bool:
        """True (after one message) when another long job runs: the runner does one at a time."""
        busy = self.app.runner.active_jobs()
        if busy:
            self.app.show_error(title, f"{', '.join(j.title for j in busy)} is running; stop it before "
                                       f"{doing} a direct run.")
        return bool(busy)

    def start(self) -> bool:
        """Start a run from the widgets; bad input or another job running: one message, nothing starts."""
        if self.running or self.refuse_while_busy("Direct run", "starting"):
            return False
        try:
            task, settings, seed, device = self.read()
        except FormError as exc:
            self.app.show_error("Direct run", "Nothing was started:\n" + "\n".join(exc.problems))
            self.status.configure(text="Nothing was started: see the message.")
            return False
        self.task, self.snapshot, self.history, self.outcome = task, None, {}, ""
        self._keep(None)   # a new run: the last one's engine (and a NEAT engine's workers) goes
        every = max(1, min(MAX_CHUNK, getattr(task, "eval_interval", MAX_CHUNK)))
        self.job = self.app.submit(functools.partial(direct_job, keep_engine=True, inbox=new_inbox(self)),
                                   self.arena, task, settings, seed, every, device,
                                   title=f"Direct run of {self.arena.name} (seed {seed})", on_event=self._on_event)
        self._set_running(True)
        self.progress.configure(value=0.0)
        self.status.configure(text="Starting: loading the data and the first models...")
        self.draw()
        return True

    def stop(self) -> None:
        if self.running:
            self.job.cancel()
            self.status.configure(text="Stopping...")

    def save_run(self) -> list[str]:
        return save_engine(self)

    def resume_run(self, folder: str | None = None) -> bool:
        return resume_engine(self, folder)

    def unit(self, snapshot: dict[str, Any]) -> str:
        return snapshot_unit(snapshot, self.panel.unit)

    def _keep(self, engine: Any) -> None:
        """Hold ``engine`` for Save, closing the one held before (never one a job still steps)."""
        if self.engine is not None and self.engine is not engine:
            getattr(self.engine, "close", lambda: None)()
        self.engine = engine

    def choose_data_folder(self) -> None:
        folder = self.app.dialogs.ask_directory("Choose the data folder", self.task_form.vars["data_folder"].get()
                                                or None, create=False)
        if folder:
            self.task_form.set("data_folder", folder)

    # ---- events from the job (Tk thread) -----------------------------------------------------
    def _on_event(self, event: Any) -> None:
        if self.closed:
            if isinstance(event, EngineKept):   # the window went away while the job wound down
                getattr(event.engine, "close", lambda: None)()
            return
        if isinstance(event, EngineKept):
            self._keep(event.engine)
        if isinstance(event, EngineReport):
            self.snapshot, self.history = event.snapshot, event.history
            on_report(self, event.snapshot)
            self._show_status()
            self._schedule_draw()
        elif isinstance(event, (SettingsApplied, SettingsRefused)):
            on_settings_event(self, event)
        elif isinstance(event, JobEnded):
            self._ended(event)

    def _ended(self, event: JobEnded) -> None:
        self._set_running(False)
        if isinstance(event.result, EngineUnavailable):
            self.outcome = "unavailable"
            self.app.show_error("Direct run", f"The run could not start:\n{event.result.message}")
            self.status.configure(text="Could not start: see the message.")
            return
        self.outcome = {"done": "finished", "cancelled": "stopped"}.get(event.state, "failed")
        self._show_status()
        self.draw()

    def _show_status(self) -> None:
        s = self.snapshot
        if s is None:
            self.status.configure(text={"failed": "Failed (see the log).", "stopped": "Stopped before the first "
                                        "report."}.get(self.outcome, "Starting..."))
            return
        budget = s.get("budget") or 0
        # a run that ends before its budget (one that stops once solved) has still done all it will do
        done = 1.0 if self.outcome == "finished" else s["passes"] / budget if budget else 0.0
        self.progress.configure(value=done)
        unit = snapshot_unit(s, self.panel.unit).capitalize()
        parts = [f"{unit} {s['passes']:,} of {budget:,}" if budget else f"{unit} {s['passes']:,}"]
        if s.get("solved_at") is not None:
            parts.append(f"solved in {s['solved_at']:,} {snapshot_unit(s, self.panel.unit)}")
        for key, label in (("best_train_acc", "best train acc"), ("mean_train_acc", "mean train acc"),
                           ("val_acc", "champion val acc"), ("test_acc", "test acc")):
            if key in s and math.isfinite(s[key]):   # a task with no test split reports its test acc as NaN
                parts.append(f"{label} {s[key]:.3f}")
        if "replaced" in s:
            parts.append(f"children kept {s['replaced']:,}")
        words = {"finished": "Finished. ", "stopped": "Stopped. ", "failed": "Failed (see the log). "}
        self.status.configure(text=words.get(self.outcome, "") + ", ".join(parts) + self.settings_note)

    # ---- charts ------------------------------------------------------------------------------
    def redraw_interval(self) -> float:
        """Seconds between live redraws: REDRAW_S, or longer so that building and painting the
        charts (painting costs about what building does) take at most DRAW_SHARE of the time."""
        return max(REDRAW_S, 2 * self._draw_cost / DRAW_SHARE)

    def _schedule_draw(self) -> None:
        """Redraw at most every redraw_interval(), and always after the last report (a timer, not a skip)."""
        if self._draw_after is None:
            wait = max(0.0, self.redraw_interval() - (time.monotonic() - self._last_draw))
            self._draw_after = self.top.after(int(wait * 1000), self.draw)

    def draw(self) -> None:
        if self._draw_after is not None:
            self.top.after_cancel(self._draw_after)
            self._draw_after = None
        started = time.monotonic()
        target = getattr(self.task, "target_acc", None)
        self.charts.redraw(lambda fig: self.panel.draw(fig, self.snapshot, self.history, target))
        self._last_draw = time.monotonic()
        self._draw_cost = self._last_draw - started

    def export_charts(self) -> list[Path]:
        return export_charts(self)

    # ---- closing -----------------------------------------------------------------------------
    def lift(self) -> None:
        self.top.deiconify()
        self.top.lift()
        self.top.focus_set()

    def request_close(self) -> bool:
        """Close (the Close button, Esc, Ctrl+W): a run under way is stopped only after a yes."""
        if self.closed:
            return True
        if self.running and not self.app.dialogs.ask_yes_no(
                "Direct run", "A run is under way. Stop it and close the window?"):
            return False
        self.close()
        return True

    def close(self) -> None:
        """Close the window; a running job is cancelled first (its last events are ignored)."""
        if self.closed:
            return
        if self.running:
            self.job.cancel()
        self.closed = True
        close_map(self)
        self._keep(None)
        if self._draw_after is not None:
            self.top.after_cancel(self._draw_after)
            self._draw_after = None
        self.charts.figure.clear()
        self.top.destroy()
        # the chart canvas holds Tk images in reference cycles; collect them here, on the Tk thread,
        # or a later collection in a job's thread would delete them from the wrong thread
        self.charts = None
        gc.collect()


def open_direct_run(app, arena_name: str, genome_id: str | None = None,
                    existing: DirectRunWindow | None = None) -> DirectRunWindow | None:
    """Open (or bring forward) the direct-run window for ``arena_name``; the genome ``genome_id``
    gives the engine settings when it has the arena's gene spec. None if the arena has no engine."""
    arena = get_arena(arena_name)
    if not has_direct_run(arena):
        app.show_error("Direct run", f"The {arena_name} arena has no engine to watch directly; choose an arena "
                                     f"that has one ({', '.join(arenas_with_panels())}).")
        return None
    if existing is not None and not existing.closed:
        if existing.running or existing.arena.name == arena_name:
            existing.lift()
            return existing
        existing.close()
    genome = None
    if genome_id:
        try:
            genome = app.registry.get_genome(genome_id)
        except (RegistryError, KeyError, ValueError):
            genome = None
        if genome is not None and genome.spec.name != arena.gene_spec.name:
            genome = None
    return DirectRunWindow(app, arena_name, genome)
