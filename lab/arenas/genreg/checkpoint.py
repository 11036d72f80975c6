"""GENREG checkpoints on disk: npz arrays + JSON, never pickle.

- A **population** folder holds ``population.npz`` (every genome's weights in the engine's layout,
  the trust of each genome and the generator state) and ``population.json`` (settings, task,
  generation, curve and the npz's sha256, so a half-finished save is caught). Resuming one continues
  the run exactly: the same numbers as a run that never stopped.
- A **model** is one genome (the best by trust) as a state dict: ``<name>.npz`` with ``w1`` [D, H],
  ``b1`` [H], ``w2`` [H, C], ``b2`` [C] and ``<name>.json`` with its inputs, classes and accuracy.

A pickle (a ``.pt``/``.pkl`` file, or one posing as ``.npz``) is refused with a message that says
so, before anything reads it; every other problem is named too. Both files are written to temps and
replaced together, so a failed save leaves the previous checkpoint whole.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab.arenas.genreg.stack import HISTORY_COLUMNS
from lab.arenas.live_settings import read_history, read_settings_log
from lab.arenas.weights_io import read_json, read_weight_archive, replace_together, weight_archive

SCHEMA_VERSION = 1
POPULATION_NPZ, POPULATION_JSON = "population.npz", "population.json"
MODEL_KEYS = ("w1", "b1", "w2", "b2")


def refuse_pickle(path: Path, where: str) -> None:
    """Refuse a file that is a pickle (by its first byte or a torch/pickle suffix), naming it."""
    if path.suffix.lower() in (".pt", ".pth", ".pkl", ".pickle", ".ckpt"):
        raise ValueError(f"{where}: {path.name} is a pickle-based file; GENREG checkpoints are npz + JSON "
                         "and a pickle is never loaded")
    if not path.is_file():
        return   # missing, a folder or a FIFO: named by the reader (which never opens a FIFO)
    try:
        with path.open("rb") as fh:
            head = fh.read(1)
    except OSError:
        return   # an unreadable file is named by the reader
    if head == b"\x80":
        raise ValueError(f"{where}: {path.name} is a pickle file; GENREG checkpoints are npz + JSON "
                         "and a pickle is never loaded")


# ---- the population ------------------------------------------------------------------------------
def save_population(engine, folder: str | os.PathLike[str]) -> list[str]:
    """Write the engine's whole state to ``folder`` (created if missing); returns the two paths."""
    folder = Path(folder)
    arrays = {k: v.detach().cpu().numpy() for k, v in engine.params.items()}
    arrays["trust"] = engine.trust.cpu().numpy()
    arrays["rng_state"] = engine.gen.get_state().numpy()
    payload = weight_archive(arrays)
    meta = {"kind": "genreg-population", "schema_version": SCHEMA_VERSION, "generation": engine.generation,
            "seed": engine.seed, "settings": dataclasses.asdict(engine.settings), "task": engine.task.to_dict(),
            "inputs": engine.data.n_inputs, "classes": list(engine.data.classes), "test_acc": engine.test_acc,
            "test_per_class": engine.test_per_class, "generations_to_target": engine.generations_to_target,
            "curve": engine.curve, "history": engine.history, "settings_log": engine.settings_log,
            "npz_sha256": hashlib.sha256(payload).hexdigest()}
    npz, js = folder / POPULATION_NPZ, folder / POPULATION_JSON
    replace_together({npz: payload, js: (json.dumps(meta, indent=1) + "\n").encode("utf-8")})
    return [str(npz), str(js)]


