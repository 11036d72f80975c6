"""The Evolution Lab engine: landscapes, selection, aliens, elites and senescence, Hall of Fame,
diversity, reproducibility and exact resume, on a fake fast arena (and one tiny real run)."""
from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from lab.arenas.base import ArenaBase, TaskConfig, TrialResult
from lab.evolution import landscapes
from lab.evolution.diversity import colours, diversity
from lab.evolution.hall_of_fame import admitted
from lab.evolution.population import SEED_LOW, Evolution, GenerationStarted, GenerationSummary, RunInterrupted
from lab.evolution.selection import breed, breeding_pool, pick_parent
from lab.evolution.settings import EvolutionSettings
from lab.genome import Gene, GeneSpec, Genome, mutate, register_spec

TOY = register_spec(GeneSpec("toy", "Toy landscape", (
    Gene("x", "X", "Shape", 0.0, 1.0, "linear", "float", 0.5, "distance from 0.3 slows grokking"),
    Gene("y", "Y", "Shape", 0.0, 1.0, "linear", "float", 0.5, "above 0.8 diverges on odd seeds"),
    Gene("z", "Z", "Noise", 1e-3, 1.0, "log", "float", 0.1, "irrelevant"),
)))


@dataclasses.dataclass(frozen=True)
class ToyTask(TaskConfig):
    step_cap: int = 1000


class ToyArena(ArenaBase):
    """Deterministic, instant trials: steps_to_grok grows with |x - 0.3|, plus a seed-dependent jitter."""

    name, title = "toy", "toy arena"
    gene_spec = TOY
    batch_caps = {"cpu": 10_000, "cuda": 10_000}   # a generation is one batch

    def __init__(self):
        self.calls = 0

    def default_task(self):
        return ToyTask()

    def run_batch(self, pairs, task, *, device, data, on_event, cancel, tally, race=None):
        self.calls += 1
        out = []
        for g, s in pairs:
            if cancel is not None and cancel.is_set():
                out.append(TrialResult(g.id, task.task_id, s, "cancelled"))
                continue
            steps = int(100 + 1500 * abs(g.genes["x"] - 0.3) + (s * 7919) % 97)
            if g.genes["y"] > 0.8 and s % 2:
                status, stg = "diverged", None
            elif steps <= task.step_cap:
                status, stg = "grokked", steps
            else:
                status, stg = "capped", None
            out.append(TrialResult(g.id, task.task_id, s, status, metrics={"steps_to_grok": stg}))
            on_event(out[-1])
        return out


def _t(status: str, steps: int | None, seed: int = 0) -> TrialResult:
    return TrialResult("g" * 16, "t", seed, status, metrics={"steps_to_grok": steps})


# ---- landscapes ---------------------------------------------------------------------------------
def test_sprinter_ranks_by_median_speed_with_failure_penalty():
    fast = [_t("grokked", 200), _t("grokked", 300), _t("capped", None)]       # median 300
    slow = [_t("grokked", 900), _t("grokked", 950), _t("grokked", 1000)]      # median 950
    assert landscapes.sprinter(fast, 1000) == -300 and landscapes.sprinter(slow, 1000) == -950
    mostly_failed = [_t("grokked", 100), _t("capped", None), _t("diverged", None)]
    assert landscapes.sprinter(mostly_failed, 1000) == -2000  # the penalty is 2 x step_cap
    assert landscapes.sprinter(fast, 1000) > landscapes.sprinter(slow, 1000) > landscapes.sprinter(mostly_failed, 1000)


def test_sniper_prefers_steady_over_erratic():
    steady = [_t("grokked", 500), _t("grokked", 520), _t("grokked", 540)]
    erratic = [_t("grokked", 100), _t("grokked", 150), _t("grokked", 1200)]   # lower median, big spread
    assert landscapes.sprinter(erratic, 2500) > landscapes.sprinter(steady, 2500)
    assert landscapes.sniper(steady, 2500) > landscapes.sniper(erratic, 2500)
    s = np.array([500, 520, 540.0])
    assert landscapes.sniper(steady, 2500) == pytest.approx(-(s.mean() + s.std()))


def test_tank_puts_survival_first_then_speed():
    survivor = [_t("grokked", 2000), _t("grokked", 2100), _t("grokked", 2200)]
    sprinter = [_t("grokked", 100), _t("grokked", 120), _t("capped", None)]
    assert landscapes.tank(survivor, 2500) > landscapes.tank(sprinter, 2500)
    faster_survivor = [_t("grokked", 1000), _t("grokked", 1100), _t("grokked", 1200)]
    assert landscapes.tank(faster_survivor, 2500) > landscapes.tank(survivor, 2500)


