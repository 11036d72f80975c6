"""The generation loop of the Evolution Lab, with checkpoint and exact resume.

One generation: draw fresh seeds, run every genome on them through the arena's batched
``run_trials`` (one call), score each genome with the landscape, admit to the Hall of Fame, then
build the next population: surviving elites (cloned; senescence: an elite that fails a trial dies),
aliens (random genomes) and offspring of the selected parents. Everything is recorded in the
registry (genomes, trials, Hall of Fame) and the run folder ``runs/<run-id>/``:
``run.json`` (settings and task) and ``checkpoint.json`` (the next population, elite flags, RNG
state, history), rewritten atomically after every generation. Same run seed and settings give the
same run, and a resumed run continues exactly where the checkpoint left it.
"""
from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import numpy as np

from lab.arenas import get_arena
from lab.arenas.base import Cancel, TrialResult
from lab.arenas.racing import CENSORED, Race, censored_key
from lab.evolution import landscapes, run_files
from lab.evolution.diversity import diversity
from lab.evolution.hall_of_fame import admitted
from lab.evolution.selection import breed, breeding_pool
from lab.evolution.settings import EvolutionSettings
from lab.genome import Genome, GenomeError, clone, random_genome
from lab.registry import CUSTOM_DIR, Registry, RegistryError, founders, read_genome_file
from lab.trials import run_trials

SEED_LOW = 1_000_000  # evolution draws trial seeds at or above this; held-out evaluations use lower ones


@dataclasses.dataclass(frozen=True)
class GenerationStarted:
    run_id: str
    generation: int
    genomes: int
    seeds: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class GenerationSummary:
    run_id: str
    generation: int
    record: dict[str, Any]   # the history entry: fitness per genome, best/mean/median, diversity, ...


class RunInterrupted(Exception):
    """A generation was cancelled; the last complete generation's checkpoint is on disk."""


