"""The Stress Chamber's core: choosing genomes, Smart Fill (only missing trials run, batched), the
trials table, and the ``stress`` command."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from tests.conftest import PROJECT, snapshot

from lab.analysis.stress import (groups_by_tag, plan_stress, run_stress, select_genomes, stress_frame,
                                 stress_summary)
from lab.analysis.stress import curves as stress_curves
from lab.arenas.base import ArenaBase, TaskConfig, TrialFinished, TrialResult
from lab.arenas.grokking.arena import GrokkingArena
from lab.arenas.grokking.task import GrokTask
from lab.cli import main
from lab.genome import Genome, random_genome
from lab.registry import Registry, RegistryError

TINY = GrokTask(modulus=23, train_fraction=0.6, d_model=16, heads=2, d_ff=32, batch_size=64, step_cap=60,
                eval_interval=20)


@dataclasses.dataclass(frozen=True)
class TinyTask(TaskConfig):
    step_cap: int = 100


class CountingArena(ArenaBase):
    """A fake arena: records every (genome id, seed) it is asked for; even seeds grok at 10 + seed."""

    name, title = "counting", "Counting arena"
    batch_caps = {"cpu": 100, "cuda": 100}

    def __init__(self, spec, cancel_seeds=(), fail_after=None):
        self.spec, self.calls, self.cancel_seeds, self.fail_after = spec, [], set(cancel_seeds), fail_after

    @property
    def gene_spec(self):
        return self.spec

    def default_task(self):
        return TinyTask()

    def run_batch(self, pairs, task, *, device, data, on_event, cancel, tally, race=None):
        pairs = [(g.id, s) for g, s in pairs]
        self.calls.append(pairs)
        results = []
        for gid, s in pairs:
            if self.fail_after is not None and len(results) == self.fail_after:
                raise KeyboardInterrupt  # the user pressed Ctrl-C mid-batch
            results.append(self.trial(gid, s, task, on_event))
        return results

    def trial(self, gid, seed, task, on_event):
        status = "cancelled" if seed in self.cancel_seeds else "grokked" if seed % 2 == 0 else "capped"
        r = TrialResult(gid, task.task_id, seed, status, {"steps_to_grok": 10 + seed if status == "grokked" else None},
                        {"step": [5, 10], "val_acc": [0.5, 1.0]}, arena=self.name)
        if on_event:
            on_event(TrialFinished(r))
        return r

    @property
    def asked(self):
        return [p for call in self.calls for p in call]


class PairsArena(CountingArena):
    """An arena that takes arbitrary (genome, seed) pairs in one batch, as the grokking arena does."""


def _genomes(registry, spec, n, tags=()):
    rng = np.random.default_rng(3)
    return registry.add_genomes(random_genome(spec, rng, name=f"g{i}", tags=tags) for i in range(n))


def _record(registry, genome, task, seeds):
    registry.record_trials([TrialResult(genome.id, task.task_id, s, "capped") for s in seeds])


# ---- choosing genomes -----------------------------------------------------------------------------
def test_select_by_id_prefix_name_tag_and_hall_of_fame_dedups_in_order(registry, spec):
    a, b, c = _genomes(registry, spec, 3)
    tagged = registry.add_genome(Genome(spec, spec.defaults(), name="tagged", tags=("fast",)))
    registry.add_to_hall_of_fame(b)
    chosen = select_genomes(registry, [c.id, a.id[:6], "g1", c.name], tags=["fast"], hall_of_fame=True)
    assert [g.id for g in chosen] == [c.id, a.id, b.id, tagged.id]
    assert groups_by_tag(chosen) == {c.id: "untagged", a.id: "untagged", b.id: "untagged", tagged.id: "fast"}


@pytest.mark.parametrize("refs, tags, fragment", [
    (["nosuch"], (), "no genome 'nosuch'"),
    (["abcdef"], (), "no genome id starts with 'abcdef'"),
    ([], ["slow"], "no grokking genome is tagged 'slow'"),
])
def test_select_unknown_refs_raise_naming_them(registry, spec, refs, tags, fragment):
    _genomes(registry, spec, 1)
    with pytest.raises(RegistryError, match=fragment):
        select_genomes(registry, refs, tags)


# ---- Smart Fill -----------------------------------------------------------------------------------
def test_smart_fill_computes_exactly_the_missing_trials_in_one_batch(registry, spec):
    g0, g1, g2, g3 = _genomes(registry, spec, 4)
    arena = CountingArena(spec)
    task = arena.default_task()
    _record(registry, g0, task, [0, 1])
    _record(registry, g1, task, [0, 1])
    _record(registry, g2, task, [0, 1, 2, 3])
    plan = plan_stress(registry, [g0, g1, g2, g3], task, runs=4)
    assert (plan.total, plan.existing, plan.to_run, plan.seeds) == (16, 8, 8, (0, 1, 2, 3))
    results = run_stress(registry, arena, plan, device="cpu")
    missing = {(g0.id, 2), (g0.id, 3), (g1.id, 2), (g1.id, 3), (g3.id, 0), (g3.id, 1), (g3.id, 2), (g3.id, 3)}
    assert sorted(arena.asked) == sorted(missing) and len(arena.asked) == len(missing)
    assert len(arena.calls) == 1  # every missing pair in one batch (the arena's cap is 100)
    assert {(r.genome_id, r.seed) for r in results} == missing
    assert len(registry.trials()) == 16
    again = plan_stress(registry, [g0, g1, g2, g3], task, runs=4)
    assert (again.existing, again.to_run) == (16, 0)
    assert run_stress(registry, arena, again) == [] and len(arena.calls) == 1


def test_an_arena_with_run_pairs_gets_one_call_and_cancelled_trials_are_not_recorded(registry, spec):
    g0, g1 = _genomes(registry, spec, 2)
    arena = PairsArena(spec, cancel_seeds={2})
    task = arena.default_task()
    _record(registry, g0, task, [0])
    plan = plan_stress(registry, [g0, g1], task, runs=3)
    results = run_stress(registry, arena, plan)
    assert arena.calls == [[(g0.id, 1), (g0.id, 2), (g1.id, 0), (g1.id, 1), (g1.id, 2)]]
    assert sum(r.status == "cancelled" for r in results) == 2
    assert sorted((t.genome_id, t.seed) for t in registry.trials()) == sorted(
        [(g0.id, 0), (g0.id, 1), (g1.id, 0), (g1.id, 1)])
    assert [p[1] for p in plan_stress(registry, [g0, g1], task, runs=3).missing] == [2, 2]


def test_pairs_recorded_after_planning_are_not_run_again(registry, spec):
    (g0,) = _genomes(registry, spec, 1)
    arena = PairsArena(spec)
    plan = plan_stress(registry, [g0], arena.default_task(), runs=3)
    _record(registry, g0, arena.default_task(), [1])  # another window filled seed 1 meanwhile
    run_stress(registry, arena, plan)
    assert arena.calls == [[(g0.id, 0), (g0.id, 2)]]


def test_trials_finished_before_an_interrupt_are_recorded(registry, spec):
    (g0,) = _genomes(registry, spec, 1)
    arena = CountingArena(spec, fail_after=2)
    plan = plan_stress(registry, [g0], arena.default_task(), runs=5, seed_start=10)
    with pytest.raises(KeyboardInterrupt):
        run_stress(registry, arena, plan)
    assert sorted(t.seed for t in registry.trials()) == [10, 11]


@pytest.mark.parametrize("kwargs, fragment", [
    ({"runs": 0}, "runs must be a whole number >= 1"),
    ({"runs": 2.5}, "runs must be a whole number >= 1"),
    ({"runs": 2, "seed_start": -1}, "seed start must be a whole number >= 0"),
])
def test_plan_rejects_bad_runs_and_seeds(registry, spec, kwargs, fragment):
    genomes = _genomes(registry, spec, 1)
    with pytest.raises(ValueError, match=fragment):
        plan_stress(registry, genomes, TinyTask(), **kwargs)
    with pytest.raises(ValueError, match="no genomes to stress"):
        plan_stress(registry, [], TinyTask(), runs=1)


# ---- the trials table -----------------------------------------------------------------------------
def test_stress_frame_curves_and_summary(registry, spec):
    g0, g1 = _genomes(registry, spec, 2)
    arena = CountingArena(spec)
    task = arena.default_task()
    run_stress(registry, arena, plan_stress(registry, [g0, g1], task, runs=4))
    frame = stress_frame(registry, [g0, g1], task.task_id, groups={g0.id: "A"})
    assert list(frame.columns[:8]) == ["genome_id", "name", "label", "group", "seed", "status", "success",
                                       "steps_to_grok"]
    assert [c for c in frame.columns if c.startswith("gene:")] == [f"gene:{k}" for k in spec.keys]
    assert list(frame["group"]) == ["A"] * 4 + [g1.name] * 4 and list(frame["seed"]) == [0, 1, 2, 3] * 2
    assert list(frame["success"][:4]) == [True, False, True, False]
    assert frame["steps_to_grok"][0] == 10 and math.isnan(frame["steps_to_grok"][1])
    assert frame["gene:learning_rate"][4] == g1.genes["learning_rate"]
    assert len(stress_frame(registry, [g0], task.task_id, seeds=[1, 2])) == 2
    assert stress_frame(registry, [g0], "another-task").empty
    assert stress_curves(registry, [g0], task.task_id, seeds=[3])[(g0.id, 3)]["val_acc"] == [0.5, 1.0]
    summary = stress_summary(frame)
    assert list(summary["runs"]) == [4, 4] and list(summary["success_rate"]) == [0.5, 0.5]
    assert list(summary["median_steps_to_grok"]) == [11.0, 11.0]
    assert list(stress_summary(frame, by="group")["group"]) == ["A", g1.name]


def test_a_small_real_grokking_stress_lands_in_the_registry(registry):
    from lab.arenas import get_arena
    from lab.registry import founders

    arena = get_arena("grokking")
    genomes = founders("grokking")[:2]
    plan = plan_stress(registry, genomes, TINY, runs=2)
    events = []
    results = run_stress(registry, arena, plan, device="cpu", on_event=events.append)
    assert len(results) == 4 and {r.status for r in results} <= {"grokked", "capped", "diverged"}
    assert sum(isinstance(e, TrialFinished) for e in events) == 4
    recorded = sorted((t.genome_id, t.seed) for t in registry.trials())
    assert recorded == sorted((g.id, s) for g in genomes for s in (0, 1))
    assert plan_stress(registry, genomes, TINY, runs=2).to_run == 0
    frame = stress_frame(registry, genomes, TINY.task_id)
    assert len(frame) == 4
    assert stress_curves(registry, genomes, TINY.task_id)[(genomes[0].id, 0)]["step"] == [20, 40, 60]


def test_the_time_left_at_a_third_of_the_work_is_within_a_factor_of_two(registry):
    """A real grokking stress batch of a few seconds: the time left that the progress reader (the one
    the Stress Chamber, the Evolution Lab and the CLI bars show) gives at 30-50% of the member-steps
    is within a factor of two of the time the batch then really took."""
    import time

    from lab.arenas import get_arena
    from lab.arenas.base import TrialProgress
    from lab.progress import ProgressReader
    from lab.registry import founders

    task = dataclasses.replace(TINY, step_cap=1000, eval_interval=25)
    plan = plan_stress(registry, founders("grokking")[:3], task, runs=2)
    reader = ProgressReader(plan.to_run, task)
    seen = []

    def on_event(event):
        if reader.update(event):
            seen.append((time.monotonic(), reader.fraction, reader.seconds_left(), event))
    run_stress(registry, get_arena("grokking"), plan, device="cpu", on_event=on_event)
    end = time.monotonic()
    fractions = [f for _, f, _, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len([f for f in fractions if 0 < f < 1]) >= 5, "progress moves while the population trains"
    middle = [(t, f, left) for t, f, left, _ in seen if 0.3 <= f <= 0.5 and left is not None]
    assert middle, f"no estimate between 30% and 50% of the work: {fractions}"
    t, f, left = middle[0]
    actual = end - t
    assert 0.5 <= left / actual <= 2.0, f"at {f:.0%}: {left:.1f} s left said, {actual:.1f} s taken"
    units = {e.unit for _, _, _, e in seen}
    assert units == {"member-steps"}


# ---- the stress command ---------------------------------------------------------------------------
@pytest.fixture
def cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(GrokkingArena, "default_task", lambda self: TINY)
    reg = str(tmp_path / "reg")

    def _run(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--registry", reg])
        out = capsys.readouterr()
        return code, out.out, out.err
    _run.registry = reg
    return _run


def test_stress_command_smart_fills_and_summarises(cli):
    files = [str(PROJECT / "genomes" / f) for f in ("high-lr.json", "classic-adamw.json")]
    code, out, _ = cli("stress", *files, "--runs", "2", "--device", "cpu")
    assert code == 0 and "0 trials exist, 4 will run" in out, out
    assert "success rate" in out and "median steps_to_grok" in out
    assert out.count("high-lr (") == 1 and out.count("classic-adamw (") == 1
    code, out, _ = cli("stress", "high-lr", "classic-adamw", "--runs", "2", "--device", "cpu")
    assert code == 0 and "4 trials exist, 0 will run" in out
    reg = Registry(cli.registry)
    assert len(reg.trials()) == 4 and {g.name for g in reg.list_genomes()} == {"high-lr", "classic-adamw"}


@pytest.mark.parametrize("argv, fragment", [
    (["stress", "nosuch", "--runs", "2"], "no genome 'nosuch'"),
    (["stress", str(PROJECT / "genomes" / "high-lr.json"), "--runs", "0"], "runs must be a whole number >= 1"),
    (["stress", "--runs", "2"], "name genomes"),
    (["stress", "slow", "--tag", "--runs", "2"], "no grokking genome is tagged 'slow'"),
    (["stress", "--hall-of-fame", "--runs", "2"], "Hall of Fame"),
    (["stress", "g", "--runs", "2", "--step-cap", "0"], "step_cap must be >= 1"),
])
def test_stress_bad_input_exits_2_with_one_line_and_writes_nothing(cli, spec, argv, fragment):
    reg = Registry(cli.registry)
    reg.add_genome(Genome(spec, spec.defaults(), name="g"))
    before = snapshot(reg.root)
    code, out, err = cli(*argv)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and fragment in err, err
    assert snapshot(reg.root) == before


def test_first_ctrl_c_asks_the_run_to_stop_and_a_second_interrupts():
    import os
    import signal
    import threading

    from lab.cli.analysis import _first_ctrl_c_cancels

    stop, said = threading.Event(), []
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with _first_ctrl_c_cancels(stop, said.append):
            os.kill(os.getpid(), signal.SIGINT)
            assert stop.is_set() and "finished trials are recorded" in said[0]
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_the_stress_bar_counts_member_steps_with_the_trials_beside_them(cli):
    files = [str(PROJECT / "genomes" / "high-lr.json")]
    code, _, err = cli("stress", *files, "--runs", "2", "--device", "cpu")
    assert code == 0
    # two trials of TINY are 2 x 60 member-steps at most (fewer when one groks early)
    assert "member-steps" in err and "2 of 2 trials finished" in err and "100%" in err, err
