"""The GENREG engine: a population of MLPs whose weights evolve by trust, with no gradients.

One generation, as the GENREG sources describe it:

1. **Senses.** ``images_per_class`` images of each class are drawn (with replacement) and shown in
   one shuffled order; every genome sees the same images.
2. **Trust.** For each image a genome's trust is first multiplied by ``1 - trust_decay`` and then
   gains ``reward`` for a right answer or loses ``penalty`` for a wrong one. Answers are drawn from
   the genome's softmax (the published code) or are its argmax (``task.sampling``). Over B images
   that is exactly ``trust (1-d)^B + sum_t r_t (1-d)^(B-1-t)``, which is how it is computed
   (:func:`trust_after`). With d = 0.001 and B = 200 the generation's decay is x0.82: the README's
   "trust x 0.8 per generation" is the same decay spread over a generation.
3. **Selection.** The top ``survival`` share by trust are the survivors. The whole population is
   replaced by children (the published ``evolve()``): each child copies a survivor drawn with
   probability proportional to trust (shifted so the weakest survivor weighs 1, as published), or
   (``task.crossover``) takes each weight from one of two such parents at random, the uniform
   crossover of the later published code. Each weight of a child mutates with probability
   ``child_mutation_rate`` (Gaussian noise, ``child_mutation_sigma``); then the new population gets
   the base mutation (``base_mutation_rate`` / ``base_mutation_sigma``; 0 turns it off, which is the
   published ``evolve()`` exactly). A child starts with ``inheritance`` x its (first) parent's trust.

The whole population is one stack of weights: a generation is one matrix product per layer for all
genomes and images, never a Python loop over either. Layout: ``w1`` [D, G, H] (so the first layer
of all genomes is a single [D, G*H] matrix with no copy), ``b1`` [G, H], ``w2`` [G, H, C], ``b2``
[G, C]. Hidden units are tanh; initial weights U(-0.5, 0.5) and biases U(-0.1, 0.1), as in the
GENREG controllers. All randomness comes from one generator seeded by ``seed``.

A run here is a stack of one (stack.py): the Evolution Lab trains many runs as one stack, and a run
gives the same numbers there as here. The settings, the population math and the random draws are
in population.py.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from lab.arenas.genreg.population import (GENOME_AXIS, PARAMS, GenregSettings, draw_parents, mutation_draws,
                                          mutation_positions, pick, population_logits, trust_after)
from lab.arenas.genreg.stack import HISTORY_COLUMNS, GenregStack
from lab.arenas.genreg.task import GenregTask
from lab.arenas.live_settings import LiveSettings
from lab.arenas.task_data import TaskData

__all__ = ["GENOME_AXIS", "PARAMS", "GenregEngine", "GenregSettings", "mutation_positions", "pick",
           "population_logits", "trust_after"]


def _record(name: str) -> property:
    """The lone run's record field ``name`` as an attribute of the engine (read and written)."""
    return property(lambda self: getattr(self.runs[0], name), lambda self, value: setattr(self.runs[0], name, value),
                    doc=f"The run's {name.replace('_', ' ')}.")


