"""What every arena shares: the TaskConfig base (content-hashed to a ``task_id``) and TrialResult.

A trial is one (genome, task, seed) experiment. Two results with the same (genome_id, task_id,
seed) are the same experiment; the registry and Smart Fill rely on that.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from lab import __version__

TRIAL_SCHEMA_VERSION = 1
# grokked/capped/diverged/cancelled/censored are the grokking arena's; other arenas use ok/failed too.
# "censored" is a trial that racing stopped (lab.arenas.racing): not grokked by its ``censored_at``
# step, an unfinished experiment that Smart Fill never takes as a full result.
TRIAL_STATUSES = ("grokked", "capped", "diverged", "cancelled", "ok", "failed", "censored")


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """Base of every arena's task settings: a frozen dataclass whose ``task_id`` hashes its fields.

    ``CAP_FIELD`` names the field that holds the task's budget (read as ``step_cap`` by the
    landscapes): a grokking task's ``step_cap``, an M2N2 task's ``passes``."""

    CAP_FIELD: ClassVar[str] = "step_cap"
    CAP_LABEL: ClassVar[str] = "Step cap"
    # how charts speak of the outcome: what the budget counts, the goal, and a trial that met it
    # ("steps to grok", "trials grokked"; M2N2: "passes to reach the target", "trials at target")
    UNIT: ClassVar[str] = "steps"
    GOAL: ClassVar[str] = "grok"
    DONE: ClassVar[str] = "grokked"
    # what the forms offer: the fields that are a choice (the same tuples the task validates
    # against), the bounds of numeric fields (inclusive, None: open) and a line of help each
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {}
    BOUNDS: ClassVar[dict[str, tuple[float | None, float | None]]] = {}
    HELP: ClassVar[dict[str, str]] = {}
    # labels the forms show where the field's name is not the words (others: "split_seed" -> "Split seed")
    LABELS: ClassVar[dict[str, str]] = {"target_acc": "Target accuracy", "data_folder": "Data folder"}
    # fields added after trials were recorded: at their default they are left out of the task_id,
    # so every task recorded before keeps its id (and its trials) and only a new value makes a new task
    ID_OMITS_DEFAULT: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def label(cls, name: str) -> str:
        """How a form names the field ``name``."""
        if name == cls.CAP_FIELD:
            return cls.CAP_LABEL
        return {**TaskConfig.LABELS, **cls.LABELS}.get(name) or name.replace("_", " ").capitalize()

    @property
    def task_id(self) -> str:
        fields = dataclasses.asdict(self)
        for f in dataclasses.fields(self):
            if f.name in self.ID_OMITS_DEFAULT and fields[f.name] == f.default:
                del fields[f.name]
        payload = json.dumps({"task": type(self).__name__, **fields}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def data_task_problems(task: Any, datasets: Sequence[str], whole: Sequence[str]) -> list[str]:
    """What is wrong with the fields an image-classification task shares (M2N2, GENREG): its
    ``dataset`` (one of ``datasets``; mnist needs a ``data_folder``), the ``whole`` number fields
    (each >= 1) and ``target_acc`` in (0, 1]."""
    problems = []
    if task.dataset not in datasets:
        problems.append(f"dataset {task.dataset!r} is not one of {', '.join(datasets)}")
    if task.dataset == "mnist" and not task.data_folder:
        problems.append("dataset mnist needs data_folder (a folder of MNIST IDX files)")
    for name in whole:
        v = getattr(task, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            problems.append(f"{name} must be a whole number >= 1, got {v!r}")
    if not isinstance(task.target_acc, (int, float)) or not 0.0 < task.target_acc <= 1.0:
        problems.append(f"target_acc {task.target_acc!r} must be in (0, 1]")
    return problems


PRECISIONS = ("float32", "tf32", "bf16")   # a task's arithmetic, where it has a `precision` field


def with_cap(task: TaskConfig, cap: int) -> TaskConfig:
    """``task`` with another budget (another task_id)."""
    return dataclasses.replace(task, **{task.CAP_FIELD: cap})


class TrialError(ValueError):
    """A trial record is malformed."""


@dataclasses.dataclass(frozen=True)
class TrialResult:
    """One finished (genome, task, seed) trial: status, fitness numbers, a downsampled curve, provenance."""

    genome_id: str
    task_id: str
    seed: int
    status: str
    metrics: Mapping[str, float | int | None] = dataclasses.field(default_factory=dict)
    curve: Mapping[str, list] = dataclasses.field(default_factory=dict)
    wall_time: float = 0.0
    device: str = "cpu"
    arena: str = ""
    lab_version: str = __version__
    schema_version: int = TRIAL_SCHEMA_VERSION

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.genome_id, self.task_id, self.seed)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["metrics"], d["curve"] = dict(self.metrics), {k: list(v) for k, v in self.curve.items()}
        return d

    def to_json_line(self) -> str:
        """One line of JSON; non-finite numbers become null so the line stays standard JSON."""
        return json.dumps(_finite(self.to_dict()), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, data: Any) -> TrialResult:
        if not isinstance(data, Mapping):
            raise TrialError(f"a trial record must be a JSON object, not {type(data).__name__}")
        version = data.get("schema_version")
        if version != TRIAL_SCHEMA_VERSION:
            raise TrialError(f"unknown trial schema_version {version!r} (this lab reads {TRIAL_SCHEMA_VERSION})")
        fields = {f.name for f in dataclasses.fields(cls)}
        missing = [k for k in ("genome_id", "task_id", "seed", "status") if k not in data]
        if missing:
            raise TrialError(f"trial record lacks {', '.join(missing)}")
        seed = data["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TrialError(f"trial seed must be a whole number, got {seed!r}")
        if data["status"] not in TRIAL_STATUSES:
            raise TrialError(f"trial status {data['status']!r} is not one of {', '.join(TRIAL_STATUSES)}")
        return cls(**{k: v for k, v in data.items() if k in fields})


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


# ---- events and the arena protocol -------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TrialProgress:
    """Progress of one call that runs trials (every chunk or batch of it), sent through ``on_event``
    at most a few times a second while it trains (lab.progress). ``work_done`` of ``work_total``
    ``unit``s is the progress: grokking member-steps, M2N2 passes, GENREG/NEAT generations; a trial
    that ends early takes its unspent budget out of ``work_total``. ``steps_done`` of ``step_cap``
    is where the population training now is (0 of 0 where the work runs elsewhere)."""

    arena: str
    steps_done: int
    step_cap: int
    live: int            # members still training
    finished: int        # trials done (any status) out of ``total``
    total: int
    grokked: int = 0
    message: str = ""
    work_done: int = 0
    work_total: int = 0  # 0: the emitter counts no work (the reader then keeps what it had)
    unit: str = ""


@dataclasses.dataclass(frozen=True)
class TrialFinished:
    """One trial left the batch (grokked, capped, diverged or cancelled)."""

    result: TrialResult


class Cancel(Protocol):
    def is_set(self) -> bool: ...


EventSink = Callable[[Any], None]


@runtime_checkable
class Arena(Protocol):
    """What callers use of an arena (see DESIGN.md, "The arena protocol"). :class:`ArenaBase`
    implements the running part once; an arena supplies its spec, task, devices and ``run_batch``."""

    name: str
    title: str
    devices: tuple[str, ...]

    @property
    def gene_spec(self) -> Any: ...

    def default_task(self) -> TaskConfig: ...

    def resolve_device(self, device: str = "auto") -> str: ...

    def run_pairs(self, pairs: Sequence[tuple[Any, int]], task: TaskConfig, *, device: str = "auto",
                  registry: Any = None, backend: Any = None, on_event: EventSink | None = None,
                  cancel: Cancel | None = None, race: Any = None, max_batch: int | None = None
                  ) -> list[TrialResult]: ...

    def run_trials(self, genomes: Sequence[Any], seeds: Sequence[int], task: TaskConfig,
                   **kw: Any) -> list[TrialResult]: ...


class ArenaBase:
    """The shared half of every arena: running trials goes through the one trials runner
    (lab.trials), which owns Smart Fill, batching, recording and pair order. A subclass declares
    ``name``, ``title``, ``gene_spec``, ``task_class``, the ``devices`` it supports, its
    ``batch_caps`` (trials per batch on "cpu" / "cuda") and implements ``run_batch``; one with a
    direct run adds ``engine()``, ``settings_class`` and ``checkpoint_module``."""

    name: str = ""
    title: str = ""
    gene_spec: Any = None          # its GeneSpec (the gene table)
    task_class: type = TaskConfig  # its task; default_task() is this class with its defaults
    devices: tuple[str, ...] = ("cpu", "cuda")
    batch_caps: Mapping[str, int] = {"cpu": 1, "cuda": 1}   # 1: trials run one after another
    supports_racing = False   # run_batch takes a race and stops the trials it says (lab.arenas.racing)

    def default_task(self) -> TaskConfig:
        return self.task_class()

    def tiny_task(self) -> TaskConfig:
        """The smallest task that still exercises the arena: seconds per trial on a CPU (the
        conformance tests and smoke checks run it)."""
        return self.default_task()

    def resolve_device(self, device: str = "auto") -> str:
        """The device trials run on ("auto": CUDA where available and supported); ValueError for a
        device this arena does not support."""
        return resolve_device(device, self.devices, self.name)

    def batch_cap(self, device: str) -> int:
        """Trials in one ``run_batch`` call on ``device``."""
        return int(self.batch_caps["cuda" if device.startswith("cuda") else "cpu"])

    def prepare(self, task: TaskConfig, device: str) -> Any:
        """What every batch of one run shares (the task's data on the device); None by default."""
        return None

    def run_batch(self, pairs: Sequence[tuple[Any, int]], task: TaskConfig, *, device: str, data: Any,
                  on_event: EventSink, cancel: Cancel | None, tally: Any, race: Any = None
                  ) -> list[TrialResult]:
        """Run distinct (genome, seed) pairs (at most ``batch_cap(device)``) on a resolved ``device``;
        one result per pair, in order, "cancelled" for those ``cancel`` stopped. Send progress
        (TrialProgress, counted on ``tally``) and a TrialFinished per finished trial to ``on_event``."""
        raise NotImplementedError

    # ---- direct runs: one engine, saved and resumed exactly ------------------------------------
    checkpoint_module: str = ""   # the module with save_engine, load_engine and read_meta ("": none)

    def save_run(self, engine: Any, folder: Any) -> list[str]:
        """Write a direct run's whole state to ``folder`` (npz + JSON) and, beside it, its history as
        ``history.csv`` (lab.arenas.live_settings; what resuming reads is the JSON); returns the paths."""
        paths = self._checkpoint().save_engine(engine, folder)
        if callable(getattr(engine, "history_table", None)):
            from pathlib import Path

            from lab.arenas.live_settings import engine_history_csv
            from lab.files import atomic_write_text
            paths.append(str(atomic_write_text(Path(folder) / "history.csv", engine_history_csv(engine))))
        return paths

    def resume_run(self, folder: Any, *, device: str = "auto") -> Any:
        """The engine of a run saved by :meth:`save_run`, continuing exactly where it stopped; a
        ValueError names what is wrong with the folder."""
        import dataclasses as dc
        checkpoint = self._checkpoint()
        meta = checkpoint.read_meta(folder)
        try:
            task = dc.replace(self.default_task(), **meta["task"])
            settings = self.settings_class(**meta["settings"])
            engine = self.engine(task, settings, meta["seed"], device=device)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cannot resume from {folder}: its settings or task do not fit this lab "
                             f"({' '.join(str(exc).split())[:300]})") from None
        try:
            checkpoint.load_engine(engine, folder)
        except ValueError:
            getattr(engine, "close", lambda: None)()
            raise
        except (TypeError, KeyError, IndexError, AttributeError, RuntimeError) as exc:
            # a field of the saved JSON of the wrong type or shape, met while the state is restored
            getattr(engine, "close", lambda: None)()
            raise ValueError(f"cannot resume from {folder}: its saved state is damaged "
                             f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
        except BaseException:
            getattr(engine, "close", lambda: None)()
            raise
        return engine

    def _checkpoint(self) -> Any:
        if not self.checkpoint_module:
            raise ValueError(f"the {self.name} arena's direct runs cannot be saved")
        import importlib
        return importlib.import_module(self.checkpoint_module)

    def run_pairs(self, pairs: Sequence[tuple[Any, int]], task: TaskConfig, **kw: Any) -> list[TrialResult]:
        """(genome, seed) pairs through the trials runner (lab.trials.run_pairs: registry, backend,
        device, on_event, cancel, race, max_batch)."""
        from lab.trials import run_pairs
        return run_pairs(self, pairs, task, **kw)

    def run_trials(self, genomes: Sequence[Any], seeds: Sequence[int], task: TaskConfig,
                   **kw: Any) -> list[TrialResult]:
        """Every genome on every seed; one TrialResult per (genome, seed), genome-major order."""
        return self.run_pairs([(g, s) for g in genomes for s in seeds], task, **kw)


def resolve_device(device: str = "auto", supported: Sequence[str] = ("cpu", "cuda"), arena: str = "") -> str:
    """"auto" -> "cuda" when a CUDA device is available (and ``supported``), else "cpu"; other
    names pass through checked (ValueError naming the problem)."""
    import torch

    who = f"the {arena} arena" if arena else "this"
    if device == "auto":
        return "cuda" if "cuda" in supported and torch.cuda.is_available() else "cpu"
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r} (cpu, cuda, cuda:N or auto)")
    if device.split(":")[0] not in supported:
        words = " or ".join({"cpu": "the CPU", "cuda": "CUDA devices"}.get(d, d) for d in supported)
        raise ValueError(f"{who} runs on {words} only; device {device!r} is not supported")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but no CUDA device is available")
    return device


def device_label(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return f"cuda:{torch.cuda.get_device_name(torch.device(device))}"
    return "cpu"
