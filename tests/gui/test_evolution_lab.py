"""The Evolution Lab driven through its widgets: a tiny run to the end (charts, table, grid, Hall of
Fame, registry), Stop and Resume, Pause, invalid settings, and event-loop latency while training."""
from __future__ import annotations

import time

import numpy as np
import pytest

from lab.evolution.population import Evolution
from tests.gui.conftest import wait_until

# a real grokking task small enough for a test: 19 tokens, d_model 16
TINY_TASK = {"modulus": 23, "train_fraction": 0.6, "d_model": 16, "heads": 2, "d_ff": 32, "batch_size": 64,
             "step_cap": 60, "eval_interval": 20}


@pytest.fixture
def tab(lab_app):
    tab = lab_app.tabs["Evolution Lab"]
    lab_app.notebook.select(0)
    panel = tab.settings_panel
    panel.arena.set("grokking")
    panel._arena_changed()
    panel.form.set_values({f.name: f.default for f in panel.form.fields.values()})
    panel.form.set_values({"population": 4, "seeds_per_genome": 1, "generations": 2, "aliens": 1, "elites": 1,
                           "run_seed": 5, "device": "cpu", "hof_strictness": 0.0, "landscape": "sprinter"})
    panel.task_form.set_values(TINY_TASK)
    for key, var in panel.seed_vars.items():
        var.set(key == "founders")
    panel.seed_extra.set("")
    lab_app.root.update()
    return tab


def run_to_end(app, tab, timeout=120):
    wait_until(app.root, lambda: not tab.running, timeout=timeout)


def test_a_tiny_run_started_from_the_widgets_fills_charts_table_grid_hof_and_registry(lab_app, tab):
    runs_before = set(lab_app.registry.run_ids())
    draws_before = tab.charts.draws
    tab.start_button.invoke()
    assert tab.running
    assert str(tab.start_button.cget("state")) == "disabled" and str(tab.stop_button.cget("state")) == "normal"
    run_to_end(lab_app, tab)
    assert tab.outcome == "finished"
    (run_id,) = set(lab_app.registry.run_ids()) - runs_before
    assert tab.evo.run_id == run_id and len(tab.history) == 2
    # charts: drawn more than once, with the fitness lines of both generations
    assert tab.charts.draws > draws_before + 2
    fitness_ax = tab.charts.figure.axes[0]
    assert [len(line.get_xdata()) for line in fitness_ax.lines] == [2, 2, 2]
    # table and diversity grid show the last generation's population
    rows = tab.table_rows()
    assert 1 <= len(rows) <= 4 and {r[1] for r in rows} <= {g["id"] for g in tab.history[-1]["genomes"]}
    assert len(tab.grid.cells) == 4
    # sortable: by median steps, both ways (a failure's penalty reads "failed", never a step count)
    steps = {r["id"]: r["median"] for r in tab._rows}
    tab.sort_by("median")
    asc = [steps[r[1]] for r in tab.table_rows()]
    tab.sort_by("median")
    desc = [steps[r[1]] for r in tab.table_rows()]
    assert asc == sorted(asc) and desc == sorted(desc, reverse=True)
    for r in tab.table_rows():
        assert r[6] == "failed" if steps[r[1]] > tab.step_cap else r[6] == f"{steps[r[1]]:,.0f}"
    # selecting a row shows its genes and offers the actions
    tab.table.selection_set(rows[0][1])
    lab_app.root.update()
    assert len(tab.genes.get_children()) == 17 and lab_app.selected_genome == rows[0][1]
    assert tab.genes.item("learning_rate", "text") == "Learning rate", "genes in words, as the forge names them"
    assert str(tab.forge_button.cget("state")) == "normal"
    # registry: trials of every genome, checkpoint, Hall of Fame (strictness 0: anything that grokked once)
    task_id = tab.evo.task.task_id
    for g in tab.history[-1]["genomes"]:
        assert lab_app.registry.trials_for(g["id"], task_id)
    admitted = {gid for h in tab.history for gid in h["hall_of_fame_added"]}
    assert admitted == {e["genome_id"] for e in lab_app.registry.hall_of_fame()} & admitted
    assert set(tab.hof.get_children()) == {e["genome_id"] for e in lab_app.registry.hall_of_fame()}
    assert any(run_id in v for v in tab.run_box.cget("values"))
    assert "finished" in tab.run_label.cget("text")


