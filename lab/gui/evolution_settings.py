"""The Evolution Lab's settings panel: arena picker, the arena's task settings, every evolution
setting as a validated widget, and the ancestral seeding picker. ``settings()`` turns the widgets
into an :class:`EvolutionSettings` or raises :class:`FormError` naming every problem.
Each arena keeps its own Evolution and Task values while the window is open (switching arenas and
back finds them as left) and, through :mod:`lab.gui.prefs`, across restarts.

The widgets are generated from the engine's own tables (arena list, task dataclass, landscape and
selection help, settings defaults), so a new arena or setting appears here without GUI changes.
"""
from __future__ import annotations

import dataclasses
import tkinter as tk
from tkinter import ttk
from typing import Any

from lab.arenas import arena_names, get_arena
from lab.arenas.base import resolve_device
from lab.evolution.landscapes import LANDSCAPE_HELP, LANDSCAPES
from lab.evolution.settings import SELECTIONS, EvolutionSettings
from lab.gui.widgets import list_follows
from lab.gui.widgets.form import (Field, Form, FormError, device_field, follow_task_defaults, offer_devices,
                                  task_fields)
from lab.gui.widgets.scrolled import ScrolledFrame
from lab.gui.widgets.tooltip import Tooltip

D = EvolutionSettings()
SETTING_FIELDS = [
    Field("population", "Population", "int", D.population, 2, 512, help="Genomes per generation."),
    Field("seeds_per_genome", "Seeds per genome", "int", D.seeds_per_genome, 1, 100,
          help="Fresh training seeds every genome is tried on each generation (all genomes share them)."),
    Field("generations", "Generations", "int", D.generations, 1, 10000),
    Field("landscape", "Landscape", "choice", D.landscape, choices=tuple(LANDSCAPES),
          help="\n".join(f"{k}: {v}" for k, v in LANDSCAPE_HELP.items())),
    Field("selection", "Selection", "choice", D.selection, choices=tuple(SELECTIONS),
          help="\n".join(f"{k}: {v}" for k, v in SELECTIONS.items())),
    Field("crossover_rate", "Crossover rate", "float", D.crossover_rate, 0, 1,
          help="Share of offspring bred from two parents (sexual); the rest are clones of one parent."),
    Field("radiation_rate", "Radiation rate", "float", D.radiation_rate, 0, 1,
          help="Share of offspring that are then mutated (radiation)."),
    Field("mutation_rate", "Mutation rate", "float", D.mutation_rate, 0, 1,
          help="Probability that each gene of an irradiated genome mutates."),
    Field("mutation_sigma", "Mutation sigma", "float", D.mutation_sigma, 0.001, 1,
          help="Size of a mutation: Gaussian step in the normalised [0, 1] gene space."),
    Field("aliens", "Aliens", "int", D.aliens, 0, 500, help="Completely random genomes injected every generation."),
    Field("elites", "Elites", "int", D.elites, 0, 500,
          help="Top genomes cloned into the next generation. Senescence: an elite re-proves itself on fresh "
               "seeds every generation and dies the first time it fails a trial."),
    Field("hof_strictness", "Hall of Fame strictness", "float", D.hof_strictness, 0, 1,
          help="0..1: admitted when the success rate over the generation's seeds is at least s and the genome "
               "ranks in the top (1 - s) of its generation (s = 1: only a flawless best)."),
    Field("racing", "Racing", "bool", D.racing,
          help="Stop trials that can no longer matter: once genomes have grokked on most of their seeds, "
               "every trial still training at step S = max(floor, factor x the best median so far) stops and "
               "is recorded as censored (not grokked by S), never as a failure at the cap. Censored genomes "
               "rank below every genome whose trials all finished. Only arenas that can stop a trial mid-way "
               "(grokking) race; the others ignore it."),
    Field("racing_factor", "Racing factor", "float", D.racing_factor, 1, 100,
          help="k in S = max(floor, k x the best median steps_to_grok so far) (>= 1)."),
    Field("racing_floor", "Racing floor (steps)", "int", D.racing_floor, 0, 1_000_000,
          help="Racing never stops a trial before this many steps."),
    Field("run_seed", "Run seed", "int", 1, 0, 2**31 - 1, help="Same seed and settings give the same run."),
    device_field(),
]
PAGE_HEIGHT = 200   # px the Evolution and Task pages ask for at least; they grow with the window
SEED_SOURCES = (("founders", "Founders (genomes/)"), ("hall-of-fame", "Hall of Fame"),
                ("custom", "Custom files (genomes/custom/)"))


