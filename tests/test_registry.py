"""The shared registry: genomes, trials, Hall of Fame, import/export, trash, bad input, concurrency."""
from __future__ import annotations

import json
import multiprocessing as mp
import threading

import numpy as np
import pytest
from tests.conftest import snapshot

from lab.arenas.base import TrialError, TrialResult
from lab.genome import Genome, GenomeError, random_genome
from lab.registry import Registry, RegistryError, founders


def _trial(gid: str, seed: int, task: str = "task-a", status: str = "grokked", **metrics) -> TrialResult:
    return TrialResult(genome_id=gid, task_id=task, seed=seed, status=status,
                       metrics={"steps_to_grok": 100 + seed, **metrics}, curve={"step": [0, 25], "val_acc": [0.0, 0.5]},
                       wall_time=0.1, arena="grokking")


@pytest.fixture
def populated(registry, spec):
    rng = np.random.default_rng(0)
    gs = [random_genome(spec, rng, name=f"g{i}", tags=("even",) if i % 2 == 0 else ()) for i in range(4)]
    registry.add_genomes(gs)
    registry.add_genome(founders("grokking")[0])
    registry.record_trials([_trial(gs[0].id, s) for s in range(3)])
    return registry, gs


# ---- genomes ------------------------------------------------------------------------------------
def test_reading_a_missing_folder_creates_nothing(tmp_path):
    reg = Registry(tmp_path / "nowhere")
    assert reg.list_genomes() == [] and reg.trials() == [] and reg.hall_of_fame() == []
    assert reg.missing_seeds("0" * 16, "t", [1, 2]) == [1, 2]
    assert not (tmp_path / "nowhere").exists()


def test_add_get_list_filter(populated, spec):
    reg, gs = populated
    assert reg.get_genome(gs[1].id) == gs[1]
    assert (reg.root / "genomes" / f"{gs[1].id}.json").is_file()
    assert len(reg.list_genomes()) == 5
    assert {g.id for g in reg.list_genomes(tag="even")} == {gs[0].id, gs[2].id}
    assert [g.origin for g in reg.list_genomes(origin="founder")] == ["founder"]
    assert [g.id for g in reg.list_genomes(name="G3")] == [gs[3].id]
    assert reg.list_genomes(spec="grokking") and not reg.list_genomes(spec="neat")
    assert reg.resolve(gs[1].id[:10]) == gs[1].id


def test_genome_files_are_written_once(registry, spec):
    g = Genome(spec, spec.defaults(), name="first")
    registry.add_genome(g)
    before = snapshot(registry.root)
    kept = registry.add_genome(Genome(spec, spec.defaults(), name="second, same genes"))
    after = snapshot(registry.root)
    assert kept.name == "first", "the genome keeps the name it was stored under"
    assert after.pop("names.json") and after == before, "its file is written once; the new name goes to names.json"
    assert registry.names(g.id) == ["first", "second, same genes"]


def test_a_fresh_registry_object_sees_what_another_wrote(populated):
    reg, gs = populated
    other = Registry(reg.root)
    assert other.get_genome(gs[0].id) == gs[0]
    assert len(other.trials_for(gs[0].id, "task-a")) == 3


def test_unreadable_genome_file_is_skipped_and_reported(populated):
    reg, gs = populated
    (reg.root / "genomes" / f"{gs[0].id}.json").write_text("{ torn")
    listed = reg.list_genomes()
    assert gs[0] not in listed and len(listed) == 4
    assert any(gs[0].id in p and "not valid JSON" in p for p in reg.problems)


def test_trash_and_restore(populated):
    reg, gs = populated
    reg.add_to_hall_of_fame(gs[1], task_id="task-a", evidence={"median": 900})
    dest = reg.delete_genome(gs[1].id)
    assert dest.is_file() and not reg.has_genome(gs[1].id)
    assert reg.trash_ids() == [gs[1].id]
    assert all(e["genome_id"] != gs[1].id for e in reg.hall_of_fame())
    reg.restore_genome(gs[1].id)
    assert reg.get_genome(gs[1].id) == gs[1] and reg.trash_ids() == []
    assert [e["genome_id"] for e in reg.hall_of_fame()] == [gs[1].id]


