"""Save and Resume in the direct-run window, driven through its widgets: a small M2N2 run stopped
partway, saved, the window closed, a new window resumed from the folder and run to the end gives
exactly the numbers of a run that never stopped; a bad folder is one message and changes nothing."""
from __future__ import annotations

import json

import pytest

from tests.gui.conftest import wait_until
from tests.gui.test_direct_run import SMALL_TASK, evolution_lab, genreg_lab, neat_lab  # noqa: F401 - fixtures

TASK = {**SMALL_TASK, "passes": 1500}


def _open(lab_app):
    win = lab_app.invoke("direct_run")
    assert win is not None and not win.closed
    win.task_form.set_values(TASK)
    win.run_form.set_values({"seed": 4, "device": "cpu"})
    lab_app.root.update()
    return win


def _numbers(snapshot):
    """The snapshot without what only says how long it took."""
    return json.loads(json.dumps({k: v for k, v in snapshot.items() if "wall" not in k and "time" not in k},
                                 default=lambda array: array.tolist()))


def _in_folder(lab_app, folder, action):
    lab_app.dialogs.answers["directory"] = str(folder)
    try:
        return action()
    finally:
        lab_app.dialogs.answers.pop("directory")


def test_a_run_stopped_saved_and_resumed_in_a_new_window_ends_as_if_it_never_stopped(lab_app, evolution_lab,
                                                                                       tmp_path):
    win = _open(lab_app)
    assert str(win.save_button.cget("state")) == "disabled", "nothing to save before a run"
    assert win.start()
    assert str(win.resume_button.cget("state")) == "disabled"
    wait_until(lab_app.root, lambda: not win.running, timeout=120)
    assert win.outcome == "finished"
    whole = _numbers(win.snapshot)
    assert whole["passes"] == 1500

    assert win.start()
    wait_until(lab_app.root, lambda: win.snapshot is not None and win.snapshot["passes"] > 0, timeout=60)
    win.stop_button.invoke()
    wait_until(lab_app.root, lambda: not win.running, timeout=30)
    stopped_at = win.snapshot["passes"]
    assert win.outcome == "stopped" and 0 < stopped_at < 1500
    assert str(win.save_button.cget("state")) == "normal"
    paths = _in_folder(lab_app, tmp_path / "saved", win.save_button.invoke)
    assert paths and all((tmp_path / "saved").joinpath(p).exists() for p in paths)
    assert "Saved the run" in win.status.cget("text")
    win.close()

    win = _open(lab_app)
    win.task_form.set_values({"passes": 7})   # the folder, not the form, says what the run is
    assert _in_folder(lab_app, tmp_path / "saved", win.resume_button.invoke)
    wait_until(lab_app.root, lambda: win.snapshot is not None, timeout=60)
    first = win.snapshot["passes"]
    assert first >= stopped_at, "the first report shows where the run was"
    assert "Resumed from" in win.source_label.cget("text")
    wait_until(lab_app.root, lambda: not win.running, timeout=120)
    assert win.outcome == "finished" and "Passes 1,500 of 1,500" in win.status.cget("text")
    assert _numbers(win.snapshot) == whole
    assert win.task_form.values()["passes"] == 1500
    assert str(win.save_button.cget("state")) == "normal"
    win.close()


def test_a_bad_folder_is_one_message_and_changes_nothing(lab_app, evolution_lab, tmp_path):
    win = _open(lab_app)
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "not-a-run" / "state.json").write_text("{not json")
    for folder in (tmp_path / "no-such-folder", tmp_path / "not-a-run"):
        jobs, label = len(lab_app.runner.jobs), win.source_label.cget("text")
        assert _in_folder(lab_app, folder, win.resume_run) is False
        (error,) = lab_app.dialogs.errors()
        assert "Nothing was resumed" in error[2] and "cannot resume from" in error[2] and "Traceback" not in error[2]
        assert len(lab_app.runner.jobs) == jobs and not win.running and win.snapshot is None
        assert win.source_label.cget("text") == label
        lab_app.dialogs.shown.clear()
    win.close()


def test_a_folder_whose_arrays_are_broken_is_one_message_and_the_window_stays_as_it_was(lab_app, evolution_lab,
                                                                                        tmp_path):
    import dataclasses

    from lab.arenas import get_arena
    arena = get_arena("m2n2")
    task = dataclasses.replace(arena.default_task(), passes=20, eval_interval=10, hidden=8)
    engine = arena.engine(task, arena.settings_class(), 3, device="cpu")
    engine.step(5)
    paths = arena.save_run(engine, tmp_path / "broken")
    for path in paths:
        if str(path).endswith(".npz"):
            (tmp_path / "broken" / path).write_bytes(b"not an npz file")
    win = _open(lab_app)
    label, seed = win.source_label.cget("text"), win.run_form.values()["seed"]
    assert _in_folder(lab_app, tmp_path / "broken", win.resume_run)
    wait_until(lab_app.root, lambda: not win.running, timeout=60)
    (error,) = lab_app.dialogs.errors()
    assert "cannot resume from" in error[2] and "Traceback" not in error[2], error
    lab_app.dialogs.shown.clear()
    assert win.snapshot is None and win.engine is None and win.source_label.cget("text") == label
    assert win.run_form.values()["seed"] == seed and win.task_form.values()["passes"] == TASK["passes"]
    win.close()


@pytest.mark.parametrize("arena_lab", ["genreg_lab", "neat_lab"])
def test_every_arena_saves_and_resumes_from_the_window(lab_app, arena_lab, request, tmp_path):
    from tests.gui.test_direct_run import SMALL_GENREG_ENGINE, SMALL_GENREG_TASK, SMALL_NEAT_ENGINE, SMALL_NEAT_TASK
    request.getfixturevalue(arena_lab)
    task, engine = ((SMALL_GENREG_TASK, SMALL_GENREG_ENGINE) if arena_lab == "genreg_lab"
                    else (SMALL_NEAT_TASK, SMALL_NEAT_ENGINE))
    win = lab_app.invoke("direct_run")
    win.task_form.set_values(task)
    win.engine_form.set_values(engine)
    win.run_form.set_values({"seed": 2, "device": "cpu"})
    assert win.start()
    wait_until(lab_app.root, lambda: not win.running, timeout=120)
    assert win.outcome == "finished"
    whole = _numbers(win.snapshot)
    assert _in_folder(lab_app, tmp_path / "saved", win.save_run)
    win.close()
    assert (tmp_path / "saved" / "history.csv").read_text().startswith("generation,")   # beside the state
    win = lab_app.invoke("direct_run")
    assert _in_folder(lab_app, tmp_path / "saved", win.resume_run)
    wait_until(lab_app.root, lambda: not win.running, timeout=120)
    assert win.outcome == "finished" and _numbers(win.snapshot)["passes"] == whole["passes"]
    # the form shows the resumed run's engine settings (what Apply would start from), not the defaults
    assert {k: win.engine_form.values()[k] for k in engine} == engine
    win.close()
