"""The GENREG arena object: one GENREG run per (genome, seed).

A genome holds the engine's settings (genes.py); a trial evolves a population for the task's
budget of generations and records the test accuracy of the last generation's best genome (by
trust). A run "succeeds" (status ``ok``) when that accuracy reaches the task's ``target_acc``; the
generations it took are its ``steps_to_grok`` (checked every ``eval_interval`` generations), so the
Evolution Lab and the Stress Chamber read GENREG runs as they read grokking runs. A batch of trials
trains as stacks of runs (stack.py): runs of one shape (population, hidden, images per class) share
one matrix product per layer, and a run's result is the same as alone.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

from lab.arenas.base import ArenaBase, Cancel, EventSink, TrialFinished, TrialProgress, TrialResult, device_label
from lab.arenas.genreg.engine import GenregEngine, GenregSettings
from lab.arenas.genreg.stack import GenregStack, shape_key
from lab.arenas.genreg.genes import GENREG_SPEC
from lab.arenas.genreg.task import GenregTask, load_genreg_data
from lab.direct import DirectPanel
from lab.genome import Genome
from lab.progress import WorkTally

# runs per batch: the CPU is busy with one MNIST run's products already, so a few runs there only
# save the per-generation overhead (8 stacked MNIST-sized runs took 1.0-1.35x less time than one
# after another, bench/genreg_mnist.py --runs 8); on a GPU an Evolution Lab generation (64 genomes x
# 8 seeds) is one batch, whose runs of one shape train as stacks that STACK_BYTES bounds (the
# suite's target: 32 MNIST runs in at most twice one run's time)
MAX_RUNS = {"cpu": 8, "cuda": 512}
# a stack's weights, both generations' copies and the buffers, per device: about 4x the weights of
# a population (an MNIST population of 200 x 64 hidden is 40 MB), so larger ones stack fewer runs
STACK_BYTES = {"cpu": 2 << 30, "cuda": 24 << 30}


def stacks(settings: Sequence[GenregSettings], n_inputs: int, n_classes: int, device: str) -> list[list[int]]:
    """The runs (indices into ``settings``) of each stack: runs of one shape (stack.shape_key), in
    their order, as many per stack as STACK_BYTES holds (at least one)."""
    budget = STACK_BYTES["cuda" if device.startswith("cuda") else "cpu"]
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i, s in enumerate(settings):
        groups.setdefault(shape_key(s), []).append(i)
    out = []
    for (population, hidden, _), runs in groups.items():
        run_bytes = 4 * 4 * population * hidden * (n_inputs + 1 + n_classes)
        per = max(1, budget // run_bytes)
        out += [runs[i:i + per] for i in range(0, len(runs), per)]
    return out


class GenregArena(ArenaBase):
    name = "genreg"
    title = "GENREG: trust-based gradient-free evolution of MLP weights"
    devices = ("cpu", "cuda")   # what a Device field offers (lab.arenas.device_choices)
    gene_spec = GENREG_SPEC
    task_class = GenregTask
    settings_class = GenregSettings
    checkpoint_module = "lab.arenas.genreg.checkpoint"   # direct runs saved and resumed exactly
    batch_caps = MAX_RUNS
    direct_panel = DirectPanel("lab.arenas.genreg.charts:draw_genreg_panel", unit="generations",
                               fixed=GenregEngine.FIXED_SETTINGS, hidden_map=True)

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
        """The runs of ``pairs`` trained as stacks (:func:`stacks`), one stack after another."""
        pairs = list(pairs)
        settings = [GenregSettings.from_genes(g.genes) for g, _ in pairs]
        results: list[TrialResult | None] = [None] * len(pairs)
        for members in stacks(settings, data.n_inputs, data.n_classes, device):
            chunk = [pairs[i] for i in members]
            for i, result in zip(members, self._run_stack(chunk, [settings[i] for i in members], task, device, data,
                                                          on_event, cancel, tally)):
                results[i] = result
        return results

    def _run_stack(self, chunk: list[tuple[Genome, int]], settings: list[GenregSettings], task: GenregTask,
                   device: str, data, on_event, cancel, tally: WorkTally) -> list[TrialResult]:
        t0 = time.perf_counter()
        stack = GenregStack(task, settings, [s for _, s in chunk], device=device, data=data)
        while not stack.done:
            if cancel is not None and cancel.is_set():
                return [TrialResult(g.id, task.task_id, s, "cancelled", arena=self.name) for g, s in chunk]
            tally.advance(stack.step(task.eval_interval) * len(chunk))   # every run of the stack at once
            if stack.done:
                for _ in chunk:
                    tally.finish(stack.generation)
            if on_event is not None and tally.due(force=stack.done):
                reached = sum(run.generations_to_target is not None for run in stack.runs)
                best = max(run.test_acc for run in stack.runs)
                on_event(TrialProgress(self.name, stack.generation, task.generations, len(chunk), grokked=reached,
                                       message=f"{len(chunk)} GENREG runs, generation {stack.generation}, "
                                               f"best test accuracy {best:.3f}", **tally.fields()))
        wall = (time.perf_counter() - t0) / len(chunk)
        label = device_label(device)
        results = []
        for r, ((genome, seed), run) in enumerate(zip(chunk, stack.runs)):
            reached = run.generations_to_target
            status = "diverged" if not stack.finite(r) else ("ok" if reached is not None else "capped")
            metrics = {"steps_to_grok": reached, "test_acc": run.test_acc,
                       "train_acc": float(run.last.get("best_train_acc", 0.0)),
                       "best_test_acc": max(run.curve["val_acc"], default=0.0),
                       "generations": stack.generation, "best_trust": float(run.last["trust"].max())}
            result = TrialResult(genome.id, task.task_id, seed, status, metrics, dict(run.curve), wall, label,
                                 self.name)
            results.append(result)
            if on_event is not None:
                on_event(TrialFinished(result))
        return results


ARENA = GenregArena()
