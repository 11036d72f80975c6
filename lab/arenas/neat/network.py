"""Evaluating many NEAT networks at once, and training their weights by gradient descent.

Networks of different shapes cannot be stacked into one tensor, but they can be joined into one
graph: :func:`compile_networks` puts every node of every genome into one column space (the task's
inputs shared at columns ``0..n_inputs-1``) and groups the nodes of all genomes by depth (longest
path from the inputs). A forward pass is then one step per depth level for the whole population:
edges leaving the inputs are one dense matmul ``X @ W`` (W scattered from the genomes' weights),
edges leaving hidden nodes one gather-multiply-``index_add``, and each activation applied to its
nodes at once. The cost is a few tensor operations per depth level, not per genome; autograd
trains every genome's weights in the same pass, and since each genome's loss touches only its own
weights (and Adam and L2 act element by element) the joint step is exactly independent training.

Recurrent genomes (``feed_forward=False``) are one level holding every non-input node, iterated for
``ticks`` steps from zero activations, each step reading the previous step's values.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from lab.arenas.neat.genome import NeatGenome

SIGMOID_SLOPE = 4.9     # the paper's steepened sigmoid 1 / (1 + exp(-4.9 x))


def _gauss(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(-x * x)


ACTIVATION_FNS = {
    "sigmoid": lambda x: torch.sigmoid(SIGMOID_SLOPE * x),
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sin": torch.sin,
    "gauss": _gauss,
    "identity": lambda x: x,
}


@dataclasses.dataclass
class Level:
    """The nodes of one depth level (of every genome) and the edges into them."""

    n_nodes: int
    bias_idx: torch.Tensor          # [n_nodes] into the bias vector
    in_flat: torch.Tensor           # [E_in] src_input * n_nodes + dst_local: edges from the inputs
    in_w: torch.Tensor              # [E_in] into the weight vector
    h_src: torch.Tensor             # [E_h] columns of V: edges from non-input nodes
    h_dst: torch.Tensor             # [E_h] local node index
    h_w: torch.Tensor               # [E_h] into the weight vector
    acts: list[tuple[str, int, int]]   # (activation, start, stop): a level's nodes are grouped by activation


@dataclasses.dataclass
class Compiled:
    """Genomes joined into one graph (see the module docstring). ``weights``/``biases`` are the
    genomes' values in the order the levels read them; ``edge_keys``/``node_keys`` say which
    (genome index, innovation) and (genome index, node id) each entry is, for writing trained
    values back."""

    n_inputs: int
    n_outputs: int
    n_genomes: int
    levels: list[Level]
    out_cols: torch.Tensor          # [G * n_outputs] columns of V
    weights: torch.Tensor
    biases: torch.Tensor
    edge_keys: list[tuple[int, int]]
    node_keys: list[tuple[int, int]]
    recurrent: bool = False
    ticks: int = 1


def node_depths(genome: NeatGenome) -> dict[int, int]:
    """Depth of every node over the enabled connections: inputs 0, any other node one more than
    its deepest source (1 when it has none). The genome must be acyclic."""
    incoming: dict[int, list[int]] = {}
    for c in genome.conns.values():
        if c.enabled:
            incoming.setdefault(c.dst, []).append(c.src)
    depth: dict[int, int] = {n: 0 for n in range(genome.n_inputs)}
    for root in genome.nodes:
        if root in depth:
            continue
        stack = [root]
        while stack:
            node = stack[-1]
            pending = [s for s in incoming.get(node, ()) if s not in depth]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            if node not in depth:
                depth[node] = 1 + max((depth[s] for s in incoming.get(node, ())), default=0)
    return depth


def compile_networks(genomes: Sequence[NeatGenome], feed_forward: bool = True, ticks: int = 4) -> Compiled:
    """Join ``genomes`` (same inputs and outputs) into one graph for :func:`forward`."""
    if not genomes:
        raise ValueError("no genomes to compile")
    n_in, n_out = genomes[0].n_inputs, genomes[0].n_outputs
    per_level: dict[int, list[tuple[int, int]]] = {}
    for gi, g in enumerate(genomes):
        if (g.n_inputs, g.n_outputs) != (n_in, n_out):
            raise ValueError(f"genome {gi} has {g.n_inputs} inputs and {g.n_outputs} outputs; "
                             f"the others {n_in} and {n_out}")
        depths = node_depths(g) if feed_forward else {n: (0 if n < n_in else 1) for n in g.nodes}
        for nid, d in depths.items():
            if d > 0:
                per_level.setdefault(d, []).append((gi, nid))
    col: dict[tuple[int, int], int] = {}
    local: dict[tuple[int, int], tuple[int, int]] = {}
    next_col = n_in
    node_keys: list[tuple[int, int]] = []
    biases: list[float] = []
    order = sorted(per_level)
    for d in order:     # group each level's nodes by activation: each activation then acts on one slice
        per_level[d].sort(key=lambda key: genomes[key[0]].nodes[key[1]].activation)
    for li, d in enumerate(order):
        for k, key in enumerate(per_level[d]):
            col[key] = next_col
            local[key] = (li, k)
            next_col += 1
            node_keys.append(key)
            biases.append(genomes[key[0]].nodes[key[1]].bias)
    edges: list[list[tuple[int, int, int, bool]]] = [[] for _ in order]   # (src, dst_local, weight idx, from input)
    edge_keys: list[tuple[int, int]] = []
    weights: list[float] = []
    for gi, g in enumerate(genomes):
        for c in g.conns.values():
            if not c.enabled:
                continue
            li, k = local[(gi, c.dst)]
            from_input = c.src < n_in
            edges[li].append((c.src if from_input else col[(gi, c.src)], k, len(weights), from_input))
            edge_keys.append((gi, c.innovation))
            weights.append(c.weight)
    levels = []
    start = 0
    for li, d in enumerate(order):
        keys = per_level[d]
        n = len(keys)
        e_in = [(s, k, w) for s, k, w, fi in edges[li] if fi]
        e_h = [(s, k, w) for s, k, w, fi in edges[li] if not fi]
        acts: list[tuple[str, int, int]] = []
        for k, (gi, nid) in enumerate(keys):
            act = genomes[gi].nodes[nid].activation
            if acts and acts[-1][0] == act:
                acts[-1] = (act, acts[-1][1], k + 1)
            else:
                acts.append((act, k, k + 1))
        levels.append(Level(
            n, torch.arange(start, start + n),
            torch.tensor([s * n + k for s, k, _ in e_in], dtype=torch.long),
            torch.tensor([w for _, _, w in e_in], dtype=torch.long),
            torch.tensor([s for s, _, _ in e_h], dtype=torch.long),
            torch.tensor([k for _, k, _ in e_h], dtype=torch.long),
            torch.tensor([w for _, _, w in e_h], dtype=torch.long), acts))
        start += n
    out_cols = torch.tensor([col[(gi, o)] for gi in range(len(genomes)) for o in range(n_in, n_in + n_out)])
    return Compiled(n_in, n_out, len(genomes), levels, out_cols, torch.tensor(weights, dtype=torch.float32),
                    torch.tensor(biases, dtype=torch.float32), edge_keys, node_keys, not feed_forward, ticks)


def _level(lv: Level, x: torch.Tensor, v: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # index_select rather than v[:, idx]: its backward is an index_add, where the backward of advanced
    # indexing (an accumulating index_put) was 10x slower on the CPU
    batch, n_in = x.shape
    pre = b.index_select(0, lv.bias_idx).expand(batch, lv.n_nodes)
    if lv.in_flat.numel():
        dense = torch.zeros(n_in * lv.n_nodes, dtype=w.dtype).index_add(0, lv.in_flat, w.index_select(0, lv.in_w))
        pre = pre + x @ dense.view(n_in, lv.n_nodes)
    if lv.h_src.numel():
        pre = pre.index_add(1, lv.h_dst, v.index_select(1, lv.h_src) * w.index_select(0, lv.h_w))
    if len(lv.acts) == 1:
        return ACTIVATION_FNS[lv.acts[0][0]](pre)
    return torch.cat([ACTIVATION_FNS[act](pre[:, a:z]) for act, a, z in lv.acts], 1)


def forward(net: Compiled, x: torch.Tensor, weights: torch.Tensor | None = None,
            biases: torch.Tensor | None = None) -> torch.Tensor:
    """Outputs [batch, genomes, n_outputs] of every network on inputs ``x`` [batch, n_inputs]."""
    v = node_values(net, x, weights, biases)
    return v.index_select(1, net.out_cols).view(x.shape[0], net.n_genomes, net.n_outputs)


def node_values(net: Compiled, x: torch.Tensor, weights: torch.Tensor | None = None,
                biases: torch.Tensor | None = None) -> torch.Tensor:
    """Every node's value [batch, n_inputs + nodes]: the inputs, then the nodes of ``net.node_keys``
    in that order (a recurrent network's after its last tick)."""
    w = net.weights if weights is None else weights
    b = net.biases if biases is None else biases
    if net.recurrent:
        (lv,) = net.levels or [None]
        if lv is None:
            raise ValueError("a recurrent network needs at least one non-input node")
        state = torch.zeros(x.shape[0], lv.n_nodes, dtype=x.dtype)
        for _ in range(net.ticks):
            state = _level(lv, x, torch.cat([x, state], 1), w, b)
        return torch.cat([x, state], 1)
    v = x
    for lv in net.levels:
        v = torch.cat([v, _level(lv, x, v, w, b)], 1)
    return v


# ---- fitness -----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class EvalSpec:
    """How a chunk of genomes is scored (sent to evaluation workers with the chunk).

    ``mode`` "classic": the network's outputs as they are; fitness (N - sum |out - y|)^2 over the N
    training cases (the paper's XOR fitness; one sigmoid output). ``mode`` "backprop": weights are
    trained with Adam for ``steps`` steps (``lr``, L2 ``l2``, mini-batches of ``batch_size``, drawn
    from a generator seeded with ``seed`` so every chunk sees the same batches), then fitness =
    validation accuracy - alpha_nodes * hidden nodes - alpha_edges * enabled connections."""

    mode: str = "classic"
    steps: int = 40
    lr: float = 5e-3
    l2: float = 1e-4
    batch_size: int = 256
    seed: int = 0
    alpha_nodes: float = 1e-3
    alpha_edges: float = 5e-4
    feed_forward: bool = True
    ticks: int = 4


@dataclasses.dataclass
class Score:
    """One genome's evaluation. ``weights``/``biases``: the trained values (backprop mode)."""

    fitness: float
    accuracy: float                  # classic: share of training cases right; backprop: validation accuracy
    train_acc: float = math.nan
    loss: float = math.nan
    weights: dict[int, float] | None = None
    biases: dict[int, float] | None = None


def _tensor(a: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    return torch.tensor(np.asarray(a), dtype=dtype)


def evaluate_chunk(item: tuple[Sequence[NeatGenome], EvalSpec], arrays: Mapping[str, np.ndarray]) -> list[Score]:
    """Score a chunk of genomes on the data ``arrays`` (x_train, y_train, x_val, y_val): the
    function the parallel evaluator runs (module level, so process workers can import it)."""
    genomes, spec = item
    net = compile_networks(genomes, spec.feed_forward, spec.ticks)
    if spec.mode == "classic":
        return _classic(net, genomes, arrays)
    if spec.mode == "backprop":
        return _backprop(net, genomes, arrays, spec)
    raise ValueError(f"unknown evaluation mode {spec.mode!r}")


def _classic(net: Compiled, genomes: Sequence[NeatGenome], arrays: Mapping[str, np.ndarray]) -> list[Score]:
    x, y = _tensor(arrays["x_train"]), _tensor(arrays["y_train"])
    with torch.no_grad():
        out = forward(net, x)[:, :, 0].double()            # [N, G]
    y = y.double()[:, None]
    err = (out - y).abs().sum(0)
    n = x.shape[0]
    right = ((out > 0.5) == (y > 0.5)).double().mean(0)
    fitness = (n - err) ** 2
    return [Score(float(f), float(r)) if math.isfinite(float(f)) else Score(-math.inf, 0.0)
            for f, r in zip(fitness, right)]


def _backprop(net: Compiled, genomes: Sequence[NeatGenome], arrays: Mapping[str, np.ndarray],
              spec: EvalSpec) -> list[Score]:
    x, y = _tensor(arrays["x_train"]), torch.tensor(np.asarray(arrays["y_train"]), dtype=torch.long)
    xv, yv = _tensor(arrays["x_val"]), torch.tensor(np.asarray(arrays["y_val"]), dtype=torch.long)
    w = net.weights.clone().requires_grad_(True)
    b = net.biases.clone().requires_grad_(True)
    g_count = net.n_genomes
    with torch.no_grad():
        val_before = (forward(net, xv).argmax(2) == yv[:, None]).float().mean(0)
    loss_g = torch.full((g_count,), math.nan)
    if spec.steps > 0 and (w.numel() or b.numel()):
        opt = torch.optim.Adam([w, b], lr=spec.lr, weight_decay=spec.l2)
        gen = torch.Generator().manual_seed(spec.seed)
        n = x.shape[0]
        full = spec.batch_size >= n
        for _ in range(spec.steps):
            if full:
                xb, yb = x, y
            else:
                idx = torch.randint(0, n, (spec.batch_size,), generator=gen)
                xb, yb = x[idx], y[idx]
            logits = forward(net, xb, w, b)                            # [B, G, C]
            per = torch.nn.functional.cross_entropy(logits.permute(0, 2, 1), yb[:, None].expand(-1, g_count),
                                                    reduction="none")  # [B, G]
            loss_g = per.mean(0).detach()
            opt.zero_grad(set_to_none=True)
            per.mean(0).sum().backward()
            opt.step()
    with torch.no_grad():
        val = (forward(net, xv, w, b).argmax(2) == yv[:, None]).float().mean(0)
        # training never leaves a genome worse on validation: where the trained weights score lower
        # (or went non-finite), the genome keeps the weights it came with
        edge_g = torch.tensor([gi for gi, _ in net.edge_keys], dtype=torch.long)
        node_g = torch.tensor([gi for gi, _ in net.node_keys], dtype=torch.long)
        bad = torch.zeros(g_count).index_add(0, edge_g, (~torch.isfinite(w)).float()).index_add(
            0, node_g, (~torch.isfinite(b)).float()) > 0
        revert = bad | (val < val_before)
        w = torch.where(revert[edge_g], net.weights, w)
        b = torch.where(revert[node_g], net.biases, b)
        val = torch.where(revert, val_before, val)
        train = (forward(net, x, w, b).argmax(2) == y[:, None]).float().mean(0)
    new_w, new_b = w.detach().numpy(), b.detach().numpy()
    weights: list[dict[int, float]] = [{} for _ in genomes]
    biases: list[dict[int, float]] = [{} for _ in genomes]
    for (gi, innov), value in zip(net.edge_keys, new_w.tolist()):
        weights[gi][innov] = value
    for (gi, nid), value in zip(net.node_keys, new_b.tolist()):
        biases[gi][nid] = value
    scores = []
    for gi, g in enumerate(genomes):
        acc = float(val[gi])
        fitness = acc - spec.alpha_nodes * g.n_hidden - spec.alpha_edges * g.n_enabled
        scores.append(Score(fitness, acc, float(train[gi]), float(loss_g[gi]), weights[gi], biases[gi]))
    return scores


def predict(genome: NeatGenome, x: np.ndarray, feed_forward: bool = True, ticks: int = 4) -> np.ndarray:
    """One genome's outputs [N, n_outputs] on inputs ``x`` [N, n_inputs]."""
    net = compile_networks([genome], feed_forward, ticks)
    with torch.no_grad():
        return forward(net, _tensor(x))[:, 0, :].numpy()


def hidden_values(genome: NeatGenome, x: np.ndarray, feed_forward: bool = True, ticks: int = 4
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One genome's hidden nodes' values [N, hidden] (in node id order) and outputs [N, n_outputs]."""
    net = compile_networks([genome], feed_forward, ticks)
    with torch.no_grad():
        v = node_values(net, _tensor(x))
        out = v.index_select(1, net.out_cols).numpy()
    hidden = [net.n_inputs + i for i, (_, nid) in sorted(enumerate(net.node_keys), key=lambda item: item[1][1])
              if genome.nodes[nid].kind == "hidden"]
    return v[:, hidden].numpy(), out


def accuracy(genome: NeatGenome, x: np.ndarray, y: np.ndarray, feed_forward: bool = True, ticks: int = 4) -> float:
    """Share of ``x`` classified right: argmax of the outputs, or output > 0.5 with one output."""
    out = predict(genome, x, feed_forward, ticks)
    pred = (out[:, 0] > 0.5).astype(int) if out.shape[1] == 1 else out.argmax(1)
    return float((pred == np.asarray(y).astype(int)).mean()) if len(y) else math.nan


def reference_forward(genome: NeatGenome, x: Sequence[float], feed_forward: bool = True, ticks: int = 4
                      ) -> list[float]:
    """A plain per-node evaluation of one genome on one input vector (the check on :func:`forward`)."""
    act = {"sigmoid": lambda v: 1.0 / (1.0 + math.exp(-SIGMOID_SLOPE * v)), "tanh": math.tanh,
           "relu": lambda v: max(0.0, v), "sin": math.sin, "gauss": lambda v: math.exp(-v * v),
           "identity": lambda v: v}
    inputs = {i: float(x[i]) for i in range(genome.n_inputs)}
    enabled = [c for c in genome.conns.values() if c.enabled]
    others = [n for n in genome.nodes.values() if n.kind != "input"]
    if feed_forward:
        values = dict(inputs)
        depth = node_depths(genome)
        for node in sorted(others, key=lambda n: depth[n.id]):
            s = node.bias + sum(values[c.src] * c.weight for c in enabled if c.dst == node.id)
            values[node.id] = act[node.activation](s)
    else:
        values = {**inputs, **{n.id: 0.0 for n in others}}
        for _ in range(ticks):
            prev = dict(values)
            for node in others:
                s = node.bias + sum(prev[c.src] * c.weight for c in enabled if c.dst == node.id)
                values[node.id] = act[node.activation](s)
    return [values[o] for o in genome.outputs()]


def apply_trained(genome: NeatGenome, score: Score) -> None:
    """Write a score's trained weights and biases into ``genome`` (the Lamarckian setting)."""
    if score.weights is None:
        return
    for innov, value in score.weights.items():
        genome.conns[innov].weight = value
    for nid, value in (score.biases or {}).items():
        genome.nodes[nid].bias = value
