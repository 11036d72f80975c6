"""The direct run's core: run_direct with a fake job and engine (reports, throttling, cancel, the
archive fitness history), the engine settings it builds, and the M2N2 charts on a real snapshot."""
from __future__ import annotations

import dataclasses
import math
import threading
import time

import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from lab.analysis.m2n2_charts import draw_m2n2_panel, export_m2n2_panel
from lab.arenas import get_arena
from lab.arenas.m2n2.engine import M2N2Settings
from lab.direct import (EngineReport, EngineUnavailable, add_fitness_point, direct_job, empty_history,
                        engine_settings, run_direct)
from lab.genome import Genome


class FakeJob:
    def __init__(self):
        self.events: list = []
        self.progress: list = []
        self.cancel_token = threading.Event()

    def emit(self, event):
        self.events.append(event)

    def report(self, fraction, text=""):
        self.progress.append((fraction, text))

    @property
    def reports(self) -> list[EngineReport]:
        return [e for e in self.events if isinstance(e, EngineReport)]


class FakeEngine:
    """Passes counted; slot k's fitness is passes + k; the last slot stays empty."""

    def __init__(self, budget=100, pass_s=0.0, cancel_at=None, job=None):
        self.passes, self.budget, self.pass_s = 0, budget, pass_s
        self.cancel_at, self.job = cancel_at, job
        self.steps: list[int] = []

    @property
    def done(self):
        return self.passes >= self.budget

    def step(self, n):
        n = min(n, self.budget - self.passes)
        self.steps.append(n)
        for _ in range(n):
            time.sleep(self.pass_s)
            self.passes += 1
            if self.cancel_at is not None and self.passes >= self.cancel_at:
                self.job.cancel_token.set()  # as if the user pressed Stop while this step ran
        return n

    def snapshot(self, r=0):
        return {"passes": self.passes, "budget": self.budget, "fitness": [self.passes + k for k in range(4)],
                "filled": [True, True, True, False]}


def test_run_direct_reports_from_start_to_end_with_the_fitness_history():
    job, engine = FakeJob(), FakeEngine(budget=100)
    last = run_direct(job, engine, every=10, arena="fake", min_interval_s=0.0)
    reports = job.reports
    assert reports[0].snapshot["passes"] == 0 and reports[-1].snapshot["passes"] == 100 == last["passes"]
    assert all(r.arena == "fake" for r in reports)
    passes = [r.snapshot["passes"] for r in reports]
    assert passes == sorted(passes) and max(engine.steps) <= 10
    h = reports[-1].history
    assert h["passes"] == passes
    # the empty slot (fitness passes + 3) is left out: max is passes + 2
    assert h["min"] == [p for p in passes] and h["max"] == [p + 2 for p in passes]
    assert h["mean"] == pytest.approx([p + 1 for p in passes])
    assert reports[0].history["passes"] == [0], "each report carries its own copy of the history so far"
    assert job.progress[-1] == (1.0, "100 of 100 passes")


def test_run_direct_stops_on_cancel_and_reports_where_it_stopped():
    job = FakeJob()
    engine = FakeEngine(budget=10_000, cancel_at=37, job=job)
    last = run_direct(job, engine, every=5, min_interval_s=60.0)  # no report between start and stop
    assert job.cancel_token.is_set() and 37 <= engine.passes < 10_000
    assert last["passes"] == engine.passes == job.reports[-1].snapshot["passes"]
    assert len(job.reports) == 2  # the start and where it stopped


def test_run_direct_emits_at_most_about_ten_reports_a_second():
    job, engine = FakeJob(), FakeEngine(budget=400, pass_s=0.002)
    started = time.monotonic()
    run_direct(job, engine, every=1)
    elapsed = time.monotonic() - started
    assert len(job.reports) <= elapsed / 0.1 + 3, (len(job.reports), elapsed)
    assert len(engine.steps) > len(job.reports), "steps go on between reports"


def test_slow_passes_make_small_steps_so_a_cancel_lands_promptly():
    job = FakeJob()
    engine = FakeEngine(budget=1000, pass_s=0.03)
    timer = threading.Timer(0.3, job.cancel_token.set)
    timer.start()
    started = time.monotonic()
    run_direct(job, engine, every=50)
    assert time.monotonic() - started < 1.0
    assert max(engine.steps) <= 2, engine.steps


