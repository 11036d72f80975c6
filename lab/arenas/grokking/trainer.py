"""The population trainer: M = genomes x seeds MicroTransformers trained at once.

Weights are stacked with a leading member dimension; each step is one batched forward and backward
(``forward_population``) and one vectorised AdamW step (``PopulationAdamW``) whose hyperparameters
are per-member tensors. Every ``eval_interval`` steps each live member is evaluated on the whole
validation split and on a fixed probe of training examples; a member whose validation accuracy
reaches the grok threshold, whose loss or weights turn non-finite (diverged), or that reaches the
step cap leaves the batch, so the cost follows the live members. A diverged member never disturbs
the others: members share no arithmetic, and its non-finite loss is masked out of the backward.
"""
from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from lab.arenas.base import (Cancel, EventSink, TrialFinished, TrialProgress, TrialResult, device_label,
                             resolve_device)
from lab.arenas.grokking.live import LiveBatch
from lab.arenas.grokking.graphs import StepRunner
from lab.arenas.grokking.model import Dropout, forward_population
from lab.arenas.grokking.task import BatchOrder, Dataset, GrokTask, make_dataset
from lab.arenas.racing import Race
from lab.genome import Genome
from lab.progress import WorkTally
from lab.threads import Governor

TRAIN_PROBE = 1024   # training examples (the first of the split) used for the train-accuracy curve
EVAL_CHUNK = 2048    # evaluation examples per forward
STEP_MODES = ("eager", "static", "graphs")
SnapshotSink = Callable[[int, int, dict[str, np.ndarray]], None]   # (trial index, step, weights)
LAYOUTS = (None, "flat", "per_parameter")


_ALLOCATOR_TUNED = False


def tune_allocator() -> None:
    """Keep freed activation memory in the heap instead of returning it to the OS after every step.

    glibc serves large blocks with mmap and unmaps them on free, so each training step page-faults
    its activations in again; raising the mmap and trim thresholds made population steps ~20%
    faster on this lab's CPU (measured: 1.79 -> 1.42 ms per member-step, 64 members, d_model 32).
    Process-wide and harmless elsewhere; a no-op off glibc."""
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return
    _ALLOCATOR_TUNED = True
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 512 << 20)   # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1024 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def precision_mode(precision: str, device: str) -> Iterator[None]:
    """The arithmetic of a task's ``precision`` for the forward passes inside: ``bf16`` autocasts to
    bfloat16 (weights, gradients and the optimiser stay float32); ``tf32`` lets CUDA matmuls use TF32
    (on the CPU it is float32); ``float32`` changes nothing."""
    if precision == "bf16":
        # no cache of cast weights: a CUDA graph may not keep one between replays, and the weights
        # change every step anyway
        with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, cache_enabled=False):
            yield
    elif precision == "tf32" and device.startswith("cuda"):
        before = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32 = before
    else:
        yield


