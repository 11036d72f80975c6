"""The Phylogeny tab under Xvfb: maps the registry, lists species per level, copies ids from species,
genomes and the 3D scatter, sends the chosen genomes on, stores species for the Stress Chamber,
exports the page, and falls back to the browser when no webview window can start."""
from __future__ import annotations

import re
import sys
import types

import numpy as np
import pytest

from lab.analysis.stress import display_names
from lab.genome import random_genome
from lab.gui.app import TABS
from lab.registry import founders
from tests.gui.conftest import wait_until


@pytest.fixture
def phylo_tab(lab_app, spec):
    """The tab, mapped over the founders and 24 random genomes of a fresh registry."""
    tab = lab_app.tabs["Phylogeny"]
    rng = np.random.default_rng(5)
    lab_app.registry.add_genomes([random_genome(spec, rng, name=f"rnd{i}") for i in range(24)])
    lab_app.notebook.select(tab.frame)
    wait_until(lab_app.root, lambda: tab.job is None, timeout=60)   # a first map may start on showing
    tab.scope.set("all")
    tab.choose_level("Family")
    assert tab.map()
    wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
    tab.choose([], "nothing", copy=False)
    yield tab
    if tab.webview is not None:
        tab.webview.close()
    tab.webview_command = [sys.executable, "-m", "lab.analysis.webview"]


def tree_names(tree):
    return [tree.item(i, "text") for i in tree.get_children()]


def test_the_tab_maps_the_registry_and_stores_the_species(lab_app, phylo_tab):
    tab = phylo_tab
    assert TABS["Phylogeny"][0] == "lab.gui.phylogeny"
    phylo = tab.phylo
    registry_ids = {g.id for g in lab_app.registry.list_genomes(spec="grokking")}
    assert set(phylo.ids) == registry_ids | {g.id for g in founders("grokking")}
    assert lab_app.registry.species_labels("grokking") == phylo.labels()
    assert tree_names(tab.species_tree) == [s.name for s in phylo.species["Family"]]
    assert [int(tab.species_tree.set(i, "count")) for i in tab.species_tree.get_children()] == \
        [s.size for s in phylo.species["Family"]]
    assert len(tab.genome_tree.get_children()) == len(phylo.ids)
    assert tab.level_count.cget("text") == f"{len(phylo.species['Family'])} species"
    ax = tab.panel.figure.axes[0]
    assert ax.name == "3d" and ax.get_title().startswith("Family:")
    assert re.fullmatch(r"PC1 \(\d+%\)", ax.get_xlabel())
    assert "species stored in the registry" in lab_app.status_message.get()
    assert tab.stale_label.cget("text") == ""


def test_the_level_selector_and_keys_switch_levels(lab_app, phylo_tab):
    tab = phylo_tab
    tab.level_box.set("Domain")
    tab.level_box.event_generate("<<ComboboxSelected>>")
    lab_app.root.update()
    assert len(tab.species_tree.get_children()) == 2
    tab.species_tree.focus_set()
    tab.species_tree.event_generate("<plus>")
    lab_app.root.update()
    assert tab.level.get() == "Kingdom" and len(tab.species_tree.get_children()) == 3
    for _ in range(9):
        tab.step_level(+1)
    assert tab.level.get() == "Genus"
    tab.species_tree.event_generate("<minus>")
    assert tab.level.get() == "Family"


def test_clicking_a_species_copies_its_ids_and_chooses_them(lab_app, phylo_tab):
    tab = phylo_tab
    first = tab.species_tree.get_children()[0]
    tab.species_tree.selection_set(first)       # as a click
    lab_app.root.update()
    species = tab.phylo.species["Family"][0]
    assert lab_app.root.clipboard_get() == "\n".join(species.members)
    assert tab.selection == list(species.members)
    assert set(tab.genome_tree.selection()) == set(species.members)
    assert f"{species.size} genome(s) chosen" in tab.selection_label.cget("text")
    assert f"species {species.name}" in lab_app.status_message.get()
    ring = tab.artists.ring
    assert len(ring._offsets3d[0]) == species.size, "the chosen genomes are ringed on the map"
    assert ring in tab.panel.figure.axes[0].collections


def test_clicking_a_genome_in_the_list_or_on_the_map_copies_its_id(lab_app, phylo_tab):
    tab = phylo_tab
    heard = []
    unsubscribe = lab_app.hub.subscribe("genome_selected", lambda genome_id: heard.append(genome_id))
    try:
        gid = tab.phylo.ids[3]
        tab.genome_tree.selection_set([gid])
        lab_app.root.update()
        assert lab_app.root.clipboard_get() == gid and heard == [gid] and lab_app.selected_genome == gid
        artist, ids = tab.artists.pickable[-1]            # a pick on the last species' first point
        tab.panel.canvas.callbacks.process("pick_event", types.SimpleNamespace(artist=artist, ind=np.array([0]),
                                                                               name="pick_event"))
        lab_app.root.update()
        assert lab_app.root.clipboard_get() == ids[0] and tab.selection == [ids[0]]
        assert tab.genome_tree.selection() == (ids[0],)
    finally:
        unsubscribe()


