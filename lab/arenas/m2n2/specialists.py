"""The "specialists" variant of M2N2, as in the simplified CIFAR-10 implementations: one model per class trained
on that class alone, then generations that merge the fittest model with the specialist for its weakest class.

Randomness comes from generators seeded by ``config.seed``; populations are saved as .npz + .json, never pickled
(specialists_state.py: the config, the members and their files).
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from lab.arenas.m2n2.specialist_models import build_model
from lab.arenas.m2n2.specialists_state import (POPULATION_JSON, POPULATION_NPZ, SCHEMA_VERSION,
                                               ConfigError, Member, PopulationState, SpecialistsConfig,
                                               config_from_mapping, load_config, load_population, save_config,
                                               save_population)
from lab.data import Dataset, load_dataset

__all__ = ["SpecialistsRun", "SpecialistsConfig", "ConfigError", "Member", "PopulationState", "REPORT_KEYS",
           "MERGE_KEYS", "SCHEMA_VERSION", "POPULATION_NPZ", "POPULATION_JSON", "config_from_mapping",
           "load_config", "save_config", "save_population", "load_population"]

# Every report has these keys; "merge" is None except after a generation, when it has MERGE_KEYS.
REPORT_KEYS = ("phase", "generation", "best_fitness", "mean_fitness", "best_per_class", "best_origin",
               "population_size", "specialist", "merge")
MERGE_KEYS = ("parent1_origin", "parent1_fitness", "parent1_per_class", "weakest_class", "parent2_origin",
              "parent2_fitness", "weight1", "mutated", "child_fitness", "child_survived")
EVAL_CHUNK = 4096       # test images per forward pass: bounds a CIFAR CNN's activations to ~300 MB
_INIT, _NICHE, _EVOLUTION = 0, 1, 2   # independent random streams derived from config.seed


class Cancel(Protocol):
    def is_set(self) -> bool: ...


class SpecialistsRun:
    """One run: ``train_specialists`` (niche adaptation), then ``step`` per generation, or ``run`` for both."""

    def __init__(self, config: SpecialistsConfig, *, data: Dataset | None = None) -> None:
        if data is None:
            data = load_dataset(config.dataset, config.data_folder or None)
        elif data.name != config.dataset:
            raise ValueError(f"the data set is {data.name!r} but the config names {config.dataset!r}")
        missing = [data.classes[c] for c in range(data.n_classes) if not (data.y_train == c).any()]
        if missing:
            raise ValueError(f"no training images of class {', '.join(missing)}: every class needs a specialist")
        if len(data.y_test) == 0:
            raise ValueError(f"data set {data.name!r} has no test images to measure fitness on")
        self.config, self.data, self.n_classes = config, data, data.n_classes
        self.device = torch.device(config.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {config.device!r} was asked for, but torch sees no CUDA GPU here")
        self.population_size = config.population_size or data.n_classes
        scale = np.float32(1.0 / data.pixel_max)
        self._x_train = torch.from_numpy(np.asarray(data.x_train) * scale).to(self.device)
        self._x_test = torch.from_numpy(np.asarray(data.x_test) * scale).to(self.device)
        self._y_train_cpu = torch.from_numpy(np.array(data.y_train))  # indices are drawn on the CPU
        self._y_train = self._y_train_cpu.to(self.device)
        self._y_test = torch.from_numpy(np.array(data.y_test)).to(self.device)
        # One shared initialisation for every specialist: models grown from different random inits sit in
        # unrelated basins (their units permuted), and averaging their weights gives noise, not a merge.
        self.model = build_model(data.shape, data.n_classes, hidden=config.hidden,
                                 generator=_generator(config.seed, _INIT), device=self.device)
        self.initial_state = _detached(self.model.state_dict())
        self.niche_bank: dict[int, Member] = {}
        self.population: list[Member] = []   # kept sorted, fittest first
        self.generation = 0
        self._rng = _generator(config.seed, _EVOLUTION)

    @property
    def specialists_done(self) -> bool:
        return len(self.niche_bank) == self.n_classes and bool(self.population)

    # ---- niche adaptation ------------------------------------------------------------------------
    def train_specialists(self, on_report: Callable[[dict], None] | None = None,
                          cancel: Cancel | None = None) -> dict:
        """Train every missing specialist (one report each), then seat the fittest as the population."""
        for c in range(self.n_classes):
            if c in self.niche_bank:
                continue
            state = None if _is_set(cancel) else self._train_specialist(c, cancel)
            if state is None:
                break
            self.niche_bank[c] = Member(state, *self.evaluate(state), origin=f"specialist:{c}")
            if on_report is not None:
                on_report(self._report("specialists", specialist=c))
        if len(self.niche_bank) == self.n_classes and not self.population:
            ranked = sorted(self.niche_bank.values(), key=lambda m: -m.fitness)   # stable: ties by class
            self.population = ranked[:self.population_size]
        return self._report("specialists")

    def _train_specialist(self, c: int, cancel: Cancel | None) -> dict[str, torch.Tensor] | None:
        # its own stream per class: a niche trains the same whether or not earlier ones were cancelled
        g = _generator(self.config.seed, _NICHE, c)
        niche = torch.nonzero(self._y_train_cpu == c).flatten()
        share = self.config.niche_negatives
        if share > 0:
            others = torch.nonzero(self._y_train_cpu != c).flatten()
            n_neg = min(len(others), round(len(niche) * share / (1 - share)))
            niche = torch.cat([niche, others[torch.randperm(len(others), generator=g)[:n_neg]]])
        count = self.config.specialist_epochs * math.ceil(len(niche) / self.config.batch_size)
        batches = (niche[b] for b in _minibatches(len(niche), self.config.batch_size, g, count))
        return self._train(self.initial_state, batches, self.config.lr, cancel)

    # ---- evolution -------------------------------------------------------------------------------
    def step(self) -> dict:
        """One generation (training the specialists first if they are not done); returns its report."""
        report = self._generation(None)
        assert report is not None   # only a cancel stops a generation
        return report

    def run(self, on_report: Callable[[dict], None] | None = None, cancel: Cancel | None = None) -> dict:
        """Specialists if not done, then generations up to ``config.generations``; returns the last report."""
        report = self.train_specialists(on_report, cancel)
        while self.specialists_done and self.generation < self.config.generations and not _is_set(cancel):
            next_report = self._generation(cancel)
            if next_report is None:
                break
            report = next_report
            if on_report is not None:
                on_report(report)
        return report

    def _generation(self, cancel: Cancel | None) -> dict | None:
        if not self.specialists_done:
            self.train_specialists(cancel=cancel)
            if not self.specialists_done:
                return None
        cfg, rng_before = self.config, self._rng.get_state()
        parent1 = self.population[0]
        weakest = int(np.nanargmin(parent1.per_class))
        parent2 = self.niche_bank[weakest]
        total = parent1.fitness + parent2.fitness
        w1 = parent1.fitness / total if total > 0 else 0.5
        child = {k: w1 * parent1.state[k] + (1.0 - w1) * parent2.state[k] for k in parent1.state}
        mutated = bool(torch.rand((), generator=self._rng) < cfg.mutation_prob)
        if mutated:
            child = {k: v + cfg.mutation_std * torch.randn(v.shape, generator=self._rng).to(self.device)
                     for k, v in child.items()}
        batches = _minibatches(len(self._y_train), cfg.batch_size, self._rng, cfg.finetune_steps)
        tuned = self._train(child, batches, cfg.finetune_lr, cancel)
        if tuned is None:
            self._rng.set_state(rng_before)   # a cancelled generation leaves no trace, so a resume matches
            return None
        fitness, per_class = self.evaluate(tuned)
        self.generation += 1
        newborn = Member(tuned, fitness, per_class, f"child of m0+niche{weakest} (gen {self.generation})")
        # elitist survival; the sort is stable, so an incumbent beats a child of equal fitness
        self.population = sorted(self.population + [newborn], key=lambda m: -m.fitness)[:self.population_size]
        merge = dict(parent1_origin=parent1.origin, parent1_fitness=parent1.fitness,
                     parent1_per_class=list(parent1.per_class), weakest_class=weakest,
                     parent2_origin=parent2.origin, parent2_fitness=parent2.fitness, weight1=w1, mutated=mutated,
                     child_fitness=fitness, child_survived=any(m is newborn for m in self.population))
        return self._report("evolution", merge=merge)

    # ---- shared pieces ---------------------------------------------------------------------------
    def _train(self, state: Mapping[str, torch.Tensor], batches: Iterable[torch.Tensor], lr: float,
               cancel: Cancel | None) -> dict[str, torch.Tensor] | None:
        """SGD from ``state`` over the minibatches of training indices; None when cancelled."""
        self.model.load_state_dict(state)
        optimizer = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=self.config.momentum)
        for idx in batches:
            if _is_set(cancel):
                return None
            idx = idx.to(self.device)
            loss = F.cross_entropy(self.model(self._x_train[idx]), self._y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return _detached(self.model.state_dict())

    def evaluate(self, state: Mapping[str, torch.Tensor]) -> tuple[float, tuple[float, ...]]:
        """Accuracy on the whole test split and per class (NaN for a class with no test images)."""
        with torch.no_grad():
            predicted = torch.cat([torch.func.functional_call(self.model, dict(state), (x,)).argmax(1)
                                   for x in self._x_test.split(EVAL_CHUNK)])
        correct = (predicted == self._y_test).double()
        hits = torch.bincount(self._y_test, weights=correct, minlength=self.n_classes)
        counts = torch.bincount(self._y_test, minlength=self.n_classes).double()
        return correct.mean().item(), tuple((hits / counts).tolist())   # 0/0 = NaN for an absent class

    def _report(self, phase: str, *, specialist: int | None = None, merge: dict | None = None) -> dict:
        members = self.population or list(self.niche_bank.values())
        best = max(members, key=lambda m: m.fitness) if members else None
        return {"phase": phase, "generation": self.generation,
                "best_fitness": best.fitness if best else None,
                "mean_fitness": float(np.mean([m.fitness for m in members])) if members else None,
                "best_per_class": list(best.per_class) if best else None,
                "best_origin": best.origin if best else None,
                "population_size": len(members), "specialist": specialist, "merge": merge}

    def best(self) -> tuple[dict[str, torch.Tensor], float]:
        """A copy of the fittest member's state dict, and its test accuracy."""
        members = self.population or list(self.niche_bank.values())
        if not members:
            raise ValueError("no model trained yet: run train_specialists() or run() first")
        top = max(members, key=lambda m: m.fitness)
        return _detached(top.state), top.fitness

    # ---- checkpoints -----------------------------------------------------------------------------
    def state(self) -> PopulationState:
        return PopulationState(self.config, list(self.population), dict(self.niche_bank), self.generation,
                               tuple(self.data.shape), self.n_classes, self._rng.get_state())

    def save(self, folder: str | os.PathLike[str]) -> Path:
        return save_population(folder, self.state())

    @classmethod
    def load(cls, folder: str | os.PathLike[str], data: Dataset | None = None, *,
             config: SpecialistsConfig | None = None) -> SpecialistsRun:
        """Resume a saved run (``config`` may change how it goes on, not its model or seed)."""
        saved = load_population(folder, config)
        run = cls(saved.config, data=data)
        if tuple(run.data.shape) != saved.sample_shape or run.n_classes != saved.n_classes:
            raise ValueError(f"the population in {folder} was trained on {saved.n_classes} classes of "
                             f"{list(saved.sample_shape)} images, the data has {run.n_classes} classes of "
                             f"{list(run.data.shape)}")
        moved = {id(m): Member({k: v.to(run.device) for k, v in m.state.items()}, m.fitness, m.per_class, m.origin)
                 for m in [*saved.members, *saved.niche_bank.values()]}
        run.population = [moved[id(m)] for m in saved.members]
        run.niche_bank = {c: moved[id(m)] for c, m in saved.niche_bank.items()}
        run.generation = saved.generation
        run._rng.set_state(saved.rng_state)
        return run


def _generator(seed: int, *stream: int) -> torch.Generator:
    """A CPU generator for one named stream of ``seed``; streams never share draws."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, *stream]).generate_state(1)[0]))


def _minibatches(n: int, batch_size: int, generator: torch.Generator, count: int) -> Iterator[torch.Tensor]:
    """``count`` minibatches of indices into n examples: shuffled passes back to back (a pass's last may be short)."""
    made = 0
    while made < count:
        for batch in torch.randperm(n, generator=generator).split(batch_size):
            if made == count:
                return
            made += 1
            yield batch


def _detached(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in state.items()}


def _is_set(cancel: Cancel | None) -> bool:
    return cancel is not None and cancel.is_set()
