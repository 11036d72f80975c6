"""The toy arena object: the arena protocol over the hill climber (one climb per (genome, seed))."""
from __future__ import annotations

import time
from collections.abc import Sequence

from lab.arenas.base import ArenaBase, TrialFinished, TrialProgress, TrialResult
from lab.direct import DirectPanel
from lab.genome import Genome
from tests.toy_arena.engine import ClimbEngine, ClimbSettings
from tests.toy_arena.genes import TOY_SPEC
from tests.toy_arena.task import ClimbTask


class ClimbArena(ArenaBase):
    name = "toy"
    title = "Toy: a hill climber"
    devices = ("cpu",)
    gene_spec = TOY_SPEC
    task_class = ClimbTask
    batch_caps = {"cpu": 4, "cuda": 4}
    settings_class = ClimbSettings
    checkpoint_module = "tests.toy_arena.engine"
    direct_panel = DirectPanel("tests.toy_arena.charts:draw_toy_panel", unit="generations")

    def tiny_task(self) -> ClimbTask:
        return ClimbTask(generations=6)

    def engine(self, task: ClimbTask, genome: Genome | ClimbSettings, seed: int, *, device: str = "auto"
               ) -> ClimbEngine:
        self.resolve_device(device)
        settings = genome if isinstance(genome, ClimbSettings) else ClimbSettings.from_genes(genome.genes)
        return ClimbEngine(task, settings, seed)

    def run_batch(self, pairs: Sequence[tuple[Genome, int]], task: ClimbTask, *, device, data, on_event, cancel,
                  tally, race=None) -> list[TrialResult]:
        out = []
        for genome, seed in pairs:
            if cancel is not None and cancel.is_set():
                out.append(TrialResult(genome.id, task.task_id, seed, "cancelled", arena=self.name))
                continue
            t0 = time.perf_counter()
            engine = self.engine(task, genome, seed)
            while not engine.done:
                tally.advance(engine.step(1))
            tally.finish(engine.generation)
            status = "ok" if engine.reached is not None else "capped"
            result = TrialResult(genome.id, task.task_id, seed, status,
                                 {"steps_to_grok": engine.reached, "generations": engine.generation,
                                  "best_fitness": engine.curve["best"][-1]},
                                 {k: list(v) for k, v in engine.curve.items()}, time.perf_counter() - t0, "cpu",
                                 self.name)
            out.append(result)
            on_event(TrialProgress(self.name, engine.generation, task.generations, 0, **tally.fields()))
            on_event(TrialFinished(result))
        return out


ARENA = ClimbArena()