def test_unknown_landscape_is_named():
    with pytest.raises(ValueError, match="unknown landscape 'marathon'"):
        landscapes.fitness("marathon", [_t("grokked", 1)], 10)


# ---- selection ----------------------------------------------------------------------------------
def _ranked(n=10):
    return [Genome(TOY, {"x": i / n, "y": 0.5, "z": 0.1}, name=f"r{i}") for i in range(n)]


def test_spartan_culls_the_bottom_half():
    ranked = _ranked(10)
    pool = breeding_pool(ranked, "spartan")
    assert pool == ranked[:5]
    rng = np.random.default_rng(0)
    assert all(pick_parent(pool, "spartan", rng) in ranked[:5] for _ in range(200))
    assert breeding_pool(ranked[:1], "spartan") == ranked[:1]


@pytest.mark.parametrize("k", [2, 3])
def test_tournament_favours_the_fitter_by_the_expected_amount(k):
    ranked = _ranked(10)
    rng = np.random.default_rng(1)
    picks = [ranked.index(pick_parent(ranked, f"tournament{k}", rng)) for _ in range(6000)]
    counts = np.bincount(picks, minlength=10) / len(picks)
    # P(best of k draws without replacement is rank i) = C(n-1-i, k-1) / C(n, k)
    from math import comb
    expected = [comb(9 - i, k - 1) / comb(10, k) for i in range(10)]
    np.testing.assert_allclose(counts, expected, atol=0.02)
    assert counts[9] == 0  # the worst never wins a tournament


def test_breed_uses_crossover_cloning_and_radiation_rates():
    ranked = _ranked(6)
    s = EvolutionSettings(arena="toy", crossover_rate=1.0, radiation_rate=0.0)
    kids = breed(ranked, 50, s, np.random.default_rng(2), generation=3)
    assert all(k.origin == "crossover" and len(k.parents) == 2 and k.generation == 3 for k in kids)
    s = EvolutionSettings(arena="toy", crossover_rate=0.0, radiation_rate=0.0)
    kids = breed(ranked, 20, s, np.random.default_rng(2), generation=3)
    assert all(k.origin == "clone" and k.id in {g.id for g in ranked} for k in kids)
    s = EvolutionSettings(arena="toy", crossover_rate=0.0, radiation_rate=1.0)
    kids = breed(ranked, 20, s, np.random.default_rng(2), generation=3)
    assert all(k.origin == "mutation" and k.id not in {g.id for g in ranked} for k in kids)


# ---- Hall of Fame, diversity --------------------------------------------------------------------
def test_hall_of_fame_strictness():
    success = [1.0, 1.0, 0.67, 0.33, 0.0, 1.0]  # ranked best first
    assert admitted(success, 0.0) == [0, 1, 2, 3, 5]
    assert admitted(success, 0.5) == [0, 1, 2]
    assert admitted(success, 1.0) == [0]
    assert admitted([0.67, 1.0], 1.0) == []  # the best must also have succeeded on every seed


def test_diversity_and_colours():
    a = Genome(TOY, {"x": 0.1, "y": 0.1, "z": 0.01})
    near = mutate(a, np.random.default_rng(0), rate=1.0, sigma=0.01)
    far = Genome(TOY, {"x": 0.9, "y": 0.95, "z": 0.9})
    assert diversity([a, a]) == 0.0 and diversity([a, far]) > diversity([a, near]) > 0
    ca, cn, cf = colours([a, near, far])
    assert all(0.0 <= c <= 1.0 for c in ca + cn + cf)
    dist = lambda p, q: float(np.linalg.norm(np.subtract(p, q)))  # noqa: E731
    assert dist(ca, cn) < dist(ca, cf)
    assert colours([a]) == [ca]  # a genome's colour does not depend on the population


# ---- the engine on the toy arena -----------------------------------------------------------------
def _settings(**kw) -> EvolutionSettings:
    base = dict(arena="toy", population=12, seeds_per_genome=3, generations=4, landscape="sprinter",
                selection="tournament3", aliens=2, elites=2, hof_strictness=0.8, run_seed=7, device="cpu")
    return EvolutionSettings(**{**base, **kw})


def _run(registry, arena=None, **kw) -> Evolution:
    return Evolution(_settings(**kw), registry, arena=arena or ToyArena(), run_id=kw.pop("run_id", "toy-run"))


def test_one_run_trials_call_per_generation_and_events(registry):
    arena = ToyArena()
    events = []
    evo = _run(registry, arena)
    evo.run(on_event=events.append)
    assert arena.calls == 4 and evo.generation == 4 and evo.done
    started = [e for e in events if isinstance(e, GenerationStarted)]
    summaries = [e for e in events if isinstance(e, GenerationSummary)]
    assert [e.generation for e in started] == [1, 2, 3, 4] == [e.generation for e in summaries]
    rec = summaries[-1].record
    for key in ("best_fitness", "mean_fitness", "median_fitness", "success_rate", "diversity"):
        assert key in rec
    assert all(s >= SEED_LOW for e in started for s in e.seeds)
    assert len(set(started[0].seeds) & set(started[1].seeds)) == 0  # fresh seeds every generation


