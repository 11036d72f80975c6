"""The Stress Chamber tab: peer review of genomes. Choose genomes, run each on N seeds of a task as a
background job (Smart Fill runs only the trials the registry lacks), then read the seven analysis
charts grouped by genome, tag or the user's own groups, and export them for papers.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from tkinter import ttk
from typing import Any

from lab.analysis.charts import CHARTS, ChartData, draw_chart, export_chart
from lab.analysis.export import written_message
from lab.analysis.phylogeny import default_level_of_labels
from lab.analysis.stress import SPECIES, StressPlan, group_genomes, run_stress
from lab.arenas import arena_names, get_arena
from lab.arenas.base import TaskConfig, TrialFinished, TrialProgress, TrialResult, resolve_device
from lab.genome import Genome
from lab.gui.stress_genomes import GenomeChoice
from lab.gui.stress_layout import (ARENA, LIVE_REDRAW_S, NO_GENOMES, REDRAW_DELAY_MS, TITLE, USER_GROUPS,
                                   StressLayout, _say, run_fields)
from lab.gui.stress_planning import StressPlanning
from lab.gui.widgets.form import FormError
from lab.jobs import Job, JobEnded
from lab.progress import ProgressReader
from lab.registry import RegistryError
from lab.tasks import describe, task_choices


def stress_job(job: Job, registry: Any, arena: Any, plan: StressPlan, device: str,
               backend: Any = None) -> list[TrialResult]:
    """The job: Smart Fill of ``plan`` (finished trials are recorded as they finish, so a cancel keeps them)."""
    return run_stress(registry, arena, plan, device=device, on_event=job.emit, cancel=job.cancel_token,
                      backend=backend)


__all__ = ["NO_GENOMES", "StressChamberTab", "build", "run_fields", "stress_job"]   # run_fields: lab.gui.prefs


class StressChamberTab(StressLayout, StressPlanning):
    """The tab; its panels are built in lab.gui.stress_layout, its task, plan and remembered settings
    are kept by lab.gui.stress_planning."""

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
        try:
            labels = self.app.registry.species_labels(self.arena.gene_spec.name)
        except RegistryError as exc:   # a damaged species file: said where the species grouping is read
            self.app.status_message.set(" ".join(str(exc).split()))
            labels = {}
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
