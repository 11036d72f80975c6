"""The run folder of an evolution run, ``runs/<run-id>/`` in the registry: ``run.json`` (settings
and task, written once) and ``checkpoint.json`` (the next population, elite flags, RNG state and
history, rewritten atomically after every generation). This module owns the format: the
evolution loop, the command line and the Evolution Lab read and write runs only through it.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lab.files import atomic_write_text
from lab.registry import Registry, RegistryError
from lab.safe_read import FileProblem, load_json

RUN_FILE = "run.json"
CHECKPOINT_FILE = "checkpoint.json"
CHECKPOINT_SCHEMA = 1
# what a checkpoint holds, and of which JSON type
_STATE_KEYS = {"generation": int, "population": list, "elite_ids": list, "rng_state": dict, "history": list}


def _write(path: Path, data: dict[str, Any], indent: int, sort_keys: bool = False) -> None:
    atomic_write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n")


def create_run(registry: Registry, run_id: str, settings: dict[str, Any], task: Any, state: dict[str, Any]) -> None:
    """Create the run's folder with its ``run.json`` and first checkpoint, all or nothing: both files
    are written in a hidden staging folder that is then renamed into place, so a crash leaves either
    no run (it can be started again) or one that resumes, never a run.json without a checkpoint."""
    folder = registry.run_dir(run_id)
    runs = folder.parent
    runs.mkdir(parents=True, exist_ok=True)
    for stale in runs.glob(f".new-{run_id}-*"):   # left by a run killed while it was being created
        shutil.rmtree(stale, ignore_errors=True)
    staging = registry._inside(runs / f".new-{run_id}-{os.getpid()}")
    staging.mkdir()
    try:
        _write(staging / RUN_FILE, {"schema_version": CHECKPOINT_SCHEMA, "run_id": run_id, "settings": settings,
                                    "task": task.to_dict(), "task_id": task.task_id,
                                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}, 2)
        _write(staging / CHECKPOINT_FILE, {"schema_version": CHECKPOINT_SCHEMA, **state}, 1, sort_keys=True)
        try:
            os.rename(staging, folder)   # refuses a folder that exists and holds anything
        except OSError:
            raise RegistryError(f"run {run_id} already exists in {registry.root}; resume it or choose "
                                "another run id") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_checkpoint(registry: Registry, run_id: str, state: dict[str, Any]) -> None:
    """Replace the run's checkpoint (atomically: a crash leaves the previous one whole)."""
    _write(registry.run_dir(run_id) / CHECKPOINT_FILE, {"schema_version": CHECKPOINT_SCHEMA, **state}, 1, sort_keys=True)


def read_run(registry: Registry, run_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(run.json, checkpoint.json) of a run, checked whole enough to resume, or a RegistryError
    naming what is wrong."""
    run, state = _read_json(registry, run_id)
    if state.get("schema_version") != CHECKPOINT_SCHEMA:
        raise RegistryError(f"run {run_id}: unknown checkpoint schema_version {state.get('schema_version')!r}")
    wrong = [f"{CHECKPOINT_FILE} {key}" for key, kind in _STATE_KEYS.items() if not isinstance(state.get(key), kind)]
    wrong += [] if isinstance(run.get("settings"), dict) else [f"{RUN_FILE} settings"]
    if wrong:
        raise RegistryError(f"run {run_id}: its files lack or garble {', '.join(wrong)}")
    problem = _history_problem(state)
    if problem:
        raise RegistryError(f"run {run_id}: {CHECKPOINT_FILE} {problem}")
    return run, state


_NUMBER = (int, float)
# what every generation's record holds (the views and the summary read these), and of which type
_RECORD_KEYS = {"generation": int, "seeds": list, "genomes": list, "best_id": str, "best_fitness": _NUMBER,
                "mean_fitness": _NUMBER, "median_fitness": _NUMBER, "success_rate": _NUMBER,
                "diversity": _NUMBER, "hall_of_fame_added": list, "ranking": list}


def _history_problem(state: dict[str, Any]) -> str | None:
    """What is wrong with a checkpoint's generation count, history, population and elites, or None."""
    generation, history = state["generation"], state["history"]
    if isinstance(generation, bool) or generation < 0 or len(history) != generation:
        return f"says generation {generation!r} but holds {len(history)} generation records"
    for i, record in enumerate(history, start=1):
        if not isinstance(record, dict):
            return f"history record {i} is not an object"
        bad = [k for k, kind in _RECORD_KEYS.items() if not isinstance(record.get(k), kind)
               or isinstance(record.get(k), bool)]
        if bad:
            return f"history record {i} lacks or garbles {', '.join(bad)}"
        if record["generation"] != i:
            return f"history record {i} says generation {record['generation']}"
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in record["seeds"]) \
                or not all(isinstance(r, dict) for r in record["genomes"]) \
                or not all(isinstance(x, str) for x in record["ranking"] + record["hall_of_fame_added"]):
            return f"history record {i} has seeds, genomes or ids of the wrong type"
    if not all(isinstance(d, dict) for d in state["population"]) or not state["population"]:
        return "holds no population, or one that is not a list of genomes"
    if not all(isinstance(x, str) for x in state["elite_ids"]):
        return "has elite ids that are not strings"
    return None


def _read_json(registry: Registry, run_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two files of a run as JSON objects, or a RegistryError naming what is wrong."""
    folder = registry.run_dir(run_id)
    if not (folder / RUN_FILE).exists():
        raise RegistryError(f"no run {run_id} to resume in {registry.root}")
    try:
        run = load_json(folder / RUN_FILE, what="run file", inside=registry.root)
        state = load_json(folder / CHECKPOINT_FILE, what="checkpoint", inside=registry.root, allow_nan=True)
    except FileProblem as exc:
        raise RegistryError(f"run {run_id}: {exc}") from None
    if not isinstance(run, dict) or not isinstance(state, dict):
        raise RegistryError(f"run {run_id}: its files do not hold JSON objects")
    return run, state


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What a list of saved runs shows of one: generations done of planned, when it was last written."""

    run_id: str
    generation: int = 0
    generations: int = 0
    written: float = 0.0
    readable: bool = True

    @property
    def state(self) -> str:
        if not self.readable:
            return "unreadable"
        done, total = self.generation, self.generations
        if done >= total:
            return f"finished, {done} generation{'s' * (done != 1)}"
        return f"stopped after {done} of {total} generations (resumable)"


def run_info(registry: Registry, run_id: str) -> RunInfo:
    folder = registry.run_dir(run_id)
    written = 0.0
    for path in (folder / CHECKPOINT_FILE, folder):   # the checkpoint's time, else the folder's
        try:
            written = path.stat().st_mtime
            break
        except OSError:
            continue
    try:
        run, state = _read_json(registry, run_id)   # listing needs only the counts, not a resumable state
        return RunInfo(run_id, int(state["generation"]), int(run["settings"]["generations"]), written)
    except (RegistryError, KeyError, TypeError, ValueError):
        return RunInfo(run_id, written=written, readable=False)


def run_infos(registry: Registry) -> list[RunInfo]:
    """Every saved run, the most recently written first."""
    return sorted((run_info(registry, r) for r in registry.run_ids()), key=lambda i: i.written, reverse=True)
