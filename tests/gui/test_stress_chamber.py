"""The Stress Chamber driven through its widgets: choosing genomes (picker, tags, Hall of Fame, other
tabs), the Smart Fill line, Run (only missing trials) and Cancel (finished trials kept), the seven
charts with grouping, hidden groups and style toggles, export for papers, and bad input."""
from __future__ import annotations

import dataclasses

import pytest

from lab.analysis.charts import CHARTS, NO_TRIALS
from lab.arenas.base import TrialResult
from lab.arenas.grokking import arena as grokking_arena
from lab.arenas.grokking.task import GrokTask
from lab.gui.app import TABS
from lab.gui.stress_chamber import NO_GENOMES
from lab.registry import founders
from tests.conftest import snapshot
from tests.gui.conftest import wait_until
from tests.test_charts import CAP, record_fake_trials

TINY = GrokTask(modulus=23, train_fraction=0.6, d_model=16, heads=2, d_ff=32, batch_size=64, step_cap=60,
                eval_interval=20)
FOUNDERS = {g.name: g for g in founders("grokking")}


@pytest.fixture
def stress(lab_app, tmp_path):
    """The tab on a fresh registry, the tiny task, 3 runs from seed 0, nothing chosen, speed chart."""
    old = lab_app.registry
    lab_app.set_registry(tmp_path / "registry")
    tab = lab_app.tabs["Stress Chamber"]
    lab_app.notebook.select(tab.frame)
    tab.set_arena("grokking")
    tab.choice.clear()
    tab.choice.picker.query.set("")
    tab.choice.tag_text.set("")
    tab.choice.group_text.set("")
    tab.set_task(TINY)
    tab.form.set_values({"runs": 3, "seed_start": 0, "device": "cpu"})
    tab.grouping.set("genome")
    tab.controls.show_all(True)
    tab.controls.gene.set("(most correlated)")
    for var in tab.controls.toggle_vars.values():
        var.set(True)
    tab.controls.toggle_vars["per_seed"].set(False)
    tab.export_options.set_values(formats=["png", "pdf", "svg"], dpi=300, size="single")
    tab.set_chart("speed")
    lab_app.root.update()
    yield tab
    lab_app.dialogs.answers.clear()
    lab_app.set_registry(old.root)


def take_errors(app):
    errors = app.dialogs.errors()
    app.dialogs.shown.clear()
    return errors


def plan_text(tab):
    return tab.plan_label.cget("text")


def record(app, genome, seeds, task=TINY):
    app.registry.record_trials([TrialResult(genome.id, task.task_id, s, "capped", {"steps_to_grok": None},
                                            arena="grokking") for s in seeds])


def chart_texts(fig):
    out = [t.get_text() for t in fig.texts] + [fig.get_suptitle()]
    for ax in fig.axes:
        out += [ax.get_xlabel(), ax.get_ylabel()] + [t.get_text() for t in ax.texts]
        out += [t.get_text() for t in ax.get_yticklabels()]
        if ax.get_legend():
            out += [t.get_text() for t in ax.get_legend().get_texts()]
    return "\n".join(out)


# ---- building and choosing ------------------------------------------------------------------------
def test_the_tab_is_registered_and_asks_for_genomes_first(lab_app, stress):
    assert TABS["Stress Chamber"][0] == "lab.gui.stress_chamber"
    assert lab_app.notebook.index(stress.frame) == 2
    assert plan_text(stress) == "Choose genomes to plan a stress test."
    assert NO_GENOMES in chart_texts(stress.panel.figure)
    assert stress.form.vars["step_cap"].get() == "60" and TINY.task_id in stress.task_label.cget("text")
    assert "disabled" not in stress.grouping_buttons["species"].state()
    assert str(stress.cancel_button.cget("state")) == "disabled"


