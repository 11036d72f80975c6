"""The direct run's core: run_direct with a fake job and engine (reports, throttling, cancel, the
archive fitness history), the engine settings it builds, the M2N2 charts on a real snapshot, and a
real GENREG run (reports in generations) with its charts."""
from __future__ import annotations

import dataclasses
import math
import threading
import time

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from lab.analysis.direct_panels import panel_for
from lab.arenas.genreg.charts import draw_genreg_panel, survival_cutoff, weight_mosaic
from lab.arenas.m2n2.charts import draw_m2n2_panel
from lab.arenas import get_arena
from lab.arenas.genreg.engine import GenregSettings
from lab.arenas.genreg.task import GenregTask
from lab.arenas.m2n2.engine import M2N2Settings
from lab.direct import (EngineReport, EngineUnavailable, add_fitness_point, direct_job, empty_history,
                        engine_settings, run_direct, snapshot_unit)
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
    a = panel_for("m2n2").export(tmp_path / "a", "m2n2", snap, history, task.target_acc)
    b = panel_for("m2n2").export(tmp_path / "b", "m2n2", snap, history, task.target_acc)
    assert [p.name for p in a] == ["m2n2.png", "m2n2.pdf", "m2n2.svg"]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), f"{pa.name} differs between two exports"


# ---- GENREG: the budget counts generations ----------------------------------------------------------

GENREG_TASK = GenregTask(dataset="digits", generations=6, eval_interval=2)
GENREG_SETTINGS = GenregSettings(population=12, images_per_class=2, hidden=8)


@pytest.fixture(scope="module")
def genreg_run():
    """A real (tiny) GENREG run on digits: 6 generations of 12 genomes, 64-8-10 MLPs."""
    arena = get_arena("genreg")
    job = FakeJob()
    engine = arena.engine(GENREG_TASK, GENREG_SETTINGS, 5, device="cpu")
    last = run_direct(job, engine, every=2, arena="genreg", min_interval_s=0.0)
    return last, job


def test_a_genreg_run_reports_in_generations_and_its_trust_history_grows(genreg_run):
    last, job = genreg_run
    reports = job.reports
    assert last["passes"] == 6 == reports[-1].snapshot["passes"] and all(r.arena == "genreg" for r in reports)
    assert all(snapshot_unit(r.snapshot) == "generations" for r in reports)
    assert job.progress[-1] == (1.0, "6 of 6 generations")
    passes = [r.snapshot["passes"] for r in reports]
    assert passes[0] == 0 and passes == sorted(passes) and len(passes) >= 3
    history = reports[-1].history
    assert history["passes"] == passes and len(history["mean"]) == len(passes)
    assert [len(r.history["passes"]) for r in reports] == list(range(1, len(reports) + 1))
    assert history["min"][-1] <= history["mean"][-1] <= history["max"][-1]
    assert last["curve"]["step"] == [2, 4, 6] and len(last["fitness"]) == 12 and last["survivors"] == 3


def test_the_unit_defaults_to_passes_without_one():
    assert snapshot_unit({"passes": 3}) == "passes" and snapshot_unit({"unit": "generations"}) == "generations"


def test_engine_settings_for_genreg_are_a_genome_with_whole_numbers_where_the_engine_wants_them():
    arena = get_arena("genreg")
    genes = {**arena.gene_spec.defaults(), "population": 24.0, "hidden": 16, "images_per_class": 3}
    genome = engine_settings(arena, genes)
    assert isinstance(genome, Genome) and genome.spec.name == "genreg"
    assert all(type(genome.genes[k]) is int for k in ("population", "hidden", "images_per_class"))
    engine = arena.engine(GENREG_TASK, genome, 1, device="cpu")
    assert (engine.settings.population, engine.settings.hidden, engine.settings.images_per_class) == (24, 16, 3)
    with pytest.raises(ValueError, match="population"):
        engine_settings(arena, {**genes, "population": 5})


