"""The Gene Forge tab driven through its widgets: picking (search, Hall of Fame, files), transfer of
genes and groups, hand edits with inline validation, undo/redo by keys and buttons, the radar and the
diff, saving custom genomes, JSON export/import, the external-editor round trip and the hub topics."""
from __future__ import annotations

import json
import tkinter as tk
from types import SimpleNamespace

import pytest

from lab.gui.app import TABS
from lab.gui.hub import EventHub
from lab.registry import Registry, founders
from tests.conftest import snapshot
from tests.gui.conftest import RecordingDialogs, wait_until

FOUNDERS = {g.name: g for g in founders("grokking")}


@pytest.fixture
def forge(lab_app, tmp_path):
    """The tab on a fresh registry, a temporary custom folder, classic-adamw <- high-lr, nothing edited."""
    old = lab_app.registry
    lab_app.set_registry(tmp_path / "registry")
    tab = lab_app.tabs["Gene Forge"]
    tab.custom_dir = tmp_path / "custom"
    tab.custom_dir.mkdir()
    tab.launched = []
    tab.launcher = tab.launched.append
    tab.set_arena("grokking")
    lab_app.notebook.select(tab.frame)
    for picker in (tab.recipient_picker, tab.donor_picker):
        picker.query.set("")
        picker.hof_only.set(False)
        picker.keep = None
        picker.refresh()
    assert tab.recipient_picker.select(FOUNDERS["classic-adamw"].id)
    assert tab.donor_picker.select(FOUNDERS["high-lr"].id)
    tab.reset_button.invoke()
    tab.meta.set_values({"name": "", "notes": "", "tags": ""})
    lab_app.root.update()
    yield tab
    lab_app.dialogs.answers.clear()
    lab_app.set_registry(old.root)


def files_and_registry(tab, app):
    return snapshot(tab.custom_dir), snapshot(app.registry.root) if app.registry.root.exists() else {}


def take_errors(app):
    errors = app.dialogs.errors()
    app.dialogs.shown.clear()
    return errors


# ---- building and picking -----------------------------------------------------------------------
def test_the_tab_is_registered_and_starts_from_a_founder_on_an_empty_registry(lab_app, tmp_path):
    assert TABS["Gene Forge"][0] == "lab.gui.gene_forge"
    assert lab_app.notebook.tab(lab_app.tabs["Gene Forge"].frame, "text") == "Gene Forge"
    from lab.gui.gene_forge import build
    stub = SimpleNamespace(registry=Registry(tmp_path / "empty"), hub=EventHub(), dialogs=RecordingDialogs(),
                           status_message=tk.StringVar(lab_app.root), show_error=None)
    top = tk.Toplevel(lab_app.root)
    try:
        tab = build(stub, top)
        assert tab.session.recipient == FOUNDERS["classic-adamw"] and tab.session.donor is None
        assert len(tab.recipient_picker.rows()) == 6, "the founders are always offered"
        assert "disabled" in tab.editor.group_buttons["Life Cycle"].state(), "no donor: nothing to transfer"
        stub.registry.add_genome(FOUNDERS["high-lr"].replace(genes={"dropout": 0.2}, name="mine"))
        tab.close()
        top.destroy()
        top = tk.Toplevel(lab_app.root)
        assert build(stub, top).session.recipient.name == "mine", "else the newest genome of the registry"
    finally:
        top.destroy()


def test_search_filters_by_id_prefix_name_tag_origin_and_hall_of_fame(lab_app, forge):
    mine = FOUNDERS["high-lr"].replace(genes={"dropout": 0.25}, name="lr-dropout", origin="forge", tags=("wet",))
    famous = FOUNDERS["slow-and-steady"].replace(genes={"dropout": 0.3}, name="famous", origin="mutation")
    lab_app.registry.add_genome(mine)
    lab_app.registry.add_to_hall_of_fame(famous)
    lab_app.hub.publish("registry_changed", registry=lab_app.registry)
    picker = forge.recipient_picker
    assert picker.rows()[:2] == [famous.id, mine.id] and len(picker.rows()) == 8
    for query, expected in ((mine.id[:6], [mine.id]), ("lr-drop", [mine.id]), ("wet", [mine.id]),
                            ("mutation", [famous.id]), ("embed",
                                                        [FOUNDERS["high-embed-ratio"].id, FOUNDERS["high-embed-variance"].id]),
                            ("no-such-genome", [])):
        picker.query.set(query)
        assert picker.rows() == expected, query
    picker.query.set("")
    picker.hof_only.set(True)
    picker.refresh()
    assert picker.rows() == [famous.id]
    picker.keep = lambda g: False   # the hook a species filter will use
    picker.refresh()
    assert picker.rows() == []


