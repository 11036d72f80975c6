"""The Evolution Lab tab: configure a run (settings panel), start, pause, stop or resume it as a
background job, and watch it live: four charts, the population table, the diversity grid, the
selected genome's genes and the Hall of Fame. Everything the run produces is written to the
registry by the engine, so the other tabs see it; this tab only shows it.
"""
from __future__ import annotations

import threading
from pathlib import Path
from tkinter import ttk
from typing import Any

from lab.analysis.run_charts import Words, draw_dashboard, export_dashboard
from lab.arenas import get_arena
from lab.arenas.base import TrialFinished, TrialProgress
from lab.evolution.landscapes import SUCCESS
from lab.evolution.population import Evolution, GenerationStarted, GenerationSummary, RunInterrupted
from lab.evolution.run_files import run_infos
from lab.gui.commands import Command
from lab.gui.direct_run import DirectRunWindow, has_direct_run, open_direct_run
from lab.gui.evolution_layout import EvolutionLayout
from lab.gui.evolution_population import PopulationViews, racing_note
from lab.gui.widgets.chart_panel import ChartPanel
from lab.gui.widgets.form import FormError
from lab.jobs import Job, JobEnded
from lab.progress import ProgressReader, trial_budget
from lab.registry import RegistryError

LIVE_REDRAW_S = 1.0   # at most one chart redraw per second while trials finish


def run_evolution(job: Job, evo: Evolution, pause: threading.Event) -> tuple[str, int]:
    """The job: run generations until the last, a pause (between generations) or a cancel (inside
    one; the previous generation stays checkpointed). Returns (how it ended, generation reached)."""
    try:
        evo.run(on_event=job.emit, cancel=job.cancel_token, pause=pause)
    except RunInterrupted:
        return "stopped", evo.generation
    return ("finished" if evo.done else "paused"), evo.generation


# this tab's part of the command table (lab.gui.commands), bound in its build
COMMANDS = [
    Command("start_run", "Run", "Start evolution", "F5"),
    Command("pause_run", "Run", "Pause after this generation", "F6"),
    Command("stop_run", "Run", "Stop now (keeps the last checkpoint)", "Shift+F5"),
    Command("resume_run", "Run", "Resume the chosen saved run", "F7"),
    Command("direct_run", "Run", "Direct run of the arena...", "Ctrl+D"),
]


def _new_evolution(job, settings, registry, backend) -> Evolution | str:
    """A new run (its generation 1 chosen, the proposals' model fitted where it asks for one), or the
    message that says why not."""
    try:
        return Evolution(settings, registry, backend=backend)
    except (RegistryError, ValueError) as exc:
        return str(exc)


class EvolutionLabTab(EvolutionLayout, PopulationViews):
    """The tab; its panels are built in lab.gui.evolution_layout, the population table and Hall of Fame
    are shown by lab.gui.evolution_population."""

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

        app.add_commands(COMMANDS, {"start_run": self.start, "pause_run": self.pause, "stop_run": self.stop,
                                    "resume_run": self.resume, "direct_run": self.open_direct_run})
        app.hub.subscribe("registry_changed", self._registry_changed)
        app.hub.subscribe("send_to_evolution_lab", self._receive_ancestors)
        self._set_running(False)
        self.refresh_runs()
        self.refresh_hall_of_fame()
        self.show_saved_run(quiet=True)   # after a restart: where the newest run stands, ready for F7
        self.redraw()

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
        if any(s.startswith("proposed:") for s in settings.seed_from):   # a model fit: seconds, so a job
            self.app.status_message.set("proposing generation 1's genomes from the registry's trials...")
            self.app.submit(_new_evolution, settings, self.app.registry, self.app.backend, quick=True,
                            title="Proposals for generation 1", on_event=self._on_created)
            return True
        evo = _new_evolution(None, settings, self.app.registry, self.app.backend)
        if isinstance(evo, str):
            self.app.show_error("Evolution", evo)
            return False
        self._launch(evo)
        return True

    def _on_created(self, event) -> None:
        if not isinstance(event, JobEnded) or event.state != "done":
            return
        if isinstance(event.result, str):
            self.app.show_error("Evolution", event.result)
        elif self.running:   # another run started meanwhile: this one's folder stays, resumable
            self.app.status_message.set(f"run {event.result.run_id} was created; resume it when this run ends")
        else:
            self._launch(event.result)

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
        self.app.show_tab("Evolution Lab")
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
