"""The reference trainer: one plain ``nn.Module`` at a time, with ``torch.optim.AdamW``.

Same semantics as the population trainer (same initial weights from the trial seed, same batch
order, same hashed dropout masks, same clipping, warmup, decay trigger and grok test), written the
ordinary way: it is the ground truth the population trainer is tested against and the baseline
its speed is measured against.
"""
from __future__ import annotations

import math
import time
from collections import deque

import torch
import torch.nn.functional as F
from torch import nn

from lab.arenas.base import Cancel, TrialResult, device_label, resolve_device
from lab.arenas.grokking.model import EMBED_PARAMS, dropout_uniform, element_index, init_params
from lab.arenas.grokking.task import BatchOrder, Dataset, GrokTask, make_dataset
from lab.arenas.grokking.trainer import EVAL_CHUNK, TRAIN_PROBE
from lab.genome import Genome


class MicroTransformer(nn.Module):
    """One MicroTransformer (see ``model.py`` for the architecture)."""

    def __init__(self, task: GrokTask, genes: dict, seed: int, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.task = task
        self.layer_scale = float(genes["layer_scale"])
        self.dropout = float(genes["dropout"])
        self.seed = int(seed)
        self.weights = nn.ParameterDict({k.replace(".", "_"): nn.Parameter(v)
                                         for k, v in init_params(task, genes, seed, dtype).items()})

    def w(self, name: str) -> torch.Tensor:
        return self.weights[name.replace(".", "_")]

    def _drop(self, branch: torch.Tensor, step: int | None, site: int, positions: list[int]) -> torch.Tensor:
        if step is None or self.dropout == 0.0:
            return branch
        index = element_index(branch.shape[0], positions, self.task, branch.device)
        u = dropout_uniform(torch.tensor([self.seed], device=branch.device), step, site, index)[0]
        return branch * torch.where(u >= self.dropout, 1.0 / (1.0 - self.dropout), 0.0).to(branch.dtype)

    def forward(self, tokens: torch.Tensor, step: int | None = None) -> torch.Tensor:
        """Logits [B, p] at the "=" position; ``step`` given = training (dropout on)."""
        task = self.task
        T, H, D = task.seq_len, task.heads, task.d_model
        dh = D // H
        x = self.w("W_E")[tokens] + self.w("W_pos")
        B = x.shape[0]
        for layer in range(task.layers):
            pre = f"L{layer}."
            last = layer == task.layers - 1
            positions = [T - 1] if last else list(range(T))
            xq = x[:, -1:, :] if last else x
            q = (xq @ self.w(pre + "W_Q") + self.w(pre + "b_Q")).view(B, -1, H, dh).transpose(1, 2)
            k = (x @ self.w(pre + "W_K") + self.w(pre + "b_K")).view(B, T, H, dh).transpose(1, 2)
            v = (x @ self.w(pre + "W_V") + self.w(pre + "b_V")).view(B, T, H, dh).transpose(1, 2)
            scores = q @ k.transpose(-1, -2) / math.sqrt(dh)                      # [B, H, Tq, T]
            causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()[positions]
            attn = scores.masked_fill(~causal, float("-inf")).softmax(-1)
            z = (attn @ v).transpose(1, 2).reshape(B, len(positions), D)
            o = z @ self.w(pre + "W_O") + self.w(pre + "b_O")
            x = xq + self.layer_scale * self._drop(o, step, 2 * layer, positions)
            h = torch.relu(x @ self.w(pre + "W_in") + self.w(pre + "b_in"))
            f = h @ self.w(pre + "W_out") + self.w(pre + "b_out")
            x = x + self.layer_scale * self._drop(f, step, 2 * layer + 1, positions)
        return x[:, -1, :] @ self.w("W_U") + self.w("b_U")


@torch.no_grad()
def _evaluate(model: MicroTransformer, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    loss = correct = 0.0
    for start in range(0, len(x), EVAL_CHUNK):
        logits = model(x[start:start + EVAL_CHUNK])
        yb = y[start:start + EVAL_CHUNK]
        loss += F.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(-1) == yb).sum().item()
    return loss / len(x), correct / len(x)


def train_reference(genome: Genome, seed: int, task: GrokTask, *, device: str = "auto",
                    dtype: torch.dtype = torch.float32, cancel: Cancel | None = None,
                    record_losses: bool = False, data: Dataset | None = None) -> TrialResult:
    """Train one (genome, seed) trial; the same TrialResult fields as the population trainer."""
    device = resolve_device(device)
    data = (data or make_dataset(task)).to(device)
    g = genome.genes
    t0 = time.perf_counter()
    model = MicroTransformer(task, dict(g), seed, dtype).to(device)
    embed = [model.w(k) for k in EMBED_PARAMS]
    rest = [p for p in model.parameters() if all(p is not e for e in embed)]
    lr0, ratio = float(g["learning_rate"]), float(g["embed_ratio"])
    opt = torch.optim.AdamW([{"params": embed, "lr": lr0 / ratio}, {"params": rest, "lr": lr0}],
                            betas=(float(g["beta1"]), float(g["beta2"])), eps=float(g["adam_eps"]),
                            weight_decay=float(g["weight_decay"]))
    order = BatchOrder(seed, len(data.train_x), task.batch_size)
    window: deque[float] = deque(maxlen=task.loss_window)
    triggered_at: int | None = None
    curve: dict[str, list] = {k: [] for k in ("step", "train_loss", "train_acc", "val_loss", "val_acc", "lr")}
    losses: list[float] = []
    final: dict[str, float] = {}
    status, steps_to_grok, diverged_step, step = "capped", None, None, 0
    for step in range(1, task.step_cap + 1):
        if cancel is not None and cancel.is_set():
            status, step = "cancelled", step - 1
            break
        # learning-rate life cycle (see optim.py): warmup, then decay once the loss variance is low
        warm = min(1.0, step / g["warmup_steps"]) if g["warmup_steps"] > 0 else 1.0
        decay = (1.0 - g["decay_rate"]) ** (step - 1 - triggered_at) if triggered_at is not None else 1.0
        lr = lr0 * warm * decay
        opt.param_groups[0]["lr"], opt.param_groups[1]["lr"] = lr / ratio, lr
        idx = torch.from_numpy(order.next()).to(device)
        model.train()
        loss = F.cross_entropy(model(data.train_x[idx], step), data.train_y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), float(g["grad_clip"]))
        opt.step()
        value = loss.item()
        losses.append(value)
        window.append(value)
        if triggered_at is None and len(window) == task.loss_window:
            mean = sum(window) / len(window)
            if sum((v - mean) ** 2 for v in window) / len(window) < g["decay_trigger_var"]:
                triggered_at = step
        if not math.isfinite(value):
            status, diverged_step = "diverged", step
            final = {**final, "train_loss": float("nan")}
            break
        if step % task.eval_interval == 0 or step == task.step_cap:
            model.eval()
            vl, va = _evaluate(model, data.val_x, data.val_y)
            tl, ta = _evaluate(model, data.train_x[:TRAIN_PROBE], data.train_y[:TRAIN_PROBE])
            for key, v in zip(curve, (step, tl, ta, vl, va, lr)):
                curve[key].append(v)
            final = {"train_loss": tl, "train_acc": ta, "val_loss": vl, "val_acc": va}
            if not all(torch.isfinite(p).all() for p in model.parameters()) or not math.isfinite(vl):
                status, diverged_step = "diverged", step
                break
            if va >= task.grok_threshold:
                status, steps_to_grok = "grokked", step
                break
    if record_losses:
        curve["loss"] = losses
    metrics = {"steps_to_grok": steps_to_grok, "steps": step, "diverged_step": diverged_step,
               **{f"final_{k}": v for k, v in final.items()}}
    return TrialResult(genome_id=genome.id, task_id=task.task_id, seed=int(seed), status=status, metrics=metrics,
                       curve=curve, wall_time=round(time.perf_counter() - t0, 4), device=device_label(device),
                       arena="grokking")
