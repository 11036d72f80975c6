"""Gene specs and genomes: the one table of genes, immutable genomes, their JSON form and operators.

A :class:`GeneSpec` is the single source of truth about an arena's genes (bounds, scale, kind,
default, meaning); widgets, CLI choices and docs are generated from it. A :class:`Genome` is an
immutable set of gene values plus metadata, identified by a content hash of its spec name and
gene values only. Every random operator takes an explicit ``numpy.random.Generator``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from lab.files import atomic_write_text
from lab.safe_read import FileProblem, load_json, parse_json
from lab.gene_spec import (KINDS, SCALES, SIGNIFICANT_DIGITS, Gene, GenomeError, GeneSpec, _fmt,  # noqa: F401
                           round_sig)

SCHEMA_VERSION = 1
MAX_GENOME_BYTES = 4 * 2**20   # one genome's file; bundles of many are read by registry_base
ORIGINS = ("founder", "alien", "crossover", "clone", "mutation", "forge", "proposed")
GENOME_FIELDS = ("schema_version", "kind", "spec", "id", "genes", "name", "origin", "parents",
                 "generation", "created", "notes", "tags")


_SPECS: dict[str, GeneSpec] = {}


def register_spec(spec: GeneSpec) -> GeneSpec:
    """Make ``spec`` known by its name: each arena's genes.py registers its table when imported.
    This ground floor never imports the arenas; the layers above it (``lab.arenas``, which imports
    every gene table, and whatever imports an arena) see that the tables are loaded."""
    _SPECS[spec.name] = spec
    return spec


def get_spec(name: str) -> GeneSpec:
    """The registered gene spec called ``name``."""
    if name not in _SPECS:
        raise GenomeError([f"unknown spec {name!r} (known: {', '.join(sorted(_SPECS))})"])
    return _SPECS[name]


def spec_names() -> list[str]:
    """The names of the registered gene specs."""
    return sorted(_SPECS)


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclasses.dataclass(frozen=True, eq=False)
class Genome:
    """Immutable gene values plus metadata. Equality and ``id`` depend on spec and genes only."""

    spec: GeneSpec
    genes: Mapping[str, float | int]
    name: str = ""
    origin: str = "forge"
    parents: tuple[str, ...] = ()
    generation: int | None = None
    created: str = dataclasses.field(default_factory=now_iso)
    notes: str = ""
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = self.spec.check_values(self.genes) + _check_meta(
            {"name": self.name, "origin": self.origin, "parents": list(self.parents),
             "generation": self.generation, "created": self.created, "notes": self.notes,
             "tags": list(self.tags)})
        if problems:
            raise GenomeError(problems)
        canon = {g.key: g.canonical(self.genes[g.key]) for g in self.spec.genes}
        object.__setattr__(self, "genes", MappingProxyType(canon))
        object.__setattr__(self, "parents", tuple(self.parents))
        object.__setattr__(self, "tags", tuple(self.tags))
        payload = json.dumps({"spec": self.spec.name, "genes": canon}, sort_keys=True)
        object.__setattr__(self, "_id", hashlib.sha256(payload.encode()).hexdigest()[:16])

    @property
    def id(self) -> str:
        """Content hash (16 hex digits) of the spec name and the gene values (6 significant digits)."""
        return self._id  # type: ignore[attr-defined]

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id[:8]})" if self.name else self.id[:8]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Genome) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"Genome({self.spec.name}:{self.id} {self.name!r} {self.origin})"

    def replace(self, **changes: Any) -> Genome:
        """A copy with some fields changed (``genes`` may be a partial mapping of new values)."""
        if "genes" in changes:
            changes["genes"] = {**self.genes, **changes["genes"]}
        return dataclasses.replace(self, **changes)

    def unit_vector(self) -> np.ndarray:
        """The genes in the normalised [0, 1] space, in table order."""
        return np.array([g.to_unit(self.genes[g.key]) for g in self.spec.genes], dtype=float)

    @classmethod
    def from_unit_vector(cls, spec: GeneSpec, u: Iterable[float], **meta: Any) -> Genome:
        return cls(spec, {g.key: g.from_unit(x) for g, x in zip(spec.genes, u, strict=True)}, **meta)

    # ---- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "kind": "genome", "spec": self.spec.name, "id": self.id,
                "genes": dict(self.genes), "name": self.name, "origin": self.origin,
                "parents": list(self.parents), "generation": self.generation, "created": self.created,
                "notes": self.notes, "tags": list(self.tags)}

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, two-space indent, trailing newline."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> Genome:
        """Validate and build; any problem raises one GenomeError listing all of them."""
        if not isinstance(data, Mapping):
            raise GenomeError([f"a genome must be a JSON object, not {type(data).__name__}"], source)
        problems: list[str] = []
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise GenomeError([f"unknown schema_version {version!r} (this lab reads {SCHEMA_VERSION})"], source)
        if data.get("kind", "genome") != "genome":
            problems.append(f"`kind` is {data.get('kind')!r}, expected 'genome'")
        problems += [f"unknown field `{k}`" for k in data if k not in GENOME_FIELDS]
        spec_name = data.get("spec")
        try:
            spec = get_spec(spec_name) if isinstance(spec_name, str) else None
        except GenomeError as exc:
            problems += exc.problems
            spec = None
        if spec is None:
            if not isinstance(spec_name, str):
                problems.append(f"`spec` must name a gene spec, got {spec_name!r}")
            raise GenomeError(problems, source)
        problems += spec.check_values(data.get("genes"))
        meta = {k: data[k] for k in ("name", "origin", "parents", "generation", "created", "notes", "tags")
                if k in data}
        problems += _check_meta(meta)
        if problems:
            raise GenomeError(problems, source)
        return cls(spec, dict(data["genes"]), **{k: tuple(v) if k in ("parents", "tags") else v
                                                 for k, v in meta.items()})

    @classmethod
    def from_json(cls, text: str, source: str | None = None) -> Genome:
        try:
            data = parse_json(text, source or "genome JSON", allow_nan=True)   # genes named by check_values
        except FileProblem as exc:
            raise GenomeError([exc.problem], source) from None
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str], inside: str | os.PathLike[str] | None = None) -> Genome:
        """The genome in a JSON file; ``inside``: a folder the path must resolve into (no symlink out)."""
        path = Path(path)
        try:
            data = load_json(path, what="genome file", max_bytes=MAX_GENOME_BYTES, inside=inside, allow_nan=True)
        except FileProblem as exc:
            raise GenomeError([exc.problem], str(path)) from None
        return cls.from_dict(data, str(path))

    def save(self, path: str | os.PathLike[str]) -> Path:
        return atomic_write_text(Path(path), self.to_json())


# the longest text a genome's fields may hold (a hand-edited file must not grow the registry without end)
MAX_TEXT = {"name": 200, "created": 64, "notes": 100_000}
MAX_LIST, MAX_ITEM = 1000, 200   # parents and tags


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_meta(meta: Mapping[str, Any]) -> list[str]:
    problems = []
    for key in ("name", "notes", "created"):
        if key in meta and not isinstance(meta[key], str):
            problems.append(f"`{key}` must be text, got {_short(meta[key])}")
        elif key in meta and len(meta[key]) > MAX_TEXT[key]:
            problems.append(f"`{key}` is {len(meta[key]):,} characters long, at most {MAX_TEXT[key]:,}")
    if "origin" in meta and meta["origin"] not in ORIGINS:
        problems.append(f"`origin` {_short(meta['origin'])} is not one of {', '.join(ORIGINS)}")
    for key in ("parents", "tags"):
        if key in meta and (not isinstance(meta[key], (list, tuple))
                            or not all(isinstance(x, str) for x in meta[key])):
            problems.append(f"`{key}` must be a list of text, got {_short(meta[key])}")
        elif key in meta and (len(meta[key]) > MAX_LIST or any(len(x) > MAX_ITEM for x in meta[key])):
            problems.append(f"`{key}` holds more than {MAX_LIST} entries or one longer than {MAX_ITEM} characters")
    gen = meta.get("generation")
    if gen is not None and (isinstance(gen, bool) or not isinstance(gen, int) or gen < 0):
        problems.append(f"`generation` must be a whole number >= 0 or null, got {_short(gen)}")
    return problems


# ---- operators ------------------------------------------------------------------------------------
def random_genome(spec: GeneSpec, rng: np.random.Generator, **meta: Any) -> Genome:
    """Uniform in the normalised space: log-uniform on log genes, uniform in log(1-x) on log1m genes."""
    meta.setdefault("origin", "alien")
    return Genome.from_unit_vector(spec, rng.random(len(spec.genes)), **meta)


def mutate(genome: Genome, rng: np.random.Generator, rate: float = 0.2, sigma: float = 0.1,
           at_least_one: bool = True, **meta: Any) -> Genome:
    """"Radiation": each gene mutates with probability ``rate`` by a Gaussian step of ``sigma`` in the
    normalised space, clipped to the bounds. With ``at_least_one`` the child always differs from the
    parent (one random gene is redrawn if the draw changed nothing)."""
    if not 0 <= rate <= 1 or not sigma >= 0:
        raise ValueError(f"mutation rate must be in 0..1 and sigma >= 0 (got {rate}, {sigma})")
    spec, u0 = genome.spec, genome.unit_vector()
    hit = rng.random(len(u0)) < rate
    u = np.clip(u0 + hit * rng.normal(0.0, sigma, len(u0)), 0.0, 1.0)
    meta = {"origin": "mutation", "parents": (genome.id,), "name": genome.name,
            "generation": genome.generation, **meta}
    child = Genome(spec, _genes_at(spec, u, genome), **meta)
    # a step clipped at a bound (or rounded away on an int gene) can leave the genes unchanged:
    # with at_least_one, redraw a step on one random gene until something changes (bounded tries)
    for _ in range(32 if at_least_one and sigma > 0 else 0):
        if child.id != genome.id:
            break
        i = rng.integers(len(u0))
        u = u0.copy()
        u[i] = np.clip(u0[i] + rng.normal(0.0, sigma), 0.0, 1.0)
        child = Genome(spec, _genes_at(spec, u, genome), **meta)
    return child


def crossover(a: Genome, b: Genome, rng: np.random.Generator, blend: bool = False, **meta: Any) -> Genome:
    """Uniform crossover (each gene from either parent, 50/50), or with ``blend`` a per-gene random
    point between the parents in the normalised space."""
    _same_spec(a, b)
    ua, ub = a.unit_vector(), b.unit_vector()
    if blend:
        u = ua + rng.random(len(ua)) * (ub - ua)
    else:
        u = np.where(rng.random(len(ua)) < 0.5, ua, ub)
    meta = {"origin": "crossover", "parents": (a.id, b.id), **meta}
    return Genome(a.spec, _genes_at(a.spec, u, a, b), **meta)


def _genes_at(spec: GeneSpec, u: np.ndarray, *parents: Genome) -> dict[str, float | int]:
    """Gene values at unit positions ``u``, taking a parent's exact value wherever the child copies
    it, so that unchanged genes never drift through a unit-space round trip."""
    genes, units = {}, [p.unit_vector() for p in parents]
    for i, g in enumerate(spec.genes):
        same = [p for p, pu in zip(parents, units) if pu[i] == u[i]]
        genes[g.key] = same[0].genes[g.key] if same else g.from_unit(u[i])
    return genes


def clone(genome: Genome, **meta: Any) -> Genome:
    """Same genes (so the same id), new metadata: origin clone, the original as parent."""
    meta = {"origin": "clone", "parents": (genome.id,), "name": genome.name, "notes": genome.notes,
            "tags": genome.tags, "generation": genome.generation, "created": now_iso(), **meta}
    return dataclasses.replace(genome, **meta)


def splice(recipient: Genome, donor: Genome, genes: Iterable[str], **meta: Any) -> Genome:
    """Horizontal gene transfer: the recipient with the named genes (or whole groups) from the donor."""
    _same_spec(recipient, donor)
    spec = recipient.spec
    keys = spec.expand(genes)
    meta = {"origin": "forge", "parents": (recipient.id, donor.id), "name": recipient.name, **meta}
    return Genome(spec, {**recipient.genes, **{k: donor.genes[k] for k in keys}}, **meta)


def distance(a: Genome, b: Genome) -> float:
    """Euclidean distance in the normalised space divided by sqrt(#genes): 0 (same) .. 1 (opposite corners)."""
    _same_spec(a, b)
    return float(np.linalg.norm(a.unit_vector() - b.unit_vector()) / math.sqrt(len(a.spec.genes)))


def diff(a: Genome, b: Genome) -> list[tuple[str, Any, Any]]:
    """(gene, value in a, value in b) for every gene that differs."""
    _same_spec(a, b)
    return [(k, a.genes[k], b.genes[k]) for k in a.spec.keys if a.genes[k] != b.genes[k]]


def _same_spec(a: Genome, b: Genome) -> None:
    if a.spec.name != b.spec.name:
        raise GenomeError([f"genomes of different specs cannot be combined ({a.spec.name} vs {b.spec.name})"])
