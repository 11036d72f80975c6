"""The direct-run window's forms: the run fields (seed, device) and one field per gene of the
arena's spec, a gene that a direct-run option replaces becoming that option's choice.
"""
from __future__ import annotations

from typing import Any

from lab.direct import direct_panel_of
from lab.gui.widgets.form import Field, device_field

RUN_FIELDS = [
    Field("seed", "Seed", "int", 1, 0, 2**31 - 1, help="The run's random seed: same seed and settings, same run."),
    device_field(),
]


def has_direct_run(arena: Any) -> bool:
    """Whether ``arena`` can be watched directly: it has an engine and the window has its charts."""
    return direct_panel_of(arena) is not None


def engine_fields(arena: Any, genes: dict[str, Any]) -> list[Field]:
    """One field per gene of the arena's spec (bounds from the gene table, defaults from ``genes``);
    a gene that a direct-run option replaces becomes that option's choice."""
    options = {o.replaces: o for o in getattr(direct_panel_of(arena), "options", ())}
    fields = []
    for gene in arena.gene_spec.genes:
        option = options.get(gene.key)
        if option is not None:
            default = option.choice_for(genes[gene.key])
            fields.append(Field(option.name, option.label, "choice", default, choices=option.choices,
                                help=option.help))
        else:
            fields.append(Field(gene.key, gene.label, gene.kind, genes[gene.key], gene.low, gene.high, help=gene.doc))
    return fields