def test_the_chosen_genomes_go_to_the_stress_chamber_and_the_evolution_lab(lab_app, phylo_tab):
    tab = phylo_tab
    species = tab.phylo.species["Family"][1]
    tab.species_tree.selection_set(tab.species_tree.get_children()[1])
    lab_app.root.update()
    tab.stress_button.invoke()
    stress = lab_app.tabs["Stress Chamber"]
    assert set(species.members) <= {row[1] for row in stress.choice.rows()}
    received = []
    unsubscribe = lab_app.hub.subscribe("send_to_evolution_lab", lambda genome_ids: received.append(genome_ids))
    try:
        tab.evolution_button.invoke()
    finally:
        unsubscribe()
    assert received[-1] == list(species.members)
    lab_app.notebook.select(tab.frame)


def test_the_stress_chamber_groups_by_the_stored_species(lab_app, phylo_tab):
    stress = lab_app.tabs["Stress Chamber"]
    genomes = list(phylo_tab.phylo.genomes[:6])
    # until a level is picked it opens where the Phylogeny tab opens (not always at Genus)
    lab_app.hub.publish("registry_changed", registry=lab_app.registry)
    assert stress.species_level.get() == phylo_tab.phylo.default_level()
    stress.grouping.set("species")
    stress.species_level.set("Class")
    groups = stress.groups(genomes)
    assert groups == {g.id: phylo_tab.phylo.names("Class")[g.id] for g in genomes}
    stress.grouping.set("genome")


def test_a_registry_change_marks_the_map_stale_until_mapped_again(lab_app, phylo_tab, spec):
    tab = phylo_tab
    newcomer = lab_app.registry.add_genome(random_genome(spec, np.random.default_rng(77), name="newcomer"))
    lab_app.hub.publish("registry_changed", registry=lab_app.registry)
    assert "registry changed" in tab.stale_label.cget("text")
    assert newcomer.id not in tab.phylo.ids, "a map does not move under the user"
    tab.map_button.invoke()
    wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
    assert tab.stale_label.cget("text") == "" and newcomer.id in tab.phylo.ids


def test_export_html_writes_the_page_and_refuses_a_wrong_name(lab_app, phylo_tab, tmp_path):
    tab = phylo_tab
    lab_app.dialogs.answers["save_file"] = str(tmp_path / "map.html")
    path = tab.export_html()
    text = path.read_text(encoding="utf-8")
    assert "Plotly.newPlot" in text and not re.search(r"<script[^>]*\bsrc\s*=", text, re.I)
    lab_app.dialogs.answers["save_file"] = str(tmp_path / "map.txt")
    assert tab.export_html() is None
    (error,) = lab_app.dialogs.errors()
    lab_app.dialogs.shown.clear()
    assert "does not end in .html" in error[2] and not (tmp_path / "map.txt").exists()
    lab_app.dialogs.answers.pop("save_file")
    paths = tab.export_charts(tmp_path / "charts")
    assert sorted(p.suffix for p in paths) == [".html", ".pdf", ".png", ".svg"]


def test_an_empty_tag_or_an_empty_choice_is_a_clear_message(lab_app, phylo_tab):
    tab = phylo_tab
    tab.scope.set("tag")
    tab.tag.set("  ")
    assert not tab.map()
    tab.tag.set("no-such-tag")
    assert tab.map()
    wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
    errors = lab_app.dialogs.errors()
    lab_app.dialogs.shown.clear()
    assert "Type a tag" in errors[0][2] and "no genomes to map" in errors[1][2]
    assert tab.phylo is not None, "the last good map stays"
    tab.scope.set("all")


def test_without_a_webview_backend_the_page_opens_in_the_browser(lab_app, phylo_tab):
    tab = phylo_tab
    opened = []
    tab.browser_open = opened.append
    tab.webview_command = [sys.executable, "-c", "import json; print(json.dumps({'event': 'failed', "
                                                 "'reason': 'no GUI backend here'})); raise SystemExit(3)"]
    tab.open_button.invoke()
    wait_until(lab_app.root, lambda: opened, timeout=30)
    assert opened[0].startswith("file://") and opened[0].endswith("phylogeny.html")
    info = [d for d in lab_app.dialogs.shown if d[0] == "info"]
    assert "no GUI backend here" in info[-1][2] and "system browser" in info[-1][2]
    wait_until(lab_app.root, lambda: not tab.webview.alive, timeout=10)
    lab_app.root.update()
    assert len(opened) == 1, "the exit after the failure does not open a second page"
    tab.browser_open = None