def test_genomes_are_chosen_by_picker_tag_and_hall_of_fame(lab_app, stress):
    choice = stress.choice
    classic = FOUNDERS["classic-adamw"]
    assert choice.picker.select(classic.id)          # a click in the search list
    choice.add_button.invoke()
    assert choice.rows() == [("classic-adamw", classic.id, "")]
    assert lab_app.registry.has_genome(classic.id), "chosen genomes are stored, so every tab finds them by id"
    wet = [FOUNDERS["high-lr"].replace(genes={"dropout": d}, name=f"wet-{d}", tags=("wet",)) for d in (0.1, 0.2)]
    lab_app.registry.add_genomes(wet)
    choice.tag_text.set("wet")
    choice.tag_button.invoke()
    wet.sort(key=lambda g: [r[1] for r in choice.rows()].index(g.id))   # the registry's order (oldest first)
    assert [r[1] for r in choice.rows()] == [classic.id, wet[0].id, wet[1].id]
    choice.tag_text.set("no-such-tag")
    choice.tag_button.invoke()
    (error,) = take_errors(lab_app)
    assert "no grokking genome is tagged 'no-such-tag'" in error[2] and len(choice.rows()) == 3
    # the Hall of Fame: empty says so, then it adds only what is not chosen yet
    choice.hof_button.invoke()
    (error,) = take_errors(lab_app)
    assert "Hall of Fame" in error[2] and "no grokking genome" in error[2]
    famous = FOUNDERS["slow-and-steady"].replace(genes={"dropout": 0.3}, name="famous")
    lab_app.registry.add_to_hall_of_fame(famous)
    lab_app.registry.add_to_hall_of_fame(wet[0])
    choice.hof_button.invoke()
    assert [r[1] for r in choice.rows()] == [classic.id, wet[0].id, wet[1].id, famous.id]
    assert "(4)" in choice.box.cget("text")
    assert "4 genomes" in stress.plan_detail.cget("text")
    # remove and clear
    choice.tree.selection_set(wet[1].id)
    choice.remove_button.invoke()
    assert [r[1] for r in choice.rows()] == [classic.id, wet[0].id, famous.id]
    choice.clear_button.invoke()
    assert choice.rows() == [] and plan_text(stress) == "Choose genomes to plan a stress test."