def test_each_arena_with_an_engine_has_its_panel():
    assert panel_for("genreg").draw is draw_genreg_panel and panel_for("m2n2").draw is draw_m2n2_panel
    with pytest.raises(KeyError, match="grokking arena has no direct-run charts"):
        panel_for("grokking")


def test_the_four_genreg_charts_draw_a_real_snapshot(genreg_run):
    last, job = genreg_run
    history = job.reports[-1].history
    fig = draw_genreg_panel(Figure(figsize=(8, 6)), last, history, GENREG_TASK.target_acc)
    accuracy, per_class, trust, weights = fig.axes[:4]
    assert len(fig.axes) == 6, "the trust axis behind the accuracy and the weights' colour bar"
    train, test, target = accuracy.lines
    assert list(test.get_xdata()) == last["curve"]["step"] and list(test.get_ydata()) == last["curve"]["val_acc"]
    assert list(target.get_ydata()) == [GENREG_TASK.target_acc] * 2 and target.get_linestyle() == "--"
    assert accuracy.get_xlim() == (0, 6) and accuracy.get_xlabel() == "generation"
    trust_axis = fig.axes[4]
    assert any(isinstance(c, PolyCollection) for c in trust_axis.collections)
    assert list(trust_axis.lines[0].get_xdata()) == history["passes"]
    assert [t.get_text() for t in per_class.get_xticklabels()] == [str(d) for d in range(10)]
    assert [p.get_height() for p in per_class.patches] == pytest.approx(last["per_class"])
    assert sum(p.get_height() for p in trust.patches) == 12, "every genome in the histogram"
    cutoff, best = trust.lines
    assert cutoff.get_xdata()[0] == survival_cutoff(last["fitness"], 3)
    assert best.get_xdata()[0] == last["fitness"][last["best"]]
    mosaic = weights.images[-1].get_array()
    assert mosaic.shape == weight_mosaic(last["weights"]).shape == (3 * 9 - 1, 3 * 9 - 1)  # 8 tiles of 8x8, 3 wide
    assert "8 hidden units" in weights.get_title()
    fig.canvas.draw()


def test_genreg_charts_say_no_run_yet_and_when_inputs_are_not_images(genreg_run):
    blank = draw_genreg_panel(Figure(), None, None, 0.8)
    assert len(blank.axes) == 4
    assert all(any("no run yet" in t.get_text() for t in ax.texts) for ax in blank.axes)
    last, job = genreg_run
    fig = draw_genreg_panel(Figure(), {**last, "weights": None}, job.reports[-1].history, 0.8)
    assert any("not images" in t.get_text() for t in fig.axes[3].texts)
    first = draw_genreg_panel(Figure(), job.reports[0].snapshot, job.reports[0].history, 0.8)
    assert any("no held-out evaluation yet" in t.get_text() for t in first.axes[1].texts)
    first.canvas.draw()


def test_weight_mosaic_tiles_images_with_gaps():
    tiles = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    mosaic = weight_mosaic(tiles)          # 5 tiles: 3 wide, 2 lines
    assert mosaic.shape == (2 * 3 - 1, 3 * 4 - 1)
    assert (mosaic[0:2, 4:7] == tiles[1]).all() and (mosaic[3:5, 4:7] == tiles[4]).all()
    assert np.isnan(mosaic[2]).all() and np.isnan(mosaic[3:5, 8:11]).all()


def test_genreg_export_writes_png_pdf_svg_reproducibly(genreg_run, tmp_path):
    last, job = genreg_run
    history = job.reports[-1].history
    a = panel_for("genreg").export(tmp_path / "a", "genreg", last, history, 0.8)
    b = panel_for("genreg").export(tmp_path / "b", "genreg", last, history, 0.8)
    assert [p.name for p in a] == ["genreg.png", "genreg.pdf", "genreg.svg"]
    for pa, pb in zip(a, b):
        assert pa.stat().st_size > 1000 and pa.read_bytes() == pb.read_bytes(), pa.name
