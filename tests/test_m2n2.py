"""The M2N2 arena: fitness, attraction and split-point SLERP against hand-computed cases, the guards,
replacement, reproducibility (alone or batched), a short run learning, the arena and its registry."""
from __future__ import annotations

import dataclasses
import math
import threading

import pytest
import torch

from lab.arenas import get_arena
from lab.arenas.base import TrialFinished, TrialProgress
from lab.arenas.m2n2.engine import (GA_BASELINE, M2N2Engine, M2N2Settings, attraction, attraction_matrix,
                                    competition_fitness, crossover, mlp_logits, sample_index, shared_rewards)
from lab.arenas.m2n2.reference import reference_run
from lab.arenas.m2n2.task import M2N2Task, load_task_data, n_params
from lab.data import DataError
from lab.genome import Genome, get_spec
from lab.registry import founders

ARENA = get_arena("m2n2")
SMALL = M2N2Task(passes=300, eval_interval=100, target_acc=0.2)
SCORES = torch.tensor([[1.0, 1.0, 0.0, 0.0],
                       [1.0, 0.0, 0.0, 0.0],
                       [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)   # point 3: nobody gets it right


def _genome(**genes) -> Genome:
    spec = get_spec("m2n2")
    return Genome(spec, {**spec.defaults(), **genes})


# ---- the pure parts, by hand ------------------------------------------------------------------
def test_competition_fitness_by_hand():
    # z = [2, 1, 0, 0]; a point nobody gets right divides by 1, never by 0
    assert competition_fitness(SCORES, 1.0).tolist() == [1.5, 0.5, 0.0]
    assert competition_fitness(SCORES, 0.0).tolist() == [2.0, 1.0, 0.0]      # alpha 0: plain counts
    assert competition_fitness(SCORES, 2.0).tolist() == [1.25, 0.25, 0.0]    # 1/4 + 1, 1/4
    batched = competition_fitness(torch.stack([SCORES, SCORES]), torch.tensor([1.0, 0.0], dtype=torch.float64))
    assert batched.tolist() == [[1.5, 0.5, 0.0], [2.0, 1.0, 0.0]]
    assert torch.isfinite(shared_rewards(torch.zeros(3, 4, dtype=torch.float64), 1.0)).all()


def test_attraction_by_hand():
    rewards = shared_rewards(SCORES, 1.0).unsqueeze(0)          # rows [.5, 1, 0, 0], [.5, 0, 0, 0], 0
    # parent A = model 1: model 0 brings point 1 (worth 1/1); model 2 brings nothing
    assert attraction(rewards, torch.tensor([1])).tolist() == [[1.0, 0.0, 0.0]]
    # parent A = model 0 already gets every point the others get: no attraction at all
    assert attraction(rewards, torch.tensor([0])).tolist() == [[0.0, 0.0, 0.0]]
    g = attraction_matrix(SCORES, 1.0)
    assert g.tolist() == [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.5, 0.5, 0.0]]   # g[a][b]


def test_split_point_slerp_by_hand():
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    y = torch.tensor([[0.0, 1.0, 0.0, 1.0]])                      # orthogonal: omega = pi / 2
    w, split = torch.tensor([0.25]), torch.tensor([2])
    s, c = math.sin(math.pi / 8), math.sin(3 * math.pi / 8)
    # before the split the ratio is w (x weighted sin((1-w) omega)), after it 1 - w
    child = crossover(x, y, w, split, spherical=True)
    assert torch.allclose(child, torch.tensor([[c, s, s, c]]), atol=1e-6)
    linear = crossover(x, y, w, split, spherical=False)
    assert torch.allclose(linear, torch.tensor([[0.75, 0.25, 0.25, 0.75]]))
    whole = crossover(x, y, w, torch.tensor([4]), spherical=True)   # split = P: w everywhere
    assert torch.allclose(whole, torch.tensor([[c, s, c, s]]), atol=1e-6)
    # parallel or zero parents fall back to linear interpolation instead of dividing by sin(0)
    assert torch.allclose(crossover(x, x, w, split), x)
    zero = crossover(x, torch.zeros_like(x), w, split)
    assert torch.isfinite(zero).all() and torch.allclose(zero, torch.tensor([[0.75, 0.0, 0.25, 0.0]]))
    # batched rows are independent, each with its own w, split and kind
    both = crossover(torch.cat([x, x]), torch.cat([y, y]), torch.tensor([0.25, 0.25]), torch.tensor([2, 2]),
                     spherical=torch.tensor([True, False]))
    assert torch.allclose(both, torch.cat([child, linear]), atol=1e-6)


def test_sample_index_never_draws_a_zero_weight():
    weights = torch.tensor([[0.0, 1.0, 0.0, 3.0]], dtype=torch.float64)
    u = torch.linspace(0, 0.9999, 1000, dtype=torch.float64)
    drawn = torch.cat([sample_index(weights, v.reshape(1)) for v in u])
    assert set(drawn.tolist()) == {1, 3}
    assert abs((drawn == 1).double().mean().item() - 0.25) < 0.01


def test_mlp_layout_matches_the_published_flattening():
    D, H, C = 3, 4, 2
    params = torch.randn(2, n_params(D, H, C), dtype=torch.float64)
    x = torch.randn(5, D, dtype=torch.float64)
    for r in range(2):
        p = params[r]
        w1, b1 = p[:D * H].reshape(D, H), p[D * H:D * H + H]
        w2, b2 = p[D * H + H:D * H + H + H * C].reshape(H, C), p[D * H + H + H * C:]
        expected = torch.relu(x @ w1 + b1) @ w2 + b2
        assert torch.allclose(mlp_logits(params, x.t(), H, C)[r].t(), expected)
        assert torch.allclose(mlp_logits(params[r:r + 1], x.t(), H, C)[0].t(), expected)
    assert n_params(64, 256, 10) == 19_210


# ---- the engine -------------------------------------------------------------------------------
def _engine(settings=(M2N2Settings(),), seeds=(0,), task=SMALL) -> M2N2Engine:
    return M2N2Engine(task, list(settings), list(seeds))


def _zero_attraction_state(e: M2N2Engine) -> None:
    n = e.N
    e.filled[:] = False
    e.scores.zero_()
    e.scores[:, 0] = 1.0                    # model 0 gets everything right
    e.scores[:, 1, : n // 2] = 1.0          # model 1 gets a subset: attraction to it from 0 is zero
    e.filled[:, :2] = True


def test_zero_attraction_takes_slot_0_as_published_or_fitness_without_nan():
    """The published code's partner probabilities are 0/0 = NaN when nothing attracts A, and its
    sampler then returns slot 0 (A itself here); the "fitness" setting draws B by fitness."""
    e = _engine(settings=(M2N2Settings(), M2N2Settings(zero_attraction="fitness")), seeds=(0, 0))
    _zero_attraction_state(e)
    before = e.zero_attraction_passes.clone()
    u = torch.tensor([[0.0, 0.999, 0.5, 0.5, 0.5]] * 2, dtype=torch.float64)
    a, b = e.parents(u)
    assert a.tolist() == [0, 0]
    assert b.tolist() == [0, 1]             # slot 0; by fitness 1 has the upper part of the CDF
    assert (e.zero_attraction_passes - before).tolist() == [1, 1]
    # and with no fitness at all, A is drawn uniformly from the models in the archive
    e.scores.zero_()
    a, b = e.parents(torch.tensor([[0.7, 0.2, 0.5, 0.5, 0.5]] * 2, dtype=torch.float64))
    assert set(a.tolist()) <= {0, 1} and set(b.tolist()) <= {0, 1}
    with pytest.raises(ValueError, match="zero_attraction 'nan' is not one of slot0, fitness"):
        M2N2Settings(zero_attraction="nan")


@pytest.mark.parametrize("rule", ["slot0", "fitness"])
def test_the_plain_loop_follows_the_zero_attraction_rule(rule):
    """A tiny archive on a tiny budget reaches zero attraction often; engine and plain loop agree."""
    task = dataclasses.replace(SMALL, hidden=2)
    settings = M2N2Settings(archive_size=2, zero_attraction=rule)
    data = load_task_data(task)
    engine = M2N2Engine(task, [settings], [14], data=data)
    engine.step(150)
    assert int(engine.zero_attraction_passes[0]) > 0
    archive, scores = reference_run(task, settings, 14, 150, data)
    assert torch.equal(scores, engine.scores[0])
    assert torch.allclose(archive, engine.archive[0], atol=1e-6)


def test_fitness_log_has_a_row_per_pass_and_matches_the_run():
    task = dataclasses.replace(SMALL, passes=300, eval_interval=100)
    logged = M2N2Engine(task, [M2N2Settings(), GA_BASELINE], [4, 5], fitness_log=True)
    plain = M2N2Engine(task, [M2N2Settings(), GA_BASELINE], [4, 5])
    logged.step(300)
    plain.step(300)
    assert torch.equal(logged.archive, plain.archive)      # logging changes nothing in the run
    with pytest.raises(ValueError, match="keeps no fitness log"):
        plain.fitness_log_csv(0)
    for r in range(2):
        lines = logged.fitness_log_csv(r).splitlines()
        assert lines[0] == "pass,replaced_slot,children_accepted,best_train_acc,mean_train_acc,test_acc"
        rows = [line.split(",") for line in lines[1:]]
        assert [int(x[0]) for x in rows] == list(range(301))
        accepted = [int(x[2]) for x in rows]
        assert accepted[0] == 2 and accepted[-1] == int(logged.replaced[r])
        # a pass whose child entered names its slot and counts it; one whose child did not, -1
        for prev, row in zip(rows, rows[1:]):
            entered = int(row[1]) >= 0
            assert int(row[2]) - int(prev[2]) == int(entered)
        assert float(rows[-1][3]) == pytest.approx(float(logged.train_acc()[r].max()), abs=1e-6)
        assert float(rows[-1][5]) == pytest.approx(float(logged.test_acc[r]), abs=1e-6)
        # the test column equals the curve's at every evaluation
        for step, acc in zip(logged.curve[r]["step"], logged.curve[r]["val_acc"]):
            assert float(rows[step][5]) == pytest.approx(acc, abs=1e-6)
        assert all(float(x[4]) <= float(x[3]) + 1e-9 for x in rows)


def test_replacement_discards_a_weakest_child_and_never_grows():
    e = _engine(settings=[M2N2Settings(archive_size=4)])
    assert e.K == 4 and int(e.filled.sum()) == 2     # the two random founders
    e.scores.zero_()
    e.scores[0, :, :10] = 1.0                         # every member gets the first 10 points right
    before = e.archive.clone()
    e._insert(torch.full((1, e.P), 7.0), torch.zeros(1, e.N, dtype=torch.float64))
    assert torch.equal(e.archive, before)             # the child is the weakest: discarded
    child_scores = torch.zeros(1, e.N, dtype=torch.float64)
    child_scores[0, :20] = 1.0
    e._insert(torch.full((1, e.P), 7.0), child_scores)
    assert (e.archive[0, 0] == 7.0).all()             # ties: the first weakest archive member goes
    assert e.archive.shape == (1, 4, e.P)
    e.step(150)
    assert e.archive.shape == (1, 4, e.P) and int(e.filled.sum()) <= 4


def test_reproducible_alone_or_batched():
    settings = [M2N2Settings(), GA_BASELINE, M2N2Settings(archive_size=6, slerp=False, partner="uniform",
                                                           crossover_rate=0.5)]
    batched = _engine(settings, seeds=(3, 3, 4))
    batched.step(120)
    for r, (s, seed) in enumerate(zip(settings, (3, 3, 4))):
        alone = _engine([s], seeds=(seed,))
        alone.step(120)
        k = s.archive_size
        assert torch.equal(alone.archive[0, :k], batched.archive[r, :k]), s
        assert torch.equal(alone.scores[0, :k], batched.scores[r, :k])
        assert alone.curve[0] == batched.curve[r]
    again = _engine(settings, seeds=(3, 3, 4))
    again.step(120)
    assert torch.equal(again.archive, batched.archive)
    other = _engine([settings[0]], seeds=(5,))
    other.step(120)
    assert not torch.equal(other.archive[0], batched.archive[0])


@pytest.mark.parametrize("settings", [M2N2Settings(), GA_BASELINE,
                                      M2N2Settings(archive_size=6, partner="uniform", slerp=False,
                                                   crossover_rate=0.5, split_point=False)])
def test_batched_engine_makes_the_published_loops_decisions(settings):
    """The plain one-run loop (reference.py) and the batched engine, same generator: same archive."""
    data = load_task_data(SMALL)
    engine = M2N2Engine(SMALL, [settings, M2N2Settings()], [7, 8], data=data)
    engine.step(200)
    archive, scores = reference_run(SMALL, settings, 7, 200, data)
    k = settings.archive_size
    assert torch.equal(scores, engine.scores[0, :k])      # every prediction of every member
    assert torch.allclose(archive, engine.archive[0, :k], atol=1e-6)   # the same models, to rounding


def test_a_short_run_improves_test_accuracy():
    e = _engine(task=dataclasses.replace(SMALL, passes=1500, eval_interval=500))
    start = e.curve[0]["val_acc"][0]
    while not e.done:
        e.step(500)
    assert e.passes == 1500 and e.curve[0]["step"] == [0, 500, 1000, 1500]
    assert e.curve[0]["val_acc"][-1] > start + 0.2, e.curve[0]
    snap = e.snapshot()
    assert len(snap["fitness"]) == 20 and len(snap["per_class"]) == 20 and len(snap["per_class"][0]) == 10
    assert len(snap["attraction"]) == 20 and snap["best_train_acc"] == max(snap["train_acc"])


def test_settings_from_genes_and_bad_values():
    s = M2N2Settings.from_genes(get_spec("m2n2").defaults())
    assert s == M2N2Settings()
    assert M2N2Settings.from_genes(s.to_genes()) == s
    assert M2N2Settings.from_genes({**s.to_genes(), "attraction": 0}).partner == "fitness"
    with pytest.raises(ValueError) as err:
        M2N2Settings(archive_size=1, alpha=float("nan"), partner="random")
    text = str(err.value)
    assert "archive_size" in text and "alpha" in text and "partner" in text


def test_task_validation_and_bad_data_folders(tmp_path):
    with pytest.raises(ValueError, match="passes"):
        M2N2Task(passes=0)
    with pytest.raises(ValueError, match="needs data_folder"):
        M2N2Task(dataset="mnist")
    with pytest.raises(ValueError, match="dataset"):
        M2N2Task(dataset="cifar100")
    with pytest.raises(DataError, match="nowhere"):
        load_task_data(M2N2Task(dataset="mnist", data_folder=str(tmp_path / "nowhere")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        ARENA.run_trials([_genome()], [0], M2N2Task(dataset="mnist", data_folder=str(tmp_path / "empty")))


def test_an_mnist_folder_gives_the_784_input_mlp(shared_data):
    task = M2N2Task(dataset="mnist", data_folder=str(shared_data / "mnist"), hidden=16, passes=20,
                    eval_interval=10)
    e = _engine(task=task)
    assert e.P == n_params(784, 16, 10) and e.N == 8000 and e.data.n_inputs == 784
    assert "first 8000" in e.data.note
    e.step(20)
    assert e.curve[0]["step"] == [0, 10, 20] and 0.0 <= e.curve[0]["val_acc"][-1] <= 1.0


# ---- the arena --------------------------------------------------------------------------------
def test_arena_runs_records_and_reuses(registry):
    genomes = [_genome(), _genome(alpha=0.0, attraction=0)]
    events = []
    results = ARENA.run_trials(genomes, [0, 1], SMALL, registry=registry, on_event=events.append)
    assert [(r.genome_id, r.seed) for r in results] == [(g.id, s) for g in genomes for s in (0, 1)]
    for r in results:
        assert r.arena == "m2n2" and r.task_id == SMALL.task_id
        assert r.status in ("ok", "capped")
        assert (r.status == "ok") == (r.metrics["steps_to_grok"] is not None)
        assert r.metrics["passes"] == 300 and 0 <= r.metrics["test_acc"] <= 1
        assert r.curve["step"] == [0, 100, 200, 300]
        assert r.metrics["test_acc"] == pytest.approx(r.curve["val_acc"][-1], abs=1e-6)
    assert sum(isinstance(e, TrialFinished) for e in events) == 4
    assert any(isinstance(e, TrialProgress) and e.step_cap == 300 for e in events)
    assert len(registry.trials_for(genomes[0].id, SMALL.task_id)) == 2
    # recorded pairs come back from the registry, not recomputed
    again = ARENA.run_trials(genomes, [0, 1], SMALL, registry=registry, on_event=events.clear)
    assert [r.to_dict() for r in again] == [r.to_dict() for r in results]
    # and the same numbers come from a fresh run (reproducible with a seed)
    fresh = ARENA.run_trials(genomes[:1], [1], SMALL)
    assert fresh[0].metrics == results[1].metrics


def test_arena_cancel_and_wrong_spec():
    cancel = threading.Event()

    def stop(event):
        if isinstance(event, TrialProgress):
            cancel.set()

    task = dataclasses.replace(SMALL, passes=2000)
    results = ARENA.run_trials([_genome()], [0, 1], task, on_event=stop, cancel=cancel)
    assert [r.status for r in results] == ["cancelled", "cancelled"]
    grok = Genome(get_spec("grokking"), get_spec("grokking").defaults())
    with pytest.raises(ValueError, match="m2n2 arena needs"):
        ARENA.run_trials([grok], [0], SMALL)


def test_m2n2_genomes_are_mapped_into_species_with_their_trials(registry):
    import numpy as np

    from lab.analysis.phylogeny import LEVELS, map_registry
    from lab.genome import random_genome

    rng = np.random.default_rng(0)
    genomes = [random_genome(get_spec("m2n2"), rng) for _ in range(12)]
    registry.add_genomes(genomes)
    phylo, perf = map_registry(registry, "m2n2")
    ids = {g.id for g in genomes} | {g.id for g in founders("m2n2")}     # the founders are mapped too
    assert phylo.spec.name == "m2n2" and {g.id for g in phylo.genomes} == ids and phylo.coords.shape == (16, 3)
    assert len(phylo.level_species(LEVELS[-1])) >= 2
    assert set(perf) <= ids
