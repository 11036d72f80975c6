"""The grokking arena: task, population trainer vs reference, divergence, cancel, registry reuse."""
from __future__ import annotations

import threading
from types import MappingProxyType

import numpy as np
import pytest
import torch

from lab.arenas import get_arena
from lab.arenas.base import TrialFinished, TrialProgress
from lab.arenas.grokking.model import dropout_uniform, init_params
from lab.arenas.grokking.reference import train_reference
from lab.arenas.grokking.task import BatchOrder, GrokTask, make_dataset
from lab.arenas.grokking.trainer import train_population
from lab.genome import Genome, get_spec, random_genome
from lab.registry import Registry, founders

# a small task on which everything runs in seconds on a CPU
SMALL = GrokTask(modulus=23, train_fraction=0.6, d_model=16, heads=2, d_ff=32, batch_size=64, step_cap=60,
                 eval_interval=20, loss_window=10)


def _genome(**genes) -> Genome:
    spec = get_spec("grokking")
    return Genome(spec, {**spec.defaults(), **genes})


def _varied_genomes() -> list[Genome]:
    """Genomes that exercise every gene: clipping active, warmup, decay triggered, dropout, starving."""
    return [
        _genome(),
        _genome(learning_rate=5e-3, weight_decay=0.1, beta1=0.8, beta2=0.999, grad_clip=0.1, warmup_steps=30),
        _genome(dropout=0.2, layer_scale=0.5, bias_scale=0.3, init_attn_qk=2.0, init_attn_v=0.5, init_ffn=1.5,
                embed_ratio=8.0, init_embed=0.3, adam_eps=1e-6),
        _genome(learning_rate=2e-2, decay_trigger_var=0.1, decay_rate=1e-2, warmup_steps=0),
    ]


# ---- task ---------------------------------------------------------------------------------------
def test_task_id_is_stable_and_changes_with_any_setting():
    assert GrokTask().task_id == GrokTask().task_id
    assert GrokTask().task_id != GrokTask(split_seed=1).task_id != GrokTask(operation="-").task_id
    assert len({GrokTask(train_fraction=f).task_id for f in (0.3, 0.4, 0.5)}) == 3


def test_default_task_model_size_and_settings():
    t = GrokTask()
    assert (t.modulus, t.operation, t.step_cap, t.eval_interval, t.grok_threshold) == (97, "+", 2500, 25, 0.99)
    assert t.layers in (1, 2)


@pytest.mark.parametrize("op, fn", [("+", lambda a, b, p: (a + b) % p), ("-", lambda a, b, p: (a - b) % p),
                                    ("*", lambda a, b, p: (a * b) % p), ("/", lambda a, b, p: (a * pow(b, p - 2, p)) % p)])
def test_dataset_labels_and_split(op, fn):
    task = GrokTask(modulus=13, operation=op, train_fraction=0.5)
    data = make_dataset(task)
    x = torch.cat([data.train_x, data.val_x])
    y = torch.cat([data.train_y, data.val_y])
    n = 13 * 12 if op == "/" else 13 * 13
    assert len(x) == n and len({tuple(r) for r in x[:, :2].tolist()}) == n
    assert all(int(c) == fn(int(a), int(b), 13) for (a, b, _), c in zip(x.tolist(), y.tolist()))
    assert (x[:, 2] == 13).all()
    assert torch.equal(make_dataset(task).train_x, data.train_x)  # the split depends on the task only
    assert not torch.equal(make_dataset(GrokTask(modulus=13, operation=op, split_seed=1)).train_x, data.train_x)


@pytest.mark.parametrize("bad, message", [
    (dict(operation="^"), "operation"), (dict(train_fraction=1.5), "train_fraction"),
    (dict(d_model=30, heads=4), "divisible"), (dict(modulus=12, operation="/"), "prime"),
    (dict(step_cap=0), "step_cap"),
])
def test_bad_task_settings_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        GrokTask(**bad)


