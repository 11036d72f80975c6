"""The NEAT direct run's four charts on a synthetic engine snapshot: fitness, species sizes, the
champion network (its layout too), the species controller; empty and partial snapshots said
plainly, recurrent and digits-sized champions drawn, and the paper export."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Arc, FancyArrowPatch

from lab.analysis.direct_panels import panel_for
from lab.arenas.neat.charts import (draw_champion, draw_controller, draw_fitness, draw_neat_panel, draw_species,
                                    node_depths, node_positions, species_table)

GENERATIONS = 30
BUDGET = 40
TARGET = 0.95
# species id -> (born, extinct after): 3 dies out at generation 20; 1 lives throughout
LIFESPANS = {1: (0, 29), 2: (5, 29), 3: (10, 20), 4: (15, 29), 5: (25, 29)}


def genome(n_inputs, n_outputs, hidden, connections):
    """A genome dict: inputs 0.., outputs next, then ``hidden`` as [(id, activation)];
    connections as (src, dst, weight[, enabled])."""
    nodes = [{"id": i, "kind": "input", "activation": "identity", "bias": 0.0} for i in range(n_inputs)]
    nodes += [{"id": n_inputs + o, "kind": "output", "activation": "sigmoid", "bias": 0.1} for o in range(n_outputs)]
    nodes += [{"id": h, "kind": "hidden", "activation": act, "bias": -0.2} for h, act in hidden]
    return {"n_inputs": n_inputs, "n_outputs": n_outputs, "nodes": nodes,
            "connections": [{"innovation": k, "src": c[0], "dst": c[1], "weight": c[2],
                             "enabled": c[3] if len(c) > 3 else True} for k, c in enumerate(connections)]}


def xor_champion():
    """2 inputs (0, 1), 1 output (2), hidden 3 and 5 at depth 1, 4 at depth 2; 0 -> 2 disabled."""
    return genome(2, 1, [(3, "tanh"), (4, "sin"), (5, "gauss")],
                  [(0, 3, 1.5), (1, 3, -2.0), (3, 4, 0.8), (4, 2, 3.1), (1, 5, -0.4), (5, 2, 1.2), (0, 2, 0.7, False)])


def neat_snapshot(generations=GENERATIONS):
    """An engine snapshot after ``generations`` generations of a XOR run (fitness 0..4)."""
    gens = list(range(generations))
    ids = [s for s, (born, _) in LIFESPANS.items() if born < generations]
    sizes = []
    for g in gens:
        born = [s for s in ids if LIFESPANS[s][0] <= g]           # rows only as long as the species born so far
        alive = [s for s in born if g <= LIFESPANS[s][1]]
        sizes.append([50 // len(alive) if s in alive else 0 for s in born])
    best = [min(3.95, 2.0 + 0.07 * g) for g in gens]
    return {
        "budget": BUDGET,
        "solved_at": 24,
        "curve": {"step": gens, "best": best, "val_acc": [min(1.0, 0.5 + 0.02 * g) for g in gens],
                  "test_acc": [min(1.0, 0.45 + 0.02 * g) for g in gens]},
        "species": {"generation": gens, "ids": ids, "sizes": sizes},
        "champion": xor_champion(),
        "champion_fitness": 3.91,
        "input_labels": ["x1", "x2"],
        "output_labels": ["xor"],
        "controller": {"generation": gens, "target": [3 if g < 15 else 4 for g in gens],
                       "threshold": [3.0 + 0.1 * np.sin(g / 3) for g in gens],
                       "species": [len([r for r in row if r]) for row in sizes],
                       "arm": ["pid" if g % 10 < 7 else "hill" for g in gens]},
    }


def fitness_history(generations=GENERATIONS):
    gens = list(range(generations))
    return {"passes": gens, "min": [0.5 + 0.01 * g for g in gens], "mean": [1.5 + 0.04 * g for g in gens],
            "max": [min(3.95, 2.0 + 0.07 * g) for g in gens]}


def texts(ax):
    return " | ".join(t.get_text() for t in ax.texts)


def one_axes():
    return Figure(figsize=(5, 4)).add_subplot()


def test_the_four_neat_charts_draw_a_synthetic_snapshot():
    snap, history = neat_snapshot(), fitness_history()
    fig = draw_neat_panel(Figure(figsize=(9, 6.5)), snap, history, TARGET)
    fitness, species, champion, controller = fig.axes[:4]
    assert len(fig.axes) == 7, "the accuracy axis, the weights' colour bar, the threshold axis"
    accuracy, colour_bar, threshold_axis = fig.axes[4:]
    assert all(ax.get_title() for ax in fig.axes[:4])

    assert any(isinstance(c, PolyCollection) for c in fitness.collections), "the population band"
    mean, champ, solved = fitness.lines
    assert list(mean.get_xdata()) == history["passes"] and list(mean.get_ydata()) == history["mean"]
    assert list(champ.get_ydata()) == snap["curve"]["best"]
    assert solved.get_label() == "solved" and list(solved.get_xdata()) == [24, 24]
    assert "solved (gen 24)" in texts(fitness)
    assert fitness.get_xlim() == (0, BUDGET) and fitness.get_xlabel() == "generation"
    val, test, target = accuracy.lines
    assert list(val.get_ydata()) == snap["curve"]["val_acc"] and list(test.get_ydata()) == snap["curve"]["test_acc"]
    assert list(target.get_ydata()) == [TARGET] * 2 and target.get_linestyle() == "--"
    assert len(accuracy.get_legend().get_texts()) == 6

    assert len(species.collections) == len(LIFESPANS), "one band per species"
    assert [t.get_text() for t in species.get_legend().get_texts()] == [f"species {s}" for s in LIFESPANS]
    assert species.get_xlim() == (0, BUDGET) and species.get_ylabel() == "genomes"

    (nodes,) = [c for c in champion.collections if isinstance(c, PathCollection)]
    assert len(nodes.get_offsets()) == 6, "one marker per node"
    assert len([p for p in champion.patches if isinstance(p, FancyArrowPatch)]) == 6, "one per enabled connection"
    (faint,) = [c for c in champion.collections if isinstance(c, LineCollection)]
    assert len(faint.get_segments()) == 1 and faint.get_linestyle()[0][1] is not None, "the disabled one, dotted"
    assert "(3 hidden, 6 enabled connections, fitness 3.91)" in champion.get_title()
    tags = [t.get_text() for t in champion.texts]
    assert {"x1", "x2", "xor", "tanh", "sin", "gau"} <= set(tags)
    assert colour_bar.get_ylabel() == "weight"

    species_line, target_line = controller.lines
    assert list(species_line.get_ydata()) == snap["controller"]["species"]
    assert target_line.get_drawstyle() == "steps-post"
    assert list(threshold_axis.lines[0].get_ydata()) == pytest.approx(snap["controller"]["threshold"])
    legend = [t.get_text() for t in threshold_axis.get_legend().get_texts()]
    assert legend == ["species", "target", "arm: pid", "arm: hill", "threshold"]
    fig.canvas.draw()


def test_node_positions_put_inputs_left_outputs_right_and_hidden_after_their_sources():
    champion = xor_champion()
    positions = node_positions(champion)
    xs = {n: x for n, (x, _) in positions.items()}
    assert xs[0] == xs[1] == 0.0
    assert xs[2] == max(xs.values()) == 3.0
    assert xs[3] == xs[5] == 1.0 and xs[4] == 2.0, "4 is fed by 3"
    for c in champion["connections"]:
        if c["enabled"] and xs[c["dst"]] != max(xs.values()):
            assert xs[c["dst"]] > xs[c["src"]]
    assert all(0 < y < 1 for _, y in positions.values())
    assert positions[0][1] > positions[1][1], "inputs top to bottom in order"


def test_nodes_on_cycles_or_unreached_go_to_the_middle_column():
    # 3 <-> 4 a cycle fed by input 0, 5 a self-loop on a path from 1, 6 reached from nothing
    champion = genome(2, 1, [(3, "tanh"), (4, "relu"), (5, "sin"), (6, "abs")],
                      [(0, 3, 1.0), (3, 4, 1.0), (4, 3, -1.0), (4, 2, 0.5), (1, 5, 1.0), (5, 5, 0.3), (5, 2, 1.0),
                       (6, 2, -1.0)])
    assert node_depths(champion) == {2: 2, 3: None, 4: None, 5: 1, 6: None}
    xs = {n: x for n, (x, _) in node_positions(champion).items()}
    assert xs[2] == 2.0 and xs[5] == 1.0 and xs[3] == xs[4] == xs[6] == 1.0, "the middle of 0..2"
    ax = draw_champion(one_axes(), {"champion": champion})
    assert len([p for p in ax.patches if isinstance(p, (FancyArrowPatch, Arc))]) == 8
    assert len([p for p in ax.patches if isinstance(p, Arc)]) == 1, "the self-loop as a ring"
    ax.figure.canvas.draw()


def test_a_digits_sized_champion_draws_without_input_labels():
    rng = np.random.default_rng(0)
    hidden = [(74 + h, act) for h, act in enumerate(["relu", "tanh", "sigmoid", "sin", "gauss"])]
    links = [(int(i), 74 + h, float(rng.normal())) for h in range(5) for i in rng.choice(64, 12, replace=False)]
    links += [(74 + h, 64 + o, float(rng.normal()), bool(o % 3)) for h in range(5) for o in range(10)]
    links += [(int(i), 64 + int(i) % 10, float(rng.normal())) for i in range(0, 64, 4)]
    champion = genome(64, 10, hidden, links)
    snap = {"champion": champion, "champion_fitness": 0.91, "output_labels": [str(d) for d in range(10)]}
    ax = draw_champion(one_axes(), snap)
    (nodes,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(nodes.get_offsets()) == 79
    assert sorted(t.get_text() for t in ax.texts) == sorted([str(d) for d in range(10)]
                                                            + ["relu", "tanh", "sig", "sin", "gau"])
    enabled = sum(c["enabled"] for c in champion["connections"])
    assert len(ax.patches) == enabled and f"{enabled} enabled connections" in ax.get_title()
    ax.figure.canvas.draw()


@pytest.mark.parametrize("snap", [None, {}], ids=["none", "empty"])
def test_no_run_yet_on_every_chart(snap):
    fig = draw_neat_panel(Figure(), snap, None, TARGET)
    assert len(fig.axes) == 4
    assert all("no run yet" in texts(ax) and ax.get_title() for ax in fig.axes)
    fig.canvas.draw()


def test_a_snapshot_before_the_first_generation_says_what_is_missing():
    fig = draw_neat_panel(Figure(), {"budget": BUDGET}, {"passes": [], "min": [], "mean": [], "max": []})
    fitness, species, champion, controller = fig.axes
    assert "no generation yet" in texts(fitness) and "no species yet" in texts(species)
    assert "no champion yet" in texts(champion) and "no generation yet" in texts(controller)
    fig.canvas.draw()


def test_a_champion_without_connections_draws_its_nodes():
    ax = draw_champion(one_axes(), {"champion": genome(2, 1, [], [])})
    (nodes,) = ax.collections
    assert len(nodes.get_offsets()) == 3 and not ax.patches
    assert "no enabled connections" in texts(ax) and "0 hidden, 0 enabled connections" in ax.get_title()
    assert len(ax.figure.axes) == 1, "no colour bar without weights"
    ax.figure.canvas.draw()


def test_partial_snapshots_draw():
    """History before the champion's first curve point, a controller without a target, species rows
    shorter than the ids, and fitness on 0..1 sharing its axis with accuracy."""
    ax = draw_fitness(one_axes(), {"budget": BUDGET}, fitness_history(5))
    assert len(ax.figure.axes) == 1 and len(ax.lines) == 1 and ax.get_legend()
    snap = neat_snapshot(12)
    snap["controller"] = {"generation": [0, 1, 2], "species": [1, 2, 2], "target": [None] * 3,
                          "threshold": [], "arm": ["fixed"] * 3}
    ax = draw_controller(one_axes(), snap)
    assert len(ax.lines) == 1 and len(ax.figure.axes) == 1, "no target line, no threshold axis"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["species", "arm: fixed"]
    ax.figure.canvas.draw()
    share = {"curve": {"step": [0, 1, 2], "best": [0.2, 0.5, 0.7], "val_acc": [0.3, 0.5, 0.8]}}
    ax = draw_fitness(one_axes(), share, {"passes": [0, 1, 2], "min": [0, 0.1, 0.2], "mean": [0.1, 0.3, 0.4],
                                          "max": [0.2, 0.5, 0.7]}, TARGET)
    assert len(ax.figure.axes) == 1 and len(ax.lines) == 4 and ax.get_ylabel() == "fitness / accuracy"
    ax.figure.canvas.draw()


def test_species_table_pads_rows_written_before_a_species_was_born():
    generations, ids, sizes = species_table({"generation": [0, 1, 2], "ids": [7, 9, 11],
                                             "sizes": [[5], [3, 2], [0, 4, 1]]})
    assert list(generations) == [0, 1, 2] and ids == [7, 9, 11]
    assert sizes.tolist() == [[5, 0, 0], [3, 2, 0], [0, 4, 1]]


def test_many_species_are_counted_instead_of_listed():
    gens = list(range(4))
    species = {"generation": gens, "ids": list(range(12)), "sizes": [[4] * (3 * g + 3) for g in gens]}
    species["sizes"][-1] = [0] * 5 + [4] * 7
    ax = draw_species(one_axes(), {"species": species})
    assert len(ax.collections) == 12 and ax.get_legend() is None
    assert "12 species so far, 7 alive" in texts(ax)


def test_export_writes_png_pdf_svg_reproducibly(tmp_path):
    snap, history = neat_snapshot(), fitness_history()
    a = panel_for("neat").export(tmp_path / "a", "neat", snap, history, TARGET)
    b = panel_for("neat").export(tmp_path / "b", "neat", snap, history, TARGET)
    assert [p.name for p in a] == ["neat.png", "neat.pdf", "neat.svg"]
    for pa, pb in zip(a, b):
        assert pa.stat().st_size > 1000 and pa.read_bytes() == pb.read_bytes(), pa.name
