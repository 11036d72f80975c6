"""Weights on disk, shared by the arenas: an .npz of plain arrays (never a pickle) read back with
``allow_pickle=False`` and a sha256, a JSON file read with a message for each way it can fail, and
several files replaced together so none is ever half-written."""
from __future__ import annotations

import hashlib
import io
import math
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lab.files import temp_beside
from lab.safe_read import FileProblem, load_json, read_bytes

MAX_ARCHIVE_BYTES = 2 * 2**30     # an .npz of weights on disk
MAX_UNPACKED_BYTES = 4 * 2**30    # what its members may unpack to


def weight_archive(arrays: Mapping[str, np.ndarray]) -> bytes:
    """The bytes of an .npz holding ``arrays`` (names like ``m0/head.weight`` are kept as they are)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def read_weight_archive(path: Path, where: str) -> tuple[dict[str, np.ndarray], str]:
    """Every array of an .npz read with allow_pickle=False, and the sha256 of its bytes; ValueError otherwise.
    Each array's header is checked against the bytes the archive holds before anything is allocated,
    so a header that announces a huge array is refused, not obeyed."""
    try:
        raw = read_bytes(path, max_bytes=MAX_ARCHIVE_BYTES, what="weights archive")
    except FileProblem as exc:
        raise ValueError(f"{where}: {path.name} {exc.problem}") from None
    if raw[:1] == b"\x80" or not raw.startswith(b"PK"):   # a pickle starts with PROTO, an .npz is a zip
        kind = "a pickle, which is never loaded" if raw[:1] == b"\x80" else "not a numpy .npz archive"
        raise ValueError(f"{where}: {path.name} is {kind}")
    try:
        _check_members(raw)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError) as exc:
        raise ValueError(f"{where}: {path.name} is not a sound .npz archive: {exc}") from None
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, MemoryError) as exc:
        raise ValueError(f"{where}: {path.name} is corrupt or holds pickled objects: {exc}") from None
    return arrays, hashlib.sha256(raw).hexdigest()


def _check_members(raw: bytes) -> None:
    """ValueError unless every member of the zip is an .npy whose header matches its size."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        members = archive.infolist()
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise ValueError(f"it unpacks to more than {MAX_UNPACKED_BYTES >> 20} MiB")
        for member in members:
            with archive.open(member) as fh:
                version = np.lib.format.read_magic(fh)
                if version not in ((1, 0), (2, 0)):
                    raise ValueError(f"{member.filename} has a .npy version the lab does not write {version}")
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(fh)
                if dtype.hasobject:
                    raise ValueError(f"{member.filename} holds Python objects")
                want = math.prod(shape) * dtype.itemsize
                have = member.file_size - fh.tell()
                if want != have:
                    raise ValueError(f"{member.filename}'s header announces {want} bytes of data, "
                                     f"the archive holds {have}")


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
    """The JSON in ``path`` (read by :func:`lab.safe_read.load_json`); a ValueError
    "<what> <path> does not exist / is not valid JSON / ..." otherwise."""
    try:
        return load_json(path, what="JSON file", allow_nan=True)   # the lab's state: NaN marks "not measured"
    except FileProblem as exc:
        raise ValueError(f"{what} {path} {exc.problem}") from None
