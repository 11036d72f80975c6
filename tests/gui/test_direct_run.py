"""The direct-run window driven through its widgets: a small M2N2 run to the end (status, progress,
four charts, export), Stop mid-run, bad input and a busy runner refused with one message, closing
while running, engine settings from the selected genome, the button per arena, a small GENREG
run counted in generations with its own four charts, and NEAT runs (XOR, a backprop task chosen in
the form, bad task values)."""
from __future__ import annotations

import csv

import time

import pytest

from lab.genome import Genome, get_spec
from lab.gui.direct_live import open_map
from tests.gui.conftest import wait_until

# a real M2N2 run small enough for a test: a 64-32-10 MLP on digits
SMALL_TASK = {"passes": 300, "eval_interval": 50, "hidden": 32, "dataset": "digits", "data_folder": "",
              "target_acc": 0.85}


# a real GENREG run small enough for a test: 20 generations of 20 genomes, 64-8-10 MLPs on digits
SMALL_GENREG_TASK = {"generations": 20, "eval_interval": 5, "dataset": "digits", "data_folder": "",
                     "target_acc": 0.8, "crossover": True}
SMALL_GENREG_ENGINE = {"population": 20, "images_per_class": 2, "hidden": 8}

# a real NEAT run small enough for a test: XOR, 50 genomes, at most 30 generations (it stops once solved)
SMALL_NEAT_TASK = {"task": "xor", "generations": 30}
SMALL_NEAT_ENGINE = {"population": 50}
NEAT_CHART_TITLES = ("Fitness over generations", "Species sizes over generations", "Champion network",
                     "Species controller: count, target and threshold")


def _arena_lab(lab_app, arena: str):
    tab = lab_app.tabs["Evolution Lab"]
    before = tab.settings_panel.arena.get()
    lab_app.notebook.select(0)
    tab.settings_panel.arena.set(arena)
    tab.settings_panel._arena_changed()
    yield tab
    if tab.direct_window is not None:
        tab.direct_window.close()
    wait_until(lab_app.root, lambda: not lab_app.runner.active_jobs(), timeout=30)
    tab.settings_panel.arena.set(before)
    tab.settings_panel._arena_changed()


@pytest.fixture
def evolution_lab(lab_app):
    yield from _arena_lab(lab_app, "m2n2")


@pytest.fixture
def genreg_lab(lab_app):
    yield from _arena_lab(lab_app, "genreg")


@pytest.fixture
def neat_lab(lab_app):
    yield from _arena_lab(lab_app, "neat")


@pytest.fixture
def neat_window(lab_app, neat_lab):
    win = lab_app.invoke("direct_run")
    assert win is not None and win.top.title().startswith("Direct run: NEAT")
    win.run_form.set_values({"seed": 4, "device": "cpu"})
    lab_app.root.update()
    return win


@pytest.fixture
def window(lab_app, evolution_lab):
    win = lab_app.invoke("direct_run")
    assert win is not None and not win.closed
    win.task_form.set_values(SMALL_TASK)
    win.run_form.set_values({"seed": 4, "device": "cpu"})
    lab_app.root.update()
    return win


def _run_to_the_end(lab_app, window) -> str:
    """Start the window's run (buttons switch while it runs), wait for it to finish whole; its status line."""
    assert window.start()
    assert window.running and str(window.start_button.cget("state")) == "disabled"
    assert str(window.stop_button.cget("state")) == "normal"
    wait_until(lab_app.root, lambda: not window.running, timeout=60)
    assert window.outcome == "finished" and window.job.state == "done"
    assert float(window.progress.cget("value")) == pytest.approx(1.0)
    return window.status.cget("text")


def _export(lab_app, window, folder):
    """Export the window's charts into ``folder`` (the folder dialog answered with it)."""
    lab_app.dialogs.answers["directory"] = str(folder)
    try:
        return window.export_charts()
    finally:
        lab_app.dialogs.answers.pop("directory")


