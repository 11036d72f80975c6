"""Shared fixtures: a fresh registry folder, a byte-level snapshot of a folder, the shared data folder,
the command line run in-process (``run``)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lab.genome import get_spec
from lab.registry import Registry

PROJECT = Path(__file__).resolve().parent.parent


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> sha256 of its bytes): equal snapshots = byte-identical."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def spec():
    return get_spec("grokking")


@pytest.fixture
def registry(tmp_path) -> Registry:
    return Registry(tmp_path / "registry")


def find_shared_data() -> Path | None:
    """``../shared/data`` beside the checkout (or $SPECIATION_SHARED_DATA)."""
    candidates = [os.environ.get("SPECIATION_SHARED_DATA")]
    candidates += [str(parent / "shared" / "data") for parent in PROJECT.parents]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return None


@pytest.fixture
def shared_data() -> Path:
    path = find_shared_data()
    if path is None:
        pytest.skip("../shared/data not found beside the checkout (set SPECIATION_SHARED_DATA)")
    return path


@pytest.fixture
def run(tmp_path, capsys):
    """``run(*argv)`` -> (exit code, stdout, stderr) of ``python main.py argv`` in-process, with
    ``--registry`` pointing at a fresh folder (``run.registry``) unless ``registry=False``."""
    from lab.cli import main

    reg = str(tmp_path / "reg")

    def _run(*argv: str, registry: bool = True) -> tuple[int, str, str]:
        code = main(list(argv) + (["--registry", reg] if registry else []))
        out = capsys.readouterr()
        return code, out.out, out.err
    _run.registry = reg
    return _run
