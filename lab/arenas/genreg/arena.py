"""The GENREG arena object: one GENREG run per (genome, seed).

A genome holds the engine's settings (genes.py); a trial evolves a population for the task's
budget of generations and records the test accuracy of the last generation's best genome (by
trust). A run "succeeds" (status ``ok``) when that accuracy reaches the task's ``target_acc``; the
generations it took are its ``steps_to_grok`` (checked every ``eval_interval`` generations), so the
Evolution Lab and the Stress Chamber read GENREG runs as they read grokking runs. A run is already
one batch (all its genomes in one matrix product), so trials run one after another.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence

from lab.arenas.base import ArenaBase, Cancel, EventSink, TrialFinished, TrialProgress, TrialResult, device_label
from lab.arenas.genreg.engine import GenregEngine, GenregSettings
from lab.arenas.genreg.genes import GENREG_SPEC
from lab.arenas.genreg.task import GenregTask, load_genreg_data
from lab.direct import DirectPanel
from lab.genome import Genome
from lab.progress import WorkTally


class GenregArena(ArenaBase):
    name = "genreg"
    title = "GENREG: trust-based gradient-free evolution of MLP weights"
    devices = ("cpu", "cuda")   # what a Device field offers (lab.arenas.device_choices)
    gene_spec = GENREG_SPEC
    task_class = GenregTask
    settings_class = GenregSettings
    checkpoint_module = "lab.arenas.genreg.checkpoint"   # direct runs saved and resumed exactly
    direct_panel = DirectPanel("lab.arenas.genreg.charts:draw_genreg_panel", unit="generations")

    def tiny_task(self) -> GenregTask:
        return GenregTask(generations=4, eval_interval=2)

    def engine(self, task: GenregTask, genome: Genome | GenregSettings, seed: int, *, device: str = "auto"
               ) -> GenregEngine:
        """A single watchable run (the direct run view and ``python main.py genreg``)."""
        settings = genome if isinstance(genome, GenregSettings) else GenregSettings.from_genes(genome.genes)
        return GenregEngine(task, settings, seed, device=self.resolve_device(device))

    def prepare(self, task: GenregTask, device: str):
        return load_genreg_data(task, device)

    def run_batch(self, pairs: Sequence[tuple[Genome, int]], task: GenregTask, *, device: str, data,
                  on_event: EventSink, cancel: Cancel | None, tally: WorkTally, race=None) -> list[TrialResult]:
        """Runs one after another (a run is already one batch: all its genomes in one matrix product)."""
        return [self._run_one(genome, seed, task, device, data, on_event, cancel, tally) for genome, seed in pairs]

    def _run_one(self, genome: Genome, seed: int, task: GenregTask, device: str, data, on_event, cancel,
                 tally: WorkTally) -> TrialResult:
        done, total = tally.finished, tally.trials
        t0 = time.perf_counter()
        engine = GenregEngine(task, GenregSettings.from_genes(genome.genes), seed, device=device, data=data)
        while not engine.done:
            if cancel is not None and cancel.is_set():
                return TrialResult(genome.id, task.task_id, seed, "cancelled", arena=self.name)
            tally.advance(engine.step(task.eval_interval))
            if engine.done:
                tally.finish(engine.generation)
            if on_event is not None and tally.due(force=engine.done and done + 1 == total):
                on_event(TrialProgress(self.name, engine.generation, task.generations, 1,
                                       grokked=int(engine.generations_to_target is not None),
                                       message=f"GENREG run {done + 1} of {total}, generation {engine.generation}, "
                                               f"test accuracy {engine.test_acc:.3f}", **tally.fields()))
        finite = all(math.isfinite(float(v.abs().max())) for v in engine.params.values())
        reached = engine.generations_to_target
        status = "diverged" if not finite else ("ok" if reached is not None else "capped")
        last = engine.last
        metrics = {"steps_to_grok": reached, "test_acc": engine.test_acc,
                   "train_acc": float(last.get("best_train_acc", 0.0)),
                   "best_test_acc": max(engine.curve["val_acc"], default=0.0),
                   "generations": engine.generation, "best_trust": float(last["trust"].max())}
        result = TrialResult(genome.id, task.task_id, seed, status, metrics, dict(engine.curve),
                             time.perf_counter() - t0, device_label(device), self.name)
        if on_event is not None:
            on_event(TrialFinished(result))
        return result


ARENA = GenregArena()
