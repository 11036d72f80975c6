"""The arena contract, run over every registered arena (lab.arenas.ARENA_PACKAGES): a new arena
gets these checks by being listed. Each arena's ``tiny_task()`` keeps a trial to about a second.

Genes: JSON round-trip, bounds after every operator. Trials (through the one trials runner):
Smart Fill, cancel, a genome of another spec, a bad or unsupported device. Each check also
asserts what must not happen: nothing recorded where nothing finished.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

from lab.arenas import arena_names, device_choices, get_arena
from lab.arenas.base import ArenaBase, TrialFinished
from lab.genome import Genome, clone, crossover, distance, get_spec, mutate, random_genome, splice
from lab.registry import Registry, founders
from lab.trials import run_pairs

ARENAS = arena_names()
TOY = ("tests.toy_arena.genes", "tests.toy_arena.arena")   # a fifth arena: its package and this one line


def register_toy(monkeypatch) -> None:
    import lab.arenas
    monkeypatch.setitem(lab.arenas.ARENA_PACKAGES, "toy", TOY)


@pytest.fixture(params=ARENAS + ["toy"])
def arena(request, monkeypatch):
    if request.param == "toy":
        register_toy(monkeypatch)
    return get_arena(request.param)


def _genomes(arena, n: int = 3, seed: int = 0) -> list[Genome]:
    rng = np.random.default_rng(seed)
    found = founders(arena.gene_spec.name)
    return (found + [random_genome(arena.gene_spec, rng, name=f"random-{i}") for i in range(n)])[:n]


def _in_bounds(g: Genome) -> None:
    assert g.spec.check_values(dict(g.genes)) == [], g.label
    for key in g.spec.keys:
        gene = g.spec.gene(key)
        assert gene.check(g.genes[key]) is None, (key, g.genes[key])


class _Counting:
    """Wraps an arena and counts the pairs its batches were given (what really ran)."""

    def __init__(self, arena):
        self.arena, self.ran = arena, []

    def __getattr__(self, name):
        return getattr(self.arena, name)

    def run_batch(self, pairs, task, **kw):
        self.ran += [(g.id, s) for g, s in pairs]
        return self.arena.run_batch(pairs, task, **kw)


# ---- the shape -------------------------------------------------------------------------------------
def test_every_arena_is_an_arena_base_with_its_own_spec_devices_and_task(arena):
    assert isinstance(arena, ArenaBase) and arena.name and arena.title
    assert get_spec(arena.gene_spec.name) is arena.gene_spec
    assert set(arena.devices) <= {"cpu", "cuda"} and "cpu" in arena.devices
    assert set(device_choices(arena.name)) - {"auto"} == set(arena.devices)
    for device in arena.devices:
        assert arena.batch_cap(device) >= 1
    assert arena.default_task().task_id != arena.tiny_task().task_id or arena.default_task() == arena.tiny_task()
    if arena.name in ARENAS:
        assert founders(arena.gene_spec.name), f"the {arena.name} arena ships no founder genomes"


# ---- genes ----------------------------------------------------------------------------------------
def test_genes_round_trip_through_json(arena):
    for g in _genomes(arena, 5):
        back = Genome.from_json(g.to_json())
        assert back == g and back.id == g.id and dict(back.genes) == dict(g.genes)
        assert Genome.from_dict(g.to_dict()).id == g.id


def test_bounds_hold_after_every_operator(arena):
    rng = np.random.default_rng(7)
    spec = arena.gene_spec
    made = []
    for _ in range(40):
        a, b = random_genome(spec, rng), random_genome(spec, rng)
        made += [a, b, mutate(a, rng, rate=1.0, sigma=2.0), mutate(b, rng), crossover(a, b, rng),
                 crossover(a, b, rng, blend=True), clone(a),
                 splice(a, b, list(spec.keys)[: max(1, len(spec.keys) // 2)])]
    for g in made:
        _in_bounds(g)
    assert distance(made[0], made[0]) == 0.0
    extreme = Genome.from_unit_vector(spec, np.ones(len(spec.keys)) * 5.0)   # past the top of every gene
    _in_bounds(extreme)


# ---- trials through the runner -------------------------------------------------------------------
def test_smart_fill_runs_each_pair_once_and_reads_the_rest_back(arena, tmp_path):
    registry = Registry(tmp_path / "reg")
    task = arena.tiny_task()
    genomes = _genomes(arena, 2)
    counting = _Counting(arena)
    pairs = [(genomes[0], 1), (genomes[1], 1), (genomes[0], 1), (genomes[0], 2)]   # one pair twice
    first = run_pairs(counting, pairs, task, device="cpu", registry=registry)
    assert [(r.genome_id, r.seed) for r in first] == [(g.id, s) for g, s in pairs]
    assert sorted(counting.ran) == sorted({(g.id, s) for g, s in pairs})
    assert len(registry.trials()) == 3 and all(r.status != "cancelled" for r in first)
    again = run_pairs(counting, pairs + [(genomes[1], 3)], task, device="cpu", registry=registry)
    assert counting.ran[3:] == [(genomes[1].id, 3)]            # only the new pair ran
    assert [r.to_dict() for r in again[:4]] == [r.to_dict() for r in first]
    assert len(registry.trials()) == 4


def test_cancel_before_and_during_records_only_what_finished(arena, tmp_path):
    registry = Registry(tmp_path / "reg")
    task = arena.tiny_task()
    genomes = _genomes(arena, 2)
    stop = threading.Event()
    stop.set()
    out = run_pairs(arena, [(g, 5) for g in genomes], task, device="cpu", registry=registry, cancel=stop)
    assert [r.status for r in out] == ["cancelled"] * 2 and registry.trials() == []

    stop = threading.Event()
    finished = []

    def on_event(event):
        if isinstance(event, TrialFinished):
            finished.append(event.result)
            stop.set()   # stop as soon as one trial finished
    pairs = [(g, s) for g in genomes for s in (6, 7, 8)]
    out = run_pairs(arena, pairs, task, device="cpu", registry=registry, cancel=stop, on_event=on_event,
                    max_batch=1)
    done = [r for r in out if r.status != "cancelled"]
    assert len(done) >= 1 and len(done) < len(pairs)
    assert sorted(t.key for t in registry.trials()) == sorted(r.key for r in done)


def test_a_genome_of_another_spec_is_refused_before_anything_runs(arena, tmp_path):
    registry = Registry(tmp_path / "reg")
    other = next(get_arena(n) for n in ARENAS if n != arena.name)
    foreign = _genomes(other, 1)[0]
    counting = _Counting(arena)
    with pytest.raises(ValueError, match=f"the {arena.name} arena needs"):
        run_pairs(counting, [(_genomes(arena, 1)[0], 0), (foreign, 0)], arena.tiny_task(), device="cpu",
                  registry=registry)
    assert counting.ran == [] and registry.trials() == []


@pytest.mark.parametrize("device", ["tpu", "cuda:x", "gpu"])
def test_a_bad_device_is_refused_before_anything_runs(arena, tmp_path, device):
    registry = Registry(tmp_path / "reg")
    counting = _Counting(arena)
    with pytest.raises(ValueError, match="device"):
        run_pairs(counting, [(_genomes(arena, 1)[0], 0)], arena.tiny_task(), device=device, registry=registry)
    assert counting.ran == [] and registry.trials() == []


def test_an_unsupported_or_absent_device_is_refused_by_name(arena):
    import torch
    for device in ("cuda", "cuda:0"):
        if "cuda" in arena.devices and torch.cuda.is_available():
            assert arena.resolve_device(device).startswith("cuda")
            continue
        with pytest.raises(ValueError, match="not supported|no CUDA device"):
            arena.resolve_device(device)
    assert arena.resolve_device("auto") in ("cpu", "cuda")
    assert arena.resolve_device("cpu") == "cpu"


# ---- direct runs ----------------------------------------------------------------------------------
def _direct(arena):
    if not callable(getattr(arena, "engine", None)):
        pytest.skip(f"the {arena.name} arena has no direct run (its view is the Evolution Lab)")


def _run_out(engine) -> str:
    import json
    while not engine.done:
        engine.step(1)
    return json.dumps(engine.snapshot(), sort_keys=True, default=str)


def test_a_direct_run_saved_midway_and_resumed_ends_exactly_like_one_left_alone(arena, tmp_path):
    _direct(arena)
    task, genome = arena.tiny_task(), _genomes(arena, 1)[0]
    alone = arena.engine(task, genome, 2, device="cpu")
    expected = _run_out(alone)
    getattr(alone, "close", lambda: None)()
    first = arena.engine(task, genome, 2, device="cpu")
    first.step(1)
    paths = arena.save_run(first, tmp_path / "saved")
    getattr(first, "close", lambda: None)()
    assert all((tmp_path / "saved" / p).exists() for p in paths)
    # the state (npz + JSON) and, for an engine that keeps a history table, history.csv beside it
    assert len(paths) == 2 + callable(getattr(first, "history_table", None))
    resumed = arena.resume_run(tmp_path / "saved", device="cpu")
    assert _run_out(resumed) == expected
    getattr(resumed, "close", lambda: None)()


def test_a_damaged_or_foreign_save_is_named_and_changes_nothing(arena, tmp_path):
    _direct(arena)
    engine = arena.engine(arena.tiny_task(), _genomes(arena, 1)[0], 2, device="cpu")
    engine.step(1)
    folder = tmp_path / "saved"
    arena.save_run(engine, folder)
    getattr(engine, "close", lambda: None)()
    files = sorted(folder.iterdir())
    before = {p.name: p.read_bytes() for p in files}
    npz = next(p for p in files if p.suffix == ".npz")
    npz.write_bytes(npz.read_bytes()[:-40])   # a save cut short
    with pytest.raises(ValueError, match="cannot resume from"):
        arena.resume_run(folder, device="cpu")
    npz.write_bytes(before[npz.name])
    js = next(p for p in files if p.suffix == ".json")
    js.write_text('{"kind": "something-else"', encoding="utf-8")
    with pytest.raises(ValueError, match="cannot resume from"):
        arena.resume_run(folder, device="cpu")
    js.write_bytes(before[js.name])
    assert {p.name: p.read_bytes() for p in sorted(folder.iterdir())} == before
    other = next(get_arena(n) for n in ARENAS if n != arena.name and getattr(get_arena(n), "checkpoint_module", ""))
    with pytest.raises(ValueError, match="cannot resume from"):
        other.resume_run(folder, device="cpu")


# ---- the command line -----------------------------------------------------------------------------
def _tree(root) -> dict[str, bytes]:
    from pathlib import Path
    root = Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} \
        if root.exists() else {}


def test_bad_command_line_input_exits_2_and_writes_nothing(arena, tmp_path, capsys):
    from lab.cli import main

    registry = Registry(tmp_path / "reg")
    good = _genomes(arena, 1)[0]
    registry.add_genome(good)
    before = _tree(registry.root)
    other = next(get_arena(n) for n in ARENAS if n != arena.name)
    foreign = tmp_path / "foreign.json"
    _genomes(other, 1)[0].save(foreign)
    broken = tmp_path / "broken.json"
    broken.write_text('{"spec": "' + arena.gene_spec.name + '", "genes": {', encoding="utf-8")
    unsupported = "cuda" if "cuda" not in arena.devices else "tpu"
    base = ["--registry", str(registry.root), "trials", "run"]
    for argv in ([str(foreign), "--arena", arena.name, "--seeds", "1", "--device", "cpu"],
                 [str(broken), "--arena", arena.name, "--seeds", "1", "--device", "cpu"],
                 [good.id, "--arena", arena.name, "--seeds", "many", "--device", "cpu"],
                 [good.id, "--arena", arena.name, "--seeds", "1", "--device", unsupported]):
        assert main(base + argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
        assert _tree(registry.root) == before, argv
