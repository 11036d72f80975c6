"""The family tree of one Evolution Lab run, read from its history: who bred whom in each generation,
by which operator, the run's winner and its line of descent back to generation 1 with the genes that
changed at each step. The charts, the tables and the ``insights genealogy`` command read it from here.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lab.evolution import run_files
from lab.genome import Genome, GenomeError, diff
from lab.registry import Registry, RegistryError

if TYPE_CHECKING:
    import pandas as pd

NodeKey = tuple[int, str]   # (generation, genome_id)
# how a node entered its generation; the chart colours and the legend follow this order
OPERATORS = ("ancestor", "alien", "crossover", "clone", "mutation", "elite")
TABLE_COLUMNS = ("generation", "genome_id", "name", "operator", "parents", "fitness", "success",
                 "median_steps", "rank", "on_winner_line")


@dataclasses.dataclass(frozen=True)
class Node:
    """One genome in one generation (copies of it in the same population are one node)."""

    generation: int
    genome_id: str
    name: str
    operator: str
    parents: tuple[NodeKey, ...]
    fitness: float
    success: float
    median_steps: float
    rank: int          # 1 = best of its generation (the run's ranking)

    @property
    def key(self) -> NodeKey:
        return (self.generation, self.genome_id)


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of a line of descent: ``node`` came from ``parent`` by ``operator``, changing
    ``changes`` (gene, value in the parent, value in the node). The first step has no parent."""

    node: NodeKey
    operator: str
    parent: NodeKey | None
    changes: tuple[tuple[str, Any, Any], ...] = ()


class Genealogy:
    """The nodes of a run, generation by generation, and the questions asked of them."""

    def __init__(self, run_id: str, nodes: dict[NodeKey, Node], history: Sequence[dict[str, Any]],
                 genomes: dict[str, Genome], parents_from_registry: bool = False):
        self.run_id = run_id
        self.nodes = nodes
        self.history = list(history)
        self.genomes = genomes   # id -> the registry's genome, where it still holds it
        # True for runs written before the rows recorded parents: the registry's first-written
        # parents stand in, and may be those of another run or generation
        self.parents_from_registry = parents_from_registry

    def generations(self) -> list[int]:
        return sorted({g for g, _ in self.nodes})

    def generation(self, generation: int) -> list[Node]:
        """The nodes of a generation, best ranked first."""
        return sorted((n for n in self.nodes.values() if n.generation == generation), key=lambda n: n.rank)

    def winner(self) -> Node:
        """The best genome of the run: the best of the generation with the highest best fitness
        (the earliest such generation)."""
        if not self.history:
            raise RegistryError(f"run {self.run_id} has no finished generation yet")
        best = max(self.history, key=lambda h: (h["best_fitness"], -h["generation"]))
        return self.nodes[(best["generation"], best["best_id"])]

    def line_of_descent(self, node: Node | NodeKey) -> list[Step]:
        """The chain from generation 1 to ``node`` (oldest first). At each step back it follows the
        parent whose genes are closest in the normalised space; the chain ends early only where a
        parent is not in the run (the registry's parents of an old run may name none)."""
        key = node.key if isinstance(node, Node) else tuple(node)
        if key not in self.nodes:
            raise RegistryError(f"run {self.run_id} has no genome {key[1]} in generation {key[0]}")
        steps: list[Step] = []
        current = self.nodes[key]
        while True:
            parents = [p for p in current.parents if p in self.nodes]
            parent = self._closest(current.genome_id, parents) if parents else None
            steps.append(Step(current.key, current.operator, parent, self._changes(parent, current.genome_id)))
            if parent is None:
                return steps[::-1]
            current = self.nodes[parent]

    def winner_line(self) -> set[NodeKey]:
        """The nodes on the winner's line of descent (empty before the first generation ends)."""
        return {s.node for s in self.line_of_descent(self.winner())} if self.history else set()

    def table(self) -> pd.DataFrame:
        """One row per node, by generation and rank; parents as genome ids joined by ';' (they are
        all of the previous generation)."""
        import pandas as pd

        line = self.winner_line()
        rows = [{"generation": n.generation, "genome_id": n.genome_id, "name": n.name, "operator": n.operator,
                 "parents": ";".join(gid for _, gid in n.parents), "fitness": n.fitness, "success": n.success,
                 "median_steps": n.median_steps, "rank": n.rank, "on_winner_line": n.key in line}
                for g in self.generations() for n in self.generation(g)]
        return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))

    def _closest(self, genome_id: str, parents: list[NodeKey]) -> NodeKey:
        child = self.genomes.get(genome_id)
        known = [p for p in parents if p[1] in self.genomes]
        if child is None or not known:   # genes unknown (genome deleted): the first parent stands in
            return parents[0]
        u = child.unit_vector()
        # min keeps the first of equally close parents, so the line is the same on every read
        return min(known, key=lambda p: float(np.linalg.norm(self.genomes[p[1]].unit_vector() - u)))

    def _changes(self, parent: NodeKey | None, genome_id: str) -> tuple[tuple[str, Any, Any], ...]:
        if parent is None or parent[1] not in self.genomes or genome_id not in self.genomes:
            return ()
        return tuple(diff(self.genomes[parent[1]], self.genomes[genome_id]))


