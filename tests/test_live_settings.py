"""Settings changed while a direct run runs (lab.arenas.live_settings), for every arena's engine:
a run changed mid-way, saved and resumed (before or after the change), equals one run straight
through with the same change; fixed settings are refused and change nothing; the history table
and its CSV carry the change."""
from __future__ import annotations

import csv
import dataclasses
import io

import numpy as np
import pytest

from lab.arenas import get_arena
from lab.arenas.genreg.engine import GenregSettings
from lab.arenas.genreg.task import GenregTask
from lab.arenas.live_settings import engine_history_csv, history_csv, read_settings_log, settings_diff
from lab.arenas.m2n2.engine import M2N2Settings
from lab.arenas.m2n2.task import M2N2Task
from lab.arenas.neat.engine import NeatSettings
from lab.arenas.neat.parallel import ParallelConfig
from lab.arenas.neat.task import NeatTask
from lab.arenas.weights_io import read_weight_archive

# arena: (task, starting settings, the change, the pass it is made at, total passes)
CASES = {
    "genreg": (GenregTask(generations=8, eval_interval=2), GenregSettings(population=24, hidden=8),
               dict(child_mutation_rate=0.3, reward=4.0, images_per_class=6), 3),
    "m2n2": (M2N2Task(hidden=8, passes=60, eval_interval=20, target_acc=0.2), M2N2Settings(archive_size=6),
             dict(mutation_sigma=0.2, alpha=0.5, partner="uniform"), 25),
    "neat": (NeatTask(task="xor", generations=8, stop_at_target=False), NeatSettings(population=30),
             dict(weight_mutate=0.3, add_node=0.2, c1=2.0, species_target=4), 3),
}
FIXED = {"genreg": dict(hidden=16), "m2n2": dict(archive_size=8), "neat": dict(population=40)}


def _engine(name, task, settings, seed=3):
    arena = get_arena(name)
    if name == "neat":
        return arena.engine(task, settings, seed, parallel=ParallelConfig())
    return arena.engine(task, settings, seed, device="cpu")


def _step_to(engine, passes):
    while engine.passes < passes and not engine.done:
        engine.step(passes - engine.passes)