def test_the_button_and_the_command_open_a_direct_run_only_for_arenas_with_an_engine(lab_app, evolution_lab):
    assert str(evolution_lab.direct_button.cget("state")) == "normal"
    evolution_lab.settings_panel.arena.set("grokking")
    assert str(evolution_lab.direct_button.cget("state")) == "disabled"
    assert lab_app.invoke("direct_run") is None
    (error,) = lab_app.dialogs.errors()
    assert "no engine" in error[2]
    lab_app.dialogs.shown.clear()
    evolution_lab.settings_panel.arena.set("m2n2")
    root = lab_app.root
    root.focus_force()
    evolution_lab.direct_button.focus_set()
    root.update()
    evolution_lab.direct_button.event_generate("<Control-d>")  # the keyboard shortcut
    root.update()
    win = evolution_lab.direct_window
    assert win is not None and win.top.winfo_exists() and win.top.title().startswith("Direct run: M2N2")
    assert lab_app.invoke("direct_run") is win, "a second open brings the same window forward"


def test_a_small_run_fills_status_progress_and_the_four_charts(lab_app, window, tmp_path):
    draws = window.charts.draws
    status = _run_to_the_end(lab_app, window)
    for words in ("Finished", "Passes 300 of 300", "best train acc", "test acc", "children kept"):
        assert words in status, status
    assert window.snapshot["passes"] == 300 and window.history["passes"][-1] == 300
    assert window.charts.draws >= draws + 1
    fitness, accuracy, per_class, attraction = window.charts.figure.axes[:4]
    assert fitness.collections and len(fitness.lines[0].get_xdata()) == len(window.history["passes"]) >= 2
    assert [len(line.get_xdata()) for line in accuracy.lines[:2]] == [7, 7]  # passes 0, 50, ..., 300
    assert per_class.images[-1].get_array().shape == (20, 10)
    assert attraction.images[-1].get_array().shape == (20, 20)
    assert str(window.start_button.cget("state")) == "normal"
    paths = _export(lab_app, window, tmp_path)
    assert sorted(p.suffix for p in paths) == [".csv", ".pdf", ".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in paths)   # readable like any file the user makes
    (log,) = [p for p in paths if p.suffix == ".csv"]
    assert log.name.endswith("-history.csv")   # M2N2's history: the per-pass fitness log
    lines = log.read_text().splitlines()
    assert lines[0] == "pass,replaced_slot,children_accepted,best_train_acc,mean_train_acc,test_acc,settings_change"
    assert len(lines) == 302   # passes 0..300
    assert float(lines[-1].split(",")[5]) == pytest.approx(window.snapshot["test_acc"], abs=1e-6)


def test_stop_mid_run_cancels_promptly(lab_app, evolution_lab, window):
    window.task_form.set_values({"passes": 50_000})
    assert window.start()
    wait_until(lab_app.root, lambda: window.snapshot is not None and window.snapshot["passes"] > 0, timeout=30)
    assert evolution_lab.start() is False, "an evolution run would only queue behind the direct run"
    assert "A direct run is in progress" in lab_app.dialogs.errors()[0][2]
    lab_app.dialogs.shown.clear()
    window.stop_button.invoke()
    asked = time.monotonic()
    wait_until(lab_app.root, lambda: not window.running, timeout=30)
    assert time.monotonic() - asked < 5.0
    assert window.outcome == "stopped" and window.job.state == "cancelled"
    assert 0 < window.snapshot["passes"] < 50_000 and "Stopped" in window.status.cget("text")


@pytest.mark.parametrize("form,values,words", [
    ("run", {"seed": "abc"}, "'abc' is not a whole number"),
    ("task", {"passes": 0}, "Budget (passes): 0 is below its bound 1"),
    ("task", {"target_acc": 2}, "Target accuracy: 2 is above its bound 1"),
    ("engine", {"alpha": "nan"}, "Competition alpha: nan is not a finite number"),
    ("task", {"dataset": "mnist", "data_folder": ""}, "dataset mnist needs data_folder"),
    ("task", {"dataset": "mnist", "data_folder": "/no/such/mnist/folder"}, "/no/such/mnist/folder does not exist"),
])
def test_bad_input_shows_one_message_and_starts_nothing(lab_app, window, form, values, words):
    jobs = len(lab_app.runner.jobs)
    getattr(window, f"{form}_form").set_values(values)
    assert window.start() is False
    errors = lab_app.dialogs.errors()
    assert len(errors) == 1 and words in errors[0][2] and "Nothing was started" in errors[0][2], errors
    assert len(lab_app.runner.jobs) == jobs and not window.running
    lab_app.dialogs.shown.clear()


def test_another_long_job_running_is_named_and_nothing_starts(lab_app, window):
    blocker = lab_app.submit(lambda job: job.cancel_token.wait(30), title="Something long")
    try:
        jobs = len(lab_app.runner.jobs)
        assert window.start() is False
        (error,) = lab_app.dialogs.errors()
        assert "Something long is running" in error[2] and len(lab_app.runner.jobs) == jobs
    finally:
        blocker.cancel()
        lab_app.dialogs.shown.clear()
    wait_until(lab_app.root, lambda: not blocker.active, timeout=10)


def test_closing_the_window_while_running_cancels_the_job(lab_app, evolution_lab, window):
    window.task_form.set_values({"passes": 50_000})
    assert window.start()
    job = window.job
    wait_until(lab_app.root, lambda: window.snapshot is not None, timeout=30)
    lab_app.root.tk.call(window.top.protocol("WM_DELETE_WINDOW"))  # what the title bar's close button calls
    assert job.cancel_token.is_set() and window.closed and not window.top.winfo_exists()
    wait_until(lab_app.root, lambda: not job.active, timeout=30)
    assert job.state == "cancelled"
    reopened = lab_app.invoke("direct_run")
    assert reopened is not window and not reopened.closed


def test_engine_settings_come_from_the_genome_selected_in_the_evolution_lab(lab_app, evolution_lab):
    spec = get_spec("m2n2")
    genome = Genome(spec, {**spec.defaults(), "archive_size": 8, "attraction": 0, "alpha": 0.5},
                    name="narrow-niche", origin="forge")
    lab_app.registry.add_genome(genome)
    evolution_lab.select_genome(genome.id)
    try:
        win = lab_app.invoke("direct_run")
        values = win.engine_form.values()
        assert values["archive_size"] == 8 and values["alpha"] == 0.5 and values["partner"] == "fitness"
        assert "narrow-niche" in win.source_label.cget("text")
    finally:
        evolution_lab.selected = None  # later tests start from the gene table's defaults


def test_a_small_genreg_run_counts_generations_and_draws_its_four_charts(lab_app, genreg_lab, tmp_path):
    assert str(genreg_lab.direct_button.cget("state")) == "normal"
    win = lab_app.invoke("direct_run")
    assert win is not None and win.top.title().startswith("Direct run: GENREG")
    assert win.task_form.fields["crossover"].kind == "bool", "the task's switch is a check box"
    lab_app.root.update()
    bottom = win.top.winfo_rooty() + win.top.winfo_height()
    assert win.status.winfo_rooty() + win.status.winfo_height() <= bottom, "the forms scroll; the controls stay"
    assert win.start_button.winfo_ismapped() and win.start_button.winfo_rooty() < bottom
    win.task_form.set_values(SMALL_GENREG_TASK)
    win.engine_form.set_values(SMALL_GENREG_ENGINE)
    win.run_form.set_values({"seed": 4, "device": "cpu"})
    lab_app.root.update()
    task, settings, _seed, _device = win.read()
    assert task.crossover is True and task.generations == 20
    assert {k: settings.genes[k] for k in SMALL_GENREG_ENGINE} == SMALL_GENREG_ENGINE
    draws = win.charts.draws
    status = _run_to_the_end(lab_app, win)
    for words in ("Finished", "Generations 20 of 20", "best train acc", "mean train acc", "test acc"):
        assert words in status, status
    assert "Passes" not in status and "children kept" not in status
    assert win.snapshot["passes"] == 20 and win.history["passes"][-1] == 20
    assert win.charts.draws >= draws + 1
    accuracy, per_class, trust, weights = win.charts.figure.axes[:4]
    assert [len(line.get_xdata()) for line in accuracy.lines[:2]] == [4, 4]  # generations 5, 10, 15, 20
    assert accuracy.get_xlabel() == "generation" and accuracy.get_xlim() == (0, 20)
    assert len(per_class.patches) == 10
    assert sum(p.get_height() for p in trust.patches) == 20, "every genome in the trust histogram"
    assert weights.images[-1].get_array().shape == (3 * 9 - 1, 3 * 9 - 1)  # 8 hidden units as 8x8 tiles
    paths = _export(lab_app, win, tmp_path)
    stem = "genreg-direct-seed4-20generations"
    assert sorted(p.name for p in paths) == [f"{stem}-history.csv"] + [f"{stem}.{x}" for x in ("pdf", "png", "svg")]
    assert all(p.stat().st_size > 1000 for p in paths if p.suffix != ".csv")
    lines = (tmp_path / f"{stem}-history.csv").read_text().splitlines()
    assert lines[0].startswith("generation,best_train_acc,mean_train_acc,trust_max") and len(lines) == 21


def test_settings_applied_mid_run_take_effect_and_show_on_the_charts_and_in_the_history(lab_app, genreg_lab, tmp_path):
    win = lab_app.invoke("direct_run")
    win.task_form.set_values({**SMALL_GENREG_TASK, "generations": 100_000})
    win.engine_form.set_values(SMALL_GENREG_ENGINE)
    win.run_form.set_values({"seed": 4, "device": "cpu"})
    assert str(win.apply_button.cget("state")) == "disabled", "nothing to apply to before Start"
    assert win.start()
    wait_until(lab_app.root, lambda: win.snapshot is not None and win.snapshot["passes"] >= 2, timeout=60)
    # the engine settings stay editable, but for the population's shape; run and task are locked
    assert str(win.engine_form.widgets["child_mutation_rate"].cget("state")) == "normal"
    assert {str(win.engine_form.widgets[k].cget("state")) for k in ("population", "hidden")} == {"disabled"}
    assert str(win.task_form.widgets["generations"].cget("state")) == "disabled"
    # a bad value: one message, nothing changes
    win.engine_form.set_values({"reward": "lots"})
    win.apply_button.invoke()
    assert "Nothing was changed" in lab_app.dialogs.errors()[-1][2] and "Reward" in lab_app.dialogs.errors()[-1][2]
    lab_app.dialogs.shown.clear()
    win.engine_form.set_values({"reward": 4.0, "child_mutation_rate": 0.2})
    win.top.focus_force()
    lab_app.root.update()
    win.top.event_generate("<Control-Return>")   # the key does what Apply does
    wait_until(lab_app.root, lambda: "Settings changed after" in win.status.cget("text"), timeout=30)
    status = win.status.cget("text")
    assert "reward 10 -> 4" in status and "child_mutation_rate 0.07 -> 0.2" in status, status
    wait_until(lab_app.root, lambda: (win.snapshot or {}).get("settings_log"), timeout=30)
    (change,) = win.snapshot["settings_log"]
    assert change["changes"] == {"child_mutation_rate": [0.07, 0.2], "reward": [10.0, 4.0]}
    win.stop_button.invoke()
    wait_until(lab_app.root, lambda: not win.running, timeout=30)
    win.draw()
    accuracy = win.charts.figure.axes[0]
    dashed = [line for line in accuracy.lines if list(line.get_xdata()) == [change["at"], change["at"]]]
    assert dashed, "the change is marked on the accuracy chart"
    assert not lab_app.dialogs.errors()
    paths = _export(lab_app, win, tmp_path)
    (history,) = [p for p in paths if p.suffix == ".csv"]
    rows = list(csv.DictReader(history.open()))
    assert len(rows) == win.snapshot["passes"]
    (marked,) = [r for r in rows if r["settings_change"]]
    assert int(marked["generation"]) == change["at"] + 1
    assert marked["settings_change"] == "child_mutation_rate=0.2; reward=4.0"


def _neat_charts_drawn(window) -> None:
    """The four NEAT charts hold the snapshot's data: fitness band and lines, one stacked band per
    species, every champion node and enabled connection, the controller's species count per generation."""
    s = window.snapshot
    fitness, species, champion, controller = window.charts.figure.axes[:4]
    assert [ax.get_title().split("\n")[0] for ax in (fitness, species, champion, controller)] == list(NEAT_CHART_TITLES)
    champion_line = next(line for line in fitness.lines if line.get_label() == "champion")
    assert len(champion_line.get_xdata()) == len(s["curve"]["step"]) == s["passes"], "every generation"
    # the population's min..max band comes from the reports: a run over within one report (XOR) has none
    assert bool(fitness.collections) == (len(window.history["passes"]) >= 2)
    assert fitness.get_xlabel() == "generation" and fitness.get_xlim() == (0, s["budget"])
    assert len(species.collections) == len(s["species"]["ids"]) >= 1
    genome = s["champion"]
    enabled = [c for c in genome["connections"] if c.get("enabled", True)]
    assert len(champion.collections[-1].get_offsets()) == len(genome["nodes"])
    assert len(champion.patches) == len(enabled) >= 1
    assert f"{len(enabled)} enabled connections" in champion.get_title()
    assert len(controller.lines[0].get_xdata()) == len(s["controller"]["generation"]) == s["passes"]


@pytest.mark.parametrize("seed", [1, 4])  # with these settings seed 1 runs out of budget, seed 4 solves XOR early
def test_a_small_neat_run_on_xor_draws_its_four_charts_and_exports_them(lab_app, neat_window, tmp_path, seed):
    win = neat_window
    win.run_form.set_values({"seed": seed})
    xor = {"generations": 100, "fitness": "classic", "target_acc": 1.0, "activations": "sigmoid"}
    assert {k: win.task_form.values()[k] for k in xor} == xor, "the form shows XOR's own values, not 0 / auto"
    assert "population" in win.engine_form.fields and "species_control" in win.engine_form.fields
    win.task_form.set_values(SMALL_NEAT_TASK)
    win.engine_form.set_values(SMALL_NEAT_ENGINE)
    lab_app.root.update()
    task, settings, seed_read, _device = win.read()
    assert (task.task, task.generations, task.fitness, task.target_acc) == ("xor", 30, "classic", 1.0)
    assert settings.genes["population"] == 50 and seed_read == seed
    draws = win.charts.draws
    status = _run_to_the_end(lab_app, win)
    s = win.snapshot
    assert 1 <= s["passes"] <= 30 and win.history["passes"][-1] == s["passes"]
    assert f"Generations {s['passes']} of 30" in status and "Finished" in status, status
    if s["solved_at"] is None:      # NEAT stops once XOR is solved: either the budget ran out or it was solved
        assert s["passes"] == 30 and "solved" not in status, status
    else:
        assert s["solved_at"] == s["passes"] and f"solved in {s['passes']} generations" in status, status
        assert "champion val acc 1.000" in status, status
    assert "nan" not in status, "XOR has no test split: no NaN test accuracy in the status"
    assert win.charts.draws >= draws + 1
    _neat_charts_drawn(win)
    paths = _export(lab_app, win, tmp_path)
    stem = f"neat-direct-seed{seed}-{s['passes']}generations"
    assert sorted(p.name for p in paths) == [f"{stem}-history.csv"] + [f"{stem}.{x}" for x in ("pdf", "png", "svg")]
    assert all(p.stat().st_size > 1000 for p in paths if p.suffix != ".csv")
    table = list(csv.DictReader((tmp_path / f"{stem}-history.csv").open()))
    assert [int(r["generation"]) for r in table] == list(range(1, s["passes"] + 1))
    assert table[-1]["champion_val_acc"] and not table[-1]["champion_test_acc"], "XOR has no test split: blank"


def test_the_neat_task_form_shows_real_values_and_offers_choices_only(lab_app, neat_window):
    """The form shows what a run would use (XOR: 100 generations, target 1), as the Task page does,
    never the 0 / "auto" placeholders; task, fitness and activations are read-only choices from the
    tables the task validates against, and choosing a task takes its own budget, fitness, target and
    activations."""
    form = neat_window.task_form
    values = form.values()
    assert (values["task"], values["generations"], values["target_acc"], values["fitness"]) == ("xor", 100, 1.0, "classic")
    for name in ("task", "fitness", "activations"):
        assert str(form.widgets[name].cget("state")) == "readonly", name
    assert list(form.widgets["task"].cget("values")) == ["xor", "spirals", "circles", "clusters", "digits"]
    form.vars["task"].set("spirals")
    lab_app.root.update()
    values = form.values()
    assert (values["generations"], values["target_acc"], values["fitness"]) == (150, 0.95, "backprop")
    assert values["activations"] == "tanh,sin,gauss,relu,sigmoid,identity"
    form.vars["task"].set("xor")
    lab_app.root.update()


def test_a_neat_task_chosen_in_the_form_takes_its_own_defaults(lab_app, neat_window):
    win = neat_window
    win.task_form.set_values({"task": "circles", "generations": 3})
    win.engine_form.set_values({"population": 30, "backprop_steps": 10})
    lab_app.root.update()
    task, _settings, _seed, _device = win.read()
    assert (task.task, task.generations, task.fitness, task.target_acc) == ("circles", 3, "backprop", 0.97)
    assert task.activations == "tanh,sin,gauss,relu,sigmoid,identity"
    status = _run_to_the_end(lab_app, win)
    s = win.snapshot
    assert s["task"] == "circles" and s["output_labels"] != ["out"], "one output per class, not XOR's one"
    assert f"Generations {s['passes']} of 3" in status and "champion val acc" in status and "test acc" in status
    _neat_charts_drawn(win)


@pytest.mark.parametrize("values,words", [
    ({"task": "spiral"}, "'spiral' is not one of xor, spirals"),
    ({"task": "digits", "fitness": "classic"}, "classic fitness reads one sigmoid output: it is for xor"),
    ({"task": "circles", "activations": "tanh,swish"}, "'tanh,swish' is not one of sigmoid"),
])
def test_a_bad_neat_task_shows_one_message_and_starts_nothing(lab_app, neat_window, values, words):
    jobs = len(lab_app.runner.jobs)
    neat_window.task_form.set_values(values)
    assert neat_window.start() is False
    errors = lab_app.dialogs.errors()
    assert len(errors) == 1 and words in errors[0][2] and "Nothing was started" in errors[0][2], errors
    assert len(lab_app.runner.jobs) == jobs and not neat_window.running and neat_window.snapshot is None
    lab_app.dialogs.shown.clear()


def test_close_esc_and_ctrl_w_close_the_window_and_a_run_is_stopped_only_after_a_yes(lab_app, evolution_lab, window):
    window.task_form.set_values({"passes": 50_000})
    assert window.start()
    job = window.job
    lab_app.dialogs.answers["yes_no"] = False
    window.top.event_generate("<Escape>")
    assert not window.closed and window.running, "'no' keeps the run"
    assert lab_app.dialogs.shown[-1][:2] == ("ask", "Direct run")
    lab_app.dialogs.answers["yes_no"] = True
    window.top.event_generate("<Control-w>")
    assert window.closed and job.cancel_token.is_set()
    wait_until(lab_app.root, lambda: not job.active, timeout=30)
    idle = lab_app.invoke("direct_run")
    idle.close_button.invoke()
    assert idle.closed, "an idle window closes without a question"
    lab_app.dialogs.answers.clear()


def test_the_hidden_layer_map_follows_the_run_and_projects_by_tsne_in_the_background(lab_app, genreg_lab, tmp_path):
    win = lab_app.invoke("direct_run")
    win.task_form.set_values({**SMALL_GENREG_TASK, "generations": 100_000})
    win.engine_form.set_values(SMALL_GENREG_ENGINE)
    win.run_form.set_values({"seed": 4, "device": "cpu"})
    assert win.start()
    win.top.focus_force()
    lab_app.root.update()
    win.top.event_generate("<Control-m>")
    lab_app.root.update()
    maps = win.map_window
    assert maps is not None and maps.top.winfo_exists() and win.inbox.map_wanted
    wait_until(lab_app.root, lambda: maps.points is not None and maps.points_at >= 2, timeout=60)
    first = maps.points_at
    (ax,) = maps.charts.figure.axes
    n, classes = len(maps.data["labels"]), maps.data["classes"]
    assert 0 < n <= 1000 and len(maps.data["acts"]) == len(maps.data["pred"]) == n
    assert sum(len(c.get_offsets()) for c in ax.collections[:len(classes)]) == n, "a point per held-out image"
    assert maps.data["acts"].shape[1] == SMALL_GENREG_ENGINE["hidden"]
    assert "(live)" in maps.status.cget("text")
    wait_until(lab_app.root, lambda: maps.points_at > first, timeout=60)   # PCA follows the run
    maps.method.set("t-SNE")
    maps.recompute()
    assert "Computing t-SNE" in maps.status.cget("text")
    wait_until(lab_app.root, lambda: maps.job is None, timeout=120)        # while the run goes on
    assert win.running and maps.points.shape == (len(maps.data["labels"]), 2)
    assert "t-SNE after" in maps.status.cget("text")
    win.stop_button.invoke()
    wait_until(lab_app.root, lambda: not win.running, timeout=30)
    lab_app.dialogs.answers["directory"] = str(tmp_path)
    try:
        paths = maps.export()
    finally:
        lab_app.dialogs.answers.pop("directory")
    assert sorted(p.suffix for p in paths) == [".csv", ".pdf", ".png", ".svg"]
    rows = (tmp_path / [p.name for p in paths if p.suffix == ".csv"][0]).read_text().splitlines()
    assert rows[0] == "x,y,label,predicted" and len(rows) == len(maps.data["labels"]) + 1
    maps.close()
    assert not win.inbox.map_wanted and not lab_app.dialogs.errors()
    # after the run, the map comes from the engine it left
    again = open_map(win)
    assert again.data is not None and again.points is not None
    again.close()
