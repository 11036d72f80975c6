"""The Evolution Lab tab: configure a run (settings panel), start, pause, stop or resume it as a
background job, and watch it live: four charts, the population table, the diversity grid, the
selected genome's genes and the Hall of Fame. Everything the run produces is written to the
registry by the engine, so the other tabs see it; this tab only shows it.
"""
from __future__ import annotations

import threading
import tkinter as tk
from pathlib import Path
from tkinter import ttk
from typing import Any

from lab.analysis.run_charts import Words, draw_dashboard, export_dashboard
from lab.arenas import get_arena
from lab.arenas.base import TrialFinished, TrialProgress
from lab.evolution.diversity import colours
from lab.evolution.landscapes import SUCCESS
from lab.evolution.population import Evolution, GenerationStarted, GenerationSummary, RunInterrupted
from lab.evolution.run_files import run_infos
from lab.gui.direct_run import DirectRunWindow, has_direct_run, open_direct_run
from lab.gui.evolution_settings import SettingsPanel
from lab.gui.widgets.chart_panel import ChartPanel
from lab.gui.widgets.diversity_grid import DiversityGrid
from lab.gui.widgets.form import FormError
from lab.gui.widgets.table import HeadingTips, fit_columns, scroll_both
from lab.jobs import Job, JobEnded
from lab.progress import ProgressReader, trial_budget
from lab.registry import RegistryError

LIVE_REDRAW_S = 1.0   # at most one chart redraw per second while trials finish
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


def median_text(median: float | None, budget: float | None) -> str:
    """A median steps cell: the number, or "failed" where the median is a failure's penalty (beyond
    the budget) rather than a step count."""
    if median is None or (isinstance(median, float) and median != median):
        return "failed"
    if budget and median > budget:
        return "failed"
    return f"{median:,.0f}"


def racing_note(record: dict[str, Any]) -> str:
    """"; racing stopped N trials at step S" for a generation record (empty without racing)."""
    race = record.get("race")
    if not race:
        return ""
    if not race.get("censored"):
        return "; racing stopped no trials early"
    return f"; racing stopped {race['censored']} trial(s) at step {race['stop_step']}"


def run_evolution(job: Job, evo: Evolution, pause: threading.Event) -> tuple[str, int]:
    """The job: run generations until the last, a pause (between generations) or a cancel (inside
    one; the previous generation stays checkpointed). Returns (how it ended, generation reached)."""
    try:
        evo.run(on_event=job.emit, cancel=job.cancel_token, pause=pause)
    except RunInterrupted:
        return "stopped", evo.generation
    return ("finished" if evo.done else "paused"), evo.generation


