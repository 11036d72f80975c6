"""NEAT genomes (Stanley and Miikkulainen 2002): node genes and connection genes with historical
innovation numbers, the structural and weight mutations, crossover aligned by innovation number,
the compatibility distance, and JSON serialisation (read back with validation by genome_json.py).

A genome is a graph: ``nodes`` maps a node id to its :class:`NodeGene` (inputs are ids
``0..n_inputs-1``, outputs the next ``n_outputs`` ids, hidden nodes are numbered by the run's
:class:`InnovationTracker`); ``conns`` maps an innovation number to its :class:`ConnGene`.
Each node has its own bias (as in neat-python) instead of the paper's bias input; the two are
equivalent, and a bias per node keeps every network's inputs the task's own.

Feed-forward genomes stay acyclic over *all* their connections, enabled or not, so enabling a
connection again never closes a cycle; add-node splits keep a graph acyclic, and crossover takes its
structure from the fitter parent (below), so every operator preserves the invariant.
"""
from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Mapping
from typing import Any

ACTIVATIONS = ("sigmoid", "tanh", "relu", "sin", "gauss", "identity")
NODE_KINDS = ("input", "output", "hidden")
GENOME_FORMAT = "neat-genome"
GENOME_VERSION = 1


class NeatGenomeError(ValueError):
    """A NEAT genome (usually a JSON file) is malformed; the message names the problem."""


@dataclasses.dataclass
class NodeGene:
    id: int
    kind: str
    activation: str = "sigmoid"
    bias: float = 0.0


@dataclasses.dataclass
class ConnGene:
    innovation: int
    src: int
    dst: int
    weight: float
    enabled: bool = True


class InnovationTracker:
    """Historical markings of one run. A new connection (src, dst) gets a fresh innovation number,
    except that the same structural mutation twice in one generation gets the same number (and the
    same split of a connection the same new node id), as in the paper; ``new_generation`` forgets
    the generation's mutations. Numbers only grow, so genes stay aligned across the whole run."""

    def __init__(self, next_innovation: int = 0, next_node: int = 0):
        self.next_innovation = next_innovation
        self.next_node = next_node
        self._connections: dict[tuple[int, int], int] = {}
        self._splits: dict[int, tuple[int, int, int]] = {}

    def new_generation(self) -> None:
        self._connections.clear()
        self._splits.clear()

    def connection(self, src: int, dst: int) -> int:
        """The innovation number of a new connection src -> dst this generation."""
        key = (src, dst)
        if key not in self._connections:
            self._connections[key] = self.next_innovation
            self.next_innovation += 1
        return self._connections[key]

    def split(self, innovation: int, src: int, dst: int) -> tuple[int, int, int]:
        """(new node id, innovation of src -> node, innovation of node -> dst) for splitting the
        connection ``innovation`` this generation."""
        if innovation not in self._splits:
            node = self.next_node
            self.next_node += 1
            self._splits[innovation] = (node, self.connection(src, node), self.connection(node, dst))
        return self._splits[innovation]

    def observe(self, genome: NeatGenome) -> None:
        """Make sure numbers handed out later do not collide with ``genome``'s (a loaded genome)."""
        if genome.conns:
            self.next_innovation = max(self.next_innovation, max(genome.conns) + 1)
        self.next_node = max(self.next_node, max(genome.nodes) + 1)


@dataclasses.dataclass(frozen=True)
class MutationRates:
    """Probabilities and sizes of one offspring's mutations (a subset of NeatSettings)."""

    weight_mutate: float = 0.8      # the genome's weights are mutated at all
    weight_replace: float = 0.1     # per weight, when mutated: replaced instead of perturbed
    weight_sigma: float = 0.5       # std of a perturbation
    weight_init_sigma: float = 1.0  # std of a new or replaced weight
    weight_limit: float = 8.0       # weights and biases are clamped to +-limit
    add_node: float = 0.03
    add_conn: float = 0.05
    toggle: float = 0.01            # enable or disable one connection
    activation: float = 0.0         # a node's activation replaced by another of ``activations``
    activations: tuple[str, ...] = ("sigmoid",)
    hidden_activation: str = "sigmoid"  # the activation of a node born by a split (or random when "random")
    feed_forward: bool = True


