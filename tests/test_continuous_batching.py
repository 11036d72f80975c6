"""Continuous batching in the grokking trainer: with a ``capacity`` below the number of trials, the
waiting trials join the batch as members leave, each at its own step 0, and every trial's result
(status, metrics, curves, per-step losses) is exactly the one it gets when all trials start
together, in float64 and in the default float32."""
from __future__ import annotations

import dataclasses
import json
from types import MappingProxyType

import numpy as np
import pytest
import torch

import lab.arenas.grokking.trainer as trainer
from lab.arenas import get_arena
from lab.arenas.grokking.live import LiveBatch
from lab.arenas.grokking.optim import LifeCycle
from lab.arenas.grokking.task import BatchOrder, GrokTask
from lab.arenas.racing import Race, RacingRule
from lab.genome import get_spec, random_genome

# small and quick; a grok threshold just above chance (1/23), so that members leave at different
# evaluations, and a cap that is not a multiple of the evaluation interval (members leave between
# evaluations too)
TASK = GrokTask(modulus=23, train_fraction=0.6, d_model=16, heads=2, d_ff=32, batch_size=64, step_cap=75,
                eval_interval=10, grok_threshold=0.045, loss_window=5)


def _trials(n_genomes: int = 4, seeds=(0, 1)) -> list:
    rng = np.random.default_rng(11)
    spec = get_spec("grokking")
    genomes = []
    for i in range(n_genomes):
        g = random_genome(spec, rng)
        # dropout on for half of them, short warmups and an easily armed decay, so every per-member
        # step the trainer keeps (lr, decay, AdamW bias correction, dropout masks) matters
        genes = {**g.genes, "dropout": 0.1 * (i % 2), "warmup_steps": 5 * i, "decay_trigger_var": 0.1,
                 "learning_rate": 3e-3}
        genomes.append(g.replace(genes=genes))
    return [(g, s) for g in genomes for s in seeds]


def _outcome(results) -> list[str]:
    return [json.dumps([r.genome_id, r.seed, r.status, r.metrics, r.curve], sort_keys=True) for r in results]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_trials_joining_later_train_exactly_as_from_the_start(dtype):
    trials = _trials()
    together = trainer.train_population(trials, TASK, device="cpu", dtype=dtype, record_losses=True)
    statuses = {r.status for r in together}
    steps = {r.metrics["steps"] for r in together}
    assert len(steps) >= 2, "the members should leave at different steps for joins to happen"
    assert "grokked" in statuses
    for capacity in (3, 5):
        joined = trainer.train_population(trials, TASK, device="cpu", dtype=dtype, record_losses=True,
                                          capacity=capacity)
        assert _outcome(joined) == _outcome(together)


def test_the_batch_stays_full_while_trials_wait():
    sizes = []
    real = trainer.forward_population

    def forward(P, tokens, task, layer_scale, dropout=None, **kw):
        if dropout is not None:   # a training step (evaluations pass none)
            sizes.append(len(layer_scale))
        return real(P, tokens, task, layer_scale, dropout, **kw)

    trials = _trials(6)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(trainer, "forward_population", forward)
        results = trainer.train_population(trials, TASK, device="cpu", capacity=4)
    total_steps = sum(r.metrics["steps"] for r in results)
    assert max(sizes) == 4
    assert sum(sizes) == total_steps   # every member-step trained is one of a trial's steps
    full_until = next(i for i, n in enumerate(sizes) if n < 4)
    assert full_until >= 2 * TASK.eval_interval


def test_a_cancel_returns_waiting_trials_as_cancelled():
    class AfterSteps:   # asked once a step: set from the 11th step on
        asked = 0

        def is_set(self):
            self.asked += 1
            return self.asked > 10

    trials = _trials()
    results = trainer.train_population(trials, TASK, device="cpu", capacity=2, cancel=AfterSteps())
    assert [(r.status, r.metrics["steps"]) for r in results[:2]] == [("cancelled", 10)] * 2
    assert [(r.status, r.metrics["steps"]) for r in results[2:]] == [("cancelled", 0)] * (len(trials) - 2)


def test_racing_with_waiting_trials_labels_as_all_at_once():
    """The online stop of a late joiner can only come later than the rule's stop (it may not know the
    fast genomes yet); ``Race.finalize`` relabels, and the labels equal training all together."""
    trials = _trials(seeds=(0, 1, 2))
    rule = RacingRule(factor=1.5, floor=20, leader="majority")
    out = {}
    for capacity in (None, 3):
        race = Race.for_pairs(rule, trials, TASK.step_cap, TASK.eval_interval)
        results = trainer.train_population(trials, TASK, device="cpu", race=race, capacity=capacity)
        out[capacity] = [(r.status, r.metrics.get("steps_to_grok"), r.metrics.get("censored_at"))
                         for r in race.finalize(results)]
    assert out[3] == out[None]
    assert any(s == "censored" for s, *_ in out[None])


def test_the_arena_keeps_at_most_its_cap_training():
    arena = get_arena("grokking")
    trials = _trials(3, seeds=(0,))
    capped = arena.run_pairs(trials, TASK, device="cpu", max_batch=2)
    alone = trainer.train_population(trials, TASK, device="cpu")
    assert [(r.status, r.metrics) for r in capped] == [(r.status, r.metrics) for r in alone]