def test_copies_from_the_window_process_reach_the_tk_clipboard(lab_app, phylo_tab):
    tab = phylo_tab
    ids = list(tab.phylo.ids[:2])
    script = ("import json, sys; print('not json'); print(json.dumps({'event': 'started', 'backend': 'test'}));"
              f"print(json.dumps({{'event': 'copy', 'ids': {ids + ['ffffffffffffffff']!r}}})); sys.stdout.flush()")
    tab.webview_command = [sys.executable, "-c", script]
    tab.open_button.invoke()
    wait_until(lab_app.root, lambda: tab.selection == ids, timeout=30)
    assert lab_app.root.clipboard_get() == "\n".join(ids), "an id not on the map is dropped"
    assert set(tab.genome_tree.selection()) == set(ids)


def test_dragging_rotates_the_map_even_from_a_point_and_a_redraw_keeps_the_view(lab_app, phylo_tab):
    from matplotlib.backend_bases import MouseButton, MouseEvent
    tab = phylo_tab
    canvas = tab.panel.canvas
    canvas.draw()
    ax = tab.panel.figure.axes[0]
    before = (ax.elev, ax.azim)
    artist = tab.artists.pickable[0][0]
    # press on a genome's marker (a pick: its id is copied), then drag
    x0, y0 = ax.transData.transform(artist.get_offsets()[0])   # its projected position, in pixels
    MouseEvent("button_press_event", canvas, x0, y0, MouseButton.LEFT)._process()
    lab_app.root.update()
    assert len(tab.selection) == 1 and lab_app.root.clipboard_get() == tab.selection[0], "the press picked a genome"
    assert tab.panel.figure.axes[0] is ax, "choosing a genome moves the ring in place, the axes stays"
    MouseEvent("motion_notify_event", canvas, x0 + 40, y0 + 20, MouseButton.LEFT)._process()
    MouseEvent("button_release_event", canvas, x0 + 40, y0 + 20, MouseButton.LEFT)._process()
    rotated = (ax.elev, ax.azim)
    assert rotated != before, "a drag rotates the 3D scatter"
    tab.step_level(-1)          # redraws on a new axes
    new_ax = tab.panel.figure.axes[0]
    assert new_ax is not ax and (new_ax.elev, new_ax.azim) == pytest.approx(rotated)


def test_a_corrupt_species_file_is_named_and_left_alone(lab_app, phylo_tab):
    tab, registry, stress = phylo_tab, lab_app.registry, lab_app.tabs["Stress Chamber"]
    registry.species_path.write_text("{not json", encoding="utf-8")
    try:
        assert tab.map()
        wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
        (error,) = lab_app.dialogs.errors()
        lab_app.dialogs.shown.clear()
        assert "species.json is not valid JSON" in error[2] and "nothing was changed" in error[2]
        assert registry.species_path.read_text(encoding="utf-8") == "{not json"
        stress.grouping.set("species")
        genomes = list(tab.phylo.genomes[:3])
        assert stress.groups(genomes) == display_names(genomes), "falls back to one group per genome"
        assert "species.json is not valid JSON" in lab_app.status_message.get()
    finally:
        stress.grouping.set("genome")
        registry.species_path.unlink()


def test_the_gene_forge_and_stress_chamber_pickers_find_genomes_by_species(lab_app, phylo_tab):
    species = phylo_tab.phylo.species["Class"][0]
    word = species.name.split(" / ")[0]          # e.g. "High-LR"
    expected = {gid for gid, levels in lab_app.registry.species_labels().items()
                if any(word.lower() in name.lower() for name in levels.values())}
    assert set(species.members) <= expected
    for picker in (lab_app.tabs["Gene Forge"].donor_picker, lab_app.tabs["Stress Chamber"].choice.picker):
        picker.refresh()
        picker.query.set(word)
        listed = set(picker.rows())
        assert listed and listed <= expected and set(species.members) & listed
        picker.query.set("")


def test_a_map_does_not_wait_for_a_long_job(lab_app, phylo_tab):
    import threading
    tab, release = phylo_tab, threading.Event()
    long_job = lab_app.submit(lambda job: release.wait(30), title="a long training run")
    try:
        wait_until(lab_app.root, lambda: long_job.state == "running", timeout=10)
        assert tab.map()
        wait_until(lab_app.root, lambda: tab.job is None, timeout=30)
        assert long_job.state == "running" and "species stored" in lab_app.status_message.get()
    finally:
        release.set()
    wait_until(lab_app.root, lambda: long_job.state == "done", timeout=10)


