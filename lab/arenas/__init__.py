"""The arenas: one package per evolutionary engine, all speaking the arena protocol of ``base``.

``ARENA_PACKAGES`` is the one list of arenas: adding an arena is its package plus one entry here.
Gene tables are light modules (no torch) that register their spec with :mod:`lab.genome` when
imported; :func:`load_gene_specs` imports them all (the registry does, before it reads a genome
file), so the genome and registry commands start fast. An arena's command line is its ``cli.py``
beside its arena module, found by lab.cli through this list.
"""
from __future__ import annotations

import importlib

# arena name -> (module holding its gene spec, module holding its ARENA object)
ARENA_PACKAGES: dict[str, tuple[str, str]] = {
    "grokking": ("lab.arenas.grokking.genes", "lab.arenas.grokking.arena"),
    "m2n2": ("lab.arenas.m2n2.genes", "lab.arenas.m2n2.arena"),
    "genreg": ("lab.arenas.genreg.genes", "lab.arenas.genreg.arena"),
    "neat": ("lab.arenas.neat.genes", "lab.arenas.neat.arena"),
}


def load_gene_specs() -> None:
    """Import every arena's gene table so its spec is registered (light: no torch)."""
    for genes_module, _ in ARENA_PACKAGES.values():
        importlib.import_module(genes_module)


def arena_names() -> list[str]:
    return list(ARENA_PACKAGES)


def get_arena(name: str):
    """The arena object called ``name`` (imports its engine on first use)."""
    if name not in ARENA_PACKAGES:
        raise ValueError(f"unknown arena {name!r} (arenas: {', '.join(ARENA_PACKAGES)})")
    return importlib.import_module(ARENA_PACKAGES[name][1]).ARENA


def device_choices(name: str) -> tuple[str, ...]:
    """What a Device field offers for arena ``name``: "auto" and the devices it supports, or its
    one device alone (NEAT: "cpu")."""
    devices = tuple(get_arena(name).devices)
    return ("auto", *devices) if len(devices) > 1 else devices