class NeatGenome:
    """One network: node genes by id, connection genes by innovation number."""

    def __init__(self, n_inputs: int, n_outputs: int, nodes: Mapping[int, NodeGene] | None = None,
                 conns: Mapping[int, ConnGene] | None = None):
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        self.nodes: dict[int, NodeGene] = dict(nodes or {})
        self.conns: dict[int, ConnGene] = dict(conns or {})
        self.fitness: float | None = None

    # ---- construction --------------------------------------------------------------------------
    @classmethod
    def initial(cls, n_inputs: int, n_outputs: int, tracker: InnovationTracker, rng: random.Random,
                output_activation: str = "sigmoid", weight_sigma: float = 1.0, connect: float = 1.0
                ) -> NeatGenome:
        """The minimal starting network: every input connected to every output (``connect`` < 1:
        each connection present with that probability), weights ~ N(0, weight_sigma^2)."""
        g = cls(n_inputs, n_outputs)
        for i in range(n_inputs):
            g.nodes[i] = NodeGene(i, "input", "identity", 0.0)
        for o in range(n_inputs, n_inputs + n_outputs):
            g.nodes[o] = NodeGene(o, "output", output_activation, 0.0)
        tracker.next_node = max(tracker.next_node, n_inputs + n_outputs)
        for i in range(n_inputs):
            for o in range(n_inputs, n_inputs + n_outputs):
                if connect >= 1.0 or rng.random() < connect:
                    innov = tracker.connection(i, o)
                    g.conns[innov] = ConnGene(innov, i, o, rng.gauss(0.0, weight_sigma))
        return g

    def copy(self) -> NeatGenome:
        g = NeatGenome(self.n_inputs, self.n_outputs,
                       {k: dataclasses.replace(v) for k, v in self.nodes.items()},
                       {k: dataclasses.replace(v) for k, v in self.conns.items()})
        g.fitness = self.fitness
        return g

    # ---- size ----------------------------------------------------------------------------------
    @property
    def hidden(self) -> list[int]:
        return [n.id for n in self.nodes.values() if n.kind == "hidden"]

    @property
    def n_hidden(self) -> int:
        return sum(1 for n in self.nodes.values() if n.kind == "hidden")

    @property
    def n_enabled(self) -> int:
        return sum(1 for c in self.conns.values() if c.enabled)

    def outputs(self) -> range:
        return range(self.n_inputs, self.n_inputs + self.n_outputs)

    # ---- graph helpers -------------------------------------------------------------------------
    def creates_cycle(self, src: int, dst: int) -> bool:
        """Whether adding src -> dst closes a cycle over all connections (enabled or not)."""
        if src == dst:
            return True
        succ: dict[int, list[int]] = {}
        for c in self.conns.values():
            succ.setdefault(c.src, []).append(c.dst)
        seen, stack = {dst}, [dst]
        while stack:
            for nxt in succ.get(stack.pop(), ()):
                if nxt == src:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    # ---- mutation ------------------------------------------------------------------------------
    def mutate(self, rates: MutationRates, tracker: InnovationTracker, rng: random.Random) -> None:
        """The paper's mutations, in place: add a node, add a connection, toggle a connection,
        change an activation, and (with probability ``weight_mutate``) perturb or replace every weight
        and bias."""
        if rng.random() < rates.add_node:
            self.mutate_add_node(tracker, rng, rates)
        if rng.random() < rates.add_conn:
            self.mutate_add_connection(tracker, rng, rates)
        if rng.random() < rates.toggle and self.conns:
            conn = self.conns[rng.choice(list(self.conns))]
            conn.enabled = not conn.enabled
        if rates.activation > 0 and len(rates.activations) > 1 and rng.random() < rates.activation:
            hidden = self.hidden
            if hidden:
                node = self.nodes[rng.choice(hidden)]
                node.activation = rng.choice([a for a in rates.activations if a != node.activation])
        if rng.random() < rates.weight_mutate:
            self.mutate_weights(rates, rng)

    def mutate_weights(self, rates: MutationRates, rng: random.Random) -> None:
        lim = rates.weight_limit
        for c in self.conns.values():
            if rng.random() < rates.weight_replace:
                c.weight = rng.gauss(0.0, rates.weight_init_sigma)
            else:
                c.weight += rng.gauss(0.0, rates.weight_sigma)
            c.weight = min(lim, max(-lim, c.weight))
        for n in self.nodes.values():
            if n.kind == "input":
                continue
            if rng.random() < rates.weight_replace:
                n.bias = rng.gauss(0.0, rates.weight_init_sigma)
            else:
                n.bias += rng.gauss(0.0, rates.weight_sigma)
            n.bias = min(lim, max(-lim, n.bias))

    def mutate_add_node(self, tracker: InnovationTracker, rng: random.Random, rates: MutationRates) -> int | None:
        """Split a random enabled connection a -> b into a -> new (weight 1) and new -> b (the old
        weight); the old connection is disabled. Returns the new node id (None: nothing to split)."""
        enabled = [c for c in self.conns.values() if c.enabled]
        if not enabled:
            return None
        old = rng.choice(enabled)
        node, innov_in, innov_out = tracker.split(old.innovation, old.src, old.dst)
        if node in self.nodes:      # this genome already split this connection (then re-enabled it)
            return None
        old.enabled = False
        act = rates.hidden_activation
        if act == "random":
            act = rng.choice(rates.activations)
        self.nodes[node] = NodeGene(node, "hidden", act, 0.0)
        self.conns[innov_in] = ConnGene(innov_in, old.src, node, 1.0)
        self.conns[innov_out] = ConnGene(innov_out, node, old.dst, old.weight)
        return node

    def mutate_add_connection(self, tracker: InnovationTracker, rng: random.Random, rates: MutationRates,
                              attempts: int = 20) -> int | None:
        """Connect two unconnected nodes with a new weight (sources: inputs and hidden nodes, plus
        outputs in recurrent genomes; destinations: hidden and output nodes). A pair that already has
        a disabled connection gets it enabled again. Returns the innovation, None when no pair fits."""
        sources = [n.id for n in self.nodes.values() if n.kind != "output" or not rates.feed_forward]
        targets = [n.id for n in self.nodes.values() if n.kind != "input"]
        existing = {(c.src, c.dst): c for c in self.conns.values()}
        for _ in range(attempts):
            src, dst = rng.choice(sources), rng.choice(targets)
            conn = existing.get((src, dst))
            if conn is not None:
                if not conn.enabled:
                    conn.enabled = True
                    return conn.innovation
                continue
            if rates.feed_forward and self.creates_cycle(src, dst):
                continue
            innov = tracker.connection(src, dst)
            self.conns[innov] = ConnGene(innov, src, dst, rng.gauss(0.0, rates.weight_init_sigma))
            return innov
        return None

    # ---- JSON ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": GENOME_FORMAT, "version": GENOME_VERSION,
                "n_inputs": self.n_inputs, "n_outputs": self.n_outputs,
                "nodes": [dataclasses.asdict(self.nodes[k]) for k in sorted(self.nodes)],
                "connections": [dataclasses.asdict(self.conns[k]) for k in sorted(self.conns)],
                **({"fitness": self.fitness} if self.fitness is not None and math.isfinite(self.fitness) else {})}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: Any, *, feed_forward: bool = True) -> NeatGenome:
        """A genome from its JSON object, validated: NeatGenomeError names the first problem
        (missing fields, wrong types, NaN or infinite numbers, unknown activations, duplicate ids,
        connections to missing nodes or into inputs, and, for feed-forward genomes, cycles)."""
        from lab.arenas.neat.genome_json import parse
        return parse(data, feed_forward)

    @classmethod
    def from_json(cls, text: str, *, feed_forward: bool = True) -> NeatGenome:
        from lab.safe_read import FileProblem, parse_json
        try:
            data = parse_json(text, "network JSON", allow_nan=True)   # NaN weights named by the validator
        except FileProblem as exc:
            raise NeatGenomeError(exc.problem) from None
        return cls.from_dict(data, feed_forward=feed_forward)

    @classmethod
    def load(cls, path: str, *, feed_forward: bool = True) -> NeatGenome:
        """The network saved in ``path``; NeatGenomeError "<path>: <problem>" for any fault of the file."""
        from lab.safe_read import FileProblem, load_json
        try:
            return cls.from_dict(load_json(path, what="network file", max_bytes=16 * 2**20, allow_nan=True),
                                 feed_forward=feed_forward)
        except FileProblem as exc:
            raise NeatGenomeError(str(exc)) from None
        except NeatGenomeError as exc:
            raise NeatGenomeError(f"{path}: {exc}") from None


