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

from lab.files import temp_beside

SCHEMA_VERSION = 1
# Gene values are stored and hashed rounded to this many significant digits, so a value
# that went through text (JSON, an entry box) and back is the same genome.
SIGNIFICANT_DIGITS = 6
ORIGINS = ("founder", "alien", "crossover", "clone", "mutation", "forge")
SCALES = ("linear", "log", "log1m")  # log1m: linear in log(1 - x), for betas close to 1
KINDS = ("float", "int")
GENOME_FIELDS = ("schema_version", "kind", "spec", "id", "genes", "name", "origin", "parents",
                 "generation", "created", "notes", "tags")


class GenomeError(ValueError):
    """A genome (or genome file) is invalid. ``problems`` lists every problem found, one per line."""

    def __init__(self, problems: Iterable[str], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            super().__init__(head + self.problems[0])
        else:
            super().__init__(head + f"{len(self.problems)} problems:\n  - " + "\n  - ".join(self.problems))


def round_sig(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """Round to ``digits`` significant digits (the precision genome ids are computed at)."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(f"{value:.{digits}g}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


@dataclasses.dataclass(frozen=True)
class Gene:
    """One row of a gene table."""

    key: str
    label: str
    group: str
    low: float
    high: float
    scale: str
    kind: str
    default: float
    doc: str
    short: str = ""   # a few letters for compact names (species names, axis ticks); "" = the label's initials

    @property
    def abbr(self) -> str:
        """The gene's short name: ``short``, or the initials of its label ("Weight decay" -> "WD")."""
        return self.short or "".join(w[0].upper() for w in self.label.replace("(", " ").split() if w[0].isalnum())

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"gene {self.key}: scale {self.scale!r} is not one of {SCALES}")
        if self.kind not in KINDS:
            raise ValueError(f"gene {self.key}: kind {self.kind!r} is not one of {KINDS}")
        if not self.low < self.high:
            raise ValueError(f"gene {self.key}: lower bound {self.low} is not below upper bound {self.high}")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"gene {self.key}: a log-scale gene needs a positive lower bound")
        if self.scale == "log1m" and self.high >= 1:
            raise ValueError(f"gene {self.key}: a log1m-scale gene needs an upper bound below 1")
        if self.check(self.default) is not None:
            raise ValueError(f"gene {self.key}: default {self.default} is invalid: {self.check(self.default)}")

    # the normalised ("unit") space: [0, 1] per gene, uniform in the gene's scale
    def _t(self, x: float) -> float:
        if self.scale == "log":
            return math.log(x)
        if self.scale == "log1m":
            return -math.log1p(-x)
        return float(x)

    def _t_inv(self, t: float) -> float:
        if self.scale == "log":
            return math.exp(t)
        if self.scale == "log1m":
            return -math.expm1(-t)
        return float(t)

    def to_unit(self, value: float) -> float:
        lo, hi = self._t(self.low), self._t(self.high)
        return min(1.0, max(0.0, (self._t(value) - lo) / (hi - lo)))

    def from_unit(self, u: float) -> float | int:
        """The gene value at unit position ``u`` (clipped to [0, 1]), canonicalised."""
        u = min(1.0, max(0.0, float(u)))
        lo, hi = self._t(self.low), self._t(self.high)
        return self.canonical(self._t_inv(lo + u * (hi - lo)))

    def canonical(self, value: float) -> float | int:
        """Round to the stored precision (whole numbers for int genes) and clip to the bounds."""
        if self.kind == "int":
            return int(min(self.high, max(self.low, round(value))))
        return min(float(self.high), max(float(self.low), round_sig(float(value))))

    def check(self, value: Any) -> str | None:
        """None if ``value`` is acceptable for this gene, else a message naming the gene, value and bound."""
        name = f"gene `{self.key}`"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{name} = {_fmt(value)} is not a number"
        if not math.isfinite(value):
            return f"{name} = {value} is not a finite number"
        if self.kind == "int" and float(value) != int(value):
            return f"{name} = {_fmt(value)} must be a whole number"
        if value < self.low:
            return f"{name} = {_fmt(value)} is below its lower bound {_fmt(self.low)}"
        if value > self.high:
            return f"{name} = {_fmt(value)} is above its upper bound {_fmt(self.high)}"
        return None

    def describe_bounds(self) -> str:
        return f"{_fmt(self.low)}..{_fmt(self.high)} ({self.scale}, {self.kind})"


