"""The grokking task: a o b mod p, its fixed train/validation split, and per-trial batch order.

``GrokTask`` holds every setting of the task and model; its ``task_id`` hashes them, so two results
with the same (genome, task_id, seed) are the same experiment. The data split depends on the task
only (``split_seed``); the trial seed decides weight initialisation, batch order and dropout masks.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import torch

from lab.arenas.base import PRECISIONS, TaskConfig

OPERATIONS = ("+", "-", "*", "/")


@dataclasses.dataclass(frozen=True)
class GrokTask(TaskConfig):
    """Task and model settings of the grokking arena.

    Defaults (measured on this lab's CPU, classic-adamw founder, seeds 0-3): 1 layer, d_model 64,
    4 heads, d_ff 256 (62,497 parameters), 40% of the 9,409 pairs for training. Training accuracy
    reaches 99% about 150-250 steps before validation accuracy reaches the 0.99 grok threshold
    (validation is at 0.78-0.91 when training hits 99%), and all four seeds grok at steps
    1,225-1,900, inside the 2,500-step cap. Smaller models (d_model 32-48, 19k-25k parameters)
    plateau or learn train and validation together with the classic recipe, and rarely meet the
    cap; at a 30% train fraction validation stays near chance for thousands of steps.
    """

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"operation": OPERATIONS, "precision": PRECISIONS}
    ID_OMITS_DEFAULT: ClassVar[frozenset[str]] = frozenset({"precision"})
    BOUNDS: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        "modulus": (2, 100_000), "train_fraction": (0.001, 0.999), "split_seed": (0, 2**31 - 1),
        "layers": (1, 64), "d_model": (1, 8192), "heads": (1, 256), "d_ff": (1, 65536),
        "batch_size": (1, 1_000_000), "step_cap": (1, 10_000_000), "eval_interval": (1, 1_000_000),
        "grok_threshold": (0.001, 1.0), "loss_window": (1, 1_000_000)}
    LABELS: ClassVar[dict[str, str]] = {"d_model": "Model width", "d_ff": "Feed-forward width",
                                        "heads": "Attention heads", "eval_interval": "Eval interval (steps)",
                                        "loss_window": "Loss window (steps)"}
    HELP: ClassVar[dict[str, str]] = {
        "modulus": "p in a \u2218 b mod p (prime for division).",
        "operation": "The operation \u2218 learned on residues mod p.",
        "layers": "Transformer blocks.",
        "d_model": "Width of the residual stream (d_model).",
        "heads": "Attention heads per block (d_model must divide by it).",
        "d_ff": "Width of the feed-forward layer (d_ff).",
        "batch_size": "Training pairs per step.",
        "train_fraction": "Share of the p x p pairs used for training; the rest is validation.",
        "split_seed": "Seed of the train/validation split (the trial seed does not change it).",
        "step_cap": "Training steps after which a trial that has not grokked counts as failed.",
        "grok_threshold": "Validation accuracy at which a trial has grokked.",
        "eval_interval": "Steps between validation evaluations.",
        "loss_window": "Training losses whose variance arms the learning-rate decay.",
        "precision": "Arithmetic of the forward pass: float32; tf32 (CUDA matmuls in TF32; float32 on "
                     "the CPU); bf16 (autocast to bfloat16, weights and optimiser in float32)."}

    modulus: int = 97
    operation: str = "+"
    train_fraction: float = 0.4
    split_seed: int = 0
    layers: int = 1
    d_model: int = 64
    heads: int = 4
    d_ff: int = 256
    batch_size: int = 512
    step_cap: int = 2500
    eval_interval: int = 25
    grok_threshold: float = 0.99
    loss_window: int = 50  # training losses whose variance arms the LR decay (decay_trigger_var)
    precision: str = "float32"   # one of PRECISIONS; part of the task_id (unless float32), so never mixed

    def __post_init__(self) -> None:
        problems = []
        if self.precision not in PRECISIONS:
            problems.append(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.operation not in OPERATIONS:
            problems.append(f"operation {self.operation!r} is not one of {' '.join(OPERATIONS)}")
        if self.modulus < 2 or (self.operation == "/" and not _is_prime(self.modulus)):
            problems.append(f"modulus {self.modulus} must be >= 2 (and prime for '/')")
        if not 0.0 < self.train_fraction < 1.0:
            problems.append(f"train_fraction {self.train_fraction} must be between 0 and 1")
        if self.d_model % self.heads:
            problems.append(f"d_model {self.d_model} is not divisible by heads {self.heads}")
        for name in ("layers", "d_model", "heads", "d_ff", "batch_size", "step_cap", "eval_interval", "loss_window"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        if not 0.0 < self.grok_threshold <= 1.0:
            problems.append(f"grok_threshold {self.grok_threshold} must be in (0, 1]")
        if problems:
            raise ValueError("invalid grokking task: " + "; ".join(problems))

    @property
    def vocab(self) -> int:
        return self.modulus + 1  # the residues and the "=" token

    @property
    def seq_len(self) -> int:
        return 3  # a, b, "="

    def n_params(self) -> int:
        d, f, p, L = self.d_model, self.d_ff, self.modulus, self.layers
        per_layer = 4 * (d * d + d) + (d * f + f) + (f * d + d)
        return self.vocab * d + self.seq_len * d + L * per_layer + d * p + p


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % k for k in range(2, int(n ** 0.5) + 1))


@dataclasses.dataclass
class Dataset:
    train_x: torch.Tensor  # [N_train, 3] int64 tokens (a, b, "=")
    train_y: torch.Tensor  # [N_train] int64
    val_x: torch.Tensor
    val_y: torch.Tensor

    def to(self, device: torch.device | str) -> Dataset:
        return Dataset(*(t.to(device) for t in (self.train_x, self.train_y, self.val_x, self.val_y)))


def make_dataset(task: GrokTask) -> Dataset:
    """Every pair (a, b) (b != 0 for '/'), labelled, split by ``split_seed`` into train and validation."""
    p = task.modulus
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    a, b = a.ravel(), b.ravel()
    if task.operation == "/":
        keep = b != 0
        a, b = a[keep], b[keep]
        y = (a * np.array([pow(int(v), p - 2, p) for v in b])) % p
    else:
        y = {"+": a + b, "-": a - b, "*": a * b}[task.operation] % p
    x = np.stack([a, b, np.full_like(a, p)], axis=1)
    order = np.random.default_rng(task.split_seed).permutation(len(x))
    n_train = int(round(task.train_fraction * len(x)))
    tr, va = order[:n_train], order[n_train:]
    t = lambda arr: torch.as_tensor(arr, dtype=torch.int64)  # noqa: E731
    return Dataset(t(x[tr]), t(y[tr]), t(x[va]), t(y[va]))


class BatchOrder:
    """The training-batch order of one trial: epochs of a permutation drawn from the trial seed,
    ``batch_size`` indices per step (a batch may span two epochs). Identical in both trainers."""

    def __init__(self, seed: int, n_train: int, batch_size: int):
        self.rng = np.random.default_rng([seed, 0x6A7])
        self.n, self.batch = n_train, min(batch_size, n_train)
        self.buffer = np.empty(0, dtype=np.int64)

    def next(self) -> np.ndarray:
        while len(self.buffer) < self.batch:
            self.buffer = np.concatenate([self.buffer, self.rng.permutation(self.n)])
        out, self.buffer = self.buffer[:self.batch], self.buffer[self.batch:]
        return out

    def take(self, steps: int) -> np.ndarray:
        """The batches of the next ``steps`` steps [steps, batch]: the same as that many ``next()``."""
        need = steps * self.batch
        while len(self.buffer) < need:
            self.buffer = np.concatenate([self.buffer, self.rng.permutation(self.n)])
        out, self.buffer = self.buffer[:need], self.buffer[need:]
        return out.reshape(steps, self.batch)
