"""Per-member AdamW and learning-rate life cycle for a population of stacked models.

Every hyperparameter is a tensor [M], one value per member. The arithmetic is that of
``torch.optim.AdamW`` (decoupled weight decay, bias-corrected moments, eps outside the root) after
``torch.nn.utils.clip_grad_norm_`` on each member's own global gradient norm, so the reference
trainer, which uses those two, sees the same numbers.

``LifeCycle`` implements the genes ``warmup_steps``, ``decay_trigger_var`` and ``decay_rate``, and
``lr_scale`` carries ``embed_ratio``; their exact semantics are written once, in docs/grokking.md ("What
each gene does in the trainer").
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

CLIP_EPS = 1e-6  # as in torch.nn.utils.clip_grad_norm_


def member_pow(base: torch.Tensor, exponent: torch.Tensor | float) -> torch.Tensor:
    """``base ** exponent`` per member [M], each value computed on its own in double precision.

    torch's pow runs vectorised over most of a tensor and scalar over its tail, and the two round
    differently, so a member's value would depend on its position in the batch (and the trial on
    its batch mates). One ``math.pow`` per member costs microseconds a step. On a CUDA device, where
    an elementwise kernel computes every element alike, torch's pow runs there in double precision,
    so the values never travel to the host (no synchronisation in the step)."""
    if base.device.type == "cuda":
        return torch.pow(base.to(torch.float64), exponent).to(base.dtype)
    exps = exponent.tolist() if isinstance(exponent, torch.Tensor) else [float(exponent)] * len(base)
    values = [math.pow(b, e) for b, e in zip(base.tolist(), exps)]
    return torch.tensor(values, dtype=base.dtype, device=base.device)


class LifeCycle:
    """Warmup and variance-triggered exponential decay of each member's learning rate."""

    def __init__(self, lr: torch.Tensor, warmup: torch.Tensor, trigger_var: torch.Tensor,
                 decay_rate: torch.Tensor, window: int):
        self.lr, self.warmup, self.trigger_var, self.decay_rate = lr, warmup, trigger_var, decay_rate
        self.window = window
        self.losses = torch.zeros(len(lr), window, dtype=torch.float64, device=lr.device)
        self.triggered_at = torch.full((len(lr),), -1, dtype=torch.int64, device=lr.device)

    def lr_for_step(self, t: int | torch.Tensor) -> torch.Tensor:
        """Each member's learning rate at its step ``t`` (one int for all, or [M] int64)."""
        # t / warmup as ``warmup.reciprocal() * t``: what torch computes for a Python number t, so a
        # tensor of steps gives the same bits
        warm = torch.where(self.warmup > 0, (self.warmup.clamp(min=1).reciprocal() * t).clamp(max=1.0),
                           torch.ones_like(self.lr))
        k = (t - 1 - self.triggered_at).clamp(min=0).to(self.lr.dtype)
        decay = torch.where(self.triggered_at >= 0, member_pow(1.0 - self.decay_rate, k), torch.ones_like(self.lr))
        return self.lr * warm * decay

    def record(self, t: int | torch.Tensor, losses: torch.Tensor) -> None:
        """Note the training losses of step t (1-based; one int for all, or [M] int64) and arm the
        decay where their variance is low."""
        losses = losses.detach().to(torch.float64)
        if isinstance(t, int):
            self.losses[:, (t - 1) % self.window] = losses
            if t < self.window:
                return
            ready, t = None, torch.full_like(self.triggered_at, t)
        else:
            rows = torch.arange(len(t), device=t.device)
            self.losses[rows, (t - 1) % self.window] = losses
            ready = t >= self.window
        var = self.losses.var(dim=1, unbiased=False)
        newly = (self.triggered_at < 0) & (var < self.trigger_var.to(torch.float64))
        if ready is not None:
            newly &= ready
        self.triggered_at.copy_(torch.where(newly, t, self.triggered_at))   # in place: a CUDA graph replays it

    _PER_MEMBER = ("lr", "warmup", "trigger_var", "decay_rate", "losses", "triggered_at")

    def keep(self, idx: torch.Tensor) -> None:
        for name in self._PER_MEMBER:
            setattr(self, name, getattr(self, name)[idx])

    def extend(self, other: LifeCycle) -> None:
        """Append the members of ``other`` (new members joining the batch)."""
        for name in self._PER_MEMBER:
            setattr(self, name, torch.cat([getattr(self, name), getattr(other, name)]))


