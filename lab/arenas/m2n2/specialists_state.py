"""The specialists variant's settings and saved state: the validated config (and its JSON file), the
population's members, and the population files (state dicts as .npz arrays + .json, never pickle).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab.arenas.m2n2.specialist_models import parameter_shapes, weight_problems
from lab.arenas.weights_io import read_json, read_weight_archive, replace_together, weight_archive
from lab.data import DATASET_NAMES
from lab.files import atomic_write_text

SCHEMA_VERSION = 1
POPULATION_NPZ, POPULATION_JSON = "population.npz", "population.json"

class ConfigError(ValueError):
    """A config with bad values; ``problems`` lists each one (the message joins them)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid specialists config: " + "; ".join(problems))
        self.problems = problems


_WHOLE_MIN = {"seed": 0, "specialist_epochs": 1, "batch_size": 1, "generations": 0, "finetune_steps": 0, "hidden": 1}
_REAL_RANGE: dict[str, tuple[str, Callable[[float], bool]]] = {
    "lr": ("> 0", lambda v: v > 0), "finetune_lr": ("> 0", lambda v: v > 0),
    "momentum": ("in [0, 1)", lambda v: 0 <= v < 1), "mutation_prob": ("in [0, 1]", lambda v: 0 <= v <= 1),
    "mutation_std": (">= 0", lambda v: v >= 0), "niche_negatives": ("in [0, 1)", lambda v: 0 <= v < 1)}


@dataclasses.dataclass(frozen=True)
class SpecialistsConfig:
    """One specialists run. Defaults follow the simplified CIFAR-10 M2N2 implementations (one specialist per
    class, one epoch on its class alone, a 10% chance of N(0, 0.01^2) mutation, population = number of
    classes), with the SGD settings and the 64-unit MLP of this lab and the bundled digits as data."""

    dataset: str = "digits"               # one of lab.data.DATASET_NAMES
    data_folder: str = ""                 # the MNIST / CIFAR-10 files; digits need none
    seed: int = 0                         # every random draw comes from generators seeded by this
    population_size: int | None = None    # None: one member per class (the simplified implementations' 10)
    specialist_epochs: int = 1            # the simplified implementations' specialize(epochs=1)
    lr: float = 0.01                      # SGD learning rate of niche adaptation
    momentum: float = 0.9                 # SGD momentum, niche adaptation and fine-tuning
    batch_size: int = 64
    generations: int = 20
    mutation_prob: float = 0.1            # chance that a child gets Gaussian noise on every parameter
    mutation_std: float = 0.01
    finetune_steps: int = 50              # minibatches of all-class training data per child
    finetune_lr: float = 0.01
    hidden: int = 64                      # MLP hidden width (digits, MNIST); CIFAR-10 uses the fixed CNN
    niche_negatives: float = 0.0          # share of other-class images in a niche's data; 0 = published
    device: str = "cpu"                   # "cpu", "cuda", "cuda:1", ...

    def __post_init__(self) -> None:
        problems = []
        if self.dataset not in DATASET_NAMES:
            problems.append(f"dataset {self.dataset!r} is not one of {', '.join(DATASET_NAMES)}")
        if not isinstance(self.data_folder, str):
            problems.append(f"data_folder must be text, got {self.data_folder!r}")
        for name, low in _WHOLE_MIN.items():
            if not _is_whole(getattr(self, name), low):
                problems.append(f"{name} must be a whole number >= {low}, got {getattr(self, name)!r}")
        if self.population_size is not None and not _is_whole(self.population_size, 1):
            problems.append(f"population_size must be a whole number >= 1 or null, got {self.population_size!r}")
        for name, (wanted, ok) in _REAL_RANGE.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not ok(v):
                problems.append(f"{name} must be a finite number {wanted}, got {v!r}")
        try:
            torch.device(self.device if isinstance(self.device, str) else "not text")
        except (RuntimeError, TypeError, ValueError):
            problems.append(f"device {self.device!r} is not a torch device such as 'cpu' or 'cuda'")
        if problems:
            raise ConfigError(problems)


