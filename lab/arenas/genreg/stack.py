"""Many GENREG runs advanced together: one stack of populations, one matrix product per layer.

A stack holds R runs of one shape (population, hidden units, images per class: :func:`shape_key`)
on one task; every other setting (trust rules, survival, mutation) may differ run by run. The
weights are the single run's layout with a leading run axis: ``w1`` [R, D, G, H], ``b1`` [R, G, H],
``w2`` [R, G, H, C], ``b2`` [R, G, C], so run r's population is the slice ``[r]``.

A run gives the same numbers alone (a stack of one: the direct run's GenregEngine) or stacked with
any others, which the tests check bit for bit on the CPU: every random draw comes from the run's own
generator in the order a run alone makes it (population.py); the products are batched kernels that
compute each run's slab as an independent item (bmm, baddbmm: on the CPU a slab of a batch of R
equals the same product alone, R = 1 included); the first layer's dark inputs are dropped per run,
the other runs' extra columns reaching a run only as trailing zeros (which leave a CPU product's
sums as they are; zeros between a run's columns would not, as they move its blocking). The
elementwise ops (tanh, the Gumbel logs) run once over the stack: on the CPU a tanh or log of a
slab gave the same bits inside a larger tensor as alone. On CUDA the same code runs, but that a
batched product equals the product alone is not checked there.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from lab.arenas.genreg.population import (PARAMS, GENOME_AXIS, GenregSettings, coin_bytes, draw_parents,
                                          image_order, mutation_draws, pick, population_logits, trust_after)
from lab.arenas.genreg.task import GenregTask, load_genreg_data
from lab.arenas.task_data import TaskData


HISTORY_COLUMNS = ("generation", "best_train_acc", "mean_train_acc", "trust_max", "trust_mean", "trust_min",
                   "test_acc")


def shape_key(settings: GenregSettings) -> tuple[int, int, int]:
    """The genes that set a run's tensor shapes: runs with equal keys can share a stack."""
    return settings.population, settings.hidden, settings.images_per_class


@dataclasses.dataclass
class RunRecord:
    """What one run of a stack reports: its curve, its latest evaluation (test accuracy, per class,
    the generation it first reached the target), its latest generation's report and best genome."""

    curve: dict[str, list]
    test_acc: float
    test_per_class: list[float]
    generations_to_target: int | None
    last: dict[str, Any]
    best: dict[str, torch.Tensor]
    history: list[list[Any]] = dataclasses.field(default_factory=list)   # a row per generation (HISTORY_COLUMNS)


def stack_logits(weights: Mapping[str, torch.Tensor], x: torch.Tensor, rows: torch.Tensor | None = None
                 ) -> torch.Tensor:
    """Logits [R, G, B, C] of every genome of every run on that run's images ``x`` [R, B, K]: one
    batched product per layer. ``rows`` [R, K, G*H] are the first layer's rows for x's columns
    (gathered: see GenregStack.logits); without them x holds every input (K = D)."""
    w1, b1, w2, b2 = (weights[k] for k in PARAMS)
    R, D, G, H = w1.shape
    B, C = x.shape[1], w2.shape[-1]
    pre = torch.bmm(x, w1.view(R, D, G * H) if rows is None else rows)
    h = torch.empty(R, G, B, H, dtype=pre.dtype, device=pre.device)
    torch.add(pre.view(R, B, G, H).transpose(1, 2), b1.unsqueeze(2), out=h).tanh_()
    return torch.baddbmm(b2.view(R * G, 1, C), h.view(R * G, B, H), w2.view(R * G, H, C)).view(R, G, B, C)