class SettingsPanel(ttk.Frame):
    def __init__(self, parent: tk.Misc):
        super().__init__(parent)
        top = ttk.Frame(self)
        top.pack(fill="x")
        ttk.Label(top, text="Arena").pack(side="left")
        self.arena = tk.StringVar(self, value=arena_names()[0])
        self.arena_box = ttk.Combobox(top, textvariable=self.arena, values=arena_names(), state="readonly", width=14)
        list_follows(self.arena_box, arena_names)   # an arena registered later is offered too
        self.arena_box.pack(side="left", padx=6)
        self.arena_title = ttk.Label(self, text="", style="Muted.TLabel", wraplength=290, justify="left")
        self.arena_title.pack(anchor="w", pady=(2, 0))
        self.arena_box.bind("<<ComboboxSelected>>", lambda _e: self._arena_changed())

        self.pages = ttk.Notebook(self)
        self.pages.pack(fill="both", expand=True, pady=(6, 0))
        # the pages scroll, so that a shorter window (or the log pane shown) leaves the run buttons
        # and progress bars under the panel on screen
        page = ScrolledFrame(self.pages, ask_height=PAGE_HEIGHT)
        self.form = Form(page.inner, SETTING_FIELDS)
        self.form.pack(fill="x", padx=6, pady=6)
        page.bind_wheel()
        self.pages.add(page, text="Evolution")

        self.task_scroll = ScrolledFrame(self.pages, ask_height=PAGE_HEIGHT)
        self.task_page = self.task_scroll.inner
        self.pages.add(self.task_scroll, text="Task")
        self.task_form: Form | None = None

        seed_page = ttk.Frame(self.pages, padding=6)
        ttk.Label(seed_page, text="Generation 1 starts from these ancestors, topped up with random genomes:",
                  wraplength=280, justify="left").pack(anchor="w")
        self.seed_vars = {key: tk.BooleanVar(self, value=(key in D.seed_from)) for key, _ in SEED_SOURCES}
        for key, label in SEED_SOURCES:
            ttk.Checkbutton(seed_page, text=label, variable=self.seed_vars[key]).pack(anchor="w")
        ttk.Label(seed_page, text="Registry genomes (id:GENOME_ID or tag:NAME) and proposed:N, comma separated:",
                  wraplength=280, justify="left").pack(anchor="w", pady=(8, 0))
        self.seed_extra = tk.StringVar(self, value="")
        entry = ttk.Entry(seed_page, textvariable=self.seed_extra)
        entry.pack(fill="x")
        Tooltip(entry, "Genomes sent here from other tabs appear in this list. proposed:N adds N new genomes "
                       "that the Insights' model of this task's recorded trials predicts to do best.")
        self.pages.add(seed_page, text="Seeding")
        # arena -> {"evolution": {...}, "task": {...}}: the values that differ from the defaults
        self.memory: dict[str, dict[str, dict[str, Any]]] = {}
        self.shown_arena: str | None = None
        self._arena_changed()

    def _arena_changed(self, force: bool = False) -> None:
        name = self.arena.get()
        if name == self.shown_arena and not force:
            return
        self.remember()
        arena = get_arena(name)
        self.arena_title.configure(text=arena.title)
        if self.task_form is not None:
            self.task_form.destroy()
        self.default_task = arena.default_task()
        self.task_form = Form(self.task_page, task_fields(self.default_task))
        self.task_form.pack(fill="x", padx=6, pady=6)
        self.task_scroll.bind_wheel()
        self.shown_arena = name
        remembered = self.memory.get(name, {})
        _fill(self.form, remembered.get("evolution", {}))
        offer_devices(self.form, name)   # a remembered device the arena lacks falls back
        _fill(self.task_form, remembered.get("task", {}))
        follow_task_defaults(self.task_form, self.default_task)   # after the restore: it keeps its values

    def remember(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Keep the shown arena's valid Evolution and Task values (those that differ from the
        defaults) in ``memory``, which it returns: arena -> {"evolution": ..., "task": ...}."""
        if self.shown_arena is not None and self.task_form is not None:
            self.memory[self.shown_arena] = {"evolution": _changed_values(self.form),
                                             "task": _changed_values(self.task_form)}
        return self.memory

    def restore(self, memory: dict[str, dict[str, dict[str, Any]]], arena: str | None = None) -> None:
        """Take ``memory`` (as ``remember`` returns it; values already checked) and show ``arena``
        (default: the first arena) with its remembered values; an empty memory shows the defaults."""
        self.memory = {name: {k: dict(v) for k, v in sections.items()} for name, sections in memory.items()}
        self.shown_arena = None   # nothing shown is to be remembered over the new memory
        self.arena.set(arena if arena in arena_names() else arena_names()[0])
        self._arena_changed(force=True)

    def add_ancestors(self, genome_ids: list[str]) -> None:
        current = [s.strip() for s in self.seed_extra.get().split(",") if s.strip()]
        current += [f"id:{g}" for g in genome_ids if f"id:{g}" not in current]
        self.seed_extra.set(", ".join(current))

    def seed_sources(self) -> tuple[str, ...]:
        sources = [key for key, var in self.seed_vars.items() if var.get()]
        sources += [s.strip() for s in self.seed_extra.get().split(",") if s.strip()]
        return tuple(sources)

    def settings(self) -> EvolutionSettings:
        """The settings the widgets describe; FormError lists every problem (nothing is started)."""
        problems = []
        values: dict[str, Any] = {}
        task: dict[str, Any] = {}
        try:
            values = self.form.values()
        except FormError as exc:
            problems += exc.problems
        try:
            task = self.task_form.values() if self.task_form else {}
            dataclasses.replace(self.default_task, **task)  # the task validates itself
        except FormError as exc:
            problems += exc.problems
        except (ValueError, TypeError) as exc:
            problems.append(f"task: {exc}")
        if "device" in values:
            try:
                resolve_device(values["device"])
            except ValueError as exc:
                problems.append(f"Device: {exc}")
        if problems:
            raise FormError(problems)
        overrides = tuple(sorted((k, v) for k, v in task.items() if getattr(self.default_task, k) != v))
        try:
            return EvolutionSettings(arena=self.arena.get(), task=overrides, seed_from=self.seed_sources(), **values)
        except ValueError as exc:
            raise FormError([str(exc).removeprefix("invalid evolution settings: ")]) from None

    def show(self, settings: EvolutionSettings) -> None:
        """Put a run's settings back into the widgets (when a saved run is resumed)."""
        self.arena.set(settings.arena)
        self._arena_changed()
        self.form.set_values(settings.to_dict())
        if self.task_form is not None:
            _fill(self.task_form, settings.task_overrides())   # the run's task, not the remembered one
        for key, var in self.seed_vars.items():
            var.set(key in settings.seed_from)
        self.seed_extra.set(", ".join(s for s in settings.seed_from if s not in self.seed_vars))

    def set_enabled(self, enabled: bool) -> None:
        self.form.set_enabled(enabled)
        if self.task_form is not None:
            self.task_form.set_enabled(enabled)
        self.arena_box.configure(state="readonly" if enabled else "disabled")


def _changed_values(form: Form) -> dict[str, Any]:
    """The fields of ``form`` that hold a valid value other than their default (a value being
    typed that is not valid yet is left out: the last valid one, or the default, stands)."""
    out = {}
    for name, f in form.fields.items():
        try:
            value = f.parse(form.vars[name].get())
        except ValueError:
            continue
        if value != f.default:
            out[name] = value
    return out


def _fill(form: Form, values: dict[str, Any]) -> None:
    """Every field of ``form`` to its default, then to ``values``, in the form's own order (a
    field whose change resets others, like NEAT's data set, comes first)."""
    for name, f in form.fields.items():
        form.set(name, values.get(name, f.default))