def _state(arena, engine, folder):
    """Everything a run is: its saved arrays and JSON (the same save code for both runs)."""
    arena.save_run(engine, folder)
    stem = "population" if arena.name == "genreg" else "state"
    arrays, _ = read_weight_archive(folder / f"{stem}.npz", "test")
    meta = (folder / f"{stem}.json").read_text()
    return {k: v.tolist() for k, v in arrays.items()}, meta.split('"npz_sha256"')[0], engine_history_csv(engine)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_changed_run_saved_and_resumed_equals_one_run_straight_through(name, tmp_path):
    task, settings, change, at = CASES[name]
    arena = get_arena(name)
    total = task.passes if name == "m2n2" else task.generations
    new = dataclasses.replace(settings, **change)

    straight = _engine(name, task, settings)
    _step_to(straight, at)
    assert straight.change_settings(new) == {k: [getattr(settings, k), v] for k, v in change.items()}
    assert straight.current_settings == new and straight.settings_log == [{"at": at, "changes": straight.settings_log[0]["changes"]}]
    _step_to(straight, total)
    want = _state(arena, straight, tmp_path / "straight")

    for save_at in (at - 1, at + 2):           # saved before the change, and after it
        run = _engine(name, task, settings)
        _step_to(run, save_at)
        if save_at > at:
            raise_at = run.passes
            run = _engine(name, task, settings)
            _step_to(run, at)
            run.change_settings(new)
            _step_to(run, raise_at)
        arena.save_run(run, tmp_path / f"at{save_at}")
        getattr(run, "close", lambda: None)()
        resumed = arena.resume_run(tmp_path / f"at{save_at}", device="cpu")
        assert resumed.current_settings == (new if save_at > at else settings)
        _step_to(resumed, at)
        if save_at < at:
            resumed.change_settings(new)
        _step_to(resumed, total)
        assert _state(arena, resumed, tmp_path / f"resumed{save_at}") == want
        getattr(resumed, "close", lambda: None)()

    # and the change mattered: the same run without it ends elsewhere
    unchanged = _engine(name, task, settings)
    _step_to(unchanged, total)
    assert unchanged.history_table()[1][at + 1:] != straight.history_table()[1][at + 1:]
    assert unchanged.history_table()[1][:at] == straight.history_table()[1][:at]
    for e in (straight, unchanged):
        getattr(e, "close", lambda: None)()


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_fixed_setting_is_refused_and_nothing_changes(name):
    task, settings, change, at = CASES[name]
    engine = _engine(name, task, settings)
    engine.step(1)
    bad = dataclasses.replace(settings, **change, **FIXED[name])
    with pytest.raises(ValueError, match=f"{next(iter(FIXED[name]))} .*cannot change while"):
        engine.change_settings(bad)
    assert engine.current_settings == settings and engine.settings_log == []
    assert engine.change_settings(settings) == {} and engine.settings_log == []   # no change: nothing recorded
    getattr(engine, "close", lambda: None)()


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_history_is_a_row_per_generation_with_the_change_marked(name):
    task, settings, change, at = CASES[name]
    engine = _engine(name, task, settings)
    _step_to(engine, at)
    engine.change_settings(dataclasses.replace(settings, **change))
    _step_to(engine, at + 3)
    columns, rows = engine.history_table()
    first = 0 if name == "m2n2" else 1          # M2N2's pass 0: the two initial models
    assert [r[0] for r in rows] == list(range(first, at + 4))
    assert all(len(r) == len(columns) for r in rows)
    table = list(csv.DictReader(io.StringIO(engine_history_csv(engine))))
    assert list(table[0]) == [*columns, "settings_change"]
    marked = [r for r in table if r["settings_change"]]
    assert len(marked) == 1 and int(marked[0][columns[0]]) == at + 1
    assert set(marked[0]["settings_change"].split("; ")) == {f"{k}={v}" for k, v in change.items()}
    getattr(engine, "close", lambda: None)()


def test_settings_diff_and_the_saved_log_are_checked():
    a, b = GenregSettings(), GenregSettings(reward=2.0, hidden=32)
    assert settings_diff(a, GenregSettings(reward=2.0)) == {"reward": [10.0, 2.0]}
    with pytest.raises(ValueError, match=r"hidden \(64\) cannot change while a GENREG run runs"):
        settings_diff(a, b, ("population", "hidden"), "GENREG")
    with pytest.raises(ValueError, match="must be GenregSettings"):
        settings_diff(a, M2N2Settings())
    assert read_settings_log(None, "x") == []
    for bad in ([{"at": -1, "changes": {}}], [{"at": True, "changes": {}}], {"at": 1}, [{"at": 2, "changes": {"a": 1}}]):
        with pytest.raises(ValueError, match="settings_log"):
            read_settings_log(bad, "x")


def test_history_csv_puts_a_change_after_the_last_row_on_a_row_of_its_own():
    text = history_csv(("generation", "acc"), [[1, 0.5], [2, float("nan")]],
                       [{"at": 2, "changes": {"reward": [10.0, 2.0]}}])
    assert text.splitlines() == ["generation,acc,settings_change", "1,0.5,", "2,,", "3,,reward=2.0"]


def test_a_damaged_settings_log_in_a_save_is_named(tmp_path):
    task, settings, change, at = CASES["genreg"]
    arena = get_arena("genreg")
    engine = _engine("genreg", task, settings)
    engine.step(2)
    arena.save_run(engine, tmp_path)
    path = tmp_path / "population.json"
    path.write_text(path.read_text().replace('"settings_log": []', '"settings_log": [{"at": "x"}]'))
    with pytest.raises(ValueError, match="settings_log is not a list"):
        arena.resume_run(tmp_path, device="cpu")
    assert np.isfinite(engine.trust.numpy()).all()
