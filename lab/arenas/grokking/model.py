"""The MicroTransformer: parameters, initialisation from genes, and the batched population forward.

Architecture (no layer norm): token + position embeddings; ``layers`` blocks of causal multi-head
attention and a ReLU feed-forward network, each added to the residual stream as
``x + layer_scale * dropout(branch(x))``; an unembedding read at the "=" position. Every weight
of the population has a leading member dimension [M, ...] and each step is one batched
forward (``torch.baddbmm``) for all members.

Only the "=" position is read out, so the last block computes its query, attention output and
feed-forward only there (keys and values still see every position). This is exactly the same
function, for one model (``reference.py``) and for the population alike.

Dropout masks come from a counter-based hash of (trial seed, step, site, element), not from a
global RNG, so a trial's masks depend on its own seed only, whoever shares its batch.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import torch

from lab.arenas.grokking.task import GrokTask

EMBED_PARAMS = ("W_E", "W_pos")  # the "senses": trained at learning_rate / embed_ratio
BIAS_PREFIX = "b_"
_MASK32 = 0xFFFFFFFF


def param_shapes(task: GrokTask) -> dict[str, tuple[int, ...]]:
    """Name -> shape of one model's parameters, in initialisation order."""
    d, f, p = task.d_model, task.d_ff, task.modulus
    shapes: dict[str, tuple[int, ...]] = {"W_E": (task.vocab, d), "W_pos": (task.seq_len, d)}
    for layer in range(task.layers):
        for name in ("Q", "K", "V", "O"):
            shapes[f"L{layer}.W_{name}"] = (d, d)
            shapes[f"L{layer}.b_{name}"] = (d,)
        shapes[f"L{layer}.W_in"], shapes[f"L{layer}.b_in"] = (d, f), (f,)
        shapes[f"L{layer}.W_out"], shapes[f"L{layer}.b_out"] = (f, d), (d,)
    shapes["W_U"], shapes["b_U"] = (d, p), (p,)
    return shapes


def init_std(name: str, genes: Mapping[str, float], task: GrokTask) -> float:
    """The initialisation std of a parameter, from the genes (the one place this is decided)."""
    short = name.split(".")[-1]
    d = task.d_model
    if short.startswith(BIAS_PREFIX):
        return float(genes["bias_scale"])
    if short in EMBED_PARAMS:
        return genes["init_embed"] / math.sqrt(d)
    if short in ("W_Q", "W_K"):
        return genes["init_attn_qk"] / math.sqrt(d)
    if short in ("W_V", "W_O"):
        return genes["init_attn_v"] / math.sqrt(d)
    if short == "W_in":
        return genes["init_ffn"] / math.sqrt(d)
    if short == "W_out":
        return genes["init_ffn"] / math.sqrt(task.d_ff)
    return 1.0 / math.sqrt(d)  # W_U: standard init, not a gene


