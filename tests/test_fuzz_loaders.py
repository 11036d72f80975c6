"""Every loader of the lab, fed mutated valid files (tests/fuzzing.py: byte flips, truncations,
inserted tokens and nesting, BOMs, values swapped for another type, keys dropped or duplicated).

Each test asserts the contract of lab/safe_read.py and the readers built on it: the load gives a
valid object or the lab's own error (a one-line message), never another exception, and the folder
holding the file is byte-identical afterwards. The settings file is the one designed exception:
an unusable one is moved aside whole (its bytes kept) and the defaults are used.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.arenas import arena_names, get_arena
from lab.arenas.base import TrialResult
from lab.data import DataError
from lab.genome import Genome, GenomeError, random_genome
from lab.registry import Registry, RegistryError, founders
from lab.registry_base import read_genome_file
from tests.fuzzing import FUZZ, FUZZ_SLOW, mutated, snapshot


def _one_line(exc: BaseException) -> None:
    # a GenomeError lists its problems, which the command line and the dialogs join into one line
    text = "; ".join(exc.problems) if isinstance(exc, GenomeError) else str(exc)
    assert text and "\n" not in text and "Traceback" not in text, text


def _fresh(tmp_path: Path, name: str) -> Path:
    """An empty folder for one example (hypothesis runs many examples in one test's tmp_path)."""
    folder = tmp_path / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _load_refused_or_fine(folder: Path, load, errors) -> object:
    """Run ``load``; a refusal must be one of ``errors`` in one line; the folder must not change."""
    before = snapshot(folder)
    result = None
    try:
        result = load()
    except errors as exc:
        _one_line(exc)
    assert snapshot(folder) == before, "a load changed the folder"
    return result


# ---- genomes -------------------------------------------------------------------------------------
def _genome_json(arena: str) -> bytes:
    spec = get_arena(arena).gene_spec
    found = founders(spec.name)
    genome = found[0] if found else random_genome(spec, np.random.default_rng(0), name="fuzz")
    return genome.to_json().encode()


@pytest.mark.parametrize("arena", arena_names())
@FUZZ
@given(data=st.data())
def test_genome_files_of_every_arena(arena, tmp_path, data):
    payload = data.draw(mutated(_genome_json(arena)))
    folder = _fresh(tmp_path, "g")
    (folder / "g.json").write_bytes(payload)
    got = _load_refused_or_fine(folder, lambda: Genome.load(folder / "g.json"), GenomeError)
    assert got is None or isinstance(got, Genome) and got.spec.check_values(dict(got.genes)) == []


@FUZZ
@given(data=st.data())
def test_genome_bundles_and_their_import(tmp_path, data):
    gs = [g.to_dict() for g in founders("grokking")[:3]]
    bundle = json.dumps({"kind": "genome-bundle", "schema_version": 1, "genomes": gs}, indent=1).encode()
    folder = _fresh(tmp_path, "b")
    (folder / "bundle.json").write_bytes(data.draw(mutated(bundle)))
    _load_refused_or_fine(folder, lambda: read_genome_file(folder / "bundle.json"), GenomeError)
    registry = Registry(folder / "reg")
    report = registry.import_paths([folder / "bundle.json"])   # never raises: failures are reported
    if report.failures:
        assert not (folder / "reg").exists() or registry.genome_ids() == [], "a refused file imported something"
        assert all("\n" not in why for _, why in report.failures)


@FUZZ
@given(data=st.data())
def test_neat_network_files(tmp_path, data):
    from lab.arenas.neat.genome import NeatGenome, NeatGenomeError
    from tests.test_neat import make
    net = make(2, 1, [3], [(0, 0, 2, 1.0, True), (1, 1, 3, -0.5, True), (2, 3, 2, 0.25, True)])
    folder = _fresh(tmp_path, "n")
    (folder / "net.json").write_bytes(data.draw(mutated(net.to_json().encode())))
    got = _load_refused_or_fine(folder, lambda: NeatGenome.load(str(folder / "net.json")), NeatGenomeError)
    assert got is None or isinstance(got, NeatGenome)


# ---- the registry's own files --------------------------------------------------------------------
@pytest.fixture(scope="module")
def registry_files(tmp_path_factory) -> dict[str, bytes]:
    """A registry with trials, a Hall of Fame, species, names and tasks: its files' bytes."""
    from lab.tasks import remember
    root = tmp_path_factory.mktemp("valid") / "reg"
    reg = Registry(root)
    gs = founders("grokking")[:3]
    reg.add_genomes(gs)
    reg.add_genome(gs[0].replace(name="also-known-as", tags=("fuzz",)))
    reg.record_trials([TrialResult(genome_id=g.id, task_id="task-a", seed=s, status="grokked",
                                   metrics={"steps_to_grok": 100 + s}, curve={"step": [0, 25], "val_acc": [0.0, 0.5]},
                                   wall_time=0.1, arena="grokking") for g in gs for s in range(2)])
    reg.add_to_hall_of_fame(gs[1], task_id="task-a", evidence={"success_rate": 1.0}, note="fuzz")
    reg.set_species("grokking", ["Genus", "Species"], [1, 2],
                    {g.id: {"Genus": "G1", "Species": f"S{i}"} for i, g in enumerate(gs)})
    remember(reg, get_arena("grokking").tiny_task())
    return snapshot(root)


def _registry_with(tmp_path: Path, files: dict[str, bytes], name: str, payload: bytes) -> Path:
    root = _fresh(tmp_path, "reg")
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(payload if rel == name else content)
    return root


def _read_everything(root: Path) -> None:
    """What `registry list`, `trials show` and the tabs read: nothing here may raise but a RegistryError."""
    from lab.tasks import known_tasks
    reg = Registry(root)
    for gid in reg.genome_ids():
        reg.get_genome(gid)
        reg.names(gid)
    reg.list_genomes()
    reg.aliases()
    reg.trials()
    reg.censored_trials()
    known_tasks(reg)
    reg.hall_of_fame()
    reg.hall_of_fame_genomes()
    reg.species_labels()
    reg.species_taxonomy("grokking")
    assert all("\n" not in p for p in reg.problems)


@pytest.mark.parametrize("name", ["trials.jsonl", "hall_of_fame.json", "species.json", "names.json", "tasks.json"])
@FUZZ
@given(data=st.data())
def test_registry_files(registry_files, name, tmp_path, data):
    root = _registry_with(tmp_path, registry_files, name, data.draw(mutated(registry_files[name])))
    _load_refused_or_fine(root, lambda: _read_everything(root), (RegistryError, GenomeError))


@FUZZ
@given(data=st.data())
def test_registry_commands_survive_a_damaged_trials_file(registry_files, tmp_path, data, capsys):
    from lab.cli import main
    root = _registry_with(tmp_path, registry_files, "trials.jsonl", data.draw(mutated(registry_files["trials.jsonl"])))
    gid = sorted(json.loads(line)["genome_id"] for line in registry_files["trials.jsonl"].splitlines())[0]
    before = snapshot(root)
    for argv in (["registry", "list"], ["trials", "show", gid]):
        assert main([*argv, "--registry", str(root)]) == 0
    capsys.readouterr()
    assert snapshot(root) == before


# ---- evolution run checkpoints -------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_files(tmp_path_factory) -> dict[str, bytes]:
    """run.json and checkpoint.json of a real toy-arena evolution, two generations in."""
    from lab.evolution.population import Evolution
    from lab.evolution.settings import EvolutionSettings
    from tests.test_arena_conformance import TOY
    import lab.arenas
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(lab.arenas.ARENA_PACKAGES, "toy", TOY)
        registry = Registry(tmp_path_factory.mktemp("run") / "reg")
        settings = EvolutionSettings(arena="toy", population=6, seeds_per_genome=2, generations=4, device="cpu",
                                     run_seed=3, aliens=1, elites=1)
        evo = Evolution(settings, registry, run_id="fuzz-run")
        for _ in range(2):
            evo.step()
        return {n: (evo.dir / n).read_bytes() for n in ("run.json", "checkpoint.json")}


@pytest.mark.parametrize("name", ["run.json", "checkpoint.json"])
@FUZZ
@given(data=st.data())
def test_evolution_checkpoints(run_files, name, tmp_path, data, monkeypatch):
    import lab.arenas
    from lab.evolution.population import Evolution
    from lab.evolution.run_files import run_infos
    from tests.test_arena_conformance import TOY
    monkeypatch.setitem(lab.arenas.ARENA_PACKAGES, "toy", TOY)
    root = _fresh(tmp_path, "reg")
    run = root / "runs" / "fuzz-run"
    run.mkdir(parents=True)
    for n, content in run_files.items():
        (run / n).write_bytes(data.draw(mutated(content)) if n == name else content)
    evo = _load_refused_or_fine(root, lambda: Evolution.resume(Registry(root), "fuzz-run"), RegistryError)
    if evo is not None:
        assert evo.generation == len(evo.history) and evo.population
    _load_refused_or_fine(root, lambda: run_infos(Registry(root)), RegistryError)


# ---- direct-run saves, engine files --------------------------------------------------------------
_DIRECT = [n for n in arena_names() if callable(getattr(get_arena(n), "engine", None))]


@pytest.fixture(scope="module")
def direct_saves(tmp_path_factory) -> dict[str, dict[str, bytes]]:
    out = {}
    for name in _DIRECT:
        arena = get_arena(name)
        spec = arena.gene_spec
        genome = (founders(spec.name) or [random_genome(spec, np.random.default_rng(0))])[0]
        engine = arena.engine(arena.tiny_task(), genome, 2, device="cpu")
        engine.step(1)
        folder = tmp_path_factory.mktemp(name)
        arena.save_run(engine, folder)
        getattr(engine, "close", lambda: None)()
        out[name] = snapshot(folder)
    return out


@pytest.mark.parametrize("arena", _DIRECT)
@pytest.mark.parametrize("kind", [".json", ".npz"])
@FUZZ_SLOW
@given(data=st.data())
def test_direct_run_saves(direct_saves, arena, kind, tmp_path, data):
    folder = _fresh(tmp_path, "save")
    for name, content in direct_saves[arena].items():
        (folder / name).write_bytes(data.draw(mutated(content)) if name.endswith(kind) else content)
    engine = _load_refused_or_fine(folder, lambda: get_arena(arena).resume_run(folder, device="cpu"), ValueError)
    getattr(engine, "close", lambda: None)()


@FUZZ_SLOW
@given(data=st.data())
def test_genreg_model_files(tmp_path, data):
    from lab.arenas.genreg.checkpoint import load_model, save_model
    from tests.test_genreg import _engine
    valid = _fresh(tmp_path, "valid")
    if not hasattr(test_genreg_model_files, "files"):
        engine = _engine()
        engine.step(2)
        save_model(engine, valid / "best")
        test_genreg_model_files.files = snapshot(valid)
    files = test_genreg_model_files.files
    which = data.draw(st.sampled_from(sorted(files)))
    folder = _fresh(tmp_path, "m")
    for name, content in files.items():
        (folder / name).write_bytes(data.draw(mutated(content)) if name == which else content)
    _load_refused_or_fine(folder, lambda: load_model(folder / "best.npz"), ValueError)


@pytest.fixture(scope="module")
def specialists_save(tmp_path_factory):
    from lab.arenas.m2n2.specialists import SpecialistsConfig, SpecialistsRun
    from lab.data import load_dataset
    digits = load_dataset("digits")
    run = SpecialistsRun(SpecialistsConfig(specialist_epochs=1, generations=1, finetune_steps=2), data=digits)
    run.run()
    folder = run.save(tmp_path_factory.mktemp("spec") / "pop")
    return snapshot(folder), digits


@pytest.mark.parametrize("kind", [".json", ".npz"])
@FUZZ_SLOW
@given(data=st.data())
def test_m2n2_specialist_populations(specialists_save, kind, tmp_path, data):
    from lab.arenas.m2n2.specialists import SpecialistsRun
    files, digits = specialists_save
    folder = _fresh(tmp_path, "pop")
    for name, content in files.items():
        (folder / name).write_bytes(data.draw(mutated(content)) if name.endswith(kind) else content)
    _load_refused_or_fine(folder, lambda: SpecialistsRun.load(folder, data=digits), ValueError)


@FUZZ
@given(data=st.data())
def test_m2n2_specialist_config_files(tmp_path, data):
    from lab.arenas.m2n2.specialists_state import SpecialistsConfig, load_config, save_config
    folder = _fresh(tmp_path, "cfg")
    save_config(SpecialistsConfig(), folder / "c.json")
    (folder / "c.json").write_bytes(data.draw(mutated((folder / "c.json").read_bytes())))
    _load_refused_or_fine(folder, lambda: load_config(folder / "c.json"), ValueError)


# ---- image data ----------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
@FUZZ
@given(data=st.data())
def test_mnist_idx_files(gz, tmp_path, data):
    from lab.data.idx import load_mnist
    from tests.test_data import write_mnist
    valid = _fresh(tmp_path, "valid")
    write_mnist(valid, "t10k", 12, gz=gz)
    files = snapshot(valid)
    which = data.draw(st.sampled_from(sorted(files)))
    folder = _fresh(tmp_path, "mnist")
    for name, content in files.items():
        (folder / name).write_bytes(data.draw(mutated(content, is_json=False)) if name == which else content)
    _load_refused_or_fine(folder, lambda: load_mnist(folder, test_split=8), DataError)


def test_an_idx_header_announcing_a_billion_images_is_refused_before_anything_is_allocated(tmp_path):
    import resource
    import struct
    from lab.data.idx import read_idx
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">3I", 10**9, 28, 28) + bytes(28 * 28))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataError, match="header declares 1000000000 x 28 x 28"):
        read_idx(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000   # KiB: no 784 GB buffer


@FUZZ
@given(data=st.data())
def test_cifar_batches(tmp_path, data):
    from lab.data.cifar import load_cifar10
    from tests.test_data import write_cifar
    valid = _fresh(tmp_path, "valid")
    write_cifar(valid, n=4, batches=1)
    files = snapshot(valid)
    which = data.draw(st.sampled_from(sorted(files)))
    folder = _fresh(tmp_path, "cifar")
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data.draw(mutated(content, is_json=False)) if name == which else content)
    _load_refused_or_fine(folder, lambda: load_cifar10(folder / Path(which).parent), DataError)


