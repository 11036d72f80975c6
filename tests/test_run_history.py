"""Saved runs as family trees, tables and figures (lab.analysis.genealogy, run_history, run_history_charts)
and their commands (`runs list|export`, `insights genealogy|compare`), on cheap runs of the toy arena."""
from __future__ import annotations

import json
import shutil
import types

import pytest
from matplotlib.backend_bases import MouseEvent
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lab.analysis.genealogy import OPERATORS, genealogy
from lab.analysis.run_history import (compare_frame, export_run, genomes_frame, history_frame, trials_frame)
from lab.analysis.run_history_charts import draw_compare, draw_genealogy, node_at
from lab.arenas.base import TrialResult
from lab.evolution import run_files
from lab.evolution.population import Evolution
from lab.genome import diff, distance
from lab.registry import Registry, RegistryError
from tests.conftest import snapshot
from tests.test_evolution import ToyArena, _settings

GENERATIONS = {"toy-a": 5, "toy-b": 3}


@pytest.fixture(scope="module")
def reg(tmp_path_factory) -> Registry:
    """Two toy runs, a copy of the first as written before rows recorded parents (toy-old) and a run
    whose checkpoint is garbled (toy-garbled)."""
    registry = Registry(tmp_path_factory.mktemp("runs") / "registry")
    for run_id, seed in (("toy-a", 7), ("toy-b", 11)):
        Evolution(_settings(population=10, generations=GENERATIONS[run_id], radiation_rate=0.5, run_seed=seed),
                  registry, arena=ToyArena(), run_id=run_id).run()
    runs = registry.root / "runs"
    shutil.copytree(runs / "toy-a", runs / "toy-old")
    _, state = run_files.read_run(registry, "toy-old")
    for record in state["history"]:
        for row in record["genomes"]:
            del row["parents"]
    run_files.write_checkpoint(registry, "toy-old", {k: v for k, v in state.items() if k != "schema_version"})
    shutil.copytree(runs / "toy-b", runs / "toy-garbled")
    (runs / "toy-garbled" / run_files.CHECKPOINT_FILE).write_text('{"schema_version": 1, "generation": ')
    return registry


def _history(reg: Registry, run_id: str) -> list[dict]:
    return run_files.read_run(reg, run_id)[1]["history"]


# ---- genealogy -------------------------------------------------------------------------------------
def test_every_node_descends_from_the_previous_generation_by_its_row_s_operator(reg):
    tree, history = genealogy(reg, "toy-a"), _history(reg, "toy-a")
    assert not tree.parents_from_registry and tree.generations() == [1, 2, 3, 4, 5]
    assert all("parents" in row for h in history for row in h["genomes"])   # the run records who bred whom
    for record in history:
        gen = record["generation"]
        first_rows = {}
        for row in record["genomes"]:
            first_rows.setdefault(row["id"], row)
        assert {gid for g, gid in tree.nodes if g == gen} == set(first_rows)
        assert sorted(n.rank for n in tree.generation(gen)) == list(range(1, len(first_rows) + 1))
        for gid, row in first_rows.items():
            node = tree.nodes[(gen, gid)]
            assert node.operator in OPERATORS and node.fitness == row["fitness"]
            assert all(p[0] == gen - 1 and p in tree.nodes for p in node.parents)
            if gen == 1:
                assert node.parents == () and node.operator == ("alien" if row["origin"] == "alien" else "ancestor")
            elif row["elite"]:   # carried over: a clone of itself, an elite of the generation before
                assert node.operator == "elite" and row["origin"] == "clone" and node.parents == ((gen - 1, gid),)
            else:
                assert node.operator == row["origin"]
                assert len(node.parents) == {"alien": 0, "clone": 1, "crossover": 2}.get(row["origin"],
                                                                                        len(node.parents))
                assert len(node.parents) >= (row["origin"] != "alien")
    operators = {n.operator for n in tree.nodes.values()}
    assert {"alien", "elite", "crossover", "mutation"} <= operators


def test_the_winner_s_line_reaches_generation_one_through_the_closest_parents(reg):
    tree, history = genealogy(reg, "toy-a"), _history(reg, "toy-a")
    top = max(h["best_fitness"] for h in history)
    first = next(h for h in history if h["best_fitness"] == top)
    winner = tree.winner()
    assert winner.key == (first["generation"], first["best_id"])
    line = tree.line_of_descent(winner)
    assert line[0].node[0] == 1 and line[0].parent is None and line[-1].node == winner.key
    assert [s.node[0] for s in line] == list(range(1, winner.generation + 1))
    for before, step in zip(line, line[1:]):
        assert step.parent == before.node and step.operator == tree.nodes[step.node].operator
        parent, child = reg.get_genome(before.node[1]), reg.get_genome(step.node[1])
        assert step.changes == tuple(diff(parent, child))
        others = [reg.get_genome(p[1]) for p in tree.nodes[step.node].parents]
        assert distance(parent, child) == min(distance(o, child) for o in others)
        if step.operator == "elite":
            assert step.changes == ()
    table = tree.table()
    assert len(table) == len(tree.nodes)
    assert set(table[table.on_winner_line].generation) == set(range(1, winner.generation + 1))