@torch.no_grad()
def evaluate(P: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, task: GrokTask,
             layer_scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy and accuracy [M] of every member on examples (x [N, 3], y [N]), no dropout."""
    M = layer_scale.shape[0]
    loss = torch.zeros(M, dtype=torch.float64, device=x.device)
    correct = torch.zeros(M, dtype=torch.float64, device=x.device)
    for start in range(0, len(x), EVAL_CHUNK):
        xb, yb = x[start:start + EVAL_CHUNK], y[start:start + EVAL_CHUNK]
        logits = forward_population(P, xb, task, layer_scale)
        ce = F.cross_entropy(logits.reshape(-1, task.modulus), yb.repeat(M), reduction="none").view(M, -1)
        loss += ce.sum(1).to(torch.float64)
        correct += (logits.argmax(-1) == yb).sum(1).to(torch.float64)
    return loss / len(x), correct / len(x)


class _Member:
    """Bookkeeping of one trial while it trains."""

    def __init__(self, index: int, genome: Genome, seed: int, order: BatchOrder):
        self.index, self.genome, self.seed, self.order = index, genome, seed, order
        self.curve: dict[str, list] = {k: [] for k in ("step", "train_loss", "train_acc", "val_loss", "val_acc", "lr")}
        self.losses: list[float] = []
        self.status: str | None = None
        self.steps = 0
        self.steps_to_grok: int | None = None
        self.diverged_step: int | None = None
        self.final: dict[str, float] = {}
        self.result: TrialResult | None = None


def train_population(trials: Sequence[tuple[Genome, int]], task: GrokTask, *, device: str = "auto",
                     dtype: torch.dtype = torch.float32, on_event: EventSink | None = None,
                     cancel: Cancel | None = None, record_losses: bool = False,
                     data: Dataset | None = None, race: Race | None = None,
                     tally: WorkTally | None = None, capacity: int | None = None,
                     step_mode: str = "eager", layout: str | None = None,
                     snapshot_every: int = 0, on_snapshot: SnapshotSink | None = None) -> list[TrialResult]:
    """Train every (genome, seed) trial as one population; one TrialResult per trial, in order.

    ``capacity``: at most this many members train at once (None: all of them). The others wait in
    order and join the batch as members leave, at the batch's next evaluation step (continuous
    batching: the batch stays full until the queue is empty); a trial's result is the same whenever
    it joins (lab.arenas.grokking.live).
    ``step_mode``: "eager" (each step's kernels launched from Python), "graphs" (CUDA devices: each
    step replayed from a CUDA graph, lab.arenas.grokking.graphs) or "static" (the graphs' static
    batch run eagerly, on any device: what the tests compare). The results are the same in all.
    ``layout``: how the weights are held, "flat" (one buffer; the default on a CUDA device) or
    "per_parameter" (the default on the CPU); lab.arenas.grokking.live. The results are the same.
    ``record_losses`` keeps each member's per-step training loss in ``curve["loss"]`` (for tests).
    ``on_snapshot(trial, step, weights)`` (with ``snapshot_every`` N > 0) receives each trial's
    weights (name -> array, float32 on the host) at its step 0, every N steps and at its last step:
    reading them synchronises with the device, so only a re-run asked for them does it.
    With a ``race`` (lab.arenas.racing), every finished trial is reported to it, and the members
    still training at an evaluation step where it says stop leave as ``censored``.
    Progress (TrialProgress, a few a second) counts member-steps in ``tally``: a caller that
    trains several populations for one request shares one tally among them."""
    if not trials:
        return []
    if tally is None:
        tally = WorkTally(task.step_cap, "member-steps", len(trials))
    device = resolve_device(device)
    tune_allocator()
    data = (data or make_dataset(task)).to(device)
    # read once: every sequence ends with "=" (the forward then computes the last block at "=" only)
    equals_last = bool((data.train_x[:, -1] == task.vocab - 1).all() and (data.val_x[:, -1] == task.vocab - 1).all())
    members = [_Member(i, g, int(s), BatchOrder(int(s), len(data.train_x), task.batch_size))
               for i, (g, s) in enumerate(trials)]
    queue = deque(members)
    capacity = len(members) if capacity is None else max(1, int(capacity))
    t0 = time.perf_counter()
    if step_mode not in STEP_MODES:
        raise ValueError(f"step_mode must be one of {', '.join(STEP_MODES)}, got {step_mode!r}")
    if step_mode == "graphs" and not device.startswith("cuda"):
        raise ValueError("step_mode 'graphs' needs a CUDA device")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(map(str, LAYOUTS))}, got {layout!r}")
    batch = LiveBatch(task, device, dtype, static=step_mode != "eager", flat=None if layout is None else layout == "flat")
    runner = StepRunner(graphs=step_mode == "graphs")
    batch.add([queue.popleft() for _ in range(min(capacity, len(queue)))], start=0)
    probe_x, probe_y = data.train_x[:TRAIN_PROBE], data.train_y[:TRAIN_PROBE]
    label = device_label(device)
    interval = task.eval_interval

    def progress(step: int, force: bool = False) -> None:
        if on_event and tally.due(force):
            on_event(TrialProgress("grokking", step, task.step_cap, len(batch), grokked=sum(
                m.status == "grokked" for m in members), **tally.fields()))

    def finish(member: _Member, status: str, step: int) -> None:
        member.status, member.steps = status, step
        tally.finish(step)  # the steps it will not train leave the expected work
        member.result = _result(member, task, label, time.perf_counter() - t0, record_losses)
        if race is not None:
            race.observe(member.result)
        if on_event:
            on_event(TrialFinished(member.result))

    def diverged_by_loss(m: _Member, at: int) -> None:
        m.diverged_step = at
        m.final = {**m.final, "train_loss": float("nan")}

    progress(0, force=True)
    governor = Governor() if device == "cpu" else None   # torch's threads follow the cores left free
    try:
        g = 0   # the global step; a member's own step is g minus the step it joined at
        # ``batch.first_bad``: each live member's step of its first non-finite training loss (0:
        # none yet), kept on the device and read at evaluation steps only: no host synchronisation
        # in the other steps. A member that diverged between two evaluations trains on, excluded
        # from every other member's arithmetic, until it leaves at the next evaluation with the
        # step it diverged at: its result and everyone else's are those of leaving at once (tested)
        while len(batch):
            g += 1
            if governor is not None:
                governor.tick()
            live, local, real = batch.members, batch.local(g), list(batch.real)
            if cancel is not None and cancel.is_set():
                for m, loc, at, is_real in zip(live, local, batch.first_bad.tolist(), real):
                    if not is_real:
                        continue
                    if at:
                        diverged_by_loss(m, at)
                        finish(m, "diverged", at)
                    else:
                        finish(m, "cancelled", loc - 1)
                for m in queue:
                    finish(m, "cancelled", 0)
                break
            M = batch.rows
            if on_snapshot is not None and snapshot_every > 0:
                _snapshot(batch, [j for j in range(M) if real[j] and local[j] == 1], 0, on_snapshot)
            t, idx, dropout = batch.steps(g), batch.indices(g), batch.dropout(g)
            loss, lr_now = runner(lambda: _train_step(batch, data, task, device, t, idx, dropout, equals_last),
                                  batch.version)
            tally.advance(len(batch))
            if record_losses:
                for m, value, is_real in zip(live, loss.tolist(), real):
                    if is_real:
                        m.losses.append(value)

            leaving: set[int] = set()
            at_eval = local[0] % interval == 0          # members join in phase: all evaluate together
            at_cap = [j for j, loc in enumerate(local) if loc == task.step_cap and real[j]]
            if at_eval or at_cap or record_losses:      # record_losses syncs every step anyway
                for j, at in enumerate(batch.first_bad.tolist()):
                    if at and real[j]:
                        diverged_by_loss(live[j], at)
                        leaving.add(j)
            rows = [j for j in range(M) if real[j]] if at_eval else at_cap
            if rows:
                _evaluate_rows(batch, rows, local, lr_now, leaving, data, probe_x, probe_y, task, device)
                leaving.update(at_cap)
            if on_snapshot is not None and snapshot_every > 0:
                for j in range(M):
                    if real[j] and (local[j] % snapshot_every == 0 or j in leaving or local[j] == task.step_cap):
                        _snapshot(batch, [j], local[j], on_snapshot)
            for j in sorted(leaving):
                m = live[j]
                status = ("diverged" if m.diverged_step is not None else
                          "grokked" if m.steps_to_grok is not None else "capped")
                finish(m, status, m.diverged_step if status == "diverged" else local[j])
            if race is not None and at_eval and len(leaving) < len(batch):
                for j in range(M):
                    if real[j] and j not in leaving and race.should_stop(local[j]):
                        finish(live[j], "censored", local[j])
                        leaving.add(j)
            if leaving:
                batch.retire(sorted(leaving))
            if queue and len(batch) < capacity and (at_eval or not len(batch)):
                batch.compact()   # new members take the place of ghost rows
                batch.add([queue.popleft() for _ in range(min(capacity - len(batch), len(queue)))], start=g)
            progress(max(batch.local(g), default=max(local)), force=not len(batch))
        return [m.result for m in members]
    finally:
        if governor is not None:
            governor.restore()


def _train_step(batch: LiveBatch, data: Dataset, task: GrokTask, device: str, t: int | torch.Tensor,
                idx: torch.Tensor, dropout: Dropout, equals_last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One training step of every row of the batch (forward, backward, AdamW, the lr life cycle,
    each member's first non-finite step, all in place): the work a CUDA graph records. Returns the
    losses [M] and the learning rates [M] of the step."""
    M = batch.rows
    tokens, labels = data.train_x[idx], data.train_y[idx]           # [M, B, 3], [M, B]
    lr_now = batch.life.lr_for_step(t)
    with precision_mode(task.precision, device):
        logits = forward_population(batch.P, tokens, task, batch.layer_scale, dropout, equals_last=equals_last)
    if logits.dtype in (torch.bfloat16, torch.float16):   # autocast's output: the loss in float32
        logits = logits.float()
    loss = F.cross_entropy(logits.reshape(-1, task.modulus), labels.reshape(-1), reduction="none").view(M, -1).mean(1)
    finite = torch.isfinite(loss)
    batch.zero_grad()
    torch.where(finite, loss, torch.zeros_like(loss)).sum().backward()
    batch.opt.step(lr_now, t)
    batch.life.record(t, loss)
    batch.first_bad.copy_(torch.where(~finite & (batch.first_bad == 0), t, batch.first_bad))
    return loss.detach(), lr_now