def test_trial_seed_fixes_init_batches_and_masks():
    g = _genome()
    a, b = init_params(SMALL, g.genes, 3), init_params(SMALL, g.genes, 3)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["W_E"], init_params(SMALL, g.genes, 4)["W_E"])
    o1, o2 = BatchOrder(5, 100, 32), BatchOrder(5, 100, 32)
    assert all(np.array_equal(o1.next(), o2.next()) for _ in range(10))
    idx = torch.arange(1000)
    m1 = dropout_uniform(torch.tensor([7, 8]), 3, 1, idx)
    m2 = dropout_uniform(torch.tensor([9, 7]), 3, 1, idx)
    assert torch.equal(m1[0], m2[1]) and not torch.equal(m1[0], m1[1])


def test_init_scales_follow_the_genes():
    big = init_params(GrokTask(), _genome(init_embed=3.0, bias_scale=0.5).genes, 0)
    small = init_params(GrokTask(), _genome(init_embed=0.01).genes, 0)
    d = GrokTask().d_model
    assert big["W_E"].std().item() == pytest.approx(3.0 / d ** 0.5, rel=0.1)
    assert small["W_E"].std().item() == pytest.approx(0.01 / d ** 0.5, rel=0.1)
    assert big["L0.b_in"].std().item() == pytest.approx(0.5, rel=0.25)
    assert small["L0.b_in"].abs().max().item() == 0.0


