"""A new arena in the window: the toy hill climber of tests/toy_arena, registered by its one line
after the window was built, is offered by every tab's arena (or gene spec) picker when it opens,
and works there: an Evolution Lab run, a Gene Forge edit, a Stress Chamber Smart Fill, a Phylogeny
map and a direct run watched to the end."""
from __future__ import annotations

import pytest

from lab.arenas import arena_names
from tests.gui.conftest import wait_until
from tests.test_arena_conformance import register_toy


@pytest.fixture
def toy(monkeypatch, lab_app):
    register_toy(monkeypatch)
    yield
    lab_app.root.update()


def _open(box) -> list[str]:
    """What a combobox offers when the user opens it (its postcommand runs first)."""
    command = box.cget("postcommand")
    if command:
        box.tk.eval(command)
    return list(box.tk.splitlist(box.cget("values")))


def _evolution_lab(lab_app, arena: str):
    tab = lab_app.tabs["Evolution Lab"]
    lab_app.show_tab("Evolution Lab")
    tab.settings_panel.arena.set(arena)
    tab.settings_panel._arena_changed()
    lab_app.root.update()
    return tab


def test_the_evolution_lab_offers_it_runs_it_and_watches_its_direct_run(lab_app, toy):
    tab = lab_app.tabs["Evolution Lab"]
    assert "toy" not in arena_names()[:4] and "toy" in _open(tab.settings_panel.arena_box)
    try:
        tab = _evolution_lab(lab_app, "toy")
        assert list(tab.settings_panel.form.widgets["device"].cget("values")) == ["cpu"]
        assert "generations" in tab.settings_panel.task_form.vars     # the task page is the toy's task
        tab.settings_panel.task_form.set_values({"generations": 8})
        tab.settings_panel.form.set_values({"population": 4, "seeds_per_genome": 2, "generations": 2, "aliens": 1,
                                            "elites": 1})
        lab_app.root.update()
        tab.start_button.invoke()
        assert tab.running
        wait_until(lab_app.root, lambda: not tab.running, timeout=60)
        assert tab.outcome == "finished" and tab.evo.spec.name == "toy-climber" and len(tab.history) == 2
        assert all(t.arena == "toy" for g in tab.history[-1]["genomes"]
                   for t in lab_app.registry.trials_for(g["id"], tab.evo.task.task_id))
        win = lab_app.invoke("direct_run")
        assert win is not None and win.top.title().startswith("Direct run: Toy")
        win.task_form.set_values({"generations": 12})
        assert win.start()
        wait_until(lab_app.root, lambda: not win.running, timeout=60)
        assert win.outcome == "finished" and win.snapshot["passes"] == 12
        assert win.charts.figure.axes and win.charts.figure.axes[0].get_title() == "Climbers"
        win.close()
    finally:
        if tab.direct_window is not None:
            tab.direct_window.close()
        wait_until(lab_app.root, lambda: not lab_app.runner.active_jobs(), timeout=30)
        _evolution_lab(lab_app, "grokking")


def test_the_gene_forge_edits_its_genomes(lab_app, toy):
    forge = lab_app.tabs["Gene Forge"]
    assert "toy" in _open(forge.arena_box)
    try:
        forge.arena_name.set("toy")
        forge.arena_box.event_generate("<<ComboboxSelected>>")   # as a pick in the list does
        lab_app.root.update()
        assert forge.arena.name == "toy" and forge.session.spec.name == "toy-climber"
        assert list(forge.editor.texts) == ["sigma", "climbers", "pull"]
        forge.editor.texts["climbers"].set("12")
        lab_app.root.update()
        assert forge.session.preview().genes["climbers"] == 12
        forge.editor.texts["sigma"].set("5")                       # above its bound: named inline
        lab_app.root.update()
        assert "above its upper bound" in forge.editor.messages["sigma"].cget("text")
        forge.editor.texts["sigma"].set("0.2")
        lab_app.root.update()
        forge.radar.flush()
        assert len(forge.radar.figure.axes[0].get_xticklabels()) == 3
    finally:
        forge.arena_name.set("grokking")
        forge.arena_box.event_generate("<<ComboboxSelected>>")
        lab_app.root.update()
