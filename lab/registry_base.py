"""What the registry and its readers share: where things live, the registry's error, and reading
genome files (one genome, a list or a bundle, all or nothing) for imports and the shipped founders.
Light: no torch, nothing written."""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable
from pathlib import Path

from lab.genome import Genome, GenomeError
from lab.safe_read import FileProblem, load_json

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = PROJECT_ROOT / "registry"
FOUNDERS_DIR = PROJECT_ROOT / "genomes"          # shipped founder genomes
CUSTOM_DIR = FOUNDERS_DIR / "custom"              # the user's own hand-made genomes
MAX_IMPORT_BYTES = 20 * 1024 * 1024
ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")   # a genome id


class RegistryError(ValueError):
    """Something the user asked of the registry cannot be done; the message says what and why."""


@dataclasses.dataclass
class ImportReport:
    imported: list[str] = dataclasses.field(default_factory=list)        # new genome ids
    already_present: list[str] = dataclasses.field(default_factory=list)  # ids that were there already
    failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (file, message)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        lines = [f"imported {len(self.imported)} genome(s), {len(self.already_present)} already present, "
                 f"{len(self.failures)} file(s) failed"]
        lines += [f"  FAILED {path}: {msg}" for path, msg in self.failures]
        return "\n".join(lines)



def founders(spec: str | None = None, folder: str | os.PathLike[str] = FOUNDERS_DIR) -> list[Genome]:
    """The founder genomes shipped in ``genomes/`` (not its custom/ subfolder), by file name."""
    out = []
    for path in sorted(Path(folder).glob("*.json")):
        out += [g for g in read_genome_file(path) if spec is None or g.spec.name == spec]
    return out


def read_genome_file(path: str | os.PathLike[str]) -> list[Genome]:
    """Every genome in a JSON file (one genome, a list of genomes or a genome bundle), all or nothing."""
    path = Path(path)
    try:
        data = load_json(path, what="genome file", max_bytes=MAX_IMPORT_BYTES, allow_nan=True)
    except FileProblem as exc:
        raise GenomeError([exc.problem], str(path)) from None
    if isinstance(data, dict) and data.get("kind") == "genome-bundle":
        items = data.get("genomes")
        if not isinstance(items, list):
            raise GenomeError(["a genome bundle needs a `genomes` list"], str(path))
    elif isinstance(data, list):
        items = data
    else:
        items = [data]
    genomes, problems = [], []
    for i, item in enumerate(items):
        try:
            genomes.append(Genome.from_dict(item))
        except GenomeError as exc:
            where = f"genome #{i + 1}: " if len(items) > 1 else ""
            problems += [where + p for p in exc.problems]
    if problems:
        raise GenomeError(problems, str(path))
    return genomes


def expand_paths(paths: Iterable[str | os.PathLike[str]], report: ImportReport) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*.json") if f.is_file())
        elif p.is_file():
            out.append(p)
        elif os.path.lexists(p) and not os.path.islink(p):
            report.failures.append((str(p), "is not a regular file (a FIFO, socket or device)"))
        else:
            report.failures.append((str(p), "no such file or folder"))
    return out