def test_stop_then_resume_continues_the_run_to_its_end(lab_app, tab):
    # slower generations (a train fraction that does not grok within the cap) so Stop lands mid-generation
    tab.settings_panel.task_form.set_values({"train_fraction": 0.3, "step_cap": 400})
    tab.settings_panel.form.set_values({"generations": 3})
    tab.start_button.invoke()
    assert tab.run_choice.get() == tab.evo.run_id and tab.run_state.cget("text") == "running in this window"
    wait_until(lab_app.root, lambda: len(tab.history) >= 1 and tab.live is not None, timeout=120)
    tab.stop_button.invoke()
    run_to_end(lab_app, tab)
    assert tab.outcome == "stopped"
    run_id = tab.evo.run_id
    stopped_at = Evolution.resume(lab_app.registry, run_id).generation
    assert 1 <= stopped_at < 3
    tab.run_choice.set(next(v for v in tab.run_box.cget("values") if v.startswith(run_id)))
    tab.resume_button.invoke()
    assert tab.running
    run_to_end(lab_app, tab, timeout=180)
    assert tab.outcome == "finished" and tab.evo.run_id == run_id
    assert [h["generation"] for h in tab.history] == [1, 2, 3]
    assert Evolution.resume(lab_app.registry, run_id).done


def test_pause_stops_between_generations_and_resume_finishes(lab_app, tab):
    tab.settings_panel.form.set_values({"generations": 3, "run_seed": 6})
    tab.start_button.invoke()
    tab.pause_button.invoke()
    run_to_end(lab_app, tab)
    assert tab.outcome == "paused" and len(tab.history) == 1
    tab.resume_button.invoke()
    run_to_end(lab_app, tab)
    assert tab.outcome == "finished" and len(tab.history) == 3


@pytest.mark.parametrize("field,value,words", [("population", "0", "below its bound"),
                                               ("population", "abc", "not a whole number"),
                                               ("mutation_rate", "nan", "not a finite number"),
                                               ("elites", "4", "must leave room"),
                                               ("racing_factor", "0.5", "below its bound")])
def test_invalid_settings_show_a_message_and_start_nothing(lab_app, tab, field, value, words):
    jobs, runs = len(lab_app.runner.jobs), set(lab_app.registry.run_ids())
    tab.settings_panel.form.set(field, value)
    assert tab.start() is False
    errors = lab_app.dialogs.errors()
    assert len(errors) == 1 and words in errors[0][2] and "Nothing was started" in errors[0][2]
    assert len(lab_app.runner.jobs) == jobs and set(lab_app.registry.run_ids()) == runs
    lab_app.dialogs.shown.clear()


def test_an_invalid_task_setting_is_named_and_starts_nothing(lab_app, tab):
    runs = set(lab_app.registry.run_ids())
    tab.settings_panel.task_form.set_values({"heads": 3})
    assert tab.start() is False
    assert "not divisible by heads" in lab_app.dialogs.errors()[0][2]
    assert set(lab_app.registry.run_ids()) == runs
    lab_app.dialogs.shown.clear()


def test_racing_is_a_setting_with_its_rule_and_each_generation_says_what_it_stopped(lab_app, tab):
    from lab.gui.evolution_population import racing_note
    panel = tab.settings_panel
    assert panel.form.values()["racing"] is True          # on by default
    panel.form.set_values({"racing_factor": 3, "racing_floor": 250})
    s = panel.settings()
    assert (s.racing, s.racing_factor, s.racing_floor) == (True, 3.0, 250)
    assert "max(250, 3 x the best median" in s.racing_rule().describe()
    panel.form.set_values({"racing": False})
    assert panel.settings().racing is False
    record = {"race": {"censored": 7, "stop_step": 650}}
    assert racing_note(record) == "; racing stopped 7 trial(s) at step 650"
    assert racing_note({"race": {"censored": 0, "stop_step": None}}) == "; racing stopped no trials early"
    assert racing_note({"race": None}) == ""
    assert "censored" in tab.table.cget("columns") and tab.table.heading("censored", "text") == "stopped"


def test_genomes_sent_from_another_tab_become_ancestors(lab_app, tab):
    lab_app.notebook.select(2)
    lab_app.hub.publish("send_to_evolution_lab", genome_ids=["0123456789abcdef"])
    assert lab_app.notebook.index(lab_app.notebook.select()) == 0
    assert "id:0123456789abcdef" in tab.settings_panel.seed_sources()