@dataclasses.dataclass(frozen=True)
class GeneSpec:
    """A named, ordered table of genes, grouped for display."""

    name: str
    title: str
    genes: tuple[Gene, ...]

    def __post_init__(self) -> None:
        keys = [g.key for g in self.genes]
        if len(set(keys)) != len(keys):
            raise ValueError(f"spec {self.name}: duplicate gene keys")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(g.key for g in self.genes)

    def gene(self, key: str) -> Gene:
        for g in self.genes:
            if g.key == key:
                return g
        raise KeyError(f"spec {self.name!r} has no gene {key!r} (genes: {', '.join(self.keys)})")

    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        """Group name -> gene keys, in table order."""
        out: dict[str, list[str]] = {}
        for g in self.genes:
            out.setdefault(g.group, []).append(g.key)
        return {k: tuple(v) for k, v in out.items()}

    def expand(self, names: Iterable[str]) -> list[str]:
        """Gene keys named by ``names`` (gene keys or whole group names), in the order given."""
        keys: list[str] = []
        for name in names:
            if name in self.groups:
                keys += [k for k in self.groups[name] if k not in keys]
            elif name in self.keys:
                if name not in keys:
                    keys.append(name)
            else:
                raise GenomeError([f"no gene or group `{name}` in spec {self.name} "
                                   f"(groups: {', '.join(self.groups)})"])
        return keys

    def defaults(self) -> dict[str, float | int]:
        return {g.key: g.default for g in self.genes}

    def check_values(self, values: Any) -> list[str]:
        """Every problem with a gene mapping: unknown, missing, non-number, non-finite, out of bounds."""
        if not isinstance(values, Mapping):
            return [f"`genes` must be an object of gene: value, not {type(values).__name__}"]
        problems = [f"unknown gene `{k}` (spec {self.name} has: {', '.join(self.keys)})"
                    for k in values if k not in self.keys]
        for g in self.genes:
            if g.key not in values:
                problems.append(f"missing gene `{g.key}` (bounds {g.describe_bounds()})")
            else:
                msg = g.check(values[g.key])
                if msg:
                    problems.append(msg)
        return problems

    def markdown_table(self) -> str:
        """The gene table as Markdown (the README's table is this output)."""
        rows = ["| group | gene | bounds | scale | default | meaning |", "|---|---|---|---|---|---|"]
        for g in self.genes:
            rows.append(f"| {g.group} | `{g.key}` | {_fmt(g.low)} .. {_fmt(g.high)} | {g.scale} ({g.kind}) "
                        f"| {_fmt(g.default)} | {g.doc} |")
        return "\n".join(rows)


_SPECS: dict[str, GeneSpec] = {}


def register_spec(spec: GeneSpec) -> GeneSpec:
    _SPECS[spec.name] = spec
    return spec


def get_spec(name: str) -> GeneSpec:
    """The gene spec called ``name``; arena gene tables are loaded on first use."""
    if name not in _SPECS:
        from lab.arenas import load_gene_specs
        load_gene_specs()
    if name not in _SPECS:
        raise GenomeError([f"unknown spec {name!r} (known: {', '.join(sorted(_SPECS))})"])
    return _SPECS[name]


def spec_names() -> list[str]:
    from lab.arenas import load_gene_specs
    load_gene_specs()
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
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GenomeError([f"not valid JSON: {exc}"], source) from None
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Genome:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise GenomeError([f"cannot read file: {exc}"], str(path)) from None
        return cls.from_json(text, str(path))

    def save(self, path: str | os.PathLike[str]) -> Path:
        return atomic_write_text(Path(path), self.to_json())


def _check_meta(meta: Mapping[str, Any]) -> list[str]:
    problems = []
    for key in ("name", "notes", "created"):
        if key in meta and not isinstance(meta[key], str):
            problems.append(f"`{key}` must be text, got {meta[key]!r}")
    if "origin" in meta and meta["origin"] not in ORIGINS:
        problems.append(f"`origin` {meta['origin']!r} is not one of {', '.join(ORIGINS)}")
    for key in ("parents", "tags"):
        if key in meta and (not isinstance(meta[key], (list, tuple))
                            or not all(isinstance(x, str) for x in meta[key])):
            problems.append(f"`{key}` must be a list of text, got {meta[key]!r}")
    gen = meta.get("generation")
    if gen is not None and (isinstance(gen, bool) or not isinstance(gen, int) or gen < 0):
        problems.append(f"`generation` must be a whole number >= 0 or null, got {gen!r}")
    return problems


def atomic_write_text(path: Path, text: str) -> Path:
    """Write a file whole or not at all: temp file in the same folder, fsync, os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # some filesystems cannot fsync a directory; the replace is still atomic
        pass
    return path


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