class PopulationAdamW:
    """AdamW over a population's parameters, with per-member lr, betas, eps, weight decay and clip.

    The parameters live in one or more leaves, each [M, ...] (each member a row) and read as
    [M, columns]: on a CUDA device one flat leaf holding every parameter side by side, on the CPU one
    leaf per parameter (lab.arenas.grokking.live says why). The update runs once per run of columns
    in one leaf sharing a learning-rate scale: with the flat leaf two runs (the embeddings and the
    rest), a dozen elementwise kernels a step whatever the model's depth; each element is computed
    by the same operations in the same order either way (so the same bits)."""

    def __init__(self, leaves: Sequence[torch.Tensor], sizes: Mapping[str, int], weight_decay: torch.Tensor,
                 beta1: torch.Tensor, beta2: torch.Tensor, eps: torch.Tensor, clip: torch.Tensor,
                 lr_scale: Mapping[str, torch.Tensor]):
        """``leaves``: the parameter leaves, each [M, ...]; ``sizes``: parameter name -> elements, in
        the leaves' order (their columns, leaf after leaf; no parameter spans two leaves);
        ``lr_scale``: parameter name -> [M] multiplier of the lr (1 / embed_ratio for embeddings;
        consecutive parameters with one scale share one tensor)."""
        self.leaves = list(leaves)
        self.weight_decay, self.beta1, self.beta2, self.eps, self.clip = weight_decay, beta1, beta2, eps, clip
        self.exp_avg = [torch.zeros_like(self._2d(leaf), requires_grad=False) for leaf in self.leaves]
        self.exp_avg_sq = [torch.zeros_like(self._2d(leaf), requires_grad=False) for leaf in self.leaves]
        self.columns: list[tuple[int, int, int]] = []   # each parameter's (leaf, columns), for the gradient norm
        self.groups: list[tuple[int, int, int]] = []    # runs of columns in one leaf with one lr scale
        self.scales: list[torch.Tensor | None] = []
        leaf, col = 0, 0
        for name, n in sizes.items():
            if col == self._2d(self.leaves[leaf]).shape[1]:
                leaf, col = leaf + 1, 0
            scale = lr_scale.get(name)
            self.columns.append((leaf, col, col + n))
            if self.groups and self.groups[-1][0] == leaf and self.scales[-1] is scale:
                self.groups[-1] = (leaf, self.groups[-1][1], col + n)
            else:
                self.groups.append((leaf, col, col + n))
                self.scales.append(scale)
            col += n
        if leaf != len(self.leaves) - 1 or col != self._2d(self.leaves[-1]).shape[1]:
            raise ValueError("the parameter sizes do not match the leaves")

    @staticmethod
    def _2d(t: torch.Tensor) -> torch.Tensor:
        return t.view(t.shape[0], -1)

    def _grads(self) -> list[torch.Tensor]:
        return [leaf.grad.reshape(leaf.shape[0], -1) for leaf in self.leaves]

    def grad_norm(self) -> torch.Tensor:
        """Each member's global gradient norm [M] (summed parameter by parameter, in order)."""
        grads = self._grads()
        total = None
        for i, a, b in self.columns:
            sq = grads[i][:, a:b].pow(2).sum(1)
            total = sq if total is None else total + sq
        return total.sqrt()

    @torch.no_grad()
    def step(self, lr: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        """The AdamW step number ``t`` (1-based; one int for all, or [M] int64: members that joined
        later are at earlier steps) at per-member learning rates ``lr`` [M]; returns the pre-clip
        grad norms."""
        grads = self._grads()
        norm = self.grad_norm()
        coef = (self.clip / (norm + CLIP_EPS)).clamp(max=1.0).unsqueeze(1)
        dtype = self.leaves[0].dtype
        bc1 = (1.0 - member_pow(self.beta1.to(torch.float64), t)).to(dtype)
        bc2_sqrt = (1.0 - member_pow(self.beta2.to(torch.float64), t)).sqrt().to(dtype).unsqueeze(1)
        one_minus_b1 = (1.0 - self.beta1).unsqueeze(1)
        b2, one_minus_b2 = self.beta2.unsqueeze(1), (1.0 - self.beta2).unsqueeze(1)
        eps = self.eps.unsqueeze(1)
        for (i, a, b), scale in zip(self.groups, self.scales):
            p, g = self._2d(self.leaves[i])[:, a:b], grads[i][:, a:b] * coef
            lr_p = lr * scale if scale is not None else lr
            p.mul_((1.0 - lr_p * self.weight_decay).unsqueeze(1))
            m, v = self.exp_avg[i][:, a:b], self.exp_avg_sq[i][:, a:b]
            m.lerp_(g, one_minus_b1)
            v.mul_(b2).addcmul_(g, g * one_minus_b2)
            denom = (v.sqrt() / bc2_sqrt).add_(eps)
            p.sub_((lr_p / bc1).unsqueeze(1) * m / denom)
        return norm

    _PER_MEMBER = ("weight_decay", "beta1", "beta2", "eps", "clip")

    def keep(self, idx: torch.Tensor, leaves: Sequence[torch.Tensor]) -> None:
        """Keep only members ``idx``; ``leaves`` are the new (already selected) parameter leaves."""
        self.leaves = list(leaves)
        for name in self._PER_MEMBER:
            setattr(self, name, getattr(self, name)[idx])
        self.exp_avg = [m[idx] for m in self.exp_avg]
        self.exp_avg_sq = [v[idx] for v in self.exp_avg_sq]
        self.scales = [None if s is None else s[idx] for s in self.scales]

    def extend(self, other: PopulationAdamW, leaves: Sequence[torch.Tensor]) -> None:
        """Append the members of ``other`` (new members joining, with fresh moments); ``leaves`` are
        the new parameter leaves of the whole batch."""
        self.leaves = list(leaves)
        for name in self._PER_MEMBER:
            setattr(self, name, torch.cat([getattr(self, name), getattr(other, name)]))
        self.exp_avg = [torch.cat([m, o]) for m, o in zip(self.exp_avg, other.exp_avg)]
        self.exp_avg_sq = [torch.cat([v, o]) for v, o in zip(self.exp_avg_sq, other.exp_avg_sq)]
        self.scales = [None if s is None else torch.cat([s, o]) for s, o in zip(self.scales, other.scales)]