# ---- trials -------------------------------------------------------------------------------------
def test_trials_for_and_missing_seeds(populated):
    reg, gs = populated
    assert [t.seed for t in reg.trials_for(gs[0].id, "task-a")] == [0, 1, 2]
    assert reg.trials_for(gs[0].id, "task-b") == []
    assert reg.missing_seeds(gs[0].id, "task-a", range(5)) == [3, 4]
    assert reg.missing_seeds(gs[1].id, "task-a", [7, 8]) == [7, 8]
    assert reg.has_trial(gs[0].id, "task-a", 2)
    t = reg.trials_for(gs[0].id, "task-a")[0]
    assert t.metrics["steps_to_grok"] == 100 and t.curve["val_acc"] == [0.0, 0.5] and t.schema_version == 1


def test_same_experiment_recorded_twice_is_counted_once(populated):
    reg, gs = populated
    reg.record_trial(_trial(gs[0].id, 0))
    assert len(reg.trials_for(gs[0].id, "task-a")) == 3


def test_non_finite_metrics_are_stored_as_null(registry):
    registry.record_trial(_trial("a" * 16, 0, status="diverged", final_loss=float("nan")))
    line = registry.trials_path.read_text().strip()
    assert "NaN" not in line and json.loads(line)["metrics"]["final_loss"] is None


def test_torn_last_line_is_survived(registry):
    registry.record_trials([_trial("a" * 16, s) for s in range(3)])
    with open(registry.trials_path, "ab") as fh:
        fh.write(b'{"genome_id": "aaaa", "task_id": "task-a", "se')  # a writer died here
    fresh = Registry(registry.root)
    assert len(fresh.trials()) == 3
    assert any("torn last line" in p for p in fresh.problems)
    fresh.record_trial(_trial("a" * 16, 3))  # the next append starts on its own line
    again = Registry(registry.root)
    assert sorted(t.seed for t in again.trials()) == [0, 1, 2, 3]
    assert any("line 4: skipped a corrupt record" in p for p in again.problems)


def test_corrupt_line_in_the_middle_is_skipped_with_its_line_number(registry):
    registry.record_trials([_trial("a" * 16, 0)])
    with open(registry.trials_path, "a") as fh:
        fh.write("this is not json\n")
        fh.write(json.dumps({"schema_version": 7, "genome_id": "a", "task_id": "t", "seed": 1,
                             "status": "ok"}) + "\n")
    registry.record_trials([_trial("a" * 16, 1)])
    assert sorted(t.seed for t in registry.trials()) == [0, 1]
    assert any("line 2" in p for p in registry.problems)
    assert any("line 3" in p and "schema_version 7" in p for p in registry.problems)


def test_reading_never_writes(populated):
    reg, gs = populated
    with open(reg.trials_path, "ab") as fh:
        fh.write(b'{"torn')
    before = snapshot(reg.root)
    fresh = Registry(reg.root)
    fresh.trials(), fresh.list_genomes(), fresh.hall_of_fame(), fresh.missing_seeds(gs[0].id, "t", [1])
    assert snapshot(reg.root) == before


def _append_many(root: str, worker: int, n: int) -> None:
    reg = Registry(root)
    for i in range(n):
        reg.record_trial(TrialResult(genome_id=f"{worker:016x}", task_id="t", seed=i, status="ok",
                                     metrics={"worker": worker, "i": i}, curve={"x": list(range(20))}))


def test_concurrent_writers_lose_nothing(tmp_path):
    root = str(tmp_path / "reg")
    Registry(root).record_trials([])  # nothing: but must not create a half state
    threads = [threading.Thread(target=_append_many, args=(root, w, 500)) for w in range(4)]
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(root, w, 500)) for w in (4, 5)]
    for t in threads + procs:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    reg = Registry(root)
    trials = reg.trials()
    assert reg.problems == []
    assert len(trials) == 3000
    lines = reg.trials_path.read_text().splitlines()
    assert len(lines) == 3000 and all(json.loads(line)["schema_version"] == 1 for line in lines)
    for w in range(6):
        assert reg.missing_seeds(f"{w:016x}", "t", range(500)) == []


# ---- names and tags given to a genome already stored --------------------------------------------
def _high_lr():
    return next(g for g in founders("grokking") if g.name == "high-lr")