def test_evolution_improves_on_the_toy_landscape(registry):
    evo = _run(registry, generations=8)
    evo.run()
    best = [h["best_fitness"] for h in evo.history]
    assert best[-1] > best[0]
    assert max(h["mean_fitness"] for h in evo.history[4:]) > evo.history[0]["mean_fitness"]
    # the registry holds the genomes, trials and Hall of Fame of the run
    assert len(registry.trials()) > 0 and len(registry.genome_ids()) >= 12
    assert registry.hall_of_fame() and all(e["evidence"]["run_id"] == "toy-run" for e in registry.hall_of_fame())
    ids = [e["genome_id"] for e in registry.hall_of_fame()]
    assert len(ids) == len(set(ids))


def test_aliens_and_elites_enter_every_generation(registry):
    evo = _run(registry, aliens=3, elites=2)
    evo.step()
    elites = set(evo.elite_ids)
    assert len(elites) == 2
    origins = [g.origin for g in evo.population]
    assert origins.count("alien") == 3 and origins[:2] == ["clone", "clone"]
    assert {g.id for g in evo.population[:2]} == elites
    rec = evo.history[0]
    top_clean = [gid for gid in dict.fromkeys(rec["ranking"])
                 if next(r for r in rec["genomes"] if r["id"] == gid)["failed"] == 0][:2]
    assert set(top_clean) == elites


def test_senescence_an_elite_that_fails_dies(registry):
    evo = _run(registry, aliens=0, elites=1, population=6)
    evo.step()
    (elite_id,) = evo.elite_ids
    elite = next(g for g in evo.population if g.id == elite_id)
    # make the elite fail from now on: it diverges on odd seeds
    doomed = Genome(TOY, {**elite.genes, "y": 0.95})
    evo.population[0] = doomed
    evo.elite_ids = {doomed.id}
    real_seeds = evo.generation_seeds
    evo.generation_seeds = lambda: [SEED_LOW + 1, SEED_LOW + 3, SEED_LOW + 5]  # odd seeds: it fails
    record = evo.step()
    evo.generation_seeds = real_seeds
    assert record["died"] == [doomed.id]
    assert doomed.id not in evo.elite_ids
    assert all(doomed.id not in g.parents for g in evo.population)


def test_ancestral_seeding_from_registry_and_top_up(registry):
    gs = [Genome(TOY, {"x": 0.3, "y": 0.2, "z": v}, tags=("seedling",)) for v in (0.01, 0.02)]
    registry.add_genomes(gs)
    registry.add_to_hall_of_fame(Genome(TOY, {"x": 0.31, "y": 0.2, "z": 0.5}))
    evo = Evolution(_settings(seed_from=("tag:seedling", "hall-of-fame", f"id:{gs[0].id[:8]}")), registry,
                    arena=ToyArena(), run_id="seeded")
    ids = [g.id for g in evo.population]
    assert set(ids[:2]) == {gs[0].id, gs[1].id} and ids[2] == registry.hall_of_fame()[0]["genome_id"]
    assert len(ids) == 12 and all(g.origin == "alien" for g in evo.population[3:])


def test_same_run_seed_same_run(tmp_path):
    from lab.registry import Registry
    a = _run(Registry(tmp_path / "a"))
    b = _run(Registry(tmp_path / "b"))
    a.run(), b.run()
    assert [h["ranking"] for h in a.history] == [h["ranking"] for h in b.history]
    c = Evolution(_settings(run_seed=8), Registry(tmp_path / "c"), arena=ToyArena(), run_id="other")
    c.run()
    assert [h["ranking"] for h in c.history] != [h["ranking"] for h in a.history]


def test_resume_equals_a_straight_run_exactly(tmp_path):
    from lab.registry import Registry
    straight = _run(Registry(tmp_path / "straight"))
    straight.run()
    reg = Registry(tmp_path / "split")
    first = _run(reg)
    first.step(), first.step()
    del first
    resumed = Evolution.resume(reg, "toy-run", arena=ToyArena())
    assert resumed.generation == 2
    resumed.run()
    assert resumed.history == straight.history
    assert [g.id for g in resumed.population] == [g.id for g in straight.population]
    assert resumed.rng.bit_generator.state == straight.rng.bit_generator.state


