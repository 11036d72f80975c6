"""An M2N2 run saved and resumed exactly: the archives, their scores, every run's generator state
and the block of randomness already drawn, the curves and counters (lab.arenas.engine_files:
npz + JSON, never pickle). A resumed run gives the same numbers as one that never stopped.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import torch

from lab.arenas.engine_files import read_state, read_state_meta, save_state
from lab.arenas.live_settings import read_settings_log
from lab.arenas.m2n2.engine import UNIFORMS

KIND = "m2n2-run"


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def save_engine(engine, folder: str | os.PathLike[str]) -> list[str]:
    """Write the engine's whole state to ``folder``; returns the two paths."""
    arrays = {"archive": _np(engine.archive), "scores": _np(engine._ext), "filled": _np(engine.filled),
              "replaced": _np(engine.replaced), "zero_attraction_passes": _np(engine.zero_attraction_passes),
              "test_acc": _np(engine.test_acc), "slot_test": _np(engine.slot_test)}
    for r, g in enumerate(engine.gens):
        arrays[f"rng_{r}"] = g.get_state().numpy()
    if engine._uniforms is not None:
        arrays["uniforms"], arrays["noise"] = _np(engine._uniforms), _np(engine._noise)
    if engine.logging and engine._log:
        arrays["log"] = _np(torch.stack(engine._log))
    meta = {"settings": dataclasses.asdict(engine.settings[0]),
            "all_settings": [dataclasses.asdict(s) for s in engine.settings],
            "task": engine.task.to_dict(), "seed": engine.seeds[0], "seeds": engine.seeds,
            "passes": engine.passes, "at": engine._at, "drawn": engine._uniforms is not None,
            "logging": engine.logging, "curve": engine.curve, "passes_to_target": engine.passes_to_target,
            "settings_log": engine.settings_log}
    return save_state(folder, KIND, arrays, meta)


def read_meta(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON half of a saved M2N2 run (settings, task, seeds: what rebuilds its engine)."""
    return read_state_meta(folder, KIND)


def load_engine(engine, folder: str | os.PathLike[str]) -> None:
    """Put a saved run into ``engine`` (built with the saved settings, task and seeds); every
    mismatch is named and the engine is left untouched unless all of it fits."""
    R, K, P, N = engine.R, engine.K, engine.P, engine.N
    meta = read_meta(folder)
    drawn = bool(meta.get("drawn"))
    shapes = {"archive": ((R, K, P), "f"), "scores": ((R, K + 1, N), "f"), "filled": ((R, K), "b"),
              "replaced": ((R,), "i"), "zero_attraction_passes": ((R,), "i"), "test_acc": ((R,), "f"),
              "slot_test": ((R, K), "f")}
    for r, g in enumerate(engine.gens):
        shapes[f"rng_{r}"] = (tuple(g.get_state().shape), "u")
    if drawn:
        shapes["uniforms"] = ((engine.block, R, UNIFORMS), "f")
        shapes["noise"] = ((engine.block, R, P), "f")
    arrays, meta = read_state(folder, KIND, shapes)
    where = f"cannot resume from {folder}"
    if meta.get("seeds") != engine.seeds or not isinstance(meta.get("passes"), int) \
            or not 0 <= meta["passes"] <= engine.task.passes or not isinstance(meta.get("at"), int):
        raise ValueError(f"{where}: state.json does not describe this run (seeds, passes or position)")
    settings_log = read_settings_log(meta.get("settings_log"), where)
    dev = engine.device
    with torch.no_grad():
        engine.archive.copy_(torch.from_numpy(arrays["archive"]))
        engine._ext.copy_(torch.from_numpy(arrays["scores"]))   # scores is a view of it
        engine.filled.copy_(torch.from_numpy(arrays["filled"]))
        engine.replaced.copy_(torch.from_numpy(arrays["replaced"]))
        engine.zero_attraction_passes.copy_(torch.from_numpy(arrays["zero_attraction_passes"]))
        engine.test_acc = torch.from_numpy(arrays["test_acc"].copy()).to(dev)
        engine.slot_test.copy_(torch.from_numpy(arrays["slot_test"]))
    for r, g in enumerate(engine.gens):
        g.set_state(torch.from_numpy(arrays[f"rng_{r}"].copy()))
    if drawn:
        engine._uniforms = torch.from_numpy(arrays["uniforms"].copy()).to(dev)
        engine._noise = torch.from_numpy(arrays["noise"].copy()).to(dev)
    else:
        engine._uniforms = engine._noise = None
    engine._at = meta["at"]
    engine.passes = meta["passes"]
    engine.curve = [{k: list(v) for k, v in c.items()} for c in meta["curve"]]
    engine.passes_to_target = list(meta["passes_to_target"])
    engine.settings_log = settings_log
    if engine.logging:
        log = arrays.get("log")
        engine._log = [torch.from_numpy(row.copy()).to(dev) for row in log] if log is not None else []
