"""Racing (lab/arenas/racing.py): the stop rule, censored trials in the registry and Smart Fill, the
evolution's ranking with racing on and off, exact resume of a raced run, and a tiny real run."""
from __future__ import annotations

import dataclasses
import threading

import pytest

from lab.arenas.base import ArenaBase, TaskConfig, TrialFinished, TrialResult
from lab.arenas.racing import CENSORED, Race, RacingRule, censor, censored_key, quorum
from lab.evolution.population import Evolution, RunInterrupted
from lab.evolution.settings import EvolutionSettings
from lab.genome import Gene, GeneSpec, Genome, register_spec
from lab.registry import Registry

RACE_TOY = register_spec(GeneSpec("race-toy", "Racing toy", (
    Gene("x", "X", "Shape", 0.0, 1.0, "linear", "float", 0.5, "distance from 0.3 slows grokking"),
    Gene("y", "Y", "Shape", 0.0, 1.0, "linear", "float", 0.5, "above 0.85 never groks on odd seeds"),
)))


@dataclasses.dataclass(frozen=True)
class RaceTask(TaskConfig):
    step_cap: int = 2000
    eval_interval: int = 25


def grok_step(genome: Genome, seed: int, task: RaceTask) -> int | None:
    """Deterministic outcome of a toy trial: a multiple of the evaluation interval, or None (never)."""
    if genome.genes["y"] > 0.85 and seed % 2:
        return None
    raw = 150 + 2500 * abs(genome.genes["x"] - 0.3) + (seed * 7919) % 211
    return int(-(-raw // task.eval_interval) * task.eval_interval)


class RacingToyArena(ArenaBase):
    """Instant trials that behave like the grokking trainer: a population steps through evaluation
    steps; a trial grokks at its ``grok_step``, reaches the cap (capped), or is stopped by the race
    (censored); chunks of ``max_members`` run one after another; the registry is used as the real
    arenas use it (Smart Fill, recording). ``cancel_after`` cancels after that many trials ran."""

    name, title = "race-toy", "racing toy arena"
    gene_spec = RACE_TOY
    supports_racing = True

    def __init__(self, max_members: int = 1000, cancel_after: int | None = None):
        self.max_members, self.cancel_after = max_members, cancel_after
        self.batch_caps = {"cpu": max_members, "cuda": max_members}
        self.member_steps = 0
        self.ran = 0
        self.calls: list[list[int]] = []

    def default_task(self):
        return RaceTask()

    def grok_step(self, genome, seed, task):
        return grok_step(genome, seed, task)

    def run_batch(self, pairs, task, *, device, data, on_event, cancel, tally, race=None):
        self.calls.append(sorted({s for _, s in pairs}))
        if self.cancel_after is not None and self.ran >= self.cancel_after:
            return [TrialResult(g.id, task.task_id, s, "cancelled", arena=self.name) for g, s in pairs]
        results = self._population(list(pairs), task, race, on_event)
        self.ran += len(results)
        return results

    def _population(self, chunk, task, race, on_event):
        live = {i: self.grok_step(g, s, task) for i, (g, s) in enumerate(chunk)}
        out: dict[int, TrialResult] = {}
        for step in range(task.eval_interval, task.step_cap + 1, task.eval_interval):
            self.member_steps += task.eval_interval * len(live)
            for i in [i for i, g in live.items() if g is not None and g <= step] + (
                    list(live) if step == task.step_cap else []):
                if i in out:
                    continue
                g, s = chunk[i]
                status = "grokked" if live[i] is not None and live[i] <= step else "capped"
                out[i] = self._result(g, s, task, status, step, live[i])
                del live[i]
                if race is not None:
                    race.observe(out[i])
            if race is not None and live and race.should_stop(step):
                for i in list(live):
                    g, s = chunk[i]
                    out[i] = self._result(g, s, task, CENSORED, step, None)
                    del live[i]
            if not live:
                break
        for i in sorted(out):
            if on_event:
                on_event(TrialFinished(out[i]))
        return [out[i] for i in sorted(out)]

    @staticmethod
    def _result(g, s, task, status, step, grok):
        steps = list(range(task.eval_interval, step + 1, task.eval_interval))
        target = grok or 10 * task.step_cap
        acc = [min(1.0, t / target) for t in steps]   # validation accuracy rises towards the grok step
        metrics = {"steps_to_grok": grok if status == "grokked" else None, "steps": step}
        if status == CENSORED:
            metrics.update(censored_at=step, censored_val_acc=acc[-1])
        return TrialResult(g.id, task.task_id, s, status, metrics=metrics, curve={"step": steps, "val_acc": acc},
                           arena="race-toy")


def _t(gid: str, seed: int, status: str, grok: int | None = None, **metrics) -> TrialResult:
    return TrialResult(gid, "t", seed, status, metrics={"steps_to_grok": grok, **metrics},
                       curve={"step": [100, 200, 300, 400], "val_acc": [0.1, 0.2, 0.3, 0.4]})


class _G:
    def __init__(self, gid):
        self.id = gid


# ---- the rule ------------------------------------------------------------------------------------
def test_quorum_is_a_majority():
    assert [quorum(n) for n in (1, 2, 3, 4, 5, 20)] == [1, 2, 2, 3, 3, 11]


def test_stop_step_is_factor_times_the_median_of_the_first_genome_to_grok_every_seed():
    pairs = [(_G(g), s) for g in "ab" for s in range(3)]
    race = Race.for_pairs(RacingRule(factor=2.0, floor=300), pairs, step_cap=2000, eval_interval=25)
    for seed, grok in enumerate((100, 150, 1900)):   # a: fast on two seeds, slow on the third
        race.observe(_t("a", seed, "grokked", grok))
    for seed, grok in enumerate((200, 250, 400)):    # b: median 250, every seed by step 400
        race.observe(_t("b", seed, "grokked", grok))
    assert race.leader(399) == float("inf") and race.leader(400) == 250 and race.leader(1900) == 150
    assert not race.should_stop(475) and race.should_stop(500)   # 2 x 250
    assert race.stop_step() == 500
    floor = Race.for_pairs(RacingRule(factor=2.0, floor=800), pairs, 2000, 25)
    for r in (_t("b", 0, "grokked", 100), _t("b", 1, "grokked", 100), _t("b", 2, "grokked", 100)):
        floor.observe(r)
    assert floor.stop_step() == 800                                # never below the floor
    nobody = Race.for_pairs(RacingRule(), pairs, 2000, 25)
    nobody.observe(_t("a", 0, "grokked", 100))
    assert nobody.stop_step() is None and not nobody.should_stop(1975)


def test_a_majority_leader_is_the_upper_median_of_a_majority_of_seeds():
    pairs = [(_G(g), s) for g in "ab" for s in range(3)]
    race = Race.for_pairs(RacingRule(factor=2.0, floor=300, leader="majority"), pairs, step_cap=2000,
                          eval_interval=25)
    for seed, grok in enumerate((100, 150, 1900)):   # genome a: upper median (2nd of 3) = 150
        race.observe(_t("a", seed, "grokked", grok))
    race.observe(_t("b", 0, "grokked", 50))          # b: only one of three: no race time yet
    assert race.leader(149) == float("inf") and race.leader(150) == 150
    assert not race.should_stop(275) and race.should_stop(300)   # 2 x 150 = 300 = the floor
    assert race.stop_step() == 300
    assert Race.from_dict(race.to_dict()).rule == race.rule


def test_finalize_relabels_everything_that_ran_past_the_stop_step():
    pairs = [(_G(g), s) for g in "abc" for s in range(3)]
    race = Race.for_pairs(RacingRule(factor=2.0, floor=0, leader="majority"), pairs, step_cap=2000,
                          eval_interval=100)
    results = [_t("a", 0, "grokked", 100), _t("a", 1, "grokked", 100), _t("a", 2, "grokked", 300),
               _t("b", 0, "grokked", 200), _t("b", 1, "capped", steps=2000), _t("b", 2, "diverged", diverged_step=300),
               _t("c", 0, "censored", censored_at=400, steps=400), _t("c", 1, "diverged", diverged_step=100),
               _t("c", 2, "cancelled")]
    out = race.finalize(results)
    assert race.stop_step() == 200
    assert [r.status for r in out] == ["grokked", "grokked", CENSORED, "grokked", CENSORED, CENSORED,
                                       CENSORED, "diverged", "cancelled"]
    assert all(r.metrics["censored_at"] == 200 for r in out if r.status == CENSORED)
    assert out[2].curve["step"] == [100, 200] and out[2].metrics["censored_val_acc"] == 0.2
    assert results[2].status == "grokked"   # the input is not changed


def test_censored_genomes_rank_by_grokked_trials_then_validation_accuracy():
    a = [censor(_t("a", 0, "capped"), 300), _t("a", 1, "grokked", 100)]
    b = [censor(_t("b", 0, "capped"), 400), censor(_t("b", 1, "capped"), 400)]
    c = [censor(_t("c", 0, "capped"), 200), censor(_t("c", 1, "capped"), 200)]
    assert censored_key(a) == (1, 0.3) and censored_key(b) == (0, 0.4) and censored_key(c) == (0, 0.2)
    assert sorted([c, a, b], key=censored_key, reverse=True) == [a, b, c]


def test_bad_rules_are_named():
    with pytest.raises(ValueError, match="racing factor must be a number >= 1"):
        RacingRule(factor=0.5)
    with pytest.raises(ValueError, match="racing floor"):
        RacingRule(floor=-1)
    with pytest.raises(ValueError, match="racing leader must be one of all, majority"):
        RacingRule(leader="first")
    with pytest.raises(ValueError, match="racing factor"):
        EvolutionSettings(racing_factor=float("nan"))


def test_the_stop_step_does_not_depend_on_chunks_or_their_order():
    genomes = [Genome(RACE_TOY, {"x": x, "y": y}) for x, y in ((0.3, 0.5), (0.5, 0.5), (0.9, 0.9), (0.1, 0.2))]
    task = RaceTask()
    pairs = [(g, s) for g in genomes for s in range(5)]
    labels = []
    for cap, order in ((1000, pairs), (3, pairs), (3, pairs[::-1]), (1, pairs)):
        race = Race.for_pairs(RacingRule(2.0, 100), pairs, task.step_cap, task.eval_interval)
        out = race.finalize(RacingToyArena(max_members=cap).run_pairs(order, task, race=race))
        labels.append(sorted((r.genome_id, r.seed, r.status, r.metrics.get("censored_at")) for r in out))
    assert labels[0] == labels[1] == labels[2] == labels[3]
    assert any(status == CENSORED for *_, status, _ in labels[0])


# ---- censored trials in the registry and Smart Fill ---------------------------------------------
def test_censored_trials_are_stored_with_their_status_and_never_taken_as_full_results(tmp_path):
    from lab.analysis.stress import plan_stress
    reg = Registry(tmp_path / "reg")
    g = Genome(RACE_TOY, {"x": 0.9, "y": 0.5})
    reg.add_genomes([g])
    task = RaceTask()
    stopped = RacingToyArena._result(g, 3, task, CENSORED, 300, None)
    reg.record_trials([stopped])
    assert '"status":"censored"' in (tmp_path / "reg" / "trials.jsonl").read_text()
    fresh = Registry(tmp_path / "reg")
    assert [t.status for t in fresh.censored_trials()] == [CENSORED]
    assert fresh.get_trial(g.id, task.task_id, 3) is None and not fresh.has_trial(g.id, task.task_id, 3)
    assert fresh.trials() == [] and fresh.missing_seeds(g.id, task.task_id, [3]) == [3]
    plan = plan_stress(fresh, [g], task, runs=2, seed_start=3)
    assert len(plan.missing) == 2        # Smart Fill runs the censored trial to its cap
    full = RacingToyArena().run_pairs([(g, 3)], task, registry=fresh)[0]
    assert full.status in ("grokked", "capped") and full.metrics["steps"] > 300
    again = Registry(tmp_path / "reg")
    assert again.get_trial(g.id, task.task_id, 3).status == full.status and again.censored_trials() == []


# ---- the evolution with racing -------------------------------------------------------------------
def _settings(**kw) -> EvolutionSettings:
    base = dict(arena="race-toy", population=12, seeds_per_genome=3, generations=3, landscape="sniper",
                selection="tournament3", aliens=2, elites=2, hof_strictness=0.5, run_seed=5, device="cpu",
                racing_factor=2.0, racing_floor=100)
    return EvolutionSettings(**{**base, **kw})


def _finished_order(record) -> list[str]:
    rows = {r["id"]: r for r in record["genomes"]}
    return [gid for gid in dict.fromkeys(record["ranking"]) if not rows[gid]["censored"]]


def test_racing_on_and_off_rank_finished_genomes_alike_with_the_same_elites_and_hall_of_fame(tmp_path):
    on_arena, off_arena = RacingToyArena(max_members=16), RacingToyArena(max_members=16)
    # elites and Hall of Fame entries come from finished genomes only: they equal the unraced run's
    # when those finish under racing, as the top of a generation does (a genome that grokked a seed
    # only after S = 2 x the leader's median could still pass a lax strictness such as 0.5 unraced)
    on = Evolution(_settings(hof_strictness=0.8), Registry(tmp_path / "on"), arena=on_arena, run_id="r")
    off = Evolution(_settings(racing=False, hof_strictness=0.8), Registry(tmp_path / "off"), arena=off_arena,
                    run_id="r")
    a, b = on.step(), off.step()
    assert a["seeds"] == b["seeds"]
    finished = _finished_order(a)
    assert a["race"]["censored"] > 0 and len(finished) >= 3
    assert [gid for gid in dict.fromkeys(b["ranking"]) if gid in finished] == finished
    rows_on = {r["id"]: r for r in a["genomes"]}
    rows_off = {r["id"]: r for r in b["genomes"]}
    assert all(rows_on[g]["fitness"] == rows_off[g]["fitness"] for g in finished)
    # censored genomes come after every finished one
    ranks = {gid: i for i, gid in enumerate(dict.fromkeys(a["ranking"]))}
    assert max(ranks[g] for g in finished) < min(ranks[g] for g in ranks if g not in finished)
    assert on.elite_ids == off.elite_ids and on.elite_ids
    assert a["hall_of_fame_added"] == b["hall_of_fame_added"] and a["hall_of_fame_added"]
    assert on_arena.member_steps < 0.8 * off_arena.member_steps
    assert a["race"]["member_steps_not_trained"] > 0 and a["race"]["stop_step"] >= 100
    assert b["race"] is None and all(r["censored"] == 0 for r in b["genomes"])


def test_censored_genomes_rank_among_themselves_by_the_documented_rule(tmp_path):
    evo = Evolution(_settings(), Registry(tmp_path / "r"), arena=RacingToyArena(), run_id="r")
    record = evo.step()
    rows = {r["id"]: r for r in record["genomes"]}
    stopped = [gid for gid in dict.fromkeys(record["ranking"]) if rows[gid]["censored"]]
    keys = [tuple(rows[gid]["censored_key"]) for gid in stopped]
    assert len(stopped) >= 2 and keys == sorted(keys, reverse=True)
    assert not set(stopped) & evo.elite_ids
    assert not set(stopped) & set(record["hall_of_fame_added"])


def test_resume_of_a_raced_run_is_exact(tmp_path):
    straight = Evolution(_settings(generations=4), Registry(tmp_path / "straight"), arena=RacingToyArena(6),
                         run_id="r")
    straight.run()
    reg = Registry(tmp_path / "cut")
    evo = Evolution(_settings(generations=4), reg, arena=RacingToyArena(6), run_id="r")
    evo.step()
    recorded = len(reg.trials()) + len(reg.censored_trials())
    # generation 2 is cut after two of its populations: their trials (censored ones too) are recorded
    evo.arena = RacingToyArena(6, cancel_after=12)
    with pytest.raises(RunInterrupted):
        evo.step()
    assert len(reg.trials()) + len(reg.censored_trials()) == recorded + 12
    resumed = Evolution.resume(reg, "r", arena=RacingToyArena(6))
    resumed.run()
    assert resumed.history == straight.history
    assert [g.id for g in resumed.population] == [g.id for g in straight.population]


def test_a_run_saved_before_racing_resumes_without_it():
    old = _settings().to_dict()
    for key in ("racing", "racing_factor", "racing_floor"):
        old.pop(key)
    assert EvolutionSettings.from_dict(old).racing is False
    assert EvolutionSettings().racing is True


def test_racing_on_the_real_trainer_leaves_finished_trials_unchanged():
    """A tiny real population with and without a race: every trial that finished under racing is
    the same trial without it (members share no arithmetic), and the stopped ones are censored."""
    from lab.arenas.grokking.arena import ARENA
    from lab.arenas.grokking.task import GrokTask
    from lab.registry import founders
    # mod-23 addition that a small model learns in ~100-150 steps at lr 1e-2 (validation accuracy
    # 0.5 counts as grokked here); lr 1e-3 does not within the cap
    task = GrokTask(modulus=23, train_fraction=0.8, d_model=32, heads=2, d_ff=64, batch_size=128, step_cap=200,
                    eval_interval=10, grok_threshold=0.5)
    base = next(f for f in founders("grokking") if f.name == "high-lr")
    genomes = [base.replace(genes={**base.genes, "learning_rate": lr, "warmup_steps": 0}) for lr in (0.03, 0.01, 0.001)]
    seeds = [0, 1, 2]
    plain = ARENA.run_trials(genomes, seeds, task, device="cpu")
    assert any(r.status == "grokked" for r in plain)
    race = Race.for_pairs(RacingRule(factor=1.2, floor=0, leader="majority"), [(g, s) for g in genomes for s in seeds],
                          task.step_cap, task.eval_interval)
    raced = race.finalize(ARENA.run_trials(genomes, seeds, task, device="cpu", race=race))
    stop = race.stop_step()
    assert stop is not None and any(r.status == CENSORED for r in raced)
    # a worker of the process or Dask backends races its own batch with the same rule
    from lab.remote import run_batch
    pairs = [(g.to_dict(), s) for g in genomes for s in seeds]
    remote = race.finalize([TrialResult.from_dict(d) for d in
                            run_batch("grokking", task.to_dict(), pairs, "cpu", race=race.to_dict())["trials"]])
    assert [(r.status, r.metrics["steps_to_grok"]) for r in remote] == \
           [(r.status, r.metrics["steps_to_grok"]) for r in raced]
    for p, r in zip(plain, raced):
        if r.status == CENSORED:
            assert r.metrics["censored_at"] == stop
            assert p.status != "grokked" or p.metrics["steps_to_grok"] > stop
        else:
            assert (r.status, r.metrics["steps_to_grok"], r.curve["val_acc"]) == \
                   (p.status, p.metrics["steps_to_grok"], p.curve["val_acc"])


# ---- the benchmark's seeds ----------------------------------------------------------------------
class FakeGrokkingArena(RacingToyArena):
    """The racing toy's mechanics over the real grokking gene table and task: a trial groks sooner the
    closer log10(learning_rate) is to -2 and init_attn_qk to 2, with a seed-dependent jitter."""

    name, title = "grokking", "fake grokking"

    @property
    def gene_spec(self):
        from lab.arenas.grokking.genes import GROKKING_SPEC
        return GROKKING_SPEC

    def default_task(self):
        from lab.arenas.grokking.task import GrokTask
        return GrokTask()

    def grok_step(self, genome, seed, task):
        import math
        lr, qk = genome.genes["learning_rate"], genome.genes["init_attn_qk"]
        raw = 150 + 900 * abs(math.log10(lr) + 2) + 300 * abs(math.log2(qk) - 1) + (seed * 7919) % 151
        return None if raw > task.step_cap else int(-(-raw // task.eval_interval) * task.eval_interval)


def test_the_benchmark_never_shows_its_held_out_seeds_to_the_evolution_or_the_finalist_choice(tmp_path, capsys):
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / "bench" / "evolve_grok.py"
    spec = importlib.util.spec_from_file_location("evolve_grok_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    arena = FakeGrokkingArena()
    result = bench.main(["--population", "8", "--seeds", "2", "--generations", "3", "--aliens", "1",
                         "--elites", "1", "--finalists", "3", "--holdout-seeds", "40-49",
                         "--validation-seeds", "500-504", "--registry", str(tmp_path / "reg"), "--device", "cpu"],
                        arena=arena)
    holdout, validation = set(range(40, 50)), set(range(500, 505))
    first = next(i for i, seeds in enumerate(arena.calls) if set(seeds) & holdout)
    assert first >= 4                                      # 3 generations and the validation came first
    assert all(not set(seeds) & holdout for seeds in arena.calls[:first])
    assert all(min(seeds) >= 1_000_000 for seeds in arena.calls[:3])
    assert set(arena.calls[3]) == validation
    assert all(set(seeds) <= holdout for seeds in arena.calls[first:])   # Smart Fill runs only what is missing
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("RESULT evolved_median_steps=")
    assert " minutes=" in out and result["evolved_success"] == 1.0 and result["speedup"] > 1.0
    with pytest.raises(SystemExit):
        bench.parse_args(["--holdout-seeds", "100-119", "--validation-seeds", "110-130"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--holdout-seeds", "999999-1000001"])


def test_a_generation_trains_as_one_population_up_to_the_devices_member_cap(registry, monkeypatch):
    """The evolution hands a generation's trials to the grokking arena in one call, and the arena
    trains them as one population (its trials race together); past the member cap the others wait
    and join as members finish (continuous batching), still in the one call."""
    from lab.arenas.grokking import arena as grok_arena
    from lab.arenas.grokking.task import GrokTask
    sizes = []

    def fake_train(chunk, task, **kw):
        sizes.append((len(chunk), kw.get("capacity")))
        return [TrialResult(g.id, task.task_id, s, "capped", metrics={"steps_to_grok": None, "steps": task.step_cap})
                for g, s in chunk]

    monkeypatch.setattr(grok_arena, "train_population", fake_train)
    small = (("step_cap", 50),)
    s = EvolutionSettings(population=12, seeds_per_genome=4, generations=1, aliens=1, elites=1, device="cpu",
                          task=small, seed_from=("founders",))
    Evolution(s, registry, run_id="one-batch").step()
    assert sizes == [(48, grok_arena.MAX_MEMBERS["cpu"])]
    assert grok_arena.MAX_MEMBERS["cpu"] >= 256 and grok_arena.MAX_MEMBERS["cuda"] >= 2048
    sizes.clear()
    task = GrokTask(step_cap=50)
    genomes = [g for g in __import__("lab.registry", fromlist=["founders"]).founders("grokking")]
    grok_arena.ARENA.run_trials(genomes, list(range(10)), task, device="cpu", max_batch=25)
    assert sizes == [(60, 25)]
