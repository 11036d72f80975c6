"""Tables size their columns to their content and explain each column; numbers say what they are."""
from __future__ import annotations

import json
import os
import tkinter.font as tkfont
from tkinter import ttk

from lab.gui.evolution_layout import COLUMN_TIPS, HOF_TIPS
from lab.gui.evolution_population import median_text
from lab.gui.widgets.table import HeadingTips, _font, fit_columns


def test_columns_fit_their_longest_heading_or_cell(lab_app):
    top = ttk.Frame(lab_app.root)
    tree = ttk.Treeview(top, columns=("id", "fitness", "when"), show="tree headings")
    for col, text in (("id", "genome id"), ("fitness", "fitness"), ("when", "admitted")):
        tree.heading(col, text=text)
        tree.column(col, width=20)
    tree.insert("", "end", text="high-embed-variance (0375bbee)",
                values=("0375bbee4c6514e8", "-1200.0", "grokking-20261204-102030-2, generation 12"))
    widths = fit_columns(tree)
    body = _font(tree, "Treeview", "TkDefaultFont")      # the font the rows are drawn in
    assert widths["id"] >= body.measure("0375bbee4c6514e8") and widths["fitness"] >= body.measure("-1200.0")
    assert widths["#0"] >= body.measure("high-embed-variance (0375bbee)")
    assert widths["when"] >= body.measure("grokking-20261204-102030-2, generation 12")
    assert all(int(tree.column(c, "width")) == w for c, w in widths.items())
    top.destroy()


def test_every_column_of_the_population_and_hall_of_fame_tables_has_a_tip(lab_app):
    tab = lab_app.tabs["Evolution Lab"]
    assert set(COLUMN_TIPS) == set(tab.table["columns"])
    assert set(HOF_TIPS) == {"#0", *tab.hof["columns"]}
    assert "THIS generation" in COLUMN_TIPS["success"] and "admitted" in HOF_TIPS["success"]
    assert tab.hof.heading("success", "text") == "success when admitted"
    lab_app.notebook.select(tab.frame)
    lab_app.root.update()
    tips = HeadingTips(tab.table, COLUMN_TIPS)
    assert tips.column_at(5, 5) in COLUMN_TIPS          # the first heading
    assert tips.column_at(5, tab.table.winfo_height() - 3) is None   # a row, not a heading


def test_a_failure_is_never_shown_as_a_step_count():
    assert median_text(1200.0, 600) == "failed"
    assert median_text(540.0, 600) == "540"
    assert median_text(1500.0, None) == "1,500"
    assert median_text(float("nan"), 600) == "failed"


def test_saved_runs_are_listed_whole_and_say_finished_or_stopped(lab_app, tmp_path):
    tab = lab_app.tabs["Evolution Lab"]
    old = lab_app.registry
    lab_app.set_registry(tmp_path / "registry")
    try:
        registry = lab_app.registry
        for run_id, done in (("grokking-20261204-102030", 10), ("grokking-20261204-112233-s1234-2", 3)):
            folder = registry.run_dir(run_id, create=True)
            (folder / "checkpoint.json").write_text(json.dumps({"generation": done}))
            (folder / "run.json").write_text(json.dumps({"settings": {"generations": 10}}))
        broken = registry.run_dir("grokking-20261204-120000", create=True)
        (broken / "run.json").write_text("{not json")
        tab.refresh_runs(select="grokking-20261204-112233-s1234-2")
        values = list(tab.run_box.cget("values"))
        assert "grokking-20261204-102030: finished, 10 generations" in values
        assert "grokking-20261204-112233-s1234-2: stopped after 3 of 10 generations (resumable)" in values
        assert "grokking-20261204-120000: unreadable" in values
        # the entry holds the whole id, the line under it the state; choosing another run updates both
        assert tab.run_choice.get() == "grokking-20261204-112233-s1234-2"
        assert tab.run_state.cget("text") == "stopped after 3 of 10 generations (resumable)"
        tab.run_choice.set("grokking-20261204-102030: finished, 10 generations")
        tab.run_box.event_generate("<<ComboboxSelected>>")
        lab_app.root.update()
        # (these stand-in files are no real checkpoint: showing its history is refused with the reason)
        assert lab_app.dialogs.errors()[0][1] == "Saved run"
        lab_app.dialogs.shown.clear()
        assert tab.run_choice.get() == "grokking-20261204-102030"
        assert tab.run_state.cget("text") == "finished, 10 generations"
        font = tkfont.nametofont("TkDefaultFont")
        assert font.measure(tab.run_choice.get()) < tab.run_box.winfo_width()
        # newest first; with nothing chosen (a restart) the entry shows the newest, ready for F7
        for age, run_id in enumerate(("grokking-20261204-112233-s1234-2", "grokking-20261204-102030")):
            os.utime(registry.run_dir(run_id) / "checkpoint.json", (1e9 - age * 100, 1e9 - age * 100))
        tab.run_choice.set("")
        tab.refresh_runs()
        assert [v.split(":")[0] for v in tab.run_box.cget("values")][:2] == \
            ["grokking-20261204-120000", "grokking-20261204-112233-s1234-2"]
        assert tab.run_choice.get() == "grokking-20261204-120000" and tab.run_state.cget("text") == "unreadable"
    finally:
        lab_app.set_registry(old.root)


def test_every_drop_down_list_is_as_wide_as_its_longest_entry(lab_app):
    from lab.gui.widgets import descendants
    boxes = [w for w in descendants(lab_app.root) if isinstance(w, ttk.Combobox)]
    for b in boxes:   # boxes built with the window are set up already; rebuilt ones when first reached
        b.event_generate("<Enter>")
    assert len(boxes) >= 8 and all(str(b.cget("postcommand")) for b in boxes), "every box, every tab"
    box = lab_app.tabs["Stress Chamber"].task_box
    old = box.cget("values")
    long = "the arena's default task with step cap 600, modulus 59, train fraction 0.3: 36 trials [186e3c07dc1b]"
    try:
        box.configure(values=[long, "short"])
        box.tk.eval(box.cget("postcommand"))   # what Tk runs just before it opens the list
        popdown = box.tk.eval(f"ttk::combobox::PopdownWindow {box}")
        chars = int(box.tk.call(f"{popdown}.f.l", "cget", "-width"))
        font = tkfont.nametofont("TkDefaultFont")
        assert chars * font.measure("0") >= font.measure(long)
    finally:
        box.configure(values=old)
    # a box made later (a dialog, a rebuilt form) is set up when the pointer or focus first reaches it
    late = ttk.Combobox(lab_app.root, values=["a"])
    late.event_generate("<Enter>")
    assert str(late.cget("postcommand"))
    late.destroy()