def test_picking_publishes_genome_selected_and_the_radar_overlays_three_genomes(lab_app, forge):
    stored = FOUNDERS["heavy-decay"].replace(genes={"dropout": 0.1}, name="stored")
    lab_app.registry.add_genome(stored)
    lab_app.hub.publish("registry_changed", registry=lab_app.registry)
    heard = []
    unsubscribe = lab_app.hub.subscribe("genome_selected", lambda genome_id: heard.append(genome_id))
    try:
        draws = forge.radar.draws
        forge.recipient_picker.tree.selection_set(stored.id)   # as a click in the list
        wait_until(lab_app.root, lambda: forge.session.recipient == stored and forge.radar.draws > draws, timeout=10)
    finally:
        unsubscribe()
    assert heard == [stored.id] and lab_app.selected_genome == stored.id
    ax = forge.radar.figure.axes[0]
    assert ax.name == "polar" and len(ax.get_xticklabels()) == 17
    assert [t.get_text() for t in ax.get_xticklabels()] == [g.label for g in stored.spec.genes], "words, not keys"
    from lab.forge import format_value
    for gene in stored.spec.genes:   # every value the editor can show fits its box
        widest = max(len(format_value(gene, v)) for v in (gene.low, gene.high, gene.default, 1.23456e-07))
        assert widest <= int(forge.editor.entries[gene.key].cget("width")), gene.key
    assert [line.get_label().split(" ")[0] for line in ax.lines] == ["recipient", "donor", "result"]
    assert "stored" in forge.recipient_picker.current_text.get()


def test_a_genome_file_can_be_the_donor_and_a_bad_file_changes_nothing(lab_app, forge, tmp_path):
    good = tmp_path / "donor.json"
    good.write_text(FOUNDERS["high-embed-ratio"].to_json())
    lab_app.dialogs.answers["open_files"] = [str(good)]
    forge.donor_picker.open_button.invoke()
    assert forge.session.donor == FOUNDERS["high-embed-ratio"]
    assert "donor.json" in forge.donor_picker.current_text.get()
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "spec": "grokking", "genes": {"learning_rate": "fast"}}')
    state = forge.session.state
    lab_app.dialogs.answers["open_files"] = [str(bad)]
    forge.recipient_picker.open_button.invoke()
    (error,) = take_errors(lab_app)
    assert "bad.json" in error[2] and "gene `learning_rate` = 'fast' is not a number" in error[2]
    assert "missing gene `beta1`" in error[2]
    assert forge.session.state is state


# ---- transfer, edits, undo/redo ----------------------------------------------------------------
def test_ticking_a_group_transfers_it_and_keys_and_buttons_undo_and_redo(lab_app, forge):
    editor, root = forge.editor, lab_app.root
    editor.group_buttons["Metabolic Rate"].invoke()
    assert forge.session.spliced == {"learning_rate", "weight_decay"}
    assert editor.texts["learning_rate"].get() == "0.003" and editor.ticks["learning_rate"].get()
    assert forge.diff.get_children() == ("learning_rate",)
    assert forge.diff.item("learning_rate", "values") == ("0.001", "0.003", "donor")
    assert forge.diff.item("learning_rate", "text") == "Learning rate"
    # Ctrl+Z and Ctrl+Y on the tab's widgets
    root.focus_force()
    editor.entries["beta1"].focus_set()
    root.update()
    editor.entries["beta1"].event_generate("<Control-z>")
    root.update()
    assert not forge.session.spliced and editor.texts["learning_rate"].get() == "0.001"
    assert forge.diff.get_children() == ()
    editor.entries["beta1"].event_generate("<Control-y>")
    root.update()
    assert forge.session.spliced == {"learning_rate", "weight_decay"}
    # one gene out of the group: the group tick shows "some"
    editor.tick_buttons["weight_decay"].invoke()
    assert "alternate" in editor.group_buttons["Metabolic Rate"].state()
    forge.undo_button.invoke()
    assert "alternate" not in editor.group_buttons["Metabolic Rate"].state()
    # a new edit clears redo
    forge.undo_button.invoke()
    assert str(forge.redo_button.cget("state")) == "normal"
    editor.texts["dropout"].set("0.2")
    assert str(forge.redo_button.cget("state")) == "disabled"
    assert forge.diff.item("dropout", "values") == ("0", "0.2", "edited")


