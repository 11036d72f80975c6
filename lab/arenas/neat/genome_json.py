"""Reading a NEAT genome from its JSON object (``NeatGenome.from_dict``), validated: every
problem (missing fields, wrong types, NaN or infinite numbers, unknown activations, duplicate
ids, connections to missing nodes or into inputs, and, for feed-forward genomes, cycles) is a
NeatGenomeError naming it.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from lab.arenas.neat.genome import (ACTIVATIONS, GENOME_FORMAT, GENOME_VERSION, ConnGene, NeatGenome,
                                    NeatGenomeError, NodeGene)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise NeatGenomeError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise NeatGenomeError(f"{what} is {value} (NaN and infinite numbers are not allowed)")
    return float(value)


def _whole(value: Any, what: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise NeatGenomeError(f"{what} must be a whole number >= {low}, got {value!r}")
    return value


def _records(data: Mapping[str, Any], key: str, fields: Iterable[str]) -> list[Mapping[str, Any]]:
    items = data.get(key)
    if not isinstance(items, list):
        raise NeatGenomeError(f"'{key}' must be a list, got {type(items).__name__}")
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise NeatGenomeError(f"{key}[{i}] must be an object, got {type(item).__name__}")
        missing = [f for f in fields if f not in item]
        if missing:
            raise NeatGenomeError(f"{key}[{i}] lacks {', '.join(missing)}")
    return items


def parse(data: Any, feed_forward: bool) -> NeatGenome:
    if not isinstance(data, Mapping):
        raise NeatGenomeError(f"a NEAT genome must be a JSON object, not {type(data).__name__}")
    if data.get("format", GENOME_FORMAT) != GENOME_FORMAT:
        raise NeatGenomeError(f"format {data.get('format')!r} is not {GENOME_FORMAT!r}")
    if data.get("version", GENOME_VERSION) != GENOME_VERSION:
        raise NeatGenomeError(f"unknown genome version {data.get('version')!r} (this lab reads {GENOME_VERSION})")
    for key in ("n_inputs", "n_outputs", "nodes", "connections"):
        if key not in data:
            raise NeatGenomeError(f"the genome lacks '{key}'")
    n_in = _whole(data["n_inputs"], "n_inputs", 1)
    n_out = _whole(data["n_outputs"], "n_outputs", 1)
    g = NeatGenome(n_in, n_out)
    for i, rec in enumerate(_records(data, "nodes", ("id", "kind"))):
        nid = _whole(rec["id"], f"nodes[{i}].id")
        if nid in g.nodes:
            raise NeatGenomeError(f"node id {nid} appears twice")
        kind = rec["kind"]
        expected = "input" if nid < n_in else "output" if nid < n_in + n_out else "hidden"
        if kind != expected:
            raise NeatGenomeError(f"node {nid} is {kind!r}, but with {n_in} inputs and {n_out} outputs "
                                  f"it must be {expected!r}")
        act = rec.get("activation", "identity" if kind == "input" else "sigmoid")
        if act not in ACTIVATIONS:
            raise NeatGenomeError(f"node {nid}: activation {act!r} is not one of {', '.join(ACTIVATIONS)}")
        g.nodes[nid] = NodeGene(nid, kind, act, _number(rec.get("bias", 0.0), f"node {nid} bias"))
    for nid in range(n_in + n_out):
        if nid not in g.nodes:
            raise NeatGenomeError(f"{'input' if nid < n_in else 'output'} node {nid} is missing")
    pairs: set[tuple[int, int]] = set()
    for i, rec in enumerate(_records(data, "connections", ("innovation", "src", "dst", "weight"))):
        innov = _whole(rec["innovation"], f"connections[{i}].innovation")
        if innov in g.conns:
            raise NeatGenomeError(f"innovation number {innov} appears twice")
        src, dst = _whole(rec["src"], f"connection {innov} src"), _whole(rec["dst"], f"connection {innov} dst")
        for end, nid in (("src", src), ("dst", dst)):
            if nid not in g.nodes:
                raise NeatGenomeError(f"connection {innov} {end} is node {nid}, which the genome does not have")
        if g.nodes[dst].kind == "input":
            raise NeatGenomeError(f"connection {innov} leads into input node {dst}")
        if (src, dst) in pairs:
            raise NeatGenomeError(f"connection {innov} repeats {src} -> {dst}")
        pairs.add((src, dst))
        enabled = rec.get("enabled", True)
        if not isinstance(enabled, bool):
            raise NeatGenomeError(f"connection {innov} enabled must be true or false, got {enabled!r}")
        g.conns[innov] = ConnGene(innov, src, dst, _number(rec["weight"], f"connection {innov} weight"), enabled)
    if feed_forward:
        cycle = _find_cycle(g)
        if cycle:
            raise NeatGenomeError("a feed-forward genome has a cycle: " + " -> ".join(map(str, cycle)))
    if "fitness" in data and data["fitness"] is not None:
        g.fitness = _number(data["fitness"], "fitness")
    return g


def _find_cycle(g: NeatGenome) -> list[int] | None:
    """Some cycle of ``g``'s connections as a node list (first node repeated), or None."""
    succ: dict[int, list[int]] = {}
    for c in g.conns.values():
        succ.setdefault(c.src, []).append(c.dst)
    state: dict[int, int] = {}        # 1 on the stack, 2 done
    for root in g.nodes:
        if state.get(root):
            continue
        path, stack = [root], [iter(succ.get(root, ()))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(succ.get(nxt, ())))
    return None