def read_history(registry: Registry, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(run.json, history) of a run, through ``run_files.read_run`` (which names what is wrong), with
    a plain message for a run that does not exist."""
    folder = registry.run_dir(run_id)
    if not (folder / run_files.RUN_FILE).is_file():
        raise RegistryError(f"no run {run_id} in registry {registry.root} (`runs list` shows the runs)")
    run, state = run_files.read_run(registry, run_id)
    problem = _rows_problem(state["history"])
    if problem:
        raise RegistryError(f"run {run_id}: {run_files.CHECKPOINT_FILE} {problem}")
    return run, state["history"]


def _rows_problem(history: Sequence[dict[str, Any]]) -> str | None:
    """What read_run leaves unchecked in the genome rows that the tree and the tables read, or None."""
    for record in history:
        gen, ids = record["generation"], set()
        for row in record["genomes"]:
            bad = [] if isinstance(row.get("id"), str) else ["id"]
            bad += [k for k in ("fitness", "success", "median_steps")
                    if not isinstance(row.get(k), (int, float)) or isinstance(row.get(k), bool)]
            bad += [] if isinstance(row.get("origin"), str) else ["origin"]
            parents = row.get("parents", [])   # absent in runs written before the rows recorded them
            bad += [] if isinstance(parents, list) and all(isinstance(p, str) for p in parents) else ["parents"]
            if bad:
                return f"generation {gen} has a genome row that lacks or garbles {', '.join(bad)}"
            ids.add(row["id"])
        if record["best_id"] not in ids:
            return f"generation {gen} names a best genome {record['best_id'][:16]!r} that is not among its genomes"
        if not isinstance(record.get("died", []), list) or not isinstance(record.get("race") or {}, dict):
            return f"generation {gen} garbles died or race"
    return None


def genealogy(registry: Registry, run_id: str) -> Genealogy:
    """The family tree of run ``run_id``; a RegistryError names an unknown or damaged run."""
    _, history = read_history(registry, run_id)
    return from_history(registry, run_id, history)


def from_history(registry: Registry, run_id: str, history: Sequence[dict[str, Any]]) -> Genealogy:
    """The family tree of a history already read and checked (by :func:`read_history`, or the
    running Evolution's own); genomes' names and genes come from the registry."""
    ids = {r["id"] for h in history for r in h["genomes"]}
    genomes = {gid: held_genome(registry, gid) for gid in sorted(ids)}
    genomes = {gid: g for gid, g in genomes.items() if g is not None}
    nodes: dict[NodeKey, Node] = {}
    previous: set[str] = set()
    from_registry = False
    for record in history:
        gen = record["generation"]
        rank = {gid: i for i, gid in enumerate(dict.fromkeys(record["ranking"]), start=1)}
        chosen: dict[str, tuple[str, dict[str, Any]]] = {}
        for row in record["genomes"]:
            gid = row["id"]
            if gid not in chosen:   # copies of a genome share its trials, so the first row speaks for all
                chosen[gid] = (_operator(row, gen, gid in previous), row)
        for gid, (operator, row) in chosen.items():
            parents, guessed = _parents(row, gid, gen, operator, previous, genomes)
            from_registry |= guessed
            g = genomes.get(gid)
            nodes[(gen, gid)] = Node(gen, gid, g.name if g else "", operator, parents, float(row["fitness"]),
                                     float(row["success"]), float(row["median_steps"]),
                                     rank.get(gid, len(rank) + 1))
        previous = set(chosen)
    return Genealogy(run_id, nodes, history, genomes, from_registry)


def _operator(row: dict[str, Any], gen: int, in_previous: bool) -> str:
    origin = row.get("origin")
    if gen == 1:
        return "alien" if origin == "alien" else "ancestor"
    # the carried elites lead the population, so a genome's first row is the elite where it is one;
    # a later copy with the same id is a bred clone, flagged elite by its id only
    if row.get("elite") and in_previous:
        return "elite"
    return origin if origin in OPERATORS else "ancestor"


def _parents(row: dict[str, Any], gid: str, gen: int, operator: str, previous: set[str],
             genomes: dict[str, Genome]) -> tuple[tuple[NodeKey, ...], bool]:
    """(parents as nodes of the previous generation, whether the registry had to supply them)."""
    if gen == 1:
        return (), False
    recorded = row.get("parents")
    if isinstance(recorded, list):
        return tuple((gen - 1, p) for p in dict.fromkeys(recorded) if p in previous), False
    if operator in ("elite", "clone") and gid in previous:   # a copy: its parent is itself
        return ((gen - 1, gid),), True
    held = genomes.get(gid)
    return tuple((gen - 1, p) for p in dict.fromkeys(held.parents if held else ()) if p in previous), True


def held_genome(registry: Registry, genome_id: str) -> Genome | None:
    """The registry's genome of that id, or None where it no longer holds it (or cannot read it)."""
    try:
        return registry.get_genome(genome_id)
    except (RegistryError, GenomeError):   # deleted (or spoilt) since the run: kept, nameless and without genes
        return None