def test_fitness_points_skip_repeats_empty_archives_and_snapshots_without_fitness():
    h = empty_history()
    assert add_fitness_point(h, {"passes": 5, "fitness": [1.0, 9.0, math.nan], "filled": [True, False, True]})
    assert not add_fitness_point(h, {"passes": 5, "fitness": [2.0], "filled": [True]})
    assert not add_fitness_point(h, {"passes": 6, "fitness": [2.0], "filled": [False]})
    assert not add_fitness_point(h, {"passes": 7})
    assert h == {"passes": [5], "min": [1.0], "mean": [1.0], "max": [1.0]}


def test_engine_settings_for_m2n2_carry_the_partner_and_name_bad_genes():
    arena = get_arena("m2n2")
    genes = arena.gene_spec.defaults()
    assert engine_settings(arena, genes, {"partner": "uniform"}) == M2N2Settings(partner="uniform")
    assert engine_settings(arena, {**genes, "attraction": 0}, {"partner": "attraction"}).partner == "attraction"
    with pytest.raises(ValueError, match="alpha"):
        engine_settings(arena, {**genes, "alpha": float("nan")}, {"partner": "fitness"})
    grok = get_arena("grokking")
    assert isinstance(engine_settings(grok, grok.gene_spec.defaults()), Genome)


def test_a_missing_data_folder_comes_back_as_a_message_not_a_failure(tmp_path):
    arena = get_arena("m2n2")
    task = dataclasses.replace(arena.default_task(), dataset="mnist", data_folder=str(tmp_path / "nowhere"))
    result = direct_job(FakeJob(), arena, task, M2N2Settings(), 1, 10, "cpu")
    assert isinstance(result, EngineUnavailable) and "does not exist" in result.message


@pytest.fixture(scope="module")
def real_run():
    """A real (tiny) M2N2 run: 60 passes of a 64-16-10 MLP on digits, an archive of 6."""
    arena = get_arena("m2n2")
    task = dataclasses.replace(arena.default_task(), hidden=16, passes=60, eval_interval=20)
    job = FakeJob()
    last = direct_job(job, arena, task, M2N2Settings(archive_size=6), 3, 10, "cpu")
    assert last["passes"] == 60
    return task, last, job.reports[-1].history


def test_the_four_charts_draw_a_real_snapshot(real_run):
    task, snap, history = real_run
    fig = draw_m2n2_panel(Figure(figsize=(8, 6)), snap, history, task.target_acc)
    fitness, accuracy, per_class, attraction = fig.axes[:4]
    assert len(fig.axes) == 6, "two heatmaps with their colour bars"
    assert any(isinstance(c, PolyCollection) for c in fitness.collections)
    assert list(fitness.lines[0].get_xdata()) == history["passes"]
    train, test, target = accuracy.lines
    assert list(test.get_xdata()) == snap["curve"]["step"] == [0, 20, 40, 60]
    assert list(target.get_ydata()) == [task.target_acc] * 2 and target.get_linestyle() == "--"
    assert per_class.images[-1].get_array().shape == (6, 10)
    assert f"{snap['best']}*" in [t.get_text() for t in per_class.get_yticklabels()]
    assert attraction.images[-1].get_array().shape == (6, 6)
    fig.canvas.draw()


def test_empty_slots_are_shown_as_such_and_no_snapshot_says_so(real_run):
    task, snap, history = real_run
    snap = {**snap, "filled": [True, True, False, True, True, False], "best": 0}
    fig = draw_m2n2_panel(Figure(), snap, history, task.target_acc)
    per_class, attraction = fig.axes[2], fig.axes[3]
    assert "(2 empty)" in per_class.get_title()
    assert "2 (empty)" in [t.get_text() for t in per_class.get_yticklabels()]
    assert per_class.images[-1].get_array().mask[2].all() and not per_class.images[-1].get_array().mask[1].any()
    assert attraction.images[-1].get_array().mask[:, 5].all()
    blank = draw_m2n2_panel(Figure(), None, None, 0.85)
    assert all(any("no run yet" in t.get_text() for t in ax.texts) for ax in blank.axes)


def test_export_writes_png_pdf_svg_reproducibly(real_run, tmp_path):
    task, snap, history = real_run
    a = export_m2n2_panel(tmp_path / "a", "m2n2", snap, history, task.target_acc)
    b = export_m2n2_panel(tmp_path / "b", "m2n2", snap, history, task.target_acc)
    assert [p.name for p in a] == ["m2n2.png", "m2n2.pdf", "m2n2.svg"]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), f"{pa.name} differs between two exports"
