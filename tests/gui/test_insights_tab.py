"""The Insights tab under Xvfb, driven as a user would: Fit (F9) over a registry of synthetic trials
whose outcome depends on two genes, brush the parallel coordinates with the mouse and send the chosen
genomes on, slice and contour, Propose (Ctrl+Shift+P) and save, a run's genealogy clicked on the
chart, runs compared and exported, and bad input answered with one message."""
from __future__ import annotations

import pytest
from matplotlib.backend_bases import MouseEvent

from lab.gui.app import TABS
from tests.gui.conftest import wait_until
from lab.evolution.population import Evolution
from tests.test_evolution import ToyArena, _settings
from tests.test_insights import synthetic_registry


@pytest.fixture
def insights(lab_app, tmp_path):
    old = lab_app.registry.root
    lab_app.set_registry(tmp_path / "registry")
    synthetic_registry(lab_app.registry, n=60, seeds=3)
    arena = ToyArena()
    for run_id, seed in (("toy-a", 1), ("toy-b", 2)):
        Evolution(_settings(run_seed=seed, generations=3), lab_app.registry, arena=arena, run_id=run_id).run()
    tab = lab_app.tabs["Insights"]
    lab_app.show_tab("Insights")
    tab._registry_changed(lab_app.registry)
    lab_app.root.update()
    wait_until(lab_app.root, lambda: tab.job is None, timeout=120)   # the fit of the tab's first showing
    yield tab
    lab_app.set_registry(old)


def fitted(lab_app, tab):
    lab_app.invoke("fit_insights")
    wait_until(lab_app.root, lambda: tab.job is None and tab.data is not None, timeout=120)
    wait_until(lab_app.root, lambda: tab._shape_job is None, timeout=120)
    return tab


def click(canvas, ax, x, y, kind):
    canvas.draw()
    px, py = ax.transData.transform((x, y))
    MouseEvent(kind, canvas, px, py, button=1)._process()


def test_fit_shows_importance_with_the_held_out_score(lab_app, insights, tmp_path):
    assert TABS["Insights"][0] == "lab.gui.insights"
    tab = fitted(lab_app, insights)
    assert set(tab.fits) == {"success", "median_steps"}
    assert set(tab.fits["median_steps"].ranked_genes()[:2]) == {"learning_rate", "weight_decay"}
    titles = [ax.get_title() for ax in tab.importance_panel.figure.axes]
    assert any("held-out R²" in t for t in titles) and any("interaction" in t for t in titles)
    assert "60 genomes" in tab.summary.cget("text") and "held-out R²" in tab.summary.cget("text")
    assert tab.progress.cget("value") == 1.0
    tab.views.select(0)
    files = {p.name for p in tab.export_charts(tmp_path / "charts")}
    assert files == {"insights-importance.csv", "insights-interactions.csv", "insights-importance.png",
                     "insights-importance.svg", "insights-importance.pdf"}


def test_brushing_with_the_mouse_chooses_genomes_and_sends_them(lab_app, insights):
    tab = fitted(lab_app, insights)
    lab_app.show_tab("Insights")
    tab.views.select(1)
    lab_app.root.update()
    canvas, ax = tab.parallel_panel.canvas, tab.parallel_ax
    assert tab.parallel_axes[0].key == "learning_rate"
    click(canvas, ax, 0.0, 0.55, "button_press_event")
    click(canvas, tab.parallel_ax, 0.0, 1.0, "button_release_event")
    lo, hi = tab.brushes["learning_rate"]
    assert 0.5 < lo < 0.6 and hi == pytest.approx(1.0, abs=0.01)
    chosen = set(tab.chosen_tree.get_children())
    frame = tab.data.frame
    assert chosen == set(frame["genome_id"][frame["unit:learning_rate"].between(lo, hi)])
    assert 0 < len(chosen) < len(frame)
    heard = []
    unsubscribe = lab_app.hub.subscribe("send_to_stress_chamber", lambda genome_ids: heard.append(genome_ids))
    try:
        assert tab.send("send_to_stress_chamber", tab.chosen_ids())
    finally:
        unsubscribe()
    assert set(heard[0]) == chosen and lab_app.selected_genome in chosen
    # a click on the axis (no drag) clears its brush
    click(canvas, tab.parallel_ax, 0.0, 0.3, "button_press_event")
    click(canvas, tab.parallel_ax, 0.0, 0.3, "button_release_event")
    assert not tab.brushes and len(tab.chosen_tree.get_children()) == len(frame)


def test_slice_and_contour_follow_the_chosen_genes(lab_app, insights):
    tab = fitted(lab_app, insights)
    axes = tab.shape_panel.figure.axes
    assert "against" in axes[0].get_title() and "over" in axes[1].get_title()
    tab.slice_gene.set("dropout")
    assert tab.draw_shapes()
    wait_until(lab_app.root, lambda: tab._shape_job is None, timeout=60)
    assert "Dropout" in tab.shape_panel.figure.axes[0].get_title()


