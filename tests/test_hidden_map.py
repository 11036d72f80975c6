"""The hidden-layer map (lab.analysis.hidden_map): each classifier engine's hidden layer is its
model's (the logits it gives are the model's own), the projections are 2D, deterministic and
seeded, the map draws a point per image, and the separation measures order clean and mixed maps."""
from __future__ import annotations

import random

import numpy as np
import pytest
from matplotlib.figure import Figure

from lab.analysis.hidden_map import (available_methods, confusions, draw_hidden_map, map_data, project,
                                     separation)
from lab.arenas import get_arena
from lab.arenas.genreg.engine import GenregSettings
from lab.arenas.genreg.population import population_logits
from lab.arenas.genreg.task import GenregTask
from lab.arenas.m2n2.engine import M2N2Settings, mlp_logits
from lab.arenas.m2n2.task import M2N2Task
from lab.arenas.neat.engine import NeatSettings
from lab.arenas.neat.genome import InnovationTracker, NeatGenome
from lab.arenas.neat.network import hidden_values, predict, reference_forward
from lab.arenas.neat.parallel import ParallelConfig
from lab.arenas.neat.task import NeatTask


def test_genreg_and_m2n2_hidden_layers_are_their_models():
    g = get_arena("genreg").engine(GenregTask(generations=3, eval_interval=3), GenregSettings(population=20, hidden=8),
                                   1, device="cpu")
    g.step(3)
    x = g.data.x_test[:40]
    acts, logits = g.hidden_layer(x)
    assert acts.shape == (40, 8) and np.abs(acts).max() <= 1.0   # tanh units
    assert np.array_equal(logits, population_logits(g.best, x)[0].numpy())
    m = get_arena("m2n2").engine(M2N2Task(hidden=8, passes=20, eval_interval=10), M2N2Settings(archive_size=4), 1,
                                 device="cpu")
    m.step(20)
    acts, logits = m.hidden_layer(m.data.x_test[:40])
    assert acts.shape == (40, 8) and acts.min() >= 0.0   # ReLU units
    ref = mlp_logits(m.reported_params(0).unsqueeze(0), m.data.x_test[:40].t().contiguous(), 8, m.data.n_classes)[0]
    assert np.allclose(logits, ref.t().numpy(), atol=1e-5)
    data = map_data(g)
    assert data["acts"].shape == (len(g.data.x_test), 8) and data["at"] == 3
    assert (data["pred"] == logits_pred(g)).all()


def logits_pred(engine):
    return population_logits(engine.best, engine.data.x_test)[0].argmax(1).numpy()


def test_neat_hidden_values_are_the_nodes_a_plain_evaluation_computes():
    rng = random.Random(0)
    tracker = InnovationTracker()
    rates = NeatSettings().rates(("tanh", "sigmoid"), True)
    genome = NeatGenome.initial(2, 1, tracker, rng, "sigmoid", 1.0)
    for _ in range(3):
        genome.mutate_add_node(tracker, rng, rates)
    assert genome.n_hidden >= 2
    x = np.array([[0.0, 1.0], [1.0, 1.0], [0.5, -0.5]], dtype=np.float32)
    acts, out = hidden_values(genome, x)
    assert acts.shape == (3, genome.n_hidden)
    assert np.allclose(out, predict(genome, x), atol=1e-6)
    assert np.allclose(out[:, 0], [reference_forward(genome, row)[0] for row in x], atol=1e-5)
    with get_arena("neat").engine(NeatTask(task="xor", generations=2), NeatSettings(population=10), 0,
                                  parallel=ParallelConfig()) as engine:
        assert map_data(engine) is None            # no champion yet
        engine.step(2)
        data = map_data(engine)
        assert data is None if engine.champion.n_hidden == 0 else data["acts"].shape[1] == engine.champion.n_hidden


def test_projections_are_2d_deterministic_and_seeded():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(120, 16)).astype(np.float32)
    pca = project(acts, "pca")
    assert pca.shape == (120, 2) and np.array_equal(pca, project(acts.copy(), "pca"))
    # each component's sign is fixed by its loadings: mirrored data gives the mirrored map, not a random flip
    assert np.allclose(project(-acts, "pca"), -pca, atol=1e-5)
    tsne = project(acts, "tsne", seed=3)
    assert tsne.shape == (120, 2) and np.allclose(tsne, project(acts, "tsne", seed=3))
    assert set(available_methods()) >= {"pca", "tsne"}
    with pytest.raises(ValueError, match="unknown projection"):
        project(acts, "lda")
    if "umap" not in available_methods():
        with pytest.raises(ValueError, match="umap-learn"):
            project(acts, "umap")


def test_separation_orders_clean_and_mixed_maps_and_confusions_are_counted():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(4), 50)
    clean = np.c_[labels * 10.0, labels * 10.0] + rng.normal(size=(200, 2))
    mixed = rng.normal(size=(200, 2))
    a, b = separation(clean, labels), separation(mixed, labels)
    assert a["silhouette"] > 0.8 > b["silhouette"] and a["knn_acc"] > 0.95 > b["knn_acc"]
    pred = labels.copy()
    pred[:5] = 1       # five 0s read as 1
    pred[60:62] = 2    # two 1s read as 2
    assert confusions(labels, pred, list("abcd")) == [("a", "b", 5, 0.1), ("b", "c", 2, 0.04)]


def test_the_map_draws_a_point_per_image_and_rings_the_wrong_ones():
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(3), 20)
    pred = labels.copy()
    pred[:4] = 2
    data = {"acts": rng.normal(size=(60, 5)).astype(np.float32), "labels": labels, "pred": pred,
            "classes": ["x", "y", "z"], "at": 7}
    fig = draw_hidden_map(Figure(), data, project(data["acts"]))
    (ax,) = fig.axes
    sizes = [len(c.get_offsets()) for c in ax.collections]
    assert sizes == [20, 20, 20, 4], "a scatter per class, then the four wrong images ringed"
    assert "5 hidden units" in ax.get_title() and "93.3%" in ax.get_title()
    assert any("x->z: 4" in t.get_text() for t in ax.texts)
    empty = draw_hidden_map(Figure(), None, None)
    assert "no hidden layer" in empty.axes[0].texts[0].get_text()
