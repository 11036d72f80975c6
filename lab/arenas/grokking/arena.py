"""The grokking arena object: the arena protocol over the population trainer, with registry reuse."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from lab.arenas.base import (Cancel, EventSink, TrialResult, check_spec, in_pair_order, resolve_device,
                             split_known)
from lab.arenas.grokking.genes import GROKKING_SPEC
from lab.arenas.grokking.task import GrokTask, make_dataset
from lab.arenas.grokking.trainer import train_population
from lab.arenas.racing import Race
from lab.genome import Genome, GeneSpec
from lab.progress import WorkTally

# members per population: enough to amortise per-step overhead, bounded for memory
MAX_MEMBERS = {"cpu": 512, "cuda": 2048}


class GrokkingArena:
    name = "grokking"
    title = "Grokking: MicroTransformer on a \u2218 b mod p"
    devices = ("cpu", "cuda")   # what a Device field offers (lab.arenas.device_choices)
    supports_racing = True   # run_pairs takes a race and stops the trials it says (lab.arenas.racing)

    @property
    def gene_spec(self) -> GeneSpec:
        return GROKKING_SPEC

    def default_task(self) -> GrokTask:
        return GrokTask()

    def run_trials(self, genomes: Sequence[Genome], seeds: Sequence[int], task: GrokTask, *,
                   device: str = "auto", on_event: EventSink | None = None, cancel: Cancel | None = None,
                   registry=None, max_members: int | None = None, race: Race | None = None) -> list[TrialResult]:
        """Every genome on every seed; one TrialResult per (genome, seed), genome-major order."""
        return self.run_pairs([(g, s) for g in genomes for s in seeds], task, device=device,
                              on_event=on_event, cancel=cancel, registry=registry, max_members=max_members,
                              race=race)

    def run_pairs(self, pairs: Sequence[tuple[Genome, int]], task: GrokTask, *, device: str = "auto",
                  on_event: EventSink | None = None, cancel: Cancel | None = None, registry=None,
                  max_members: int | None = None, dtype: torch.dtype = torch.float32,
                  race: Race | None = None) -> list[TrialResult]:
        """Run (genome, seed) pairs batched as populations. With a ``registry``, pairs already recorded
        for this task are returned from it, not recomputed, and new finished results are recorded
        (cancelled ones are not: they are not finished experiments). With a ``race``
        (lab.arenas.racing) trials it stops come back ``censored``; results are returned as they ran
        (``race.finalize`` gives the rule's labels)."""
        check_spec(pairs, self.gene_spec.name, self.name)
        device = resolve_device(device)
        known, todo = split_known(pairs, task, registry)
        if race is not None:
            for r in known.values():
                race.observe(r)
        cap = max_members or MAX_MEMBERS["cuda" if device.startswith("cuda") else "cpu"]
        data = make_dataset(task)
        tally = WorkTally.for_task(task, len(todo))  # one count of member-steps over every population
        for start in range(0, len(todo), cap):
            if cancel is not None and cancel.is_set():
                break
            chunk = todo[start:start + cap]
            results = train_population(chunk, task, device=device, dtype=dtype, on_event=on_event,
                                       cancel=cancel, data=data, race=race, tally=tally)
            if registry is not None:
                registry.record_trials([r for r in results if r.status != "cancelled"])
            known.update({(r.genome_id, r.seed): r for r in results})
        return in_pair_order(pairs, known, task, self.name)


ARENA = GrokkingArena()
