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
    ``order``, a BatchOrder): the weights in ``leaves`` and ``P``, the weights by name [M, ...],
    ``opt``, ``life``, the per-member genes the forward needs, ``first_bad`` (the member's step of
    its first non-finite loss, 0: none yet).

    Two layouts of the weights, with the same results: ``flat`` (the default on a CUDA device), one
    leaf [M, N] holding every parameter side by side, so AdamW is a dozen kernels a step whatever the
    depth; ``P`` is then its views made contiguous for each step (one split, so the backward writes
    every gradient with one concatenation; contiguous, since CPU matrix products round differently
    on a strided operand). Otherwise (the default on the CPU, where kernel launches cost little) one
    leaf per parameter, which is ``P`` itself: no copies of the weights into the forward and of the
    gradients out of the backward, which on a 2-core CPU made training steps 2-5% slower."""

    def __init__(self, task: GrokTask, device: str, dtype: torch.dtype, static: bool = False,
                 flat: bool | None = None):
        """``static``: the shapes and tensors of a step stay put between structural changes (counted
        by ``version``), as a CUDA graph of the step needs: every member's step is a device tensor
        updated in place, and members that leave stay as ghost rows (training on, read by nobody)
        until no more than half the rows are real. ``flat``: the layout of the weights (None: flat
        on a CUDA device)."""
        self.task, self.device, self.dtype, self.static = task, device, dtype, static
        self.flat_layout = device.startswith("cuda") if flat is None else flat
        self.version = 0
        self.shapes = param_shapes(task)
        self.sizes = {name: math.prod(shape) for name, shape in self.shapes.items()}
        self.members: list[Any] = []
        self.starts: list[int] = []
        self.real: list[bool] = []      # False: a ghost row (its member left)
        self._clear()

    def _clear(self) -> None:
        self.leaves: list[torch.Tensor] = []
        self.opt: PopulationAdamW | None = None
        self.life: LifeCycle | None = None
        self.layer_scale = self.dropout_p = self.seeds = self.first_bad = self.start_t = None
        self.dropout_on = False
        self._groups: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self.block: torch.Tensor | None = None
        self.block_pos = 0
        self._pinned: torch.Tensor | None = None
        self.t_dev = self.idx_dev = None

    def __len__(self) -> int:
        """Members training (ghost rows not counted)."""
        return sum(self.real)

    @property
    def rows(self) -> int:
        return len(self.members)

    # ---- steps ------------------------------------------------------------------------------------
    def steps(self, g: int) -> int | torch.Tensor:
        """Every member's own step at global step ``g``: one int when all joined together (the
        usual case, and the cheapest), else [M] int64 on the device; static: always the tensor
        ``t_dev``, written in place."""
        if self.static:
            torch.sub(g, self.start_t, out=self.t_dev)   # g - start, written in place
            torch.sub(g, self._groups[1], out=self._group_t)
            return self.t_dev
        if all(s == self.starts[0] for s in self.starts):
            return g - self.starts[0]
        return g - self.start_t

    def local(self, g: int) -> list[int]:
        return [g - s for s in self.starts]

    def indices(self, g: int) -> torch.Tensor:
        """The training-example indices of every member's batch at global step ``g`` [M, B] (static:
        copied into ``idx_dev``; a ghost row's are zeros)."""
        if self.block is None or self.block_pos >= self.block.shape[1]:
            M, B = len(self.members), self.members[0].order.batch
            interval = self.task.eval_interval
            to_eval = interval - (g - self.starts[0] - 1) % interval   # steps up to the next evaluation
            steps = max(1, min(to_eval, BLOCK_ELEMENTS // (M * B)))
            host = torch.from_numpy(np.stack([m.order.take(steps) if real else np.zeros((steps, B), np.int64)
                                              for m, real in zip(self.members, self.real)]))
            if self.device.startswith("cuda"):
                self._pinned = host.pin_memory()   # kept alive until the next block: the copy is asynchronous
                self.block = self._pinned.to(self.device, non_blocking=True)
            else:
                self.block = host
            self.block_pos = 0
        self.block_pos += 1
        if self.static:
            return self.idx_dev.copy_(self.block[:, self.block_pos - 1])
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
        if self.flat_layout:
            leaves_new = [torch.stack([torch.cat([p[k].flatten() for k in self.shapes]) for p in inits]).to(device)]
        else:
            leaves_new = [torch.stack([p[k] for p in inits]).to(device) for k in self.shapes]
        del inits

        def gt(key: str) -> torch.Tensor:
            return torch.tensor([float(m.genome.genes[key]) for m in members], dtype=dtype, device=device)

        life = LifeCycle(gt("learning_rate"), gt("warmup_steps"), gt("decay_trigger_var"), gt("decay_rate"),
                         task.loss_window)
        embed_scale = 1.0 / gt("embed_ratio")
        opt = PopulationAdamW(leaves_new, self.sizes, gt("weight_decay"), gt("beta1"), gt("beta2"), gt("adam_eps"), gt("grad_clip"),
                              {k: embed_scale for k in EMBED_PARAMS})
        new = {"layer_scale": gt("layer_scale"), "dropout_p": gt("dropout"),
               "seeds": torch.tensor([m.seed for m in members], dtype=torch.int64, device=device),
               "first_bad": torch.zeros(len(members), dtype=torch.int64, device=device),
               "start_t": torch.full((len(members),), start, dtype=torch.int64, device=device)}
        if not self.members:
            self._set_leaves(leaves_new)
            opt.leaves = self.leaves
            self.opt, self.life = opt, life
            for name, value in new.items():
                setattr(self, name, value)
        else:
            self._set_leaves([torch.cat([old.detach(), new]) for old, new in zip(self.leaves, leaves_new)])
            self.opt.extend(opt, self.leaves)
            self.life.extend(life)
            for name, value in new.items():
                setattr(self, name, torch.cat([getattr(self, name), value]))
        self.members += list(members)
        self.starts += [start] * len(members)
        self.real += [True] * len(members)
        self._members_changed()
        self.block = None

    def retire(self, leaving: Sequence[int]) -> None:
        """Members ``leaving`` (row positions) leave: their rows go at once, or, static, become ghost
        rows until at most half the rows are real (then the real ones are kept)."""
        for j in leaving:
            self.real[j] = False
        if not self.static or len(self) <= self.rows // 2:
            self.compact()

    def compact(self) -> None:
        """Drop the ghost rows."""
        if len(self) < self.rows:
            self.keep([j for j, real in enumerate(self.real) if real])

    def keep(self, keep: Sequence[int]) -> None:
        """Only members ``keep`` (positions in ``members``) stay."""
        if not keep:
            self.members, self.starts, self.real = [], [], []
            self._clear()
            return
        k = torch.tensor(list(keep), device=self.device)
        self.members = [self.members[j] for j in keep]
        self.starts = [self.starts[j] for j in keep]
        self.real = [self.real[j] for j in keep]
        self._set_leaves([leaf.detach()[k] for leaf in self.leaves])
        self.opt.keep(k, self.leaves)
        self.life.keep(k)
        for name in ("layer_scale", "dropout_p", "seeds", "first_bad", "start_t"):
            setattr(self, name, getattr(self, name)[k])
        if self.block is not None:
            self.block = self.block[k]
        self._members_changed()

    def _set_leaves(self, leaves: list[torch.Tensor]) -> None:
        self.leaves = [leaf.requires_grad_() for leaf in leaves]

    def zero_grad(self) -> None:
        for leaf in self.leaves:
            leaf.grad = None

    @property
    def P(self) -> dict[str, torch.Tensor]:
        return self._by_name(self.leaves)

    def _by_name(self, leaves: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Parameter name -> [M, *shape] of the weights in ``leaves``."""
        if not self.flat_layout:
            return dict(zip(self.shapes, leaves))
        flat = leaves[0]
        parts = flat.split(list(self.sizes.values()), dim=1)
        return {name: part.view(len(flat), *shape).contiguous()
                for part, (name, shape) in zip(parts, self.shapes.items())}

    def _members_changed(self) -> None:
        # read from the genes and seeds on the host, so no synchronisation with the device
        self.version += 1
        self.dropout_on = any(float(m.genome.genes["dropout"]) > 0 for m in self.members)
        keys = sorted({(m.seed, s) for m, s in zip(self.members, self.starts)})
        where = {k: i for i, k in enumerate(keys)}
        as_tensor = lambda v: torch.tensor(v, dtype=torch.int64, device=self.device)  # noqa: E731
        self._groups = (as_tensor([k[0] for k in keys]), as_tensor([k[1] for k in keys]),
                        as_tensor([where[(m.seed, s)] for m, s in zip(self.members, self.starts)]))
        if self.static:   # the step's inputs, written in place each step
            self.t_dev = torch.zeros(self.rows, dtype=torch.int64, device=self.device)
            self._group_t = torch.zeros(len(keys), dtype=torch.int64, device=self.device)
            self.idx_dev = torch.zeros(self.rows, self.members[0].order.batch, dtype=torch.int64, device=self.device)

    def dropout(self, g: int) -> Dropout:
        """The dropout of global step ``g``: members sharing seed and start share one mask table
        (static: of the step ``steps(g)`` last wrote)."""
        seeds, starts, inverse = self._groups
        if self.static:   # the tensors ``steps(g)`` wrote
            return Dropout(self.dropout_p, self.seeds, self.t_dev, active=self.dropout_on,
                           groups=(seeds, self._group_t, inverse))
        steps = g - self.starts[0] if all(s == self.starts[0] for s in self.starts) else g - starts
        return Dropout(self.dropout_p, self.seeds, self.steps(g), active=self.dropout_on,
                       groups=(seeds, steps, inverse))

    def weights_of(self, rows: Sequence[int] | None) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """The weights by name and the layer scales of members ``rows`` (None: all), for an
        evaluation, and whether each one's weights are all finite [len(rows)] bool."""
        leaves = [leaf.detach() for leaf in self.leaves]
        scale = self.layer_scale
        if rows is not None:
            k = torch.tensor(list(rows), device=self.device)
            leaves, scale = [leaf[k] for leaf in leaves], scale[k]
        finite = None
        for leaf in leaves:
            ok = torch.isfinite(leaf.view(len(leaf), -1)).all(1)
            finite = ok if finite is None else finite & ok
        return self._by_name(leaves), scale, finite
