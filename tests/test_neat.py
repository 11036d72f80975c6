"""The NEAT arena: genomes, innovation numbers, crossover, compatibility, the joined-graph
evaluation, backprop fitness, speciation and the species controller, the engine, the arena, the
CLI and JSON validation. (The parallel evaluator has its own tests in test_neat_parallel.py.)"""
from __future__ import annotations

import dataclasses
import json
import math
import random

import numpy as np
import pytest
import torch

from lab.arenas.neat.controller import ControllerSettings, SpeciesController
from lab.arenas.neat.engine import NeatEngine, NeatSettings
from lab.arenas.neat.genome import (ACTIVATIONS, Compatibility, ConnGene, InnovationTracker, MutationRates,
                                    NeatGenome, NeatGenomeError, NodeGene, crossover, fitter_first)
from lab.arenas.neat.network import (EvalSpec, apply_trained, compile_networks, evaluate_chunk, forward,
                                     reference_forward)
from lab.arenas.neat.parallel_config import ParallelConfig
from lab.arenas.neat.task import NeatTask
from lab.arenas.neat.tasks import load_task_data, spiral_points, spirals

INLINE = ParallelConfig()


def make(n_in: int, n_out: int, hidden: list[int], conns: list[tuple[int, int, int, float, bool]]) -> NeatGenome:
    """A hand-made genome: conns are (innovation, src, dst, weight, enabled)."""
    g = NeatGenome(n_in, n_out)
    for i in range(n_in):
        g.nodes[i] = NodeGene(i, "input", "identity")
    for o in range(n_in, n_in + n_out):
        g.nodes[o] = NodeGene(o, "output", "sigmoid")
    for h in hidden:
        g.nodes[h] = NodeGene(h, "hidden", "sigmoid")
    for innov, s, d, w, e in conns:
        g.conns[innov] = ConnGene(innov, s, d, w, e)
    return g


def grown(n: int, seed: int = 0, n_in: int = 3, n_out: int = 2, feed_forward: bool = True, steps: int = 15):
    """``n`` genomes grown by many mutations (hidden nodes, mixed activations)."""
    rng, tracker = random.Random(seed), InnovationTracker()
    rates = MutationRates(add_node=0.5, add_conn=0.6, activation=0.3, activations=ACTIVATIONS,
                          hidden_activation="random", feed_forward=feed_forward)
    out = [NeatGenome.initial(n_in, n_out, tracker, rng, "identity") for _ in range(n)]
    for g in out:
        for _ in range(steps):
            g.mutate(rates, tracker, rng)
    return out


# ---- innovation numbers ------------------------------------------------------------------------
def test_same_mutation_in_one_generation_gets_the_same_innovation_number():
    tracker, rng = InnovationTracker(), random.Random(0)
    a = NeatGenome.initial(2, 1, tracker, rng)
    b = NeatGenome.initial(2, 1, tracker, rng)
    assert sorted(a.conns) == sorted(b.conns) == [0, 1]        # the initial links share numbers
    tracker.new_generation()
    first = tracker.connection(0, 5)
    assert tracker.connection(0, 5) == first                  # same link this generation: same number
    assert tracker.connection(1, 5) == first + 1
    node, i_in, i_out = tracker.split(0, 0, 2)
    assert tracker.split(0, 0, 2) == (node, i_in, i_out)      # same split: same node and numbers
    tracker.new_generation()
    assert tracker.connection(0, 5) != first                  # next generation: a new number
    assert tracker.split(0, 0, 2)[0] != node


def test_add_node_splits_a_connection_and_both_genomes_agree():
    tracker, rng = InnovationTracker(), random.Random(1)
    a = NeatGenome.initial(2, 1, tracker, rng)
    b = a.copy()
    rates = MutationRates()
    na = a.mutate_add_node(tracker, random.Random(5), rates)
    nb = b.mutate_add_node(tracker, random.Random(5), rates)
    assert na == nb and na is not None
    old = [c for c in a.conns.values() if not c.enabled]
    assert len(old) == 1
    into = [c for c in a.conns.values() if c.dst == na]
    out = [c for c in a.conns.values() if c.src == na]
    assert into[0].weight == 1.0 and out[0].weight == old[0].weight
    assert sorted(a.conns) == sorted(b.conns)
    x = [0.3, -0.7]   # splitting keeps the function close: weight 1 into a sigmoid of the old input
    assert len(reference_forward(a, x)) == 1


