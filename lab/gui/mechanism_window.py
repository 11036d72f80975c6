"""The Mechanism window (Run > Mechanism of the selected genome..., Ctrl+Shift+M): inside a grokking
trial of the genome last selected in any tab. Run re-runs the trial (genome, default task, seed)
with its weights every N steps, as a job whose snapshots redraw the four charts live (Fourier
components and key frequencies, the neurons' frequencies, attention from "=", the progress
measures with the phases); snapshots already in the registry are read instead. Export writes the
charts for a paper and the CSV behind each (lab.analysis.mechanism_charts).
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from tkinter import ttk
from typing import Any

from lab.analysis.mechanism_charts import (CHARTS, draw_attention, draw_fourier, draw_neurons, draw_progress,
                                           final_measures, tables)
from lab.gui.widgets.chart_panel import ChartPanel
from lab.gui.widgets.form import Field, Form, FormError
from lab.gui.widgets.window import tool_window
from lab.jobs import JobEnded
from lab.registry import RegistryError

REDRAW_S = 0.5
FIELDS = [Field("seed", "Seed", "int", 0, 0, 2**31 - 1, help="The trial's seed: the same genome, task and seed "
                                                           "is the same trial."),
          Field("every", "Snapshot every (steps)", "int", 50, 1, 100_000,
                help="Steps between the weights kept for the progress measures.")]
PREFS_SECTION = "mechanism"
TITLES = {"fourier": "Fourier", "neurons": "Neurons", "attention": "Attention", "progress": "Progress"}


@dataclasses.dataclass(frozen=True)
class MechanismUpdate:
    """A job's event: the measures so far (``final`` of the latest snapshot, ``measures`` over all)."""

    step: int
    final: dict[str, Any]
    measures: dict[str, Any]
    marks: dict[str, Any]
    done: bool = False


def mechanism_job(job: Any, registry_root: Any, genome: Any, task: Any, seed: int, every: int) -> str:
    """Re-run (or read) the trial's snapshots, emitting a MechanismUpdate per snapshot; returns a summary."""
    from lab.arenas.grokking import snapshots
    from lab.arenas.grokking.mechanism import phases, progress_measures

    scale = float(genome.genes["layer_scale"])
    folder = snapshots.snapshot_folder(registry_root, genome.id, task.task_id, seed)
    steps: list[int] = []
    weights: list[dict] = []

    def update(step: int, w: dict, done: bool = False) -> None:
        steps.append(step)
        weights.append(w)
        final = final_measures(w, task, scale)
        measures = progress_measures(steps, weights, task, scale, keys=final["keys"])
        job.emit(MechanismUpdate(step, final, measures, phases(measures), done))
        job.report(min(1.0, step / task.step_cap), f"step {step:,} of at most {task.step_cap:,}")

    saved = None
    if (folder / "state.json").exists():
        try:
            saved = snapshots.load(folder)
        except ValueError:
            saved = None
    if saved is not None and saved.every == every:
        for i, (step, w) in enumerate(zip(saved.steps, saved.weights)):
            if job.cancel_token.is_set():
                return "stopped"
            update(step, w, done=i == len(saved.steps) - 1)
        return f"Read {len(saved.steps)} snapshots kept in the registry."
    result, snaps = snapshots.record(genome, task, seed, every, device="cpu",
                                     on_snapshot=lambda step, w: update(step, w), cancel=job.cancel_token)
    if result.status == "cancelled":
        return "stopped"
    snapshots.save(snaps, folder, dict(genome.genes))
    if steps:
        update(steps.pop(), weights.pop(), done=True)
    return (f"{result.status.capitalize()} at step {result.metrics['steps']:,}; {len(snaps.steps)} snapshots kept "
            "in the registry.")


def _draws(u: MechanismUpdate) -> dict[str, Any]:
    return {"fourier": lambda fig: draw_fourier(fig, u.final), "neurons": lambda fig: draw_neurons(fig, u.final),
            "attention": lambda fig: draw_attention(fig, u.final),
            "progress": lambda fig: draw_progress(fig, u.measures, u.marks)}