# ---- compatibility and crossover ---------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Compatibility:
    """delta = c1 E / N + c2 D / N + c3 W: E excess and D disjoint genes, W the mean weight
    difference of matching genes, N the larger genome's gene count (1 when both have fewer than
    ``small`` genes, as the paper allows)."""

    c1: float = 1.0
    c2: float = 1.0
    c3: float = 0.4
    small: int = 20

    def parts(self, a: NeatGenome, b: NeatGenome) -> tuple[int, int, float, int]:
        """(excess, disjoint, mean |weight difference| of matching genes, N)."""
        ka, kb = a.conns.keys(), b.conns.keys()
        if not ka or not kb:
            return len(ka) + len(kb), 0, 0.0, max(1, len(ka), len(kb))
        cut = min(max(ka), max(kb))
        matching = ka & kb
        unmatched = ka ^ kb
        excess = sum(1 for k in unmatched if k > cut)
        disjoint = len(unmatched) - excess
        w = (sum(abs(a.conns[k].weight - b.conns[k].weight) for k in matching) / len(matching)) if matching else 0.0
        larger = max(len(ka), len(kb))
        n = 1 if larger < self.small else larger
        return excess, disjoint, w, n

    def distance(self, a: NeatGenome, b: NeatGenome) -> float:
        e, d, w, n = self.parts(a, b)
        return self.c1 * e / n + self.c2 * d / n + self.c3 * w