class EvolutionLabTab:
    def __init__(self, app, parent: ttk.Frame):
        self.app = app
        self.frame = parent
        self.evo: Evolution | None = None
        self.job: Job | None = None
        self.pause_flag = threading.Event()
        self.history: list[dict[str, Any]] = []
        self.live: tuple[list[float], int, int | None] | None = None
        self.gen_progress = ProgressReader()   # the running generation's work done over expected, time left
        self.gen_finished = 0
        self.step_cap = 1
        self.outcome = ""
        self._sort = ("rank", False)
        self._rows: list[dict[str, Any]] = []
        self._names: dict[str, str] = {}
        self.selected: str | None = None
        self.direct_window: DirectRunWindow | None = None

        outer = ttk.PanedWindow(parent, orient="horizontal")
        outer.pack(fill="both", expand=True, padx=4, pady=4)
        left = ttk.Frame(outer, padding=(4, 4))
        outer.add(left, weight=0)
        self._build_left(left)
        right = ttk.PanedWindow(outer, orient="vertical")
        outer.add(right, weight=1)
        self.charts = ChartPanel(right, figsize=(8.6, 3.5), dpi=80)
        right.add(self.charts, weight=3)
        bottom = ttk.PanedWindow(right, orient="horizontal")
        right.add(bottom, weight=2)
        self._build_population(bottom)
        self._build_side(bottom)

        app.add_handlers({"start_run": self.start, "pause_run": self.pause, "stop_run": self.stop,
                          "resume_run": self.resume, "direct_run": self.open_direct_run})
        app.hub.subscribe("registry_changed", self._registry_changed)
        app.hub.subscribe("send_to_evolution_lab", self._receive_ancestors)
        self._set_running(False)
        self.refresh_runs()
        self.refresh_hall_of_fame()
        self.show_saved_run(quiet=True)   # after a restart: where the newest run stands, ready for F7
        self.redraw()

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
        self.hof_title = ttk.Label(hof, text="")
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

    def _arena_picked(self) -> None:
        watchable = has_direct_run(get_arena(self.settings_panel.arena.get()))
        self.direct_button.configure(state="normal" if watchable else "disabled")
        if not self.running and hasattr(self, "charts") and (self.evo is None or not self.history):
            self.redraw()   # the empty charts speak of the arena chosen (passes for M2N2, steps for grokking)

    def open_direct_run(self) -> DirectRunWindow | None:
        """Run > Direct run of the arena: the chosen arena's engine in its own window, with the
        selected genome's settings when it is of that arena."""
        self.direct_window = open_direct_run(self.app, self.settings_panel.arena.get(), self.selected,
                                             self.direct_window)
        return self.direct_window

    def _direct_run_busy(self) -> bool:
        """A direct run holds the job runner: say so rather than queue a run silently behind it."""
        if self.direct_window is not None and self.direct_window.running:
            self.app.show_error("Evolution", "A direct run is in progress; stop it (or close its window) first.")
            return True
        return False

    # ---- run control -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None and self.job.active

    def start(self) -> bool:
        """Start a new run from the widgets; bad settings show one message naming every problem
        and start nothing."""
        if self.running:
            self.app.status_message.set("a run is already in progress")
            return False
        if self._direct_run_busy():
            return False
        try:
            settings = self.settings_panel.settings()
        except FormError as exc:
            self.app.show_error("Evolution settings", "Nothing was started:\n" + "\n".join(exc.problems))
            return False
        try:
            evo = Evolution(settings, self.app.registry, backend=self.app.backend)
        except (RegistryError, ValueError) as exc:
            self.app.show_error("Evolution", str(exc))
            return False
        self._launch(evo)
        return True

    def resume(self) -> bool:
        run_id = self.run_choice.get().split(":")[0]
        if self.running or not run_id:
            self.app.status_message.set("choose a saved run that is not running")
            return False
        if self._direct_run_busy():
            return False
        try:
            evo = Evolution.resume(self.app.registry, run_id, backend=self.app.backend)
        except (RegistryError, ValueError) as exc:
            self.app.show_error("Resume", str(exc))
            return False
        if evo.done:
            self.app.show_error("Resume", f"Run {run_id} has finished all its {evo.settings.generations} generations.")
            return False
        self.settings_panel.show(evo.settings)
        self._launch(evo)
        return True

    def pause(self) -> None:
        if self.running:
            self.pause_flag.set()
            self.run_label.configure(text=f"Run {self.evo.run_id}: pausing after this generation...")

    def stop(self) -> None:
        if self.running:
            self.job.cancel()
            self.run_label.configure(text=f"Run {self.evo.run_id}: stopping...")

    def _launch(self, evo: Evolution) -> None:
        self.evo = evo
        self.history = list(evo.history)
        self.step_cap = trial_budget(evo.task)
        self.live = None
        self.pause_flag = threading.Event()
        self.outcome = ""
        self.job = self.app.submit(run_evolution, evo, self.pause_flag, title=f"Evolution {evo.run_id}",
                                   on_event=self._on_event)
        self._set_running(True)
        self.refresh_runs(select=evo.run_id)
        self.run_label.configure(text=f"Run {evo.run_id}: generation {evo.generation} of {evo.settings.generations} done")
        self.run_bar.configure(value=evo.generation / evo.settings.generations)
        self.app.status_message.set(f"run {evo.run_id} started")
        self.redraw()
        self._show_population(self.history[-1] if self.history else None)

    def _set_running(self, running: bool) -> None:
        self.start_button.configure(state="disabled" if running else "normal")
        self.resume_button.configure(state="disabled" if running else "normal")
        self.pause_button.configure(state="normal" if running else "disabled")
        self.stop_button.configure(state="normal" if running else "disabled")
        self.settings_panel.set_enabled(not running)

    # ---- events from the job (Tk thread) -----------------------------------------------------
    def _on_event(self, event: Any) -> None:
        evo = self.evo
        total_gens = evo.settings.generations
        if isinstance(event, GenerationStarted):
            self.live = ([], 0, event.generation)
            self.gen_progress.reset(event.genomes * len(event.seeds), evo.task)
            self.gen_finished = 0
            self.gen_bar.configure(maximum=1.0, value=0)
            self._show_generation()
            self.redraw()
        elif isinstance(event, TrialProgress) and self.live:
            self.gen_progress.update(event)
            self._show_generation()
        elif isinstance(event, TrialFinished) and self.live:
            steps, failed, gen = self.live
            r = event.result
            if r.status in SUCCESS and r.metrics.get("steps_to_grok") is not None:
                steps.append(r.metrics["steps_to_grok"])
            elif r.status != "censored":   # stopped by racing: unfinished, not a failure
                failed += 1
            self.live = (steps, failed, gen)
            if r.status != "cancelled":
                self.gen_finished += 1
            self._show_generation()
            self.redraw(throttle=True)
        elif isinstance(event, GenerationSummary):
            self.history.append(event.record)
            self.live = None
            g = event.record["generation"]
            self.run_bar.configure(value=g / total_gens)
            self.run_label.configure(text=f"Run {evo.run_id}: generation {g} of {total_gens} done"
                                          f"{racing_note(event.record)}")
            self.redraw()
            self._show_population(event.record)
            self.app.hub.publish("registry_changed", registry=self.app.registry)
        elif isinstance(event, JobEnded):
            self._ended(event)

    def _show_generation(self) -> None:
        """The generation's bar is its work (member-steps, passes, generations of its trials) over the
        work expected, with the time left; the trials finished come beside it (they move late)."""
        r, gen, total_gens = self.gen_progress, self.live[2], self.evo.settings.generations
        self.gen_bar.configure(value=r.fraction)
        where = f", {r.steps_text}" if r.steps_text else ""   # a cluster reports whole batches
        self.gen_label.configure(text=f"Generation {gen}: {r.work_text()}\n"
                                      f"{r.trials_text(self.gen_finished)}{where}")
        fraction = (gen - 1 + r.fraction) / total_gens
        self.run_bar.configure(value=fraction)
        self.job.progress = (fraction, f"generation {gen} of {total_gens}: {r.short_text()}")

    def _ended(self, event: JobEnded) -> None:
        evo = self.evo
        self._set_running(False)
        self.live = None
        if event.state == "done":
            self.outcome, gen = event.result
        else:
            self.outcome, gen = ("failed" if event.state == "failed" else "stopped"), evo.generation
        words = {"finished": "finished", "paused": "paused (Resume continues it)",
                 "stopped": "stopped (Resume continues from the last checkpoint)", "failed": "failed (see the log)"}
        self.run_label.configure(text=f"Run {evo.run_id}: {words[self.outcome]} after generation {gen} of "
                                      f"{evo.settings.generations}")
        self.app.status_message.set(f"run {evo.run_id} {self.outcome}")
        self.refresh_runs(select=evo.run_id)
        self.redraw()

    # ---- views -------------------------------------------------------------------------------
    def redraw(self, throttle: bool = False) -> None:
        words = Words.of(self.evo.task if self.evo is not None else get_arena(self.settings_panel.arena.get()).default_task())
        self.charts.redraw(lambda fig: draw_dashboard(fig, self.history, self.step_cap, self.live, words),
                           min_interval_s=LIVE_REDRAW_S if throttle else 0.0)

    def _name(self, genome_id: str) -> str:
        if genome_id not in self._names:
            try:
                self._names[genome_id] = self.app.registry.get_genome(genome_id).name
            except (RegistryError, KeyError, ValueError):
                self._names[genome_id] = ""
        return self._names[genome_id]

    def _show_population(self, record: dict[str, Any] | None) -> None:
        self._rows = []
        if record is None:
            self.pop_title.configure(text="Population")
            self._fill_table()
            self.grid.show([])
            return
        rank: dict[str, int] = {}
        for i, gid in enumerate(record["ranking"]):
            rank.setdefault(gid, i + 1)  # an elite and its clone share an id: the better rank counts
        for r in record["genomes"]:
            self._rows.append({"rank": rank[r["id"]], "id": r["id"], "name": self._name(r["id"]), "origin": r["origin"],
                               "elite": "yes" if r["elite"] else "", "fitness": r["fitness"],
                               "median": r["median_steps"], "success": r["success"],
                               "censored": r.get("censored", 0)})
        self.pop_title.configure(text=f"Population of generation {record['generation']} "
                                      f"(diversity {record['diversity']:.3f})")
        self._fill_table()
        genomes = []
        for r in record["genomes"]:
            try:
                genomes.append(self.app.registry.get_genome(r["id"]))
            except (RegistryError, KeyError, ValueError):
                pass
        elite = {r["id"] for r in record["genomes"] if r["elite"]}
        self.grid.show([(g.id, rgb, g.id in elite) for g, rgb in zip(genomes, colours(genomes))])

    def _fill_table(self) -> None:
        col, reverse = self._sort
        rows = sorted(self._rows, key=lambda r: (r[col] if COLUMNS[col][2] else str(r[col]).lower()), reverse=reverse)
        self.table.delete(*self.table.get_children())
        seen = set()
        for r in rows:
            if r["id"] in seen:  # a genome present twice (an elite and its offspring clone) is one row
                continue
            seen.add(r["id"])
            values = [r["rank"], r["id"], r["name"], r["origin"], r["elite"], f"{r['fitness']:.1f}",
                      median_text(r["median"], self.step_cap if self.step_cap > 1 else None), f"{r['success']:.0%}",
                      r["censored"] or ""]
            self.table.insert("", "end", iid=r["id"], values=values)
        fit_columns(self.table)

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort the table by ``column``; clicking the same heading again reverses the order."""
        col, was = self._sort
        self._sort = (column, reverse if reverse is not None else (not was if col == column else False))
        self._fill_table()

    def table_rows(self) -> list[list[str]]:
        return [list(self.table.item(i, "values")) for i in self.table.get_children()]

    def _table_selected(self) -> None:
        sel = self.table.selection()
        if sel:
            self.select_genome(sel[0])

    def select_genome(self, genome_id: str) -> None:
        try:
            genome = self.app.registry.get_genome(genome_id)
        except (RegistryError, KeyError, ValueError) as exc:
            self.app.status_message.set(str(exc))
            return
        self.genome_title.configure(text=f"{genome.label}  ({genome.origin}, generation {genome.generation})")
        self.genes.delete(*self.genes.get_children())
        for gene in genome.spec.genes:
            value = genome.genes[gene.key]
            self.genes.insert("", "end", iid=gene.key, text=gene.label, values=(f"{value:.4g}", gene.group))
        fit_columns(self.genes)
        self.forge_button.configure(state="normal")
        self.stress_button.configure(state="normal")
        self.selected = genome_id
        self.app.hub.publish("genome_selected", genome_id=genome_id)

    def open_in_forge(self) -> None:
        if not self.app.hub.publish("send_to_gene_forge", genome_id=self.selected):
            self.app.status_message.set("the Gene Forge tab is not built yet")

    def stress_test(self) -> None:
        if not self.app.hub.publish("send_to_stress_chamber", genome_ids=[self.selected]):
            self.app.status_message.set("the Stress Chamber tab is not built yet")

    def refresh_hall_of_fame(self) -> None:
        entries = self.app.registry.hall_of_fame()
        s = self.settings_panel.form.vars["hof_strictness"].get()
        self.hof_title.configure(text=f"{len(entries)} genome(s); this run's strictness {s}")
        self.hof.delete(*self.hof.get_children())
        for e in reversed(entries):
            ev = e.get("evidence") or {}
            admitted = f"{ev.get('run_id', '')}, generation {ev.get('generation', '?')}" if ev else ""
            seeds = ev.get("seeds") if isinstance(ev.get("seeds"), list) else None
            success = (f"{ev['success_rate']:.0%}" + (f" of {len(seeds)} seeds" if seeds else "")
                       if isinstance(ev.get("success_rate"), (int, float)) else "")
            self.hof.insert("", "end", iid=e["genome_id"], text=e["genome_id"],
                            values=(e.get("name", ""), success, admitted))
        fit_columns(self.hof)

    def refresh_runs(self, select: str | None = None) -> None:
        """List the saved runs, the most recently written first, with their states; the entry keeps its
        choice (or ``select``), or shows the newest run (so F7 after a restart resumes where work stopped)."""
        labels = []
        for info in run_infos(self.app.registry):
            running = self.running and self.evo is not None and info.run_id == self.evo.run_id
            labels.append(f"{info.run_id}: {'running in this window' if running else info.state}")
        self.run_box.configure(values=labels)
        self._run_states = {x.split(":")[0]: x.split(": ", 1)[1] for x in labels}
        choice = select if select is not None else self.run_choice.get().split(":")[0]
        self._show_run_choice(choice if choice in self._run_states else (labels[0] if labels else ""))

    def _show_run_choice(self, choice: str) -> None:
        """Put the chosen run's id in the entry and its state (finished, stopped, unreadable) under it."""
        run_id = choice.split(":")[0]
        state = getattr(self, "_run_states", {}).get(run_id)
        self.run_choice.set(run_id if state is not None else "")
        self.run_state.configure(text=state or "")

    def show_saved_run(self, quiet: bool = False) -> None:
        """Show a saved run's history (charts and last population) without running it; ``quiet``
        (at start-up): a run that cannot be read is said in the status bar, not in a dialog."""
        self._show_run_choice(self.run_choice.get())
        if self.running or not self.run_choice.get():
            return
        run_id = self.run_choice.get()
        try:
            evo = Evolution.resume(self.app.registry, run_id)
        except (RegistryError, ValueError) as exc:
            if quiet:
                self.app.status_message.set(f"saved run {run_id} cannot be shown: {exc}")
            else:
                self.app.show_error("Saved run", str(exc))
            return
        self.evo, self.history, self.live = evo, list(evo.history), None
        self.step_cap = trial_budget(evo.task)
        self.run_label.configure(text=f"Run {run_id}: generation {evo.generation} of {evo.settings.generations} done")
        self.run_bar.configure(value=evo.generation / evo.settings.generations)
        self.redraw()
        self._show_population(self.history[-1] if self.history else None)

    def _registry_changed(self, registry) -> None:
        self._names.clear()
        self.refresh_hall_of_fame()
        if not self.running:
            self.refresh_runs()

    def _receive_ancestors(self, genome_ids: list[str]) -> None:
        self.settings_panel.add_ancestors(genome_ids)
        self.app.notebook.select(0)
        self.settings_panel.pages.select(2)

    def export_charts(self, folder: Path) -> list[Path]:
        stem = f"{self.evo.run_id}-evolution" if self.evo else "evolution"
        words = Words.of(self.evo.task) if self.evo is not None else Words()
        return export_dashboard(folder, stem, self.history, self.step_cap, words=words)

    # ---- settings kept between sessions (lab.gui.prefs) -----------------------------------------
    def load_prefs(self, prefs) -> None:
        self.settings_panel.restore(prefs.arenas_section("evolution", "task"), prefs.evolution_arena)

    def store_prefs(self, prefs) -> None:
        prefs.evolution_arena = self.settings_panel.arena.get()
        prefs.set_arenas_section(self.settings_panel.remember())

    def quit_note(self) -> str:
        """What closing now keeps of the running evolution (for the Quit question)."""
        if not self.running or self.evo is None:
            return ""
        if self.evo.generation == 0:
            return (f"Run {self.evo.run_id} has not finished a generation yet, so no generation is "
                    "checkpointed: Resume starts generation 1 again (its trials that have finished stay in "
                    "the registry and are not run again).")
        return (f"Run {self.evo.run_id}: generation {self.evo.generation} is checkpointed; Resume continues "
                "from there.")

    def close(self) -> None:
        if self.direct_window is not None:
            self.direct_window.close()
        self.charts.figure.clear()


def build(app, parent: ttk.Frame) -> EvolutionLabTab:
    return EvolutionLabTab(app, parent)
