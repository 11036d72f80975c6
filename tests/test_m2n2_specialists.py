"""The M2N2 specialists variant: niche adaptation, merging with the weakest class's specialist, the CIFAR-10 CNN
path on synthetic batch files, determinism, cancelling, pickle-free checkpoints and config files."""
from __future__ import annotations

import json
import math
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from lab.arenas.m2n2.specialists import (MERGE_KEYS, POPULATION_JSON, POPULATION_NPZ, REPORT_KEYS,
                                         SpecialistsConfig, SpecialistsRun, load_config, load_population,
                                         save_config)
from lab.data import load_dataset

TINY = SpecialistsConfig(specialist_epochs=2, generations=3, finetune_steps=10)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def finished(digits):
    """One tiny digits run, shared by the tests that only read it."""
    run = SpecialistsRun(TINY, data=digits)
    reports: list[dict] = []
    final = run.run(on_report=reports.append)
    return run, reports, final


def assert_same_members(a, b):
    assert [m.origin for m in a] == [m.origin for m in b]
    assert [m.fitness for m in a] == [m.fitness for m in b]
    assert np.allclose([m.per_class for m in a], [m.per_class for m in b], equal_nan=True)
    for x, y in zip(a, b):
        assert x.state.keys() == y.state.keys()
        assert all(torch.equal(x.state[k].cpu(), y.state[k].cpu()) for k in x.state)


# ---- end to end ------------------------------------------------------------------------------------
def test_specialists_each_predict_their_own_class(finished):
    run, reports, _ = finished
    assert sorted(run.niche_bank) == list(range(10))
    for c, specialist in run.niche_bank.items():
        others = [a for k, a in enumerate(specialist.per_class) if k != c]
        assert specialist.origin == f"specialist:{c}"
        assert specialist.per_class[c] >= 0.9, (c, specialist.per_class)
        assert np.mean(others) <= 0.1, (c, specialist.per_class)
    assert [r["specialist"] for r in reports if r["phase"] == "specialists"] == list(range(10))


def test_evolution_merges_the_best_with_the_specialist_for_its_weakest_class(finished):
    run, reports, final = finished
    assert all(set(r) == set(REPORT_KEYS) for r in reports)
    evolution = [r for r in reports if r["phase"] == "evolution"]
    assert [r["generation"] for r in evolution] == [1, 2, 3] and final is evolution[-1]
    best_specialist = max(m.fitness for m in run.niche_bank.values())
    previous_best = best_specialist
    for r in evolution:
        merge = r["merge"]
        assert set(merge) == set(MERGE_KEYS)
        per_class = merge["parent1_per_class"]
        assert per_class[merge["weakest_class"]] == min(per_class)
        assert merge["weakest_class"] == int(np.nanargmin(per_class))
        assert merge["parent2_origin"] == f"specialist:{merge['weakest_class']}"
        assert merge["parent2_fitness"] == run.niche_bank[merge["weakest_class"]].fitness
        assert merge["parent1_fitness"] == previous_best    # parent 1 is the fittest member
        f1, f2 = merge["parent1_fitness"], merge["parent2_fitness"]
        assert merge["weight1"] == pytest.approx(f1 / (f1 + f2))
        assert r["best_fitness"] >= previous_best             # elitist: the best never gets worse
        assert 1 <= r["population_size"] <= 10
        assert len(r["best_per_class"]) == 10
        previous_best = r["best_fitness"]
    assert final["best_fitness"] >= best_specialist
    assert final["best_fitness"] > 0.2                        # clearly above chance (0.1)
    assert len(run.population) == 10
    assert [m.fitness for m in run.population] == sorted((m.fitness for m in run.population), reverse=True)
    state, fitness = run.best()
    assert fitness == final["best_fitness"] and set(state) == {"hidden.weight", "hidden.bias", "head.weight",
                                                              "head.bias"}


def test_same_seed_same_run(finished, digits):
    run, _, _ = finished
    again = SpecialistsRun(TINY, data=digits)
    again.run()
    (a, fa), (b, fb) = run.best(), again.best()
    assert fa == fb and all(torch.equal(a[k], b[k]) for k in a)
    assert_same_members(run.population, again.population)


def test_population_size_caps_the_population(digits):
    run = SpecialistsRun(SpecialistsConfig(population_size=3, generations=2, finetune_steps=5), data=digits)
    sizes = []
    run.run(on_report=lambda r: sizes.append(r["population_size"]) if r["phase"] == "evolution" else None)
    assert sizes == [3, 3] and len(run.population) == 3 and len(run.niche_bank) == 10