def test_the_slider_edits_in_the_normalised_space_and_shows_the_real_value(lab_app, forge):
    draws = forge.radar.draws   # counted before the edit: a slow update() may already run the coalesced redraw
    forge.editor.sliders["learning_rate"].set(0.75)   # as a drag would
    lab_app.root.update()
    assert forge.editor.texts["learning_rate"].get() == "0.01"
    assert forge.editor.source_labels["learning_rate"].cget("text") == "edited"
    wait_until(lab_app.root, lambda: forge.radar.draws > draws and forge.radar._pending is None, timeout=5)
    result_line = forge.radar.figure.axes[0].lines[-1]
    assert result_line.get_ydata()[0] == pytest.approx(0.75, abs=1e-4), "the radar follows the edit"


@pytest.mark.parametrize("gene,text,message", [
    ("beta1", "1.5", "gene `beta1` = 1.5 is above its upper bound 0.99"),
    ("learning_rate", "quick", "gene `learning_rate` = 'quick' is not a number"),
    ("dropout", "nan", "gene `dropout` = nan is not a finite number"),
    ("warmup_steps", "-5", "gene `warmup_steps` = -5 is below its lower bound 0"),
    ("warmup_steps", "", "gene `warmup_steps` is empty"),
])
def test_a_bad_value_is_shown_in_red_under_its_gene_and_nothing_can_be_written(lab_app, forge, gene, text, message):
    before = files_and_registry(forge, lab_app)
    forge.meta.set_values({"name": "bad"})
    forge.editor.texts[gene].set(text)
    lab_app.root.update()
    label = forge.editor.messages[gene]
    assert message in label.cget("text") and label.winfo_ismapped()
    assert str(label.cget("style")) == "Error.TLabel"
    assert forge.editor.source_labels[gene].cget("text") == "invalid"
    for button in (forge.save_button, forge.export_button, forge.external_button, forge.evolution_button,
                   forge.stress_button):
        assert str(button.cget("state")) == "disabled"
        button.invoke()
    assert message in forge.result_label.cget("text")
    # the commands themselves refuse too (keyboard, scripts), naming the problem
    lab_app.dialogs.answers["save_file"] = str(forge.custom_dir / "export.json")
    assert forge.save() is None and forge.export_json() is None and forge.send_to("send_to_stress_chamber") is None
    errors = take_errors(lab_app)
    assert len(errors) == 3 and all(message in e[2] and "Nothing was written" in e[2] for e in errors)
    assert files_and_registry(forge, lab_app) == before
    # fixing it clears the message and allows saving again
    forge.editor.revert_buttons[gene].invoke()
    lab_app.root.update()
    assert not label.winfo_ismapped() and str(forge.save_button.cget("state")) == "normal"


