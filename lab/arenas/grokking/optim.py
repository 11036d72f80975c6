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
from collections.abc import Mapping

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
    """AdamW over a population's parameters held in one flat buffer [M, N] (each member a row, its
    parameters side by side), with per-member lr, betas, eps, weight decay and clip.

    The update runs once per column group of parameters sharing a learning-rate scale (two: the
    embeddings and the rest) instead of once per parameter: a dozen elementwise kernels a step
    whatever the model's depth, each element computed by the same operations in the same order as
    a per-parameter update (so the same bits)."""

    def __init__(self, flat: torch.Tensor, sizes: Mapping[str, int], weight_decay: torch.Tensor,
                 beta1: torch.Tensor, beta2: torch.Tensor, eps: torch.Tensor, clip: torch.Tensor,
                 lr_scale: Mapping[str, torch.Tensor]):
        """``flat``: the parameter leaf [M, N]; ``sizes``: parameter name -> elements, in the
        buffer's column order; ``lr_scale``: parameter name -> [M] multiplier of the lr (1 /
        embed_ratio for embeddings; consecutive parameters with one scale share one tensor)."""
        self.flat = flat
        self.weight_decay, self.beta1, self.beta2, self.eps, self.clip = weight_decay, beta1, beta2, eps, clip
        self.exp_avg = torch.zeros_like(flat, requires_grad=False)
        self.exp_avg_sq = torch.zeros_like(flat, requires_grad=False)
        self.columns: list[tuple[int, int]] = []      # each parameter's columns, for the gradient norm
        self.groups: list[tuple[int, int]] = []       # runs of columns with one lr scale
        self.scales: list[torch.Tensor | None] = []
        col = 0
        for name, n in sizes.items():
            scale = lr_scale.get(name)
            self.columns.append((col, col + n))
            if self.groups and self.scales[-1] is scale:
                self.groups[-1] = (self.groups[-1][0], col + n)
            else:
                self.groups.append((col, col + n))
                self.scales.append(scale)
            col += n

    def grad_norm(self) -> torch.Tensor:
        """Each member's global gradient norm [M] (summed parameter by parameter, in order)."""
        grad = self.flat.grad
        total = None
        for a, b in self.columns:
            sq = grad[:, a:b].pow(2).sum(1)
            total = sq if total is None else total + sq
        return total.sqrt()

    @torch.no_grad()
    def step(self, lr: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        """The AdamW step number ``t`` (1-based; one int for all, or [M] int64: members that joined
        later are at earlier steps) at per-member learning rates ``lr`` [M]; returns the pre-clip
        grad norms."""
        norm = self.grad_norm()
        coef = (self.clip / (norm + CLIP_EPS)).clamp(max=1.0).unsqueeze(1)
        dtype = self.flat.dtype
        bc1 = (1.0 - member_pow(self.beta1.to(torch.float64), t)).to(dtype)
        bc2_sqrt = (1.0 - member_pow(self.beta2.to(torch.float64), t)).sqrt().to(dtype).unsqueeze(1)
        one_minus_b1 = (1.0 - self.beta1).unsqueeze(1)
        b2, one_minus_b2 = self.beta2.unsqueeze(1), (1.0 - self.beta2).unsqueeze(1)
        eps = self.eps.unsqueeze(1)
        for (a, b), scale in zip(self.groups, self.scales):
            p, g = self.flat[:, a:b], self.flat.grad[:, a:b] * coef
            lr_p = lr * scale if scale is not None else lr
            p.mul_((1.0 - lr_p * self.weight_decay).unsqueeze(1))
            m, v = self.exp_avg[:, a:b], self.exp_avg_sq[:, a:b]
            m.lerp_(g, one_minus_b1)
            v.mul_(b2).addcmul_(g, g * one_minus_b2)
            denom = (v.sqrt() / bc2_sqrt).add_(eps)
            p.sub_((lr_p / bc1).unsqueeze(1) * m / denom)
        return norm

    _PER_MEMBER = ("weight_decay", "beta1", "beta2", "eps", "clip", "exp_avg", "exp_avg_sq")

    def keep(self, idx: torch.Tensor, flat: torch.Tensor) -> None:
        """Keep only members ``idx``; ``flat`` is the new (already selected) parameter leaf."""
        self.flat = flat
        for name in self._PER_MEMBER:
            setattr(self, name, getattr(self, name)[idx])
        self.scales = [None if s is None else s[idx] for s in self.scales]

    def extend(self, other: PopulationAdamW, flat: torch.Tensor) -> None:
        """Append the members of ``other`` (new members joining, with fresh moments); ``flat`` is the
        new parameter leaf of the whole batch."""
        self.flat = flat
        for name in self._PER_MEMBER:
            setattr(self, name, torch.cat([getattr(self, name), getattr(other, name)]))
        self.scales = [None if s is None else torch.cat([s, o]) for s, o in zip(self.scales, other.scales)]