# ---- population == reference -----------------------------------------------------------------------
def test_population_matches_reference_loss_curves_per_member():
    genomes = _varied_genomes()
    trials = [(g, s) for g in genomes for s in (0, 1)]
    pop = train_population(trials, SMALL, device="cpu", dtype=torch.float64, record_losses=True)
    for (g, s), r in zip(trials, pop):
        ref = train_reference(g, s, SMALL, device="cpu", dtype=torch.float64, record_losses=True)
        assert r.status == ref.status and r.metrics["steps"] == ref.metrics["steps"]
        assert len(r.curve["loss"]) >= 50
        np.testing.assert_allclose(r.curve["loss"], ref.curve["loss"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(r.curve["val_acc"], ref.curve["val_acc"], atol=1e-12)
        np.testing.assert_allclose(r.curve["lr"], ref.curve["lr"], rtol=1e-12)
    # per-member hyperparameters really are per member: the curves differ between genomes
    assert len({round(r.curve["loss"][-1], 6) for r in pop}) == len(pop)


def test_population_matches_reference_in_float32_closely():
    g = _varied_genomes()[1]
    pop = train_population([(g, 0)], SMALL, device="cpu", record_losses=True)[0]
    ref = train_reference(g, 0, SMALL, device="cpu", record_losses=True)
    np.testing.assert_allclose(pop.curve["loss"][:50], ref.curve["loss"][:50], rtol=1e-3)


# small enough to run in seconds; the grok threshold is lowered so that the crossing happens in time
GROK = GrokTask(modulus=23, train_fraction=0.6, d_model=32, heads=4, d_ff=64, batch_size=128, step_cap=1000,
                eval_interval=10, grok_threshold=0.6)


def test_same_steps_to_grok_on_a_short_task():
    fast = _genome(learning_rate=1e-2, weight_decay=1.0, warmup_steps=0)
    pop = train_population([(fast, 0), (fast, 1)], GROK, device="cpu", dtype=torch.float64)
    for r in pop:
        ref = train_reference(fast, r.seed, GROK, device="cpu", dtype=torch.float64)
        assert r.status == ref.status == "grokked"
        assert r.metrics["steps_to_grok"] == ref.metrics["steps_to_grok"]
        assert r.metrics["final_val_acc"] >= GROK.grok_threshold


def test_diverging_member_leaves_and_never_disturbs_its_batch_mates():
    normal = _varied_genomes()[:2]
    bad = _genome()
    # an absurd learning rate, beyond what any valid genome may hold, forced in for the test
    object.__setattr__(bad, "genes", MappingProxyType({**bad.genes, "learning_rate": 1e6, "grad_clip": 1e6}))
    alone = train_population([(g, 0) for g in normal], SMALL, device="cpu", dtype=torch.float64,
                             record_losses=True)
    mixed = train_population([(normal[0], 0), (bad, 0), (normal[1], 0)], SMALL, device="cpu",
                             dtype=torch.float64, record_losses=True)
    assert mixed[1].status == "diverged" and 1 <= mixed[1].metrics["diverged_step"] < SMALL.step_cap
    for a, m in zip(alone, (mixed[0], mixed[2])):
        assert m.status == a.status != "diverged"
        np.testing.assert_allclose(m.curve["loss"], a.curve["loss"], rtol=1e-12)


def test_cancel_stops_within_a_few_steps_and_keeps_finished_results():
    cancel = threading.Event()
    events, asked_at = [], []

    def on_event(e):
        events.append(e)
        if isinstance(e, TrialProgress) and e.steps_done >= 20 and not cancel.is_set():
            asked_at.append(e.steps_done)   # progress is time-throttled: the step the cancel came at
            cancel.set()

    bad = _genome()
    object.__setattr__(bad, "genes", MappingProxyType({**bad.genes, "learning_rate": 1e6, "grad_clip": 1e6}))
    task = GrokTask(**{**SMALL.to_dict(), "step_cap": 2000})
    res = train_population([(bad, 0), (_genome(), 0), (_genome(), 1)], task, device="cpu", on_event=on_event,
                           cancel=cancel)
    assert res[0].status == "diverged"          # finished before the cancel: kept
    assert [r.status for r in res[1:]] == ["cancelled", "cancelled"]
    assert all(r.metrics["steps"] <= asked_at[0] + 1 for r in res[1:])
    assert any(isinstance(e, TrialFinished) and e.result.status == "diverged" for e in events)


def test_progress_events_report_live_members():
    events = []
    train_population([(_genome(), 0), (_genome(), 1)], SMALL, device="cpu", on_event=events.append)
    progress = [e for e in events if isinstance(e, TrialProgress)]
    assert progress and progress[0].live == 2 and progress[-1].live == 0 and progress[-1].finished == 2
    finished = [e for e in events if isinstance(e, TrialFinished)]
    assert len(finished) == 2 and all(e.result.status in ("capped", "grokked") for e in finished)


def test_results_carry_curve_metrics_and_provenance():
    (r,) = train_population([(_genome(), 0)], SMALL, device="cpu")
    assert r.task_id == SMALL.task_id and r.genome_id == _genome().id and r.device == "cpu"
    assert r.curve["step"] == [20, 40, 60] and len(r.curve["val_acc"]) == 3
    for key in ("final_train_loss", "final_train_acc", "final_val_loss", "final_val_acc", "steps"):
        assert key in r.metrics
    assert r.wall_time > 0 and r.arena == "grokking"
    r2 = type(r).from_dict(__import__("json").loads(r.to_json_line()))
    assert r2.key == r.key and r2.curve["val_acc"] == r.curve["val_acc"]


# ---- the arena ----------------------------------------------------------------------------------
def test_arena_protocol_and_registry_reuse(tmp_path, monkeypatch):
    arena = get_arena("grokking")
    assert arena.name == "grokking" and arena.gene_spec.name == "grokking"
    assert isinstance(arena.default_task(), GrokTask)
    reg = Registry(tmp_path / "reg")
    rng = np.random.default_rng(0)
    genomes = [random_genome(get_spec("grokking"), rng) for _ in range(2)]
    first = arena.run_trials(genomes, [0, 1], SMALL, device="cpu", registry=reg)
    assert [(r.genome_id, r.seed) for r in first] == [(g.id, s) for g in genomes for s in (0, 1)]
    assert len(reg.trials()) == 4

    import lab.arenas.grokking.arena as arena_module

    def no_training(*a, **k):
        raise AssertionError("a recorded trial was recomputed")
    monkeypatch.setattr(arena_module, "train_population", no_training)
    again = arena.run_trials(genomes, [1, 0], SMALL, device="cpu", registry=reg)
    assert [r.to_dict() for r in again] == [first[1].to_dict(), first[0].to_dict(),
                                            first[3].to_dict(), first[2].to_dict()]


def test_arena_refuses_genomes_of_another_spec():
    from lab.genome import Gene, GeneSpec
    other = GeneSpec("toy", "toy", (Gene("x", "X", "G", 0.0, 1.0, "linear", "float", 0.5, "doc"),))
    with pytest.raises(ValueError, match="spec 'toy'"):
        get_arena("grokking").run_trials([Genome(other, {"x": 0.5})], [0], SMALL, device="cpu")


def test_unknown_arena_and_device_are_clear_errors():
    with pytest.raises(ValueError, match="unknown arena 'nope'"):
        get_arena("nope")
    from lab.arenas.base import resolve_device
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")
        assert resolve_device("auto") == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_population_matches_cpu():
    genomes = _varied_genomes()
    trials = [(g, 0) for g in genomes]
    cpu = train_population(trials, SMALL, device="cpu", dtype=torch.float64, record_losses=True)
    gpu = train_population(trials, SMALL, device="cuda", dtype=torch.float64, record_losses=True)
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a.curve["loss"], b.curve["loss"], rtol=1e-7)


def test_default_founder_groks_on_the_default_task_for_most_seeds():
    classic = [f for f in founders("grokking") if f.name == "classic-adamw"][0]
    results = train_population([(classic, s) for s in range(3)], GrokTask(), device="cpu")
    assert sum(r.status == "grokked" for r in results) >= 2, [r.status for r in results]
    for r in results:
        if r.status == "grokked":
            assert r.metrics["steps_to_grok"] <= GrokTask().step_cap


def test_two_block_model_matches_reference_too():
    task = GrokTask(**{**SMALL.to_dict(), "layers": 2, "step_cap": 50})
    trials = [(g, 0) for g in _varied_genomes()]
    pop = train_population(trials, task, device="cpu", dtype=torch.float64, record_losses=True)
    for (g, s), r in zip(trials, pop):
        ref = train_reference(g, s, task, device="cpu", dtype=torch.float64, record_losses=True)
        np.testing.assert_allclose(r.curve["loss"], ref.curve["loss"], rtol=1e-9, atol=1e-12)


def test_one_block_table_path_equals_the_generic_path():
    from lab.arenas.grokking.model import Dropout, _forward_generic, _forward_one_block
    genomes = _varied_genomes()
    inits = [init_params(SMALL, g.genes, i, torch.float64) for i, g in enumerate(genomes)]
    P = {k: torch.stack([p[k] for p in inits]) for k in inits[0]}
    data = make_dataset(SMALL)
    tokens = data.train_x[torch.randint(0, len(data.train_x), (len(genomes), 32))]
    ls = torch.tensor([float(g.genes["layer_scale"]) for g in genomes], dtype=torch.float64)
    drop = Dropout(torch.tensor([float(g.genes["dropout"]) for g in genomes]), torch.arange(4), 7)
    for toks in (tokens, data.val_x[:40]):
        np.testing.assert_allclose(_forward_one_block(P, toks, SMALL, ls, drop).numpy(),
                                   _forward_generic(P, toks, SMALL, ls, drop).numpy(), rtol=1e-10, atol=1e-12)


def test_grokking_page_documents_what_every_gene_does():
    from tests.conftest import PROJECT
    page = (PROJECT / "docs" / "grokking.md").read_text(encoding="utf-8")
    section = page.split("\n## What each gene does in the trainer\n")[1].split("\n## ")[0]
    for key in get_spec("grokking").keys:
        assert f"`{key}`" in section, key
