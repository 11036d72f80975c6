"""One NEAT run: a population of networks evolved generation by generation.

A generation (:meth:`NeatEngine.step`):

1. **Evaluate** every genome (in chunks through the parallel evaluator; each chunk is one joined
   graph, :mod:`lab.arenas.neat.network`). In backprop mode the best ``refine_fraction`` are then
   trained ``refine_steps`` more steps from where the first stage left them and scored again (the
   two-stage refinement); with ``lamarckian`` the trained weights are written into the genomes.
2. **Speciate**: each genome joins the first species whose representative (a member of the last
   generation) is within the compatibility threshold, or founds a new species; each species then
   draws a new representative from its members. The species controller
   (:mod:`lab.arenas.neat.controller`) sets the threshold for the next generation.
3. **Reproduce**: explicit fitness sharing (a genome's fitness divided by its species' size; a
   species' offspring are proportional to the sum, i.e. its mean fitness, shifted when fitness can
   be negative); species that have not improved for ``stagnation`` generations get none (the best
   ``species_elitism`` species are spared); the best ``elitism`` of each species of
   ``elitism_min_size`` or more, and the population's champion, are copied unchanged; the rest
   are children of the top
   ``survival`` share: by crossover (``crossover`` of them, a partner from another species with
   ``interspecies`` probability; 80% of these are also mutated) or mutated copies.

The run stops when a genome reaches the task's target accuracy (``stop_at_target``) or at the
generation budget.
"""
from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping
from typing import Any

import numpy as np

from lab.arenas.neat.controller import ControllerSettings, SpeciesController
from lab.arenas.neat.genes import NEAT_SPEC
from lab.arenas.neat.genome import (Compatibility, InnovationTracker, MutationRates, NeatGenome, crossover,
                                    fitter_first)
from lab.arenas.neat.live import NeatLive
from lab.arenas.neat.network import EvalSpec, Score, accuracy, apply_trained, evaluate_chunk
from lab.arenas.neat.parallel import Evaluator, ParallelConfig
from lab.arenas.neat.task import NeatTask
from lab.arenas.neat.tasks import NeatData, load_task_data
from lab.arenas.settings import GeneSettings, gene_settings

CONTROL_MODES = ("fixed", "pid", "adaptive")


@gene_settings(NEAT_SPEC, title="NEAT")
class NeatSettings(GeneSettings):
    """Everything a NEAT run is set with: a field per gene of genes.py (name, kind and default from
    there) plus settings no gene carries: the controller's gains and target range, the weight limit,
    L2, the paper's interspecies mating, disable-on-crossover and mate-only rates, elitism details
    and the share of the population refined."""

    # not genes
    target_min: int = 2
    target_max: int = 20
    kp: float = 0.35
    ki: float = 0.02
    kd: float = 0.10
    epsilon: float = 0.1
    weight_limit: float = 8.0
    l2: float = 1e-4
    interspecies: float = 0.001
    disable_rate: float = 0.75
    mate_only: float = 0.2
    elitism_min_size: int = 5
    species_elitism: int = 2
    refine_fraction: float = 0.1
    hidden_activation: str = "random"    # a new node's activation: "random" (of the task's set) or a name

    def problems(self) -> list[str]:
        """What the engine cannot run: it accepts more than the gene table's ranges (a population of
        2, longer refinement), as tests and benchmarks use."""
        problems = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "hidden_activation":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                problems.append(f"{f.name} must be a finite number, got {v!r}")
            elif v < 0:
                problems.append(f"{f.name} must be >= 0, got {v!r}")
        if not problems:
            if self.population < 2:
                problems.append(f"population must be at least 2, got {self.population}")
            for name in ("survival", "crossover", "weight_mutate", "weight_replace", "add_node", "add_conn",
                         "toggle", "activation_mutate", "interspecies", "disable_rate", "mate_only",
                         "refine_fraction"):
                if getattr(self, name) > 1:
                    problems.append(f"{name} is a probability or share, got {getattr(self, name)}")
            if self.survival <= 0 or self.compat_threshold <= 0:
                problems.append("survival and compat_threshold must be above 0")
            if self.species_control not in (0, 1, 2):
                problems.append(f"species_control must be 0, 1 or 2, got {self.species_control}")
            if self.stagnation < 1:
                problems.append(f"stagnation must be at least 1, got {self.stagnation}")
            problems += self.controller().problems()
        return problems

    def controller(self) -> ControllerSettings:
        lo, hi = self.target_min, self.target_max
        return ControllerSettings(CONTROL_MODES[self.species_control] if self.species_control in (0, 1, 2)
                                  else str(self.species_control), self.species_target, lo, hi,
                                  self.kp, self.ki, self.kd, epsilon=self.epsilon)

    def compatibility(self) -> Compatibility:
        return Compatibility(self.c1, self.c2, self.c3)

    def rates(self, activations: tuple[str, ...], feed_forward: bool) -> MutationRates:
        return MutationRates(self.weight_mutate, self.weight_replace, self.weight_sigma, self.weight_init_sigma,
                             self.weight_limit, self.add_node, self.add_conn, self.toggle, self.activation_mutate,
                             activations, self.hidden_activation if self.hidden_activation != "random"
                             or len(activations) > 1 else activations[0], feed_forward)