@FUZZ_SLOW
@given(data=st.data())
def test_font_files_for_letters(tmp_path, data):
    from lab.data.alphabet import render_letter, resolve_font
    source = resolve_font(None)
    folder = _fresh(tmp_path, "font")
    path = folder / f"f{data.draw(st.integers(0, 10**9))}.ttf"   # matplotlib caches fonts by path
    path.write_bytes(data.draw(mutated(source.read_bytes(), is_json=False)))
    image = _load_refused_or_fine(folder, lambda: render_letter("A", font=path), DataError)
    assert image is None or np.isfinite(image).all()


# ---- the settings file ---------------------------------------------------------------------------
@FUZZ
@given(data=st.data())
def test_the_settings_file(tmp_path, data):
    from lab.gui.prefs import Prefs, SettingsFile
    folder = _fresh(tmp_path, "cfg")
    settings = SettingsFile(folder / "settings.json")
    settings.save(Prefs())
    payload = data.draw(mutated(settings.path.read_bytes()))
    settings.path.write_bytes(payload)
    prefs, problem = settings.load()   # never raises
    assert isinstance(prefs, Prefs)
    files = snapshot(folder)
    if problem is None:
        assert files == {"settings.json": payload}
    else:   # set aside whole, for the user to look at; the defaults take over
        _one_line(ValueError(problem))
        assert list(files.values()) == [payload] and next(iter(files)).startswith("settings.json.corrupt-")
