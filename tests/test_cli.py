"""The headless command line: every subcommand, --registry, exit code 2 with one line on bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from tests.conftest import PROJECT, snapshot

from lab.cli import main
from lab.genome import Genome, get_spec
from lab.registry import Registry




def test_new_show_validate(run, tmp_path):
    out_file = tmp_path / "g.json"
    code, out, _ = run("genome", "new", "--set", "learning_rate=0.003", "--name", "fast", "--tag", "mine",
                       "--out", str(out_file))
    assert code == 0 and "wrote" in out
    g = Genome.load(out_file)
    assert g.genes["learning_rate"] == 0.003 and g.name == "fast" and g.tags == ("mine",)
    code, out, _ = run("genome", "show", str(out_file))
    assert code == 0 and "[Metabolic Rate]" in out and "learning_rate" in out and "0.003" in out
    code, out, _ = run("genome", "validate", str(out_file), *map(str, sorted((PROJECT / "genomes").glob("*.json"))))
    assert code == 0 and out.count("OK") >= 6


def test_new_random_is_seeded_and_saved(run):
    code, out, _ = run("genome", "new", "--random", "--seed", "5", "--save")
    code2, out2, _ = run("genome", "new", "--random", "--seed", "5")
    assert code == code2 == 0
    gid = json.loads(out2)["id"]
    assert Registry(run.registry).genome_ids() == [gid]


def test_mutate_cross_splice_diff_clone_through_the_registry(run):
    run("registry", "import", str(PROJECT / "genomes"))
    reg = Registry(run.registry)
    classic = [g for g in reg.list_genomes() if g.name == "classic-adamw"][0]
    lr = [g for g in reg.list_genomes() if g.name == "high-lr"][0]
    code, out, _ = run("genome", "mutate", classic.id[:8], "--seed", "1", "--rate", "0.5")
    child = Genome.from_json(out)
    assert code == 0 and child.parents == (classic.id,) and child.id != classic.id
    code, out, _ = run("genome", "cross", classic.id, lr.id, "--seed", "2", "--save")
    assert code == 0 and "saved" in out
    code, out, _ = run("genome", "splice", classic.id, lr.id, "--genes", "learning_rate,Life Cycle")
    spliced = Genome.from_json(out)
    assert spliced.genes["learning_rate"] == 0.003 and spliced.genes["warmup_steps"] == 50
    code, out, _ = run("genome", "diff", classic.id, lr.id)
    assert code == 0 and "learning_rate" in out and "distance" in out
    code, out, _ = run("genome", "clone", lr.id)
    assert code == 0 and Genome.from_json(out).id == lr.id


def test_registry_list_export_trash_hof(run, tmp_path):
    run("registry", "import", str(PROJECT / "genomes"))
    code, out, _ = run("registry", "list", "--origin", "founder")
    assert code == 0 and "19 genome(s)" in out
    assert all(name in out for name in ("classic-adamw", "m2n2-paper", "genreg-readme", "neat-xor"))
    gid = Registry(run.registry).list_genomes(name="heavy")[0].id
    code, out, _ = run("registry", "export", gid, "--out", str(tmp_path / "x.json"))
    assert code == 0 and (tmp_path / "x.json").is_file()
    assert run("registry", "hof", "--add", gid)[0] == 0
    assert gid in run("registry", "hof")[1]
    assert "heavy-decay" in run("registry", "list", "--hall-of-fame")[1]
    assert run("registry", "trash", gid)[0] == 0
    assert gid in run("registry", "trash", "--list")[1]
    assert run("registry", "trash", "--restore", gid)[0] == 0
    assert "heavy-decay" in run("registry", "list")[1]


def test_spec_markdown_is_the_readme_table(run):
    code, out, _ = run("genome", "spec", "--markdown", registry=False)
    assert code == 0 and out.strip() == get_spec("grokking").markdown_table()


@pytest.mark.parametrize("argv, fragment", [
    (["genome", "new", "--set", "beta2=1.3"], "gene `beta2` = 1.3 is above its upper bound 0.9999"),
    (["genome", "new", "--set", "lr=1"], "unknown gene `lr`"),
    (["genome", "new", "--set", "dropout=lots"], "gene `dropout` = 'lots' is not a number"),
    (["genome", "new", "--set", "dropout=nan"], "gene `dropout` = nan is not a finite number"),
    (["genome", "show", "deadbeef"], "no genome id starts with 'deadbeef'"),
    (["genome", "show", "no/such/file.json"], "file.json: does not exist"),
    (["genome", "mutate", "../etc"], "is not a genome id"),
    (["genome", "mutate", "missing.json", "--rate", "2"], "missing.json: does not exist"),
    (["registry", "trash", "0123456789abcdef"], "no genome 0123456789abcdef"),
    (["registry", "export", "--out", "x"], "name genome ids to export"),
])
def test_bad_input_exits_2_with_one_line(run, argv, fragment):
    Registry(run.registry).add_genome(Genome(get_spec("grokking"), get_spec("grokking").defaults()))
    before = snapshot(Registry(run.registry).root)
    code, out, err = run(*argv)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and fragment in err, err
    assert "Traceback" not in err
    assert snapshot(Registry(run.registry).root) == before


def test_validate_lists_each_problem_and_exits_2(run, tmp_path, spec):
    d = Genome(spec, spec.defaults()).to_dict()
    d["genes"]["beta2"] = 1.3
    d["genes"]["bogus"] = 1
    (tmp_path / "bad.json").write_text(json.dumps(d))
    code, out, err = run("genome", "validate", str(tmp_path / "bad.json"))
    assert code == 2 and "INVALID" in out and "beta2" in out and "bogus" in out and "1 of 1" in err


def test_import_with_a_bad_file_reports_it_and_exits_2(run, tmp_path, spec):
    Genome(spec, spec.defaults()).save(tmp_path / "in" / "good.json")
    (tmp_path / "in" / "bad.json").write_text("[")
    code, out, _ = run("registry", "import", str(tmp_path / "in"))
    assert code == 2 and "imported 1 genome(s)" in out and "FAILED" in out and "bad.json" in out


def test_argparse_errors_exit_2(run):
    with pytest.raises(SystemExit) as exc:
        main(["genome", "frobnicate"])
    assert exc.value.code == 2


def test_help_texts_come_from_the_gene_table(capsys):
    with pytest.raises(SystemExit):
        main(["genome", "new", "--help"])
    out = capsys.readouterr().out
    assert all(k in out for k in get_spec("grokking").keys)


def test_no_display_gives_a_message_not_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run([sys.executable, str(PROJECT / "main.py"), "--registry", str(tmp_path / "r")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "no display found" in proc.stderr and "python main.py genome" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_trials_run_records_and_smart_fills(run):
    code, out, _ = run("trials", "run", str(PROJECT / "genomes" / "high-lr.json"), "--seeds", "2",
                       "--step-cap", "30", "--device", "cpu")
    assert code == 0 and "0 already recorded, 2 to run" in out and "2 trial(s)" in out
    code, out, _ = run("trials", "run", str(PROJECT / "genomes" / "high-lr.json"), "--seeds", "0-2",
                       "--step-cap", "30", "--device", "cpu")
    assert code == 0 and "2 already recorded, 1 to run" in out and "3 trial(s)" in out
    assert len(Registry(run.registry).trials()) == 3
    code, out, _ = run("trials", "show", str(PROJECT / "genomes" / "high-lr.json"))
    assert code == 0 and out.count("capped") == 3


def test_trials_bad_seeds_exit_2(run):
    code, _, err = run("trials", "run", str(PROJECT / "genomes" / "high-lr.json"), "--seeds", "9-3")
    assert code == 2 and "--seeds '9-3'" in err


def test_evolve_runs_checkpoints_and_resumes(run):
    code, out, _ = run("evolve", "--population", "4", "--seeds", "1", "--generations", "2", "--aliens", "1",
                       "--elites", "1", "--step-cap", "20", "--device", "cpu", "--run-seed", "1",
                       "--run-id", "cli-run", "--seed-from", "founders")
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [line.split()[0] for line in lines] == ["1", "2"]
    assert "done: run cli-run" in out
    # racing is on by default, with its rule; a 20-step cap is below its floor: nothing is stopped
    assert "racing: on, stop trials at S = max(400, 2 x the best median" in out and " stopped" in out
    assert [line.split()[-1] for line in lines] == ["0", "0"]
    reg = Registry(run.registry)
    assert (reg.run_dir("cli-run") / "checkpoint.json").is_file()
    code, out, _ = run("evolve", "--resume", "cli-run")
    assert code == 0 and "after generation 2 of 2" in out
    code, _, err = run("evolve", "--resume", "nope")
    assert code == 2 and "no run nope to resume" in err


@pytest.mark.parametrize("argv, fragment", [
    (["evolve", "--population", "1"], "population must be a whole number >= 2"),
    (["evolve", "--population", "4", "--aliens", "2", "--elites", "2"], "must leave room for offspring"),
    (["evolve", "--mutation-rate", "nan"], "mutation_rate must be between 0 and 1"),
    (["evolve", "--seed-from", "friends"], "seed source 'friends'"),
    (["evolve", "--seed-from", "id:0123456789abcdef", "--step-cap", "5"], "no genome 0123456789abcdef"),
    (["evolve", "--resume", "../escape"], "not a valid run id"),
    (["evolve", "--racing-factor", "0.5"], "racing factor must be a number >= 1"),
    (["evolve", "--racing-floor", "-3"], "racing floor must be a whole number"),
])
def test_evolve_bad_input_exits_2_and_writes_no_run(run, argv, fragment):
    reg = Registry(run.registry)
    reg.add_genome(Genome(get_spec("grokking"), get_spec("grokking").defaults()))
    before = snapshot(reg.root)
    code, _, err = run(*argv)
    assert code == 2 and err.startswith("error: ") and fragment in err, err
    assert snapshot(reg.root) == before and reg.run_ids() == []


def test_registry_given_before_the_command_is_the_one_used(run, tmp_path):
    """``main.py --registry X registry list`` lists X (a subcommand once reset it to ./registry)."""
    code, out, _ = run("genome", "new", "--name", "placed", "--save")
    assert code == 0
    code, out, _ = run("--registry", run.registry, "registry", "list", registry=False)
    assert code == 0 and "placed" in out and run.registry in out
    other = str(tmp_path / "other")
    code, out, _ = run("--registry", other, "registry", "list", "--registry", run.registry, registry=False)
    assert "placed" in out, "given after the command too, the later one counts"
