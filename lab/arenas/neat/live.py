"""A NEAT run's settings changed while it runs, and its history as a table (lab.arenas.live_settings).

The population's size, the species controller's mode and the starting compatibility threshold (which
the controller moves from there) stay as the run started; every other setting takes effect from the
next generation: mutation rates, compatibility coefficients, the controller's target and gains,
backprop, refinement and selection."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from lab.arenas.live_settings import LiveSettings

HISTORY_COLUMNS = ("generation", "best_fitness", "mean_fitness", "champion_val_acc", "champion_test_acc",
                   "champion_hidden", "champion_connections", "species", "threshold")


class NeatLive(LiveSettings):
    """The NeatEngine's half that takes new settings mid-run."""

    FIXED_SETTINGS, TITLE = ("population", "species_control", "compat_threshold"), "NEAT"

    @property
    def current_settings(self) -> Any:
        return self.settings

    def apply_settings(self, settings: Any) -> None:
        activations = self.task.activation_set
        if settings.hidden_activation not in ("random", *activations):
            raise ValueError(f"hidden_activation {settings.hidden_activation!r} is not 'random' or one of the "
                             f"task's activations ({', '.join(activations)})")
        self.rates = settings.rates(activations, self.feed_forward)
        self.compat = settings.compatibility()
        self.controller.s = settings.controller()
        if settings.species_target != self.settings.species_target:
            self.controller.target = settings.controller().target
        self.settings = settings

    def hidden_layer(self, x: Any) -> tuple[Any, Any]:
        """The champion's hidden nodes' values [N, hidden] and outputs [N, outputs] on inputs ``x``."""
        from lab.arenas.neat.network import hidden_values
        if self.champion is None:
            raise ValueError("no champion yet: run a generation first")
        return hidden_values(self.champion, np.asarray(x, dtype=np.float32), self.feed_forward, self.task.ticks)

    def history_table(self) -> tuple[tuple[str, ...], list[list[Any]]]:
        """A row per generation: the population's best and mean fitness, the champion's accuracy and
        size, the number of species and the compatibility threshold the generation was split by."""
        c, sizes = self.curve, self.species_history["sizes"]
        thresholds = self.controller.history["threshold"]
        rows = []
        for i, step in enumerate(c["step"]):
            species = sum(1 for n in sizes[i] if n) if i < len(sizes) else None
            threshold = thresholds[i] if i < len(thresholds) else None
            rows.append([step, c["best"][i], c["mean"][i], c["val_acc"][i], c["test_acc"][i], c["hidden"][i],
                         c["connections"][i], species, threshold])
        return HISTORY_COLUMNS, [[None if isinstance(v, float) and not math.isfinite(v) else v for v in row]
                                 for row in rows]