class GenregEngine(GenregStack, LiveSettings):
    """One GENREG run. ``step(n)`` runs n generations; ``last`` is the latest generation's report.
    Its settings may change between generations (lab.arenas.live_settings), all but the shape of
    its population."""

    FIXED_SETTINGS, TITLE = ("population", "hidden"), "GENREG"

    curve, test_acc, test_per_class = _record("curve"), _record("test_acc"), _record("test_per_class")
    generations_to_target, last, best = _record("generations_to_target"), _record("last"), _record("best")
    history = _record("history")

    def __init__(self, task: GenregTask, settings: GenregSettings, seed: int, *, device: str = "cpu",
                 data: TaskData | None = None):
        super().__init__(task, [settings], [seed], device=device, data=data)
        self.settings, self.seed, self.gen = settings, self.seeds[0], self.gens[0]

    @property
    def current_settings(self) -> GenregSettings:
        return self.settings

    def apply_settings(self, settings: GenregSettings) -> None:
        self._use_settings([settings])
        self.settings = settings

    def history_table(self) -> tuple[tuple[str, ...], list[list[Any]]]:
        """A row per generation: the best and mean training accuracy of its images, the trust range,
        the test accuracy where the generation was evaluated."""
        return HISTORY_COLUMNS, [list(row) for row in self.history]

    @property
    def params(self) -> dict[str, torch.Tensor]:
        """The population: ``w1`` [D, G, H], ``b1`` [G, H], ``w2`` [G, H, C], ``b2`` [G, C]."""
        return self.run_params(0)

    @params.setter
    def params(self, params: Mapping[str, torch.Tensor]) -> None:
        self.weights = {k: params[k].unsqueeze(0) for k in PARAMS}

    @property
    def trust(self) -> torch.Tensor:
        """Each genome's trust [G] (float64)."""
        return self.trusts[0]

    @trust.setter
    def trust(self, trust: torch.Tensor) -> None:
        self.trusts = trust.unsqueeze(0)

    # ---- the parts of a generation, one at a time (tests and views) --------------------------
    def draw_images(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``images_per_class`` images of each class (with replacement), in one shuffled order."""
        x, y = self.draw_stack_images()
        return x[0], y[0]

    def answers(self, logits: torch.Tensor) -> torch.Tensor:
        """Each genome's answer to each image: drawn from its softmax (Gumbel-max) or its argmax."""
        return self.stack_answers(logits.unsqueeze(0))[0]

    def parents(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Each child's parent (and second parent with crossover): survivors drawn in proportion to
        trust, shifted so the weakest survivor weighs 1."""
        return draw_parents(self.trust, self.settings.survivors, self.task.crossover, self.gen)

    def evolve(self) -> None:
        """Replace the population by mutated children of the survivors (see the module text)."""
        inherited = self.breed(self.trusts)
        self.weights, self._spare, self.trusts = self._spare, self.weights, inherited

    def _mutate_(self, x: torch.Tensor, *mutations: tuple[float, float]) -> None:
        """Apply each (rate, sigma) mutation to ``x`` in place (population.mutation_draws)."""
        drawn = mutation_draws(x.numel(), mutations, self.gen)
        if drawn is not None:
            x.view(-1).index_add_(0, drawn[0].to(x.device), drawn[1].to(x.device))

    # ---- what is reported --------------------------------------------------------------------
    def accuracy(self, x: torch.Tensor, y: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None
                 ) -> tuple[float, list[float]]:
        """Argmax accuracy of the latest best genome (or ``params``, one genome) on (x, y), overall
        and per class."""
        return super().accuracy(x, y, params if params is not None else self.best)

    def evaluate(self, train_acc: float = 0.0) -> float:
        """Test accuracy of the generation's best genome (by trust); adds a point to the curve."""
        return self.evaluate_run(0, train_acc)

    @torch.no_grad()
    def hidden_layer(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """The best genome's hidden units [N, H] (tanh) and logits [N, C] on images ``x`` [N, D]."""
        w = self.best
        h = torch.tanh(x @ w["w1"][:, 0] + w["b1"][0])
        return h.cpu().numpy(), (h @ w["w2"][0] + w["b2"][0]).cpu().numpy()

    def first_layer_images(self, most: int = 64) -> torch.Tensor | None:
        """The best genome's first-layer weights as images [H, rows, cols] (None when the inputs are
        not square images)."""
        shape = self.data.image_shape
        if shape is None:
            return None
        w = self.best["w1"][:, 0, :most]          # [D, H]
        return w.t().reshape(-1, *shape).cpu()

    def snapshot(self) -> dict[str, Any]:
        """The run now, for a view: trust and this generation's accuracy per genome, the best
        genome's train/test and per-class test accuracy, its first-layer weights, the curve."""
        last = self.last
        images = self.first_layer_images()
        return {"unit": self.unit, "passes": self.generation, "budget": self.task.generations, "seed": self.seed,
                "fitness": [float(t) for t in last.get("trust", self.trust.cpu().numpy())],
                "fitness_label": "trust",
                "train_acc": [float(a) for a in last.get("train_acc", [])],
                "best": last.get("best", 0), "best_train_acc": last.get("best_train_acc", 0.0),
                "mean_train_acc": last.get("mean_train_acc", 0.0),
                "test_acc": self.test_acc, "per_class": list(self.test_per_class), "classes": list(self.data.classes),
                "weights": images.numpy() if images is not None else None,
                "population": self.settings.population, "survivors": self.settings.survivors,
                "curve": {key: list(v) for key, v in self.curve.items()}}

    # ---- checkpoints: npz + JSON, never pickle ------------------------------------------------
    def save(self, path: str) -> list[str]:
        from lab.arenas.genreg.checkpoint import save_population

        return save_population(self, path)

    def load(self, path: str) -> None:
        from lab.arenas.genreg.checkpoint import load_population

        load_population(self, path)
