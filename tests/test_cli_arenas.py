"""Direct runs from the command line: ``m2n2`` (progress, the reported model as npz + JSON) and
``m2n2-specialists`` (config file, save and resume); bad input exits 2 with one line."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tests.conftest import PROJECT, snapshot

from lab.arenas.m2n2.engine import mlp_logits
from lab.data import load_dataset
from lab.files import _umask
from lab.registry import Registry




def test_m2n2_run_and_saved_model(run, tmp_path):
    code, out, err = run("m2n2", "--passes", "200", "--eval-interval", "100", "--seed", "0", "--device", "cpu",
                         "--save-model", str(tmp_path / "model" / "best.npz"),
                         "--fitness-log", str(tmp_path / "fitness_log.csv"))
    assert code == 0, err
    log = (tmp_path / "fitness_log.csv").read_text().splitlines()
    assert log[0] == "pass,replaced_slot,children_accepted,best_train_acc,mean_train_acc,test_acc"
    assert len(log) == 202 and log[-1].startswith("200,")
    assert (tmp_path / "fitness_log.csv").stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert "budget 200 forward passes" in out and "after 200 passes" in out and "pass" in err  # the bar
    with np.load(tmp_path / "model" / "best.npz", allow_pickle=False) as f:
        params = f["params"]
    meta = json.loads((tmp_path / "model" / "best.json").read_text())
    assert params.shape == (19_210,) and meta["inputs"] == 64 and meta["hidden"] == 256
    digits = load_dataset("digits")
    x_t = torch.tensor(digits.flat_test()).t()
    pred = mlp_logits(torch.tensor(params).unsqueeze(0), x_t, 256, 10)[0].argmax(0).numpy()
    assert (pred == digits.y_test).mean() == pytest.approx(meta["test_acc"])   # the saved model is the reported one
    assert f"test accuracy {meta['test_acc']:.4f}" in out


@pytest.mark.parametrize("argv, message", [
    (("--dataset", "mnist", "--data-folder", "/no/such/folder"), "/no/such/folder does not exist"),
    (("--dataset", "mnist"), "needs data_folder"),
    (("--alpha", "nan"), "alpha must be a finite number"),
    (("--passes", "0"), "passes must be a whole number >= 1"),
    (("--archive-size", "1"), "archive_size"),
    (("--genome", str(PROJECT / "genomes" / "high-lr.json")), "grokking genome, not an m2n2 one"),
])
def test_m2n2_bad_input_exits_2(run, argv, message, tmp_path):
    before = snapshot(tmp_path)
    code, _, err = run("m2n2", *argv, "--save-model", str(tmp_path / "model.npz"))
    assert code == 2 and message in err and err.count("\n") == 1
    assert snapshot(tmp_path) == before            # nothing written: no model, no registry


def test_m2n2_trials_through_the_generic_commands(run):
    genome = str(PROJECT / "genomes" / "m2n2-paper.json")
    code, out, err = run("trials", "run", genome, "--arena", "m2n2", "--seeds", "1", "--step-cap", "100",
                         "--device", "cpu")
    assert code == 0, err
    assert "1 trial(s)" in out and "passes 100" in out and "test_acc" in out
    (trial,) = Registry(run.registry).trials()
    assert trial.arena == "m2n2" and trial.metrics["passes"] == 100


def test_specialists_config_save_resume_and_bad_config(run, tmp_path):
    cfg = tmp_path / "cfg.json"
    code, out, err = run("m2n2-specialists", "--generations", "2", "--write-config", str(cfg),
                         "--save", str(tmp_path / "pop"))
    assert code == 0, err
    trained = [line for line in out.splitlines() if line.startswith("  specialist for")]
    assert len(trained) == 10 and "generation   2" in out and "population saved" in out
    assert json.loads(cfg.read_text())["generations"] == 2
    code, out, err = run("m2n2-specialists", "--config", str(cfg), "--resume", str(tmp_path / "pop"),
                         "--generations", "3")
    assert code == 0, err
    assert "resumed" in out and "generation   3" in out
    assert not [line for line in out.splitlines() if line.startswith("  specialist for")]
    cfg.write_text('{"lr": -1, "colour": "red"}')
    saved = snapshot(tmp_path / "pop")
    code, _, err = run("m2n2-specialists", "--config", str(cfg), "--save", str(tmp_path / "pop"))
    assert code == 2 and "unknown key 'colour'" in err and "lr must be" in err
    assert snapshot(tmp_path / "pop") == saved       # the saved population is untouched
    code, _, err = run("m2n2-specialists", "--dataset", "cifar10", "--data-folder", str(tmp_path / "none"))
    assert code == 2 and "does not exist" in err


@pytest.mark.parametrize("argv, budget, more", [
    (["m2n2", "--hidden", "16", "--eval-interval", "50", "--seed", "3"], "--passes", ("100", "200")),
    (["neat", "--task", "xor", "--no-stop", "--seed", "3"], "--generations", ("3", "6")),
])
def test_a_direct_run_saved_and_resumed_to_a_larger_budget_ends_like_one_run_straight(tmp_path, argv, budget, more):
    import numpy as np

    from lab.cli import main

    half, whole = more
    assert main(argv + [budget, half, "--save", str(tmp_path / "half")]) == 0
    assert main(argv[:1] + ["--resume", str(tmp_path / "half"), budget, whole, "--save", str(tmp_path / "on")]) == 0
    assert main(argv + [budget, whole, "--save", str(tmp_path / "straight")]) == 0
    on, straight = (json.loads((tmp_path / d / "state.json").read_text()) for d in ("on", "straight"))
    for meta in (on, straight):
        meta.pop("npz_sha256")
    assert on == straight
    with np.load(tmp_path / "on" / "state.npz") as a, np.load(tmp_path / "straight" / "state.npz") as b:
        assert sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)
