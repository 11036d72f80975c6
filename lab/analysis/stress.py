"""The Stress Chamber's core: Monte Carlo over seeds with Smart Fill, and the trials as a table.

A stress test runs chosen genomes on seeds ``seed_start .. seed_start + runs - 1`` of one task.
Smart Fill computes only the (genome, seed) pairs the registry does not hold yet, batched, and
records them; the charts then read every trial back with :func:`stress_frame` and :func:`curves`.
"""
from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lab.arenas.base import Cancel, EventSink, TaskConfig, TrialResult
from lab.evolution.landscapes import SUCCESS, trial_steps
from lab.genome import Genome
from lab.registry import Registry, RegistryError

if TYPE_CHECKING:  # pandas is imported where a table is built, so choosing genomes stays light
    import pandas as pd

CURVE_KEYS = ("step", "train_loss", "train_acc", "val_loss", "val_acc", "lr")
UNTAGGED = "untagged"


# ---- choosing genomes ---------------------------------------------------------------------------
def select_genomes(registry: Registry, refs: Iterable[str] = (), tags: Iterable[str] = (),
                   hall_of_fame: bool = False, spec: str = "grokking") -> list[Genome]:
    """Genomes named by id, unique id prefix or exact name, every genome of ``spec`` carrying one
    of ``tags``, and (``hall_of_fame``) the Hall of Fame; deduplicated by id, in the order given."""
    chosen: dict[str, Genome] = {}
    for ref in refs:
        g = _genome_by_ref(registry, ref, spec)
        chosen.setdefault(g.id, g)
    for tag in tags:
        tagged = registry.list_genomes(spec=spec, tag=tag)
        if not tagged:
            raise RegistryError(f"no {spec} genome is tagged {tag!r} in registry {registry.root}")
        for g in tagged:
            chosen.setdefault(g.id, g)
    if hall_of_fame:
        for g in registry.hall_of_fame_genomes():
            if g.spec.name == spec:
                chosen.setdefault(g.id, g)
    return list(chosen.values())


def _genome_by_ref(registry: Registry, ref: str, spec: str) -> Genome:
    try:
        return registry.get_genome(registry.resolve(ref))
    except RegistryError as exc:
        by_id = exc
    named = [g for g in registry.list_genomes(spec=spec) if g.name == ref]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise RegistryError(f"{len(named)} genomes are named {ref!r} ({', '.join(g.id for g in named[:5])}); "
                            "name one by id")
    if re.fullmatch(r"[0-9a-f]{1,16}", ref):
        raise by_id  # it looks like an id: say what the id lookup found (no match, or ambiguous)
    raise RegistryError(f"no genome {ref!r} in registry {registry.root} (no id, unique id prefix or "
                        "name matches)")


# ---- groups ---------------------------------------------------------------------------------------
def display_names(genomes: Iterable[Genome]) -> dict[str, str]:
    """genome id -> the words a chart shows for it: its name where no other of ``genomes`` has the
    same name, else its label ("name (id prefix)"); an unnamed genome has only its id prefix."""
    genomes = list({g.id: g for g in genomes}.values())
    taken = [g.name for g in genomes if g.name]
    return {g.id: g.name if g.name and taken.count(g.name) == 1 else g.label for g in genomes}


def groups_by_genome(genomes: Iterable[Genome]) -> dict[str, str]:
    """Each genome its own group, named by its name (the default; see :func:`display_names`)."""
    return display_names(genomes)


def groups_by_tag(genomes: Iterable[Genome]) -> dict[str, str]:
    """Group by a genome's first tag; genomes without tags form the group "untagged"."""
    return {g.id: g.tags[0] if g.tags else UNTAGGED for g in genomes}


def groups_by_species(genomes: Iterable[Genome], registry, level: str = "Genus") -> dict[str, str]:
    """Group by the species the Phylogeny tab stored in the registry at ``level`` (Domain .. Genus);
    genomes it has not classified form the group "unclassified"."""
    from lab.analysis.phylogeny import LEVELS, UNCLASSIFIED
    if level not in LEVELS:
        raise ValueError(f"unknown taxonomy level {level!r} (levels: {', '.join(LEVELS)})")
    labels = registry.species_labels()
    return {g.id: labels.get(g.id, {}).get(level, UNCLASSIFIED) for g in genomes}


# The ways to group genomes in the charts. A grouping is any function genomes -> {genome_id: group};
# user-made groups are a plain dict passed as ``groups``; species need the registry and a level, so
# ``group_genomes`` is the one entry point for all of them. The charts need nothing but the dict.
GROUPINGS: dict[str, Callable[[Iterable[Genome]], dict[str, str]]] = {
    "genome": groups_by_genome,
    "tag": groups_by_tag,
}
SPECIES = "species"
GROUPING_NAMES = (*GROUPINGS, SPECIES)


def group_genomes(how: str, genomes: Iterable[Genome], registry=None, level: str = "Genus") -> dict[str, str]:
    if how == SPECIES:
        return groups_by_species(genomes, registry, level)
    if how not in GROUPINGS:
        raise ValueError(f"unknown grouping {how!r} (groupings: {', '.join(GROUPING_NAMES)})")
    return GROUPINGS[how](genomes)


# ---- Smart Fill -----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class StressPlan:
    """What a stress test will do: every genome on every seed; ``existing`` trials are in the registry
    already, ``missing`` (genome, seed) pairs are what Smart Fill runs."""

    genomes: tuple[Genome, ...]
    task: TaskConfig
    seeds: tuple[int, ...]
    existing: int
    missing: list[tuple[Genome, int]]

    @property
    def total(self) -> int:
        return len(self.genomes) * len(self.seeds)

    @property
    def to_run(self) -> int:
        return len(self.missing)


