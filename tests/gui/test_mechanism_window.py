"""The Mechanism window (Run > Mechanism of the selected genome..., Ctrl+Shift+M): it needs a selected
grokking genome, re-runs the trial with snapshots as a job whose updates redraw the four charts,
reads the snapshots back the second time, and exports the charts with their CSV."""
from __future__ import annotations

from lab.arenas.grokking.task import GrokTask
from lab.gui.prefs import VERSION, Prefs
from lab.registry_base import read_genome_file
from tests.gui.conftest import wait_until

SMALL = GrokTask(modulus=31, train_fraction=0.5, d_model=32, heads=4, d_ff=64, batch_size=128, step_cap=60,
                 eval_interval=20)


def test_the_mechanism_window_runs_draws_reads_back_and_exports(lab_app, tmp_path):
    lab_app.selected_genome = None
    assert lab_app.invoke("mechanism") is None
    assert "Select a grokking genome first" in lab_app.dialogs.errors()[-1][2]
    lab_app.dialogs.shown.clear()
    (genome,) = read_genome_file("genomes/high-lr.json")
    lab_app.registry.add_genome(genome)
    lab_app.hub.publish("genome_selected", genome_id=genome.id)
    win = lab_app.invoke("mechanism")
    assert win is not None and win.top.title() == f"Mechanism: {genome.label}"
    win.task = SMALL    # the default task takes half a minute; the window's logic is the same
    win.form.set_values({"seed": 3, "every": 20})
    assert win.run() and str(win.run_button.cget("state")) == "disabled"
    wait_until(lab_app.root, lambda: not win.running, timeout=120)
    assert win.job.state == "done" and win.latest is not None and win.latest.done
    assert win.latest.measures["step"] == [0, 20, 40, 60]
    assert "key frequencies" in win.status.cget("text") and "4 snapshots kept" in win.status.cget("text")
    assert all(panel.figure.axes for panel in win.charts.values()), "the four charts are drawn"
    progress = win.charts["progress"].figure.axes[0]
    assert len(progress.lines) == 4 and list(progress.lines[0].get_xdata()) == [0, 20, 40, 60]
    first = win.latest.measures
    assert win.run()
    wait_until(lab_app.root, lambda: not win.running, timeout=120)
    assert "Read 4 snapshots" in win.status.cget("text") and win.latest.measures == first
    lab_app.dialogs.answers["directory"] = str(tmp_path)
    try:
        paths = win.export()
    finally:
        lab_app.dialogs.answers.pop("directory")
    assert len(paths) == 4 * 4 and sorted({p.suffix for p in paths}) == [".csv", ".pdf", ".png", ".svg"]
    win.close()
    # seed and interval are kept with the settings: a restart (the settings read back) offers them again
    stored = Prefs.from_dict(lab_app.collect_settings().to_dict()).section("grokking", "mechanism")
    assert stored == {"seed": 3, "every": 20}
    lab_app.prefs.set_section("grokking", "mechanism", stored)
    again = lab_app.invoke("mechanism")
    assert again.form.values() == {"seed": 3, "every": 20}
    again.close()
    bad = Prefs.from_dict({"version": VERSION, "arenas": {"grokking": {"mechanism": {"seed": -4, "every": "x"}}}})
    assert bad.section("grokking", "mechanism") == {}, "values a field refuses are dropped, not offered"
