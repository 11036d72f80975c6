"""GENREG runs stacked: each run of a mixed stack equals the same run alone, bit for bit (weights,
trust, curve, generator), with dark inputs dropped per run; the arena's batches equal per-pair
runs, report progress over every run and cancel; runs are grouped into stacks by shape."""
from __future__ import annotations

import json
import threading

import pytest
import torch

from lab.arenas import get_arena
from lab.arenas.base import TrialFinished, TrialProgress
from lab.arenas.genreg import stack as stack_module
from lab.arenas.genreg import arena as arena_module
from lab.arenas.genreg.arena import stacks
from lab.arenas.genreg.engine import GenregEngine, GenregSettings
from lab.arenas.genreg.stack import GenregStack
from lab.arenas.genreg.task import GenregTask
from lab.genome import Genome, get_spec
from lab.progress import WorkTally

ARENA = get_arena("genreg")
# four runs of one shape whose float genes all differ
MIXED = [GenregSettings(population=12, hidden=10, images_per_class=3, reward=r, penalty=p, trust_decay=d, survival=s,
                        child_mutation_rate=cm, base_mutation_rate=bm, inheritance=i)
         for r, p, d, s, cm, bm, i in [(10, 1.5, 0.001, 0.2, 0.07, 0.08, 0.03), (7.3, 0.3, 0.01, 0.5, 0.2, 0.0, 0.5),
                                       (12.1, 2.7, 0.0, 0.3, 0.0, 0.05, 0.0), (5, 1, 0.1, 0.1, 0.01, 0.3, 1.0)]]
SEEDS = [0, 5, 9, 3]


def _genome(**genes) -> Genome:
    spec = get_spec("genreg")
    return Genome(spec, {**spec.defaults(), **genes})


@pytest.mark.parametrize("task", [GenregTask(generations=12, eval_interval=4, crossover=True),
                                  GenregTask(generations=9, eval_interval=3, sampling="argmax")],
                         ids=["softmax-crossover", "argmax-single-parent"])
def test_each_run_of_a_mixed_stack_equals_the_run_alone(task, monkeypatch):
    widths: list[list[int]] = [[]]          # the first layer's inputs per generation: the stack's, then each run's
    real = stack_module.stack_logits

    def spy(weights, x, rows=None):
        widths[-1].append(x.shape[2])
        return real(weights, x, rows)

    monkeypatch.setattr(stack_module, "stack_logits", spy)
    stack = GenregStack(task, MIXED, SEEDS)
    stack.step(task.generations)
    for r, (settings, seed) in enumerate(zip(MIXED, SEEDS)):
        widths.append([])
        alone = GenregEngine(task, settings, seed)
        alone.step(task.generations)
        run = stack.runs[r]
        assert json.dumps(run.curve) == json.dumps(alone.curve)
        assert (run.test_acc, run.test_per_class, run.generations_to_target) == \
               (alone.test_acc, alone.test_per_class, alone.generations_to_target)
        assert all(torch.equal(stack.weights[k][r], alone.params[k]) for k in alone.params)
        assert torch.equal(stack.trusts[r], alone.trust)
        assert torch.equal(stack.gens[r].get_state(), alone.gen.get_state())
        assert run.last["trust"].tolist() == alone.last["trust"].tolist()
    # digits batches leave inputs dark: each run drops its own, the narrower runs padded in the stack
    stacked, alone_widths = widths[0], widths[1:]
    assert stacked == [max(w) for w in zip(*alone_widths)] and max(stacked) < 64
    assert any(w < s for run in alone_widths for w, s in zip(run, stacked))


def test_a_stack_needs_one_shape_and_one_settings_per_seed():
    task = GenregTask(generations=2, eval_interval=1)
    with pytest.raises(ValueError, match="same population, hidden and images_per_class"):
        GenregStack(task, [MIXED[0], GenregSettings(population=12, hidden=11, images_per_class=3)], [0, 1])
    with pytest.raises(ValueError, match="one settings object per seed"):
        GenregStack(task, MIXED[:2], [0])


def test_stacks_group_runs_by_shape_within_the_memory_budget(monkeypatch):
    small, wide = GenregSettings(population=10, hidden=8), GenregSettings(population=10, hidden=16)
    assert stacks([small, wide, small, wide, small], 64, 10, "cpu") == [[0, 2, 4], [1, 3]]
    monkeypatch.setitem(arena_module.STACK_BYTES, "cpu", 2 * 16 * 10 * 8 * (64 + 1 + 10))
    assert stacks([small, wide, small, small, small], 64, 10, "cpu") == [[0, 2], [3, 4], [1]]


def test_the_arenas_batch_equals_per_pair_runs():
    task = GenregTask(generations=6, eval_interval=2, target_acc=0.15, crossover=True)
    pairs = [(_genome(population=20, hidden=8, images_per_class=2, reward=10.0), 0),
             (_genome(population=24, hidden=12, images_per_class=2, penalty=0.5), 1),
             (_genome(population=20, hidden=8, images_per_class=2, trust_decay=0.01), 2),
             (_genome(population=24, hidden=12, images_per_class=2, survival=0.4), 3),
             (_genome(population=20, hidden=8, images_per_class=2, reward=10.0), 4)]
    data = ARENA.prepare(task, "cpu")
    events = []
    tally = WorkTally.for_task(task, len(pairs))
    batch = ARENA.run_batch(pairs, task, device="cpu", data=data, on_event=events.append, cancel=None, tally=tally)
    for (genome, seed), result in zip(pairs, batch):
        (alone,) = ARENA.run_batch([(genome, seed)], task, device="cpu", data=data, on_event=None, cancel=None,
                                   tally=WorkTally.for_task(task, 1))
        assert (result.genome_id, result.seed, result.status) == (genome.id, seed, alone.status)
        assert json.dumps(result.metrics) == json.dumps(alone.metrics)
        assert json.dumps(result.curve) == json.dumps(alone.curve)
    assert {r.status for r in batch} <= {"ok", "capped"} and len({r.metrics["test_acc"] for r in batch}) > 1
    finished = [ev.result for ev in events if isinstance(ev, TrialFinished)]
    assert sorted(r.seed for r in finished) == [0, 1, 2, 3, 4]
    progress = [ev for ev in events if isinstance(ev, TrialProgress)]
    assert progress and tally.done == tally.expected == len(pairs) * task.generations


def test_a_cancelled_batch_reports_every_run_cancelled():
    cancel = threading.Event()
    task = GenregTask(generations=40, eval_interval=2)
    pairs = [(_genome(population=20, hidden=8, images_per_class=2), s) for s in range(3)]

    def stop_after_first(event):
        if isinstance(event, TrialProgress):
            cancel.set()

    results = ARENA.run_batch(pairs, task, device="cpu", data=ARENA.prepare(task, "cpu"), on_event=stop_after_first,
                              cancel=cancel, tally=WorkTally.for_task(task, 3, every=0.0))
    assert [r.status for r in results] == ["cancelled"] * 3 and [r.seed for r in results] == [0, 1, 2]