def test_genome_list_headings_sort_and_a_second_click_reverses(lab_app, phylo_tab):
    tab = phylo_tab
    tree = tab.genome_tree
    species = lambda: [tree.set(i, "species") for i in tree.get_children()]  # noqa: E731
    tab.sort_genomes("species")
    assert species() == sorted(species(), key=str.lower)
    tab.sort_genomes("species")
    assert species() == sorted(species(), key=str.lower, reverse=True)
    tab.sort_genomes("median")   # no trials recorded here: every cell empty, nothing breaks
    assert len(tree.get_children()) == len(tab.phylo.ids)


def test_success_and_median_come_from_the_task_that_has_trials(lab_app, spec, tmp_path):
    """Trials at a non-default step cap are another task's: the genome list reads them (the task with
    the most trials is taken), names the task, offers the others, and says "failed" rather than a
    penalty step count."""
    from lab.arenas.base import TrialResult, with_cap
    from lab.arenas.grokking.task import GrokTask
    from lab.tasks import remember
    tab, old = lab_app.tabs["Phylogeny"], lab_app.registry
    lab_app.set_registry(tmp_path / "registry")      # a registry whose trials are all this test's
    registry = lab_app.registry
    try:
        rng = np.random.default_rng(7)
        registry.add_genomes([random_genome(spec, rng, name=f"t{i}") for i in range(6)])
        tab.scope.set("all")
        capped, default = with_cap(GrokTask(), 600), GrokTask()
        remember(registry, capped)
        assert tab.map()
        wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
        a, b = tab.phylo.genomes[0], tab.phylo.genomes[1]
        registry.record_trials(
            [TrialResult(a.id, capped.task_id, s, "grokked", {"steps_to_grok": 300 + 10 * s}, arena="grokking")
             for s in range(3)]
            + [TrialResult(b.id, capped.task_id, s, "capped", {"steps_to_grok": None}, arena="grokking")
               for s in range(2)]
            + [TrialResult(a.id, default.task_id, 0, "grokked", {"steps_to_grok": 1000}, arena="grokking")])
        tab._task_chosen = None
        assert tab.map()
        wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
        assert tab.task_id == capped.task_id and "step cap 600" in tab.task_choice.get()
        assert [x.split(" [")[1][:12] for x in tab.task_box.cget("values")] == [capped.task_id, default.task_id]
        tree = tab.genome_tree
        assert (tree.set(a.id, "success"), tree.set(a.id, "median")) == ("100% of 3", "310")
        assert (tree.set(b.id, "success"), tree.set(b.id, "median")) == ("0% of 2", "failed")
        assert tree.set(tab.phylo.genomes[2].id, "success") == "no trials"
        tab.sort_genomes("median")
        tab.sort_genomes("success")
        assert tab.choose_task(next(x for x in tab.task_box.cget("values") if default.task_id in x))
        assert tab.task_id == default.task_id
        assert (tree.set(a.id, "success"), tree.set(a.id, "median")) == ("100% of 1", "1,000")
        assert tab.map()                      # the user's choice survives a new map
        wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
        assert tab.task_id == default.task_id
    finally:
        tab._task_chosen = None
        lab_app.set_registry(old.root)
        lab_app.dialogs.shown.clear()


def test_a_map_opens_at_its_default_level_until_the_user_chooses_one(lab_app, spec):
    from lab.analysis.phylogeny_plot import legend_overlaps_axes
    tab = lab_app.tabs["Phylogeny"]
    lab_app.notebook.select(tab.frame)
    wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
    tab._level_chosen = False                 # as a fresh window is
    tab.scope.set("tag")
    tab.tag.set("ten")
    rng = np.random.default_rng(11)
    lab_app.registry.add_genomes([random_genome(spec, rng, name=f"ten{i}", tags=["ten"]) for i in range(10)])
    try:
        assert tab.map()
        wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
        level = tab.level.get()
        assert level == tab.phylo.default_level() and level not in ("Family", "Genus")
        sizes = [int(tab.species_tree.set(i, "count")) for i in tab.species_tree.get_children()]
        assert len(sizes) < 10 and float(np.median(sizes)) >= 2, sizes   # not 10 species of one genome
        lab_app.root.update()
        assert not legend_overlaps_axes(tab.panel.figure)
        tab.level_box.set("Genus")                # the user's choice is kept across maps
        tab.level_box.event_generate("<<ComboboxSelected>>")
        assert tab.map()
        wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
        assert tab.level.get() == "Genus"
    finally:
        tab.scope.set("all")


def test_the_genome_and_species_lists_scroll_sideways_instead_of_squeezing_a_column(lab_app, phylo_tab):
    from lab.gui.widgets.table import fit_columns
    for tree in (phylo_tab.genome_tree, phylo_tab.species_tree):
        wanted = fit_columns(tree)
        lab_app.root.update()
        for col, width in wanted.items():
            assert int(tree.column(col, "width")) == width and not tree.column(col, "stretch"), col
        assert str(tree.cget("xscrollcommand")), "a horizontal scrollbar"
