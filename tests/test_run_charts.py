"""The Evolution Lab's chart functions draw from a run's history, on screen and for export."""
from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from lab.analysis.run_charts import Words, draw_dashboard, export_dashboard, last_generation_steps


def history():
    def gen(g, steps, failed):
        genomes = [{"id": f"{i:016x}", "steps_to_grok": s, "failed": f} for i, (s, f) in enumerate(zip(steps, failed))]
        return {"generation": g, "genomes": genomes, "best_fitness": -300.0 * g, "mean_fitness": -900.0,
                "median_fitness": -800.0, "success_rate": 0.5 + 0.1 * g, "diversity": 0.3 - 0.05 * g}
    return [gen(1, [[400, 500], []], [0, 2]), gen(2, [[350], [600, 700]], [1, 0])]


def test_dashboard_draws_four_charts_from_history():
    fig = draw_dashboard(Figure(), history(), step_cap=2500)
    fitness, steps, success, diversity = fig.axes
    assert [list(line.get_ydata()) for line in fitness.lines] == [[-300.0, -600.0], [-900.0, -900.0], [-800.0, -800.0]]
    assert sum(p.get_height() for p in steps.patches) == 3  # the last generation's 3 grokked trials
    assert "3 grokked, 1 failed" in steps.get_title()
    assert [round(p.get_height()) for p in success.patches] == [60, 70]
    assert list(diversity.lines[0].get_ydata()) == pytest.approx([0.25, 0.2])


def test_live_steps_override_the_last_generation_and_empty_history_says_so():
    fig = draw_dashboard(Figure(), [], step_cap=100, live_steps=([10, 20], 1, 1))
    assert "2 grokked, 1 failed" in fig.axes[1].get_title()
    assert any("no generation finished yet" in t.get_text() for t in fig.axes[0].texts)
    assert last_generation_steps([]) == ([], 0, None)


def test_each_arena_s_charts_speak_of_its_own_budget_and_goal():
    from lab.arenas import get_arena
    assert Words.of(get_arena("grokking").default_task()) == Words()
    m2n2 = Words.of(get_arena("m2n2").default_task())
    fig = draw_dashboard(Figure(), history(), step_cap=3000, words=m2n2)
    _fitness, steps, success, _diversity = fig.axes
    assert steps.get_title().startswith("Passes to reach the target this generation")
    assert "3 at target, 1 failed" in steps.get_title() and steps.get_xlabel() == "passes to reach the target (trials at target only)"
    assert success.get_ylabel() == "trials at target (%)"
    assert steps.get_xlim() == (0, 3000)
    assert Words.of(get_arena("genreg").default_task()).unit == "generations"


def test_export_writes_png_pdf_svg_reproducibly(tmp_path):
    a = export_dashboard(tmp_path / "a", "run", history(), 2500)
    b = export_dashboard(tmp_path / "b", "run", history(), 2500)
    assert [p.name for p in a] == ["run.png", "run.pdf", "run.svg"]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), f"{pa.name} differs between two exports"
    assert b"<text" in a[2].read_bytes() or b"font-family" in a[2].read_bytes()  # SVG text stays text
