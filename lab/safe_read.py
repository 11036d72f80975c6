"""The one way in for every file the lab reads: checked before it is opened, parsed so that any
failure becomes a :class:`FileProblem` whose one-line message names the file and the problem.

``read_bytes`` looks before it opens: a missing path, a folder, a FIFO, socket or device (opening a
FIFO would block forever), a file larger than the reader allows, or a path that leads out of the
folder it must stay in (a symlink out of the registry) is refused without reading a byte.

``parse_json`` accepts only plain JSON: UTF-8 (a leading UTF-8 byte-order mark is allowed, as
Windows editors write one), no NaN or Infinity, no number longer than :data:`MAX_NUMBER_CHARS`
characters or outside the float range, no duplicate keys in an object, nesting no deeper than
:data:`MAX_DEPTH`. A file that holds any of these is refused rather than guessed at: a duplicate key
in particular would otherwise keep its last value silently. The lab's own state files (engine
checkpoints, an evolution's checkpoint, the Hall of Fame) are read with ``allow_nan``: the lab
writes NaN there for a value not measured, and their readers check the values they use.

Nothing here writes; the lab's writes are in :mod:`lab.files`.
"""
from __future__ import annotations

import codecs
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

MAX_JSON_BYTES = 64 * 2**20   # a JSON file the lab reads whole (genome bundles, checkpoints, settings)
MAX_DEPTH = 64                 # containers inside containers; the lab's own files stay under 10
MAX_NUMBER_CHARS = 40          # digits (and sign, point, exponent) of one number literal

_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
              (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


class FileProblem(ValueError):
    """A file the lab cannot use: ``str()`` is one line, ``"<where> <problem>"``, where the problem
    starts with a verb ("does not exist", "is not valid JSON (...)", "holds NaN at genes.lr ...")."""

    def __init__(self, where: str | os.PathLike[str], problem: str) -> None:
        self.where, self.problem = str(where), " ".join(problem.split())
        super().__init__(f"{self.where} {self.problem}")


class _Refused(Exception):
    """Raised inside the JSON parser's hooks; becomes a FileProblem."""


class _NotANumber:
    """Stands in for NaN, Infinity or an overflowing float until the walk names where it sits."""

    def __init__(self, text: str) -> None:
        self.text = text


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n} bytes"


def check_inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> Path:
    """``path`` itself, after checking that it resolves (symlinks followed) inside ``folder``."""
    path = Path(path)
    try:
        resolved, root = path.resolve(), Path(folder).resolve()
    except (OSError, RuntimeError) as exc:   # a symlink loop
        raise FileProblem(path, f"cannot be resolved ({getattr(exc, 'strerror', None) or exc})") from None
    if not resolved.is_relative_to(root):
        raise FileProblem(path, f"leads outside {root} (a symlink?); it was not read")
    return path


def check_file(path: str | os.PathLike[str], *, max_bytes: int, what: str = "file",
               inside: str | os.PathLike[str] | None = None) -> Path:
    """``path``, after checking (without opening it) that it is a regular file of at most ``max_bytes``
    (inside ``inside`` when given); a FileProblem otherwise."""
    path = Path(path)
    if inside is not None:
        check_inside(path, inside)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileProblem(path, "does not exist") from None
    except OSError as exc:
        raise FileProblem(path, f"cannot be read ({exc.strerror or exc})") from None
    _check_kind(path, info.st_mode, what)
    if info.st_size > max_bytes:
        raise FileProblem(path, f"is {_size(info.st_size)}, more than the {_size(max_bytes)} "
                                f"a {what} may have; it was not read")
    return path


