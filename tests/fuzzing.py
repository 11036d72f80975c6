"""Mutations of valid files for the loader fuzz tests (tests/test_fuzz_loaders.py).

``mutated(valid)`` draws one damaged version of ``valid``: byte flips, a truncation at any byte,
inserted bytes or hostile JSON tokens, nesting inserted, BOMs, or, for JSON, a value swapped for
one of another type, a key dropped or duplicated. ``snapshot`` is every file under a folder, so
a test can check that a refused load changed nothing.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# bounded: each loader gets this many examples (the suite stays fast); no deadline (torch warms up)
FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
FUZZ_SLOW = settings(FUZZ, max_examples=15)

HOSTILE_TOKENS = [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"9" * 80, b'"\\ud800"', b"[" * 300,
                  b"{" * 300, b"\xff\xfe", b"\xef\xbb\xbf", b"\x00", b"\xc3", b'"' + b"x" * 5000 + b'"',
                  b"null", b"true", b"[]", b"{}", b'"s"', b"0", b"-1", b"1.5", b",", b":", b"}", b"]"]
SWAPS: list[Any] = [None, True, False, 0, -1, 1.5, 10**30, "", "x" * 300, [], {}, [1, "a"], {"a": None},
                    [[[[[[]]]]]], "../../../etc/passwd", "\u00e9\u6f22"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its bytes."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _paths(value: Any, here: tuple = ()) -> list[tuple]:
    """Every place in a JSON value (the value itself first)."""
    out = [here]
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _paths(inner, here + (key,))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            out += _paths(inner, here + (i,))
    return out


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (_replace(v, rest, new) if k == head else v) for k, v in value.items()}
    return [(_replace(v, rest, new) if i == head else v) for i, v in enumerate(value)]


def _drop(value: Any, path: tuple) -> Any:
    if len(path) == 1:
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if k != path[0]}
        return [v for i, v in enumerate(value) if i != path[0]]
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (_drop(v, rest) if k == head else v) for k, v in value.items()}
    return [(_drop(v, rest) if i == head else v) for i, v in enumerate(value)]


@st.composite
def mutated(draw, valid: bytes, *, is_json: bool | None = None) -> bytes:
    """One damaged version of ``valid`` (never ``valid`` itself unless a mutation happens to restore it)."""
    if is_json is None:
        try:
            parsed, is_json = json.loads(valid), True
        except ValueError:
            is_json = False
    else:
        parsed = json.loads(valid) if is_json else None
    kinds = ["flip", "truncate", "insert", "nest", "bom"] + (["swap", "swap", "drop", "duplicate"] if is_json else [])
    kind = draw(st.sampled_from(kinds))
    n = len(valid)
    if kind == "flip":
        out = bytearray(valid)
        for _ in range(draw(st.integers(1, 4))):
            # a flip in the first 64 bytes hits a binary header often enough to matter
            at = draw(st.one_of(st.integers(0, min(n, 64) - 1), st.integers(0, n - 1)))
            out[at] ^= draw(st.integers(1, 255))
        return bytes(out)
    if kind == "truncate":
        return valid[:draw(st.integers(0, n - 1))]
    if kind == "insert":
        at = draw(st.integers(0, n))
        token = draw(st.one_of(st.sampled_from(HOSTILE_TOKENS), st.binary(min_size=1, max_size=16)))
        return valid[:at] + token + valid[at:]
    if kind == "nest":
        depth = draw(st.sampled_from([70, 1000, 100_000]))
        if is_json:
            return b"[" * depth + valid + b"]" * depth
        at = draw(st.integers(0, n))
        return valid[:at] + b"[" * depth + valid[at:]
    if kind == "bom":
        bom = draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf\xef\xbb\xbf"]))
        return bom + valid
    places = _paths(parsed)
    if kind == "swap":
        path = draw(st.sampled_from(places))
        return json.dumps(_replace(parsed, path, draw(st.sampled_from(SWAPS)))).encode()
    deeper = [p for p in places if p] or [()]
    path = draw(st.sampled_from(deeper))
    if kind == "drop" and path:
        return json.dumps(_drop(parsed, path)).encode()
    # duplicate: the first key of the first object written twice (json.dumps cannot; splice the text)
    text = valid.decode("utf-8")
    start = text.find('"')
    end = text.find('"', start + 1)
    if start < 0 or end < 0 or text[:start].strip() not in ("{", ""):
        return valid + b" "
    key = text[start:end + 1]
    return (text[:start] + f"{key}: 1, " + text[start:]).encode("utf-8")
