"""The members the population trainer is training now: one stack of weights, optimiser and
learning-rate state, that members join (continuous batching) and leave.

Each member keeps its own step count: a member that joined at global step ``start`` is at step
``g - start`` at global step g, and its learning rate, AdamW bias correction, dropout masks, loss
window and evaluation schedule all follow its own step, so a trial trains exactly as it would
from the start of a batch. Members join only where the batch's evaluation steps fall (or into an
empty batch), so all live members evaluate at the same global steps and evaluation stays one
batched pass.

Batch indices are drawn ahead for the steps up to the next evaluation (at most
``BLOCK_ELEMENTS`` of them) and copied to the device at once, from pinned memory on CUDA, instead
of one pageable copy per step; each member's sequence of batches is the same as drawing step by
step.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lab.arenas.grokking.model import EMBED_PARAMS, Dropout, init_params, param_shapes
from lab.arenas.grokking.optim import LifeCycle, PopulationAdamW
from lab.arenas.grokking.task import GrokTask

BLOCK_ELEMENTS = 1 << 23   # batch indices drawn ahead per copy to the device (64 MiB of int64)


class LiveBatch:
    """The stacked state of the live members (``members``, objects with ``genome``, ``seed`` and
    ``order``, a BatchOrder): all weights in one leaf ``flat`` [M, N] and ``P``, its views by name
    [M, ...] (one split, so the backward writes every gradient with one concatenation; made anew
    for each step, since the optimiser updates the buffer in place), ``opt``,
    ``life``, the per-member genes the forward needs, ``first_bad`` (the member's step of its first
    non-finite loss, 0: none yet)."""

    def __init__(self, task: GrokTask, device: str, dtype: torch.dtype):
        self.task, self.device, self.dtype = task, device, dtype
        self.shapes = param_shapes(task)
        self.sizes = {name: math.prod(shape) for name, shape in self.shapes.items()}
        self.members: list[Any] = []
        self.starts: list[int] = []
        self._clear()

    def _clear(self) -> None:
        self.flat: torch.Tensor | None = None
        self.opt: PopulationAdamW | None = None
        self.life: LifeCycle | None = None
        self.layer_scale = self.dropout_p = self.seeds = self.first_bad = self.start_t = None
        self.dropout_on = False
        self._groups: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self.block: torch.Tensor | None = None
        self.block_pos = 0
        self._pinned: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.members)

    # ---- steps ------------------------------------------------------------------------------------
    def steps(self, g: int) -> int | torch.Tensor:
        """Every member's own step at global step ``g``: one int when all joined together (the
        usual case, and the cheapest), else [M] int64 on the device."""
        if all(s == self.starts[0] for s in self.starts):
            return g - self.starts[0]
        return g - self.start_t

    def local(self, g: int) -> list[int]:
        return [g - s for s in self.starts]

    def indices(self, g: int) -> torch.Tensor:
        """The training-example indices of every member's batch at global step ``g`` [M, B]."""
        if self.block is None or self.block_pos >= self.block.shape[1]:
            M, B = len(self.members), self.members[0].order.batch
            interval = self.task.eval_interval
            to_eval = interval - (g - self.starts[0] - 1) % interval   # steps up to the next evaluation
            steps = max(1, min(to_eval, BLOCK_ELEMENTS // (M * B)))
            host = torch.from_numpy(np.stack([m.order.take(steps) for m in self.members]))
            if self.device.startswith("cuda"):
                self._pinned = host.pin_memory()   # kept alive until the next block: the copy is asynchronous
                self.block = self._pinned.to(self.device, non_blocking=True)
            else:
                self.block = host
            self.block_pos = 0
        self.block_pos += 1
        return self.block[:, self.block_pos - 1]

    # ---- joining and leaving ----------------------------------------------------------------------
    def add(self, members: Sequence[Any], start: int) -> None:
        """New members join at global step ``start`` (their step 0), with fresh weights and state."""
        if not members:
            return
        if self.block is not None and self.block_pos < self.block.shape[1]:
            raise RuntimeError("members may join only where the batch's drawn-ahead batches end")
        task, device, dtype = self.task, self.device, self.dtype
        inits = [init_params(task, m.genome.genes, m.seed, dtype) for m in members]
        flat_new = torch.stack([torch.cat([p[k].flatten() for k in self.shapes]) for p in inits]).to(device)
        del inits

        def gt(key: str) -> torch.Tensor:
            return torch.tensor([float(m.genome.genes[key]) for m in members], dtype=dtype, device=device)

        life = LifeCycle(gt("learning_rate"), gt("warmup_steps"), gt("decay_trigger_var"), gt("decay_rate"),
                         task.loss_window)
        embed_scale = 1.0 / gt("embed_ratio")
        opt = PopulationAdamW(flat_new, self.sizes, gt("weight_decay"), gt("beta1"), gt("beta2"), gt("adam_eps"), gt("grad_clip"),
                              {k: embed_scale for k in EMBED_PARAMS})
        new = {"layer_scale": gt("layer_scale"), "dropout_p": gt("dropout"),
               "seeds": torch.tensor([m.seed for m in members], dtype=torch.int64, device=device),
               "first_bad": torch.zeros(len(members), dtype=torch.int64, device=device),
               "start_t": torch.full((len(members),), start, dtype=torch.int64, device=device)}
        if not self.members:
            self._set_flat(flat_new)
            opt.flat = self.flat
            self.opt, self.life = opt, life
            for name, value in new.items():
                setattr(self, name, value)
        else:
            self._set_flat(torch.cat([self.flat.detach(), flat_new]))
            self.opt.extend(opt, self.flat)
            self.life.extend(life)
            for name, value in new.items():
                setattr(self, name, torch.cat([getattr(self, name), value]))
        self.members += list(members)
        self.starts += [start] * len(members)
        self._members_changed()
        self.block = None

    def keep(self, keep: Sequence[int]) -> None:
        """Only members ``keep`` (positions in ``members``) stay."""
        if not keep:
            self.members, self.starts = [], []
            self._clear()
            return
        k = torch.tensor(list(keep), device=self.device)
        self.members = [self.members[j] for j in keep]
        self.starts = [self.starts[j] for j in keep]
        self._set_flat(self.flat.detach()[k])
        self.opt.keep(k, self.flat)
        self.life.keep(k)
        for name in ("layer_scale", "dropout_p", "seeds", "first_bad", "start_t"):
            setattr(self, name, getattr(self, name)[k])
        if self.block is not None:
            self.block = self.block[k]
        self._members_changed()

    def _set_flat(self, flat: torch.Tensor) -> None:
        self.flat = flat.requires_grad_()

    @property
    def P(self) -> dict[str, torch.Tensor]:
        return self.views(self.flat)

    def views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Parameter name -> [M, *shape] of a flat buffer [M, N], each made contiguous: CPU matrix
        products round differently on a strided operand, and a member's numbers stay those of
        separate parameter tensors (the copies are small next to the products)."""
        parts = flat.split(list(self.sizes.values()), dim=1)
        return {name: part.view(len(flat), *shape).contiguous()
                for part, (name, shape) in zip(parts, self.shapes.items())}

    def _members_changed(self) -> None:
        # read from the genes and seeds on the host, so no synchronisation with the device
        self.dropout_on = any(float(m.genome.genes["dropout"]) > 0 for m in self.members)
        keys = sorted({(m.seed, s) for m, s in zip(self.members, self.starts)})
        where = {k: i for i, k in enumerate(keys)}
        as_tensor = lambda v: torch.tensor(v, dtype=torch.int64, device=self.device)  # noqa: E731
        self._groups = (as_tensor([k[0] for k in keys]), as_tensor([k[1] for k in keys]),
                        as_tensor([where[(m.seed, s)] for m, s in zip(self.members, self.starts)]))

    def dropout(self, g: int) -> Dropout:
        """The dropout of global step ``g``: members sharing seed and start share one mask table."""
        seeds, starts, inverse = self._groups
        steps = g - self.starts[0] if all(s == self.starts[0] for s in self.starts) else g - starts
        return Dropout(self.dropout_p, self.seeds, self.steps(g), active=self.dropout_on,
                       groups=(seeds, steps, inverse))

    def weights_of(self, rows: Sequence[int] | None) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        """The flat weights, their views and the layer scales of members ``rows`` (None: all), for
        an evaluation."""
        if rows is None:
            flat = self.flat.detach()
            return flat, self.views(flat), self.layer_scale
        k = torch.tensor(list(rows), device=self.device)
        flat = self.flat.detach()[k]
        return flat, self.views(flat), self.layer_scale[k]