def test_a_second_name_tags_and_notes_for_the_same_genes_are_kept_and_found(registry, run):
    founder = _high_lr()
    registry.add_genome(founder)
    genome_file = registry.genome_path(founder.id).read_bytes()
    mine = founder.replace(name="newcomer-lr3", tags=("newcomer", "test"), notes="lr from high-lr",
                           origin="forge", parents=("c264a55f74bcda83",))
    held = registry.add_genome(mine)
    # the id and the stored genome stay; nothing the user gave is dropped
    assert held.id == founder.id and held.name == "high-lr" and held.origin == "founder" and held.parents == ()
    assert held.tags == ("founder", "newcomer", "test") and "lr from high-lr" in held.notes
    assert registry.genome_path(founder.id).read_bytes() == genome_file, "genome files are written once"
    assert registry.names(founder.id) == ["high-lr", "newcomer-lr3"]
    assert registry.aliases() == {founder.id: ["newcomer-lr3"]}
    assert [g.id for g in registry.list_genomes(tag="newcomer")] == [founder.id]
    assert [g.id for g in registry.list_genomes(name="NEWCOMER")] == [founder.id]
    assert [g.id for g in registry.list_genomes(name="high-lr")] == [founder.id]
    # a fresh object (another process) sees the same; saving the same again writes nothing
    assert Registry(registry.root).get_genome(founder.id).tags == held.tags
    before = snapshot(registry.root)
    assert registry.add_genome(mine) == held and snapshot(registry.root) == before
    # `registry list --tag newcomer` lists it, with both names
    code, out, _ = run("registry", "list", "--tag", "newcomer", "--registry", str(registry.root), registry=False)
    assert code == 0 and "1 genome(s)" in out
    (row,) = [line for line in out.splitlines() if line.startswith(founder.id)]
    assert "high-lr" in row and "newcomer-lr3" in row and "founder,newcomer,test" in row
    code, out, _ = run("registry", "list", "--name", "newcomer", "--registry", str(registry.root), registry=False)
    assert founder.id in out


def test_a_genome_stored_without_a_name_takes_the_first_name_given(registry, spec):
    registry.add_genome(Genome(spec, spec.defaults()))
    held = registry.add_genome(Genome(spec, spec.defaults(), name="defaults", tags=("baseline",)))
    assert held.name == "defaults" and held.tags == ("baseline",)
    assert registry.names(held.id) == ["defaults"] and registry.aliases() == {}


def test_importing_a_file_with_known_genes_keeps_its_name(registry, tmp_path):
    registry.add_genome(_high_lr())
    _high_lr().replace(name="from a colleague", tags=("shared",)).save(tmp_path / "colleague.json")
    report = registry.import_paths([tmp_path / "colleague.json"])
    assert report.ok and report.already_present == [_high_lr().id] and not report.imported
    assert registry.names(_high_lr().id) == ["high-lr", "from a colleague"]
    assert "shared" in registry.get_genome(_high_lr().id).tags


@pytest.mark.parametrize("content,fragment", [
    ("{not json", "not valid JSON"),
    ('{"schema_version": 9, "genomes": {}}', "not a names file of schema_version 1"),
    ('["a list"]', "not a names file"),
    ('{"schema_version": 1, "genomes": {"../../etc": {"names": ["x"]}, "31b0ca782570aff4": {"names": [3]}}}',
     "2 record(s) are not"),
    ('{"schema_version": 1, "genomes": {"31b0ca782570aff4": {"names": ["bell\\u0007"], "evil": []}}}',
     "1 record(s) are not"),
])
def test_a_damaged_or_hostile_names_file_is_named_in_one_line_and_loses_nothing(registry, content, fragment):
    founder = _high_lr()
    registry.add_genome(founder)
    registry.names_path.write_text(content)
    before = snapshot(registry.root)
    # reading goes on without it, and says so once, in one line
    fresh = Registry(registry.root)
    assert [g.id for g in fresh.list_genomes()] == [founder.id] and fresh.get_genome(founder.id).name == "high-lr"
    (problem,) = fresh.problems
    assert "names.json" in problem and fragment in problem and "\n" not in problem
    # adding what the file would have to hold is refused: the file is never overwritten
    with pytest.raises(RegistryError) as err:
        fresh.add_genome(founder.replace(name="newcomer-lr3"))
    assert "names.json" in str(err.value) and "nothing was changed" in str(err.value) and "\n" not in str(err.value)
    assert fresh.add_genome(founder) == founder, "adding nothing new needs no names file"
    assert snapshot(registry.root) == before


def test_a_good_record_beside_a_bad_one_is_still_read(registry):
    founder = _high_lr()
    registry.add_genome(founder)
    registry.names_path.write_text(json.dumps({"schema_version": 1, "genomes": {
        founder.id: {"names": ["kept"], "tags": ["t1"], "notes": []}, "zz": {"names": ["x"]}}}))
    assert registry.names(founder.id) == ["high-lr", "kept"]
    assert registry.get_genome(founder.id).tags == ("founder", "t1")
    assert len(registry.problems) == 1 and "1 record(s)" in registry.problems[0]


