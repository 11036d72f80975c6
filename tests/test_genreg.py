"""The GENREG arena: trust arithmetic by hand, survivors and inheritance, mutation rates measured,
crossover, batched evaluation against a per-genome loop, checkpoints (round trip, pickle refused,
damage named), a short run learning, the arena with its registry and the command line."""
from __future__ import annotations

import json
import math
import pickle
import threading

import numpy as np
import pytest
import torch
from tests.conftest import snapshot

from lab.arenas import get_arena
from lab.arenas.base import TrialFinished
from lab.arenas.genreg.checkpoint import load_model, save_model
from lab.arenas.genreg.engine import (GenregEngine, GenregSettings, mutation_positions, pick, population_logits,
                                      trust_after)
from lab.arenas.genreg.task import GenregTask, load_genreg_data
from lab.genome import Genome, get_spec
from lab.registry import Registry

ARENA = get_arena("genreg")
TINY = GenregSettings(population=10, images_per_class=2, hidden=8)
TASK = GenregTask(generations=6, eval_interval=2)


def _engine(settings: GenregSettings = TINY, task: GenregTask = TASK, seed: int = 0) -> GenregEngine:
    return GenregEngine(task, settings, seed)


def _genome(**genes) -> Genome:
    spec = get_spec("genreg")
    return Genome(spec, {**spec.defaults(), **genes})


# ---- trust ---------------------------------------------------------------------------------------
def test_trust_by_hand():
    # trust 100, decay 0.1: x0.9 + 10 = 100; x0.9 - 1.5 = 88.5; x0.9 + 10 = 89.65
    rewards = torch.tensor([[10.0, -1.5, 10.0]], dtype=torch.float64)
    assert trust_after(torch.tensor([100.0], dtype=torch.float64), rewards, 0.1).item() == pytest.approx(89.65)
    # no decay: a plain sum; full decay: only the last image counts
    assert trust_after(torch.zeros(1, dtype=torch.float64), rewards, 0.0).item() == pytest.approx(18.5)
    assert trust_after(torch.tensor([7.0], dtype=torch.float64), rewards, 1.0).item() == pytest.approx(10.0)


def test_a_generations_trust_is_the_per_image_loop():
    """The engine's trust after a generation equals the loop of the GENREG MNIST script: for each
    image in order, trust *= (1 - decay), then +reward or -penalty, from each genome's answers."""
    e = _engine(GenregSettings(population=6, images_per_class=3, hidden=5, trust_decay=0.05),
                GenregTask(generations=3, sampling="argmax"))
    e.step(1)
    start = e.trust.clone()                       # children's inherited trust
    params, state = {k: v.clone() for k, v in e.params.items()}, e.gen.get_state()
    x, y = e.draw_images()
    e.gen.set_state(state)                        # the engine draws the same images again
    e.step(1)
    expected = []
    for g in range(6):
        t = float(start[g])
        for i in range(len(y)):
            answer = int(population_logits(pick(params, g), x[i:i + 1])[0, 0].argmax())
            t = t * 0.95 + (10.0 if answer == int(y[i]) else -1.5)
        expected.append(t)
    assert e.last["trust"] == pytest.approx(expected)


# ---- selection, inheritance, crossover, mutation -------------------------------------------------
def test_only_survivors_parent_in_proportion_to_shifted_trust():
    e = _engine(GenregSettings(population=10, survival=0.3, hidden=4, images_per_class=1))
    e.trust = torch.tensor([5.0, 50.0, 0.0, 20.0, -3.0, 1.0, 2.0, 3.0, 4.0, 8.0], dtype=torch.float64)
    counts = torch.zeros(10)
    for _ in range(400):
        first, second = e.parents()
        assert second is None
        counts += torch.bincount(first, minlength=10)
    assert set(torch.nonzero(counts).flatten().tolist()) == {1, 3, 9}   # the top 30% only
    weights = torch.tensor([50.0, 20.0, 8.0]) - 8.0 + 1.0               # shifted: the weakest survivor weighs 1
    share = counts[[1, 3, 9]] / counts.sum()
    assert share.tolist() == pytest.approx((weights / weights.sum()).tolist(), abs=0.01)