def init_params(task: GrokTask, genes: Mapping[str, float], seed: int,
                dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """One model's initial weights: N(0, std^2) drawn on the CPU from the trial seed, in a fixed order."""
    gen = torch.Generator().manual_seed(int(seed))
    out = {}
    for name, shape in param_shapes(task).items():
        w = torch.randn(shape, generator=gen, dtype=torch.float64) * init_std(name, genes, task)
        out[name] = w.to(dtype)
    return out


_SEED_MUL, _STEP_MUL, _SITE_MUL, _INDEX_MUL = 0x3C6EF373, 0x1B873593, 0x27D4EB2F, 0x165667B1
_MIX1, _MIX2 = 0x21F0AAAD, 0x2D96F12B


def _as_int32(value: torch.Tensor) -> torch.Tensor:
    """Reinterpret values in [0, 2**32) as int32 bit patterns."""
    return (value - ((value >> 31) << 32)).to(torch.int32)


def _check_int32_wraps() -> bool:
    """The hash multiplies int32 tensors and relies on two's-complement wrap-around (what CPUs and
    GPUs do); if this build did otherwise, fall back to exact int64 arithmetic."""
    a = torch.tensor([0x7FFFFFFF, -5], dtype=torch.int32)
    return (a * _MIX1).tolist() == [_as_int32(torch.tensor(v * _MIX1 & _MASK32)).item()
                                    for v in (0x7FFFFFFF, (-5) & _MASK32)]


_INT32_WRAPS = _check_int32_wraps()
_MIX1_I32, _MIX2_I32 = (int(_as_int32(torch.tensor(m)).item()) for m in (_MIX1, _MIX2))   # as int32 bit patterns


def dropout_uniform(seeds: torch.Tensor, step: int | torch.Tensor, site: int, index: torch.Tensor) -> torch.Tensor:
    """Uniform [0, 1) numbers (24-bit), one per (member, element): a hash of (trial seed, step, site,
    element index) with a two-multiply xorshift finaliser (32-bit arithmetic). ``seeds`` is [M] and
    ``step`` one int or [M]; the
    result is [M, *index.shape]. Per-member and per-element terms are computed on their own small
    tensors, so the [M, elements] work is one add and the finaliser."""
    member = ((seeds & _MASK32) * _SEED_MUL + (step & _MASK32) * _STEP_MUL + site * _SITE_MUL) & _MASK32
    element = ((index & _MASK32) * _INDEX_MUL) & _MASK32
    shape = (-1, *([1] * index.dim()))
    if _INT32_WRAPS:  # same bits as the int64 branch, half the memory traffic
        x = _as_int32(member).view(shape) + _as_int32(element).unsqueeze(0)
        x = x ^ ((x >> 16) & 0xFFFF)
        x = x * _MIX1_I32
        x = x ^ ((x >> 15) & 0x1FFFF)
        x = x * _MIX2_I32
        x = x ^ ((x >> 16) & 0xFFFF)
        return ((x >> 8) & 0xFFFFFF).to(torch.float32) * (1.0 / (1 << 24))
    x = (member.view(shape) + element.unsqueeze(0)) & _MASK32
    x = x ^ (x >> 16)
    x = (x * _MIX1) & _MASK32
    x = x ^ (x >> 15)
    x = (x * _MIX2) & _MASK32
    x = x ^ (x >> 16)
    return (x >> 8).to(torch.float32) * (1.0 / (1 << 24))


def element_index(batch: int, positions: list[int], task: GrokTask, device: torch.device) -> torch.Tensor:
    """The absolute element index ((b * T + pos) * D + d) of a residual tensor [batch, len(positions), D]
    (made once per shape and device: a CUDA graph may not copy from the host while it records)."""
    return _element_index(batch, tuple(positions), task.seq_len, task.d_model, str(device))


@functools.lru_cache(maxsize=32)
def _element_index(batch: int, positions: tuple[int, ...], seq_len: int, d_model: int, device: str) -> torch.Tensor:
    b = torch.arange(batch, device=device).view(-1, 1, 1)
    pos = torch.tensor(positions, device=device).view(1, -1, 1)
    d = torch.arange(d_model, device=device).view(1, 1, -1)
    return (b * seq_len + pos) * d_model + d


class Dropout:
    """Per-member inverted dropout with hashed masks; identity when every probability is 0.

    Masks depend on the trial seed and the member's own step only, so members sharing both (the
    usual case: every genome of a generation runs on the same seeds, from the same step) share one
    hashed table, gathered per member. ``step`` is one int for all members or [M] int64 (members
    that joined the batch later are at earlier steps)."""

    def __init__(self, p: torch.Tensor | None, seeds: torch.Tensor | None, step: int | torch.Tensor,
                 active: bool | None = None, groups: tuple[torch.Tensor, int | torch.Tensor, torch.Tensor] | None = None):
        # ``active``: the caller knows already whether any p > 0 (reading it from p syncs with the device);
        # ``groups``: it knows the members sharing (seed, step) as (seeds [U], steps (int or [U]),
        # inverse [M]) (finding them with torch.unique syncs too)
        self.active = p is not None and (bool((p > 0).any()) if active is None else active)
        self.p, self.seeds, self.step = p, seeds, step
        if self.active:
            if groups is not None:
                self.unique, self.unique_step, self.inverse = groups
            elif isinstance(step, torch.Tensor):
                keys, self.inverse = torch.unique(torch.stack([seeds, step], 1), dim=0, return_inverse=True)
                self.unique, self.unique_step = keys[:, 0], keys[:, 1]
            else:
                self.unique, self.inverse = torch.unique(seeds, return_inverse=True)
                self.unique_step = step
            self.shared = len(self.unique) < len(seeds)

    def __call__(self, branch: torch.Tensor, site: int, index: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return branch
        if self.shared:
            u = dropout_uniform(self.unique, self.unique_step, site, index)[self.inverse]
        else:
            u = dropout_uniform(self.seeds, self.step, site, index)  # [M, B, T', D]
        p = self.p.view(-1, 1, 1, 1).to(branch.dtype)
        scale = torch.where(u >= p.to(u.dtype), 1.0 / (1.0 - p), 0.0)  # keep and rescale, or drop
        return branch * scale


def forward_population(P: Mapping[str, torch.Tensor], tokens: torch.Tensor, task: GrokTask,
                       layer_scale: torch.Tensor, dropout: Dropout | None = None,
                       equals_last: bool | None = None) -> torch.Tensor:
    """Logits [M, B, p] at the "=" position for M members. ``tokens`` is [M, B, 3] (each member its own
    batch) or [B, 3] (one batch for all, for evaluation). ``layer_scale`` is [M]. ``equals_last``:
    the caller knows whether every sequence ends with "=" (None: look, which syncs with a device)."""
    if equals_last is None:
        equals_last = bool((tokens[..., -1] == task.vocab - 1).all())
    if task.layers == 1 and equals_last:
        return _forward_one_block(P, tokens, task, layer_scale, dropout)
    return _forward_generic(P, tokens, task, layer_scale, dropout)


class _RowLookup(torch.autograd.Function):
    """``flat[index]`` whose backward sums gradients with ``index_add_``, in index order.

    Plain advanced indexing accumulates its gradient with a parallel, size-dependent reduction on
    the CPU: a member's gradient then depends, in its last bits, on how many members share the batch
    (and may vary from run to run). ``index_add_`` along dim 0 adds in index order, and a member's
    rows only ever receive its own tokens, so every member gets the same bits in any batch (and it is
    faster)."""

    @staticmethod
    def forward(ctx, flat: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(index)
        ctx.rows = flat.shape[0]
        return flat[index]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (index,) = ctx.saved_tensors
        tail = grad.shape[index.dim():]
        out = grad.new_zeros((ctx.rows, *tail))
        out.index_add_(0, index.reshape(-1), grad.reshape(-1, *tail))
        return out, None


def _gather_rows(table: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """table [M, V, ...] indexed by tokens [M, B, t] (or [B, t], shared) -> [M, B, t, ...]."""
    if tokens.dim() == 2:
        return table[:, tokens]
    M, V = table.shape[:2]
    offset = (torch.arange(M, device=tokens.device) * V).view(M, 1, 1)
    return _RowLookup.apply(table.reshape(M * V, *table.shape[2:]), tokens + offset)


def _forward_one_block(P: Mapping[str, torch.Tensor], tokens: torch.Tensor, task: GrokTask,
                       layer_scale: torch.Tensor, dropout: Dropout | None) -> torch.Tensor:
    """The same function as ``_forward_generic`` for one block, computed through per-token tables.

    In a one-block model the query is read at the "=" position only, and the input there is the
    same for every example ("=" embedding + its position embedding). So the query is one vector per
    member, and every key and value is (token row of W_E @ W + position row of W_pos @ W + bias):
    attention scores become lookups in a [vocab, heads] table per member and values lookups in a
    [vocab, d_model] table, instead of projections of a [batch, 3, d_model] residual stream."""
    W_E = P["W_E"]
    M, V, D = W_E.shape
    T, H = task.seq_len, task.heads
    dh = D // H
    W_pos = P["W_pos"]
    e_eq = W_E[:, V - 1] + W_pos[:, T - 1]                                      # [M, D]
    q = torch.baddbmm(P["L0.b_Q"].unsqueeze(1), e_eq.unsqueeze(1), P["L0.W_Q"]).view(M, 1, H, dh)
    key_tok = torch.bmm(W_E, P["L0.W_K"]).view(M, V, H, dh)
    key_pos = torch.baddbmm(P["L0.b_K"].unsqueeze(1), W_pos, P["L0.W_K"]).view(M, T, H, dh)
    score_tok = (key_tok * q).sum(-1) / math.sqrt(dh)                            # [M, V, H]
    score_pos = (key_pos * q).sum(-1) / math.sqrt(dh)                            # [M, T, H]
    val_tok = torch.bmm(W_E, P["L0.W_V"])                                        # [M, V, D]
    val_pos = torch.baddbmm(P["L0.b_V"].unsqueeze(1), W_pos, P["L0.W_V"])       # [M, T, D]

    ab = tokens[..., :T - 1]                                                     # the two operands
    scores = _gather_rows(score_tok, ab) + score_pos[:, None, :T - 1]            # [M, B, 2, H]
    B = scores.shape[1]
    score_eq = (score_tok[:, V - 1] + score_pos[:, T - 1]).view(M, 1, 1, H).expand(M, B, 1, H)
    attn = torch.cat([scores, score_eq], dim=2).softmax(dim=2)                  # [M, B, 3, H]
    values = (_gather_rows(val_tok, ab) + val_pos[:, None, :T - 1]).view(M, B, T - 1, H, dh)
    value_eq = (val_tok[:, V - 1] + val_pos[:, T - 1]).view(M, 1, H, dh)
    z = (attn[:, :, :T - 1].unsqueeze(-1) * values).sum(2) + attn[:, :, T - 1].unsqueeze(-1) * value_eq
    o = torch.baddbmm(P["L0.b_O"].unsqueeze(1), z.reshape(M, B, D), P["L0.W_O"]).view(M, B, 1, D)
    ls = layer_scale.view(M, 1, 1, 1).to(o.dtype)
    drop = dropout if dropout is not None and dropout.active else None
    if drop is not None:
        index = element_index(B, [T - 1], task, o.device)
        o = drop(o, 0, index)
    x = e_eq.view(M, 1, 1, D) + ls * o                                           # [M, B, 1, D]
    h = torch.relu(torch.baddbmm(P["L0.b_in"].unsqueeze(1), x.view(M, B, D), P["L0.W_in"]))
    f = torch.baddbmm(P["L0.b_out"].unsqueeze(1), h, P["L0.W_out"]).view(M, B, 1, D)
    if drop is not None:
        f = drop(f, 1, index)
    x = (x + ls * f).view(M, B, D)
    return torch.baddbmm(P["b_U"].unsqueeze(1), x, P["W_U"])


def _forward_generic(P: Mapping[str, torch.Tensor], tokens: torch.Tensor, task: GrokTask,
                     layer_scale: torch.Tensor, dropout: Dropout | None = None) -> torch.Tensor:
    """Any number of blocks: project the residual stream of every example."""
    W_E = P["W_E"]
    M, V, D = W_E.shape
    T, H = task.seq_len, task.heads
    dh = D // H
    x = _gather_rows(W_E, tokens) + P["W_pos"].unsqueeze(1)                     # [M, B, T, D]
    B = x.shape[1]
    ls = layer_scale.view(M, 1, 1, 1).to(x.dtype)
    drop = dropout if dropout is not None and dropout.active else None
    causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()

    def lin(inp: torch.Tensor, name: str) -> torch.Tensor:  # [M, B, t, a] @ [M, a, b] + [M, b]
        m, b, t, a = inp.shape
        out = torch.baddbmm(P[name.replace("W_", "b_")].unsqueeze(1), inp.reshape(m, b * t, a), P[name])
        return out.view(m, b, t, -1)

    for layer in range(task.layers):
        pre = f"L{layer}."
        last = layer == task.layers - 1
        q_pos = [T - 1] if last else list(range(T))
        xq = x[:, :, -1:, :] if last else x
        q = lin(xq, pre + "W_Q").view(M, B, len(q_pos), 1, H, dh)
        k = lin(x, pre + "W_K").view(M, B, 1, T, H, dh)
        v = lin(x, pre + "W_V").view(M, B, 1, T, H, dh)
        scores = (q * k).sum(-1) / math.sqrt(dh)  # [M, B, Tq, T, H]
        mask = causal[q_pos].view(1, 1, len(q_pos), T, 1)
        attn = scores.masked_fill(~mask, float("-inf")).softmax(dim=3)
        z = (attn.unsqueeze(-1) * v).sum(3).reshape(M, B, len(q_pos), D)
        o = lin(z, pre + "W_O")
        if drop is not None:
            index = element_index(B, q_pos, task, x.device)
            o = drop(o, 2 * layer, index)
        x = xq + ls * o
        h = torch.relu(lin(x, pre + "W_in"))
        f = lin(h, pre + "W_out")
        if drop is not None:
            f = drop(f, 2 * layer + 1, index)
        x = x + ls * f
    return lin(x[:, :, -1:, :], "W_U").squeeze(2)
