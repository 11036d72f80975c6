"""A NEAT run saved and resumed exactly: the population and its species, the innovation
numbers, the species controller, the run's random generator, the champion and every curve
(lab.arenas.engine_files: JSON beside a small npz, never pickle; NaN and infinite numbers are
written as JSON's NaN/Infinity literals, which Python reads back exactly). A resumed run gives the same
numbers as one that never stopped. Genomes are read back through the NEAT genome parser, so a
damaged file is named, never half-loaded.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from lab.arenas.engine_files import read_state, read_state_meta, save_state
from lab.arenas.live_settings import read_settings_log
from lab.arenas.neat.engine import Species
from lab.arenas.neat.genome import InnovationTracker, NeatGenome, NeatGenomeError
from lab.arenas.neat.network import Score

KIND = "neat-run"
_CONTROLLER_SKIP = ("s", "rng")


def _genome(g: NeatGenome | None) -> dict[str, Any] | None:
    if g is None:
        return None
    d = g.to_dict()
    d.pop("fitness", None)
    return {"genome": d, "fitness": (g.fitness)}


def _score(s: Score | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"fitness": (s.fitness), "accuracy": (s.accuracy), "train_acc": (s.train_acc),
            "loss": (s.loss),
            "weights": None if s.weights is None else [[k, v] for k, v in s.weights.items()],
            "biases": None if s.biases is None else [[k, v] for k, v in s.biases.items()]}


def save_engine(engine, folder: str | os.PathLike[str]) -> list[str]:
    """Write the engine's whole state to ``folder``; returns the two paths."""
    controller = {k: v for k, v in vars(engine.controller).items() if k not in _CONTROLLER_SKIP}
    version, internal, gauss = engine.rng.getstate()
    meta = {"settings": dataclasses.asdict(engine.settings), "task": engine.task.to_dict(), "seed": engine.seed,
            "rng": [version, list(internal), gauss],
            "tracker": {"next_innovation": engine.tracker.next_innovation, "next_node": engine.tracker.next_node,
                        "connections": [[a, b, i] for (a, b), i in engine.tracker._connections.items()],
                        "splits": [[k, *v] for k, v in engine.tracker._splits.items()]},
            "population": [_genome(g) for g in engine.population],
            "species": [{"id": s.id, "representative": _genome(s.representative), "born": s.born,
                         "members": [_genome(g) for g in s.members], "best": (s.best),
                         "improved": s.improved} for s in engine.species],
            "controller": controller,
            "threshold": engine.threshold, "next_species": engine._next_species, "generation": engine.generation,
            "evaluations": engine.evaluations, "solved_at": engine.solved_at, "solver": _genome(engine.solver),
            "champion": _genome(engine.champion), "champion_score": _score(engine.champion_score),
            "scores": [_score(s) for s in engine.scores],
            "curve": {k: [(x) for x in v] for k, v in engine.curve.items()},
            "species_history": engine.species_history, "last_fitness": [(x) for x in engine.last_fitness],
            "settings_log": engine.settings_log}
    return save_state(folder, KIND, {"generation": np.array([engine.generation], dtype=np.int64)}, meta)


def read_meta(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON half of a saved NEAT run (settings, task, seed: what rebuilds its engine)."""
    return read_state_meta(folder, KIND)


def load_engine(engine, folder: str | os.PathLike[str]) -> None:
    """Put a saved run into ``engine`` (built with the saved settings, task and seed); a damaged or
    foreign file is named and the engine is left untouched unless all of it reads."""
    where = f"cannot resume from {folder}"
    _, meta = read_state(folder, KIND, {"generation": ((1,), "i")})
    ff = engine.feed_forward

    def genome(d: Any) -> NeatGenome | None:
        if d is None:
            return None
        g = NeatGenome.from_dict(d["genome"], feed_forward=ff)
        g.fitness = (d["fitness"])
        return g

    def score(d: Any) -> Score | None:
        if d is None:
            return None
        pairs = lambda v: None if v is None else {int(k): float(x) for k, x in v}   # noqa: E731
        return Score(d["fitness"], d["accuracy"], d["train_acc"], d["loss"],
                     pairs(d["weights"]), pairs(d["biases"]))
    try:
        population = [genome(d) for d in meta["population"]]
        species = [Species(s["id"], genome(s["representative"]), s["born"], [genome(d) for d in s["members"]],
                           s["best"], s["improved"]) for s in meta["species"]]
        tracker = InnovationTracker(meta["tracker"]["next_innovation"], meta["tracker"]["next_node"])
        tracker._connections = {(a, b): i for a, b, i in meta["tracker"]["connections"]}
        tracker._splits = {k: (n, i, j) for k, n, i, j in meta["tracker"]["splits"]}
        version, internal, gauss = meta["rng"]
        rng_state = (version, tuple(internal), gauss)
        fields = dict(solver=genome(meta["solver"]), champion=genome(meta["champion"]),
                      champion_score=score(meta["champion_score"]), scores=[score(s) for s in meta["scores"]],
                      curve={k: [(x) for x in v] for k, v in meta["curve"].items()},
                      species_history=meta["species_history"], last_fitness=[(x) for x in meta["last_fitness"]],
                      threshold=float(meta["threshold"]), _next_species=int(meta["next_species"]),
                      generation=int(meta["generation"]), evaluations=int(meta["evaluations"]),
                      solved_at=meta["solved_at"])
        controller = dict(meta["controller"])
        settings_log = read_settings_log(meta.get("settings_log"), where)
    except (KeyError, TypeError, ValueError, NeatGenomeError) as exc:
        raise ValueError(f"{where}: state.json is damaged ({type(exc).__name__}: {exc})") from None
    if len(population) != engine.settings.population or any(g.n_inputs != engine.data.n_inputs for g in population):
        raise ValueError(f"{where}: the saved population does not fit this run's settings and task")
    engine.rng.setstate(rng_state)
    engine.population, engine.species, engine.tracker = population, species, tracker
    for k, v in controller.items():
        setattr(engine.controller, k, v)
    for k, v in fields.items():
        setattr(engine, k, v)
    engine.settings_log = settings_log
