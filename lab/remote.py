"""Trials shipped to a backend's workers as plain-data batches (the processes and dask backends).

The pairs the trials runner must run are split into one batch per worker (more if a batch would
pass the member cap; a worker's GPU gets the GPU cap), and every batch is shipped as plain data
(genome JSON dicts, the task's fields, seeds) to the top-level function :func:`run_batch`, which
runs it through the trials runner on the worker and writes nothing. Results come back as trial
dicts and are sent on as TrialFinished events as their batch arrives (the runner records them,
each once). A batch whose worker dies is resubmitted (at most ``retries`` times).
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import math
import os
import time
from typing import Any

from lab.arenas.base import Cancel, EventSink, TaskConfig, TrialFinished, TrialProgress, TrialResult
from lab.progress import WorkTally, work_used

log = logging.getLogger("lab.backends")

# members per batch (the arenas' trainers batch up to this many trials in one population)
BATCH_CAP = {"cpu": 128, "cuda": 2048}


def _backend_error() -> type:
    from lab.backends import BackendError   # the backends module imports this one
    return BackendError


def task_from_dict(arena: Any, data: dict[str, Any]) -> TaskConfig:
    """The arena's task with these fields (as :meth:`TaskConfig.to_dict` wrote them)."""
    default = arena.default_task()
    return dataclasses.replace(default, **data)