def write_cifar_batch(path: Path, images: np.ndarray, labels: list[int]) -> None:
    batch = {b"batch_label": b"synthetic", b"labels": labels, b"data": images,
             b"filenames": [f"img{i}.png".encode() for i in range(len(labels))]}
    with open(path, "wb") as fh:
        pickle.dump(batch, fh, protocol=2)


def test_cnn_path_on_synthetic_cifar_files(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("data_batch_1", "test_batch"):
        write_cifar_batch(tmp_path / name, rng.integers(0, 256, (20, 3072), dtype=np.uint8), list(range(10)) * 2)
    with open(tmp_path / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)], b"num_vis": 3072}, fh, protocol=2)
    config = SpecialistsConfig(dataset="cifar10", data_folder=str(tmp_path), generations=2, finetune_steps=2,
                               batch_size=8)
    run = SpecialistsRun(config)
    final = run.run()
    assert final["generation"] == 2 and 0.0 <= final["best_fitness"] <= 1.0
    assert len(final["best_per_class"]) == 10 and all(0 <= a <= 1 for a in final["best_per_class"])
    state, _ = run.best()
    assert state["conv1.weight"].shape == (16, 3, 3, 3) and state["head.weight"].shape == (10, 32 * 8 * 8)
    assert all(torch.isfinite(t).all() for t in state.values())
    run.save(tmp_path / "saved")
    assert_same_members(SpecialistsRun.load(tmp_path / "saved").population, run.population)


# ---- cancelling ------------------------------------------------------------------------------------
def test_cancel_during_the_specialists_then_resume_gives_the_same_run(finished, digits):
    cancel = threading.Event()
    run = SpecialistsRun(TINY, data=digits)
    run.run(on_report=lambda r: cancel.set(), cancel=cancel)
    assert list(run.niche_bank) == [0] and run.population == [] and run.generation == 0
    run.run()
    assert run.generation == 3
    assert_same_members(run.population, finished[0].population)


def test_cancel_after_the_first_generation_keeps_the_population(digits):
    cancel = threading.Event()
    run = SpecialistsRun(TINY, data=digits)
    run.train_specialists()
    reports = []
    run.run(on_report=lambda r: (reports.append(r), cancel.set()), cancel=cancel)
    assert len(reports) == 1 and run.generation == 1
    assert len(run.population) == 10 and all(0 <= m.fitness <= 1 for m in run.population)


class CancelAfter:
    """Set after ``calls`` questions: stops a generation in the middle of fine-tuning the child."""

    def __init__(self, calls: int) -> None:
        self.calls = calls

    def is_set(self) -> bool:
        self.calls -= 1
        return self.calls < 0


def test_a_generation_cancelled_midway_leaves_no_trace(digits):
    run = SpecialistsRun(TINY, data=digits)
    run.train_specialists()
    before = list(run.population)
    run.run(cancel=CancelAfter(3))
    assert run.generation == 0 and all(a is b for a, b in zip(run.population, before))
    uncancelled = SpecialistsRun(TINY, data=digits)
    uncancelled.train_specialists()
    assert run.step() == uncancelled.step()


# ---- checkpoints -----------------------------------------------------------------------------------
def test_save_load_round_trip_and_resume(digits, tmp_path):
    run = SpecialistsRun(SpecialistsConfig(specialist_epochs=2, generations=1, finetune_steps=10), data=digits)
    run.run()
    folder = run.save(tmp_path / "pop")
    assert sorted(p.name for p in folder.iterdir()) == [POPULATION_JSON, POPULATION_NPZ]   # no temp files left
    meta = json.loads((folder / POPULATION_JSON).read_text())
    assert meta["schema_version"] == 1 and meta["generation"] == 1
    assert meta["members"][0]["origin"] == run.population[0].origin
    assert {p["name"] for p in meta["parameters"]} == set(run.population[0].state)
    loaded = SpecialistsRun.load(folder, data=digits)
    assert loaded.generation == 1 and loaded.config == run.config
    assert_same_members(loaded.population, run.population)
    assert_same_members([loaded.niche_bank[c] for c in range(10)], [run.niche_bank[c] for c in range(10)])
    assert loaded.step() == run.step()           # the random stream resumes where it stopped
    assert_same_members(loaded.population, run.population)


@pytest.fixture(scope="module")
def saved_bytes(finished, tmp_path_factory):
    folder = finished[0].save(tmp_path_factory.mktemp("saved") / "pop")
    return {name: (folder / name).read_bytes() for name in (POPULATION_JSON, POPULATION_NPZ)}