class MechanismWindow:
    def __init__(self, app: Any, genome: Any):
        self.app, self.genome = app, genome
        from lab.arenas import get_arena
        self.task = get_arena("grokking").default_task()
        self.job = None
        self.latest: MechanismUpdate | None = None
        self.closed = False
        self._last_draw = 0.0
        self._due: str | None = None
        self.top = tool_window(app.root, f"Mechanism: {genome.label}", (980, 720), (40, 30), self.close)
        self.top.bind("<Control-Return>", lambda _e: (self.run(), "break")[1])
        bar = ttk.Frame(self.top, padding=(6, 4))
        bar.pack(fill="x")
        ttk.Label(bar, text=f"{genome.label} on a + b mod {self.task.modulus} (the default task)",
                  style="Heading.TLabel").pack(side="left")
        ttk.Button(bar, text="Close", command=self.close).pack(side="right")
        self.export_button = ttk.Button(bar, text="Export...", command=self.export)
        self.export_button.pack(side="right", padx=2)
        self.stop_button = ttk.Button(bar, text="Stop", command=self.stop, state="disabled")
        self.stop_button.pack(side="right", padx=2)
        self.run_button = ttk.Button(bar, text="Run", command=self.run)
        self.run_button.pack(side="right", padx=2)
        self.form = Form(self.top, FIELDS)
        self.form.set_values(app.prefs.section("grokking", PREFS_SECTION))   # the last run's seed and interval
        self.form.pack(anchor="w", padx=6)
        self.progress = ttk.Progressbar(self.top, maximum=1.0)
        self.progress.pack(fill="x", padx=6, pady=(4, 0))
        self.status = ttk.Label(self.top, text="Run (Ctrl+Return) re-runs the trial with snapshots, or reads "
                                "those kept in the registry.", padding=(6, 2), wraplength=1100, justify="left")
        self.status.pack(fill="x")
        self.notebook = ttk.Notebook(self.top)
        self.notebook.pack(fill="both", expand=True, padx=4, pady=4)
        self.charts: dict[str, ChartPanel] = {}
        for name in CHARTS:
            panel = ChartPanel(self.notebook, figsize=(9.0, 5.4), dpi=90)
            self.notebook.add(panel, text=TITLES[name])
            self.charts[name] = panel

    # ---- the run ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None and self.job.active

    def run(self) -> bool:
        if self.running:
            return False
        try:
            values = self.form.values()
        except FormError as exc:
            self.app.show_error("Mechanism", "Nothing was started:\n" + "\n".join(exc.problems))
            return False
        self.latest = None
        self.app.prefs.set_section("grokking", PREFS_SECTION, values)   # kept with the settings (the job saves them)
        self.job = self.app.submit(mechanism_job, self.app.registry.root, self.genome, self.task, values["seed"],
                                   values["every"], title=f"Mechanism of {self.genome.label} (seed {values['seed']})",
                                   on_event=self._on_event)
        self._buttons()
        self.status.configure(text="Training, snapshot by snapshot...")
        return True

    def stop(self) -> None:
        if self.running:
            self.job.cancel()

    def _buttons(self) -> None:
        self.run_button.configure(state="disabled" if self.running else "normal")
        self.stop_button.configure(state="normal" if self.running else "disabled")

    def _on_event(self, event: Any) -> None:
        if self.closed:
            return
        if isinstance(event, MechanismUpdate):
            self.latest = event
            self.progress.configure(value=1.0 if event.done else min(1.0, event.step / self.task.step_cap))
            if event.done or time.monotonic() - self._last_draw >= REDRAW_S:
                self.draw()
            elif self._due is None:
                self._due = self.top.after(int(REDRAW_S * 1000), self.draw)
        elif isinstance(event, JobEnded):
            self._buttons()
            words = {"done": str(event.result), "cancelled": "Stopped.", "failed": "Failed (see the log)."}
            self.status.configure(text=f"{words.get(event.state, event.state)} {self._summary()}")
            self.draw()

    def _summary(self) -> str:
        if self.latest is None:
            return ""
        u = self.latest
        keys = (", ".join(map(str, u.final["keys"])) or "none") + (
            " (read from the neurons)" if u.final.get("keys_from") == "neurons" else "")
        marks = "; ".join(f"{k} at {v}" for k, v in u.marks.items() if v is not None) or "no phase boundary yet"
        return f"Step {u.step:,}: key frequencies {keys}; {marks}."

    def draw(self) -> None:
        if self._due is not None:
            self.top.after_cancel(self._due)
            self._due = None
        self._last_draw = time.monotonic()
        u = self.latest
        if u is None:
            return
        draws = _draws(u)
        for name, panel in self.charts.items():
            panel.redraw(draws[name])
        if self.running:
            self.status.configure(text=self._summary())

    def export(self) -> list[Path]:
        u = self.latest
        if u is None:
            self.app.show_error("Mechanism", "Run first: there is nothing to export yet.")
            return []
        folder = self.app.ask_export_folder("Export the Mechanism charts to folder")
        if not folder:
            return []
        from lab.analysis.export import export_figure
        from lab.files import atomic_write_text
        stem = f"mechanism-{self.genome.id[:8]}-seed{self.form.vars['seed'].get()}"
        draws = _draws(u)
        paths: list[Path] = []
        for name, text in tables(u.final, u.measures).items():
            paths += export_figure(draws[name], folder, f"{stem}-{name}", figsize=(7.0, 4.6))
            paths.append(atomic_write_text(Path(folder) / f"{stem}-{name}.csv", text))
        self.status.configure(text=f"Wrote {len(paths)} file(s) to {folder}")
        return paths

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.stop()
        if self._due is not None:
            self.top.after_cancel(self._due)
        for panel in self.charts.values():
            panel.figure.clear()
        self.top.destroy()


def open_mechanism(app: Any) -> MechanismWindow | None:
    """Open the Mechanism window for the genome last selected in any tab (a grokking genome)."""
    genome_id = getattr(app, "selected_genome", None)
    genome = None
    if genome_id:
        try:
            genome = app.registry.get_genome(genome_id)
        except (RegistryError, KeyError, ValueError):   # gone from the registry: said below
            genome = None
    if genome is None or genome.spec.name != "grokking":
        app.show_error("Mechanism", "Select a grokking genome first (in the Evolution Lab, the Stress Chamber, the "
                                    "Gene Forge or the Phylogeny tab): the Mechanism looks inside its trained model.")
        return None
    return MechanismWindow(app, genome)
