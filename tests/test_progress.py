"""Progress as work done over work expected (lab.progress): the accounting where trials run (early
finishers shrink the expected total, chunks and batches add up to one count), the time-left estimate
from the rate of work, and what each arena emits while it trains."""
from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest

from lab.arenas import get_arena
from lab.arenas.base import TrialFinished, TrialProgress, TrialResult
from lab.arenas.grokking.task import GrokTask
from lab.arenas.grokking.trainer import train_population
from lab.genome import Genome, get_spec
from lab.progress import (EtaClock, ProgressReader, TqdmWork, WorkTally, format_duration, trial_budget,
                          work_unit, work_used)

SMALL = GrokTask(modulus=23, train_fraction=0.6, d_model=16, heads=2, d_ff=32, batch_size=64, step_cap=60,
                 eval_interval=20, loss_window=10)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _genome(**genes) -> Genome:
    spec = get_spec("grokking")
    return Genome(spec, {**spec.defaults(), **genes})


def _diverging() -> Genome:
    bad = _genome()
    object.__setattr__(bad, "genes", MappingProxyType({**bad.genes, "learning_rate": 1e6, "grad_clip": 1e6}))
    return bad


def work_of(events):
    return [(e.work_done, e.work_total) for e in events if isinstance(e, TrialProgress)]


def assert_monotonic_to_full(work, expected_at_most):
    dones, totals = [d for d, _ in work], [t for _, t in work]
    assert dones == sorted(dones), "work done never goes back"
    assert totals == sorted(totals, reverse=True), "the expected total only shrinks"
    assert all(0 <= d <= t for d, t in work)
    assert totals[0] == expected_at_most and dones[-1] == totals[-1], "ends at 100%"


# ---- the accounting ------------------------------------------------------------------------------
def test_early_finishers_take_their_unspent_budget_out_and_the_count_ends_at_full():
    clock = FakeClock()
    tally = WorkTally(100, "member-steps", trials=3, every=0.25, clock=clock)
    assert (tally.done, tally.expected) == (0, 300)
    tally.advance(3 * 40)          # three members trained 40 steps
    tally.finish(40)               # one grokked at step 40: its 60 other steps will not run
    assert (tally.done, tally.expected, tally.finished) == (120, 240, 1)
    tally.advance(2 * 60)
    tally.finish(100)
    tally.finish(100)              # the other two ran to the cap
    assert tally.done == tally.expected == 40 + 100 + 100 and tally.finished == tally.trials == 3
    assert tally.fields() == {"finished": 3, "total": 3, "work_done": 240, "work_total": 240, "unit": "member-steps"}


def test_work_heard_of_only_at_a_trials_end_counts_then():
    tally = WorkTally(50, "generations", trials=2)
    tally.finish(20, counted=False)   # a batch came back from a worker: its trial stopped at 20
    assert (tally.done, tally.expected) == (20, 70)
    tally.add_trials(1)
    assert tally.expected == 120
    tally.finish(50, counted=False)
    tally.finish(50, counted=False)
    assert tally.done == tally.expected == 120


def test_events_are_throttled_unless_forced():
    clock = FakeClock()
    tally = WorkTally(10, "passes", trials=1, every=0.25, clock=clock)
    assert tally.due()
    clock.now = 0.1
    assert not tally.due() and tally.due(force=True)
    clock.now = 0.2
    assert not tally.due()
    clock.now = 0.36
    assert tally.due()


def test_budget_and_unit_come_from_the_tasks_budget_field():
    assert (trial_budget(SMALL), work_unit(SMALL)) == (60, "member-steps")
    for arena, unit in (("m2n2", "passes"), ("genreg", "generations"), ("neat", "generations")):
        task = get_arena(arena).default_task()
        assert work_unit(task) == unit and trial_budget(task) == getattr(task, task.CAP_FIELD)
    grokked = TrialResult("g", SMALL.task_id, 0, "grokked", {"steps": 40})
    assert work_used(grokked, SMALL) == 40
    assert work_used(TrialResult("g", SMALL.task_id, 0, "capped", {}), SMALL) == 60
    assert work_used(TrialResult("g", SMALL.task_id, 0, "cancelled", {}), SMALL) == 0


# ---- the time left -------------------------------------------------------------------------------
def test_time_left_follows_the_rate_of_work_not_the_trial_count():
    clock = FakeClock()
    eta = EtaClock(clock=clock)
    assert eta.remaining(1000) is None
    eta.update(0)
    clock.now = 3.0                      # setting up: no work yet
    eta.update(0)
    for t in range(1, 11):               # then 50 units a second
        clock.now = 3.0 + t
        eta.update(50 * t)
    assert eta.remaining(1000) == pytest.approx(10.0)
    for t in range(1, 11):               # the batch got slower: 25 units a second
        clock.now = 13.0 + t
        eta.update(500 + 25 * t)
    assert eta.remaining(1000) == pytest.approx(250 / 25, rel=0.25)


