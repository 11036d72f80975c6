"""Weights on disk, shared by the arenas: an .npz of plain arrays (never a pickle) read back with
``allow_pickle=False`` and a sha256, a JSON file read with a message for each way it can fail, and
several files replaced together so none is ever half-written."""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lab.files import temp_beside


def weight_archive(arrays: Mapping[str, np.ndarray]) -> bytes:
    """The bytes of an .npz holding ``arrays`` (names like ``m0/head.weight`` are kept as they are)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def read_weight_archive(path: Path, where: str) -> tuple[dict[str, np.ndarray], str]:
    """Every array of an .npz read with allow_pickle=False, and the sha256 of its bytes; ValueError otherwise."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{where}: {path.name} does not exist") from None
    except OSError as exc:
        raise ValueError(f"{where}: {path.name} cannot be read: {exc.strerror or exc}") from None
    if raw[:1] == b"\x80" or not raw.startswith(b"PK"):   # a pickle starts with PROTO, an .npz is a zip
        kind = "a pickle, which is never loaded" if raw[:1] == b"\x80" else "not a numpy .npz archive"
        raise ValueError(f"{where}: {path.name} is {kind}")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{where}: {path.name} is corrupt or holds pickled objects: {exc}") from None
    return arrays, hashlib.sha256(raw).hexdigest()


def replace_together(files: Mapping[Path, bytes]) -> None:
    """Write every file to a synced temp beside it, then replace them in order: never a half-written file."""
    temps: dict[Path, str] = {}
    try:
        for path, payload in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temps[path] = temp_beside(path)
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
        for path, tmp in temps.items():
            os.replace(tmp, path)
    finally:
        for tmp in temps.values():   # after a successful replace there is nothing left to remove
            Path(tmp).unlink(missing_ok=True)


def read_json(path: Path, what: str) -> Any:
    """The JSON in ``path``; a ValueError "<what> <path> does not exist / cannot be read / is not valid JSON"."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} {path} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} {path} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}") from None