# ---- saving, files, the external editor ----------------------------------------------------------
def test_save_writes_the_custom_file_and_the_registry_and_asks_before_replacing(lab_app, forge):
    forge.editor.group_buttons["Life Cycle"].invoke()
    forge.meta.set_values({"name": "slow warm", "notes": "life cycle of high-lr", "tags": "forge, test"})
    path = forge.save()
    assert path == forge.custom_dir / "slow-warm.json"
    forge.save_button.invoke()   # the same genome again: no question, nothing new
    saved = json.loads(path.read_text())
    assert saved["name"] == "slow warm" and saved["tags"] == ["forge", "test"] and saved["origin"] == "forge"
    assert saved["parents"] == [FOUNDERS["classic-adamw"].id, FOUNDERS["high-lr"].id]
    assert lab_app.registry.get_genome(saved["id"]).notes == "life cycle of high-lr"
    assert saved["id"] in forge.donor_picker.rows(), "the pickers heard registry_changed"
    assert not [d for d in lab_app.dialogs.shown if d[0] == "ask"]
    # a different genome under the same name: asked; "no" keeps the file
    forge.editor.texts["dropout"].set("0.1")
    before = path.read_bytes()
    lab_app.dialogs.answers["yes_no"] = False
    forge.save_button.invoke()
    assert lab_app.dialogs.shown[-1][0] == "ask" and "slow-warm.json" in lab_app.dialogs.shown[-1][2]
    assert path.read_bytes() == before
    lab_app.dialogs.answers["yes_no"] = True
    forge.save_button.invoke()
    assert json.loads(path.read_text())["genes"]["dropout"] == 0.1


def test_export_then_import_json(lab_app, forge, tmp_path):
    forge.editor.texts["layer_scale"].set("2")
    lab_app.dialogs.answers["save_file"] = str(tmp_path / "out.json")
    forge.export_button.invoke()
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["genes"]["layer_scale"] == 2.0
    data["genes"]["init_ffn"] = 0.5
    data["name"] = "imported"
    (tmp_path / "in.json").write_text(json.dumps(data))
    forge.reset_button.invoke()
    lab_app.dialogs.answers["open_files"] = [str(tmp_path / "in.json")]
    forge.import_button.invoke()
    assert forge.session.edits == {"layer_scale": "2", "init_ffn": "0.5"}
    assert forge.meta.vars["name"].get() == "imported"


def test_external_editor_round_trip_reports_a_bad_edit_gene_by_gene_and_saves_nothing(lab_app, forge, monkeypatch):
    monkeypatch.setenv("VISUAL", "my-editor --wait")
    forge.editor.texts["dropout"].set("0.1")
    forge.external_button.invoke()
    (argv,) = forge.launched
    path = forge.external_path
    assert argv == ["my-editor", "--wait", str(path)] and path.is_file()
    assert str(forge.reimport_button.cget("state")) == "normal"
    data = json.loads(path.read_text())
    data["genes"].update(beta2=float("nan"), init_embed=9, speed=1)
    path.write_text(json.dumps(data))
    before, state = files_and_registry(forge, lab_app), forge.session.state
    forge.reimport_button.invoke()
    (error,) = take_errors(lab_app)
    assert "nothing changed" in error[2]
    for problem in ("unknown gene `speed`", "gene `beta2` = nan is not a finite number",
                    "gene `init_embed` = 9 is above its upper bound 3"):
        assert f"- {problem}" in error[2]
    assert forge.session.state is state and files_and_registry(forge, lab_app) == before
    data["genes"].update(beta2=0.99, init_embed=2.0)
    del data["genes"]["speed"]
    path.write_text(json.dumps(data))
    forge.reimport_button.invoke()
    assert forge.session.value("beta2") == 0.99 and forge.session.value("dropout") == 0.1
    # no editor to start: said plainly
    def broken(argv):
        raise FileNotFoundError(2, "No such file or directory", argv[0])
    forge.launcher = broken
    forge.external_button.invoke()
    (error,) = take_errors(lab_app)
    assert "my-editor" in error[2] and "$VISUAL" in error[2]


# ---- the hub ----------------------------------------------------------------------------------
def test_send_to_the_stress_chamber_and_the_evolution_lab_stores_the_result_first(lab_app, forge):
    forge.editor.group_buttons["Homeostasis"].invoke()
    expected = forge.session.result().id
    sent = []
    unsubscribe = lab_app.hub.subscribe("send_to_stress_chamber", lambda genome_ids: sent.append(genome_ids))
    try:
        forge.stress_button.invoke()
    finally:
        unsubscribe()
    assert sent == [[expected]] and lab_app.registry.has_genome(expected)
    forge.evolution_button.invoke()
    assert f"id:{expected}" in lab_app.tabs["Evolution Lab"].settings_panel.seed_sources()
    assert lab_app.notebook.index(lab_app.notebook.select()) == 0