def test_add_connection_never_closes_a_cycle_in_feed_forward_genomes():
    for g in grown(30, seed=3):
        NeatGenome.from_dict(g.to_dict())          # validation refuses a feed-forward genome with a cycle
    cyclic = 0
    for g in grown(30, seed=3, feed_forward=False):
        NeatGenome.from_dict(g.to_dict(), feed_forward=False)
        try:
            NeatGenome.from_dict(g.to_dict())
        except NeatGenomeError:
            cyclic += 1
    assert cyclic > 0                               # recurrent genomes do grow cycles


# ---- crossover and compatibility ---------------------------------------------------------------
def test_crossover_aligns_genes_by_innovation_number():
    fit = make(2, 1, [3], [(0, 0, 2, 1.0, True), (1, 1, 2, 2.0, False), (3, 0, 3, 3.0, True), (4, 3, 2, 4.0, True)])
    other = make(2, 1, [5], [(0, 0, 2, -1.0, True), (1, 1, 2, -2.0, True), (2, 1, 5, 9.0, True),
                             (6, 5, 2, 9.0, True)])
    fit.fitness, other.fitness = 2.0, 1.0
    seen = {0: set(), 1: set()}
    disabled = 0
    for seed in range(200):
        child = crossover(*fitter_first(other, fit), random.Random(seed))
        assert sorted(child.conns) == [0, 1, 3, 4]              # the fitter parent's genes only
        assert child.conns[3].weight == 3.0 and child.conns[4].weight == 4.0   # disjoint/excess: fitter's
        seen[0].add(child.conns[0].weight)
        seen[1].add(child.conns[1].weight)
        disabled += not child.conns[1].enabled
        assert 5 not in child.nodes and 3 in child.nodes
    assert seen[0] == {1.0, -1.0} and seen[1] == {2.0, -2.0}    # matching genes from either parent
    assert 0.6 < disabled / 200 < 0.9                           # disabled in a parent: 75% disabled


def test_fitter_first_breaks_ties_towards_the_smaller_genome():
    a = make(2, 1, [], [(0, 0, 2, 1.0, True)])
    b = make(2, 1, [], [(0, 0, 2, 1.0, True), (1, 1, 2, 1.0, True)])
    a.fitness = b.fitness = 1.0
    assert fitter_first(b, a) == (a, b)
    b.fitness = 2.0
    assert fitter_first(a, b) == (b, a)


def test_compatibility_distance_on_hand_made_genomes():
    a = make(2, 1, [], [(0, 0, 2, 1.0, True), (1, 1, 2, 0.5, True), (3, 0, 2, 0.0, True), (7, 1, 2, 0.0, True)])
    b = make(2, 1, [], [(0, 0, 2, 0.0, True), (1, 1, 2, 2.5, True), (2, 0, 2, 0.0, True), (4, 0, 2, 0.0, True),
                        (5, 0, 2, 0.0, True)])
    # matching 0, 1 (|1-0| + |0.5-2.5| = 3 over 2 = 1.5); cut = min(7, 5) = 5: excess 7; disjoint 2, 3, 4, 5
    comp = Compatibility(c1=1.0, c2=2.0, c3=0.4)
    assert comp.parts(a, b) == (1, 4, 1.5, 1)                  # fewer than 20 genes: N = 1
    assert comp.distance(a, b) == pytest.approx(1 * 1 + 2 * 4 + 0.4 * 1.5)
    assert comp.distance(a, b) == comp.distance(b, a)
    assert comp.distance(a, a) == 0.0
    big = Compatibility(small=3)                               # N = the larger genome's gene count
    assert big.distance(a, b) == pytest.approx(1 / 5 + 4 / 5 + 0.4 * 1.5)


# ---- evaluation --------------------------------------------------------------------------------
@pytest.mark.parametrize("feed_forward", [True, False])
def test_joined_graph_equals_a_plain_per_node_evaluation(feed_forward):
    genomes = grown(25, seed=7, feed_forward=feed_forward)
    x = np.random.default_rng(0).normal(size=(9, 3)).astype(np.float32)
    net = compile_networks(genomes, feed_forward, ticks=3)
    out = forward(net, torch.from_numpy(x)).numpy()
    ref = np.array([[reference_forward(g, xi, feed_forward, 3) for g in genomes] for xi in x])
    assert out.shape == (9, 25, 2)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    assert any(g.n_hidden >= 3 for g in genomes)