def read_bytes(path: str | os.PathLike[str], *, max_bytes: int, what: str = "file",
               inside: str | os.PathLike[str] | None = None) -> bytes:
    """Every byte of a regular file of at most ``max_bytes``, or a FileProblem saying why not."""
    path = check_file(path, max_bytes=max_bytes, what=what, inside=inside)
    try:   # non-blocking: if a FIFO was swapped in since the stat, the open still returns at once
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                     | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise FileProblem(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        _check_kind(path, os.fstat(fd).st_mode, what)
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise FileProblem(path, f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if total > max_bytes:
        raise FileProblem(path, f"grew past the {_size(max_bytes)} a {what} may have while it was read")
    return b"".join(chunks)


def _check_kind(path: Path, mode: int, what: str) -> None:
    if stat.S_ISDIR(mode):
        raise FileProblem(path, f"is a folder, not a {what}")
    if not stat.S_ISREG(mode):
        raise FileProblem(path, f"is not a regular file (a FIFO, socket or device), not a {what}; "
                                "it was not read")


def decode_text(raw: bytes, where: str | os.PathLike[str]) -> str:
    """UTF-8 text (one leading byte-order mark dropped), or a FileProblem naming the first bad byte."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    for bom, name in _WIDE_BOMS:
        if raw.startswith(bom):
            raise FileProblem(where, f"is {name} text; the lab reads UTF-8 (save it as UTF-8)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblem(where, f"is not UTF-8 text (byte {exc.start} is 0x{raw[exc.start]:02x})") from None


def _no_constant(name: str) -> Any:
    return _NotANumber(name)


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"holds a number of {len(text)} digits (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"holds a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    value = float(text)
    return value if math.isfinite(value) else _NotANumber(text)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"has the key {key[:60]!r} twice in one object")
        out[key] = value
    return out


def _walk_problem(data: Any, limit: int) -> str | None:
    """What is wrong with a parsed value: NaN, Infinity or an overflowing number (named by where it
    sits, e.g. ``genes.lr``), nesting deeper than ``limit``, or a string holding a lone surrogate
    (``"\\ud800"`` parses, but no UTF-8 file can hold it, so saving it again would fail)."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, dict):
            children = [(value, f"{where}.{key}" if where else str(key)) for key, value in item.items()]
            texts = list(item)
        elif isinstance(item, list):
            children = [(value, f"{where}[{i}]") for i, value in enumerate(item)]
            texts = []
        else:
            children, texts = [(item, where or "the top")], []
            depth = 0
        if depth > limit:
            return f"is nested too deeply (more than {limit} levels)"
        for value, inner in children:
            if isinstance(value, _NotANumber):
                what = value.text if value.text in ("NaN", "Infinity", "-Infinity") else f"{value.text[:24]} (beyond a float)"
                return f"holds {what} at {inner[:120]}, which is not a finite JSON number"
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, (list, dict)):
                stack.append((value, depth + 1, inner))
        for text in texts:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return "holds a string with a lone surrogate (\\ud800-\\udfff), which is not text"
    return None


def _float_any(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"holds a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    return float(text)


def parse_json(raw: bytes | str, where: str | os.PathLike[str], *, max_depth: int = MAX_DEPTH,
               allow_nan: bool = False) -> Any:
    """The value of one JSON document (see the module docstring for what is refused).
    ``allow_nan``: read NaN and +-Infinity as floats, for the lab's own state files, whose numbers
    may be NaN by design (a curve point not measured) and whose readers check the values they use."""
    text = decode_text(raw, where) if isinstance(raw, (bytes, bytearray)) else raw.removeprefix("\ufeff")
    if not text.strip():
        raise FileProblem(where, "is empty")
    try:
        data = json.loads(text, parse_constant=float if allow_nan else _no_constant, parse_int=_int,
                          parse_float=_float_any if allow_nan else _float, object_pairs_hook=_object)
    except _Refused as exc:
        raise FileProblem(where, str(exc)) from None
    except json.JSONDecodeError as exc:
        raise FileProblem(where, f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise FileProblem(where, f"is nested too deeply (more than {max_depth} levels)") from None
    except (ValueError, MemoryError) as exc:   # whatever else the parser gives up on
        raise FileProblem(where, f"cannot be parsed as JSON ({exc})") from None
    problem = _walk_problem(data, max_depth)
    if problem:
        raise FileProblem(where, problem)
    return data


def load_json(path: str | os.PathLike[str], *, what: str = "JSON file", max_bytes: int = MAX_JSON_BYTES,
              inside: str | os.PathLike[str] | None = None, max_depth: int = MAX_DEPTH,
              allow_nan: bool = False) -> Any:
    """The JSON value in ``path``, checked as :func:`read_bytes` and :func:`parse_json` describe."""
    return parse_json(read_bytes(path, max_bytes=max_bytes, what=what, inside=inside), path,
                      max_depth=max_depth, allow_nan=allow_nan)