def test_children_copy_their_parent_and_inherit_its_trust():
    s = GenregSettings(population=8, hidden=4, images_per_class=1, child_mutation_rate=0.0, base_mutation_rate=0.0,
                       inheritance=0.03)
    e = _engine(s)
    e.trust = torch.arange(8, dtype=torch.float64) * 10
    old, trust = {k: v.clone() for k, v in e.params.items()}, e.trust.clone()
    state = e.gen.get_state()
    first, _ = e.parents()
    e.gen.set_state(state)
    e.evolve()
    for k, axis in (("w1", 1), ("b1", 0), ("w2", 0), ("b2", 0)):
        assert torch.equal(e.params[k], old[k].index_select(axis, first))
    assert e.trust.tolist() == pytest.approx((0.03 * trust[first]).tolist())
    assert set(first.tolist()) <= {6, 7}                 # top 20% of 8 = 2 survivors


def test_uniform_crossover_takes_each_weight_from_one_parent():
    s = GenregSettings(population=40, hidden=16, images_per_class=1, child_mutation_rate=0.0, base_mutation_rate=0.0)
    e = _engine(s, GenregTask(generations=2, crossover=True))
    e.trust = torch.arange(40, dtype=torch.float64)
    old = {k: v.clone() for k, v in e.params.items()}
    state = e.gen.get_state()
    first, second = e.parents()
    e.gen.set_state(state)
    e.evolve()
    a, b, child = old["w2"][first], old["w2"][second], e.params["w2"]
    assert torch.all((child == a) | (child == b))
    differ = a != b
    from_second = ((child == b) & differ).sum() / differ.sum()
    assert 0.45 < float(from_second) < 0.55
    assert e.trust.tolist() == pytest.approx((0.03 * torch.arange(40.0, dtype=torch.float64)[first]).tolist())


