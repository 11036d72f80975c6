"""Inside a grokked model (lab.arenas.grokking.mechanism, snapshots): the Fourier code on constructed
models whose frequencies are known, the model's own forward on every input, and snapshots of a
re-run that is the same trial, saved and read back (npz + JSON, checked)."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch

from lab.arenas import get_arena
from lab.arenas.grokking import snapshots
from lab.arenas.grokking.mechanism import (all_inputs, fourier_basis, fourier_norms, inspect, key_frequencies,
                                           neuron_frequencies, phases, progress_measures, restricted_and_excluded,
                                           train_mask)
from lab.arenas.grokking.reference import MicroTransformer
from lab.arenas.grokking.task import GrokTask
from lab.arenas.grokking.trainer import train_population
from lab.genome import get_spec, random_genome

P = 31
SMALL = GrokTask(modulus=P, train_fraction=0.5, d_model=32, heads=4, d_ff=64, batch_size=128, step_cap=60,
                 eval_interval=20)


def _wave(k: int, x: np.ndarray, kind=np.cos) -> np.ndarray:
    return kind(2 * math.pi * k * x / P)


def test_the_basis_is_orthonormal_and_finds_the_frequencies_an_embedding_is_made_of():
    F = fourier_basis(P)
    assert np.allclose(F @ F.T, np.eye(P), atol=1e-12)
    x = np.arange(P)
    keys = (3, 11, 14)
    rng = np.random.default_rng(0)
    embed = np.stack([_wave(k, x, kind) for k in keys for kind in (np.cos, np.sin)], 1) @ rng.normal(size=(6, 16))
    norms = fourier_norms(embed)
    assert norms.shape == ((P - 1) // 2,)
    assert key_frequencies(norms) == [3, 11, 14]
    assert np.allclose(np.delete(norms, [k - 1 for k in keys]), 0, atol=1e-10)
    # one strong frequency and weak others: the strong one alone holds the share
    weights = np.full(15, 0.05)
    weights[6] = 1.0
    assert key_frequencies(weights) == [7]
    assert key_frequencies(np.zeros(15)) == []


def test_each_neuron_is_explained_by_its_own_frequency():
    a, b = (g.ravel() for g in np.meshgrid(np.arange(P), np.arange(P), indexing="ij"))
    rng = np.random.default_rng(1)
    acts = np.stack([np.cos(2 * math.pi * 5 * (a + b) / P),                       # pure frequency 5
                     _wave(7, a, np.sin) * _wave(7, b) + 0.05 * rng.normal(size=P * P),   # 7, with noise
                     np.full(P * P, 2.0)], 1)                                    # no variance
    best, share = neuron_frequencies(acts, P)
    assert best.tolist() == [5, 7, 0]
    assert share[0] == pytest.approx(1.0) and share[1] > 0.9 and np.isnan(share[2])


def test_restricted_loss_keeps_the_key_directions_and_excluded_loss_removes_them():
    a, b = (g.ravel() for g in np.meshgrid(np.arange(P), np.arange(P), indexing="ij"))
    c = np.arange(P)
    keys = [3, 11]
    logits = 8 * sum(np.cos(2 * math.pi * k * ((a + b)[:, None] - c[None, :]) / P) for k in keys)
    train = np.random.default_rng(2).random(P * P) < 0.5
    restricted, excluded = restricted_and_excluded(logits, P, keys, train)
    labels = (a + b) % P
    z = logits - logits.max(1, keepdims=True)
    full = float(-(z - np.log(np.exp(z).sum(1, keepdims=True)))[np.arange(P * P), labels].mean())
    assert restricted == pytest.approx(full, abs=1e-9)            # nothing else in these logits
    assert excluded == pytest.approx(math.log(P), abs=1e-9)       # nothing left: uniform logits
    assert restricted_and_excluded(logits, P, [5], train)[0] > 3.0   # the wrong frequency explains nothing


def test_inspect_is_the_model_s_own_forward_on_every_input():
    genome = random_genome(get_spec("grokking"), np.random.default_rng(3))
    genes = {**genome.genes, "dropout": 0.0}
    for layers in (1, 2):
        task = GrokTask(**{**SMALL.to_dict(), "layers": layers})
        model = MicroTransformer(task, genes, seed=4, dtype=torch.float64)
        weights = {k.replace("_", ".", 1) if k.startswith("L") else k: v.detach().numpy()
                   for k, v in model.weights.items()}
        out = inspect(weights, task, float(genes["layer_scale"]))
        want = model(all_inputs(task)).detach().numpy()
        assert np.allclose(out["logits"], want, atol=1e-10)
        assert out["neurons"].shape == (P * P, task.d_ff) and out["attn_a"].shape == (task.heads, P, P)
        assert np.allclose(out["attn_a"] + out["attn_b"] <= 1.0 + 1e-12, True)


def test_a_re_run_with_snapshots_is_the_same_trial_and_its_snapshots_read_back(tmp_path):
    get_arena("grokking")
    genome = random_genome(get_spec("grokking"), np.random.default_rng(5))
    (plain,) = train_population([(genome, 2)], SMALL, device="cpu")
    seen = []
    result, snaps = snapshots.record(genome, SMALL, 2, 25, device="cpu", on_snapshot=lambda s, w: seen.append(s))
    assert json.dumps([result.status, result.metrics, result.curve]) == json.dumps([plain.status, plain.metrics,
                                                                                    plain.curve])
    assert result.metrics["steps"] == 60 and snaps.steps == seen == [0, 25, 50, 60]   # start, every 25, end
    folder = snapshots.snapshot_folder(tmp_path, genome.id, SMALL.task_id, 2)
    snapshots.save(snaps, folder, dict(genome.genes))
    back = snapshots.load(folder)
    assert back.steps == snaps.steps and back.task == SMALL and back.seed == 2
    assert all(np.array_equal(back.weights[i][k], snaps.weights[i][k]) for i in range(len(snaps.steps))
               for k in snaps.weights[0])
    # the step-0 snapshot is the trial's initial weights
    from lab.arenas.grokking.model import init_params
    init = init_params(SMALL, genome.genes, 2)
    assert all(np.array_equal(back.weights[0][k], v.numpy()) for k, v in init.items())
    # measures over the snapshots
    m = progress_measures(back.steps, back.weights, SMALL, float(genome.genes["layer_scale"]))
    assert m["step"] == back.steps and len(m["excluded_loss"]) == len(back.steps)
    assert m["weight_norm"][0] == pytest.approx(sum(float((v.double() ** 2).sum()) for v in init.values()), rel=1e-5)
    assert set(phases(m)) == {"circuit", "cleanup", "clean"}
    # a damaged folder is named, never half-read
    (folder / "state.json").write_text((folder / "state.json").read_text().replace('"every": 25', '"every": "x"'))
    with pytest.raises(ValueError, match="damaged"):
        snapshots.load(folder)
    with pytest.raises(ValueError, match="interval"):
        snapshots.record(genome, SMALL, 2, 0)


def test_phases_are_placed_where_the_measures_turn():
    m = {"step": [0, 100, 200, 300, 400, 500], "excluded_loss": [4.0, 3.0, 2.5, 3.5, 5.0, 6.0],
         "weight_norm": [10.0, 20.0, 30.0, 40.0, 25.0, 15.0], "test_loss": [4.0, 4.5, 5.0, 4.0, 2.0, 0.05]}
    assert phases(m) == {"circuit": 200, "cleanup": 300, "clean": 500}
    flat = {**m, "excluded_loss": [4.0, 3.0, 2.0, 1.0, 0.5, 0.2]}    # never rises: no circuit seen
    assert phases(flat) == {"circuit": None, "cleanup": None, "clean": None}
    assert phases({**m, "test_loss": [4.0] * 6})["clean"] is None
    assert train_mask(SMALL).sum() == round(0.5 * P * P)


def test_a_grokked_default_founder_computes_with_a_few_key_frequencies():
    """high-lr, the founder that groks fastest on the default task (a + b mod 97), seed 0: its
    embedding's energy stands out in a few frequencies, and its neurons follow those frequencies
    (measured here: 12, 20 and 34, with 163 of 256 neurons half or more explained by one of them)."""
    from lab.arenas.grokking.mechanism import neuron_frequencies as freqs
    from lab.registry_base import read_genome_file

    get_arena("grokking")
    (founder,) = read_genome_file("genomes/high-lr.json")
    task = GrokTask()
    result, snaps = snapshots.record(founder, task, 0, 10_000, device="cpu")
    assert result.status == "grokked" and snaps.steps == [0, result.metrics["steps"]]
    final = snaps.weights[-1]
    keys = key_frequencies(fourier_norms(final["W_E"][:task.modulus]))
    assert 1 <= len(keys) <= 6, keys
    assert key_frequencies(fourier_norms(snaps.weights[0]["W_E"][:task.modulus])) == [], "none at initialisation"
    best, share = freqs(inspect(final, task, float(founder.genes["layer_scale"]))["neurons"], task.modulus)
    explained = (best > 0) & (np.nan_to_num(share) >= 0.5)
    assert explained.sum() >= len(best) // 2 and set(best[explained].tolist()) <= set(keys) | {k + 1 for k in keys}


def test_the_mechanism_command_writes_the_four_charts_and_reuses_its_snapshots(run, tmp_path):
    args = ("mechanism", "genomes/high-lr.json", "--seed", "1", "--every", "20", "--task", "modulus=31",
            "--task", "train_fraction=0.5", "--step-cap", "60", "--out", str(tmp_path / "out"), "--format", "png")
    code, out, err = run(*args)
    assert code == 0, err
    assert "re-ran high-lr" in out and "key frequencies (step 60, read from the" in out and "phases:" in out
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert [n.rsplit("-", 1)[1] for n in names] == ["attention.csv", "attention.png", "fourier.csv", "fourier.png",
                                                    "neurons.csv", "neurons.png", "progress.csv", "progress.png"]
    progress = (tmp_path / "out" / [n for n in names if n.endswith("progress.csv")][0]).read_text().splitlines()
    assert progress[0] == "step,train_loss,test_loss,restricted_loss,excluded_loss,weight_norm"
    assert [int(r.split(",")[0]) for r in progress[1:]] == [0, 20, 40, 60]
    code, again, _ = run(*args)
    assert code == 0 and "4 snapshots of high-lr" in again and "re-ran" not in again
    code, _, err = run("mechanism", "genomes/high-lr.json", "--task", "operation=*", "--out", str(tmp_path / "x"))
    assert code == 2 and "a + b mod p" in err


def test_several_genomes_and_seeds_are_compared_side_by_side(run, tmp_path):
    args = ("mechanism", "genomes/high-lr.json", "genomes/classic-adamw.json", "--seeds", "0-1", "--every", "30",
            "--task", "modulus=31", "--task", "train_fraction=0.5", "--step-cap", "60", "--out", str(tmp_path),
            "--format", "png")
    code, out, err = run(*args)
    assert code == 0, err
    rows = list(csv.DictReader((tmp_path / "mechanism-compare.csv").open()))
    assert [(r["genome"], r["seed"]) for r in rows] == [("high-lr", "0"), ("high-lr", "1"), ("classic-adamw", "0"),
                                                       ("classic-adamw", "1")]
    assert list(rows[0]) == ["genome", "genome_id", "seed", "status", "steps", "keys", "keys_from", "n_keys",
                             "neurons_explained", "circuit", "cleanup", "clean"]
    assert all(int(r["steps"]) == 60 and int(r["n_keys"]) == len(r["keys"].split()) for r in rows)
    assert (tmp_path / "mechanism-compare.png").stat().st_size > 10_000
    assert out.count("key frequencies") == 4


def test_the_scaling_study_runs_each_size_with_smart_fill_and_charts_it(run, tmp_path):
    from lab.analysis.scaling import median_interval, size_tasks

    tasks = size_tasks(GrokTask(), [64, 128], [1, 2])
    assert [(t.d_model, t.d_ff, t.layers) for t in tasks] == [(64, 256, 1), (128, 512, 1), (64, 256, 2), (128, 512, 2)]
    assert len({t.task_id for t in tasks}) == 4 and tasks[0].task_id == GrokTask().task_id
    with pytest.raises(ValueError, match="not divisible by heads"):
        size_tasks(GrokTask(), [66], [1])
    assert all(math.isnan(v) for v in median_interval([])), "no values: no median, no interval"
    med, lo, hi = median_interval(list(range(1, 21)))
    assert med == 10.5 and lo <= med <= hi
    args = ("scale", "genomes/high-lr.json", "--d-model", "16,32", "--layers", "1", "--seeds", "2", "--task",
            "modulus=23", "--task", "train_fraction=0.6", "--task", "step_cap=40", "--task", "eval_interval=10",
            "--out", str(tmp_path), "--format", "png")
    code, out, err = run(*args)
    assert code == 0, err
    assert out.count("0 trials exist, 2 will run") == 2
    rows = list(csv.DictReader((tmp_path / "scaling.csv").open()))
    assert [(r["d_model"], r["runs"]) for r in rows] == [("16", "2"), ("32", "2")]
    assert int(rows[1]["params"]) > int(rows[0]["params"])
    code, again, _ = run(*args)
    assert code == 0 and again.count("2 trials exist, 0 will run") == 2
    code, _, err = run("scale", "genomes/high-lr.json", "--d-model", "65", "--out", str(tmp_path))
    assert code == 2 and "not divisible by heads" in err
    code, _, err = run("scale", "genomes/high-lr.json", "--seeds", "1,5")
    assert code == 2 and "consecutive" in err


def test_key_frequencies_come_from_the_neurons_where_the_embedding_has_none():
    from lab.arenas.grokking.mechanism import model_key_frequencies
    flat = np.ones(15)                                   # an embedding with no frequency standing out
    best = np.array([4] * 30 + [9] * 12 + [2] * 2 + [0] * 5)
    share = np.array([0.9] * 30 + [0.7] * 12 + [0.6] * 2 + [np.nan] * 5)
    assert model_key_frequencies(flat, best, share) == ([4, 9], "neurons")   # 2 of 44: under a tenth
    sparse = np.zeros(15)
    sparse[[2, 6]] = 1.0
    assert model_key_frequencies(sparse, best, share) == ([3, 7], "embedding")
    assert model_key_frequencies(flat, np.zeros(5, dtype=int), np.full(5, np.nan)) == ([], "none")
