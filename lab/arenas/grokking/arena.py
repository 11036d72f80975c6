"""The grokking arena object: batches of (genome, seed) trials trained as one population each."""
from __future__ import annotations

from collections.abc import Sequence

from lab.arenas.base import ArenaBase, Cancel, EventSink, TrialResult
from lab.arenas.grokking.genes import GROKKING_SPEC
from lab.arenas.grokking.task import Dataset, GrokTask, make_dataset
from lab.arenas.grokking.trainer import train_population
from lab.arenas.racing import Race
from lab.genome import Genome
from lab.progress import WorkTally

# members per population: enough to amortise per-step overhead, bounded for memory
MAX_MEMBERS = {"cpu": 512, "cuda": 2048}
# how a training step runs (lab.arenas.grokking.trainer STEP_MODES): CUDA graphs stay off until
# bench/gpu_suite.py has measured them on a device (the results are the same either way)
STEP_MODE = {"cpu": "eager", "cuda": "eager"}


class GrokkingArena(ArenaBase):
    name = "grokking"
    title = "Grokking: MicroTransformer on a \u2218 b mod p"
    devices = ("cpu", "cuda")   # what a Device field offers (lab.arenas.device_choices)
    gene_spec = GROKKING_SPEC
    task_class = GrokTask
    batch_caps = MAX_MEMBERS
    supports_racing = True   # run_batch takes a race and stops the trials it says (lab.arenas.racing)
    continuous_batching = True   # run_batch takes every trial, keeps ``capacity`` training (lab.trials.run_here)

    def tiny_task(self) -> GrokTask:
        return GrokTask(modulus=23, train_fraction=0.6, d_model=16, heads=2, d_ff=32, batch_size=64, step_cap=60,
                        eval_interval=20)

    def prepare(self, task: GrokTask, device: str) -> Dataset:
        return make_dataset(task)

    def run_batch(self, pairs: Sequence[tuple[Genome, int]], task: GrokTask, *, device: str, data,
                  on_event: EventSink, cancel: Cancel | None, tally: WorkTally, race: Race | None = None,
                  capacity: int | None = None) -> list[TrialResult]:
        """One population of (genome, seed) members trained together (lab.arenas.grokking.trainer),
        at most ``capacity`` at once, the others joining as members finish; with a ``race`` the
        trials it stops come back ``censored``."""
        return train_population(pairs, task, device=device, on_event=on_event, cancel=cancel, data=data,
                                race=race, tally=tally, capacity=capacity,
                                step_mode=STEP_MODE["cuda" if device.startswith("cuda") else "cpu"])


ARENA = GrokkingArena()
