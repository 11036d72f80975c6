"""Snapshots of a grokking trial's weights over training, kept in the registry beside its trials.

A trial is re-run on request with its weights taken every N steps (the population trainer's
``on_snapshot``; a re-run of the same genome, task and seed is the same trial, so snapshots need
not be kept for every trial). They are written to
``<registry>/snapshots/<genome id>/<task id>/seed<seed>/`` as ``state.npz`` (each parameter stacked
over the snapshots, [S, ...], and ``steps`` [S]) and ``state.json`` (genome genes, task, seed,
the interval, the steps and the npz's sha256), replaced together, never pickled.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lab.arenas.base import TrialResult
from lab.arenas.engine_files import read_state, read_state_meta, save_state
from lab.arenas.grokking.model import param_shapes
from lab.arenas.grokking.task import GrokTask
from lab.genome import Genome

KIND = "grokking-snapshots"


@dataclasses.dataclass
class Snapshots:
    """A trial's weights over training: ``steps`` and, for each, name -> array."""

    genome_id: str
    task: GrokTask
    seed: int
    every: int
    steps: list[int] = dataclasses.field(default_factory=list)
    weights: list[dict[str, np.ndarray]] = dataclasses.field(default_factory=list)

    def add(self, step: int, weights: dict[str, np.ndarray]) -> None:
        if self.steps and step <= self.steps[-1]:
            if step == self.steps[-1]:
                self.weights[-1] = weights    # the last step taken twice (a multiple of N and the end)
            return
        self.steps.append(int(step))
        self.weights.append(weights)


def snapshot_folder(registry_root: str | os.PathLike[str], genome_id: str, task_id: str, seed: int) -> Path:
    return Path(registry_root) / "snapshots" / genome_id / task_id / f"seed{int(seed)}"


def record(genome: Genome, task: GrokTask, seed: int, every: int, *, device: str = "auto",
           on_snapshot: Callable[[int, dict[str, np.ndarray]], None] | None = None, cancel: Any = None,
           on_event: Any = None) -> tuple[TrialResult, Snapshots]:
    """Re-run the trial (genome, task, seed) with its weights every ``every`` steps (and at its
    start and end); ``on_snapshot(step, weights)`` sees each as it is taken (a live view)."""
    from lab.arenas.grokking.trainer import train_population

    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"the snapshot interval must be a whole number of steps >= 1, got {every!r}")
    snaps = Snapshots(genome.id, task, int(seed), every)

    def sink(_trial: int, step: int, weights: dict[str, np.ndarray]) -> None:
        snaps.add(step, weights)
        if on_snapshot is not None:
            on_snapshot(step, weights)

    (result,) = train_population([(genome, int(seed))], task, device=device, snapshot_every=every,
                                 on_snapshot=sink, cancel=cancel, on_event=on_event)
    return result, snaps


def save(snaps: Snapshots, folder: str | os.PathLike[str], genes: dict[str, Any] | None = None) -> list[str]:
    """Write the snapshots to ``folder`` (npz + JSON, replaced together); returns the paths."""
    if not snaps.steps:
        raise ValueError("no snapshots to save")
    arrays: dict[str, np.ndarray] = {"steps": np.asarray(snaps.steps, dtype=np.int64)}
    for name in snaps.weights[0]:
        arrays[name] = np.stack([w[name] for w in snaps.weights]).astype(np.float32)
    meta = {"settings": dict(genes or {}), "task": snaps.task.to_dict(), "seed": snaps.seed,
            "genome_id": snaps.genome_id, "task_id": snaps.task.task_id, "every": snaps.every,
            "steps": list(snaps.steps), "may_be_nan": [n for n in arrays if n != "steps"]}
    return save_state(folder, KIND, arrays, meta)


def load(folder: str | os.PathLike[str]) -> Snapshots:
    """Snapshots saved by :func:`save`; ValueError names what is wrong with the folder."""
    meta = read_state_meta(folder, KIND)
    where = f"cannot read snapshots from {folder}"
    try:
        task = GrokTask(**meta["task"])
        steps, every = [int(s) for s in meta["steps"]], int(meta["every"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: state.json is damaged ({' '.join(str(exc).split())[:200]})") from None
    if not steps or steps != sorted(set(steps)) or steps[0] < 0:
        raise ValueError(f"{where}: its steps are not increasing whole numbers")
    S = len(steps)
    shapes = {"steps": ((S,), "i"), **{n: ((S, *shape), "f") for n, shape in param_shapes(task).items()}}
    arrays, meta = read_state(folder, KIND, shapes)
    if arrays["steps"].tolist() != steps:
        raise ValueError(f"{where}: state.npz and state.json disagree on the steps")
    snaps = Snapshots(str(meta.get("genome_id", "")), task, int(meta["seed"]), every)
    for i, step in enumerate(steps):
        snaps.steps.append(step)
        snaps.weights.append({n: arrays[n][i] for n in shapes if n != "steps"})
    return snaps