@dataclasses.dataclass
class Species:
    id: int
    representative: NeatGenome
    born: int
    members: list[NeatGenome] = dataclasses.field(default_factory=list)
    best: float = -math.inf
    improved: int = 0

    @property
    def top(self) -> float:
        return max((g.fitness for g in self.members), default=-math.inf)


class NeatEngine(NeatLive):
    """A NEAT run you can step (the arena's trials, the direct-run view, ``python main.py neat``).

    ``parallel`` (default: from the NEAT_* environment variables) says how chunks are evaluated;
    the engine owns its evaluator, so :meth:`close` it (or use ``with``) when done."""

    unit = "generations"

    def __init__(self, task: NeatTask, settings: NeatSettings, seed: int, *, parallel: ParallelConfig | None = None,
                 data: NeatData | None = None, warn=None):
        self.task = task
        self.settings = settings
        self.seed = int(seed)
        self.rng = random.Random(self.seed)
        self.data = data if data is not None else load_task_data(task.task)
        self.feed_forward = not task.recurrent
        activations = task.activation_set
        if settings.hidden_activation not in ("random", *activations):
            raise ValueError(f"invalid NEAT settings: hidden_activation {settings.hidden_activation!r} is not "
                             f"'random' or one of the task's activations ({', '.join(activations)})")
        self.rates = settings.rates(activations, self.feed_forward)
        self.compat = settings.compatibility()
        self.tracker = InnovationTracker()
        n_out = 1 if task.fitness == "classic" else self.data.n_classes
        out_act = "sigmoid" if task.fitness == "classic" else "identity"
        self.population = [NeatGenome.initial(self.data.n_inputs, n_out, self.tracker, self.rng, out_act,
                                              settings.weight_init_sigma) for _ in range(settings.population)]
        self.controller = SpeciesController(settings.controller(), settings.compat_threshold, self.rng)
        self.threshold = settings.compat_threshold
        self.species: list[Species] = []
        self._next_species = 0
        self.generation = 0
        self.evaluations = 0
        self.solved_at: int | None = None
        self.solver: NeatGenome | None = None
        self.champion: NeatGenome | None = None      # best genome of the last generation (trained weights)
        self.champion_score: Score | None = None
        self.scores: list[Score] = []
        self.curve: dict[str, list] = {"step": [], "best": [], "mean": [], "val_acc": [], "test_acc": [],
                                       "hidden": [], "connections": []}
        self.species_history: dict[str, list] = {"generation": [], "ids": [], "sizes": []}
        self.last_fitness: list[float] = []
        self.parallel = parallel if parallel is not None else ParallelConfig.from_env()
        self.evaluator = Evaluator(evaluate_chunk, self.data.arrays(), self.parallel, warn=warn)

    # ---- the run -------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return (self.solved_at is not None and self.task.stop_at_target) or self.generation >= self.task.generations

    @property
    def passes(self) -> int:
        return self.generation

    def step(self, n: int = 1, cancel=None) -> int:
        """Run up to ``n`` generations (fewer when the run ends); returns how many ran."""
        ran = 0
        while ran < n and not self.done:
            self._generation(cancel)
            ran += 1
        return ran

    def run(self, cancel=None) -> NeatEngine:
        while not self.done and not (cancel is not None and cancel.is_set()):
            self._generation(cancel)
        return self

    def extend(self, generations: int) -> None:
        """Raise the budget to ``generations`` (a resumed run carried further). A run that stopped at
        its old budget skipped breeding the next population; it breeds it now, as a run with the
        larger budget would have."""
        ended = self.done and self.generation > 0
        self.task = dataclasses.replace(self.task, generations=max(int(generations), self.task.generations))
        if ended and not self.done:
            self.tracker.new_generation()
            self.population = self._reproduce()

    def close(self) -> None:
        self.evaluator.close()

    def __enter__(self) -> NeatEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _generation(self, cancel=None) -> None:
        pop = self.population
        scores = self._evaluate(pop, self.settings.backprop_steps, 0, cancel)
        if self.task.fitness == "backprop" and self.settings.refine_steps > 0 and self.settings.refine_fraction > 0:
            scores = self._refine(pop, scores, cancel)
        for g, s in zip(pop, scores):
            g.fitness = s.fitness
            if self.task.fitness == "backprop" and self.settings.lamarckian:
                apply_trained(g, s)
        self.scores = scores
        self.last_fitness = [g.fitness for g in pop]
        self.generation += 1
        self.evaluations += len(pop)
        best = max(range(len(pop)), key=lambda i: pop[i].fitness)
        self.champion, self.champion_score = self._trained(pop[best], scores[best]), scores[best]
        reached = [i for i, s in enumerate(scores) if s.accuracy >= self.task.target_acc - 1e-12]
        if reached and self.solved_at is None:
            self.solved_at = self.generation
            i = max(reached, key=lambda i: pop[i].fitness)
            self.solver = self._trained(pop[i], scores[i])
        self._record(pop, scores)
        self._speciate(pop)
        self.threshold = self.controller.update(len(self.species), pop[best].fitness)
        self._record_species()
        self.evaluator.generation_done()
        if not self.done:
            self.tracker.new_generation()
            self.population = self._reproduce()

    def _trained(self, genome: NeatGenome, score: Score) -> NeatGenome:
        out = genome.copy()
        apply_trained(out, score)
        return out

    # ---- evaluation ----------------------------------------------------------------------------
    def _spec(self, steps: int, stage: int) -> EvalSpec:
        t = self.task
        return EvalSpec(t.fitness, steps, self.settings.learning_rate, self.settings.l2, t.batch_size,
                        (self.seed * 1_000_003 + self.generation * 2 + stage) % (2**63), t.alpha_nodes, t.alpha_edges,
                        self.feed_forward, t.ticks)

    def _evaluate(self, genomes: list[NeatGenome], steps: int, stage: int, cancel=None) -> list[Score]:
        spec = self._spec(steps, stage)
        parts = max(1, min(len(genomes), self.parallel.workers))
        size = math.ceil(len(genomes) / parts)
        chunks = [(genomes[i:i + size], spec) for i in range(0, len(genomes), size)]
        return [s for chunk in self.evaluator.map(chunks, cancel) for s in chunk]

    def _refine(self, pop: list[NeatGenome], scores: list[Score], cancel=None) -> list[Score]:
        """Stage two: the best ``refine_fraction`` of the population, from their stage-one weights,
        trained ``refine_steps`` more steps and scored again."""
        k = max(1, round(len(pop) * self.settings.refine_fraction))
        top = sorted(range(len(pop)), key=lambda i: scores[i].fitness, reverse=True)[:k]
        trained = [self._trained(pop[i], scores[i]) for i in top]
        again = self._evaluate(trained, self.settings.refine_steps, 1, cancel)
        scores = list(scores)
        for i, s in zip(top, again):
            scores[i] = s
        return scores

    def test_accuracy(self, genome: NeatGenome | None = None) -> float:
        """Held-out accuracy of ``genome`` (default: the champion); NaN before the first generation."""
        genome = genome or self.champion
        if genome is None:
            return math.nan
        return accuracy(genome, self.data.x_test, self.data.y_test, self.feed_forward, self.task.ticks)

    def _record(self, pop: list[NeatGenome], scores: list[Score]) -> None:
        c = self.curve
        fit = [g.fitness for g in pop]
        finite = [f for f in fit if math.isfinite(f)]
        c["step"].append(self.generation)
        c["best"].append(max(finite, default=math.nan))
        c["mean"].append(float(np.mean(finite)) if finite else math.nan)
        c["val_acc"].append(self.champion_score.accuracy)
        c["test_acc"].append(self.test_accuracy() if self.task.fitness == "backprop" else math.nan)
        c["hidden"].append(self.champion.n_hidden)
        c["connections"].append(self.champion.n_enabled)

    # ---- speciation ----------------------------------------------------------------------------
    def _speciate(self, pop: list[NeatGenome]) -> None:
        for s in self.species:
            s.members = []
        for g in pop:
            for s in self.species:
                if self.compat.distance(g, s.representative) < self.threshold:
                    s.members.append(g)
                    break
            else:
                self.species.append(Species(self._next_species, g, self.generation, [g], improved=self.generation))
                self._next_species += 1
        self.species = [s for s in self.species if s.members]
        for s in self.species:
            s.representative = self.rng.choice(s.members)
            if s.top > s.best:
                s.best, s.improved = s.top, self.generation

    def _record_species(self) -> None:
        h = self.species_history
        for s in self.species:
            if s.id not in h["ids"]:
                h["ids"].append(s.id)
        sizes = {s.id: len(s.members) for s in self.species}
        h["generation"].append(self.generation)
        h["sizes"].append([sizes.get(i, 0) for i in h["ids"]])

    # ---- reproduction --------------------------------------------------------------------------
    def _offspring_counts(self, alive: list[Species]) -> list[int]:
        """Offspring per species: proportional to the species' summed shared fitness (its mean
        fitness, shifted up when some fitness is negative), by largest remainders."""
        total = self.settings.population
        low = min(min(g.fitness for g in s.members) for s in alive)
        shift = -low if low < 0 else 0.0
        shares = [sum(g.fitness + shift for g in s.members) / len(s.members) for s in alive]
        if not all(math.isfinite(v) for v in shares) or sum(shares) <= 0:
            shares = [1.0] * len(alive)
        raw = [total * v / sum(shares) for v in shares]
        counts = [int(math.floor(r)) for r in raw]
        for i in sorted(range(len(alive)), key=lambda i: raw[i] - counts[i], reverse=True)[:total - sum(counts)]:
            counts[i] += 1
        return counts

    def _reproduce(self) -> list[NeatGenome]:
        st = self.settings
        ranked = sorted(self.species, key=lambda s: s.top, reverse=True)
        protected = {s.id for s in ranked[:st.species_elitism]}
        alive = [s for s in ranked if s.id in protected or self.generation - s.improved < st.stagnation]
        self.species = alive
        counts = self._offspring_counts(alive)
        champions = [max(s.members, key=lambda g: g.fitness) for s in alive]
        new: list[NeatGenome] = []
        for s, n in zip(alive, counts):
            members = sorted(s.members, key=lambda g: g.fitness, reverse=True)
            keep = min(n, st.elitism) if len(members) >= st.elitism_min_size else 0
            if s is alive[0] and st.elitism:     # the population's champion always survives
                keep = max(keep, min(n, 1))
            new.extend(g.copy() for g in members[:keep])
            pool = members[:max(1, math.ceil(len(members) * st.survival))]
            for _ in range(n - keep):
                new.append(self._child(pool, champions))
        return new

    def _child(self, pool: list[NeatGenome], champions: list[NeatGenome]) -> NeatGenome:
        st, rng = self.settings, self.rng
        mum = rng.choice(pool)
        if rng.random() < st.crossover:
            if len(champions) > 1 and rng.random() < st.interspecies:
                dad = rng.choice(champions)
            else:
                dad = rng.choice(pool)
            if dad is not mum:
                child = crossover(*fitter_first(mum, dad), rng, st.disable_rate)
                if rng.random() >= st.mate_only:
                    child.mutate(self.rates, self.tracker, rng)
                return child
        child = mum.copy()
        child.mutate(self.rates, self.tracker, rng)
        return child

    # ---- what a view shows ---------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """What the direct-run view draws (see lab.arenas.neat.charts)."""
        champ = self.champion
        ctrl = self.controller.history
        return {
            "unit": self.unit, "passes": self.generation, "budget": self.task.generations, "seed": self.seed,
            "fitness": list(self.last_fitness),
            "fitness_label": "fitness",
            "curve": {k: list(v) for k, v in self.curve.items()},
            "species": {"generation": list(self.species_history["generation"]),
                        "ids": list(self.species_history["ids"]),
                        "sizes": [list(r) for r in self.species_history["sizes"]]},
            "controller": {k: list(ctrl[k]) for k in ("generation", "target", "threshold", "species", "arm")},
            "champion": champ.to_dict() if champ is not None else None,
            "champion_fitness": champ.fitness if champ is not None else None,
            "input_labels": list(self.data.input_labels), "output_labels": (
                ["out"] if self.task.fitness == "classic" else list(self.data.classes)),
            "solved_at": self.solved_at, "evaluations": self.evaluations, "task": self.task.task,
            "target_acc": self.task.target_acc, "threshold": self.threshold,
            "n_species": len(self.species),
            "val_acc": self.champion_score.accuracy if self.champion_score else math.nan,
            "test_acc": self.curve["test_acc"][-1] if self.curve["test_acc"] else math.nan,
        }