def test_propose_lists_genomes_with_uncertainty_and_saves_them(lab_app, insights, tmp_path):
    tab = fitted(lab_app, insights)
    lab_app.show_tab("Gene Forge")
    lab_app.invoke("propose_genomes")   # the shortcut works from any tab and shows the proposals
    assert lab_app.shown_tab() == "Insights" and tab.views.index("current") == 3
    wait_until(lab_app.root, lambda: tab._propose_job is None and tab.proposals, timeout=60)
    rows = tab.proposal_tree.get_children()
    assert len(rows) == 8 and "±" in tab.proposal_tree.set(rows[0], "objective")
    assert tab.save_proposals() == 8
    saved = lab_app.registry.list_genomes(spec="grokking", tag="proposed")
    assert {g.id for g in saved} == {p.genome.id for p in tab.proposals}
    tab.views.select(3)
    files = tab.export_charts(tmp_path / "out")
    assert [p.name for p in files] == ["insights-propose.csv"]


def test_genealogy_click_selects_the_genome_everywhere(lab_app, insights):
    tab = insights
    tab.views.select(4)
    assert tab.show_genealogy("toy-a")
    wait_until(lab_app.root, lambda: tab.tree is not None, timeout=60)
    winner = tab.tree.winner()
    assert tab.line_tree.get_children() and "winner" in tab.line_title.cget("text")
    artist, index = next((a, i) for (a, i), key in tab.node_map.items() if key == winner.key)
    x, y = artist.get_offsets()[index]
    click(tab.genealogy_panel.canvas, artist.axes, x, y, "button_press_event")
    assert lab_app.selected_genome == winner.genome_id and tab.chosen_node == winner.key
    steps = tab.line_tree.get_children()
    assert int(tab.line_tree.set(steps[0], "gen")) == 1 and int(tab.line_tree.set(steps[-1], "gen")) == winner.generation


def test_runs_compared_and_exported(lab_app, insights, tmp_path):
    tab = insights
    tab.views.select(5)
    assert tab.compare_runs(["toy-a", "toy-b"])
    wait_until(lab_app.root, lambda: tab.compared is not None, timeout=60)
    assert len(tab.compare_panel.figure.axes) == 3 and set(tab.compared["run_id"]) == {"toy-a", "toy-b"}
    tab.runs_tree.selection_set(["toy-a"])
    job = tab.export_chosen_run(str(tmp_path / "run"))
    wait_until(lab_app.root, lambda: not job.active, timeout=60)
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"history.csv", "genomes.csv", "trials.csv", "genealogy.csv", "genealogy.png", "fitness.pdf"} <= names


def test_bad_input_is_one_message_and_nothing_runs(lab_app, insights):
    tab = insights
    tab.form.set("top_k", "-3")
    assert not tab.fit()
    assert "Top k" in lab_app.dialogs.errors()[-1][2]
    lab_app.dialogs.shown.clear()
    tab.form.set("top_k", "0")
    tab.form.set("tag", "no-such-tag")
    assert tab.fit()
    wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
    assert "no grokking genome" in tab.summary.cget("text") and tab.data is None
    tab.form.set("tag", "")


def test_the_evolution_lab_starts_from_proposals_in_a_job(lab_app, insights):
    evolution = lab_app.tabs["Evolution Lab"]
    panel = evolution.settings_panel
    launched = []
    evolution._launch = launched.append     # the run itself (grokking trials) is not trained here
    if panel.arena.get() != "grokking":
        panel.arena.set("grokking")
        panel._arena_changed()
    before, form_before = panel.task_form.values(), panel.form.values()
    ticked = {key: var.get() for key, var in panel.seed_vars.items()}
    for var in panel.seed_vars.values():   # only the proposals seed generation 1 here
        var.set(False)
    panel.form.set("population", 8)
    # the default task, whose trials the synthetic registry holds (other tests may have changed it)
    panel.task_form.set_values({name: f.default for name, f in panel.task_form.fields.items()})
    panel.seed_extra.set("proposed:3")
    try:
        assert evolution.start()
        wait_until(lab_app.root, lambda: launched or lab_app.dialogs.errors(), timeout=120)
    finally:
        del evolution._launch
        panel.seed_extra.set("")
        panel.task_form.set_values(before)
        panel.form.set_values(form_before)
        for key, value in ticked.items():
            panel.seed_vars[key].set(value)
    proposed = [g for g in launched[0].population if g.origin == "proposed"]
    assert len(proposed) == 3 and all("proposed" in g.tags for g in proposed)
    assert lab_app.registry.run_dir(launched[0].run_id).exists()
