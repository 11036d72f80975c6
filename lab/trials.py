"""The one trials runner: (genome, seed) pairs of any arena, on any backend, with Smart Fill.

Evolution, the Stress Chamber and the command line all run trials through :func:`run_pairs`.
It checks the genomes' spec and the device before anything starts, takes what the registry
already holds for the task (Smart Fill), runs the rest in batches up to the arena's cap for the
device (here, or on a backend's workers), records each finished trial once (as it finishes, in
small timed batches, so a stop or a crash keeps what finished), and returns one result per pair
in pair order: a pair that never ran (cancelled) comes back "cancelled". Arenas never see the
registry: they only run batches (``Arena.run_batch``).
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from lab.arenas.base import Cancel, EventSink, TaskConfig, TrialFinished, TrialResult
from lab.progress import WorkTally

RECORD_EVERY_S = 1.0   # finished trials are appended to the registry at most this often (and at the end)


def run_trials(arena: Any, genomes: Sequence[Any], seeds: Sequence[int], task: TaskConfig,
               **kw: Any) -> list[TrialResult]:
    """Every genome on every seed: :func:`run_pairs` over the genome-major pairs."""
    return run_pairs(arena, [(g, s) for g in genomes for s in seeds], task, **kw)


def run_pairs(arena: Any, pairs: Sequence[tuple[Any, int]], task: TaskConfig, *, device: str = "auto",
              registry=None, backend=None, on_event: EventSink | None = None, cancel: Cancel | None = None,
              race=None, max_batch: int | None = None) -> list[TrialResult]:
    """Run (genome, seed) pairs of ``arena`` on ``task``; one result per pair, in order.

    ``registry``: pairs it holds for the task are read from it, not run again, and every new finished
    trial is recorded in it once (cancelled ones are not: they are unfinished experiments).
    ``backend`` (lab.backends): where the trials run; None or the threads backend runs them here in
    batches of at most ``max_batch`` (default: the arena's cap for the device). ``race``
    (lab.arenas.racing) stops trials early where the arena supports racing (their status is then
    ``censored``). A bad genome spec or an unsupported device raises ValueError before anything runs."""
    check_spec(arena, pairs)
    device = arena.resolve_device(device)
    known, todo = split_known(pairs, task, registry)
    if not getattr(arena, "supports_racing", False):
        race = None
    if race is not None:
        for r in known.values():
            race.observe(r)
    if todo:
        recorder = Recorder(registry)

        def forward(event: Any) -> None:
            if isinstance(event, TrialFinished):
                recorder.add(event.result)
            if on_event is not None:
                on_event(event)

        try:
            if backend is not None and getattr(backend, "remote", False):
                ran = backend.run_remote(arena, todo, task, device=device, emit=forward, cancel=cancel, race=race)
            else:
                ran = run_here(arena, todo, task, device=device, emit=forward, cancel=cancel, race=race,
                               max_batch=max_batch, after_batch=recorder.add_all)
            recorder.add_all(ran)   # results an arena returned without a TrialFinished event
        finally:
            recorder.flush()
        known.update({(r.genome_id, r.seed): r for r in ran})
    return in_pair_order(pairs, known, task, arena.name)


def run_here(arena: Any, todo: Sequence[tuple[Any, int]], task: TaskConfig, *, device: str,
             emit: EventSink, cancel: Cancel | None, race=None, max_batch: int | None = None,
             after_batch=None) -> list[TrialResult]:
    """Run ``todo`` in this thread: batches of at most the arena's cap (or, for an arena with
    ``continuous_batching``, one call that keeps at most that many training), one work tally over
    all of them, until ``cancel``. Returns the results the arena produced (cancelled ones included)."""
    cap = max(1, max_batch or arena.batch_cap(device))
    tally = WorkTally.for_task(task, len(todo))   # one count of work over every batch
    data = arena.prepare(task, device)
    out: list[TrialResult] = []
    # an arena with continuous batching takes every trial at once and keeps at most ``cap`` training,
    # starting waiting trials as others finish; the others get them in batches of ``cap``
    streaming = getattr(arena, "continuous_batching", False)
    for start in range(0, len(todo), len(todo) if streaming else cap):
        if cancel is not None and cancel.is_set():
            break
        batch = list(todo[start:] if streaming else todo[start:start + cap])
        more = {"capacity": cap} if streaming else {}
        results = arena.run_batch(batch, task, device=device, data=data, on_event=emit, cancel=cancel,
                                  tally=tally, race=race, **more)
        if after_batch is not None:
            after_batch(results)
        out += results
    return out


def check_spec(arena: Any, pairs: Sequence[tuple[Any, int]]) -> None:
    """Every genome of ``pairs`` has the arena's gene spec, or a ValueError names the first that has not."""
    wanted = arena.gene_spec.name
    for g, _ in pairs:
        if g.spec.name != wanted:
            raise ValueError(f"genome {g.label} has gene spec {g.spec.name!r}; the {arena.name} arena "
                             f"needs {wanted!r}")


def split_known(pairs: Sequence[tuple[Any, int]], task: TaskConfig, registry=None
                ) -> tuple[dict[tuple[str, int], TrialResult], list[tuple[Any, int]]]:
    """Smart Fill: split (genome, seed) pairs into the results a ``registry`` already holds for
    ``task`` and the distinct pairs still to run (first occurrence order)."""
    known: dict[tuple[str, int], TrialResult] = {}
    todo: list[tuple[Any, int]] = []
    queued: set[tuple[str, int]] = set()
    for g, s in pairs:
        key = (g.id, int(s))
        if key in known or key in queued:
            continue
        found = registry.get_trial(g.id, task.task_id, int(s)) if registry is not None else None
        if found is not None:
            known[key] = found
        else:
            todo.append((g, int(s)))
            queued.add(key)
    return known, todo


def in_pair_order(pairs: Sequence[tuple[Any, int]], results: Mapping[tuple[str, int], TrialResult],
                  task: TaskConfig, arena: str) -> list[TrialResult]:
    """One result per pair, in order; a pair without one (cancelled before it ran) is "cancelled"."""
    out = []
    for g, s in pairs:
        r = results.get((g.id, int(s)))
        out.append(r if r is not None else TrialResult(g.id, task.task_id, int(s), "cancelled", arena=arena))
    return out


class Recorder:
    """Appends finished trials to a registry in small timed batches, each trial once (a cancelled
    trial never). Without a registry it only remembers what it saw."""

    def __init__(self, registry=None, every: float = RECORD_EVERY_S):
        self.registry, self.every = registry, every
        self.pending: list[TrialResult] = []
        self.seen: set[tuple[str, str, int]] = set()
        self.last = time.monotonic()

    def add(self, result: TrialResult) -> None:
        if result.status == "cancelled" or result.key in self.seen:
            return
        self.seen.add(result.key)
        self.pending.append(result)
        if time.monotonic() - self.last >= self.every:
            self.flush()

    def add_all(self, results: Sequence[TrialResult]) -> None:
        """Record ``results`` now (a batch ended: what it finished is written before the next starts)."""
        for r in results:
            self.add(r)
        self.flush()

    def flush(self) -> None:
        if self.pending and self.registry is not None:
            self.registry.record_trials(self.pending)
        self.pending = []
        self.last = time.monotonic()