def _is_whole(v: Any, low: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def config_from_mapping(values: Any, where: str) -> SpecialistsConfig:
    """A config from parsed JSON; unknown keys and bad values are one ValueError that starts with ``where``."""
    if not isinstance(values, dict):
        raise ValueError(f"{where} must hold a JSON object of settings, not {type(values).__name__}")
    known = [f.name for f in dataclasses.fields(SpecialistsConfig)]
    problems = [f"unknown key {k!r} (known keys: {', '.join(known)})" for k in values if k not in known]
    try:
        config = SpecialistsConfig(**{k: v for k, v in values.items() if k in known})
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems))
    return config


def load_config(path: str | os.PathLike[str]) -> SpecialistsConfig:
    """The config in a JSON file; anything wrong is one ValueError naming the file and each problem."""
    values = read_json(Path(path), "config file")
    return config_from_mapping(values, f"config file {path}")


def save_config(config: SpecialistsConfig, path: str | os.PathLike[str]) -> Path:
    """Write ``config`` as JSON, whole or not at all."""
    return atomic_write_text(Path(path), json.dumps(dataclasses.asdict(config), indent=2) + "\n")


@dataclasses.dataclass(eq=False)
class Member:
    """One model of the population or the niche bank; ``per_class`` is NaN for a class the test split lacks."""

    state: dict[str, torch.Tensor]
    fitness: float                  # accuracy on the whole test split
    per_class: tuple[float, ...]
    origin: str                     # "specialist:3" or "child of m0+niche7 (gen 4)" (m0 = the fittest then)


@dataclasses.dataclass(eq=False)
class PopulationState:
    """Everything needed to resume a run exactly: what save_population writes and load_population returns."""

    config: SpecialistsConfig
    members: list[Member]
    niche_bank: dict[int, Member]    # class -> its original specialist, kept even when the population drops it
    generation: int
    sample_shape: tuple[int, ...]
    n_classes: int
    rng_state: torch.Tensor          # the evolution generator's state


# ---- population files ----------------------------------------------------------------------------
def save_population(folder: str | os.PathLike[str], population: PopulationState) -> Path:
    """Write population.npz (tensors, as ``m{i}/{param}`` and ``niche{c}/{param}``) and population.json."""
    folder = Path(folder)
    arrays = {f"m{i}/{k}": v.detach().cpu().numpy() for i, m in enumerate(population.members)
              for k, v in m.state.items()}
    arrays.update({f"niche{c}/{k}": v.detach().cpu().numpy() for c, m in sorted(population.niche_bank.items())
                   for k, v in m.state.items()})
    arrays["rng_state"] = population.rng_state.cpu().numpy()
    payload = weight_archive(arrays)
    shapes = parameter_shapes(population.sample_shape, population.n_classes, population.config.hidden)
    meta = {"schema_version": SCHEMA_VERSION, "config": dataclasses.asdict(population.config),
            "generation": population.generation, "sample_shape": list(population.sample_shape),
            "n_classes": population.n_classes,
            "parameters": [{"name": k, "shape": list(s)} for k, s in shapes.items()],
            "members": [_member_meta(m) for m in population.members],
            "niche_bank": [dict(_member_meta(m), **{"class": c}) for c, m in sorted(population.niche_bank.items())],
            # the two files are replaced one after the other; the hash tells a reader if they belong together
            "npz_sha256": hashlib.sha256(payload).hexdigest()}
    replace_together({folder / POPULATION_NPZ: payload,
                      folder / POPULATION_JSON: (json.dumps(meta, indent=1) + "\n").encode("utf-8")})
    return folder