class Evolution:
    """An evolution run. ``step()`` runs one generation; ``run()`` runs to the last one."""

    def __init__(self, settings: EvolutionSettings, registry: Registry, *, arena=None, run_id: str | None = None,
                 backend=None, _state: dict[str, Any] | None = None):
        """``backend`` (see lab.backends) decides where the trials run; results do not depend on it,
        so it is not part of the settings and a run may be resumed on another backend."""
        self.settings = settings
        self.registry = registry
        self.arena = arena if arena is not None else get_arena(settings.arena)
        self.backend = backend
        task = self.arena.default_task()
        self.task = dataclasses.replace(task, **settings.task_overrides()) if settings.task else task
        self.spec = self.arena.gene_spec
        if _state is None:
            self.run_id = run_id or _new_run_id(settings)
            if run_id is None:  # two runs started in the same second get -2, -3, ...
                base, n = self.run_id, 2
                while registry.run_dir(self.run_id).exists():
                    self.run_id, n = f"{base}-{n}", n + 1
            self.dir = registry.run_dir(self.run_id)
            if self.dir.exists():
                raise RegistryError(f"run {self.run_id} already exists in {registry.root}; resume it or "
                                    "choose another run id")
            self.rng = np.random.default_rng(settings.run_seed)
            self.generation = 0
            self.history: list[dict[str, Any]] = []
            self.elite_ids: set[str] = set()
            self.population = self._founding_population()
            run_files.create_run(registry, self.run_id, settings.to_dict(), self.task, self._state())
        else:
            self.run_id = run_id
            self.dir = registry.run_dir(run_id)
            self.rng = np.random.default_rng()
            self.rng.bit_generator.state = _state["rng_state"]
            self.generation = _state["generation"]
            self.history = _state["history"]
            self.elite_ids = set(_state["elite_ids"])
            self.population = [Genome.from_dict(d) for d in _state["population"]]

    # ---- construction, checkpoint, resume ------------------------------------------------------
    @classmethod
    def resume(cls, registry: Registry, run_id: str, *, arena=None, backend=None) -> Evolution:
        run, state = run_files.read_run(registry, run_id)
        try:
            settings = EvolutionSettings.from_dict(run["settings"])
        except (TypeError, ValueError) as exc:
            raise RegistryError(f"run {run_id}: {run_files.RUN_FILE} holds unusable settings ({exc})") from None
        try:
            evolution = cls(settings, registry, arena=arena, run_id=run_id, backend=backend, _state=state)
        except GenomeError as exc:
            raise RegistryError(f"run {run_id}: {run_files.CHECKPOINT_FILE} holds a bad genome "
                                f"({'; '.join(exc.problems)})") from None
        except (TypeError, ValueError, KeyError) as exc:   # numpy refusing a garbled generator state
            raise RegistryError(f"run {run_id}: {run_files.CHECKPOINT_FILE} is damaged ({exc})") from None
        foreign = [g.label for g in evolution.population if g.spec.name != evolution.spec.name]
        if foreign or len(evolution.population) != settings.population:
            raise RegistryError(f"run {run_id}: {run_files.CHECKPOINT_FILE} holds {len(evolution.population)} "
                                f"genomes ({len(foreign)} of another spec) for a population of {settings.population}")
        return evolution

    def _state(self) -> dict[str, Any]:
        return {"generation": self.generation, "population": [g.to_dict() for g in self.population],
                "elite_ids": sorted(self.elite_ids), "rng_state": self.rng.bit_generator.state,
                "history": self.history}

    def _checkpoint(self) -> None:
        run_files.write_checkpoint(self.registry, self.run_id, self._state())

    def _founding_population(self) -> list[Genome]:
        """Generation 1: ancestors from the seeding sources (deduplicated), topped up with random genomes."""
        ancestors: list[Genome] = []
        for source in self.settings.seed_from:
            ancestors += self._ancestors(source)
        unique = list({g.id: g for g in ancestors if g.spec.name == self.spec.name}.values())
        population = unique[:self.settings.population]
        while len(population) < self.settings.population:
            population.append(random_genome(self.spec, self.rng, generation=1, name=f"g1-{len(population):02d}"))
        return population

    def _ancestors(self, source: str) -> list[Genome]:
        reg = self.registry
        if source == "hall-of-fame":
            return reg.hall_of_fame_genomes()
        if source == "founders":
            return founders(self.spec.name)
        if source == "custom":
            return [g for p in sorted(CUSTOM_DIR.glob("*.json")) for g in read_genome_file(p)]
        kind, _, value = source.partition(":")
        if kind == "tag":
            return reg.list_genomes(spec=self.spec.name, tag=value)
        if kind == "proposed":   # the Insights' model of every trial on this task (lab.analysis.insight_model)
            from lab.analysis.insight_model import proposals_from_registry
            proposals = proposals_from_registry(reg, self.spec, self.task, int(value), seed=self.settings.run_seed,
                                                generation=1, tags=("proposed",))
            return [p.genome for p in proposals]
        return [reg.get_genome(reg.resolve(value))]

    # ---- one generation ------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.generation >= self.settings.generations

    def generation_seeds(self) -> list[int]:
        """Fresh seeds for the generation about to run (all genomes share them); Tank adds hard ones."""
        seeds = [int(s) for s in self.rng.integers(SEED_LOW, 2**31 - 1, size=self.settings.seeds_per_genome)]
        if self.settings.landscape == "tank":
            seeds += [s for s in landscapes.HARD_SEEDS[:landscapes.TANK_HARD_SEEDS] if s not in seeds]
        return seeds

    def step(self, on_event: Callable[[Any], None] | None = None, cancel: Cancel | None = None) -> dict[str, Any]:
        """Run the next generation; returns its history record. Raises RunInterrupted if cancelled
        (the checkpoint of the previous generation stays, so the run can be resumed)."""
        if self.done:
            raise RuntimeError(f"run {self.run_id} has finished its {self.settings.generations} generations")
        state_before = self.rng.bit_generator.state
        gen = self.generation + 1
        seeds = self.generation_seeds()
        emit = on_event or (lambda e: None)
        emit(GenerationStarted(self.run_id, gen, len(self.population), tuple(seeds)))
        self.registry.add_genomes(self.population)
        unique = list({g.id: g for g in self.population}.values())
        race = self.race_for(unique, seeds)
        from lab.tasks import remember
        remember(self.registry, self.task)  # so the views can name the task these trials are on
        results = run_trials(self.arena, unique, seeds, self.task, device=self.settings.device, on_event=emit,
                             cancel=cancel, registry=self.registry, backend=self.backend, race=race)
        if any(r.status == "cancelled" for r in results) or (cancel is not None and cancel.is_set()):
            self.rng.bit_generator.state = state_before  # so a resume redraws the same seeds
            raise RunInterrupted(f"run {self.run_id} stopped during generation {gen}; "
                                 f"generation {self.generation} is checkpointed")
        if race is not None:
            results = race.finalize(results)
        by_genome: dict[str, list[TrialResult]] = {}
        for r in results:
            by_genome.setdefault(r.genome_id, []).append(r)
        record = self._score(gen, seeds, by_genome)
        record["race"] = _race_record(race, results, self.task.step_cap)
        self.population, self.elite_ids = self._next_population(gen, record, by_genome)
        self.generation = gen
        self.history.append(record)
        self._checkpoint()
        emit(GenerationSummary(self.run_id, gen, record))
        return record

    def race_for(self, genomes: list[Genome], seeds: list[int]) -> Race | None:
        """The race of a generation (None when racing is off or the arena cannot stop its trials)."""
        if not (self.settings.racing and getattr(self.arena, "supports_racing", False)):
            return None
        return Race.for_pairs(self.settings.racing_rule(), [(g, s) for g in genomes for s in seeds],
                              self.task.step_cap, getattr(self.task, "eval_interval", 1))

    def _score(self, gen: int, seeds: list[int], by_genome: dict[str, list[TrialResult]]) -> dict[str, Any]:
        """Fitness per genome and the ranking: genomes whose trials all finished by their fitness,
        then genomes with a censored trial (racing), by trials grokked and then validation accuracy
        at the stop step (``racing.censored_key``)."""
        cap = self.task.step_cap
        rows = []
        for g in self.population:
            trials = by_genome[g.id]
            steps = landscapes.trial_steps(trials, cap)
            ok = [t.metrics["steps_to_grok"] for t in trials if t.status in landscapes.SUCCESS]
            censored = sum(t.status == CENSORED for t in trials)
            # parents as bred in this run: the registry keeps only a genome's first-written parents
            rows.append({"id": g.id, "origin": g.origin, "parents": list(g.parents),
                         "elite": g.id in self.elite_ids,
                         "fitness": landscapes.fitness(self.settings.landscape, trials, cap),
                         "success": landscapes.success_rate(trials),
                         "median_steps": float(np.median(steps)), "steps_to_grok": ok,
                         "failed": len(trials) - len(ok) - censored, "censored": censored,
                         "censored_key": list(censored_key(trials))})

        def order(i: int) -> tuple:
            r = rows[i]
            if r["censored"]:
                return (1, -r["censored_key"][0], -r["censored_key"][1], r["id"])
            return (0, -r["fitness"], 0.0, r["id"])

        ranked = sorted(range(len(rows)), key=order)
        fits = [r["fitness"] for r in rows]
        hof = []
        seen: set[str] = set()
        for i in admitted([rows[i]["success"] for i in ranked], self.settings.hof_strictness):
            row = rows[ranked[i]]
            if row["id"] in seen or row["censored"]:   # a censored genome's record is unfinished
                continue
            seen.add(row["id"])
            evidence = {"run_id": self.run_id, "generation": gen, "landscape": self.settings.landscape,
                        "fitness": row["fitness"], "success_rate": row["success"], "seeds": seeds,
                        "steps_to_grok": row["steps_to_grok"], "strictness": self.settings.hof_strictness}
            genome = next(g for g in self.population if g.id == row["id"])
            if self.registry.add_to_hall_of_fame(genome, task_id=self.task.task_id, evidence=evidence):
                hof.append(row["id"])
        best = rows[ranked[0]]
        return {"generation": gen, "seeds": seeds, "genomes": rows, "best_id": best["id"],
                "best_fitness": best["fitness"], "mean_fitness": float(np.mean(fits)),
                "median_fitness": float(statistics.median(fits)),
                "success_rate": float(np.mean([r["success"] for r in rows])),
                "diversity": diversity(self.population), "hall_of_fame_added": hof,
                "ranking": [rows[i]["id"] for i in ranked]}

    def _next_population(self, gen: int, record: dict[str, Any],
                         by_genome: dict[str, list[TrialResult]]) -> tuple[list[Genome], set[str]]:
        s = self.settings
        rows = {r["id"]: r for r in record["genomes"]}
        genomes = {g.id: g for g in self.population}
        # senescence: an elite that failed a trial this generation loses its status and dies (one
        # that racing stopped is unproven: it is not re-elected, but it is not dead either)
        dead = {gid for gid in self.elite_ids if rows[gid]["failed"] > 0}
        record["died"] = sorted(dead)
        ranked = [genomes[gid] for gid in dict.fromkeys(record["ranking"]) if gid not in dead]
        elites = [g for g in ranked if rows[g.id]["failed"] == 0 and not rows[g.id].get("censored")][:s.elites]
        nxt = [clone(g, generation=gen + 1, name=g.name) for g in elites]
        nxt += [random_genome(self.spec, self.rng, generation=gen + 1, name=f"g{gen + 1}-alien{i}")
                for i in range(s.aliens)]
        pool = breeding_pool(ranked, s.selection) if ranked else [random_genome(self.spec, self.rng)]
        nxt += breed(pool, s.population - len(nxt), s, self.rng, gen + 1)
        return nxt, {g.id for g in elites}

    def run(self, on_event: Callable[[Any], None] | None = None, cancel: Cancel | None = None,
            pause: Cancel | None = None) -> list[dict[str, Any]]:
        """Run generations until the last one, or until ``pause`` is set (checked between
        generations, so a pause loses no work; ``cancel`` stops inside a generation)."""
        while not self.done and not (pause is not None and pause.is_set()):
            self.step(on_event, cancel)
        return self.history


def _race_record(race: Race | None, results: list[TrialResult], cap: int) -> dict[str, Any] | None:
    """What racing did in a generation: its rule, stop step, the trials it censored, the member-steps
    its trials train under the rule, and the member-steps the censored ones did not train (at most
    cap - S each: a stopped trial might have grokked before the cap). Computed from the rule's labels,
    so a resumed generation records the same figures (a population that did not yet know a later
    one's leaders may train a little past S)."""
    if race is None:
        return None
    trained = sum(int(r.metrics.get("steps") or 0) for r in results if r.status != "cancelled")
    not_trained = sum(cap - int(r.metrics["censored_at"]) for r in results if r.status == CENSORED)
    return {"factor": race.rule.factor, "floor": race.rule.floor, "stop_step": race.stop_step(),
            "censored": sum(r.status == CENSORED for r in results), "member_steps": trained,
            "member_steps_not_trained": not_trained}


def _new_run_id(settings: EvolutionSettings) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{settings.arena}-{stamp}-s{settings.run_seed}"