def test_per_member_steps_give_the_bits_of_one_shared_step():
    """LifeCycle with a tensor of steps equals the same step given as one int, member by member."""
    n = 5
    life_int = LifeCycle(torch.full((n,), 1e-3), torch.arange(n, dtype=torch.float32) * 3,
                         torch.full((n,), 0.5), torch.full((n,), 0.01), window=3)
    life_vec = LifeCycle(life_int.lr.clone(), life_int.warmup.clone(), life_int.trigger_var.clone(),
                         life_int.decay_rate.clone(), window=3)
    for t in range(1, 12):
        losses = torch.linspace(1.0, 1.1, n) / t
        assert torch.equal(life_int.lr_for_step(t), life_vec.lr_for_step(torch.full((n,), t)))
        life_int.record(t, losses)
        life_vec.record(torch.full((n,), t), losses)
        assert torch.equal(life_int.triggered_at, life_vec.triggered_at)


def test_indices_drawn_ahead_are_the_step_by_step_batches():
    class M:
        def __init__(self, seed):
            self.order = BatchOrder(seed, 100, 32)

    batch = LiveBatch(TASK, "cpu", torch.float32)
    batch.members, batch.starts, batch.real = [M(1), M(2)], [0, 0], [True, True]
    got = [batch.indices(g).clone() for g in range(1, 26)]
    ref = [BatchOrder(1, 100, 32), BatchOrder(2, 100, 32)]
    for step in got:
        assert torch.equal(step, torch.from_numpy(np.stack([o.next() for o in ref])))
    # drawn up to the next evaluation: the last block holds steps 21-30, of which 5 were taken
    assert (batch.block.shape[1], batch.block_pos) == (10, 5)


# ---- the static batch a CUDA graph records (lab.arenas.grokking.graphs) -------------------------
def _diverging_trials():
    trials = _trials(3)
    bad = trials[2][0]
    # an absurd learning rate, beyond what any valid genome may hold, forced in for the test
    object.__setattr__(bad, "genes", MappingProxyType({**bad.genes, "learning_rate": 1e6, "grad_clip": 1e6}))
    return trials


@pytest.mark.parametrize("capacity", [None, 3])
def test_the_static_batch_gives_the_results_of_the_dynamic_one(capacity):
    trials = _diverging_trials()
    eager = trainer.train_population(trials, TASK, device="cpu", record_losses=True, capacity=capacity)
    assert "diverged" in {r.status for r in eager} and len({r.metrics["steps"] for r in eager}) >= 3
    static = trainer.train_population(trials, TASK, device="cpu", record_losses=True, capacity=capacity,
                                      step_mode="static")
    assert _outcome(static) == _outcome(eager)
    rule = RacingRule(factor=1.5, floor=20, leader="majority")
    raced = [trainer.train_population(trials, TASK, device="cpu", step_mode=mode, capacity=capacity,
                                      race=Race.for_pairs(rule, trials, TASK.step_cap, TASK.eval_interval))
             for mode in ("eager", "static")]
    assert _outcome(raced[0]) == _outcome(raced[1])


def test_members_that_leave_stay_as_ghost_rows_until_half_are_ghosts():
    rows, versions = [], []
    real = trainer._train_step

    def step(batch, *args):
        rows.append((batch.rows, len(batch)))
        versions.append(batch.version)
        return real(batch, *args)

    trials = _trials(4)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(trainer, "_train_step", step)
        trainer.train_population(trials, TASK, device="cpu", step_mode="static")
    assert any(n_rows > n_real for n_rows, n_real in rows)             # ghosts trained on
    assert all(n_real > n_rows // 2 for n_rows, n_real in rows)        # never half or more of them
    # the structure changed only when the ghosts were dropped: far fewer versions than steps
    assert len(set(versions)) <= 1 + len({n for n, _ in rows})


@pytest.mark.parametrize("capacity", [None, 3])
def test_the_flat_weights_give_the_results_of_one_leaf_per_parameter(capacity):
    """The CUDA default layout (one flat buffer, grouped AdamW) against the CPU default."""
    trials = _diverging_trials()
    for mode in ("eager", "static"):
        per_param = trainer.train_population(trials, TASK, device="cpu", record_losses=True, capacity=capacity,
                                             step_mode=mode, layout="per_parameter")
        flat = trainer.train_population(trials, TASK, device="cpu", record_losses=True, capacity=capacity,
                                        step_mode=mode, layout="flat")
        assert _outcome(flat) == _outcome(per_param)
    with pytest.raises(ValueError, match="layout must be one of"):
        trainer.train_population(trials, TASK, device="cpu", layout="sparse")


def test_step_modes_are_checked():
    with pytest.raises(ValueError, match="step_mode must be one of"):
        trainer.train_population(_trials(1), TASK, device="cpu", step_mode="fast")
    with pytest.raises(ValueError, match="needs a CUDA device"):
        trainer.train_population(_trials(1), TASK, device="cpu", step_mode="graphs")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_graphs_give_the_results_of_eager_steps_on_the_device():
    trials = _diverging_trials()
    for capacity in (None, 3):
        eager = trainer.train_population(trials, TASK, device="cuda", record_losses=True, capacity=capacity)
        graphed = trainer.train_population(trials, TASK, device="cuda", record_losses=True, capacity=capacity,
                                           step_mode="graphs")
        assert _outcome(graphed) == _outcome(eager)