def load_population(folder: str | os.PathLike[str], config: SpecialistsConfig | None = None) -> PopulationState:
    """Read what save_population wrote, checked against a freshly built model; a ValueError names each problem.

    ``config`` replaces the saved one (more generations, say) but must keep its data set, seed and hidden width.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"population folder {folder} does not exist")
    meta = read_json(folder / POPULATION_JSON, "population file")
    where = f"cannot load the population in {folder}"
    if not isinstance(meta, dict) or meta.get("schema_version") != SCHEMA_VERSION:
        found = meta.get("schema_version") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"{where}: {POPULATION_JSON} has schema_version {found!r}, this lab reads {SCHEMA_VERSION}")
    saved = config_from_mapping(meta.get("config"), f"{where}: the config in {POPULATION_JSON}")
    changed = [k for k in ("dataset", "seed", "hidden")
               if config is not None and getattr(config, k) != getattr(saved, k)]
    if changed:
        raise ValueError(f"{where}: the given config changes {', '.join(changed)}, which a saved population cannot")
    problems: list[str] = []
    shape, n_classes, generation = meta.get("sample_shape"), meta.get("n_classes"), meta.get("generation")
    if not isinstance(shape, list) or not shape or not all(_is_whole(s, 1) for s in shape):
        problems.append(f"sample_shape must be a list of whole numbers >= 1, got {shape!r}")
    if not _is_whole(n_classes, 1):
        problems.append(f"n_classes must be a whole number >= 1, got {n_classes!r}")
    if not _is_whole(generation, 0):
        problems.append(f"generation must be a whole number >= 0, got {generation!r}")
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems))
    expected = parameter_shapes(shape, n_classes, saved.hidden)
    listed = {p.get("name"): tuple(p["shape"]) if isinstance(p.get("shape"), list) else None
              for p in meta.get("parameters") or [] if isinstance(p, dict)}
    if listed != expected:
        problems.append(f"{POPULATION_JSON} lists the parameters {_describe(listed)} but a freshly built model "
                        f"has {_describe(expected)}")
    members = _entries(meta.get("members"), "members", n_classes, problems)
    niche = _entries(meta.get("niche_bank"), "niche_bank", n_classes, problems)
    classes = [e.get("class") for e in niche]
    if not all(_is_whole(c, 0) and c < n_classes for c in classes) or len(set(classes)) != len(classes):
        problems.append(f"niche_bank classes must be distinct whole numbers 0..{n_classes - 1}, got {classes!r}")
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems))
    arrays, digest = read_weight_archive(folder / POPULATION_NPZ, where)
    owners = {f"m{i}": f"member {i}" for i in range(len(members))}
    owners.update({f"niche{c}": f"the specialist for class {c}" for c in classes})
    problems += weight_problems(arrays, owners, expected, POPULATION_NPZ)
    rng_size = len(torch.Generator().get_state())
    state = arrays.get("rng_state")
    if state is None or state.dtype != np.uint8 or state.shape != (rng_size,):
        problems.append(f"{POPULATION_NPZ}: rng_state is missing or not {rng_size} bytes")
    if not problems and digest != meta.get("npz_sha256"):
        problems.append(f"{POPULATION_NPZ} is not the file {POPULATION_JSON} was saved with (an interrupted save?)")
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems))

    def member(prefix: str, entry: dict) -> Member:
        per_class = tuple(math.nan if v is None else float(v) for v in entry["per_class"])
        return Member({n: torch.from_numpy(arrays[f"{prefix}/{n}"]) for n in expected},
                      float(entry["fitness"]), per_class, entry["origin"])

    return PopulationState(config or saved, [member(f"m{i}", e) for i, e in enumerate(members)],
                           {e["class"]: member(f"niche{e['class']}", e) for e in niche}, generation,
                           tuple(shape), n_classes, torch.from_numpy(state.copy()))


def _member_meta(m: Member) -> dict:
    # JSON has no NaN: a class absent from the test split is null
    return {"fitness": m.fitness, "per_class": [None if math.isnan(v) else v for v in m.per_class],
            "origin": m.origin}


def _entries(entries: Any, field: str, n_classes: int, problems: list[str]) -> list[dict]:
    """The member entries of population.json, each problem appended to ``problems``."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        problems.append(f"{field} must be a list of objects, got {type(entries).__name__}")
        return []
    for i, e in enumerate(entries):
        fitness, per_class = e.get("fitness"), e.get("per_class")
        if isinstance(fitness, bool) or not isinstance(fitness, (int, float)) or not 0 <= fitness <= 1:
            problems.append(f"{field}[{i}].fitness must be a number in [0, 1], got {fitness!r}")
        if (not isinstance(per_class, list) or len(per_class) != n_classes or not all(
                v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1)
                for v in per_class)):
            problems.append(f"{field}[{i}].per_class must be {n_classes} accuracies in [0, 1] or null")
        if not isinstance(e.get("origin"), str):
            problems.append(f"{field}[{i}].origin must be text, got {e.get('origin')!r}")
    return entries


def _describe(shapes: Mapping[Any, tuple]) -> str:
    return ", ".join(f"{k} {list(s)}" for k, s in shapes.items()) or "none"