def _snapshot(batch: LiveBatch, rows: list[int], step: int, sink: SnapshotSink) -> None:
    """Hand the weights of rows ``rows`` at (their own) ``step`` to ``sink``."""
    if not rows:
        return
    P, _, _ = batch.weights_of(rows)
    host = {name: w.detach().float().cpu().numpy() for name, w in P.items()}
    for i, j in enumerate(rows):
        sink(batch.members[j].index, step, {name: w[i].copy() for name, w in host.items()})


def _evaluate_rows(batch: LiveBatch, rows: list[int], local: list[int], lr_now: torch.Tensor, leaving: set[int],
                   data: Dataset, probe_x: torch.Tensor, probe_y: torch.Tensor, task: GrokTask, device: str) -> None:
    """Evaluate live members ``rows`` (positions in the batch) at their own steps ``local``: record
    their curves, and add to ``leaving`` those that grokked or whose weights or loss turned non-finite."""
    P, scale, weights_ok = batch.weights_of(None if len(rows) == batch.rows else rows)
    with precision_mode(task.precision, device):
        val_loss, val_acc = evaluate(P, data.val_x, data.val_y, task, scale)
        tr_loss, tr_acc = evaluate(P, probe_x, probe_y, task, scale)
    lrs = lr_now.tolist()
    values = zip(rows, val_loss.tolist(), val_acc.tolist(), tr_loss.tolist(), tr_acc.tolist(), weights_ok.tolist())
    for j, vl, va, tl, ta, ok in values:
        if j in leaving:
            continue
        m = batch.members[j]
        for key, value in zip(m.curve, (local[j], tl, ta, vl, va, lrs[j])):
            m.curve[key].append(value)
        m.final = {"train_loss": tl, "train_acc": ta, "val_loss": vl, "val_acc": va}
        if not ok or not np.isfinite(vl):
            m.diverged_step = local[j]
            leaving.add(j)
        elif va >= task.grok_threshold:
            m.steps_to_grok = local[j]
            leaving.add(j)


def _result(m: _Member, task: GrokTask, device: str, wall: float, record_losses: bool) -> TrialResult:
    curve = dict(m.curve)
    if record_losses:
        curve["loss"] = list(m.losses)
    metrics = {"steps_to_grok": m.steps_to_grok, "steps": m.steps, "diverged_step": m.diverged_step,
               **{f"final_{k}": v for k, v in m.final.items()}}
    if m.status == "censored":
        metrics.update(censored_at=m.steps, censored_val_acc=m.final.get("val_acc"))
    return TrialResult(genome_id=m.genome.id, task_id=task.task_id, seed=m.seed, status=m.status or "cancelled",
                       metrics=metrics, curve=curve, wall_time=round(wall, 4), device=device, arena="grokking")
