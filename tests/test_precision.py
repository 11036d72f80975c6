"""The grokking task's ``precision``: part of the task_id (float32 keeps the ids recorded before it
existed), so trials of different precisions never mix in Smart Fill; bf16 trains under autocast."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lab.arenas import get_arena
from lab.arenas.grokking.task import PRECISIONS, GrokTask
from lab.arenas.grokking.trainer import train_population
from lab.genome import get_spec, random_genome
from lab.registry import Registry, founders
from lab.trials import run_pairs


def test_float32_keeps_every_task_id_recorded_before_precision_existed():
    # ids computed before the field was added (the default task, and step cap 20 as the tests use)
    assert GrokTask().task_id == "5d5a762d7018"
    assert dataclasses.replace(GrokTask(), step_cap=20).task_id == "965a5c7dc9e8"
    ids = {GrokTask(precision=p).task_id for p in PRECISIONS}
    assert len(ids) == len(PRECISIONS)
    with pytest.raises(ValueError, match="precision 'fp8' is not one of float32, tf32, bf16"):
        GrokTask(precision="fp8")


def test_trials_of_different_precisions_never_mix_in_smart_fill(tmp_path):
    arena = get_arena("grokking")
    registry = Registry(tmp_path / "reg")
    genome = founders("grokking")[0]
    f32 = arena.tiny_task()
    bf16 = dataclasses.replace(f32, precision="bf16")
    first = run_pairs(arena, [(genome, 0), (genome, 1)], f32, device="cpu", registry=registry)
    assert all(r.task_id == f32.task_id for r in first)
    assert registry.missing_seeds(genome.id, bf16.task_id, [0, 1]) == [0, 1], "float32 trials do not count"
    second = run_pairs(arena, [(genome, 0)], bf16, device="cpu", registry=registry)
    assert second[0].task_id == bf16.task_id and len(registry.trials()) == 3


def test_bf16_trains_and_differs_from_float32_while_tf32_on_the_cpu_is_float32():
    task = dataclasses.replace(get_arena("grokking").tiny_task(), step_cap=30, eval_interval=10)
    rng = np.random.default_rng(1)
    trials = [(random_genome(get_spec("grokking"), rng), s) for s in range(3)]
    runs = {p: train_population(trials, dataclasses.replace(task, precision=p), device="cpu", record_losses=True)
            for p in PRECISIONS}
    losses = {p: [r.curve["loss"] for r in rs] for p, rs in runs.items()}
    assert losses["tf32"] == losses["float32"], "no TF32 units on the CPU: the same arithmetic"
    assert losses["bf16"] != losses["float32"]
    for a, b in zip(losses["bf16"], losses["float32"]):   # the same training, at bf16's resolution
        assert np.isfinite(a).all() and abs(a[0] - b[0]) < 0.05 * abs(b[0])


def test_the_command_line_sets_precision_and_refuses_it_where_a_task_has_none(tmp_path, capsys):
    from lab.cli import main
    reg = tmp_path / "reg"
    genome = "genomes/classic-adamw.json"
    assert main(["trials", "run", genome, "--seeds", "1", "--step-cap", "3", "--precision", "bf16",
                 "--device", "cpu", "--registry", str(reg)]) == 0
    (trial,) = Registry(reg).trials()
    assert trial.task_id == dataclasses.replace(GrokTask(), step_cap=3, precision="bf16").task_id
    assert main(["stress", "--arena", "neat", "genomes/neat-xor.json", "--runs", "1", "--precision", "bf16",
                 "--registry", str(reg)]) == 2
    assert "has no precision setting" in capsys.readouterr().err