def test_the_xor_solution_by_hand_scores_full_fitness():
    # h = sigmoid(x1 + x2 - 1.5) (AND), out = sigmoid(x1 + x2 - 2 h - 0.5) (OR and not AND)
    g = make(2, 1, [3], [(0, 0, 2, 10, True), (1, 1, 2, 10, True), (2, 0, 3, 10, True), (3, 1, 3, 10, True),
                         (4, 3, 2, -20, True)])
    g.nodes[3].bias, g.nodes[2].bias = -15, -5
    (score,) = evaluate_chunk(([g], EvalSpec("classic")), load_task_data("xor").arrays())
    assert score.accuracy == 1.0
    assert score.fitness == pytest.approx(16.0, abs=1e-3)


def test_backprop_fitness_improves_a_fixed_topology_and_lamarck_writes_it_back():
    data = load_task_data("circles").arrays()
    rng, tracker = random.Random(0), InnovationTracker()
    g = NeatGenome.initial(2, 2, tracker, rng, "identity")
    rates = MutationRates(activations=("tanh",), hidden_activation="tanh")
    for _ in range(4):
        g.mutate_add_node(tracker, rng, rates)
    before = evaluate_chunk(([g], EvalSpec("backprop", steps=0)), data)[0]
    after = evaluate_chunk(([g], EvalSpec("backprop", steps=300, lr=0.05)), data)[0]
    assert after.accuracy > before.accuracy + 0.1
    expected = after.accuracy - 1e-3 * g.n_hidden - 5e-4 * g.n_enabled
    assert after.fitness == pytest.approx(expected)
    trained = g.copy()
    apply_trained(trained, after)
    again = evaluate_chunk(([trained], EvalSpec("backprop", steps=0)), data)[0]
    assert again.accuracy == pytest.approx(after.accuracy)     # the written-back weights are the trained ones
    assert trained.conns.keys() == g.conns.keys()


def test_joint_training_is_each_genome_trained_alone():
    data = load_task_data("clusters").arrays()
    genomes = grown(6, seed=2, n_in=2, n_out=4)
    spec = EvalSpec("backprop", steps=20, lr=0.02)
    together = evaluate_chunk((genomes, spec), data)
    for g, s in zip(genomes, together):
        (alone,) = evaluate_chunk(([g], spec), data)
        assert alone.accuracy == pytest.approx(s.accuracy)
        assert max(abs(alone.weights[k] - s.weights[k]) for k in alone.weights) < 1e-4


# ---- speciation and the controller -------------------------------------------------------------
def test_pid_controller_moves_the_species_count_toward_the_target():
    task = NeatTask(generations=40, stop_at_target=False)
    for start, target in ((0.3, 6), (30.0, 20)):
        settings = NeatSettings(population=80, species_control=1, species_target=target, compat_threshold=start)
        with NeatEngine(task, settings, 0, parallel=INLINE) as e:
            e.step(40)
            counts = e.controller.history["species"]
        first, late = abs(counts[0] - target), np.mean([abs(c - target) for c in counts[-10:]])
        assert late < first / 2, (start, target, counts)


def test_adaptive_controller_switches_arms_and_keeps_the_target_in_range():
    ctrl = SpeciesController(ControllerSettings("adaptive", target=5, target_min=3, target_max=7, epsilon=0.2,
                                                adapt_every=2), 3.0, random.Random(0))
    best = 0.0
    for gen in range(60):
        best += 0.5 if gen % 7 else 0.0
        ctrl.update(species=12 if gen < 30 else 2, best_fitness=best)
    h = ctrl.history
    assert set(h["arm"][2:]) == {"pid", "hill"}
    assert all(3 <= t <= 7 for t in h["target"])
    assert len(set(h["target"])) > 1                           # the target moved
    assert h["threshold"][29] > 3.0                           # too many species: the threshold rose
    assert h["threshold"][-1] < h["threshold"][29]             # too few: it fell
    assert ctrl.pulls["pid"] + ctrl.pulls["hill"] == 59        # every generation but the first credits an arm


def test_fixed_threshold_stays_fixed():
    ctrl = SpeciesController(ControllerSettings("fixed"), 3.0, random.Random(0))
    assert all(ctrl.update(s, 1.0) == 3.0 for s in (1, 50, 3))