def worker_name() -> str:
    try:
        from distributed import get_worker
        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def run_batch(arena_name: str, task: dict[str, Any], pairs: list[tuple[dict[str, Any], int]],
              device: str, race: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one batch of (genome dict, seed) pairs of an arena on this worker; plain data back:
    ``{"trials": [trial dicts], "worker": name, "seconds": wall time}``. Writes nothing. ``race``
    (``Race.to_dict()``) races the batch on its own: it stops at or after the whole race's stop step."""
    from lab.arenas import get_arena
    from lab.genome import Genome

    t0 = time.perf_counter()
    arena = get_arena(arena_name)
    task_obj = task_from_dict(arena, task)
    genomes = [(Genome.from_dict(g), int(s)) for g, s in pairs]
    from lab.trials import run_pairs
    if race is not None and getattr(arena, "supports_racing", False):
        from lab.arenas.racing import Race
        results = run_pairs(arena, genomes, task_obj, device=device, race=Race.from_dict(race))
    else:
        results = run_pairs(arena, genomes, task_obj, device=device)
    return {"trials": [r.to_dict() for r in results], "worker": worker_name(),
            "seconds": time.perf_counter() - t0}


def plan_batches(n: int, workers: int, cap: int) -> list[tuple[int, int]]:
    """Split n pairs (in order) into contiguous [start, stop) batches: one per worker, more if a
    batch would pass ``cap``; sizes differ by at most one."""
    if n <= 0:
        return []
    count = max(1, min(n, max(workers, math.ceil(n / max(1, cap)))))
    base, extra = divmod(n, count)
    out, start = [], 0
    for i in range(count):
        stop = start + base + (1 if i < extra else 0)
        out.append((start, stop))
        start = stop
    return out


def placement(device: str, cpu_workers: int, gpu_workers: int) -> tuple[bool, int, str, int]:
    """Where a generation's batches go: (on GPU workers?, how many workers, device, members per batch).

    Workers declared with the Dask resource ``GPU`` get every batch, on CUDA, at the GPU member cap,
    unless the device is "cpu" (workers without that resource then wait). Otherwise every worker
    takes CPU-sized batches, and "auto" lets each worker use a GPU it has undeclared."""
    if gpu_workers > 0 and device != "cpu":
        return True, gpu_workers, "cuda" if device == "auto" else device, BATCH_CAP["cuda"]
    return False, cpu_workers + gpu_workers, device, BATCH_CAP["cpu"]


def run_remote(backend: Any, arena: Any, todo: list[tuple[Any, int]], task: TaskConfig, *, device: str,
               emit: EventSink, cancel: Cancel | None, race=None) -> list[TrialResult]:
    """Run the (genome, seed) pairs ``todo`` (none recorded yet) in plain-data batches on the
    workers; a TrialFinished event per trial as its batch arrives (the trials runner records
    it), TrialProgress per batch. Returns the results that came back (none for a cancelled
    batch). A batch whose worker died is resubmitted up to ``retries`` times."""
    gpu, workers, run_device, cap = placement(device, *backend.worker_slots())
    task_data = task.to_dict()
    race_data = race.to_dict() if race is not None else None
    batches = [[(g.to_dict(), s) for g, s in todo[a:b]] for a, b in plan_batches(len(todo), workers, cap)]
    attempts = [0] * len(batches)
    total = len(todo)
    # A batch is one plain-data call on a worker: nothing comes back while it trains. So the work
    # of a batch (its trials' member-steps, passes or generations) counts when the batch returns,
    # and until then every pending trial is expected to spend its whole budget; the bar moves
    # in steps of a batch, and the time left is measured from whole batches.
    tally = WorkTally.for_task(task, total, every=0.0)
    done: dict[tuple[str, int], TrialResult] = {}
    pending: dict[concurrent.futures.Future, int] = {}

    def submit(i: int) -> None:
        future = backend.executor(gpu).submit(run_batch, arena.name, task_data, batches[i], run_device, race_data)
        pending[future] = i
        backend._note(running=1)

    def take(future: concurrent.futures.Future) -> int:
        backend._note(running=-1)
        return pending.pop(future)

    for i in range(len(batches)):
        submit(i)
    emit(TrialProgress(arena.name, 0, 0, total, message=f"{len(batches)} batch(es) on {workers} "
                                                       f"worker(s) ({backend.config.label})", **tally.fields()))
    try:
        while pending:
            if cancel is not None and cancel.is_set():
                backend.abandon(list(pending))
                for future in list(pending):
                    take(future)
                break
            finished, _ = concurrent.futures.wait(list(pending), timeout=0.2,
                                                  return_when=concurrent.futures.FIRST_COMPLETED)
            broken = []
            for future in finished:
                i = take(future)
                if future.cancelled():
                    broken.append((i, concurrent.futures.CancelledError()))
                    continue
                exc = future.exception()
                if exc is not None:
                    broken.append((i, exc))
                    continue
                _accept(arena.name, future.result(), done, emit, task, tally)
            if broken:
                retry = []
                for i, exc in broken:
                    if cancel is not None and cancel.is_set():
                        continue
                    if not backend.retryable(exc) or attempts[i] >= backend.config.retries:
                        if backend.retryable(exc):
                            raise _backend_error()(f"a batch of {len(batches[i])} trial(s) lost its worker "
                                               f"{attempts[i] + 1} times ({type(exc).__name__}: {exc})") from exc
                        raise explain(exc) from exc
                    attempts[i] += 1
                    retry.append(i)
                if retry:
                    log.warning("%d batch(es) lost their worker; resubmitting", len(retry))
                    if backend.recover(broken[0][1]):  # the other pending batches went down too
                        for future in list(pending):
                            retry.append(take(future))
                    backend._note(retried=len(retry))
                    for i in sorted(set(retry)):
                        submit(i)
    finally:
        for future in list(pending):  # an error left these behind: stop what can be stopped
            future.cancel()
            take(future)
    return list(done.values())


def _accept(arena: str, payload: dict[str, Any], done: dict[tuple[str, int], TrialResult],
            emit: EventSink, task: TaskConfig, tally: WorkTally) -> None:
    """A batch came back: record each new trial once, count its work, then tell the listeners."""
    fresh = []
    for data in payload["trials"]:
        r = TrialResult.from_dict(data)
        if (r.genome_id, r.seed) in done:
            continue  # a batch that ran twice (resubmitted, then both came back) counts once
        done[(r.genome_id, r.seed)] = r
        fresh.append(r)
        tally.finish(work_used(r, task), counted=False)
    for r in fresh:
        emit(TrialFinished(r))
    grokked = sum(r.status == "grokked" for r in done.values())
    emit(TrialProgress(arena, 0, 0, tally.trials - len(done), grokked=grokked,
                       message=f"batch of {len(fresh)} from {payload.get('worker', '?')} in "
                               f"{payload.get('seconds', 0):.1f} s", **tally.fields()))


NO_LAB_HINT = ("a worker cannot import the lab: start each `dask worker` from a copy of the lab of the same "
               "version, with PYTHONPATH set to its folder (see docs/cluster.md)")


def explain(exc: BaseException) -> BaseException:
    """A worker that lacks the lab fails in unpickling; say what to do instead."""
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "lab":
        return _backend_error()(f"{NO_LAB_HINT} ({exc})")
    return exc
