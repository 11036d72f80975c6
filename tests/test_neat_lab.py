"""The NEAT arena in the lab: trials and the registry, the command line, the Evolution Lab and the
Phylogeny, the process backend equal to the thread backend, and no shared memory left behind by a
run or a cancel."""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lab.arenas import get_arena
from lab.arenas.base import TrialFinished
from lab.arenas.neat.engine import NeatEngine, NeatSettings
from lab.arenas.neat.parallel import Cancelled, ParallelConfig
from lab.arenas.neat.task import NeatTask
from lab.genome import Genome, get_spec
from lab.registry import Registry

ARENA = get_arena("neat")
SHM = Path("/dev/shm")


def _genome(**genes) -> Genome:
    spec = get_spec("neat")
    return Genome(spec, {**spec.defaults(), **genes})


def _segments() -> set[str]:
    """This process's NEAT shared-memory segments (named neat-<pid>-...)."""
    return {p.name for p in SHM.glob(f"neat-{os.getpid()}-*")} if SHM.is_dir() else set()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---- the arena ---------------------------------------------------------------------------------
def test_arena_records_trials_and_reuses_them(tmp_path):
    reg = Registry(tmp_path / "reg")
    genome = _genome(population=100)
    events = []
    task = NeatTask(generations=120)
    (result,) = ARENA.run_trials([genome], [0], task, registry=reg, on_event=events.append)
    assert result.arena == "neat" and result.status == "ok"
    solved = result.metrics["steps_to_grok"]
    assert result.metrics["evaluations"] == solved * 100 and result.metrics["test_acc"] == 1.0
    assert result.curve["step"][-1] == solved and result.metrics["hidden"] >= 1
    assert any(isinstance(ev, TrialFinished) for ev in events)
    (again,) = ARENA.run_trials([genome], [0], task, registry=reg)
    assert again.metrics == result.metrics and len(reg.trials()) == 1
    (capped,) = ARENA.run_trials([_genome(population=20)], [1], NeatTask(generations=2))
    assert capped.status == "capped" and capped.metrics["steps_to_grok"] is None


def test_arena_cancel_wrong_spec_and_cuda():
    cancel = threading.Event()
    cancel.set()
    (r,) = ARENA.run_trials([_genome(population=20)], [0], NeatTask(), cancel=cancel)
    assert r.status == "cancelled"
    grok = Genome(get_spec("grokking"), get_spec("grokking").defaults())
    with pytest.raises(ValueError, match="grokking"):
        ARENA.run_trials([grok], [0], NeatTask())
    with pytest.raises(ValueError, match="runs on the CPU"):
        ARENA.run_trials([_genome()], [0], NeatTask(), device="cuda")


# ---- parallel evaluation in a run --------------------------------------------------------------
def test_process_backend_equals_thread_backend_and_leaves_no_shared_memory():
    task = NeatTask(task="clusters", generations=2, stop_at_target=False)
    settings = NeatSettings(population=16, backprop_steps=5, refine_steps=5)
    before = _segments()
    runs = {}
    for cfg in (ParallelConfig(workers=2, backend="thread"),
                ParallelConfig(workers=2, backend="process", start_method="forkserver", restart_every=1)):
        with NeatEngine(task, settings, 7, parallel=cfg) as e:
            e.run()
            if cfg.backend == "process":
                assert e.evaluator.backend == "process" and e.evaluator.restarts >= 2
                assert len(_segments() - before) == 6          # the six data arrays, shared
            runs[cfg.backend] = (e.curve, e.champion.to_json(), [s.members[0].to_json() for s in e.species])
    assert runs["thread"] == runs["process"]
    assert _segments() == before


def test_a_cancelled_process_run_leaves_no_shared_memory():
    task = NeatTask(task="digits", generations=5)
    before = _segments()
    cancel = threading.Event()
    # a first generation of a minute or more (40 genomes x 1,000 Adam steps on digits, the best 4 x 5,000
    # more), cancelled a few seconds in
    e = NeatEngine(task, NeatSettings(population=40, backprop_steps=1000, refine_steps=5000), 0,
                   parallel=ParallelConfig(workers=2, backend="process", start_method="forkserver"))
    try:
        threading.Timer(4.0, cancel.set).start()
        t0 = time.monotonic()
        with pytest.raises(Cancelled):
            e.step(5, cancel)
        assert time.monotonic() - t0 < 30 and e.generation == 0
    finally:
        e.close()
    assert _segments() == before


def test_an_unpicklable_fitness_falls_back_to_threads():
    from lab.arenas.neat.parallel import Evaluator

    warnings = []
    data = {"x": np.arange(4.0)}
    with Evaluator(lambda item, arrays: float(arrays["x"][item]), data,
                   ParallelConfig(workers=2, backend="process"), warn=warnings.append) as ev:
        assert ev.map([1, 3]) == [1.0, 3.0] and ev.backend == "thread"
    assert len(warnings) == 1 and "thread" in warnings[0]