def test_bad_controller_and_engine_settings_are_named():
    with pytest.raises(ValueError, match="species target 30 is outside its range 2..20"):
        NeatSettings(species_control=1, species_target=30)
    with pytest.raises(ValueError, match="add_node is a probability"):
        NeatSettings(add_node=1.5)
    with pytest.raises(ValueError, match="c3 must be a finite number"):
        NeatSettings(c3=float("nan"))
    with pytest.raises(ValueError, match="population must be at least 2"):
        NeatSettings(population=1)


# ---- the engine --------------------------------------------------------------------------------
def test_xor_is_solved_within_a_generous_budget():
    with NeatEngine(NeatTask(generations=150), NeatSettings(), 0, parallel=INLINE) as e:
        e.run()
        assert e.solved_at is not None and e.evaluations == e.solved_at * 150
        x = load_task_data("xor").x_train
        out = [reference_forward(e.solver, xi)[0] for xi in x]
        assert [o > 0.5 for o in out] == [False, True, True, False]
        snap = e.snapshot()
    assert snap["solved_at"] == e.solved_at and snap["unit"] == "generations"
    assert len(snap["fitness"]) == 150 and snap["champion"]["n_inputs"] == 2
    sizes = snap["species"]["sizes"]
    assert len(sizes) == snap["passes"] and sum(sizes[-1]) == 150
    assert all(sum(row) == 150 for row in sizes)


def test_a_run_is_reproducible_and_seeds_differ():
    def run(seed):
        with NeatEngine(NeatTask(generations=8, stop_at_target=False), NeatSettings(population=50), seed,
                        parallel=INLINE) as e:
            e.run()
            return e.curve["best"], e.champion.to_json()
    assert run(3) == run(3)
    assert run(3) != run(4)


def test_backprop_run_records_held_out_accuracy_and_refines_elites():
    task = NeatTask(task="circles", generations=3, stop_at_target=False)
    with NeatEngine(task, NeatSettings(population=20, backprop_steps=30, learning_rate=0.05), 1,
                    parallel=INLINE) as e:
        e.run()
        assert len(e.curve["test_acc"]) == 3 and all(0 <= v <= 1 for v in e.curve["test_acc"])
        assert e.curve["val_acc"][-1] > 0.55
        assert e.champion.n_outputs == 2
    for flag in (0, 1):
        with NeatEngine(task, NeatSettings(population=12, lamarckian=flag, backprop_steps=20, refine_steps=0), 2,
                        parallel=INLINE) as e:
            evaluated = list(e.population)
            before = [[c.weight for c in g.conns.values()] for g in evaluated]
            e.step(1)
            after = [[c.weight for c in g.conns.values()] for g in evaluated]
            # the champion is reported with its trained weights either way
            best = max(range(12), key=lambda i: evaluated[i].fitness)
            assert e.champion.fitness == evaluated[best].fitness
            (rescored,) = evaluate_chunk(([e.champion], EvalSpec("backprop", steps=0)), e.data.arrays())
            assert rescored.accuracy == pytest.approx(e.champion_score.accuracy)
        if flag:   # Lamarckian: the trained weights were written into the genomes
            assert before != after
        else:      # Baldwinian: the genomes keep the weights they were born with
            assert before == after


def test_stagnant_species_stop_breeding_but_the_best_two_are_spared():
    task = NeatTask(generations=30, stop_at_target=False)
    with NeatEngine(task, NeatSettings(population=60, stagnation=3, compat_threshold=0.5), 0, parallel=INLINE) as e:
        e.step(1)
        assert len(e.species) >= 4
        best_two = {s.id for s in sorted(e.species, key=lambda s: s.top, reverse=True)[:2]}
        for s in e.species:
            s.improved = 0
        e.generation = 10                           # every species has been stagnant for 10 generations
        offspring = e._reproduce()
        assert {s.id for s in e.species} == best_two
        assert len(offspring) == 60


def test_offspring_follow_shared_fitness():
    with NeatEngine(NeatTask(), NeatSettings(population=100, compat_threshold=0.5), 0, parallel=INLINE) as e:
        e.step(1)
        alive = e.species[:3]
        for k, s in enumerate(alive):
            for g in s.members:
                g.fitness = float(k + 1)            # species means 1, 2, 3
        counts = e._offspring_counts(alive)
        assert sum(counts) == 100
        assert counts[0] < counts[1] < counts[2]
        assert counts[2] == pytest.approx(50, abs=1) and counts[0] == pytest.approx(100 / 6, abs=1)