def _name_many(root: str, worker: int, n: int) -> None:
    reg = Registry(root)
    for i in range(n):
        reg.add_genome(_high_lr().replace(name=f"w{worker}-{i}", tags=(f"w{worker}",)))


def test_concurrent_namers_lose_no_name(tmp_path):
    root = str(tmp_path / "reg")
    Registry(root).add_genome(_high_lr())
    threads = [threading.Thread(target=_name_many, args=(root, w, 15)) for w in range(3)]
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_name_many, args=(root, w, 15)) for w in (3, 4)]
    for t in threads + procs:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    reg = Registry(root)
    assert sorted(reg.names(_high_lr().id)[1:]) == sorted(f"w{w}-{i}" for w in range(5) for i in range(15))
    assert set(reg.get_genome(_high_lr().id).tags) == {"founder"} | {f"w{w}" for w in range(5)}
    assert reg.problems == []


# ---- Hall of Fame -------------------------------------------------------------------------------
def test_hall_of_fame_dedups_by_id(populated, spec):
    reg, gs = populated
    assert reg.add_to_hall_of_fame(gs[2], task_id="task-a", evidence={"success": 1.0})
    assert not reg.add_to_hall_of_fame(Genome(spec, dict(gs[2].genes), name="same genes"))
    assert [e["genome_id"] for e in reg.hall_of_fame()] == [gs[2].id]
    assert reg.hall_of_fame()[0]["evidence"] == {"success": 1.0}
    assert reg.hall_of_fame_genomes() == [gs[2]]
    assert reg.remove_from_hall_of_fame(gs[2].id) and reg.hall_of_fame() == []
    assert not reg.remove_from_hall_of_fame(gs[2].id)


# ---- import / export ----------------------------------------------------------------------------
def test_import_folder_with_one_bad_file_imports_the_good_ones(tmp_path, registry, spec):
    src = tmp_path / "incoming"
    (src / "nested").mkdir(parents=True)
    rng = np.random.default_rng(3)
    good = [random_genome(spec, rng, name=f"good{i}") for i in range(3)]
    good[0].save(src / "a.json")
    good[1].save(src / "nested" / "b.json")
    good[2].save(src / "c.json")
    bad = good[0].to_dict()
    bad["genes"]["beta2"] = 1.3
    bad["genes"]["learning_rate"] = "fast"
    (src / "bad.json").write_text(json.dumps(bad))
    report = registry.import_paths([src])
    assert sorted(report.imported) == sorted(g.id for g in good)
    assert len(report.failures) == 1
    path, message = report.failures[0]
    assert path.endswith("bad.json") and "beta2" in message and "1.3" in message and "learning_rate" in message
    assert "FAILED" in report.summary() and not report.ok
    again = registry.import_paths([src])
    assert again.imported == [] and sorted(again.already_present) == sorted(g.id for g in good)


def test_a_bundle_with_one_bad_genome_imports_nothing_from_it(tmp_path, registry, spec):
    rng = np.random.default_rng(4)
    gs = [random_genome(spec, rng).to_dict() for _ in range(3)]
    gs[2]["genes"]["dropout"] = float("nan")
    (tmp_path / "bundle.json").write_text(json.dumps({"kind": "genome-bundle", "schema_version": 1, "genomes": gs}))
    report = registry.import_paths([tmp_path / "bundle.json"])
    assert report.imported == [] and "genome #3" in report.failures[0][1]
    assert registry.genome_ids() == []


def test_imported_paths_never_escape_the_registry(tmp_path, registry, spec):
    d = Genome(spec, spec.defaults()).to_dict()
    d["id"] = "../../../outside"
    d["name"] = "../../evil"
    (tmp_path / "sneaky.json").write_text(json.dumps(d))
    report = registry.import_paths([tmp_path / "sneaky.json"])
    assert report.imported == [Genome(spec, spec.defaults()).id]
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "sneaky.json"]
    assert all(registry.root in p.parents for p in written)
    with pytest.raises(RegistryError, match="not a genome id"):
        registry.get_genome("../../etc/passwd")
    with pytest.raises(RegistryError, match="not a valid run id"):
        registry.run_dir("../escape", create=True)
    assert not (tmp_path / "escape").exists()


def test_export_folder_and_bundle_round_trip(populated, tmp_path):
    reg, gs = populated
    files = reg.export_genomes([g.id for g in gs], tmp_path / "out")
    assert sorted(p.name for p in files) == sorted(f"{g.id}.json" for g in gs)
    (bundle,) = reg.export_genomes([gs[0].id, gs[1].id[:8]], tmp_path / "two.json")
    other = Registry(tmp_path / "other")
    assert sorted(other.import_paths([bundle]).imported) == sorted([gs[0].id, gs[1].id])
    assert sorted(other.import_paths([tmp_path / "out"]).already_present) == sorted([gs[0].id, gs[1].id])