def rewrite_npz(folder: Path, change) -> None:
    with np.load(folder / POPULATION_NPZ, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    np.savez(folder / POPULATION_NPZ, **arrays)


def wrong_shape(folder):
    rewrite_npz(folder, lambda a: a.__setitem__("m0/head.weight", np.zeros((10, 63), np.float32)))


def missing_member(folder):
    rewrite_npz(folder, lambda a: [a.pop(k) for k in list(a) if k.startswith("m3/")])


def pickled_arrays(folder):
    with open(folder / POPULATION_NPZ, "wb") as fh:
        pickle.dump({"m0/head.weight": np.zeros((10, 64), np.float32)}, fh)


def object_array(folder):
    rewrite_npz(folder, lambda a: a.__setitem__("m0/head.bias", np.array([{"x": 1}], dtype=object)))


def changed_values(folder):
    rewrite_npz(folder, lambda a: a.__setitem__("m0/head.bias", a["m0/head.bias"] + 1))


@pytest.mark.parametrize("damage, message", [
    (wrong_shape, r"m0/head\.weight is float32 \[10, 63\], a freshly built model has float32 \[10, 64\]"),
    (missing_member, r"lacks m3/hidden\.weight \(member 3\)"),
    (lambda f: (f / POPULATION_NPZ).unlink(), r"population\.npz does not exist"),
    (lambda f: (f / POPULATION_JSON).unlink(), r"population\.json does not exist"),
    (pickled_arrays, r"population\.npz is a pickle, which is never loaded"),
    (object_array, r"holds Python objects"),
    (changed_values, r"not the file population\.json was saved with"),
    (lambda f: (f / POPULATION_JSON).write_text("{"), r"population\.json is not valid JSON"),
])
def test_a_damaged_population_is_refused(saved_bytes, digits, tmp_path, damage, message):
    folder = tmp_path / "pop"
    folder.mkdir()
    for name, payload in saved_bytes.items():
        (folder / name).write_bytes(payload)
    SpecialistsRun.load(folder, data=digits)     # intact, it loads
    damage(folder)
    with pytest.raises(ValueError, match=message):
        SpecialistsRun.load(folder, data=digits)


def test_loading_refuses_a_config_that_changes_the_model(saved_bytes, tmp_path):
    for name, payload in saved_bytes.items():
        (tmp_path / name).write_bytes(payload)
    with pytest.raises(ValueError, match="changes seed, hidden"):
        load_population(tmp_path, SpecialistsConfig(seed=1, hidden=32))
    assert load_population(tmp_path, SpecialistsConfig(generations=9)).config.generations == 9


# ---- config ----------------------------------------------------------------------------------------
def test_config_file_round_trip(tmp_path):
    path = tmp_path / "specialists.json"
    path.write_text(json.dumps({"seed": 3, "generations": 5, "lr": 0.05, "population_size": None}))
    assert load_config(path) == SpecialistsConfig(seed=3, generations=5, lr=0.05)
    config = SpecialistsConfig(dataset="mnist", data_folder="/data/mnist", niche_negatives=0.2)
    save_config(config, tmp_path / "saved.json")
    assert load_config(tmp_path / "saved.json") == config
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("text, named", [
    ('{"generations": 2, "speed": 11}', "unknown key 'speed'"),
    ('{"lr": "fast"}', "lr must be a finite number > 0, got 'fast'"),
    ('{"batch_size": 32.5}', "batch_size must be a whole number >= 1"),
    ('{"mutation_std": NaN}', "mutation_std must be a finite number >= 0, got nan"),
    ('{"specialist_epochs": -1}', "specialist_epochs must be a whole number >= 1, got -1"),
    ('{"dataset": "imagenet"}', "dataset 'imagenet' is not one of"),
    ('{"lr": 0.1,', "is not valid JSON"),
    ('[1, 2]', "must hold a JSON object"),
])
def test_bad_config_files_name_the_problem(tmp_path, text, named):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        load_config(path)
    assert named in str(caught.value) and str(path) in str(caught.value)


def test_every_bad_value_is_named_at_once(tmp_path):
    with pytest.raises(ValueError) as caught:
        SpecialistsConfig(momentum=1.0, population_size=0, device="toaster", seed=True)
    message = str(caught.value)
    assert all(name in message for name in ("momentum", "population_size", "device", "seed"))
    with pytest.raises(ValueError, match="does not exist"):
        load_config(tmp_path / "missing.json")


def test_niche_negatives_mix_in_other_classes(digits):
    run = SpecialistsRun(SpecialistsConfig(specialist_epochs=5, niche_negatives=0.8), data=digits)
    run.train_specialists()
    # 80% of each niche from other classes: no longer one-class predictors, still strongest on their own class
    own = [m.per_class[c] for c, m in run.niche_bank.items()]
    other = [a for c, m in run.niche_bank.items() for k, a in enumerate(m.per_class) if k != c]
    assert math.fsum(m.fitness for m in run.niche_bank.values()) / 10 > 0.2
    assert np.mean(own) > 0.9 > np.mean(other)