# ---- JSON --------------------------------------------------------------------------------------
def test_json_round_trip():
    for g in grown(5, seed=4):
        g.fitness = 1.25
        back = NeatGenome.from_json(g.to_json())
        assert back.to_dict() == g.to_dict()
        x = [0.1, 0.2, -0.3]
        assert reference_forward(back, x) == pytest.approx(reference_forward(g, x), abs=1e-12)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("connections"), "lacks 'connections'"),
    (lambda d: d.update(n_inputs="2"), "n_inputs must be a whole number"),
    (lambda d: d["connections"][0].update(weight=float("nan")), "NaN and infinite"),
    (lambda d: d["connections"][0].update(weight="heavy"), "weight must be a number"),
    (lambda d: d["connections"].append(dict(d["connections"][0])), "appears twice"),
    (lambda d: d["connections"][0].update(dst=99), "does not have"),
    (lambda d: d["connections"][0].update(dst=0), "leads into input node 0"),
    (lambda d: d["nodes"][0].update(kind="hidden"), "must be 'input'"),
    (lambda d: d["nodes"][-1].update(activation="swish"), "activation 'swish'"),
    (lambda d: d["nodes"].pop(2), "output node 2 is missing"),
    (lambda d: d.update(format="neat-python"), "format 'neat-python'"),
    (lambda d: d["connections"][0].update(enabled="yes"), "enabled must be true or false"),
    (lambda d: d["connections"].append({"innovation": 99, "src": 3, "dst": 3, "weight": 1.0}), "has a cycle"),
])
def test_hand_edited_genomes_are_refused_with_the_problem_named(edit, message):
    g = make(2, 1, [3], [(0, 0, 2, 1.0, True), (1, 1, 3, 1.0, True), (2, 3, 2, 1.0, True)])
    data = json.loads(g.to_json())
    edit(data)
    with pytest.raises(NeatGenomeError, match=message):
        NeatGenome.from_json(json.dumps(data))


def test_not_json_and_not_an_object_are_refused():
    with pytest.raises(NeatGenomeError, match="not valid JSON"):
        NeatGenome.from_json("{nodes: 1")
    with pytest.raises(NeatGenomeError, match="must be a JSON object"):
        NeatGenome.from_json("[1, 2]")


# ---- tasks -------------------------------------------------------------------------------------
def test_two_spirals_is_the_classic_set():
    x, y = spiral_points()
    assert x.shape == (194, 2) and (y == 0).sum() == 97
    r = np.hypot(x[:97, 0], x[:97, 1])
    assert r[0] == pytest.approx(1.0) and r[-1] == pytest.approx(8 / 104)
    angle = np.unwrap(np.arctan2(x[:97, 0], x[:97, 1]))
    assert angle[-1] - angle[0] == pytest.approx(6 * math.pi)   # three turns
    np.testing.assert_allclose(x[97:], -x[:97])
    d = spirals()
    assert len(d.x_val) == 192 and len(d.x_test) == 384       # half-way and quarter-way points


@pytest.mark.parametrize("name, n_in, n_classes", [("xor", 2, 2), ("spirals", 2, 2), ("circles", 2, 2),
                                                  ("clusters", 2, 4), ("digits", 64, 10)])
def test_every_task_has_three_splits(name, n_in, n_classes):
    d = load_task_data(name)
    assert d.n_inputs == n_in and d.n_classes == n_classes
    assert len(d.x_train) and len(d.x_val) and len(d.x_test)
    assert np.abs(d.x_train).max() <= 1.5
    if name not in ("xor",):
        assert set(np.unique(d.y_train)) == set(range(n_classes))


def test_task_defaults_and_errors():
    t = NeatTask(task="spirals")
    assert (t.fitness, t.target_acc, t.generations) == ("backprop", 0.95, 150)
    assert NeatTask().fitness == "classic"
    with pytest.raises(ValueError, match="task 'spiral' is not one of"):
        NeatTask(task="spiral")
    with pytest.raises(ValueError, match="classic fitness .* is for xor"):
        NeatTask(task="digits", fitness="classic")
    with pytest.raises(ValueError, match="activations 'tanh,swish'"):
        NeatTask(task="circles", activations="tanh,swish")
    assert dataclasses.replace(NeatTask(), generations=5).task_id != NeatTask().task_id