# ---- bad input leaves the folder byte-identical ---------------------------------------------------
def _bad_genome_file(tmp_path, spec, **genes):
    d = Genome(spec, spec.defaults()).to_dict()
    d["genes"].update(genes)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d).replace('"__nan__"', "NaN"))
    return path


@pytest.mark.parametrize("action, error", [
    ("import_unknown_gene", None),
    ("import_missing_gene", None),
    ("import_nan", None),
    ("import_out_of_bounds", None),
    ("import_wrong_spec", None),
    ("import_foreign_schema", None),
    ("import_not_json", None),
    ("import_missing_path", None),
    ("trial_bad_status", TrialError),
    ("trial_bad_seed", TrialError),
    ("hof_corrupt_file", RegistryError),
    ("get_unknown_id", RegistryError),
    ("delete_unknown_id", RegistryError),
    ("restore_not_in_trash", RegistryError),
    ("ambiguous_prefix", RegistryError),
])
def test_bad_input_changes_nothing_on_disk(populated, tmp_path, spec, action, error):
    reg, gs = populated
    reg.add_to_hall_of_fame(gs[0])
    if action == "hof_corrupt_file":
        reg.hof_path.write_text('{"schema_version": 1, "entries": [')
    before = snapshot(reg.root)
    d = Genome(spec, spec.defaults()).to_dict()
    bad = tmp_path / "bad.json"
    if action.startswith("import"):
        if action == "import_unknown_gene":
            d["genes"]["learning_rat"] = 1e-3
        elif action == "import_missing_gene":
            del d["genes"]["beta1"]
        elif action == "import_nan":
            d["genes"]["adam_eps"] = "__nan__"
        elif action == "import_out_of_bounds":
            d["genes"]["embed_ratio"] = 64.0
        elif action == "import_wrong_spec":
            d["spec"] = "transformer-xl"
        elif action == "import_foreign_schema":
            d["schema_version"] = 2
        bad.write_text("{ oops" if action == "import_not_json" else json.dumps(d).replace('"__nan__"', "NaN"))
        target = tmp_path / "missing.json" if action == "import_missing_path" else bad
        report = reg.import_paths([target])
        assert report.imported == [] and len(report.failures) == 1
        assert report.failures[0][1]  # a message naming the problem
    else:
        with pytest.raises(error) as err:
            if action == "trial_bad_status":
                reg.record_trials([_trial(gs[0].id, 9), {**_trial(gs[0].id, 10).to_dict(), "status": "great"}])
            elif action == "trial_bad_seed":
                reg.record_trial({**_trial(gs[0].id, 9).to_dict(), "seed": "nine"})
            elif action == "hof_corrupt_file":
                reg.add_to_hall_of_fame(gs[1])
            elif action == "get_unknown_id":
                reg.get_genome("0123456789abcdef")
            elif action == "delete_unknown_id":
                reg.delete_genome("0123456789abcdef")
            elif action == "restore_not_in_trash":
                reg.restore_genome("0123456789abcdef")
            elif action == "ambiguous_prefix":
                reg.resolve("")
        assert str(err.value)
    assert snapshot(reg.root) == before


def test_import_messages_name_gene_value_and_bound(populated, tmp_path, spec):
    reg, _ = populated
    cases = {
        "learning_rat": ("unknown gene `learning_rat`",),
        "nan": ("`adam_eps` = nan is not a finite number",),
        "oob": ("`embed_ratio` = 64 is above its upper bound 32",),
    }
    d = Genome(spec, spec.defaults()).to_dict()
    for name, (expected,) in cases.items():
        e = json.loads(json.dumps(d))
        if name == "learning_rat":
            e["genes"]["learning_rat"] = 1e-3
        elif name == "nan":
            e["genes"]["adam_eps"] = float("nan")
        else:
            e["genes"]["embed_ratio"] = 64.0
        (tmp_path / f"{name}.json").write_text(json.dumps(e))
        report = reg.import_paths([tmp_path / f"{name}.json"])
        assert expected in report.failures[0][1]


def test_registry_path_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(RegistryError, match="is a file, not a folder"):
        Registry(tmp_path / "f")


def test_genome_error_is_a_value_error():
    assert issubclass(GenomeError, ValueError) and issubclass(RegistryError, ValueError)
