"""The direct run of an arena: one of its engines stepped as a background job, reporting snapshots
(what the engine shows of itself) and the population's fitness over the engine's budget unit, so a
view can watch the arena's own algorithm work. Generic over arenas whose object has ``engine()``;
what a view draws of a run, the arena declares as its :class:`DirectPanel` (``direct_panel``).
"""
from __future__ import annotations

import dataclasses
import importlib
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

MIN_REPORT_S = 0.1      # at most ~10 reports a second: more would only flood the Tk thread's queue
CHUNK_S = 0.05          # aim for step() calls this long, so Stop lands promptly even when passes are slow
HISTORY_KEYS = ("passes", "min", "mean", "max")
DEFAULT_UNIT = "passes"  # what the budget counts when neither the snapshot nor the arena says


@dataclasses.dataclass(frozen=True)
class EngineReport:
    """One look at a direct run: the engine's ``snapshot()`` and the archive fitness so far
    (columns passes/min/mean/max over the filled slots, one row per report)."""

    arena: str
    snapshot: dict[str, Any]
    history: dict[str, list[float]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class EngineUnavailable:
    """What a direct-run job returns when its engine could not be built (bad data files, settings):
    the user's to fix, so a message rather than a failure with a traceback."""

    message: str


@dataclasses.dataclass(frozen=True)
class EngineKept:
    """The engine of a direct run that ended or stopped, handed back to the view (``keep_engine``)
    so that it can be saved; whoever receives it closes it (a NEAT engine owns worker processes)."""

    engine: Any


@dataclasses.dataclass(frozen=True)
class SettingsApplied:
    """New settings took effect in a running direct run after ``at`` passes (generations);
    ``changes``: {field: [old, new]} (empty: the form held the run's settings already)."""

    at: int
    changes: dict[str, list]


@dataclasses.dataclass(frozen=True)
class SettingsRefused:
    """New settings a running direct run could not take (nothing changed): the reason."""

    message: str


class SettingsInbox:
    """What a view hands its running direct run. Engine settings: the view ``put``s the form's gene
    values and options; the job takes them between steps (so they take effect at the next generation
    or pass) and reports SettingsApplied or SettingsRefused. Only the latest put counts. And
    ``map_wanted``: while the view shows the hidden-layer map, reports carry its data
    (``snapshot["hidden_map"]``, lab.analysis.hidden_map)."""

    def __init__(self, arena: Any):
        self.arena = arena
        self.map_wanted = False
        self._lock = threading.Lock()
        self._pending: tuple[dict[str, Any], dict[str, str]] | None = None

    def put(self, genes: Mapping[str, Any], options: Mapping[str, str] | None = None) -> None:
        with self._lock:
            self._pending = dict(genes), dict(options or {})

    def take(self) -> tuple[dict[str, Any], dict[str, str]] | None:
        with self._lock:
            pending, self._pending = self._pending, None
        return pending

    def settings_for(self, current: Any, genes: Mapping[str, Any], options: Mapping[str, str]) -> Any:
        """``current`` with what the form sets (gene fields, the fields genes stand for, options);
        settings no form field holds stay as they are. ValueError names every problem."""
        fresh = engine_settings(self.arena, genes, options)
        cls = type(current)
        if not isinstance(fresh, cls):   # a Genome: an arena without options
            fresh = cls.from_genes(fresh.genes)
        held = {g.key for g in cls.gene_fields()} | set(options)
        held |= set(cls.replaced_from_genes(self.arena.gene_spec.defaults()))
        return dataclasses.replace(current, **{name: getattr(fresh, name) for name in held})

    def deliver(self, job: Any, engine: Any) -> bool:
        """Apply what was put since the last call, if anything; True when settings changed."""
        pending = self.take()
        if pending is None:
            return False
        try:
            changes = engine.change_settings(self.settings_for(engine.current_settings, *pending))
        except (ValueError, TypeError) as exc:
            job.emit(SettingsRefused(" ".join(str(exc).split())))
            return False
        job.emit(SettingsApplied(int(engine.passes), changes))
        return bool(changes)


@dataclasses.dataclass(frozen=True)
class DirectOption:
    """A choice the direct run offers beyond the gene table (an ablation no gene can express); it
    replaces the gene ``replaces`` in the form, takes its default from that gene's value and is
    passed to the arena's ``settings_class.from_genes`` as a keyword."""

    name: str
    label: str
    choices: tuple[str, ...]
    replaces: str
    from_gene: Mapping[int, str]
    help: str = ""

    def choice_for(self, gene_value: Any) -> str:
        """The choice a gene value stands for (the first choice where it stands for none)."""
        return self.from_gene.get(int(gene_value), self.choices[0])

    def gene_value(self, choice: str, otherwise: Any) -> Any:
        """The gene value that stands for ``choice``; ``otherwise`` for a choice no gene value has."""
        return next((value for value, name in self.from_gene.items() if name == choice), otherwise)


@dataclasses.dataclass(frozen=True)
class DirectPanel:
    """What an arena declares about its direct run (class attribute ``direct_panel``): its charts as
    "module:function" names, imported when first drawn so that the core needs no matplotlib;
    what its budget counts; the options its form offers beyond the gene table; the settings that
    cannot change while a run runs.

    ``draw(fig, snapshot, history, target_acc)`` draws on a given figure (the live window);
    :meth:`export` draws the same on a fresh figure under paper settings and writes the files."""

    draw_at: str
    unit: str = DEFAULT_UNIT
    options: tuple[DirectOption, ...] = ()
    fixed: tuple[str, ...] = ()   # settings a running run keeps (its engine's FIXED_SETTINGS)
    hidden_map: bool = False      # its engine's models have a hidden layer to map (engine.hidden_layer)

    @property
    def draw(self) -> Callable[..., Any]:
        return _load(self.draw_at)

    def export(self, folder: Any, stem: str, snapshot: Mapping[str, Any] | None,
               history: Mapping[str, Any] | None, target_acc: float | None = None,
               formats: Sequence[str] | None = None) -> list[Any]:
        """Write the panel as ``<stem>.<fmt>`` per format, on a fresh figure under paper settings
        (lab.analysis.export), so the files are reproducible and editable; returns their paths."""
        from lab.analysis.export import FORMATS, export_figure
        draw = self.draw
        return export_figure(lambda fig: draw(fig, snapshot, history, target_acc), folder, stem,
                             formats or FORMATS)


def _load(where: str) -> Any:
    module, _, name = where.partition(":")
    return getattr(importlib.import_module(module), name)


def direct_panel_of(arena: Any) -> DirectPanel | None:
    """The direct-run panel ``arena`` declares, or None when it has none (or no engine to watch)."""
    panel = getattr(arena, "direct_panel", None)
    return panel if panel is not None and callable(getattr(arena, "engine", None)) else None


def arenas_with_panels() -> list[str]:
    """The names of the registered arenas that have a direct run to watch."""
    from lab.arenas import arena_names, get_arena

    return [name for name in arena_names() if direct_panel_of(get_arena(name)) is not None]


def snapshot_unit(snapshot: Mapping[str, Any], default: str = DEFAULT_UNIT) -> str:
    """What the snapshot's ``passes`` and ``budget`` count: its "unit" ("generations"), else
    ``default`` (the arena's declared unit)."""
    return snapshot.get("unit") or default


def empty_history() -> dict[str, list[float]]:
    return {key: [] for key in HISTORY_KEYS}


def add_fitness_point(history: dict[str, list[float]], snapshot: Mapping[str, Any]) -> bool:
    """Append (passes, min, mean, max of the filled slots' fitness) of ``snapshot`` to ``history``;
    False (nothing added) when the snapshot has no archive fitness or repeats the last passes."""
    fitness = snapshot.get("fitness")
    if fitness is None or "passes" not in snapshot:
        return False
    filled = snapshot.get("filled") or [True] * len(fitness)
    values = [float(f) for f, ok in zip(fitness, filled) if ok and math.isfinite(float(f))]
    if not values or (history["passes"] and history["passes"][-1] == snapshot["passes"]):
        return False
    history["passes"].append(snapshot["passes"])
    history["min"].append(min(values))
    history["mean"].append(sum(values) / len(values))
    history["max"].append(max(values))
    return True


def look(engine: Any, inbox: SettingsInbox | None = None) -> dict[str, Any]:
    """The engine's snapshot, with its settings changes so far (``settings_log``) for the charts and,
    when the view wants it, the hidden-layer map's data."""
    snapshot = engine.snapshot()
    log = getattr(engine, "settings_log", None)
    if log:
        snapshot = {**snapshot, "settings_log": [dict(e) for e in log]}
    if inbox is not None and inbox.map_wanted and callable(getattr(engine, "hidden_layer", None)):
        from lab.analysis.hidden_map import map_data
        snapshot = {**snapshot, "hidden_map": map_data(engine)}
    return snapshot


def run_direct(job: Any, engine: Any, every: int, *, arena: str = "", unit: str = DEFAULT_UNIT,
               min_interval_s: float = MIN_REPORT_S, inbox: SettingsInbox | None = None) -> dict[str, Any]:
    """The job: ``engine.step(every)`` until ``engine.done`` or a cancel, emitting an
    :class:`EngineReport` at the start, then at most once per ``min_interval_s``, and at the end.
    ``every`` is the most passes per step; fewer are taken while a pass is slower than
    ``CHUNK_S / every`` (a big data set), so the cancel token is seen within about CHUNK_S.
    ``unit`` is what the budget counts where a snapshot does not say. Settings put in ``inbox``
    take effect before the next step (and a report follows at once). Returns the last snapshot."""
    every = max(1, int(every))
    chunk = 1  # the first step measures how long a pass takes
    history = empty_history()

    def report(snapshot: dict[str, Any]) -> None:
        add_fitness_point(history, snapshot)
        job.emit(EngineReport(arena, snapshot, {k: list(v) for k, v in history.items()}))
        budget = snapshot.get("budget") or 0
        if budget:
            job.report(snapshot["passes"] / budget,
                       f"{snapshot['passes']:,} of {budget:,} {snapshot_unit(snapshot, unit)}")

    snapshot = look(engine, inbox)
    report(snapshot)
    last = time.monotonic()
    while not engine.done and not job.cancel_token.is_set():
        if inbox is not None and inbox.deliver(job, engine):
            snapshot = look(engine, inbox)
            report(snapshot)
        started = time.monotonic()
        ran = engine.step(chunk)
        ran = ran if isinstance(ran, int) and ran > 0 else chunk  # an engine whose step returns a report
        per_pass = (time.monotonic() - started) / ran
        chunk = max(1, min(every, int(CHUNK_S / per_pass) if per_pass > 0 else every))
        if time.monotonic() - last >= min_interval_s or engine.done:
            snapshot = look(engine, inbox)
            report(snapshot)
            last = time.monotonic()
    if snapshot["passes"] != engine.passes:  # cancelled between reports: show where it stopped
        snapshot = look(engine, inbox)
        report(snapshot)
    return snapshot


def engine_settings(arena: Any, genes: Mapping[str, Any], options: Mapping[str, str] | None = None) -> Any:
    """What ``arena.engine`` takes for these gene values and direct-run options: a Genome of the
    arena's spec or, for an arena whose panel declares options, its engine settings with those
    options (a gene an option replaces takes the option's value). ValueError names every problem."""
    from lab.genome import Genome

    declared = getattr(direct_panel_of(arena), "options", ())
    options = dict(options or {})
    full = dict(genes)
    for option in declared:
        gene = arena.gene_spec.gene(option.replaces)
        choice = options.setdefault(option.name, option.choice_for(full.get(option.replaces, gene.default)))
        full[option.replaces] = option.gene_value(choice, full.get(option.replaces, gene.default))
    genome = Genome(arena.gene_spec, full, origin="forge")
    if not declared:
        return genome
    return arena.settings_class.from_genes(genome.genes, **options)


def direct_job(job: Any, arena: Any, task: Any, settings: Any, seed: int, every: int, device: str = "auto",
               reserve_threads: int = 1, *, resume_from: Any = None, keep_engine: bool = False,
               inbox: SettingsInbox | None = None) -> dict[str, Any] | EngineUnavailable:
    """The job the direct-run view submits: build the engine (reading the data set belongs off the
    Tk thread), then :func:`run_direct`. A data or settings problem comes back as EngineUnavailable.
    ``resume_from``: a folder written by ``arena.save_run``; the engine is rebuilt from it (task,
    settings and seed are then the folder's) and continues to its budget. ``keep_engine``: the engine
    is handed back as an :class:`EngineKept` event instead of closed, once the run ends or stops.

    The job's torch threads leave ``reserve_threads`` cores to the window: with every core in the
    OpenMP team, each small op of a pass waits for a thread the Tk thread's redraw has descheduled
    (seen: a 300-pass run on 2 cores took 2 s or 20 s depending on when the charts redrew)."""
    import torch

    from lab.data import DataError

    threads = torch.get_num_threads()  # OpenMP: this thread's own setting; restored for the next job
    torch.set_num_threads(max(1, threads - reserve_threads))
    try:
        try:
            engine = (arena.resume_run(resume_from, device=device) if resume_from is not None
                      else arena.engine(task, settings, seed, device=device))
        except (DataError, ValueError) as exc:
            return EngineUnavailable(str(exc))
        kept = False
        try:
            unit = getattr(direct_panel_of(arena), "unit", DEFAULT_UNIT)
            result = run_direct(job, engine, every, arena=arena.name, unit=unit, inbox=inbox)
            if keep_engine:
                job.emit(EngineKept(engine))
                kept = True
            return result
        finally:
            close = getattr(engine, "close", None)   # an engine holding workers lets them go
            if close is not None and not kept:
                close()
    finally:
        torch.set_num_threads(threads)
