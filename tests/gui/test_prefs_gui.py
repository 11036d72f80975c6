"""Settings the window keeps (lab.gui.prefs), driven under Xvfb: each arena's Task and Evolution
values survive switching arenas and a restart, as do the Stress settings, theme, log pane, export
folder and formats; a corrupt settings file is named and set aside; Reset to defaults; and Quit
during a run's first generation says that nothing is checkpointed yet."""
from __future__ import annotations

import json
import time
import tkinter as tk

import pytest

from lab.gui.prefs import FILE_NAME, SettingsFile
from tests.gui.conftest import RecordingDialogs, wait_until


def pick_arena(app, name: str) -> None:
    """Choose an arena in the Evolution Lab's picker as a user does."""
    panel = app.tabs["Evolution Lab"].settings_panel
    panel.arena.set(name)
    panel.arena_box.event_generate("<<ComboboxSelected>>")
    app.root.update()


@pytest.fixture
def panel(lab_app):
    panel = lab_app.tabs["Evolution Lab"].settings_panel
    lab_app.notebook.select(0)
    panel.restore({}, "grokking")   # what earlier tests left in each arena is forgotten
    yield panel
    panel.restore({}, "grokking")   # the next test finds the defaults


def test_a_task_value_survives_switching_the_arena_away_and_back(lab_app, panel):
    pick_arena(lab_app, "grokking")
    panel.task_form.set("step_cap", 600)
    panel.form.set("population", 24)
    pick_arena(lab_app, "m2n2")
    assert "step_cap" not in panel.task_form.vars and panel.form.vars["population"].get() == "16", \
        "another arena shows its own settings"
    panel.form.set("population", 40)
    pick_arena(lab_app, "grokking")
    assert panel.task_form.vars["step_cap"].get() == "600"
    assert panel.form.vars["population"].get() == "24"
    assert dict(panel.settings().task)["step_cap"] == 600, "a run started now uses the cap that is shown"
    pick_arena(lab_app, "m2n2")
    assert panel.form.vars["population"].get() == "40"


@pytest.fixture
def make_app(tmp_path):
    """Open a window of its own with settings in ``tmp_path`` (a 'restart' is opening another)."""
    from lab.gui.app import App
    from lab.registry import Registry
    opened = []

    def make(dialogs=None):
        root = tk.Tk()
        root.geometry("1280x760+0+0")
        app = App(root, Registry(tmp_path / "registry"), dialogs=dialogs or RecordingDialogs(), device="cpu",
                  settings=SettingsFile(tmp_path / "config" / FILE_NAME))
        root.update()
        opened.append(app)
        return app
    yield make
    for app in opened:
        try:
            app.root.destroy()
        except tk.TclError:
            pass


def close(app) -> None:
    app.request_quit()   # no job runs: the window closes at once, saving the settings
    with pytest.raises(tk.TclError):
        app.root.winfo_exists()


def test_settings_survive_a_restart(make_app, tmp_path):
    app = make_app()
    evo, stress = app.tabs["Evolution Lab"].settings_panel, app.tabs["Stress Chamber"]
    pick_arena(app, "grokking")
    evo.task_form.set("step_cap", 600)
    evo.form.set_values({"population": 24, "landscape": "tank"})
    pick_arena(app, "m2n2")
    evo.form.set("generations", 12)
    stress.form.set_values({"runs": 7, "step_cap": 900})
    stress.export_options.set_values(formats=["svg"], dpi=600, size="double")
    app.invoke("toggle_theme")
    app.invoke("toggle_log")
    app.dialogs.answers["directory"] = str(tmp_path)
    assert app.ask_export_folder("Export") == str(tmp_path)
    close(app)
    data = json.loads((tmp_path / "config" / FILE_NAME).read_text())
    assert data["version"] == 1 and data["arenas"]["grokking"]["task"] == {"step_cap": 600}

    again = make_app()
    evo, stress = again.tabs["Evolution Lab"].settings_panel, again.tabs["Stress Chamber"]
    assert evo.arena.get() == "m2n2" and evo.form.vars["generations"].get() == "12"
    pick_arena(again, "grokking")
    assert evo.task_form.vars["step_cap"].get() == "600"
    assert (evo.form.vars["population"].get(), evo.form.vars["landscape"].get()) == ("24", "tank")
    assert stress.form.vars["runs"].get() == "7" and stress.form.vars["step_cap"].get() == "900"
    assert stress._task(stress.form.values()).step_cap == 900
    assert stress.export_options.values() == {"formats": ["svg"], "dpi": 600, "size": "double"}
    assert again.theme == "dark" and again.style.theme_use() == "sun-valley-dark"
    assert again.log_visible
    asked = []
    again.dialogs.ask_directory = lambda title, initial=None: asked.append(initial)
    again.ask_export_folder("Export")
    assert asked == [str(tmp_path)], "the folder picker opens in the last export folder"
    assert str(tmp_path / "registry") == again.prefs.registry


