"""The gene table: :class:`Gene` (one row: bounds, scale, kind, default, meaning) and :class:`GeneSpec`
(a named, ordered, grouped table of genes), the one source from which settings, options, widgets and
docs are generated. Read through :mod:`lab.genome`, which re-exports every name here."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

# Gene values are stored and hashed rounded to this many significant digits, so a value
# that went through text (JSON, an entry box) and back is the same genome.
SIGNIFICANT_DIGITS = 6
SCALES = ("linear", "log", "log1m")  # log1m: linear in log(1 - x), for betas close to 1
KINDS = ("float", "int")


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