def test_charts_export_for_papers(lab_app, tab, tmp_path):
    tab.history = tab.history or []
    paths = tab.export_charts(tmp_path)
    assert sorted(p.suffix for p in paths) == [".pdf", ".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_event_loop_stays_responsive_while_a_run_trains(lab_app, tab):
    """95th percentile lateness of 20 ms `after` ticks while the job trains must stay under 100 ms."""
    tab.settings_panel.task_form.set_values({"modulus": 97, "train_fraction": 0.4, "d_model": 64, "heads": 4,
                                             "d_ff": 256, "batch_size": 512, "step_cap": 150, "eval_interval": 25})
    tab.settings_panel.form.set_values({"population": 4, "seeds_per_genome": 2, "generations": 1})
    root = lab_app.root
    lateness: list[float] = []
    interval = 0.02

    def tick(expected: float) -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, now - expected))
        if tab.running:
            root.after(int(interval * 1000), tick, time.perf_counter() + interval)

    tab.start_button.invoke()
    wait_until(root, lambda: tab.live is not None, timeout=60)
    root.after(int(interval * 1000), tick, time.perf_counter() + interval)
    run_to_end(lab_app, tab, timeout=300)
    assert tab.outcome == "finished"
    assert len(lateness) >= 50, f"only {len(lateness)} ticks: the run was too short to measure"
    p95 = float(np.percentile(lateness, 95)) * 1000
    print(f"event-loop lateness over {len(lateness)} ticks: p50 {np.median(lateness) * 1000:.1f} ms, "
          f"p95 {p95:.1f} ms, max {max(lateness) * 1000:.1f} ms")
    assert p95 < 100.0


def test_an_m2n2_run_evolves_engine_settings_from_the_widgets(lab_app, tab):
    """The arena picker rebuilds the task page from the M2N2 task; a run evolves M2N2 genomes."""
    panel = tab.settings_panel
    panel.arena.set("m2n2")
    panel._arena_changed()
    assert "passes" in panel.task_form.vars and "dataset" in panel.task_form.vars
    panel.task_form.set_values({"passes": 60, "eval_interval": 30, "target_acc": 0.15})
    # each arena keeps its own Evolution settings: the grokking values set by the fixture stay there
    panel.form.set_values({"population": 3, "seeds_per_genome": 1, "generations": 1, "aliens": 1, "elites": 1,
                           "device": "cpu"})
    lab_app.root.update()
    try:
        tab.start_button.invoke()
        assert tab.running
        run_to_end(lab_app, tab)
        assert tab.outcome == "finished"
        assert tab.evo.task.passes == 60 and tab.evo.spec.name == "m2n2"
        genomes = tab.history[-1]["genomes"]
        assert len(genomes) == 3
        for g in genomes:
            (trial,) = lab_app.registry.trials_for(g["id"], tab.evo.task.task_id)
            assert trial.arena == "m2n2" and trial.metrics["passes"] == 60
        tab.table.selection_set(tab.table_rows()[0][1])
        lab_app.root.update()
        assert len(tab.genes.get_children()) == 8            # the M2N2 gene table
    finally:
        panel.arena.set("grokking")
        panel._arena_changed()


def test_the_generation_bar_counts_member_steps_with_the_time_left(lab_app, tab):
    """The generation's bar moves with its trials' member-steps while its population trains, and says
    the time left; the trials finished stand beside it."""
    tab.settings_panel.task_form.set_values({"step_cap": 3000})
    tab.settings_panel.form.set_values({"generations": 1})
    tab.start_button.invoke()
    seen = []

    def mid_generation():
        text = tab.gen_label.cget("text")
        if tab.live is not None and "member-steps, about" in text and 0 < float(tab.gen_bar.cget("value")) < 1:
            seen.append((text, float(tab.run_bar.cget("value")), lab_app.job_label.cget("text")))
        return bool(seen) or not tab.running
    wait_until(lab_app.root, mid_generation, timeout=120)
    assert seen, "the generation bar moved while its population trained"
    text, run_fraction, job_text = seen[0]
    first, second = text.splitlines()
    assert first.startswith("Generation 1: ") and first.endswith("left"), text
    assert " trials finished, step " in second and "training" in second, text
    assert 0 < run_fraction < 1 and "generation 1 of 1" in job_text and "left" in job_text
    tab.stop_button.invoke()
    run_to_end(lab_app, tab)
