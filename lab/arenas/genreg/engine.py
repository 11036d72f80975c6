"""The GENREG engine: a population of MLPs whose weights evolve by trust, with no gradients.

One generation, as the GENREG sources describe it:

1. **Senses.** ``images_per_class`` images of each class are drawn (with replacement) and shown in
   one shuffled order; every genome sees the same images.
2. **Trust.** For each image a genome's trust is first multiplied by ``1 - trust_decay`` and then
   gains ``reward`` for a right answer or loses ``penalty`` for a wrong one. Answers are drawn from
   the genome's softmax (the published code) or are its argmax (``task.sampling``). Over B images
   that is exactly ``trust (1-d)^B + sum_t r_t (1-d)^(B-1-t)``, which is how it is computed
   (:func:`trust_after`). With d = 0.001 and B = 200 the generation's decay is x0.82: the README's
   "trust x 0.8 per generation" is the same decay spread over a generation.
3. **Selection.** The top ``survival`` share by trust are the survivors. The whole population is
   replaced by children (the published ``evolve()``): each child copies a survivor drawn with
   probability proportional to trust (shifted so the weakest survivor weighs 1, as published), or
   (``task.crossover``) takes each weight from one of two such parents at random, the uniform
   crossover of the later published code. Each weight of a child mutates with probability
   ``child_mutation_rate`` (Gaussian noise, ``child_mutation_sigma``); then the new population gets
   the base mutation (``base_mutation_rate`` / ``base_mutation_sigma``; 0 turns it off, which is the
   published ``evolve()`` exactly). A child starts with ``inheritance`` x its (first) parent's trust.

The whole population is one stack of weights: a generation is one matrix product per layer for all
genomes and images, never a Python loop over either. Layout: ``w1`` [D, G, H] (so the first layer
of all genomes is a single [D, G*H] matrix with no copy), ``b1`` [G, H], ``w2`` [G, H, C], ``b2``
[G, C]. Hidden units are tanh; initial weights U(-0.5, 0.5) and biases U(-0.1, 0.1), as in the
GENREG controllers. All randomness comes from one generator seeded by ``seed``.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import torch

from lab.arenas.genreg.genes import GENREG_SPEC
from lab.arenas.genreg.task import GenregTask, load_genreg_data
from lab.arenas.settings import GeneSettings, gene_settings
from lab.arenas.task_data import TaskData

PARAMS = ("w1", "b1", "w2", "b2")
GENOME_AXIS = {"w1": 1, "b1": 0, "w2": 0, "b2": 0}   # which axis of each tensor runs over genomes


@gene_settings(GENREG_SPEC, title="GENREG")
class GenregSettings(GeneSettings):
    """One run's engine settings: a field per gene of genes.py (name, kind, meaning and the published
    default from there)."""

    def problems(self) -> list[str]:
        """What the engine cannot run: it accepts more than the gene table's ranges (a population of
        2, no mutation at all), as tests and ablations use."""
        problems = []
        for gene in self.gene_fields():
            name, v = gene.key, getattr(self, gene.key)
            if gene.kind == "int":
                low = 2 if name == "population" else 1   # one survivor and one child at the least
                if isinstance(v, bool) or not isinstance(v, int) or v < low:
                    problems.append(f"{name} must be a whole number >= {low}, got {v!r}")
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                problems.append(f"{name} must be a finite number >= 0, got {v!r}")
            elif name in ("child_mutation_rate", "base_mutation_rate", "trust_decay", "inheritance") and v > 1:
                problems.append(f"{name} must be at most 1, got {v!r}")
            elif name == "survival" and not 0 < v < 1:
                problems.append(f"survival must be between 0 and 1, got {v!r}")
        return problems

    @property
    def survivors(self) -> int:
        """How many survive: ``ceil(population x survival)``, at least 1 and at most population - 1."""
        return max(1, min(self.population - 1, math.ceil(self.population * self.survival - 1e-9)))


def trust_after(trust: torch.Tensor, rewards: torch.Tensor, decay: float) -> torch.Tensor:
    """Trust after a sequence of images: ``rewards`` [G, B] in the order shown; each image first
    multiplies trust by (1 - decay), then adds its reward. Closed form of that per-image loop."""
    B = rewards.shape[-1]
    keep = 1.0 - decay
    weights = keep ** torch.arange(B - 1, -1, -1, dtype=rewards.dtype, device=rewards.device)
    return trust * keep ** B + rewards @ weights


def population_logits(params: Mapping[str, torch.Tensor], x: torch.Tensor,
                      rows: torch.Tensor | None = None) -> torch.Tensor:
    """Logits [G, B, C] of every genome on every image ``x`` [B, D]: one matrix product per layer.
    ``rows`` (optional, [K, G*H]) are the first layer's rows for the inputs that are not zero in
    every image, already gathered: then x's other columns are dropped (they add nothing)."""
    w1, b1, w2, b2 = (params[k] for k in PARAMS)
    D, G, H = w1.shape
    if rows is None:
        pre = x @ w1.reshape(D, G * H)
    else:
        pre = x @ rows
    h = torch.tanh(pre.view(-1, G, H).transpose(0, 1) + b1.unsqueeze(1))
    return torch.baddbmm(b2.unsqueeze(1), h, w2)


