"""The arenas: one package per evolutionary engine, all speaking the arena protocol of ``base``.

``ARENA_PACKAGES`` is the one list of arenas. Gene tables are light modules (no torch) loaded
on demand by :func:`lab.genome.get_spec`, so the genome and registry commands start fast.
"""
from __future__ import annotations

import importlib

# arena name -> module holding its gene spec (registered on import)
ARENA_PACKAGES: dict[str, str] = {
    "grokking": "lab.arenas.grokking.genes",
}


def load_gene_specs() -> None:
    """Import every arena's gene table so its spec is registered."""
    for module in ARENA_PACKAGES.values():
        importlib.import_module(module)