def test_a_run_without_parents_in_its_rows_falls_back_to_the_registry(reg):
    old, new = genealogy(reg, "toy-old"), genealogy(reg, "toy-a")
    assert old.parents_from_registry and old.nodes.keys() == new.nodes.keys()
    for key, node in old.nodes.items():
        assert node.operator == new.nodes[key].operator
        # the registry's first-written parents are this run's here: a genome is new where it is bred
        assert node.parents == new.nodes[key].parents
    assert old.line_of_descent(old.winner())[0].node[0] == 1


# ---- tables ----------------------------------------------------------------------------------------
def test_history_genomes_and_trials_frames(reg):
    history = _history(reg, "toy-a")
    frame = history_frame(history)
    assert list(frame.generation) == [1, 2, 3, 4, 5] and list(frame.genomes) == [10] * 5
    assert list(frame.best_id) == [h["best_id"] for h in history]
    assert list(frame.hall_of_fame_added) == [len(h["hall_of_fame_added"]) for h in history]
    assert set(frame.racing_censored) == {0}   # the toy arena cannot race
    genomes = genomes_frame(history)
    assert len(genomes) == 50 and set(genomes.origin) <= {"alien", "clone", "crossover", "mutation"}
    assert (genomes[genomes.origin == "crossover"].parents.str.count(";") == 1).all()
    run = json.loads((reg.run_dir("toy-a") / run_files.RUN_FILE).read_text())
    some = history[0]["genomes"][0]["id"]   # a trial of a run genome on a seed the run did not draw
    reg.record_trial(TrialResult(some, run["task_id"], 5, "grokked", metrics={"steps_to_grok": 9}))
    trials = trials_frame(reg, "toy-a")
    expected = sum(len({r["id"] for r in h["genomes"]}) * len(h["seeds"]) for h in history)
    assert len(trials) == expected and 5 not in set(trials.seed)
    assert list(trials.columns[:5]) == ["generation", "genome_id", "seed", "status", "steps_to_grok"]
    assert {"gene:x", "gene:y", "gene:z", "wall_time"} <= set(trials.columns)
    row = trials.iloc[0]
    assert row["gene:x"] == reg.get_genome(row.genome_id).genes["x"]


def test_export_writes_the_named_files_and_the_same_bytes_twice(reg, tmp_path):
    paths = export_run(reg, "toy-a", tmp_path / "a")
    charts = [f"{stem}.{fmt}" for stem in ("fitness", "success", "diversity", "genealogy")
              for fmt in ("png", "svg", "pdf")]
    assert [p.name for p in paths] == ["history.csv", "genomes.csv", "trials.csv", "genealogy.csv", *charts]
    export_run(reg, "toy-a", tmp_path / "b")
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    assert "on_winner_line" in (tmp_path / "a" / "genealogy.csv").read_text().splitlines()[0]