# ---- the command line --------------------------------------------------------------------------
def test_cli_xor_run_saves_the_network_and_evaluates_it(run, tmp_path):
    net = tmp_path / "xor.json"
    code, out, err = run("neat", "--task", "xor", "--generations", "150", "--seed", "1", "--save-champion", str(net))
    assert code == 0, err
    assert "solved at generation" in out and "held-out 1.0000" in out and "network written" in out
    saved = json.loads(net.read_text())
    assert saved["format"] == "neat-genome" and saved["n_inputs"] == 2
    code, out, err = run("neat", "--task", "xor", "--evaluate", str(net))
    assert code == 0 and "held-out 1.0000" in out


def test_cli_backprop_task_with_options(run):
    code, out, err = run("neat", "--task", "circles", "--generations", "2", "--population", "12",
                         "--backprop-steps", "10", "--species-control", "2", "--workers", "2")
    assert code == 0, err
    assert "backprop fitness" in out and "adaptive species control" in out and "thread x2" in out
    assert "validation" in out and "held-out" in out


@pytest.mark.parametrize("argv, message", [
    (("--add-node", "1.5"), "--add-node:"),
    (("--population", "1"), "--population:"),
    (("--task", "digits", "--fitness", "classic"), "classic fitness reads one sigmoid output"),
    (("--species-control", "1", "--species-target", "40"), "--species-target:"),
    (("--workers", "0"), "workers must be a whole number >= 1"),
    (("--evaluate", "/no/such/net.json"), "/no/such/net.json does not exist"),
])
def test_cli_bad_input_exits_2_and_writes_nothing(run, tmp_path, argv, message):
    before = snapshot(tmp_path)
    code, _, err = run("neat", *argv, "--generations", "1", "--save-champion", str(tmp_path / "net.json"))
    assert code == 2 and message in err, err
    assert snapshot(tmp_path) == before


def test_cli_refuses_a_hand_edited_network(run, tmp_path):
    net = tmp_path / "net.json"
    code, _, err = run("neat", "--generations", "1", "--population", "10", "--save-champion", str(net))
    assert code == 0, err
    data = json.loads(net.read_text())
    data["connections"][0]["weight"] = "NaN"
    net.write_text(json.dumps(data))
    before = snapshot(tmp_path)
    code, _, err = run("neat", "--evaluate", str(net))
    assert code == 2 and "weight must be a number" in err
    assert snapshot(tmp_path) == before
    data["connections"][0]["weight"] = 1.0
    net.write_text(json.dumps(data))
    code, _, err = run("neat", "--task", "clusters", "--evaluate", str(net))
    assert code == 2 and "needs 2 and 4" in err


# ---- the rest of the lab -----------------------------------------------------------------------
def test_the_evolution_lab_engine_evolves_neat_settings(registry):
    from lab.evolution.population import Evolution
    from lab.evolution.settings import EvolutionSettings

    settings = EvolutionSettings(arena="neat", population=3, seeds_per_genome=1, generations=2, aliens=1, elites=1,
                                 run_seed=3, device="cpu", task=(("generations", 15),))
    evo = Evolution(settings, registry, run_id="neat-run")
    evo.run()
    assert evo.generation == 2 and evo.spec.name == "neat" and evo.task.generations == 15
    trials = registry.trials()
    assert len(trials) >= 4 and {t.arena for t in trials} == {"neat"}
    assert all(t.status in ("ok", "capped") for t in trials)


def test_neat_genomes_are_mapped_into_species(registry):
    from lab.analysis.phylogeny import map_registry
    from lab.genome import random_genome
    from lab.registry import founders

    rng = np.random.default_rng(0)
    genomes = [random_genome(get_spec("neat"), rng) for _ in range(10)]
    registry.add_genomes(genomes)
    phylo, _ = map_registry(registry, "neat")
    assert {g.id for g in phylo.genomes} == {g.id for g in genomes} | {g.id for g in founders("neat")}
    assert phylo.coords.shape == (10 + len(founders("neat")), 3)


def test_the_stress_chamber_runs_neat_founders_with_smart_fill(registry):
    from lab.analysis.stress import plan_stress, run_stress, stress_frame, stress_summary
    from lab.registry import founders

    genomes = [g for g in founders("neat") if g.name in ("neat-xor", "neat-paper")]
    task = NeatTask(generations=60)
    plan = plan_stress(registry, genomes, task, runs=3)
    assert len(plan.missing) == 6
    results = run_stress(registry, ARENA, plan)
    assert len(results) == 6 and {r.arena for r in results} == {"neat"}
    assert not plan_stress(registry, genomes, task, runs=3).missing          # Smart Fill: nothing left to run
    frame = stress_frame(registry, genomes, task.task_id)
    assert len(frame) == 6 and set(frame["status"]) <= {"ok", "capped"}
    summary = stress_summary(frame)
    assert len(summary) == 2