def plan_stress(registry: Registry, genomes: Sequence[Genome], task: TaskConfig, runs: int,
                seed_start: int = 0) -> StressPlan:
    """Plan ``runs`` seeds (``seed_start`` onward) for every genome, against what is recorded."""
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs must be a whole number >= 1 (seeds per genome), got {runs!r}")
    if isinstance(seed_start, bool) or not isinstance(seed_start, int) or seed_start < 0:
        raise ValueError(f"seed start must be a whole number >= 0, got {seed_start!r}")
    genomes = tuple({g.id: g for g in genomes}.values())
    if not genomes:
        raise ValueError("no genomes to stress: name genomes, a tag or the Hall of Fame")
    seeds = tuple(range(seed_start, seed_start + runs))
    missing = [(g, s) for g in genomes for s in registry.missing_seeds(g.id, task.task_id, seeds)]
    return StressPlan(genomes, task, seeds, len(genomes) * len(seeds) - len(missing), missing)


def run_stress(registry: Registry, arena: Any, plan: StressPlan, *, device: str = "auto",
               on_event: EventSink | None = None, cancel: Cancel | None = None, backend=None) -> list[TrialResult]:
    """Smart Fill: run only ``plan.missing`` through the trials runner (lab.trials), which batches
    them, records every finished trial as it finishes (so a stop or an error keeps what finished)
    and skips pairs recorded since the plan was made (by another window or process sharing the
    registry). Returns the results of the pairs that ran, cancelled ones included."""
    from lab.trials import check_spec, run_pairs
    check_spec(arena, [(g, 0) for g in plan.genomes])
    task_id = plan.task.task_id
    missing = [(g, s) for g, s in plan.missing if not registry.has_trial(g.id, task_id, s)]
    if not missing:
        return []
    from lab.tasks import remember
    remember(registry, plan.task)  # so the views can name the task these trials are on
    return run_pairs(arena, missing, plan.task, device=device, registry=registry, backend=backend,
                     on_event=on_event, cancel=cancel)


# ---- reading results back ---------------------------------------------------------------------------
def _trials_of(registry: Registry, genomes: Sequence[Genome], task_id: str,
               seeds: Iterable[int] | None) -> list[tuple[Genome, TrialResult]]:
    wanted = None if seeds is None else set(seeds)
    return [(g, t) for g in {g.id: g for g in genomes}.values() for t in registry.trials_for(g.id, task_id)
            if wanted is None or t.seed in wanted]


def stress_frame(registry: Registry, genomes: Sequence[Genome], task_id: str,
                 seeds: Iterable[int] | None = None, groups: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per recorded trial of ``genomes`` on ``task_id`` (only ``seeds`` if given), genome
    order then seed: genome_id, name, label, group, seed, status, success, steps_to_grok (NaN when
    the trial did not succeed) and ``gene:<key>`` for every gene."""
    import pandas as pd

    pairs = _trials_of(registry, genomes, task_id, seeds)
    # trial_steps counts a failed trial as PENALTY_FACTOR x step_cap; a NaN cap makes that NaN,
    # which is what a table of measured steps_to_grok needs
    steps = trial_steps([t for _, t in pairs], math.nan)
    gene_keys = list(dict.fromkeys(k for g in genomes for k in g.spec.keys))
    shown = display_names(genomes)
    rows = []
    for (g, t), s in zip(pairs, steps):
        row = {"genome_id": g.id, "name": g.name, "label": g.label,
               "group": (groups or {}).get(g.id, shown[g.id]), "seed": int(t.seed), "status": t.status,
               "success": t.status in SUCCESS, "steps_to_grok": float(s)}
        row.update({f"gene:{k}": g.genes.get(k, math.nan) for k in gene_keys})
        rows.append(row)
    columns = ["genome_id", "name", "label", "group", "seed", "status", "success", "steps_to_grok"]
    frame = pd.DataFrame(rows, columns=columns + [f"gene:{k}" for k in gene_keys])
    return frame.astype({"seed": "int64", "success": "bool", "steps_to_grok": "float64"})


def curves(registry: Registry, genomes: Sequence[Genome], task_id: str,
           seeds: Iterable[int] | None = None) -> dict[tuple[str, int], dict[str, list]]:
    """The recorded learning curve of every trial: (genome_id, seed) -> {step, train_loss, ...}."""
    return {(g.id, int(t.seed)): {k: list(t.curve.get(k, [])) for k in CURVE_KEYS}
            for g, t in _trials_of(registry, genomes, task_id, seeds)}


def stress_summary(frame: pd.DataFrame, by: str = "genome_id") -> pd.DataFrame:
    """Per genome (``by="genome_id"``, with its label) or per ``group``: runs, successes,
    success_rate and the median steps_to_grok of the trials that succeeded (NaN when none did)."""
    import pandas as pd

    columns = [by] + (["label"] if by == "genome_id" else []) + \
        ["runs", "successes", "success_rate", "median_steps_to_grok"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    grouped = frame.groupby(by, sort=False)
    out = pd.DataFrame({"label": grouped["label"].first(), "runs": grouped.size(),
                        "successes": grouped["success"].sum().astype(int),
                        "median_steps_to_grok": grouped["steps_to_grok"].median()})
    out["success_rate"] = out["successes"] / out["runs"]
    return out.reset_index()[columns]