def test_cancel_keeps_the_last_checkpoint_and_resume_continues(tmp_path):
    from lab.registry import Registry
    straight = _run(Registry(tmp_path / "straight"))
    straight.run()
    reg = Registry(tmp_path / "cut")
    evo = _run(reg)
    evo.step()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RunInterrupted, match="generation 1 is checkpointed"):
        evo.step(cancel=cancel)
    resumed = Evolution.resume(reg, "toy-run", arena=ToyArena())
    assert resumed.generation == 1
    resumed.run()
    assert resumed.history == straight.history


def test_bad_settings_and_missing_runs_are_clear_errors(registry):
    with pytest.raises(ValueError, match="population must be a whole number >= 2"):
        EvolutionSettings(population=1)
    with pytest.raises(ValueError, match="must leave room for offspring"):
        EvolutionSettings(population=4, aliens=2, elites=2)
    with pytest.raises(ValueError, match="landscape 'marathon'"):
        EvolutionSettings(landscape="marathon")
    with pytest.raises(ValueError, match="seed source 'friends'"):
        EvolutionSettings(seed_from=("friends",))
    with pytest.raises(ValueError, match="mutation_rate must be between 0 and 1"):
        EvolutionSettings(mutation_rate=float("nan"))
    from lab.registry import RegistryError
    with pytest.raises(RegistryError, match="no run nope to resume"):
        Evolution.resume(registry, "nope", arena=ToyArena())
    _run(registry)
    with pytest.raises(RegistryError, match="already exists"):
        _run(registry)


def test_settings_round_trip():
    s = _settings(seed_from=("founders", "tag:x"), task=(("step_cap", 50),))
    assert EvolutionSettings.from_dict(s.to_dict()) == s
    with pytest.raises(ValueError, match="unknown evolution setting"):
        EvolutionSettings.from_dict({**s.to_dict(), "popsize": 3})


def test_a_tiny_real_grokking_run_records_consistent_history(registry):
    from lab.arenas.grokking.task import GrokTask
    small = GrokTask(modulus=23, train_fraction=0.6, d_model=16, heads=2, d_ff=32, batch_size=64, step_cap=60,
                     eval_interval=20)
    task = tuple(sorted((k, v) for k, v in small.to_dict().items() if getattr(GrokTask(), k) != v))
    s = EvolutionSettings(population=4, seeds_per_genome=2, generations=2, aliens=1, elites=1, run_seed=3,
                          device="cpu", task=task, seed_from=("founders",))
    evo = Evolution(s, registry, run_id="tiny")
    evo.run()
    assert evo.task.task_id == small.task_id
    assert len(evo.history) == 2
    for h in evo.history:
        assert len(h["genomes"]) == 4 and len(h["seeds"]) == 2
        assert all(len(registry.trials_for(r["id"], small.task_id)) >= 2 for r in h["genomes"])
    assert (registry.run_dir("tiny") / "checkpoint.json").is_file()


def test_two_runs_started_in_the_same_second_get_distinct_ids(registry, monkeypatch):
    from lab.evolution import population
    monkeypatch.setattr(population, "_new_run_id", lambda settings: "toy-20261122-000000-s0")
    first = Evolution(_settings(), registry, arena=ToyArena())
    second = Evolution(_settings(), registry, arena=ToyArena())
    third = Evolution(_settings(), registry, arena=ToyArena())
    assert [first.run_id, second.run_id, third.run_id] == ["toy-20261122-000000-s0", "toy-20261122-000000-s0-2",
                                                           "toy-20261122-000000-s0-3"]
    assert all((registry.run_dir(e.run_id) / "run.json").is_file() for e in (first, second, third))


def test_run_files_name_what_a_damaged_run_lacks_and_list_runs_newest_first(tmp_path):
    import json as _json

    from lab.evolution import run_files
    from lab.registry import Registry, RegistryError
    reg = Registry(tmp_path / "reg")
    evo = Evolution(_settings(), reg, arena=ToyArena(), run_id="whole")
    evo.step()
    run, state = run_files.read_run(reg, "whole")
    assert state["generation"] == 1 and run["settings"]["arena"] == evo.settings.arena
    folder = reg.run_dir("torn", create=True)
    (folder / "run.json").write_text(_json.dumps({"settings": {"generations": 4}}))
    (folder / "checkpoint.json").write_text(_json.dumps({"schema_version": 1, "generation": 2, "history": {}}))
    with pytest.raises(RegistryError, match="lack or garble checkpoint.json population, checkpoint.json elite_ids"):
        run_files.read_run(reg, "torn")
    infos = {i.run_id: i.state for i in run_files.run_infos(reg)}
    assert infos == {"whole": "stopped after 1 of 4 generations (resumable)",
                     "torn": "stopped after 2 of 4 generations (resumable)"}
    with pytest.raises(RegistryError, match="no run gone to resume"):
        run_files.read_run(reg, "gone")
