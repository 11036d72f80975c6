"""Engine settings generated from an arena's gene table: the settings a gene carries take their
name, kind and default from the gene (:mod:`lab.genome`), so an engine's settings class, a frozen
dataclass, never writes them again; ``from_genes`` and ``to_genes`` come with it.

The gene bounds are the ranges evolution explores and forms offer; an engine may run with more (the
tests run GENREG with 10 genomes, the gene's range starts at 20), and its own ``problems()`` say what
it cannot run at all. :func:`check_against_spec` proves, when the class is made, that every value the
gene table allows is one the engine runs, so the two can never drift apart the wrong way.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from lab.genome import Gene, GeneSpec


class GeneSettings:
    """The shared half of an engine's settings class made by :func:`gene_settings`: ``from_genes``,
    ``to_genes`` and validation (``problems()``, raised as one ValueError naming every problem).
    A class whose field stands for a gene in another form (M2N2's ``partner`` for the ``attraction``
    gene) overrides :meth:`replaced_from_genes` and :meth:`replaced_to_genes`."""

    SPEC: ClassVar[GeneSpec]
    TITLE: ClassVar[str] = ""                # how messages name the engine ("GENREG")
    FLAGS: ClassVar[frozenset[str]] = frozenset()      # 0/1 genes held as bool
    REPLACED: ClassVar[frozenset[str]] = frozenset()   # genes another field stands for

    def __post_init__(self) -> None:
        problems = self.type_problems()
        flagged = {p.split()[0] for p in problems}
        try:
            more = self.problems()
        except (TypeError, ValueError, AttributeError):   # a field of the wrong type, named above
            more = []
        problems += [p for p in more if p.split()[0] not in flagged]
        if problems:
            raise ValueError(f"invalid {self.TITLE} settings: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """What the engine cannot run with these settings (empty: none); an engine adds its own."""
        return []

    def type_problems(self) -> list[str]:
        """Each gene field of the wrong type (from the gene table: flags bool, int genes whole
        numbers, float genes finite numbers), checked before :meth:`problems` compares values."""
        problems = []
        for gene in self.gene_fields():
            v = getattr(self, gene.key)
            if gene.key in self.FLAGS:
                ok = isinstance(v, (bool, np.bool_))
                want = "true or false"
            elif gene.kind == "int":
                ok = isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
                want = "a whole number"
            else:
                ok = isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and math.isfinite(v)
                want = "a finite number"
            if not ok:
                problems.append(f"{gene.key} must be {want}, got {v!r}"[:200])
        return problems

    @classmethod
    def gene_fields(cls) -> tuple[Gene, ...]:
        """The genes held as fields of the same name, in the gene table's order."""
        return tuple(g for g in cls.SPEC.genes if g.key not in cls.REPLACED)

    @classmethod
    def from_genes(cls, genes: Mapping[str, Any], **overrides: Any) -> Any:
        """Settings from a genome's genes (whole numbers rounded, flags as bool); ``overrides`` set
        fields directly (engine-only options, or a gene's field out of the table's range)."""
        missing = [g.key for g in cls.SPEC.genes if g.key not in genes]
        if missing:
            raise ValueError(f"invalid {cls.TITLE} settings: missing {', '.join(missing)}")
        values = {g.key: _from_gene(g, genes[g.key], g.key in cls.FLAGS) for g in cls.gene_fields()}
        return cls(**{**values, **cls.replaced_from_genes(genes), **overrides})

    def to_genes(self) -> dict[str, float | int]:
        """The gene values of these settings, in the gene table's order."""
        values = {g.key: (int if g.kind == "int" else float)(getattr(self, g.key)) for g in self.gene_fields()}
        values.update(self.replaced_to_genes())
        return {key: values[key] for key in self.SPEC.keys}

    @classmethod
    def replaced_from_genes(cls, genes: Mapping[str, Any]) -> dict[str, Any]:
        """The fields that stand for the ``REPLACED`` genes, from those genes."""
        return {}

    def replaced_to_genes(self) -> dict[str, float | int]:
        """The ``REPLACED`` genes' values, from the fields that stand for them."""
        return {}


def _from_gene(gene: Gene, value: Any, flag: bool) -> Any:
    if flag:
        return bool(int(round(value)))
    return int(round(value)) if gene.kind == "int" else float(value)


def _default(gene: Gene, flag: bool) -> Any:
    return _from_gene(gene, gene.default, flag)


def gene_settings(spec: GeneSpec, *, title: str, flags: Iterable[str] = (), replaced: Iterable[str] = ()):
    """Class decorator: make a :class:`GeneSettings` subclass a frozen dataclass whose first fields
    are the genes of ``spec`` in table order (name, kind and default from the gene table; ``flags``:
    0/1 genes held as bool; ``replaced``: genes another field stands for), followed by the fields the
    class declares itself (engine-only options no gene carries). Then :func:`check_against_spec`."""
    flags, replaced = frozenset(flags), frozenset(replaced)

    def make(cls: type) -> type:
        unknown = sorted((flags | replaced) - set(spec.keys))
        if unknown:
            raise TypeError(f"{cls.__name__}: {', '.join(unknown)} not genes of {spec.name}")
        own = dict(cls.__dict__.get("__annotations__", {}))
        fields: dict[str, Any] = {}
        for gene in spec.genes:
            if gene.key in replaced:
                continue
            if gene.key in own:
                raise TypeError(f"{cls.__name__}.{gene.key} is a gene of {spec.name}: its name, kind and "
                                "default come from the gene table")
            fields[gene.key] = "bool" if gene.key in flags else gene.kind
            setattr(cls, gene.key, _default(gene, gene.key in flags))
        cls.__annotations__ = {**fields, **own}
        cls.SPEC, cls.TITLE, cls.FLAGS, cls.REPLACED = spec, title, flags, replaced
        made = dataclasses.dataclass(frozen=True)(cls)
        check_against_spec(made, spec)
        return made

    return make


def check_against_spec(settings_class: Any, spec: GeneSpec) -> None:
    """TypeError unless the defaults are the gene table's and every gene's lower and upper bound
    (the others at their defaults) make settings the engine accepts: what evolution may try, the
    engine runs."""
    defaults = spec.defaults()
    if settings_class().to_genes() != defaults:
        raise TypeError(f"{settings_class.__name__}() is not the {spec.name} gene table's defaults")
    for gene in spec.genes:
        for value in (gene.low, gene.high):
            try:
                settings_class.from_genes({**defaults, gene.key: gene.canonical(value)})
            except ValueError as exc:
                raise TypeError(f"the {spec.name} gene table lets `{gene.key}` be {value:g}, which "
                                f"{settings_class.__name__} refuses: {exc}") from None
