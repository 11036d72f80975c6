"""The NEAT arena object: one NEAT run per (genome, seed).

A genome holds the engine's settings (genes.py); a trial evolves a population for the task's
budget of generations. A run "succeeds" (status ``ok``) when a network reaches the task's
``target_acc`` (XOR: all four cases right); the generations that took are its ``steps_to_grok``
and the networks evaluated by then its ``evaluations``, so the Evolution Lab and the Stress
Chamber read NEAT runs as they read grokking runs. A run already evaluates its whole population
as one joined graph (and in parallel chunks as the NEAT_* environment says), so trials run one
after another.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence

from lab.arenas.base import ArenaBase, Cancel, EventSink, TrialFinished, TrialProgress, TrialResult
from lab.arenas.neat.engine import NeatEngine, NeatSettings
from lab.arenas.neat.genes import NEAT_SPEC
from lab.arenas.neat.parallel import Cancelled, ParallelConfig
from lab.arenas.neat.task import NeatTask
from lab.arenas.neat.tasks import load_task_data
from lab.direct import DirectPanel
from lab.genome import Genome
from lab.progress import WorkTally


class NeatArena(ArenaBase):
    name = "neat"
    title = "NEAT: evolving network topologies and weights"
    devices = ("cpu",)   # what a Device field offers (lab.arenas.device_choices)
    gene_spec = NEAT_SPEC
    task_class = NeatTask
    settings_class = NeatSettings
    checkpoint_module = "lab.arenas.neat.checkpoint"   # direct runs saved and resumed exactly
    direct_panel = DirectPanel("lab.arenas.neat.charts:draw_neat_panel",
                               unit="generations", fixed=NeatEngine.FIXED_SETTINGS, hidden_map=True)

    def tiny_task(self) -> NeatTask:
        return NeatTask(task="xor", generations=3)

    def engine(self, task: NeatTask, genome: Genome | NeatSettings, seed: int, *, device: str = "auto",
               parallel: ParallelConfig | None = None) -> NeatEngine:
        """A single watchable run (the direct run view and ``python main.py neat``); close it when done."""
        self.resolve_device(device)   # NEAT networks are small graphs evaluated on the CPU
        settings = genome if isinstance(genome, NeatSettings) else NeatSettings.from_genes(genome.genes)
        return NeatEngine(task, settings, seed, parallel=parallel)

    def prepare(self, task: NeatTask, device: str):
        return load_task_data(task.task)

    def run_batch(self, pairs: Sequence[tuple[Genome, int]], task: NeatTask, *, device: str, data,
                  on_event: EventSink, cancel: Cancel | None, tally: WorkTally, race=None) -> list[TrialResult]:
        """Runs one after another (a run already evaluates its whole population as one joined graph)."""
        return [self._run_one(genome, seed, task, data, on_event, cancel, tally) for genome, seed in pairs]

    def _run_one(self, genome: Genome, seed: int, task: NeatTask, data, on_event, cancel,
                 tally: WorkTally) -> TrialResult:
        done, total = tally.finished, tally.trials
        t0 = time.perf_counter()
        cancelled = TrialResult(genome.id, task.task_id, seed, "cancelled", arena=self.name)
        with NeatEngine(task, NeatSettings.from_genes(genome.genes), seed, data=data) as engine:
            while not engine.done:
                if cancel is not None and cancel.is_set():
                    return cancelled
                before = engine.generation
                try:
                    engine.step(1, cancel)
                except Cancelled:
                    return cancelled
                tally.advance(engine.generation - before)
                if engine.done:   # a run solved early (stop_at_target) takes its unspent generations out
                    tally.finish(engine.generation)
                if on_event is not None and tally.due(force=engine.done and done + 1 == total):
                    on_event(TrialProgress(self.name, engine.generation, task.generations, 1,
                                           grokked=int(engine.solved_at is not None),
                                           message=f"NEAT run {done + 1} of {total}, generation {engine.generation}, "
                                                   f"{len(engine.species)} species, accuracy "
                                                   f"{engine.champion_score.accuracy:.3f}", **tally.fields()))
            best = engine.champion
            finite = math.isfinite(engine.curve["best"][-1]) if engine.curve["best"] else False
            status = "diverged" if not finite else ("ok" if engine.solved_at is not None else "capped")
            solver = engine.solver or best
            metrics = {"steps_to_grok": engine.solved_at, "evaluations": engine.evaluations,
                       "best_fitness": engine.curve["best"][-1], "val_acc": engine.champion_score.accuracy,
                       "test_acc": engine.test_accuracy(solver), "hidden": solver.n_hidden,
                       "connections": solver.n_enabled, "species": len(engine.species),
                       "generations": engine.generation}
            curve = {k: engine.curve[k] for k in ("step", "best", "mean", "val_acc")}
        result = TrialResult(genome.id, task.task_id, seed, status, metrics, curve, time.perf_counter() - t0,
                             "cpu", self.name)
        if on_event is not None:
            on_event(TrialFinished(result))
        return result


ARENA = NeatArena()
