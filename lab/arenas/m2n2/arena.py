"""The M2N2 arena object: one M2N2 run per (genome, seed), many runs advanced together.

A genome holds the engine's settings (genes.py); a trial runs the engine for the task's budget of
forward passes and records the reported model's test accuracy. A run "succeeds" (status ``ok``)
when that accuracy reaches the task's ``target_acc``; the passes it took are its ``steps_to_grok``
(checked every ``eval_interval`` passes), so the Evolution Lab and the Stress Chamber treat M2N2
runs as they treat grokking runs. A run that does not reach the target is ``capped``.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from lab.arenas.base import ArenaBase, Cancel, EventSink, TrialFinished, TrialProgress, TrialResult, device_label
from lab.arenas.m2n2.engine import M2N2Engine, M2N2Settings
from lab.arenas.m2n2.genes import M2N2_SPEC
from lab.arenas.m2n2.task import M2N2Task, load_task_data
from lab.direct import DirectOption, DirectPanel
from lab.genome import Genome
from lab.progress import WorkTally

# runs per engine: each run is a [archive, parameters] slab; enough to amortise per-pass overhead
MAX_RUNS = {"cpu": 16, "cuda": 512}
# the direct run's partner rule: its "uniform" ablation has no gene, so the form offers it in place of `attraction`
PARTNER = DirectOption("partner", "Partner", ("attraction", "fitness", "uniform"), replaces="attraction",
                       from_gene={1: "attraction", 0: "fitness"},
                       help="How partner B is drawn: attraction to parent A (the paper), fitness like A "
                            "(the no-matchmaker ablation), or uniformly over the archive.")


class M2N2Arena(ArenaBase):
    name = "m2n2"
    title = "M2N2: model merging of natural niches (MLP on digits)"
    devices = ("cpu", "cuda")   # what a Device field offers (lab.arenas.device_choices)
    gene_spec = M2N2_SPEC
    task_class = M2N2Task
    settings_class = M2N2Settings
    checkpoint_module = "lab.arenas.m2n2.checkpoint"   # direct runs saved and resumed exactly
    batch_caps = MAX_RUNS
    direct_panel = DirectPanel("lab.arenas.m2n2.charts:draw_m2n2_panel",
                               unit="passes", options=(PARTNER,),   # the budget counts forward passes
                               fixed=M2N2Engine.FIXED_SETTINGS, hidden_map=True)

    def tiny_task(self) -> M2N2Task:
        return M2N2Task(hidden=32, passes=200, eval_interval=100, target_acc=0.2)

    def engine(self, task: M2N2Task, genome: Genome | M2N2Settings, seed: int, *, device: str = "auto"
               ) -> M2N2Engine:
        """A single watchable run (the direct run view and ``python main.py m2n2``), keeping its
        per-pass fitness log."""
        settings = genome if isinstance(genome, M2N2Settings) else M2N2Settings.from_genes(genome.genes)
        return M2N2Engine(task, [settings], [seed], device=self.resolve_device(device), fitness_log=True)

    def prepare(self, task: M2N2Task, device: str):
        return load_task_data(task, device)

    def run_batch(self, pairs: Sequence[tuple[Genome, int]], task: M2N2Task, *, device: str, data,
                  on_event: EventSink, cancel: Cancel | None, tally: WorkTally, race=None) -> list[TrialResult]:
        """The runs of ``pairs`` advanced together in one engine."""
        chunk = list(pairs)
        t0 = time.perf_counter()
        engine = M2N2Engine(task, [M2N2Settings.from_genes(g.genes) for g, _ in chunk], [s for _, s in chunk],
                            device=device, data=data)
        while not engine.done:
            if cancel is not None and cancel.is_set():
                return [TrialResult(g.id, task.task_id, s, "cancelled", arena=self.name) for g, s in chunk]
            tally.advance(engine.step(task.eval_interval) * len(chunk))  # every run of the chunk passes at once
            if engine.done:
                for _ in chunk:
                    tally.finish(engine.passes)
            if on_event is not None and tally.due(force=engine.done):
                reached = sum(p is not None for p in engine.passes_to_target)
                on_event(TrialProgress(self.name, engine.passes, task.passes, len(chunk), grokked=reached,
                                       message=f"{len(chunk)} M2N2 runs, best test accuracy "
                                       f"{float(engine.test_acc.max()):.3f}", **tally.fields()))
        wall = (time.perf_counter() - t0) / len(chunk)
        label = device_label(device)
        train = engine.train_acc().max(1).values
        results = []
        for r, (g, seed) in enumerate(chunk):
            curve = engine.curve[r]
            finite = bool(torch.isfinite(engine.archive[r]).all())
            reached = engine.passes_to_target[r]
            status = "diverged" if not finite else ("ok" if reached is not None else "capped")
            metrics = {"steps_to_grok": reached, "test_acc": float(engine.test_acc[r]),
                       "train_acc": float(train[r]), "best_test_acc": max(curve["val_acc"]),
                       "passes": engine.passes, "children_kept": int(engine.replaced[r])}
            result = TrialResult(g.id, task.task_id, seed, status, metrics, curve, wall, label, self.name)
            results.append(result)
            if on_event is not None:
                on_event(TrialFinished(result))
        return results


ARENA = M2N2Arena()