def test_the_reader_says_what_is_done_what_is_left_and_the_trials_beside_it():
    clock = FakeClock()
    reader = ProgressReader(9, SMALL, clock=clock)
    assert reader.work_text() == "0% of 540 member-steps, estimating time left..."
    assert reader.trials_text() == "0 of 9 trials finished"
    for t, done in ((0.0, 0), (1.0, 90), (2.0, 180)):
        clock.now = t
        reader.update(TrialProgress("grokking", done // 9, 60, 9, 0, 9, work_done=done, work_total=540,
                                    unit="member-steps"))
    assert reader.fraction == pytest.approx(1 / 3)
    assert reader.work_text() == "33% of 540 member-steps, about 4 s left"
    assert reader.steps_text == "step 20 of 60, 9 training"
    reader.update(TrialProgress("m2n2", 0, 0, 3, 1, 9, message="batch of 3 from tcp://w:1 in 2.0 s"))
    assert reader.fraction == pytest.approx(1 / 3) and "tcp://w:1" in reader.steps_text
    assert reader.trials_text() == "1 of 9 trials finished"
    # each arena counts its own budget, and a batch that has finished has nobody training
    reader.update(TrialProgress("m2n2", 1500, 3000, 4, 0, 4))
    assert reader.steps_text == "pass 1,500 of 3,000, 4 training"
    reader.update(TrialProgress("m2n2", 3000, 3000, 4, 4, 4))
    assert reader.steps_text == "pass 3,000 of 3,000"
    assert [format_duration(s) for s in (4.4, 65, 3725)] == ["4 s", "1 min 05 s", "1 h 02 min"]


def test_the_cli_bar_counts_work_units_and_shows_trials_beside_them(capsys):
    bar = TqdmWork(SMALL, 2)
    assert bar.bar.total == 120 and "member-steps" in bar.bar.unit
    bar.update(TrialProgress("grokking", 20, 60, 2, 0, 2, work_done=40, work_total=120, unit="member-steps"))
    assert bar.bar.n == 40
    bar.update(TrialFinished(TrialResult("g", SMALL.task_id, 0, "grokked", {"steps": 20})))
    bar.update(TrialProgress("grokking", 20, 60, 1, 1, 2, work_done=40, work_total=80, unit="member-steps"))
    assert (bar.bar.n, bar.bar.total) == (40, 80)
    bar.close()
    err = capsys.readouterr().err
    assert "member-steps" in err and "1 of 2 trials finished" in err


# ---- what the arenas emit -------------------------------------------------------------------------
def test_the_population_trainer_reports_member_steps_while_it_trains():
    events = []
    train_population([(_diverging(), 0), (_genome(), 0), (_genome(), 1)], SMALL, device="cpu",
                     on_event=events.append)
    work = work_of(events)
    assert_monotonic_to_full(work, 3 * 60)
    assert work[-1][1] < 3 * 60, "the diverged member's unspent steps left the expected total"
    finished = [e.result for e in events if isinstance(e, TrialFinished)]
    assert work[-1][1] == sum(r.metrics["steps"] for r in finished)
    last = [e for e in events if isinstance(e, TrialProgress)][-1]
    assert (last.finished, last.total, last.unit) == (3, 3, "member-steps")


def test_populations_of_one_request_add_up_to_one_count():
    events = []
    pairs = [(_genome(), s) for s in range(3)]
    get_arena("grokking").run_pairs(pairs, SMALL, device="cpu", on_event=events.append, max_batch=1)
    progress = [e for e in events if isinstance(e, TrialProgress)]
    assert {e.total for e in progress} == {3}, "trial counts are of the whole request, not of one population"
    assert [e.finished for e in progress] == sorted(e.finished for e in progress)
    assert_monotonic_to_full(work_of(events), 3 * 60)


def test_m2n2_reports_passes_of_every_run():
    from tests.test_m2n2 import SMALL as M2N2_SMALL
    from tests.test_m2n2 import _genome as m2n2_genome

    events = []
    get_arena("m2n2").run_trials([m2n2_genome()], [0, 1], M2N2_SMALL, on_event=events.append)
    assert_monotonic_to_full(work_of(events), 2 * M2N2_SMALL.passes)
    assert {e.unit for e in events if isinstance(e, TrialProgress)} == {"passes"}


def test_a_neat_run_that_solves_early_takes_its_unspent_generations_out():
    neat = get_arena("neat")
    task = dataclasses.replace(neat.default_task(), generations=150)
    genome = Genome(neat.gene_spec, neat.gene_spec.defaults())
    events = []
    results = neat.run_trials([genome], [0, 1], task, on_event=events.append)
    work = work_of(events)
    assert_monotonic_to_full(work, 2 * 150)
    assert work[-1][1] == sum(r.metrics["generations"] for r in results)
    assert {e.unit for e in events if isinstance(e, TrialProgress)} == {"generations"}