def read_population_meta(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON half of a saved population, checked for kind and schema (to rebuild its engine)."""
    folder = Path(folder)
    where = f"cannot resume from {folder}"
    if not folder.is_dir():
        raise ValueError(f"{where}: it is not a folder")
    meta = read_json(folder / POPULATION_JSON, f"{where}:")
    if not isinstance(meta, dict) or meta.get("kind") != "genreg-population":
        raise ValueError(f"{where}: {POPULATION_JSON} is not a GENREG population file")
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{where}: {POPULATION_JSON} has schema_version {meta.get('schema_version')!r}, "
                         f"this lab reads {SCHEMA_VERSION}")
    for key, kind in (("settings", dict), ("task", dict), ("generation", int), ("seed", int)):
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise ValueError(f"{where}: {POPULATION_JSON} has no valid {key!r}")
    return meta


def load_population(engine, folder: str | os.PathLike[str]) -> None:
    """Put a saved population into ``engine`` (built with the saved settings and task); every
    mismatch (shapes, trust, generator state, an npz from another save) is named, and the engine
    is left untouched unless all of it fits."""
    folder = Path(folder)
    where = f"cannot resume from {folder}"
    meta = read_population_meta(folder)
    refuse_pickle(folder / POPULATION_NPZ, where)
    arrays, digest = read_weight_archive(folder / POPULATION_NPZ, where)
    problems = []
    for k, v in engine.params.items():
        a = arrays.get(k)
        if a is None or a.dtype != np.float32 or a.shape != tuple(v.shape):
            found = "nothing" if a is None else f"{a.dtype} {list(a.shape)}"
            problems.append(f"{k}: this run needs float32 {list(v.shape)}, the file has {found}")
    trust, rng = arrays.get("trust"), arrays.get("rng_state")
    if trust is None or trust.shape != tuple(engine.trust.shape) or not np.isfinite(trust).all():
        problems.append(f"trust: needs {len(engine.trust)} finite values")
    if rng is None or rng.dtype != np.uint8 or rng.shape != tuple(engine.gen.get_state().shape):
        problems.append("rng_state is missing or of the wrong size")
    if not problems and any(not np.isfinite(arrays[k]).all() for k in engine.params):
        problems.append("the weights hold NaN or infinite values")
    if not problems and digest != meta.get("npz_sha256"):
        problems.append(f"{POPULATION_NPZ} is not the file {POPULATION_JSON} was saved with (an interrupted save?)")
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems))
    settings_log = read_settings_log(meta.get("settings_log"), where)
    history = read_history(meta.get("history"), len(HISTORY_COLUMNS), where)
    engine.params = {k: torch.from_numpy(arrays[k].copy()).to(engine.device) for k in engine.params}
    engine.trust = torch.from_numpy(trust.astype(np.float64)).to(engine.device)
    engine.gen.set_state(torch.from_numpy(rng.copy()))
    engine.generation = meta["generation"]
    curve = meta.get("curve") or {}
    engine.curve = {k: list(curve.get(k, [])) for k in ("step", "train_acc", "val_acc")}
    engine.test_acc = float(meta.get("test_acc") or 0.0)
    engine.test_per_class = list(meta.get("test_per_class") or engine.test_per_class)
    engine.generations_to_target = meta.get("generations_to_target")
    engine.settings_log, engine.history = settings_log, history
    best = int(engine.trust.argmax())
    from lab.arenas.genreg.engine import pick
    engine.best = pick(engine.params, best)


# ---- one genome as a model -----------------------------------------------------------------------
def save_model(engine, path: str | os.PathLike[str]) -> list[str]:
    """Write the latest best genome as ``path``.npz (a state dict) + ``path``.json; returns the paths."""
    base = Path(path)
    base = base.with_suffix("") if base.suffix in (".npz", ".json") else base
    w = engine.best
    arrays = {"w1": w["w1"][:, 0].cpu().numpy(), "b1": w["b1"][0].cpu().numpy(),
              "w2": w["w2"][0].cpu().numpy(), "b2": w["b2"][0].cpu().numpy()}
    payload = weight_archive(arrays)
    meta = {"kind": "genreg-model", "schema_version": SCHEMA_VERSION, "inputs": engine.data.n_inputs,
            "hidden": engine.settings.hidden, "classes": list(engine.data.classes), "activation": "tanh",
            "dataset": engine.task.dataset, "generation": engine.generation, "seed": engine.seed,
            "test_acc": engine.test_acc, "test_per_class": engine.test_per_class,
            "npz_sha256": hashlib.sha256(payload).hexdigest()}
    npz, js = base.parent / f"{base.name}.npz", base.parent / f"{base.name}.json"
    replace_together({npz: payload, js: (json.dumps(meta, indent=1) + "\n").encode("utf-8")})
    return [str(npz), str(js)]


def load_model(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A saved model as one-genome parameters in the engine's layout, and its JSON; ValueError names
    every problem (a pickle, missing or misshapen arrays, NaN, a JSON that does not match)."""
    base = Path(path)
    base = base.with_suffix("") if base.suffix in (".npz", ".json") else base
    where = f"cannot load the GENREG model {base}"
    if Path(path).suffix.lower() in (".pt", ".pth", ".pkl", ".pickle", ".ckpt"):
        refuse_pickle(Path(path), where)
    npz, js = base.parent / f"{base.name}.npz", base.parent / f"{base.name}.json"
    refuse_pickle(npz, where)
    meta = read_json(js, f"{where}:")
    if not isinstance(meta, dict) or meta.get("kind") != "genreg-model":
        raise ValueError(f"{where}: {js.name} is not a GENREG model file")
    arrays, digest = read_weight_archive(npz, where)
    D, H, C = meta.get("inputs"), meta.get("hidden"), len(meta.get("classes") or [])
    want = {"w1": (D, H), "b1": (H,), "w2": (H, C), "b2": (C,)}
    problems = []
    for k, shape in want.items():
        a = arrays.get(k)
        if a is None or a.dtype != np.float32 or a.shape != shape:
            found = "nothing" if a is None else f"{a.dtype} {list(a.shape)}"
            problems.append(f"{k}: {js.name} says float32 {list(shape)}, the file has {found}")
        elif not np.isfinite(a).all():
            problems.append(f"{k} holds NaN or infinite values")
    if not problems and digest != meta.get("npz_sha256"):
        problems.append(f"{npz.name} is not the file {js.name} was saved with")
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems))
    params = {"w1": torch.from_numpy(arrays["w1"].copy()).unsqueeze(1), "b1": torch.from_numpy(arrays["b1"].copy())[None],
              "w2": torch.from_numpy(arrays["w2"].copy())[None], "b2": torch.from_numpy(arrays["b2"].copy())[None]}
    return params, meta


# the names every arena's checkpoint module offers (ArenaBase.save_run / resume_run)
save_engine, load_engine, read_meta = save_population, load_population, read_population_meta
