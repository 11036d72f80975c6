"""The sweep of one gene (lab.analysis.sweep, ``python main.py sweep``): the variants, Smart Fill over
seeds, the table with 95% intervals and its chart; bad input is one line and exit 2."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from lab.analysis.sweep import draw_sweep, parse_values, sweep_genomes, sweep_table
from lab.arenas import get_arena
from lab.registry import Registry
from lab.registry_base import read_genome_file

ARGS = ("sweep", "genomes/genreg-readme.json", "--arena", "genreg", "--gene", "hidden", "--values", "8,16",
        "--runs", "3", "--step-cap", "6", "--task", "eval_interval=3", "--device", "cpu")


def test_values_are_read_within_the_gene_bounds():
    gene = get_arena("genreg").gene_spec.gene("hidden")
    assert parse_values("16, 32,64,32", gene) == [16, 32, 64]
    rate = get_arena("genreg").gene_spec.gene("child_mutation_rate")
    assert parse_values("0.01,0.07", rate) == [0.01, 0.07]
    for bad, words in (("16,x", "'x' of hidden is not a number"), ("16,1000", r"outside its bounds \[4, 512\]"),
                       ("16", "at least two values"), ("16,nan", "outside its bounds")):
        with pytest.raises(ValueError, match=words):
            parse_values(bad, gene)


def test_the_variants_differ_only_in_the_gene():
    (base,) = read_genome_file("genomes/genreg-readme.json")
    variants = sweep_genomes(base, "hidden", [16, 64])
    assert [v.genes["hidden"] for v in variants] == [16, 64]
    assert all({k: v for k, v in g.genes.items() if k != "hidden"} ==
               {k: v for k, v in base.genes.items() if k != "hidden"} for g in variants)
    assert variants[1].id == base.id, "the base's own value is the base itself (its trials count)"
    assert variants[0].name == "genreg-readme hidden=16" and "sweep" in variants[0].tags
    assert variants[0].parents == (base.id,)
    with pytest.raises(ValueError, match="no gene 'width'"):
        sweep_genomes(base, "width", [1, 2])


def test_a_sweep_runs_with_smart_fill_and_writes_its_chart_and_table(run, tmp_path):
    code, out, err = run(*ARGS, "--out", str(tmp_path / "out"), "--format", "png")
    assert code == 0, err
    assert "0 trials exist, 6 will run" in out
    rows = list(csv.DictReader((tmp_path / "out" / "sweep-hidden.csv").open()))
    assert [float(r["value"]) for r in rows] == [8, 16] and [int(r["runs"]) for r in rows] == [3, 3]
    for r in rows:
        low, mean, high = (float(r[k]) for k in ("metric_low", "metric_mean", "metric_high"))
        assert 0 <= low <= mean <= high <= 1 or np.isnan(low)
        assert float(r["success_low"]) <= float(r["success_rate"]) <= float(r["success_high"])
    assert (tmp_path / "out" / "sweep-hidden.png").stat().st_size > 5000
    # Smart Fill: the same sweep again runs nothing, and reports the same table
    code, again, err = run(*ARGS)
    assert code == 0 and "6 trials exist, 0 will run" in again
    assert again.splitlines()[-2:] == out.splitlines()[-3:-1]
    # the variants are in the registry under their names, tagged for the Stress Chamber
    reg = Registry(run.registry)
    assert {g.name for g in reg.list_genomes(spec="genreg", tag="sweep")} >= {"genreg-readme hidden=8"}


def test_the_table_holds_the_metric_mean_and_intervals_of_the_recorded_trials(run):
    assert run(*ARGS)[0] == 0
    reg = Registry(run.registry)
    arena = get_arena("genreg")
    (base,) = read_genome_file("genomes/genreg-readme.json")
    variants = sweep_genomes(base, "hidden", [8, 16])
    task_id = reg.trials_for(variants[0].id)[0].task_id
    table = sweep_table(reg, variants, "hidden", task_id, range(3), "test_acc")
    accs = [t.metrics["test_acc"] for t in reg.trials_for(variants[0].id, task_id)]
    assert table["metric_mean"][0] == pytest.approx(np.mean(accs))
    assert table["metric_n"][0] == 3 and arena.name == "genreg"
    fig = draw_sweep(Figure(), table, "Hidden units", "test_acc")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["8", "16"] and ax.get_xscale() == "linear"
    assert len(ax.containers) == 2, "the metric and the success rate, each with its interval"


@pytest.mark.parametrize("extra,words", [
    (("--values", "8,1000"), "outside its bounds"),
    (("--gene", "hiddn"), "no gene 'hiddn'"),
    (("--task", "dataset=cifar"), "'cifar' is not one of"),
    (("--task", "colour=red"), "FIELD=VALUE with a field of the task"),
    (("--format", "gif"), "unknown format 'gif'"),
    (("--runs", "0"), "--runs must be >= 1"),
])
def test_bad_input_is_one_line_and_runs_nothing(run, extra, words):
    code, out, err = run(*ARGS, *extra)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert "will run" not in out
    genomes = Path(run.registry) / "genomes"
    assert not genomes.exists() or not any(genomes.iterdir()), "nothing was stored"
    assert not (Path(run.registry) / "trials.jsonl").exists()