def test_open_in_gene_forge_loads_the_genome_as_recipient_and_shows_the_tab(lab_app, forge):
    genome = FOUNDERS["high-embed-variance"].replace(genes={"bias_scale": 0.2}, name="sent over")
    lab_app.registry.add_genome(genome)
    lab_app.notebook.select(0)
    evolution = lab_app.tabs["Evolution Lab"]
    evolution.select_genome(genome.id)
    evolution.forge_button.invoke()
    assert lab_app.notebook.index(lab_app.notebook.select()) == 1
    assert forge.session.recipient == genome and forge.editor.texts["bias_scale"].get() == "0.2"
    lab_app.hub.publish("send_to_gene_forge", genome_id="0123456789abcdef")
    (error,) = take_errors(lab_app)
    assert "0123456789abcdef" in error[2] and forge.session.recipient == genome


def test_the_radar_exports_for_papers(lab_app, forge, tmp_path):
    forge.editor.group_buttons["Sensory Sensitivity"].invoke()
    paths = forge.export_charts(tmp_path)
    assert sorted(p.suffix for p in paths) == [".pdf", ".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in paths)


# ---- a result that is an existing genome; the lists when the registry changes (issue 21) ----------
def test_a_result_equal_to_an_existing_genome_is_said_before_saving_and_the_users_name_is_kept(lab_app, forge):
    high_lr = FOUNDERS["high-lr"]
    for group in ("Metabolic Rate", "Life Cycle"):   # classic-adamw + these two groups of high-lr = high-lr
        forge.editor.group_buttons[group].invoke()
    lab_app.root.update()
    assert forge.session.preview().id == high_lr.id
    assert "Same genes as the founder genome high-lr (31b0ca78)" in forge.result_label.cget("text")
    forge.meta.set_values({"name": "newcomer-lr3", "notes": "", "tags": "newcomer, test"})
    before = files_and_registry(forge, lab_app)
    lab_app.dialogs.answers["yes_no"] = False
    forge.save_button.invoke()
    kind, title, message = lab_app.dialogs.shown[-1]
    assert kind == "ask" and title == "Same genes as an existing genome"
    assert "high-lr (31b0ca78)" in message and "'newcomer-lr3'" in message and "newcomer, test" in message
    assert files_and_registry(forge, lab_app) == before, "'no' writes nothing"
    assert "not saved" in lab_app.status_message.get()
    lab_app.dialogs.answers["yes_no"] = True
    path = forge.save()
    saved = json.loads(path.read_text())
    assert path.name == "newcomer-lr3.json" and saved["tags"] == ["newcomer", "test"]
    assert saved["parents"] == [FOUNDERS["classic-adamw"].id], "never its own parent"
    registry = lab_app.registry
    assert registry.get_genome(high_lr.id).name == "high-lr"
    assert registry.names(high_lr.id) == ["high-lr", "newcomer-lr3"]
    assert [g.id for g in registry.list_genomes(tag="newcomer")] == [high_lr.id]
    status = lab_app.status_message.get()
    assert "newcomer-lr3" in status and "high-lr (31b0ca78)" in status
    # both pickers find it by the new name and the new tag
    for picker in (forge.recipient_picker, forge.donor_picker):
        for query in ("newcomer", "newcomer-lr3", "test"):
            picker.query.set(query)
            assert picker.rows() == [high_lr.id], query
            # and says under which names: the one it keeps, then the user's
            assert picker.tree.set(high_lr.id, "name") == "high-lr (also newcomer-lr3)"
        picker.query.set("")
    # saving it once more: nothing new to add, no question
    asked = len([d for d in lab_app.dialogs.shown if d[0] == "ask"])
    forge.save_button.invoke()
    assert len([d for d in lab_app.dialogs.shown if d[0] == "ask"]) == asked


def _land_a_generation(app, n=20, seed=0):
    """What an evolution generation does to the registry: founders stored as clones (created now) and
    new genomes, then registry_changed."""
    import numpy as np

    from lab.genome import clone, random_genome

    rng = np.random.default_rng(seed)
    spec = FOUNDERS["high-lr"].spec
    population = [clone(g, generation=1, name=g.name) for g in FOUNDERS.values()]
    population += [random_genome(spec, rng, generation=1, name=f"g1-{i:02d}") for i in range(n)]
    app.registry.add_genomes(population)
    app.hub.publish("registry_changed", registry=app.registry)
    app.root.update()
    return [g.id for g in population[len(FOUNDERS):]]


def test_the_lists_keep_their_order_selection_and_view_when_a_generation_lands(lab_app, forge):
    picker, tree = forge.recipient_picker, forge.recipient_picker.tree
    founders_order = picker.rows()
    assert len(founders_order) == 6 and tree.selection() == (FOUNDERS["classic-adamw"].id,)
    first = _land_a_generation(lab_app, seed=1)   # the founders are stored now, created this second
    assert picker.rows()[-6:] == founders_order, "the founders did not move among the new genomes"
    assert tree.selection() == (FOUNDERS["classic-adamw"].id,) and tree.bbox(FOUNDERS["classic-adamw"].id)
    order = picker.rows()
    chosen = first[7]
    assert picker.select(chosen) and forge.session.recipient.id == chosen
    tree.see(chosen)
    lab_app.root.update()
    top = order[round(tree.yview()[0] * len(order))]
    assert tree.bbox(chosen), "the chosen row is in view"
    new = _land_a_generation(lab_app, seed=2)
    rows = picker.rows()
    assert rows[:len(new)] != [] and set(rows[:len(new)]) == set(new), "new genomes on top"
    assert rows[len(new):] == order, "every row already listed keeps its place"
    assert tree.selection() == (chosen,) and forge.session.recipient.id == chosen
    assert rows[round(tree.yview()[0] * len(rows))] == top and tree.bbox(chosen), "the view did not move"
    assert forge.donor_picker.rows() == rows and forge.donor_picker.tree.selection() == (FOUNDERS["high-lr"].id,)
    # a click that lands just before the refresh is not undone by it
    other = order[3]
    tree.selection_set(other)          # the click; its <<TreeviewSelect>> is not handled yet
    _land_a_generation(lab_app, seed=3)
    wait_until(lab_app.root, lambda: forge.session.recipient.id == other, timeout=5)
    assert tree.selection() == (other,)


def test_a_list_at_the_top_shows_a_new_genome_and_keeps_the_selected_row_in_view(lab_app, forge):
    picker, tree = forge.recipient_picker, forge.recipient_picker.tree
    lab_app.root.update()
    assert tree.yview()[0] == 0 and tree.selection() == (FOUNDERS["classic-adamw"].id,)
    forge.editor.texts["dropout"].set("0.15")
    forge.meta.set_values({"name": "wetter"})
    path = forge.save()
    saved = json.loads(path.read_text())["id"]
    lab_app.root.update()
    assert picker.rows()[0] == saved and tree.yview()[0] == 0 and tree.bbox(saved), "the new genome is in view"
    assert tree.selection() == (FOUNDERS["classic-adamw"].id,) and tree.bbox(FOUNDERS["classic-adamw"].id)


# ---- other arenas' genomes ----------------------------------------------------------------------
def pick_arena(tab, app, name):
    tab.arena_name.set(name)
    tab.arena_box.event_generate("<<ComboboxSelected>>")   # as a pick in the list does
    app.root.update()


def test_the_forge_edits_splices_and_saves_genreg_genomes(lab_app, forge):
    recipient, donor = founders("genreg")[:2]
    grokking_session = forge.session
    pick_arena(forge, lab_app, "genreg")
    assert forge.arena.name == "genreg" and forge.session.spec.name == "genreg"
    assert set(forge.recipient_picker.rows()) >= {g.id for g in founders("genreg")}
    assert not set(forge.recipient_picker.rows()) & {g.id for g in FOUNDERS.values()}, "only genreg genomes"
    assert list(forge.editor.texts) == list(forge.session.spec.keys)
    assert forge.spec_label.cget("text") == "12 in 4 groups"
    lab_app.root.update()
    assert forge.editor_frame.winfo_width() >= forge.editor_frame.winfo_reqwidth(), "no gene column cut off"
    assert forge.recipient_picker.select(recipient.id) and forge.donor_picker.select(donor.id)
    lab_app.root.update()
    forge.editor.group_buttons["Trust"].invoke()                  # splice the Trust group from the donor
    forge.editor.texts["hidden"].set("48")                          # and one hand edit
    lab_app.root.update()
    result = forge.session.preview()
    assert all(result.genes[k] == donor.genes[k] for k in forge.session.spec.groups["Trust"])
    assert result.genes["hidden"] == 48
    forge.editor.texts["hidden"].set("4096")                        # above its bound: named inline, not saved
    lab_app.root.update()
    assert "above its upper bound 512" in forge.editor.messages["hidden"].cget("text")
    assert str(forge.save_button.cget("state")) == "disabled"
    forge.editor.texts["hidden"].set("48")
    lab_app.root.update()
    assert str(forge.save_button.cget("state")) == "normal"
    forge.radar.flush()
    assert len(forge.radar.figure.axes[0].get_xticklabels()) == 12
    forge.meta.set_values({"name": "genreg-trusting", "tags": "forge", "notes": ""})
    path = forge.save()
    assert path == forge.custom_dir / "genreg-trusting.json" and not take_errors(lab_app)
    saved = lab_app.registry.get_genome(json.loads(path.read_text())["id"])
    assert saved.spec.name == "genreg" and saved.genes == forge.session.result().genes
    assert set(saved.parents) == {recipient.id, donor.id}
    assert saved.id in forge.recipient_picker.rows(), "the saved genome is offered at once"
    pick_arena(forge, lab_app, "grokking")
    assert forge.session is grokking_session, "each arena keeps its own session"
    pick_arena(forge, lab_app, "genreg")
    assert forge.session.value("hidden") == 48


def test_switches_and_modes_are_choices_and_a_donor_of_another_spec_is_refused(lab_app, forge, tmp_path):
    pick_arena(forge, lab_app, "neat")
    assert "species_control" not in forge.editor.sliders and "population" in forge.editor.sliders
    forge.editor.texts["species_control"].set("2")               # what its "2" choice sets
    lab_app.root.update()
    assert forge.session.value("species_control") == 2
    forge.radar.flush()
    ax = forge.radar.figure.axes[0]
    labels = [t.get_text() for t in ax.texts]   # 23 spokes: each name runs out along its spoke
    assert labels == [g.label for g in forge.session.spec.genes]
    assert len({round(t.get_rotation()) for t in ax.texts}) > 12, "labels turned along their spokes"
    other = tmp_path / "grokking.json"
    FOUNDERS["high-lr"].save(other)
    lab_app.dialogs.answers["open_files"] = [str(other)]
    before = forge.session.state
    assert not forge.open_file("donor")
    (_kind, _title, message), = take_errors(lab_app)
    assert "genes move only between genomes of one spec" in message and forge.session.state is before
    assert forge.open_file("recipient"), "a recipient of another spec switches the forge to its arena"
    assert forge.arena.name == "grokking" and forge.session.recipient == FOUNDERS["high-lr"]


def test_the_chosen_arena_is_kept_in_the_settings(lab_app, forge):
    from lab.gui.prefs import Prefs
    pick_arena(forge, lab_app, "m2n2")
    prefs = Prefs()
    forge.store_prefs(prefs)
    again = Prefs.from_dict(prefs.to_dict())
    assert again.forge_arena == "m2n2"
    pick_arena(forge, lab_app, "grokking")
    forge.load_prefs(again)
    assert forge.arena.name == "m2n2" and forge.arena_name.get() == "m2n2"
    forge.load_prefs(Prefs.from_dict({**prefs.to_dict(), "forge_arena": "no-such-arena"}))
    assert forge.arena.name == "grokking"