def test_compare_two_runs(reg):
    frame = compare_frame(reg, ["toy-a", "toy-b"])
    assert list(frame.run_id) == ["toy-a"] * 5 + ["toy-b"] * 3 and set(frame.arena) == {"toy"}
    fig = draw_compare(Figure(), frame)
    assert len(fig.axes) == 3 and all(len(ax.lines) == 2 for ax in fig.axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["toy-a", "toy-b"]
    with pytest.raises(ValueError, match="toy-a is named more than once"):
        compare_frame(reg, ["toy-a", "toy-a"])
    with pytest.raises(RegistryError, match="no run nope"):
        compare_frame(reg, ["toy-a", "nope"])


# ---- the tree chart --------------------------------------------------------------------------------
def test_a_click_on_a_node_names_its_genome(reg):
    tree = genealogy(reg, "toy-a")
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    mapping = draw_genealogy(ax, tree)
    assert sorted(mapping.values()) == sorted(tree.nodes)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "winner's line" and set(labels[1:]) <= set(OPERATORS)
    winner = tree.winner()
    (artist, index), = [k for k, v in mapping.items() if v == winner.key]
    assert artist.get_picker() and artist.get_pickradius() > 0
    fig.canvas.draw()
    picked = []
    fig.canvas.mpl_connect("pick_event", lambda e: picked.append(node_at(mapping, e)))
    x, y = ax.transData.transform((winner.generation, winner.rank))
    fig.pick(MouseEvent("button_press_event", fig.canvas, x, y, button=1))
    assert winner.key in picked
    assert node_at(mapping, types.SimpleNamespace(artist=ax, ind=[0])) is None
    few = draw_genealogy(Figure().add_subplot(), tree, highlight=winner.genome_id, max_per_generation=2)
    line = {s.node for s in tree.line_of_descent(winner)}
    assert line <= set(few.values()) and all(tree.nodes[k].rank <= 2 or k in line for k in few.values())


# ---- the command line ------------------------------------------------------------------------------
@pytest.fixture
def cli(reg, capsys, monkeypatch):
    """``cli(*argv)`` -> (exit code, stdout, stderr) through lab.cli.main on the runs' registry. Where the
    insights group does not yet offer genealogy and compare, a stand-in group adds them as it will."""
    import lab.cli
    from lab.cli import run_history

    top = next(a for a in lab.cli.build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    insights = top.choices.get("insights")
    verbs = next((a.choices for a in (insights._actions if insights else ())
                  if a.__class__.__name__ == "_SubParsersAction"), {})
    if not {"genealogy", "compare"} <= set(verbs):
        def add_parsers(top, common):
            sub = top.add_parser("insights").add_subparsers(dest="action", required=True)
            run_history.add_genealogy_parser(sub, common)
            run_history.add_compare_parser(sub, common)
        groups = [g for g in lab.cli.COMMAND_GROUPS if g.__name__ != "lab.cli.insights"]
        monkeypatch.setattr(lab.cli, "COMMAND_GROUPS", (*groups, types.SimpleNamespace(add_parsers=add_parsers)))

    def run(*argv: str) -> tuple[int, str, str]:
        code = lab.cli.main([*argv, "--registry", str(reg.root)])
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


def test_runs_list_and_export(cli, tmp_path):
    code, out, _ = cli("runs", "list")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(lines) == {"toy-a", "toy-b", "toy-old", "toy-garbled"}
    assert " toy " in lines["toy-a"] and "5/5" in lines["toy-a"] and "unreadable" in lines["toy-garbled"]
    code, out, _ = cli("runs", "export", "toy-b", "--out", str(tmp_path / "out"), "--formats", "png,svg")
    assert code == 0 and "wrote 12 file(s)" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["history.csv", "genomes.csv", "trials.csv", "genealogy.csv"]
        + [f"{s}.{f}" for s in ("fitness", "success", "diversity", "genealogy") for f in ("png", "svg")])


def test_insights_genealogy_and_compare(cli, reg, tmp_path):
    code, out, _ = cli("insights", "genealogy", "toy-a", "--out", str(tmp_path / "g"), "--formats", "png")
    winner = genealogy(reg, "toy-a").winner()
    assert code == 0 and f"winner: {winner.name} ({winner.genome_id[:8]})" in out
    assert "(first of the line)" in out and sorted(p.name for p in (tmp_path / "g").iterdir()) == [
        "genealogy.csv", "genealogy.png"]
    code, out, _ = cli("insights", "genealogy", "toy-old")
    assert code == 0 and "registry's first-written" in out
    code, out, _ = cli("insights", "compare", "toy-a", "toy-b", "--out", str(tmp_path / "c"), "--format", "svg")
    assert code == 0 and len([line for line in out.splitlines() if line.startswith("toy-")]) == 8
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["compare.csv", "compare.svg"]


@pytest.mark.parametrize("argv", [("runs", "export", "nope"), ("runs", "export", "toy-garbled"),
                                  ("insights", "genealogy", "toy-garbled"), ("insights", "compare", "toy-a", "nope"),
                                  ("runs", "export", "toy-a", "--formats", "png,tiff")])
def test_bad_input_is_one_line_and_writes_nothing(cli, tmp_path, argv):
    out_dir = tmp_path / "out"
    code, out, err = cli(*argv, "--out", str(out_dir))
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not out_dir.exists()
    if "toy-garbled" in argv:
        assert "toy-garbled" in err and "checkpoint" in err


def test_a_run_with_no_finished_generation_exports_empty_tables(registry, tmp_path):
    Evolution(_settings(population=6), registry, arena=ToyArena(), run_id="fresh")   # generation 0 only
    tree = genealogy(registry, "fresh")
    assert tree.nodes == {} and tree.table().empty
    with pytest.raises(RegistryError, match="no finished generation"):
        tree.winner()
    paths = export_run(registry, "fresh", tmp_path / "out", formats=("png",))
    assert (tmp_path / "out" / "history.csv").read_text().startswith("generation,best_id,") and len(paths) == 8


@pytest.mark.parametrize("garble, named", [({"fitness": "fast"}, "fitness"), ({"parents": [3]}, "parents"),
                                           ({"id": None}, "id")])
def test_a_garbled_genome_row_is_named_and_nothing_is_written(registry, tmp_path, garble, named):
    Evolution(_settings(population=6, generations=1), registry, arena=ToyArena(), run_id="one").run()
    _, state = run_files.read_run(registry, "one")
    state["history"][0]["genomes"][-1].update(garble)
    run_files.write_checkpoint(registry, "one", {k: v for k, v in state.items() if k != "schema_version"})
    with pytest.raises(RegistryError, match=f"run one: checkpoint.json generation 1 .*garbles {named}"):
        export_run(registry, "one", tmp_path / "out")
    assert not (tmp_path / "out").exists()
