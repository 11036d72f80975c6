"""An engine's whole state on disk, shared by the arenas' direct runs: ``<stem>.npz`` (plain arrays,
never a pickle) and ``<stem>.json`` (kind, schema, settings, task, seed, the rest of the state and
the npz's sha256, so a half-finished save is caught), replaced together so neither is ever
half-written. Resuming from them continues a run exactly.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lab.arenas.weights_io import read_json, read_weight_archive, replace_together, weight_archive

SCHEMA_VERSION = 1
STEM = "state"


def save_state(folder: str | os.PathLike[str], kind: str, arrays: Mapping[str, np.ndarray],
               meta: Mapping[str, Any], stem: str = STEM) -> list[str]:
    """Write ``arrays`` and ``meta`` (JSON-able; it should hold settings, task and seed) to
    ``folder`` (created if missing); returns the two paths."""
    folder = Path(folder)
    payload = weight_archive(arrays)
    record = {"kind": kind, "schema_version": SCHEMA_VERSION, **meta,
              "npz_sha256": hashlib.sha256(payload).hexdigest()}
    npz, js = folder / f"{stem}.npz", folder / f"{stem}.json"
    replace_together({npz: payload, js: (json.dumps(record, indent=1) + "\n").encode("utf-8")})
    return [str(npz), str(js)]


def read_state_meta(folder: str | os.PathLike[str], kind: str, stem: str = STEM) -> dict[str, Any]:
    """The JSON half of a saved state, checked for kind, schema, settings, task and seed."""
    folder = Path(folder)
    where = f"cannot resume from {folder}"
    if not folder.is_dir():
        raise ValueError(f"{where}: it is not a folder")
    meta = read_json(folder / f"{stem}.json", f"{where}:")
    if not isinstance(meta, dict) or meta.get("kind") != kind:
        raise ValueError(f"{where}: {stem}.json is not a saved {kind} (it says {meta.get('kind') if isinstance(meta, dict) else None!r})")
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{where}: {stem}.json has schema_version {meta.get('schema_version')!r}, "
                         f"this lab reads {SCHEMA_VERSION}")
    for key, want in (("settings", dict), ("task", dict), ("seed", int)):
        if not isinstance(meta.get(key), want) or isinstance(meta.get(key), bool):
            raise ValueError(f"{where}: {stem}.json has no valid {key!r}")
    return meta


def read_state(folder: str | os.PathLike[str], kind: str, shapes: Mapping[str, tuple[tuple[int, ...], str]],
               stem: str = STEM) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and JSON of a saved state; every array named in ``shapes`` (name -> (shape, dtype
    kind letter, e.g. "f" float, "i" integer, "u" unsigned, "b" bool)) must be there with that shape
    and, for floats, finite. A ValueError names every problem; nothing is changed."""
    folder = Path(folder)
    where = f"cannot resume from {folder}"
    meta = read_state_meta(folder, kind, stem)
    arrays, digest = read_weight_archive(folder / f"{stem}.npz", where)
    problems = []
    for name, (shape, letter) in shapes.items():
        a = arrays.get(name)
        if a is None or a.shape != tuple(shape) or a.dtype.kind != letter:
            found = "nothing" if a is None else f"{a.dtype} {list(a.shape)}"
            problems.append(f"{name}: this run needs {letter}{list(shape)}, the file has {found}")
        elif letter == "f" and not np.isfinite(a).all() and name not in meta.get("may_be_nan", ()):
            problems.append(f"{name} holds NaN or infinite values")
    if not problems and digest != meta.get("npz_sha256"):
        problems.append(f"{stem}.npz is not the file {stem}.json was saved with (an interrupted save?)")
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems))
    return arrays, meta
