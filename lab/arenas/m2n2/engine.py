"""The M2N2 engine (Model Merging of Natural Niches, arXiv 2508.16204), R runs advanced together.

One pass of a run: draw parent A in proportion to its competition fitness, partner B by
attraction, breed a child by split-point SLERP, mutate it, evaluate it on the whole training set
(the one forward pass the budget counts), and let it replace the archive's weakest member if it is
not the weakest itself. Every run's archive, scores and randomness are its own (one generator per
run); the R runs share only the batched matrix products, so a run gives the same result alone or
batched with others. The pure functions (fitness, attraction, crossover) are what the tests check
against hand-computed cases.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from lab.arenas.live_settings import LiveSettings
from lab.arenas.m2n2.settings import GA_BASELINE, PARTNERS, ZERO_ATTRACTION, M2N2Settings
from lab.arenas.m2n2.task import M2N2Task, TaskData, load_task_data, n_params

__all__ = ["GA_BASELINE", "PARTNERS", "SLERP_EPS", "UNIFORMS", "ZERO_ATTRACTION", "M2N2Engine", "M2N2Settings"]

SLERP_EPS = 1e-6        # below this sin(omega) the parents are (anti)parallel: interpolate linearly
UNIFORMS = 5            # per pass and run: parent A, partner B, crossover?, mixing ratio w, split point


# ---- the pure parts ---------------------------------------------------------------------------
def shared_rewards(scores: torch.Tensor, alpha: torch.Tensor | float) -> torch.Tensor:
    """s_ij / z_j^alpha for scores [..., K, N] (1 = model i gets point j right); z_j counts the
    models that get j right, and a point nobody gets right (z_j = 0) is divided by 1, not 0."""
    z = scores.sum(-2)
    alpha = torch.as_tensor(alpha, dtype=scores.dtype, device=scores.device)
    zp = torch.where(z > 0, z, 1.0) ** alpha.reshape(alpha.shape + (1,) * (z.dim() - alpha.dim()))
    return scores / zp.unsqueeze(-2)


def competition_fitness(scores: torch.Tensor, alpha: torch.Tensor | float) -> torch.Tensor:
    """Fitness with competition for limited resources: sum_j s_ij / z_j^alpha, shape [..., K]."""
    return shared_rewards(scores, alpha).sum(-1)


def attraction(rewards: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """g(A, B) = sum_j max(s_Bj - s_Aj, 0) / z_j^alpha for every B: what B gets right that A misses,
    weighted by how scarce it is. ``rewards`` [R, K, N] from shared_rewards, ``a`` [R] -> [R, K]."""
    ra = rewards.gather(1, a.view(-1, 1, 1).expand(-1, 1, rewards.shape[-1]))
    return (rewards - ra).clamp_min_(0).sum(-1)


def attraction_matrix(scores: torch.Tensor, alpha: float) -> torch.Tensor:
    """g[a, b] for every pair of one archive (scores [K, N]) -> [K, K]."""
    r = shared_rewards(scores, alpha)
    return (r.unsqueeze(0) - r.unsqueeze(1)).clamp_min(0).sum(-1)


def crossover(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, split: torch.Tensor, *,
              spherical: torch.Tensor | bool = True) -> torch.Tensor:
    """Children of parents x, y [R, P]: mixing ratio w [R] before the split point (split [R], an
    index into the flattened parameters; P means no split) and 1 - w after it. SLERP on the
    parameter vectors (the angle is the whole vectors'), or linear where ``spherical`` is False or
    the vectors are parallel or zero. w = 0 gives x before the split."""
    R, P = x.shape
    w = w.to(x.dtype).reshape(R, 1)
    val = torch.where(torch.arange(P, device=x.device).unsqueeze(0) < split.reshape(R, 1), w, 1 - w)
    nx, ny = x.norm(dim=1), y.norm(dim=1)
    dot = ((x * y).sum(1) / (nx * ny)).nan_to_num(1.0).clamp(-1, 1)
    omega = torch.arccos(dot)
    so = torch.sin(omega)
    spherical = torch.as_tensor(spherical, device=x.device).reshape(-1).expand(R)
    use = (spherical & (so > SLERP_EPS)).unsqueeze(1)
    safe = torch.where(use.squeeze(1), so, 1.0).unsqueeze(1)
    om = omega.unsqueeze(1)
    sx = torch.where(use, torch.sin((1 - val) * om) / safe, 1 - val)
    sy = torch.where(use, torch.sin(val * om) / safe, val)
    return sx * x + sy * y


def sample_index(weights: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """One index per row of ``weights`` [R, K] (>= 0, each row with a positive sum), drawn in
    proportion to them by the uniforms ``u`` [R] (inverse CDF: a zero weight is never drawn)."""
    cdf = weights.cumsum(-1)
    v = (u.to(cdf.dtype) * cdf[:, -1]).unsqueeze(1)
    idx = torch.searchsorted(cdf, v, right=True).squeeze(1)
    return idx.clamp_max_(weights.shape[1] - 1)


def mlp_logits(params: torch.Tensor, x_t: torch.Tensor, hidden: int, n_classes: int) -> torch.Tensor:
    """Logits [R, C, N] of R MLPs (flattened parameters [R, P], the published layout: W1 as
    [inputs, hidden] row-major, b1, W2 as [hidden, classes], b2) on one input batch given
    transposed, x_t [D, N]. Computed transposed (W^T h^T): with 10 classes this is ~3x faster than
    h @ W2 on the CPU. A lone model is padded to a batch of two, because a batch of one takes
    another kernel whose last bits differ: so a run gives the same numbers alone or batched."""
    R, (D, N), H, C = params.shape[0], x_t.shape, hidden, n_classes
    if R == 1:
        return mlp_logits(torch.cat([params, torch.zeros_like(params)]), x_t, hidden, n_classes)[:1]
    o1 = D * H
    o2 = o1 + H
    o3 = o2 + H * C
    h_t = torch.baddbmm(params[:, o1:o2].unsqueeze(2), params[:, :o1].view(R, D, H).transpose(1, 2),
                        x_t.expand(R, D, N)).relu_()
    return torch.baddbmm(params[:, o3:].unsqueeze(2), params[:, o2:o3].view(R, H, C).transpose(1, 2), h_t)


def member_rng(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(int(seed) & 0xFFFF_FFFF_FFFF)


def draw_block(gens: Sequence[torch.Generator], block: int, n_params: int, device: str
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The next ``block`` passes' randomness: uniforms [block, R, UNIFORMS] (float64) and noise
    [block, R, n_params], each run's from its own generator in the published order, runs in parallel
    threads (one generator per thread: the same numbers). On CUDA: pinned, copied without waiting."""
    def draw(g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.rand(block, UNIFORMS, generator=g, dtype=torch.float64), torch.randn(block, n_params, generator=g)

    workers = min(len(gens), torch.get_num_threads())
    if workers > 1:     # a lone run or thread draws here: a pool would only add its start-up
        with ThreadPoolExecutor(workers) as pool:
            drawn = list(pool.map(draw, gens))
    else:
        drawn = [draw(g) for g in gens]
    cuda = torch.device(device).type == "cuda"
    uniforms = torch.empty(block, len(gens), UNIFORMS, dtype=torch.float64, pin_memory=cuda)
    noise = torch.empty(block, len(gens), n_params, pin_memory=cuda)
    torch.stack([u for u, _ in drawn], 1, out=uniforms)
    torch.stack([n for _, n in drawn], 1, out=noise)
    return uniforms.to(device, non_blocking=cuda), noise.to(device, non_blocking=cuda)


# ---- the engine -------------------------------------------------------------------------------
class M2N2Engine(LiveSettings):
    """R independent M2N2 runs (one per (settings, seed)) on one task, advanced pass by pass.

    ``step(n)`` runs n passes of every run; ``evaluate()`` records the reported model's test
    accuracy (the archive member with the best training accuracy); ``snapshot(r)`` is what the run
    view draws. The archive starts as the published code's: zero models with no score, into which
    two random models N(0, init_sigma^2) are inserted by the replacement rule.
    """

    def __init__(self, task: M2N2Task, settings: Sequence[M2N2Settings], seeds: Sequence[int], *,
                 device: str = "cpu", data: TaskData | None = None, fitness_log: bool = False):
        if len(settings) != len(seeds) or not seeds:
            raise ValueError("one settings object per seed, at least one run")
        self.task, self.settings, self.seeds, self.device = task, list(settings), [int(s) for s in seeds], device
        self.data = data if data is not None else load_task_data(task, device)
        d = self.data
        self.R = R = len(seeds)
        self.K = K = max(s.archive_size for s in settings)
        self.P = P = n_params(d.n_inputs, task.hidden, d.n_classes)
        self.N = len(d.y_train)
        self._use_settings(self.settings)
        self.zero_attraction_passes = torch.zeros(R, dtype=torch.int64, device=device)
        self.valid = torch.arange(K, device=device).unsqueeze(0) < torch.tensor(
            [s.archive_size for s in settings], device=device).unsqueeze(1)
        self._x_train_t, self._x_test_t = d.x_train.t().contiguous(), d.x_test.t().contiguous()
        self.archive = torch.zeros(R, K, P, dtype=torch.float32, device=device)
        # scores of the archive (rows :K) and of the candidate child (row K), 1 = point right
        self._ext = torch.zeros(R, K + 1, self.N, dtype=torch.float64, device=device)
        self.scores = self._ext[:, :K]
        self.filled = torch.zeros(R, K, dtype=torch.bool, device=device)
        self.rows = torch.arange(R, device=device)
        self.gens = [member_rng(s) for s in self.seeds]
        self.block = max(1, min(64, 2 ** 21 // P))   # passes of randomness drawn at once (fixed per P)
        self._noise: torch.Tensor | None = None
        self._uniforms: torch.Tensor | None = None
        self._at = self.block
        self.passes = 0
        self.replaced = torch.zeros(R, dtype=torch.int64, device=device)   # children that entered
        self.curve: list[dict[str, list]] = [{"step": [], "train_acc": [], "val_acc": []} for _ in range(R)]
        self.test_acc = torch.zeros(R, dtype=torch.float64, device=device)
        self.passes_to_target: list[int | None] = [None] * R
        # the per-pass fitness log (fitness_log.csv): kept only on request; slot_test holds each
        # archive member's test accuracy (computed once, when it enters) so logging costs no pass
        self.logging = bool(fitness_log)
        self.slot_test = torch.zeros(R, K, dtype=torch.float64, device=device)
        self._log: list[torch.Tensor] = []
        init = torch.stack([torch.randn(2, P, generator=g) for g in self.gens]).to(device)
        init = init * torch.tensor([s.init_sigma for s in settings], device=device).view(R, 1, 1)
        for k in range(2):
            self._insert(init[:, k], self._score(init[:, k]))
        if self.logging:
            self._log_pass(torch.full((R,), -1, dtype=torch.int64, device=device))
        self.evaluate()

    FIXED_SETTINGS, TITLE = ("archive_size", "init_sigma"), "M2N2"

    @property
    def current_settings(self) -> M2N2Settings:
        return self.settings[0]

    def apply_settings(self, settings: M2N2Settings) -> None:
        """A direct run's new settings (lab.arenas.live_settings): one run only."""
        if self.R != 1:
            raise ValueError("settings change mid-run for an engine of one run only")
        self._use_settings([settings])

    def history_table(self) -> tuple[tuple[str, ...], list[list[Any]]]:
        """The fitness log of the one run (a row per pass, pass 0: the two initial models in);
        empty when the engine keeps no log."""
        rows = torch.stack([row[0] for row in self._log]).cpu().tolist() if self._log else []
        return self.FITNESS_LOG_COLUMNS, [[i, int(slot), int(accepted), best, mean, test]
                                          for i, (slot, accepted, best, mean, test) in enumerate(rows)]

    def _use_settings(self, settings: Sequence[M2N2Settings]) -> None:
        """Run the next passes with ``settings`` (one per run; archive sizes as they were)."""
        self.settings, device, f64 = list(settings), self.device, dict(dtype=torch.float64, device=self.device)
        self.alpha = torch.tensor([s.alpha for s in settings], **f64)
        self.sigma = torch.tensor([s.mutation_sigma for s in settings], dtype=torch.float32, device=device)
        self.xrate = torch.tensor([s.crossover_rate for s in settings], **f64)
        self.use_split = torch.tensor([s.split_point for s in settings], device=device)
        self.spherical = torch.tensor([s.slerp for s in settings], device=device)
        self.partner = torch.tensor([PARTNERS.index(s.partner) for s in settings], device=device)
        self.slot0 = torch.tensor([s.zero_attraction == "slot0" for s in settings], device=device)

    # -- one pass -------------------------------------------------------------------------------
    def _draw(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._at >= self.block:
            self._uniforms, self._noise = draw_block(self.gens, self.block, self.P, self.device)
            self._at = 0
        i, self._at = self._at, self._at + 1
        return self._uniforms[i], self._noise[i]

    def _predict(self, params: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
        """Predicted classes [R, N] (argmax over a contiguous [R, N, C]: ~6x faster than over dim 1)."""
        return mlp_logits(params, x_t, self.task.hidden, self.data.n_classes).transpose(1, 2).contiguous().argmax(-1)

    def _score(self, params: torch.Tensor) -> torch.Tensor:
        return (self._predict(params, self._x_train_t) == self.data.y_train).to(torch.float64)

    def _insert(self, child: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        """The child replaces the member of lowest fitness over archive plus child, unless it is the
        lowest itself (ties: the archive member goes first, as published). Returns the slot replaced
        per run, -1 where the child stayed out: then its run's last slot is rewritten unchanged."""
        self._ext[:, self.K] = score
        fit = competition_fitness(self._ext, self.alpha)
        fit[:, :self.K].masked_fill_(~self.valid, math.inf)
        worst = fit.argmin(1)
        enter = worst < self.K
        slot = worst.clamp_max(self.K - 1)
        keep = enter.unsqueeze(1)
        self.archive[self.rows, slot] = torch.where(keep, child, self.archive[self.rows, slot])
        self.scores[self.rows, slot] = torch.where(keep, score, self.scores[self.rows, slot])
        self.filled[self.rows, slot] = self.filled[self.rows, slot] | enter
        self.replaced += enter
        if self.logging:
            # only entering children's test accuracy (saves forward work): one read per logged pass
            take = enter.nonzero().squeeze(1)
            if len(take):
                self.slot_test[take, slot[take]] = self._test_accuracy(child[take])
        return torch.where(enter, worst, -1)

    def _log_pass(self, slot: torch.Tensor) -> None:
        """One row per run of the fitness log: slot replaced (-1: the child was the weakest),
        children accepted so far, the archive's best and mean training accuracy, and the
        reported model's test accuracy."""
        acc = self.scores.mean(-1)
        filled = self.filled & self.valid
        best = acc.masked_fill(~self.valid, -1.0).argmax(1)
        self._log.append(torch.stack([
            slot.to(torch.float64), self.replaced.to(torch.float64), acc.masked_fill(~filled, -1.0).max(1).values,
            (acc * filled).sum(1) / filled.sum(1).clamp_min(1), self.slot_test[self.rows, best]], 1))

    FITNESS_LOG_COLUMNS = ("pass", "replaced_slot", "children_accepted", "best_train_acc", "mean_train_acc",
                           "test_acc")

    def fitness_log_csv(self, r: int = 0) -> str:
        """Run r's fitness log as CSV text, one row per pass (pass 0: the two initial models in),
        like the reference implementation's fitness_log.csv. Needs ``fitness_log=True``."""
        if not self.logging:
            raise ValueError("this engine keeps no fitness log (build it with fitness_log=True)")
        rows = torch.stack([row[r] for row in self._log]).cpu().tolist() if self._log else []
        lines = [",".join(self.FITNESS_LOG_COLUMNS)]
        for i, (slot, accepted, best, mean, test) in enumerate(rows):
            lines.append(f"{i},{int(slot)},{int(accepted)},{best:.6f},{mean:.6f},{test:.6f}")
        return "\n".join(lines) + "\n"

    def parents(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parent A in proportion to fitness; partner B by attraction to A (or fitness, or uniform).
        Zero total fitness draws A uniformly from the archive's models; zero attraction (A already
        gets right every point another model gets right) takes slot 0 as the published code does,
        or, with ``zero_attraction="fitness"``, draws B in proportion to fitness."""
        rewards = shared_rewards(self.scores, self.alpha)
        fit = rewards.sum(-1)
        occupied = self.filled.to(fit.dtype)
        by_fit = torch.where(fit.sum(1, keepdim=True) > 0, fit, occupied)
        a = sample_index(by_fit, u[:, 0])
        pull = attraction(rewards, a)
        none = pull.sum(1) <= 0
        pull = torch.where(none.unsqueeze(1), by_fit, pull)
        by_attraction = self.partner == 0
        weights = torch.where(by_attraction.unsqueeze(1), pull,
                              torch.where((self.partner == 1).unsqueeze(1), by_fit, occupied))
        b = sample_index(weights, u[:, 1])
        fallback = by_attraction & none
        self.zero_attraction_passes += fallback
        return a, torch.where(fallback & self.slot0, 0, b)

    def _pass(self) -> None:
        u, noise = self._draw()
        a, b = self.parents(u)
        x, y = self.archive[self.rows, a], self.archive[self.rows, b]
        split = torch.where(self.use_split, (u[:, 4] * self.P).long(), self.P)
        bred = crossover(x, y, u[:, 3], split, spherical=self.spherical)
        child = torch.where((u[:, 2] < self.xrate).unsqueeze(1), bred, x)
        child = child + self.sigma.unsqueeze(1) * noise
        slot = self._insert(child, self._score(child))
        self.passes += 1
        if self.logging:
            self._log_pass(slot)

    def step(self, n: int = 1) -> int:
        """Run up to n passes of every run (never past the task's budget); returns passes run."""
        n = max(0, min(n, self.task.passes - self.passes))
        with torch.no_grad():
            for _ in range(n):
                self._pass()
                if self.passes % self.task.eval_interval == 0 or self.passes == self.task.passes:
                    self.evaluate()
        return n

    @property
    def done(self) -> bool:
        return self.passes >= self.task.passes

    # -- what is reported -------------------------------------------------------------------------
    def train_acc(self) -> torch.Tensor:
        """Training accuracy of every archive slot [R, K] (-1 where a run's archive has no slot)."""
        return self.scores.mean(-1).masked_fill(~self.valid, -1.0)

    def best(self) -> torch.Tensor:
        return self.train_acc().argmax(1)

    @torch.no_grad()
    def evaluate(self) -> None:
        """Test accuracy of each run's reported model, appended to its curve."""
        self.test_acc = self._test_accuracy(self.archive[self.rows, self.best()])
        tests, train = self.test_acc.tolist(), self.train_acc().max(1).values.tolist()   # one read each
        for r, acc in enumerate(tests):
            c = self.curve[r]
            if c["step"] and c["step"][-1] == self.passes:
                continue
            c["step"].append(self.passes)
            c["train_acc"].append(round(train[r], 6))
            c["val_acc"].append(round(acc, 6))
            if self.passes_to_target[r] is None and acc >= self.task.target_acc:
                self.passes_to_target[r] = self.passes

    def _test_accuracy(self, params: torch.Tensor) -> torch.Tensor:
        return (self._predict(params, self._x_test_t) == self.data.y_test).double().mean(1)

    @torch.no_grad()
    def per_class_accuracy(self, r: int) -> torch.Tensor:
        """Training accuracy of every archive slot of run r on each class [K, C]."""
        y = self.data.y_train
        onehot = torch.nn.functional.one_hot(y, self.data.n_classes).to(torch.float64)
        return (self.scores[r] @ onehot) / onehot.sum(0).clamp_min(1)

    @torch.no_grad()
    def snapshot(self, r: int = 0) -> dict[str, Any]:
        """Run r now: archive fitness and training accuracy per slot, best train/test accuracy,
        per-class accuracy of the archive, the attraction matrix, the test curve so far."""
        k = self.settings[r].archive_size
        scores = self.scores[r, :k]
        filled = self.filled[r, :k]
        return {"passes": self.passes, "budget": self.task.passes, "seed": self.seeds[r],
                "fitness": competition_fitness(scores, self.settings[r].alpha).cpu().tolist(),
                "train_acc": scores.mean(-1).cpu().tolist(), "filled": filled.cpu().tolist(),
                "best": int(self.best()[r]), "best_train_acc": float(self.train_acc()[r].max()),
                "test_acc": float(self._test_accuracy(self.reported_params(r).unsqueeze(0))[0]),
                "replaced": int(self.replaced[r]),
                "per_class": self.per_class_accuracy(r)[:k].cpu().tolist(), "classes": list(self.data.classes),
                "attraction": attraction_matrix(scores, self.settings[r].alpha).cpu().tolist(),
                "curve": {key: list(v) for key, v in self.curve[r].items()}}

    @torch.no_grad()
    def hidden_layer(self, x: torch.Tensor, r: int = 0) -> tuple[Any, Any]:
        """Run r's reported model's hidden units [N, H] (ReLU) and logits [N, C] on inputs ``x`` [N, D]."""
        p, D, H = self.reported_params(r), self.data.n_inputs, self.task.hidden
        h = (x @ p[:D * H].view(D, H) + p[D * H:D * H + H]).relu_()
        return h.cpu().numpy(), (h @ p[D * H + H:-self.data.n_classes].view(H, -1) + p[-self.data.n_classes:]).cpu().numpy()

    def reported_params(self, r: int = 0) -> torch.Tensor:
        """The reported model of run r: flattened parameters of its best-training-accuracy member."""
        return self.archive[r, int(self.best()[r])].clone()