def test_mutation_positions_are_a_bernoulli_process():
    gen = torch.Generator().manual_seed(1)
    n, rate = 2_000_000, 0.07
    pos = mutation_positions(n, rate, gen)
    assert torch.all(pos[1:] > pos[:-1]) and pos[0] >= 0 and pos[-1] < n      # distinct, in range
    sd = math.sqrt(n * rate * (1 - rate))
    assert abs(len(pos) - n * rate) < 5 * sd
    # each position independently: the counts in 100 equal blocks scatter like binomials
    counts = torch.bincount(pos // (n // 100), minlength=100).double()
    block_sd = math.sqrt(n / 100 * rate * (1 - rate))
    assert abs(float(counts.std()) / block_sd - 1) < 0.25
    # gaps are geometric: P(gap == 1) = rate
    gaps = pos[1:] - pos[:-1]
    assert float((gaps == 1).double().mean()) == pytest.approx(rate, abs=0.003)


def test_child_and_base_mutation_rates_and_sigma():
    s = GenregSettings(population=50, hidden=64, images_per_class=1, child_mutation_rate=0.07,
                       base_mutation_rate=0.08, child_mutation_sigma=0.1, base_mutation_sigma=0.1)
    e = _engine(s)
    e.trust = torch.zeros(50, dtype=torch.float64)
    old = e.params["w1"].clone()
    state = e.gen.get_state()
    first, _ = e.parents()
    e.gen.set_state(state)
    e.evolve()
    delta = e.params["w1"] - old.index_select(1, first)
    changed = delta != 0
    expect = 1 - (1 - 0.07) * (1 - 0.08)            # mutated by either coin
    assert float(changed.double().mean()) == pytest.approx(expect, abs=0.002)
    # one N(0, 0.1^2) draw, or two added: the mean square of a change is 0.01 x (1 + P(both | either))
    both = 0.07 * 0.08 / expect
    assert float((delta[changed] ** 2).mean()) == pytest.approx(0.01 * (1 + both), rel=0.03)


@pytest.mark.parametrize("child, base", [((0.07, 0.1), (0.08, 0.3)), ((0.2, 0.05), (1.0, 0.1)), ((0.05, 0.1), (0.0, 0.1))])
def test_mutation_mixture_matches_independent_coins(child, base):
    """Each entry gets child noise with probability child[0] and, independently, base noise with
    probability base[0]: the share changed and the mean square change match, for any sigmas."""
    e = _engine()
    x = torch.zeros(3_000_000)
    e._mutate_(x, child, base)
    (rc, sc), (rb, sb) = child, base
    changed = float((x != 0).double().mean())
    assert changed == pytest.approx(1 - (1 - rc) * (1 - rb), abs=0.002)
    assert float((x ** 2).double().mean()) == pytest.approx(rc * sc ** 2 + rb * sb ** 2, rel=0.02)


# ---- evaluation ----------------------------------------------------------------------------------
def test_batched_evaluation_equals_a_per_genome_loop():
    e = _engine(GenregSettings(population=5, hidden=7, images_per_class=2))
    x = e.data.x_train[:9]
    batched = population_logits(e.params, x)
    for g in range(5):
        w1, b1 = e.params["w1"][:, g], e.params["b1"][g]
        w2, b2 = e.params["w2"][g], e.params["b2"][g]
        for i in range(9):
            h = torch.tanh(x[i] @ w1 + b1)
            assert torch.allclose(batched[g, i], h @ w2 + b2, atol=1e-5)


def test_softmax_answers_follow_the_softmax():
    e = _engine(GenregSettings(population=2, hidden=3, images_per_class=1))
    logits = torch.log(torch.tensor([0.7, 0.2, 0.1])).expand(20000, 3).contiguous()
    counts = torch.bincount(e.answers(logits), minlength=3).double() / 20000
    assert counts.tolist() == pytest.approx([0.7, 0.2, 0.1], abs=0.015)


def test_a_short_run_on_digits_beats_chance_clearly():
    e = GenregEngine(GenregTask(generations=80, eval_interval=40, crossover=True),
                     GenregSettings(population=100), seed=0)
    while not e.done:
        e.step(10)
    assert e.test_acc > 0.4                                     # chance is 0.1
    assert e.curve["step"] == [40, 80] and len(e.test_per_class) == 10
    assert e.curve["val_acc"][-1] == pytest.approx(e.test_acc)


def test_same_seed_same_run_and_settings_are_checked():
    a, b = _engine(), _engine()
    a.step(4), b.step(4)
    assert all(torch.equal(a.params[k], b.params[k]) for k in a.params)
    with pytest.raises(ValueError, match="survival must be between 0 and 1"):
        GenregSettings(survival=1.0)
    with pytest.raises(ValueError, match="child_mutation_rate must be a finite number"):
        GenregSettings(child_mutation_rate=float("nan"))
    with pytest.raises(ValueError, match="population must be a whole number >= 2"):
        GenregSettings(population=1)
    with pytest.raises(ValueError, match="sampling 'greedy' is not softmax or argmax"):
        GenregTask(sampling="greedy")
    with pytest.raises(ValueError, match="needs data_folder"):
        GenregTask(dataset="mnist")


def test_letters_data_are_100_by_100_images_of_26_classes():
    d = load_genreg_data(GenregTask(dataset="letters"))
    assert d.n_inputs == 10_000 and d.n_classes == 26 and d.image_shape == (100, 100)
    assert float(d.x_train.min()) >= 0 and float(d.x_train.max()) <= 1


# ---- checkpoints ---------------------------------------------------------------------------------
def test_population_checkpoint_resumes_exactly(tmp_path):
    straight = _engine()
    straight.step(6)
    first = _engine()
    first.step(3)
    first.save(str(tmp_path / "pop"))
    again = _engine()
    again.load(str(tmp_path / "pop"))
    assert again.generation == 3 and again.curve == first.curve
    again.step(3)
    assert all(torch.equal(again.params[k], straight.params[k]) for k in PARAMS)
    assert torch.equal(again.trust, straight.trust) and again.test_acc == straight.test_acc


PARAMS = ("w1", "b1", "w2", "b2")


def _damage(folder, how):
    npz, js = folder / "population.npz", folder / "population.json"
    if how == "pickle":
        npz.write_bytes(pickle.dumps({"w1": np.zeros(3)}))
    elif how == "json":
        js.write_text("{not json")
    elif how == "schema":
        meta = json.loads(js.read_text())
        js.write_text(json.dumps({**meta, "schema_version": 99}))
    elif how == "sha":
        meta = json.loads(js.read_text())
        js.write_text(json.dumps({**meta, "npz_sha256": "0" * 64}))
    elif how == "shape":
        with np.load(npz) as f:
            arrays = dict(f)
        arrays["w2"] = arrays["w2"][:, :3]
        np.savez(npz, **arrays)


@pytest.mark.parametrize("how, message", [
    ("pickle", "is a pickle file"), ("json", "not valid JSON"), ("schema", "schema_version 99"),
    ("sha", "is not the file population.json was saved with"), ("shape", "w2: this run needs float32"),
])
def test_damaged_population_is_named_and_the_engine_untouched(tmp_path, how, message):
    e = _engine()
    e.step(2)
    e.save(str(tmp_path / "pop"))
    _damage(tmp_path / "pop", how)
    fresh = _engine()
    before = {k: v.clone() for k, v in fresh.params.items()}
    with pytest.raises(ValueError, match=message):
        fresh.load(str(tmp_path / "pop"))
    assert fresh.generation == 0 and all(torch.equal(fresh.params[k], before[k]) for k in PARAMS)


def test_model_round_trip_and_pickles_refused(tmp_path):
    e = _engine()
    e.step(4)
    paths = save_model(e, tmp_path / "best")
    params, meta = load_model(tmp_path / "best.npz")
    assert paths == [str(tmp_path / "best.npz"), str(tmp_path / "best.json")]
    assert meta["inputs"] == 64 and meta["hidden"] == 8 and meta["classes"] == list("0123456789")
    assert e.accuracy(e.data.x_test, e.data.y_test, params)[0] == pytest.approx(meta["test_acc"])
    torch.save({"w1": torch.zeros(2)}, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="pickle"):
        load_model(tmp_path / "model.pt")
    (tmp_path / "evil.npz").write_bytes(pickle.dumps(object))
    (tmp_path / "evil.json").write_text((tmp_path / "best.json").read_text())
    with pytest.raises(ValueError, match="is a pickle file"):
        load_model(tmp_path / "evil")


# ---- the arena -----------------------------------------------------------------------------------
def test_arena_records_trials_and_reuses_them(tmp_path):
    reg = Registry(tmp_path / "reg")
    genome = _genome(population=20, images_per_class=2, hidden=8)
    events = []
    task = GenregTask(generations=4, eval_interval=2, target_acc=0.05)
    (result,) = ARENA.run_trials([genome], [0], task, device="cpu", registry=reg, on_event=events.append)
    reached = next(step for step, acc in zip(result.curve["step"], result.curve["val_acc"]) if acc >= 0.05)
    assert result.arena == "genreg" and result.status == "ok" and result.metrics["steps_to_grok"] == reached
    assert result.metrics["generations"] == 4 and result.curve["step"] == [2, 4]
    assert any(isinstance(ev, TrialFinished) for ev in events)
    assert len(reg.trials()) == 1
    (again,) = ARENA.run_trials([genome], [0], task, device="cpu", registry=reg)
    assert again.metrics == result.metrics and len(reg.trials()) == 1
    capped = ARENA.run_trials([genome], [1], GenregTask(generations=2, eval_interval=2, target_acc=1.0), device="cpu")
    assert capped[0].status == "capped" and capped[0].metrics["steps_to_grok"] is None


def test_arena_cancel_and_wrong_spec():
    cancel = threading.Event()
    cancel.set()
    (r,) = ARENA.run_trials([_genome(population=20, hidden=8)], [0], TASK, device="cpu", cancel=cancel)
    assert r.status == "cancelled"
    grok = Genome(get_spec("grokking"), get_spec("grokking").defaults())
    with pytest.raises(ValueError, match="grokking"):
        ARENA.run_trials([grok], [0], TASK, device="cpu")


# ---- the command line ----------------------------------------------------------------------------


def test_cli_run_save_resume_and_model(run, tmp_path):
    common = ("--population", "10", "--hidden", "8", "--images-per-class", "2", "--device", "cpu")
    code, out, err = run("genreg", "--generations", "4", "--eval-interval", "2", *common,
                         "--save", str(tmp_path / "pop"), "--save-model", str(tmp_path / "best"))
    assert code == 0, err
    assert "64-8-10, population 10, top 2 survive" in out and "after 4 generations" in out and "per class: 0:" in out
    assert "trust of the last generation: best" in out
    assert (tmp_path / "best.npz").exists() and (tmp_path / "pop" / "population.json").exists()
    code, out, err = run("genreg", "--resume", str(tmp_path / "pop"), "--generations", "6", "--device", "cpu")
    assert code == 0, err
    assert "resumed" in out and "at generation 4 of 6" in out and "after 6 generations" in out


@pytest.mark.parametrize("argv, message", [
    (("--dataset", "mnist", "--data-folder", "/no/such/folder"), "/no/such/folder does not exist"),
    (("--dataset", "mnist"), "needs data_folder"),
    (("--survival", "1.5"), "survival must be between 0 and 1"),
    (("--child-mutation-rate", "nan"), "child_mutation_rate must be a finite number"),
    (("--generations", "0"), "generations must be a whole number >= 1"),
    (("--resume", "/no/such/pop"), "it is not a folder"),
])
def test_cli_bad_input_exits_2_and_writes_nothing(run, tmp_path, argv, message):
    before = snapshot(tmp_path)
    code, _, err = run("genreg", *argv, "--save-model", str(tmp_path / "best"))
    assert code == 2 and message in err and err.count("\n") == 1
    assert snapshot(tmp_path) == before


def test_cli_refuses_a_pickled_population(run, tmp_path):
    e = _engine()
    e.step(1)
    e.save(str(tmp_path / "pop"))
    (tmp_path / "pop" / "population.npz").write_bytes(pickle.dumps({"w1": 1}))
    before = snapshot(tmp_path)
    code, _, err = run("genreg", "--resume", str(tmp_path / "pop"), "--device", "cpu")
    assert code == 2 and "is a pickle file" in err
    assert snapshot(tmp_path) == before


# ---- the rest of the lab ---------------------------------------------------------------------------
def test_the_evolution_lab_engine_evolves_genreg_settings(registry):
    """An outer run in the genreg arena: generation 1 from the genreg founders, every genome a
    GENREG run on digits, its trials in the registry under the genreg arena."""
    from lab.evolution.population import Evolution
    from lab.evolution.settings import EvolutionSettings

    settings = EvolutionSettings(arena="genreg", population=3, seeds_per_genome=1, generations=2, aliens=1, elites=1,
                                 run_seed=3, device="cpu",
                                 task=(("generations", 3), ("eval_interval", 3), ("target_acc", 0.15)))
    evo = Evolution(settings, registry, run_id="genreg-run")
    evo.run()
    assert evo.generation == 2 and evo.spec.name == "genreg" and evo.task.generations == 3
    trials = registry.trials()
    assert len(trials) >= 4 and {t.arena for t in trials} == {"genreg"}
    assert all(t.metrics["generations"] == 3 and t.status in ("ok", "capped") for t in trials)


def test_genreg_genomes_are_mapped_into_species(registry):
    from lab.analysis.phylogeny import map_registry
    from lab.genome import random_genome
    from lab.registry import founders

    rng = np.random.default_rng(0)
    genomes = [random_genome(get_spec("genreg"), rng) for _ in range(10)]
    registry.add_genomes(genomes)
    phylo, _ = map_registry(registry, "genreg")
    assert {g.id for g in phylo.genomes} == {g.id for g in genomes} | {g.id for g in founders("genreg")}
    assert phylo.coords.shape == (14, 3)
