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


def test_the_stress_chamber_smart_fills_it(lab_app, toy, tmp_path):
    import numpy as np

    from lab.genome import random_genome
    old = lab_app.registry
    lab_app.set_registry(tmp_path / "registry")
    stress = lab_app.tabs["Stress Chamber"]
    lab_app.show_tab("Stress Chamber")
    try:
        assert "toy" in _open(stress.arena_box)
        stress.arena_name.set("toy")
        stress.arena_box.event_generate("<<ComboboxSelected>>")
        lab_app.root.update()
        assert stress.arena.name == "toy" and stress.choice.spec == "toy-climber"
        assert list(stress.form.widgets["device"].cget("values")) == ["cpu"]
        rng = np.random.default_rng(3)
        genomes = lab_app.registry.add_genomes(random_genome(stress.arena.gene_spec, rng, name=f"climber-{i}")
                                               for i in range(2))
        stress.choice.add(genomes)
        stress.form.set_values({"runs": 3, "generations": 10})
        assert stress.plan_label.cget("text") == "0 trials already in the registry, 6 will run"
        stress.run_button.invoke()
        wait_until(lab_app.root, lambda: not stress.running, timeout=60)
        assert {t.arena for t in lab_app.registry.trials()} == {"toy"} and len(lab_app.registry.trials()) == 6
        assert stress.plan_label.cget("text") == "6 trials already in the registry, 0 will run"
    finally:
        stress.choice.clear()
        stress.set_arena("grokking")
        lab_app.set_registry(old.root)


def test_the_phylogeny_maps_its_spec(lab_app, toy, tmp_path):
    import numpy as np

    from lab.arenas import get_arena
    from lab.genome import random_genome
    old = lab_app.registry
    lab_app.set_registry(tmp_path / "registry")
    tab = lab_app.tabs["Phylogeny"]
    lab_app.show_tab("Phylogeny")
    wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
    before = tab.spec.get()
    try:
        spec = get_arena("toy").gene_spec
        rng = np.random.default_rng(4)
        lab_app.registry.add_genomes(random_genome(spec, rng, name=f"c{i}") for i in range(16))
        assert "toy-climber" in _open(tab.spec_box)
        tab.spec.set("toy-climber")
        tab.scope.set("all")
        assert tab.map()
        wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
        assert tab.phylo.spec.name == "toy-climber" and len(tab.phylo.ids) == 16
        assert set(lab_app.registry.species_labels("toy-climber")) == set(tab.phylo.ids)
    finally:
        tab.spec.set(before)
        lab_app.set_registry(old.root)
        wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