def crossover(fitter: NeatGenome, other: NeatGenome, rng: random.Random, disable_rate: float = 0.75
              ) -> NeatGenome:
    """A child aligned by innovation number: matching genes are inherited from either parent at
    random, disjoint and excess genes from ``fitter`` (so the child has the fitter parent's
    structure); a gene disabled in either parent is disabled in the child with ``disable_rate``
    (the paper's 75%). Node genes (bias, activation) of shared nodes come from either parent."""
    child = NeatGenome(fitter.n_inputs, fitter.n_outputs)
    for innov, ca in fitter.conns.items():
        cb = other.conns.get(innov)
        if cb is None:
            gene = dataclasses.replace(ca)
        else:
            gene = dataclasses.replace(ca if rng.random() < 0.5 else cb)
            if not (ca.enabled and cb.enabled):
                gene.enabled = rng.random() >= disable_rate
        child.conns[innov] = gene
    for nid, na in fitter.nodes.items():
        nb = other.nodes.get(nid)
        child.nodes[nid] = dataclasses.replace(na if nb is None or rng.random() < 0.5 else nb)
    return child


def fitter_first(a: NeatGenome, b: NeatGenome) -> tuple[NeatGenome, NeatGenome]:
    """(fitter, other); on a tie the smaller genome counts as fitter (the paper's tie rule takes
    genes from both, which could join two structures into a cycle)."""
    fa = a.fitness if a.fitness is not None else -math.inf
    fb = b.fitness if b.fitness is not None else -math.inf
    if fa > fb or (fa == fb and len(a.conns) <= len(b.conns)):
        return a, b
    return b, a
