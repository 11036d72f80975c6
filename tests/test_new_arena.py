"""A new arena is one package plus one line: the toy hill climber of tests/toy_arena, registered
by one entry in lab.arenas.ARENA_PACKAGES, is found by the Evolution Lab's loop, the Stress
Chamber's Smart Fill, the Phylogeny map, the command line and a direct run, with nothing else
edited. (The arena contract itself runs over it in test_arena_conformance.py; the window's tabs
list it in tests/gui/test_new_arena_gui.py.)"""
from __future__ import annotations

import threading

import numpy as np
import pytest

from lab.arenas import arena_names, device_choices, get_arena
from lab.genome import Genome, random_genome, spec_names
from lab.registry import Registry
from tests.test_arena_conformance import register_toy


@pytest.fixture
def toy(monkeypatch):
    register_toy(monkeypatch)
    return get_arena("toy")


@pytest.fixture
def registry(tmp_path):
    return Registry(tmp_path / "reg")


def _genomes(arena, n):
    rng = np.random.default_rng(1)
    return [random_genome(arena.gene_spec, rng, name=f"toy-{i}") for i in range(n)]


def test_one_line_makes_it_an_arena_with_its_spec_and_devices(toy):
    assert "toy" in arena_names() and toy.title.startswith("Toy")
    assert "toy-climber" in spec_names()
    assert device_choices("toy") == ("cpu",)


def test_the_evolution_loop_evolves_it_and_resumes_it(toy, registry):
    from lab.evolution.population import Evolution
    from lab.evolution.settings import EvolutionSettings

    settings = EvolutionSettings(arena="toy", population=6, seeds_per_genome=2, generations=3, device="cpu",
                                 seed_from=(), racing=False, task=(("generations", 12),))
    evo = Evolution(settings, registry, run_id="toy-run")
    evo.step()
    again = Evolution.resume(registry, "toy-run")
    while not again.done:
        again.step()
    straight = Evolution(settings, Registry(registry.root.parent / "other"), run_id="toy-run")
    while not straight.done:
        straight.step()
    assert [h["best_fitness"] for h in again.history] == [h["best_fitness"] for h in straight.history]
    assert all(t.arena == "toy" for t in registry.trials()) and len(registry.trials()) > 0


def test_the_stress_chamber_smart_fills_it(toy, registry):
    from lab.analysis.stress import plan_stress, run_stress, stress_frame, stress_summary

    genomes = registry.add_genomes(_genomes(toy, 3))
    task = toy.default_task()
    plan = plan_stress(registry, genomes, task, runs=4)
    assert plan.to_run == 12
    run_stress(registry, toy, plan, device="cpu")
    assert plan_stress(registry, genomes, task, runs=4).to_run == 0
    summary = stress_summary(stress_frame(registry, genomes, task.task_id))
    assert list(summary["runs"]) == [4, 4, 4]


def test_the_phylogeny_maps_its_genomes(toy, registry):
    from lab.analysis.phylogeny import map_registry

    registry.add_genomes(_genomes(toy, 12))
    phylo, perf = map_registry(registry, "toy-climber", counts=(2, 3, 4, 5, 6, 7, 8))
    assert len(phylo.genomes) == 12
    assert set(registry.species_labels("toy-climber")) == {g.id for g in phylo.genomes}


def test_the_command_line_runs_its_trials(toy, registry, tmp_path, capsys):
    from lab.cli import main

    g = Genome(toy.gene_spec, toy.gene_spec.defaults(), name="toy-default")
    path = tmp_path / "toy.json"
    g.save(path)
    assert main(["--registry", str(registry.root), "trials", "run", str(path), "--arena", "toy", "--seeds", "3",
                 "--device", "cpu"]) == 0
    assert "3 to run" in capsys.readouterr().out
    assert len(registry.trials()) == 3
    assert main(["--registry", str(registry.root), "trials", "run", str(path), "--arena", "toy", "--seeds", "1",
                 "--device", "cuda"]) == 2
    assert len(registry.trials()) == 3


def test_a_direct_run_watches_its_engine_and_resumes_it(toy, tmp_path):
    from lab.direct import EngineReport, direct_job

    class Job:
        def __init__(self):
            self.events, self.cancel_token = [], threading.Event()

        def emit(self, event):
            self.events.append(event)

        def report(self, fraction, text=""):
            pass

    job = Job()
    last = direct_job(job, toy, toy.tiny_task(), Genome(toy.gene_spec, toy.gene_spec.defaults()), 4, 2, "cpu")
    assert last["passes"] == 6 and last["unit"] == "generations"
    assert [e.snapshot["passes"] for e in job.events if isinstance(e, EngineReport)][-1] == 6
    engine = toy.engine(toy.tiny_task(), Genome(toy.gene_spec, toy.gene_spec.defaults()), 4)
    engine.step(2)
    toy.save_run(engine, tmp_path / "saved")
    resumed = toy.resume_run(tmp_path / "saved")
    resumed.step(10)
    assert resumed.snapshot() == last
    from lab.direct import arenas_with_panels
    assert "toy" in arenas_with_panels()
    paths = toy.direct_panel.export(tmp_path / "charts", "toy", last, None, 0.99, formats=("png",))
    assert [p.suffix for p in paths] == [".png"] and paths[0].stat().st_size > 0


def test_its_own_command_is_found_from_the_arena_list(toy, tmp_path, capsys):
    from lab.cli import build_parser, command_summary, main

    assert "toy" in command_summary(build_parser())
    saved = tmp_path / "climb"
    assert main(["toy", "--generations", "4", "--climbers", "6", "--save", str(saved)]) == 0
    assert "after 4 generations" in capsys.readouterr().out
    assert main(["toy", "--resume", str(saved)]) == 0      # carries on to the task's 4: nothing left
    assert main(["toy", "--sigma", "7"]) == 2               # above the gene's bound: one line, nothing run
    err = capsys.readouterr().err
    assert "sigma" in err and "Traceback" not in err