def test_a_double_click_lists_the_genome_under_the_pointer(lab_app, stress):
    """Not the one picked before it: Tk reports the new selection only after the double-click."""
    choice, tree = stress.choice, stress.choice.picker.tree
    first, second = tree.get_children()[:2]
    for row in (first, second):
        tree.see(row)
        lab_app.root.update()
        x, y, _w, h = tree.bbox(row, "name")
        for _ in range(2):   # two presses in quick succession: Tk makes it a double-click
            tree.event_generate("<ButtonPress-1>", x=x + 5, y=y + h // 2)
            tree.event_generate("<ButtonRelease-1>", x=x + 5, y=y + h // 2)
        lab_app.root.update()
    assert [r[1] for r in choice.rows()] == [first, second]
    assert choice.picker.current_text.get().startswith(f"picked {choice.picker.genomes[second].label}")


def test_clicking_a_chosen_genome_publishes_genome_selected(lab_app, stress):
    stress.choice.add([FOUNDERS["heavy-decay"], FOUNDERS["high-lr"]])
    heard = []
    unsubscribe = lab_app.hub.subscribe("genome_selected", lambda genome_id: heard.append(genome_id))
    try:
        stress.choice.tree.selection_set(FOUNDERS["high-lr"].id)
        lab_app.root.update()
    finally:
        unsubscribe()
    assert heard == [FOUNDERS["high-lr"].id] and lab_app.selected_genome == FOUNDERS["high-lr"].id


def test_genomes_sent_from_another_tab_are_added_and_the_tab_is_shown(lab_app, stress):
    genome = FOUNDERS["high-embed-ratio"].replace(genes={"bias_scale": 0.1}, name="sent")
    lab_app.registry.add_genome(genome)
    lab_app.notebook.select(0)
    evolution = lab_app.tabs["Evolution Lab"]
    evolution.select_genome(genome.id)
    evolution.stress_button.invoke()       # the Evolution Lab's "Stress test" button
    assert lab_app.notebook.index(lab_app.notebook.select()) == 2
    assert stress.choice.rows() == [("sent", genome.id, "")]
    lab_app.notebook.select(1)
    lab_app.hub.publish("send_to_stress_chamber", genome_ids=[genome.id, FOUNDERS["high-lr"].id])
    assert [r[1] for r in stress.choice.rows()] == [genome.id], "high-lr is not in this registry"
    (error,) = take_errors(lab_app)
    assert FOUNDERS["high-lr"].id in error[2]
    lab_app.registry.add_genome(FOUNDERS["high-lr"])
    lab_app.hub.publish("send_to_stress_chamber", genome_ids=[FOUNDERS["high-lr"].id])
    assert [r[1] for r in stress.choice.rows()] == [genome.id, FOUNDERS["high-lr"].id]
    assert lab_app.notebook.index(lab_app.notebook.select()) == 2


def test_the_arena_picker_stress_tests_m2n2_genomes_and_sent_genomes_switch_back(lab_app, stress):
    stress.arena_name.set("m2n2")
    stress.arena_box.event_generate("<<ComboboxSelected>>")
    lab_app.root.update()
    assert stress.arena.name == "m2n2" and stress.choice.spec == "m2n2"
    assert "passes" in stress.form.vars and "step_cap" not in stress.form.vars
    paper, ga = (next(g for g in founders("m2n2") if g.name == n) for n in ("m2n2-paper", "m2n2-ga"))
    stress.choice.add([paper, FOUNDERS["high-lr"]])
    (error,) = take_errors(lab_app)
    assert "not m2n2 genomes" in error[2] and stress.choice.genomes() == [paper]
    stress.choice.add([ga])
    stress.form.set_values({"runs": 2, "passes": 40})
    assert plan_text(stress) == "0 trials already in the registry, 4 will run"
    stress.run_button.invoke()
    wait_until(lab_app.root, lambda: not stress.running, timeout=120)
    trials = lab_app.registry.trials()
    assert len(trials) == 4 and {t.arena for t in trials} == {"m2n2"}
    assert {t.metrics["passes"] for t in trials} == {40}
    assert plan_text(stress) == "4 trials already in the registry, 0 will run"
    assert stress.task_tip.text.startswith("M2N2") and "passes = 40" in stress.task_tip.text
    # grokking genomes sent from another tab bring the grokking arena back
    lab_app.registry.add_genome(FOUNDERS["high-lr"])
    lab_app.hub.publish("send_to_stress_chamber", genome_ids=[FOUNDERS["high-lr"].id])
    assert stress.arena.name == "grokking" and stress.arena_name.get() == "grokking"
    assert [r[1] for r in stress.choice.rows()] == [FOUNDERS["high-lr"].id] and "step_cap" in stress.form.vars
    assert not take_errors(lab_app)


# ---- Smart Fill and running ------------------------------------------------------------------------
def test_the_smart_fill_line_counts_recorded_and_missing_trials(lab_app, stress):
    a, b = FOUNDERS["classic-adamw"], FOUNDERS["high-lr"]
    record(lab_app, a, [0, 1])
    record(lab_app, b, [0])
    record(lab_app, a, [2], task=dataclasses.replace(TINY, step_cap=61))   # another task: not counted
    stress.choice.add([a, b])
    assert plan_text(stress) == "3 trials already in the registry, 3 will run"
    assert stress.plan_detail.cget("text") == "2 genomes \u00d7 seeds 0\u20132 = 6 trials"
    stress.form.set("runs", 2)
    assert plan_text(stress) == "3 trials already in the registry, 1 will run"
    stress.form.set("seed_start", 1)
    assert plan_text(stress) == "1 trials already in the registry, 3 will run"
    stress.form.set_values({"seed_start": 0, "runs": 3, "step_cap": 61})
    assert plan_text(stress) == "1 trials already in the registry, 5 will run"
    stress.form.set("runs", "abc")
    assert "not a whole number" in plan_text(stress) and stress.plan is None


def test_run_computes_exactly_the_missing_trials_and_a_second_run_starts_nothing(lab_app, stress):
    a, b = FOUNDERS["classic-adamw"], FOUNDERS["slow-and-steady"]
    record(lab_app, a, [0, 1])
    stress.choice.add([a, b])
    assert plan_text(stress) == "2 trials already in the registry, 4 will run"
    before = len(lab_app.registry.trials())
    changed = []
    unsubscribe = lab_app.hub.subscribe("registry_changed", lambda registry: changed.append(registry))
    try:
        stress.run_button.invoke()
        assert stress.running and str(stress.run_button.cget("state")) == "disabled"
        assert str(stress.cancel_button.cget("state")) == "normal"
        wait_until(lab_app.root, lambda: not stress.running, timeout=120)
    finally:
        unsubscribe()
    assert len(lab_app.registry.trials()) == before + 4
    assert {(t.genome_id, t.seed) for t in lab_app.registry.trials()} == {(g.id, s) for g in (a, b) for s in (0, 1, 2)}
    assert stress.finished == 4 and float(stress.progress.cget("value")) == pytest.approx(1.0)  # all the work
    assert "4 trial(s) recorded" in stress.progress_label.cget("text")
    assert plan_text(stress) == "6 trials already in the registry, 0 will run"
    assert changed, "registry_changed was published"
    assert "n=0/3" in chart_texts(stress.panel.figure), "the chart shows the new trials"
    jobs = len(lab_app.runner.jobs)
    assert stress.run() is False
    assert len(lab_app.runner.jobs) == jobs and len(lab_app.registry.trials()) == before + 4
    assert "nothing to run" in lab_app.status_message.get()


def test_cancel_stops_a_longer_run_and_keeps_the_trials_that_finished(lab_app, stress, monkeypatch):
    # populations of two, as a run larger than one population would be: trials finish before the end
    monkeypatch.setitem(grokking_arena.MAX_MEMBERS, "cpu", 2)
    stress.form.set_values({"runs": 3, "step_cap": 200})
    stress.choice.add([FOUNDERS["classic-adamw"], FOUNDERS["heavy-decay"]])
    assert plan_text(stress).endswith("6 will run")
    stress.run_button.invoke()
    wait_until(lab_app.root, lambda: stress.finished >= 1, timeout=120)
    stress.cancel_button.invoke()
    wait_until(lab_app.root, lambda: not stress.running, timeout=60)
    assert stress.job.state == "cancelled"
    kept = stress.finished
    trials = lab_app.registry.trials()
    assert 1 <= kept < 6 and len(trials) == kept
    assert all(t.status != "cancelled" for t in trials)
    assert plan_text(stress) == f"{kept} trials already in the registry, {6 - kept} will run"
    assert "cancelled" in stress.progress_label.cget("text") and str(stress.run_button.cget("state")) == "normal"


@pytest.mark.parametrize("runs,words", [("0", "below its bound 1"), ("abc", "not a whole number"),
                                        ("10001", "above its bound 10000")])
def test_an_invalid_runs_value_shows_the_problem_and_starts_nothing(lab_app, stress, runs, words):
    stress.choice.add([FOUNDERS["classic-adamw"]])
    jobs, files = len(lab_app.runner.jobs), snapshot(lab_app.registry.root)
    stress.form.set("runs", runs)
    assert words in stress.form.messages["runs"].cget("text"), "the field says it inline"
    stress.run_button.invoke()
    (error,) = take_errors(lab_app)
    assert words in error[2] and "Nothing was started" in error[2]
    assert len(lab_app.runner.jobs) == jobs and snapshot(lab_app.registry.root) == files


def test_run_without_genomes_says_so(lab_app, stress):
    assert stress.run() is False
    (error,) = take_errors(lab_app)
    assert "choose genomes first" in error[2]


# ---- charts ---------------------------------------------------------------------------------------
@pytest.fixture
def charted(lab_app, stress, spec):
    """Three recorded genomes (g0, g2 tagged fast) on five seeds of a 400-step task."""
    task = dataclasses.replace(TINY, step_cap=CAP)
    genomes = record_fake_trials(lab_app.registry, spec, task_id=task.task_id)
    stress.set_task(task)
    stress.form.set_values({"runs": 5})
    stress.choice.add(genomes)
    stress.redraw()
    return stress, genomes


@pytest.mark.parametrize("kind", list(CHARTS))
def test_every_chart_draws_in_the_panel_with_its_toggles(lab_app, charted, kind):
    tab, genomes = charted
    draws = tab.panel.draws
    tab.chart_box.set(CHARTS[kind].title)           # as the user picks it
    tab.chart_box.event_generate("<<ComboboxSelected>>")
    lab_app.root.update()
    assert tab.kind == kind and tab.panel.draws > draws
    texts = chart_texts(tab.panel.figure)
    assert CHARTS[kind].title in texts and NO_TRIALS not in texts
    assert len(tab.panel.figure.axes) >= CHARTS[kind].panels
    for name, button in tab.controls.toggle_buttons.items():
        assert ("disabled" in button.state()) == (name not in CHARTS[kind].toggles), name
    assert (str(tab.controls.gene_box.cget("state")) == "disabled") == ("gene" not in CHARTS[kind].toggles)
    assert set(tab.controls.group_vars) == {g.name for g in genomes}   # unique names: no hash ids
    # every toggle the chart uses redraws it without error
    for name in CHARTS[kind].toggles:
        if name in tab.controls.toggle_vars:
            tab.controls.toggle_buttons[name].invoke()
            tab.redraw()
    assert len(tab.data.trials) == 15


def test_the_genes_chart_follows_the_gene_picker(lab_app, charted):
    tab, _ = charted
    tab.set_chart("genes")
    assert "dropout" in tab.controls.gene_box.cget("values")
    tab.controls.gene_box.set("dropout")
    tab.controls.gene_box.event_generate("<<ComboboxSelected>>")
    tab.redraw()
    assert tab.controls.style().gene == "dropout"
    assert tab.panel.figure.axes[0].get_xlabel() == "Dropout"   # the gene's words, not its key


def test_hiding_a_group_removes_it_and_groupings_regroup(lab_app, charted):
    tab, genomes = charted
    labels = lambda: [t.get_text().split("  ")[0] for t in tab.panel.figure.axes[0].get_yticklabels()]  # noqa: E731
    assert labels() == [g.name for g in genomes]
    tab.controls.group_buttons[genomes[1].name].invoke()     # untick it
    tab.redraw()
    assert labels() == [genomes[0].name, genomes[2].name] and tab.data.hidden == {genomes[1].name}
    tab.controls.show_all(True)
    tab.grouping_buttons["tag"].invoke()
    tab.redraw()
    assert labels() == ["fast", "untagged"]
    # user groups: g0 and g1 pooled as "pair", g2 stays its own group
    tab.choice.tree.selection_set([genomes[0].id, genomes[1].id])
    tab.choice.group_text.set("pair")
    tab.choice.assign_button.invoke()
    tab.grouping_buttons["user"].invoke()
    tab.redraw()
    assert labels() == ["pair", genomes[2].name]
    assert [r[2] for r in tab.choice.rows()] == ["pair", "pair", ""]
    tab.choice.group_text.set("")
    tab.choice.assign_button.invoke()
    (error,) = take_errors(lab_app)
    assert "group name" in error[2]


def test_a_hidden_tab_draws_registry_changes_when_it_is_shown(lab_app, charted):
    tab, _ = charted
    lab_app.notebook.select(0)
    lab_app.root.update()
    draws = tab.panel.draws
    lab_app.hub.publish("registry_changed", registry=lab_app.registry)   # as an evolution run does each generation
    lab_app.root.update()
    assert tab.panel.draws == draws and plan_text(tab) == "15 trials already in the registry, 0 will run"
    lab_app.notebook.select(tab.frame)
    wait_until(lab_app.root, lambda: tab.panel.draws > draws, timeout=5)


def test_export_writes_the_chart_in_every_format_and_its_csv(lab_app, charted, tmp_path):
    tab, _ = charted
    tab.set_chart("survival")
    out = tmp_path / "figures"
    out.mkdir()
    lab_app.dialogs.answers["directory"] = str(out)
    tab.export_button.invoke()
    names = sorted(p.name for p in out.iterdir())
    assert names == ["survival.csv", "survival.pdf", "survival.png", "survival.svg"]   # as `charts` names them
    assert all((out / n).stat().st_size > 200 for n in names)
    status = lab_app.status_message.get()
    assert "exported 4 survival files" in status and str(out.name) in status and len(status) <= 70, status
    lab_app.root.update()
    note = tab.export_note
    assert str(out) in note.cget("text") and "survival.png" in note.cget("text")
    assert note.winfo_ismapped() and note.winfo_reqwidth() <= note.winfo_width() + 8   # wrapped, not clipped
    # File > Export charts of this tab does the same, with the formats ticked
    tab.export_options.set_values(formats=["svg"], size="double")
    other = tmp_path / "menu"
    other.mkdir()
    lab_app.dialogs.answers["directory"] = str(other)
    lab_app.invoke("export_charts")
    assert sorted(p.name for p in other.iterdir()) == ["survival.csv", "survival.svg"]
    # a bad dpi or no format: named, nothing written
    tab.export_options.set_values(formats=["png"], dpi="lots")
    assert tab.export_charts(tmp_path / "bad") == []
    tab.export_options.set_values(formats=[], dpi=300)
    assert tab.export_charts(tmp_path / "bad") == []
    first, second = take_errors(lab_app)
    assert "'lots' is not a whole number" in first[2] and "at least one format" in second[2]
    assert not (tmp_path / "bad").exists()


def test_the_picker_lists_the_founders_from_the_start(lab_app):
    import tkinter as tk

    from lab.gui.stress_genomes import GenomeChoice
    from lab.registry import founders

    top = tk.Toplevel(lab_app.root)
    try:
        choice = GenomeChoice(top, lab_app, "grokking", on_change=lambda: None)
        assert {g.id for g in founders("grokking")} <= set(choice.picker.rows())
    finally:
        top.destroy()


def test_every_task_setting_can_be_chosen_and_a_bad_one_is_refused(lab_app, stress):
    dialog = stress.edit_task()
    try:
        form = dialog.task_form
        assert {"modulus", "train_fraction", "d_model", "heads", "step_cap"} <= set(form.vars)
        form.set_values({"heads": 3})  # d_model 16 is not divisible by 3
        dialog.apply()
        (error,) = take_errors(lab_app)
        assert "not divisible by heads" in error[2] and stress.base_task == TINY
        form.set_values({"heads": 4, "step_cap": 80})
        dialog.apply()
    finally:
        if dialog.winfo_exists():
            dialog.destroy()
    expected = dataclasses.replace(TINY, heads=4, step_cap=80)
    assert stress.base_task == expected and stress.form.vars["step_cap"].get() == "80"
    assert expected.task_id in stress.task_label.cget("text")


def test_trials_on_another_task_are_named_and_offered(lab_app, stress):
    """Trials run at another step cap are another task's: the chart says where they are and the
    tasks-with-trials list offers that task; choosing it shows them."""
    from lab.arenas.base import with_cap
    from lab.tasks import remember
    registry = lab_app.registry
    other = with_cap(TINY, 90)
    remember(registry, other)
    genomes = record_fake_trials(registry, registry_spec(registry), task_id=other.task_id, genomes=2, seeds=3)
    stress.choice.add(genomes)
    stress.redraw()
    lab_app.root.update()
    assert f"Task {TINY.task_id}" in stress.task_label.cget("text")
    assert "step cap 60" in stress.task_label.cget("text")          # the budget is named, not "default task"
    said = " ".join(t.get_text() for t in stress.panel.figure.texts)
    assert f"No trials of these genomes on task {TINY.task_id}" in said and other.task_id in said
    labels = list(stress.task_box.cget("values"))
    offered = next(x for x in labels if other.task_id in x)
    assert "step cap 90" in offered and "6 trials" in offered
    assert stress.choose_task(offered)
    lab_app.root.update()
    assert stress.plan.task == other and stress.form.vars["step_cap"].get() == "90"
    assert "6 trials already in the registry" in stress.plan_label.cget("text")
    stress.redraw()
    assert not stress.data.trials.empty and not any(other.task_id in t.get_text() for t in stress.panel.figure.texts)


def registry_spec(registry):
    from lab.genome import get_spec
    return get_spec("grokking")


def test_the_bar_moves_with_member_steps_and_says_the_time_left_before_any_trial_finishes(lab_app, stress):
    """A population trains as one batch: its trials finish together at the end, so the bar counts
    member-steps, with the time left from their rate and the trials finished beside it."""
    stress.form.set_values({"runs": 3, "step_cap": 3000})
    stress.choice.add([FOUNDERS["classic-adamw"]])
    stress.run_button.invoke()
    seen = []

    def mid_run():
        value = float(stress.progress.cget("value"))
        if stress.finished == 0 and 0.05 < value < 0.9 and "left" in stress.progress_label.cget("text") \
                and "estimating" not in stress.progress_label.cget("text"):
            seen.append((value, stress.progress_label.cget("text"), lab_app.job_label.cget("text")))
        return len(seen) >= 2 or not stress.running
    wait_until(lab_app.root, mid_run, timeout=120)
    assert stress.running and len(seen) == 2, "the bar moved while no trial had finished"
    (v1, text, job_text), (v2, _, _) = seen
    assert v2 >= v1 == pytest.approx(stress.reader.fraction, abs=0.2)
    first, second = text.splitlines()
    assert "of 9,000 member-steps, about" in first and first.endswith("left"), text
    assert second.startswith("0 of 3 trials finished; step ") and "3 training" in second, text
    assert job_text.startswith("Stress test: ") and "left" in job_text and "0 of 3 trials" in job_text
    stress.cancel_button.invoke()
    wait_until(lab_app.root, lambda: not stress.running, timeout=60)


def test_every_show_control_is_on_screen_and_the_group_list_keeps_room(lab_app, stress):
    stress.controls.set_groups(["a", "b", "c"])
    lab_app.root.update()
    right = stress.controls.winfo_rootx() + stress.controls.winfo_width()
    widgets = [*stress.controls.toggle_buttons.values(), *stress.grouping_buttons.values(), stress.species_level_box]
    for w in widgets:
        assert w.winfo_ismapped() and w.winfo_rootx() + w.winfo_reqwidth() <= right + 1, w.cget("text") if \
            "text" in w.keys() else w
    assert stress.controls.canvas.winfo_height() >= stress.controls.group_buttons["a"].winfo_reqheight(), \
        "at least a whole group shows (after a run's status lines too)"
    stress.controls.set_groups([])
