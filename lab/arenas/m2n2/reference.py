"""A plain one-run M2N2, written as the published loop reads (one model at a time, no batching).

It draws its randomness from the same per-run generator in the same order as the batched engine
and shares only the MLP's forward pass with it, so tests can check that the engine's batched
selection, crossover and replacement make exactly the published decisions.
"""
from __future__ import annotations

import math

import torch

from lab.arenas.m2n2.engine import SLERP_EPS, UNIFORMS, M2N2Settings, member_rng, mlp_logits
from lab.arenas.m2n2.task import M2N2Task, TaskData, n_params


def _pick(weights: torch.Tensor, u: float) -> int:
    """Index drawn in proportion to ``weights`` by one uniform (inverse CDF)."""
    cdf = torch.cumsum(weights, 0)
    return min(int(torch.searchsorted(cdf, torch.tensor([u * float(cdf[-1])], dtype=cdf.dtype), right=True)),
               len(weights) - 1)


def reference_run(task: M2N2Task, settings: M2N2Settings, seed: int, passes: int, data: TaskData
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Archive [K, P] and scores [K, N] of one run after ``passes`` passes."""
    s = settings
    K, P, N = s.archive_size, n_params(data.n_inputs, task.hidden, data.n_classes), len(data.y_train)
    x_t = data.x_train.t().contiguous()
    block = max(1, min(64, 2 ** 21 // P))
    g = member_rng(seed)

    def correct(p: torch.Tensor) -> torch.Tensor:
        pred = mlp_logits(p.unsqueeze(0), x_t, task.hidden, data.n_classes)[0].argmax(0)
        return (pred == data.y_train).double()

    def fitness_matrix(sc: torch.Tensor) -> torch.Tensor:
        z = sc.sum(0)
        z[z == 0] = 1.0
        return sc / z ** s.alpha

    archive = torch.zeros(K, P)
    scores = torch.zeros(K, N, dtype=torch.float64)
    filled = torch.zeros(K, dtype=torch.bool)

    def insert(child: torch.Tensor) -> None:
        sc = correct(child)
        fit = fitness_matrix(torch.cat([scores, sc.unsqueeze(0)])).sum(1)
        worst = int(torch.argmin(fit))
        if worst < K:
            archive[worst], scores[worst], filled[worst] = child, sc, True

    with torch.no_grad():
        for model in torch.randn(2, P, generator=g) * s.init_sigma:
            insert(model)
        for i in range(passes):
            if i % block == 0:
                uniforms = torch.rand(block, UNIFORMS, generator=g, dtype=torch.float64)
                noise = torch.randn(block, P, generator=g)
            u = uniforms[i % block].tolist()
            fm = fitness_matrix(scores.clone())
            fit = fm.sum(1)
            by_fit = fit if fit.sum() > 0 else filled.double()
            a = _pick(by_fit, u[0])
            if s.partner == "attraction":
                pull = (fm - fm[a]).clamp_min(0).sum(1)
                if pull.sum() > 0:
                    b = _pick(pull, u[1])
                else:
                    b = 0 if s.zero_attraction == "slot0" else _pick(by_fit, u[1])
            elif s.partner == "fitness":
                b = _pick(by_fit, u[1])
            else:
                b = _pick(filled.double(), u[1])
            x, y = archive[a], archive[b]
            child = x.clone()
            if u[2] < s.crossover_rate:
                w = torch.tensor(u[3], dtype=torch.float32)
                split = int(u[4] * P) if s.split_point else P
                val = torch.cat([w.expand(split), (1 - w).expand(P - split)])
                cos = float(torch.dot(x / x.norm(), y / y.norm())) if x.norm() * y.norm() > 0 else 1.0
                omega = torch.tensor(math.acos(max(-1.0, min(1.0, cos))), dtype=torch.float32)
                sin = torch.sin(omega)
                if s.slerp and sin > SLERP_EPS:
                    child = torch.sin((1 - val) * omega) / sin * x + torch.sin(val * omega) / sin * y
                else:
                    child = (1 - val) * x + val * y
            insert(child + s.mutation_sigma * noise[i % block])
    return archive, scores
