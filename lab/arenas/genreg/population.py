"""GENREG's settings, the population math (trust, logits, picking genomes) and a run's random draws.

Every draw function takes the run's own generator (on the CPU, so a run is the same on any device)
and draws exactly what one generation of that run needs, in the engine's order; the stacked engine
(stack.py) calls them once per run, so a run's numbers never depend on the runs stacked with it.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import torch

from lab.arenas.genreg.genes import GENREG_SPEC
from lab.arenas.settings import GeneSettings, gene_settings

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


# ---- a run's random draws ----------------------------------------------------------------------
def image_order(by_class: Sequence[torch.Tensor], k: int, gen: torch.Generator) -> torch.Tensor:
    """Indices of ``k`` training images of each class (``by_class``: each class's indices, with
    replacement), in one shuffled order."""
    picks = [idx[torch.randint(len(idx), (k,), generator=gen)] for idx in by_class]
    return torch.cat(picks)[torch.randperm(k * len(picks), generator=gen)]


def draw_parents(trust: torch.Tensor, survivors: int, crossover: bool, gen: torch.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Each child's parent (and second parent with crossover), on trust's device: of the top
    ``survivors`` by trust, drawn in proportion to trust shifted so the weakest survivor weighs 1."""
    keep = torch.argsort(trust, descending=True, stable=True)[:survivors]
    weights = (trust[keep] - trust[keep].min() + 1.0).cpu()

    def draw() -> torch.Tensor:
        return keep[torch.multinomial(weights, len(trust), replacement=True, generator=gen).to(trust.device)]

    first = draw()
    return first, (draw() if crossover else None)


def coin_bytes(n: int, gen: torch.Generator) -> torch.Tensor:
    """The random bytes [ceil(n / 8), 1] whose bits are n fair coins (8 coins per random number)."""
    return torch.randint(0, 256, ((n + 7) // 8, 1), dtype=torch.uint8, generator=gen)


def mutation_draws(n: int, mutations: Sequence[tuple[float, float]], gen: torch.Generator
                   ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Where and by how much each (rate, sigma) mutation changes n entries: every entry independently
    gets N(0, sigma^2) added with probability rate. Returns (sorted positions, noise) on the CPU, or
    None when nothing can mutate. Drawn in one pass: the entries hit by at least one coin are a
    Bernoulli process of rate 1 - prod(1 - rate), drawn by geometric gaps (:func:`mutation_positions`,
    a few random numbers per hit entry instead of one per entry and mutation); each hit entry then
    draws which coins came up, given at least one did, and gets the sum of their noises."""
    active = [(r, sg) for r, sg in mutations if r > 0 and sg > 0]
    if not active:
        return None
    union = 1.0 - math.prod(1.0 - r for r, _ in active)
    positions = torch.arange(n) if union >= 1 else mutation_positions(n, union, gen)
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
            sd[mutation_positions(m, p_rare, gen) if m else []] = rare
        else:
            stds, probs = list(groups), torch.tensor(list(groups.values()), dtype=torch.float64)
            edges = (probs.cumsum(0) / probs.sum())[:-1].tolist()
            u = torch.rand(m, generator=gen)
            sd = torch.full((m,), stds[-1])
            for edge, value in zip(reversed(edges), reversed(stds[:-1])):
                sd = torch.where(u < edge, value, sd)      # u below edge k: group k or earlier
    return positions, torch.randn(m, generator=gen) * sd


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