def test_a_stress_arena_keeps_its_own_settings_while_the_window_is_open(lab_app):
    stress = lab_app.tabs["Stress Chamber"]
    stress.load_prefs(type(lab_app.prefs)())   # every arena's remembered values at the defaults, whatever ran before
    stress.set_arena("grokking")
    stress.form.set_values({"runs": 5, "step_cap": 700})
    stress.set_arena("m2n2")
    assert stress.form.vars["runs"].get() == "20" and "step_cap" not in stress.form.vars
    stress.set_arena("grokking")
    assert stress.form.vars["runs"].get() == "5" and stress.form.vars["step_cap"].get() == "700"
    stress.load_prefs(type(lab_app.prefs)())   # back to the defaults for the next test
    assert stress.form.vars["step_cap"].get() == "2500"


def test_a_corrupt_settings_file_is_named_set_aside_and_the_defaults_used(make_app, tmp_path, caplog):
    path = tmp_path / "config" / FILE_NAME
    path.parent.mkdir()
    path.write_text('{"version": 1, "theme": "dark", ')
    app = make_app()
    status = app.status_message.get()
    assert str(path) in status and "is not valid JSON" in status and "defaults are used" in status
    assert any(str(path) in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    (aside,) = [p for p in path.parent.iterdir() if ".corrupt-" in p.name]
    assert aside.read_text() == '{"version": 1, "theme": "dark", '
    assert app.theme == "light" and app.tabs["Evolution Lab"].settings_panel.form.vars["population"].get() == "16"
    close(app)
    assert json.loads(path.read_text())["version"] == 1, "replaced by a good file"


def test_reset_to_defaults_asks_then_restores_every_form_and_the_file(make_app, tmp_path):
    app = make_app()
    evo, stress = app.tabs["Evolution Lab"].settings_panel, app.tabs["Stress Chamber"]
    evo.task_form.set("step_cap", 600)
    evo.form.set("population", 30)
    stress.form.set("runs", 9)
    stress.export_options.set_values(formats=["pdf"])
    app.invoke("toggle_theme")
    app.dialogs.answers["yes_no"] = False
    assert app.invoke("reset_settings") is False
    assert evo.task_form.vars["step_cap"].get() == "600", "No changes nothing"
    app.dialogs.answers["yes_no"] = True
    assert app.invoke("reset_settings") is True
    assert [d[1] for d in app.dialogs.shown] == ["Reset settings", "Reset settings"]
    assert evo.task_form.vars["step_cap"].get() == "2500" and evo.form.vars["population"].get() == "16"
    assert stress.form.vars["runs"].get() == "20" and stress.export_options.values()["formats"] == ["png", "pdf", "svg"]
    assert app.theme == "light"
    data = json.loads((tmp_path / "config" / FILE_NAME).read_text())
    assert data["theme"] == "light" and data["export_folder"] is None
    assert all(not values for sections in data["arenas"].values() for values in sections.values())
    pick_arena(app, "m2n2")
    pick_arena(app, "grokking")
    assert evo.task_form.vars["step_cap"].get() == "2500", "the per-arena memory is cleared too"


def test_quit_during_the_first_generation_says_nothing_is_checkpointed_yet(lab_app):
    from tests.gui.test_evolution_lab import TINY_TASK
    tab = lab_app.tabs["Evolution Lab"]
    panel = tab.settings_panel
    pick_arena(lab_app, "grokking")
    panel.form.set_values({"population": 4, "seeds_per_genome": 1, "generations": 3, "aliens": 1, "elites": 1,
                           "run_seed": 5, "device": "cpu", "landscape": "sprinter"})
    panel.task_form.set_values({**TINY_TASK, "step_cap": 400, "eval_interval": 400})
    try:
        assert tab.start()
        question = lab_app.quit_question(lab_app.runner.active_jobs())
        assert tab.evo.generation == 0
        assert "has not finished a generation yet" in question and "no generation is checkpointed" in question
        assert "last finished generation" not in question
        wait_until(lab_app.root, lambda: len(tab.history) >= 1 or not tab.running, timeout=120)
        if tab.running and tab.evo.generation >= 1:
            assert f"generation {tab.evo.generation} is checkpointed" in tab.quit_note()
    finally:
        tab.stop()
        wait_until(lab_app.root, lambda: not tab.running, timeout=120)
        panel.restore({}, "grokking")


def test_starting_a_long_job_saves_the_settings_it_starts_with(make_app, tmp_path):
    app = make_app()
    app.tabs["Evolution Lab"].settings_panel.form.set("population", 9)
    job = app.submit(lambda job: None, title="nothing")
    data = json.loads((tmp_path / "config" / FILE_NAME).read_text())
    assert data["arenas"]["grokking"]["evolution"]["population"] == 9, "kept before the job even runs"
    wait_until(app.root, lambda: not job.active, timeout=10)
    close(app)


def test_sigterm_closes_the_real_window_cleanly_and_keeps_the_settings(tmp_path):
    """``python main.py`` sent SIGTERM (as at logout) saves its settings and exits 0, no traceback."""
    import os
    import signal
    import subprocess
    import sys
    env = {**os.environ, "SPECIATION_LAB_CONFIG_DIR": str(tmp_path / "config")}
    proc = subprocess.Popen([sys.executable, "main.py", "--registry", str(tmp_path / "registry")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    settings = tmp_path / "config" / FILE_NAME
    try:
        first = proc.stdout.readline()   # the log's first line says the window is open
        assert "window open" in first and proc.poll() is None, first + proc.communicate()[0]
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out = first + proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Traceback" not in out, out
    data = json.loads(settings.read_text())
    assert data["registry"] == str(tmp_path / "registry") and data["geometry"]


def test_pane_dividers_are_where_the_user_left_them_after_a_restart(make_app, tmp_path):
    from lab.gui.layout import paned_windows
    app = make_app()
    app.root.update()
    panes = [p for p in paned_windows(app.notebook) if p.winfo_ismapped()]
    assert len(panes) >= 2, "the Evolution Lab has a settings|charts and a charts|tables divider"
    moved = {}
    for pane in panes:
        moved[str(pane)] = pane.sashpos(0) - 40
        pane.sashpos(0, moved[str(pane)])
    app.root.update()
    moved = {str(p): p.sashpos(0) for p in panes}
    close(app)
    stored = json.loads((tmp_path / "config" / FILE_NAME).read_text())["sashes"]
    assert {k: v[0] for k, v in stored.items() if k in moved} == moved

    again = make_app()
    restored = lambda: all(again.root.nametowidget(k).sashpos(0) == v for k, v in moved.items())  # noqa: E731
    wait_until(again.root, restored, timeout=5)
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        again.root.update()
    assert restored(), "and they stay there"


def test_stored_pane_dividers_of_the_wrong_shape_are_dropped():
    from lab.gui.layout import clean_sashes
    assert clean_sashes({".a.b": [120, 300], ".c": [], ".d": [-1], ".e": ["x"], "f": [3], ".g": [True],
                         ".h": 5}) == {".a.b": [120, 300]}
    assert clean_sashes(["not", "a", "mapping"]) == {}


def test_after_a_restart_the_newest_run_is_shown_and_f7_resumes_it(make_app):
    from tests.gui.test_evolution_lab import TINY_TASK
    app = make_app()
    tab = app.tabs["Evolution Lab"]
    tab.settings_panel.form.set_values({"population": 3, "seeds_per_genome": 1, "generations": 1, "aliens": 0,
                                        "elites": 1, "device": "cpu"})
    tab.settings_panel.task_form.set_values(TINY_TASK)
    tab.start_button.invoke()
    wait_until(app.root, lambda: not tab.running, timeout=120)
    run_id = tab.evo.run_id
    close(app)

    again = make_app()
    evo = again.tabs["Evolution Lab"]
    assert evo.run_choice.get() == run_id and evo.run_state.cget("text") == "finished, 1 generation"
    assert len(evo.history) == 1 and len(evo.table.get_children()) == 3, "its charts and last population"
    assert run_id in evo.run_label.cget("text")


def test_the_insights_filters_survive_a_restart_and_a_bad_stored_value_is_dropped(make_app, tmp_path):
    app = make_app()
    app.tabs["Insights"].form.set_values({"top_k": 20, "min_trials": 3, "tag": "keep", "proposals": 5})
    close(app)
    path = tmp_path / "config" / FILE_NAME
    data = json.loads(path.read_text())
    assert data["arenas"]["grokking"]["insights"] == {"top_k": 20, "min_trials": 3, "tag": "keep", "proposals": 5}
    again = make_app()
    form = again.tabs["Insights"].form
    assert form.values() == {"top_k": 20, "min_trials": 3, "tag": "keep", "proposals": 5, "seed": 0}
    close(again)
    data["arenas"]["grokking"]["insights"]["top_k"] = -7        # edited by hand: out of bounds
    data["arenas"]["grokking"]["insights"]["proposals"] = "many"
    path.write_text(json.dumps(data))
    third = make_app()
    values = third.tabs["Insights"].form.values()
    assert values["top_k"] == 0 and values["proposals"] == 8 and values["min_trials"] == 3