def pick(params: Mapping[str, torch.Tensor], index: torch.Tensor | int) -> dict[str, torch.Tensor]:
    """The genomes ``index`` (a tensor of indices, or one index) of a population, as a population."""
    if isinstance(index, int):
        index = torch.tensor([index], device=params["b1"].device)
    return {k: v.index_select(GENOME_AXIS[k], index) for k, v in params.items()}


class GenregEngine:
    """One GENREG run. ``step(n)`` runs n generations; ``last`` is the latest generation's report."""

    unit = "generations"

    def __init__(self, task: GenregTask, settings: GenregSettings, seed: int, *, device: str = "cpu",
                 data: TaskData | None = None):
        self.task, self.settings, self.seed, self.device = task, settings, int(seed), device
        self.data = data if data is not None else load_genreg_data(task, device)
        d, s = self.data, settings
        self.gen = torch.Generator(device="cpu").manual_seed(self.seed)
        D, H, C, G = d.n_inputs, s.hidden, d.n_classes, s.population
        self.params = {"w1": self._uniform(0.5, D, G, H), "b1": self._uniform(0.1, G, H),
                       "w2": self._uniform(0.5, G, H, C), "b2": self._uniform(0.1, G, C)}
        self.trust = torch.zeros(G, dtype=torch.float64, device=device)
        self.by_class = [torch.nonzero(d.y_train == c).flatten().cpu() for c in range(C)]
        missing = [d.classes[c] for c, idx in enumerate(self.by_class) if len(idx) == 0]
        if missing:
            raise ValueError(f"no training images of class {', '.join(missing)}")
        self._bit_shift = torch.arange(8, dtype=torch.uint8, device=device)
        self._spare: dict[str, torch.Tensor] | None = None      # the previous population's storage
        self._buffers: dict[str, torch.Tensor] = {}
        self.generation = 0
        self.curve: dict[str, list] = {"step": [], "train_acc": [], "val_acc": []}
        self.test_acc = 0.0
        self.test_per_class: list[float] = [0.0] * C
        self.generations_to_target: int | None = None
        self.last: dict[str, Any] = {}
        self.best: dict[str, torch.Tensor] = pick(self.params, 0)   # the latest generation's best genome

    # ---- random numbers: all from self.gen (on the CPU, so a run is the same on any device) ------
    def _uniform(self, half: float, *shape: int) -> torch.Tensor:
        return (torch.rand(*shape, generator=self.gen) * (2 * half) - half).to(self.device)

    # ---- one generation ----------------------------------------------------------------------
    def draw_images(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``images_per_class`` images of each class (with replacement), in one shuffled order."""
        k = self.settings.images_per_class
        picks = [idx[torch.randint(len(idx), (k,), generator=self.gen)] for idx in self.by_class]
        order = torch.cat(picks)[torch.randperm(k * len(picks), generator=self.gen)].to(self.device)
        return self.data.x_train[order], self.data.y_train[order]

    def answers(self, logits: torch.Tensor) -> torch.Tensor:
        """Each genome's answer to each image: drawn from its softmax (Gumbel-max) or its argmax."""
        if self.task.sampling == "argmax":
            return logits.argmax(-1)
        u = torch.rand(*logits.shape, generator=self.gen).to(self.device).clamp_(1e-12, 1 - 1e-7)
        return (logits - torch.log(-torch.log(u))).argmax(-1)

    @torch.no_grad()
    def step(self, n: int = 1) -> int:
        """Run up to ``n`` generations (fewer at the end of the budget); returns how many ran."""
        ran = 0
        while ran < max(1, int(n)) and not self.done:
            self.last = self._generation()
            ran += 1
        return ran

    def _generation(self) -> dict[str, Any]:
        s = self.settings
        x, y = self.draw_images()
        right = self.answers(self._logits(x)) == y       # [G, B]
        rewards = torch.where(right, s.reward, -s.penalty).to(torch.float64)
        self.trust = trust_after(self.trust, rewards, s.trust_decay)
        accuracy = right.double().mean(1)
        best = int(self.trust.argmax())
        self.generation += 1
        self.best = pick(self.params, best)     # evaluated before evolve() replaces it by children
        if self.generation % self.task.eval_interval == 0 or self.generation == self.task.generations:
            self.evaluate(float(accuracy[best]))
        report = {"generation": self.generation, "best": best, "best_train_acc": float(accuracy[best]),
                  "mean_train_acc": float(accuracy.mean()), "test_acc": self.test_acc,
                  "trust": self.trust.cpu().numpy().copy(), "train_acc": accuracy.cpu().numpy()}
        self.evolve()
        return report

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """population_logits of this generation's images. Inputs that are zero in every image (an
        MNIST batch of 200 leaves about 30% of the pixels dark) are dropped from the big product: the
        first-layer rows of the others are gathered into a buffer, which costs far less than the
        dropped rows' share of the product."""
        w1 = self.params["w1"]
        D, G, H = w1.shape
        lit = torch.nonzero((x != 0).any(0)).flatten()
        if len(lit) > 0.9 * D:
            return population_logits(self.params, x)
        rows = self._scratch("rows", (len(lit), G * H), w1.dtype)
        torch.index_select(w1.reshape(D, G * H), 0, lit, out=rows)
        return population_logits(self.params, x.index_select(1, lit), rows)

    def parents(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Each child's parent (and second parent with crossover): survivors drawn in proportion to
        trust, shifted so the weakest survivor weighs 1."""
        s, G = self.settings, self.settings.population
        keep = torch.argsort(self.trust, descending=True, stable=True)[:s.survivors]
        weights = (self.trust[keep] - self.trust[keep].min() + 1.0).cpu()

        def draw() -> torch.Tensor:
            return keep[torch.multinomial(weights, G, replacement=True, generator=self.gen).to(self.device)]

        first = draw()
        return first, (draw() if self.task.crossover else None)

    def evolve(self) -> None:
        """Replace the population by mutated children of the survivors (see the module text).
        Children are written into buffers kept from the generation before (the two populations
        swap): allocating ~40 MB per tensor each generation cost more than the copying itself."""
        s = self.settings
        first, second = self.parents()
        if self._spare is None:
            self._spare = {k: torch.empty_like(v) for k, v in self.params.items()}
        for k, p in self.params.items():
            axis, child = GENOME_AXIS[k], self._spare[k]
            torch.index_select(p, axis, first, out=child)
            if second is not None:      # uniform crossover: each weight from either parent
                other = self._scratch("other", tuple(child.shape), p.dtype)
                torch.index_select(p, axis, second, out=other)
                # lerp by a 0/1 weight is exact at both ends (torch computes end - diff * (1 - w)
                # for w >= 0.5) and several times faster than torch.where on a bool mask here
                weight = self._scratch("weight", tuple(child.shape), child.dtype)
                weight.copy_(self._coins(child.numel()).view(child.shape))
                torch.lerp(child, other, weight, out=child)
            self._mutate_(child, (s.child_mutation_rate, s.child_mutation_sigma),
                          (s.base_mutation_rate, s.base_mutation_sigma))
        self.params, self._spare = self._spare, self.params
        self.trust = s.inheritance * self.trust[first]

    def _scratch(self, name: str, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """A reusable buffer of ``shape`` on the engine's device (grown when a larger one is asked for)."""
        n = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < n or buf.dtype != dtype:
            buf = self._buffers[name] = torch.empty(n, dtype=dtype, device=self.device)
        return buf[:n].view(shape)

    def _coins(self, n: int) -> torch.Tensor:
        """n fair coins (uint8 0 or 1): random bytes unpacked to bits, 8 coins per random number."""
        raw = torch.randint(0, 256, ((n + 7) // 8, 1), dtype=torch.uint8, generator=self.gen).to(self.device)
        bits = self._scratch("bits", (raw.shape[0] * 8,), torch.uint8)
        torch.bitwise_right_shift(raw, self._bit_shift, out=bits.view(-1, 8))
        bits.bitwise_and_(1)
        return bits[:n]

    def _mutate_(self, x: torch.Tensor, *mutations: tuple[float, float]) -> None:
        """Apply each (rate, sigma) mutation to ``x`` in place: every entry independently gets
        N(0, sigma^2) added with probability rate. Done in one pass: the entries hit by at least one
        coin are a Bernoulli process of rate 1 - prod(1 - rate), drawn by geometric gaps (the per-entry
        coins, see :func:`mutation_positions`, with a few random numbers per hit entry instead of one
        per entry and mutation); each hit entry then
        draws which coins came up, given at least one did, and gets the sum of their noises."""
        active = [(r, sg) for r, sg in mutations if r > 0 and sg > 0]
        if not active:
            return
        flat = x.view(-1)
        n = flat.numel()
        union = 1.0 - math.prod(1.0 - r for r, _ in active)
        if union >= 1:
            positions = torch.arange(n)
        else:
            positions = mutation_positions(n, union, self.gen)
        m = len(positions)
        if len(active) == 1:
            sd = active[0][1]
        else:
            # combinations of coins, each with its probability given at least one came up, and the
            # std of the noise it adds; combinations adding the same std are one group
            groups: dict[float, float] = {}
            for c in itertools.product((0, 1), repeat=len(active)):
                prob = math.prod(r if hit else 1 - r for hit, (r, _) in zip(c, active))
                if any(c) and prob > 0:
                    std = math.sqrt(sum(sg * sg for hit, (_, sg) in zip(c, active) if hit))
                    groups[std] = groups.get(std, 0.0) + prob / union
            if len(groups) == 1:
                sd = next(iter(groups))
            elif len(groups) == 2:   # equal sigmas: the rarer group's entries are a thinned Bernoulli process
                (common, _), (rare, p_rare) = sorted(groups.items(), key=lambda kv: -kv[1])
                sd = torch.full((m,), common)
                sd[mutation_positions(m, p_rare, self.gen) if m else []] = rare
            else:
                stds, probs = list(groups), torch.tensor(list(groups.values()), dtype=torch.float64)
                edges = (probs.cumsum(0) / probs.sum())[:-1].tolist()
                u = torch.rand(m, generator=self.gen)
                sd = torch.full((m,), stds[-1])
                for edge, value in zip(reversed(edges), reversed(stds[:-1])):
                    sd = torch.where(u < edge, value, sd)      # u below edge k: group k or earlier
        noise = torch.randn(m, generator=self.gen) * sd
        flat.index_add_(0, positions.to(self.device), noise.to(self.device))

    # ---- what is reported --------------------------------------------------------------------
    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None
                 ) -> tuple[float, list[float]]:
        """Argmax accuracy of the latest best genome (or ``params``, one genome) on (x, y), overall
        and per class."""
        logits = population_logits(params if params is not None else self.best, x)[0]
        right = (logits.argmax(-1) == y).double()
        onehot = torch.nn.functional.one_hot(y, self.data.n_classes).double()
        return float(right.mean()), ((right @ onehot) / onehot.sum(0).clamp_min(1)).cpu().tolist()

    def evaluate(self, train_acc: float = 0.0) -> float:
        """Test accuracy of the generation's best genome (by trust); adds a point to the curve."""
        self.test_acc, self.test_per_class = self.accuracy(self.data.x_test, self.data.y_test)
        self.curve["step"].append(self.generation)
        self.curve["train_acc"].append(round(float(train_acc), 6))
        self.curve["val_acc"].append(round(self.test_acc, 6))
        if self.generations_to_target is None and self.test_acc >= self.task.target_acc:
            self.generations_to_target = self.generation
        return self.test_acc

    @property
    def done(self) -> bool:
        return self.generation >= self.task.generations

    @property
    def passes(self) -> int:
        """The budget used so far in the task's unit (generations): the direct run's common name."""
        return self.generation

    def first_layer_images(self, most: int = 64) -> torch.Tensor | None:
        """The best genome's first-layer weights as images [H, rows, cols] (None when the inputs are
        not square images)."""
        shape = self.data.image_shape
        if shape is None:
            return None
        w = self.best["w1"][:, 0, :most]          # [D, H]
        return w.t().reshape(-1, *shape).cpu()

    def snapshot(self) -> dict[str, Any]:
        """The run now, for a view: trust and this generation's accuracy per genome, the best
        genome's train/test and per-class test accuracy, its first-layer weights, the curve."""
        last = self.last
        images = self.first_layer_images()
        return {"unit": self.unit, "passes": self.generation, "budget": self.task.generations, "seed": self.seed,
                "fitness": [float(t) for t in last.get("trust", self.trust.cpu().numpy())],
                "fitness_label": "trust",
                "train_acc": [float(a) for a in last.get("train_acc", [])],
                "best": last.get("best", 0), "best_train_acc": last.get("best_train_acc", 0.0),
                "mean_train_acc": last.get("mean_train_acc", 0.0),
                "test_acc": self.test_acc, "per_class": list(self.test_per_class), "classes": list(self.data.classes),
                "weights": images.numpy() if images is not None else None,
                "population": self.settings.population, "survivors": self.settings.survivors,
                "curve": {key: list(v) for key, v in self.curve.items()}}

    # ---- checkpoints: npz + JSON, never pickle ------------------------------------------------
    def save(self, path: str) -> list[str]:
        from lab.arenas.genreg.checkpoint import save_population

        return save_population(self, path)

    def load(self, path: str) -> None:
        from lab.arenas.genreg.checkpoint import load_population

        load_population(self, path)


def mutation_positions(n: int, rate: float, gen: torch.Generator) -> torch.Tensor:
    """Sorted positions in [0, n) where a coin of probability ``rate`` (0 < rate < 1) came up, each
    position independently: the gaps between successes of a Bernoulli process are geometric, so they
    are drawn directly (inverse CDF of a float32 uniform) instead of n coins. The only departure from
    the exact process is float32's resolution: a gap longer than log(2^-24) / log(1 - rate) (229
    weights at rate 0.07), which has probability below 2^-24, is never drawn."""
    scale = 1.0 / math.log1p(-rate)
    chunks, start = [], 0
    while start < n:
        expect = (n - start) * rate
        m = int(expect + 6 * math.sqrt(expect) + 16)
        u = torch.rand(m, generator=gen)
        gaps = (torch.log1p(-u) * scale).long() + 1       # floor: the values are >= 0
        pos = start - 1 + torch.cumsum(gaps, 0)
        chunks.append(pos[:int(torch.searchsorted(pos, n))])      # sorted: cut, no mask
        start = int(pos[-1]) + 1
    return chunks[0] if len(chunks) == 1 else torch.cat(chunks)