class GenregStack:
    """R GENREG runs (one per (settings, seed)) of one shape on one task, advanced generation by
    generation. ``step(n)`` runs n generations of every run; ``runs[r]`` is run r's record."""

    unit = "generations"

    def __init__(self, task: GenregTask, settings: Sequence[GenregSettings], seeds: Sequence[int], *,
                 device: str = "cpu", data: TaskData | None = None):
        if len(settings) != len(seeds) or not seeds:
            raise ValueError("one settings object per seed, at least one run")
        if len({shape_key(s) for s in settings}) > 1:
            raise ValueError("the runs of a stack need the same population, hidden and images_per_class")
        self.task, self.run_settings, self.device = task, list(settings), device
        self.seeds = [int(s) for s in seeds]
        self.data = data if data is not None else load_genreg_data(task, device)
        d, s0 = self.data, self.run_settings[0]
        self.R = R = len(self.seeds)
        D, H, C, G = d.n_inputs, s0.hidden, d.n_classes, s0.population
        self.gens = [torch.Generator(device="cpu").manual_seed(seed) for seed in self.seeds]
        # initial weights U(-0.5, 0.5), biases U(-0.1, 0.1), drawn run by run in the order w1, b1, w2, b2
        shapes = {"w1": (0.5, (D, G, H)), "b1": (0.1, (G, H)), "w2": (0.5, (G, H, C)), "b2": (0.1, (G, C))}
        drawn = [{k: torch.rand(*shape, generator=gen) * (2 * half) - half for k, (half, shape) in shapes.items()}
                 for gen in self.gens]
        self.weights = {k: torch.stack([run[k] for run in drawn]).to(device) for k in PARAMS}
        self.trusts = torch.zeros(R, G, dtype=torch.float64, device=device)
        self._use_settings(self.run_settings)
        self.by_class = [torch.nonzero(d.y_train == c).flatten().cpu() for c in range(C)]
        missing = [d.classes[c] for c, idx in enumerate(self.by_class) if len(idx) == 0]
        if missing:
            raise ValueError(f"no training images of class {', '.join(missing)}")
        self._bit_shift = torch.arange(8, dtype=torch.uint8, device=device)
        self._spare: dict[str, torch.Tensor] | None = None      # the previous populations' storage
        self._buffers: dict[str, torch.Tensor] = {}
        self.generation = 0
        self.runs = [RunRecord({"step": [], "train_acc": [], "val_acc": []}, 0.0, [0.0] * C, None, {},
                               pick(self.run_params(r), 0)) for r in range(R)]

    def _use_settings(self, settings: Sequence[GenregSettings]) -> None:
        """Run the next generations with ``settings`` (one per run, of the stack's shape)."""
        self.run_settings = list(settings)
        # a generation's rewards are float32 numbers, as torch.where with Python numbers makes them
        f32 = dict(dtype=torch.float32, device=self.device)
        self._reward = torch.tensor([s.reward for s in settings], **f32).view(self.R, 1, 1)
        self._penalty = torch.tensor([-s.penalty for s in settings], **f32).view(self.R, 1, 1)

    def run_params(self, r: int) -> dict[str, torch.Tensor]:
        """Run r's population in the single run's layout (views into the stack)."""
        return {k: v[r] for k, v in self.weights.items()}

    # ---- one generation ----------------------------------------------------------------------
    @torch.no_grad()
    def step(self, n: int = 1) -> int:
        """Run up to ``n`` generations of every run (fewer at the end of the budget); returns how many
        ran. A generation stopped by Ctrl-C leaves no trace (its draws are put back), so the stack can
        be saved as it was after the last whole generation and resumed exactly."""
        ran = 0
        while ran < max(1, int(n)) and not self.done:
            states = [gen.get_state() for gen in self.gens]
            try:
                self._generation()
            except KeyboardInterrupt:
                for gen, state in zip(self.gens, states):
                    gen.set_state(state)
                raise
            ran += 1
        return ran

    def _generation(self) -> None:
        """One generation of every run: everything is computed first (children into the spare
        buffers) and the stack's state changes only at the end."""
        x, y = self.draw_stack_images()
        right = self.stack_answers(self.logits(x)) == y.unsqueeze(1)       # [R, G, B]
        rewards = torch.where(right, self._reward, self._penalty).to(torch.float64)
        trusts = torch.stack([trust_after(self.trusts[r], rewards[r], s.trust_decay)
                              for r, s in enumerate(self.run_settings)])
        accuracy = right.double().mean(2)
        best = trusts.argmax(1).tolist()
        generation = self.generation + 1
        evaluate = generation % self.task.eval_interval == 0 or generation == self.task.generations
        trust, train_acc = trusts.cpu().numpy(), accuracy.cpu().numpy()
        bests = [pick(self.run_params(r), b) for r, b in enumerate(best)]   # before the children replace them
        tests = [self.accuracy(self.data.x_test, self.data.y_test, b) for b in bests] if evaluate else None
        inherited = self.breed(trusts)
        self.generation, self.trusts, self.weights, self._spare = generation, inherited, self._spare, self.weights
        for r, run in enumerate(self.runs):
            run.best = bests[r]
            if tests is not None:
                self._record_test(r, tests[r], float(train_acc[r, best[r]]))
            run.last = {"generation": generation, "best": best[r], "best_train_acc": float(train_acc[r, best[r]]),
                        "mean_train_acc": float(accuracy[r].mean()), "test_acc": run.test_acc,
                        "trust": trust[r].copy(), "train_acc": train_acc[r].copy()}
            run.history.append([generation, run.last["best_train_acc"], run.last["mean_train_acc"], float(trust[r].max()),
                                float(trust[r].mean()), float(trust[r].min()), run.test_acc if tests is not None else None])

    def draw_stack_images(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Each run's images [R, B, D] and labels [R, B]: ``images_per_class`` of each class."""
        k = self.run_settings[0].images_per_class
        order = torch.stack([image_order(self.by_class, k, gen) for gen in self.gens]).to(self.device)
        return self.data.x_train[order], self.data.y_train[order]

    def stack_answers(self, logits: torch.Tensor) -> torch.Tensor:
        """Each genome's answer to each image (``logits`` [R, ...]): drawn from its softmax
        (Gumbel-max, run r's noise from run r's generator) or its argmax."""
        if self.task.sampling == "argmax":
            return logits.argmax(-1)
        u = torch.stack([torch.rand(*logits.shape[1:], generator=gen) for gen in self.gens])
        u = u.to(self.device).clamp_(1e-12, 1 - 1e-7)
        return (logits - torch.log(-torch.log(u))).argmax(-1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """stack_logits of this generation's images. Inputs that are zero in every image of a run (an
        MNIST batch of 200 leaves about 30% of the pixels dark) are dropped from that run's product:
        the first-layer rows of the others are gathered into a buffer, which costs far less than the
        dropped rows' share of the product. A run keeps its lit inputs in their order; a run whose
        lit share is above 90% keeps them all; a run with fewer columns than the stack's widest
        is padded with zero columns at the end, which leave its sums as they are."""
        w1 = self.weights["w1"]
        R, D, G, H = w1.shape
        lit = (x != 0).any(1).cpu()                                     # [R, D]
        keep = [torch.arange(D) if int(m.sum()) > 0.9 * D else torch.nonzero(m).flatten() for m in lit]
        width = max(len(k) for k in keep)
        if width == D and all(len(k) == D for k in keep):
            return stack_logits(self.weights, x)
        index = torch.zeros(R, width, dtype=torch.long)
        for r, k in enumerate(keep):
            index[r, :len(k)] = k
        index = index.to(self.device)
        rows = self._scratch("rows", (R, width, G * H), w1.dtype)
        torch.index_select(w1.view(R * D, G * H), 0, (index + D * torch.arange(R, device=self.device).unsqueeze(1)
                                                       ).flatten(), out=rows.view(R * width, G * H))
        x = torch.gather(x, 2, index.unsqueeze(1).expand(R, x.shape[1], width))
        for r, k in enumerate(keep):
            if len(k) < width:
                rows[r, len(k):].zero_()
                x[r, :, len(k):] = 0
        return stack_logits(self.weights, x, rows)

    def breed(self, trusts: torch.Tensor) -> torch.Tensor:
        """Mutated children of every run's survivors by ``trusts`` [R, G] (engine.py's module text),
        written into the spare stack, which becomes the population when the caller swaps the two;
        returns the children's inherited trust. Children are written into buffers kept from the
        generation before: allocating ~40 MB per tensor and run each generation cost more than the
        copying."""
        parents = [draw_parents(trusts[r], s.survivors, self.task.crossover, gen)
                   for r, (s, gen) in enumerate(zip(self.run_settings, self.gens))]
        if self._spare is None:
            self._spare = {k: torch.empty_like(v) for k, v in self.weights.items()}
        for k, p in self.weights.items():
            axis, child = GENOME_AXIS[k], self._spare[k]
            for r, (first, _) in enumerate(parents):
                torch.index_select(p[r], axis, first, out=child[r])
            if self.task.crossover:      # uniform crossover: each weight from either parent
                other = self._scratch("other", tuple(child.shape), p.dtype)
                for r, (_, second) in enumerate(parents):
                    torch.index_select(p[r], axis, second, out=other[r])
                # lerp by a 0/1 weight is exact at both ends (torch computes end - diff * (1 - w)
                # for w >= 0.5) and several times faster than torch.where on a bool mask here
                weight = self._scratch("weight", tuple(child.shape), child.dtype)
                weight.view(self.R, -1).copy_(self._coins(child[0].numel()))
                torch.lerp(child, other, weight, out=child)
            self._mutate_children_(child)
        return torch.stack([s.inheritance * trusts[r][first]
                            for r, (s, (first, _)) in enumerate(zip(self.run_settings, parents))])

    def _scratch(self, name: str, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """A reusable buffer of ``shape`` on the stack's device (grown when a larger one is asked for)."""
        n = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < n or buf.dtype != dtype:
            buf = self._buffers[name] = torch.empty(n, dtype=dtype, device=self.device)
        return buf[:n].view(shape)

    def _coins(self, n: int) -> torch.Tensor:
        """n fair coins per run ([R, n] uint8 0 or 1): each run's random bytes unpacked to bits."""
        raw = torch.stack([coin_bytes(n, gen) for gen in self.gens]).to(self.device)     # [R, n/8, 1]
        bits = self._scratch("bits", (self.R, raw.shape[1] * 8), torch.uint8)
        torch.bitwise_right_shift(raw, self._bit_shift, out=bits.view(self.R, -1, 8))
        bits.bitwise_and_(1)
        return bits[:, :n]

    def _mutate_children_(self, child: torch.Tensor) -> None:
        """Each run's child and base mutation on its slice of ``child`` [R, ...], drawn by the run,
        added in one pass over the stack (the positions are distinct, so the sums are the run's own)."""
        n = child[0].numel()
        positions, noise = [], []
        for r, (s, gen) in enumerate(zip(self.run_settings, self.gens)):
            drawn = mutation_draws(n, ((s.child_mutation_rate, s.child_mutation_sigma),
                                       (s.base_mutation_rate, s.base_mutation_sigma)), gen)
            if drawn is not None:
                positions.append(drawn[0] + r * n)
                noise.append(drawn[1])
        if positions:
            child.view(-1).index_add_(0, torch.cat(positions).to(self.device), torch.cat(noise).to(self.device))

    # ---- what is reported --------------------------------------------------------------------
    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor, params: Mapping[str, torch.Tensor]
                 ) -> tuple[float, list[float]]:
        """Argmax accuracy of one genome ``params`` on (x, y), overall and per class."""
        logits = population_logits(params, x)[0]
        right = (logits.argmax(-1) == y).double()
        onehot = torch.nn.functional.one_hot(y, self.data.n_classes).double()
        return float(right.mean()), ((right @ onehot) / onehot.sum(0).clamp_min(1)).cpu().tolist()

    def evaluate_run(self, r: int, train_acc: float = 0.0) -> float:
        """Test accuracy of run r's best genome (by trust) of the generation; adds a point to its curve."""
        return self._record_test(r, self.accuracy(self.data.x_test, self.data.y_test, self.runs[r].best), train_acc)

    def _record_test(self, r: int, test: tuple[float, list[float]], train_acc: float) -> float:
        run = self.runs[r]
        run.test_acc, run.test_per_class = test
        run.curve["step"].append(self.generation)
        run.curve["train_acc"].append(round(float(train_acc), 6))
        run.curve["val_acc"].append(round(run.test_acc, 6))
        if run.generations_to_target is None and run.test_acc >= self.task.target_acc:
            run.generations_to_target = self.generation
        return run.test_acc

    def finite(self, r: int) -> bool:
        """Whether every weight of run r is a finite number."""
        return all(bool(torch.isfinite(v[r]).all()) for v in self.weights.values())

    @property
    def done(self) -> bool:
        return self.generation >= self.task.generations

    @property
    def passes(self) -> int:
        """The budget used so far in the task's unit (generations): the direct run's common name."""
        return self.generation
