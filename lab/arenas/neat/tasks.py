"""The NEAT arena's data sets, each a documented function returning a :class:`NeatData`.

All are built from code or from scikit-learn's bundled data, with a fixed data seed, so a task's
content is decided by its settings alone (the task_id), never by a run's seed. Every data set has
training, validation (what backprop fitness scores) and held-out test splits; inputs are scaled
to about [-1, 1].
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

DATA_SEED = 0


@dataclasses.dataclass(frozen=True)
class NeatData:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    input_labels: tuple[str, ...]
    note: str = ""

    @property
    def n_inputs(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def arrays(self) -> dict[str, np.ndarray]:
        """The splits by name (what the parallel evaluator shares with its workers)."""
        return {k: getattr(self, k) for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")}


def _split(name: str, x: np.ndarray, y: np.ndarray, classes, labels, val: float = 0.2, test: float = 0.2,
           note: str = "") -> NeatData:
    """A stratified shuffle split (seeded with DATA_SEED) into train / validation / test."""
    rng = np.random.default_rng(DATA_SEED)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test, n_val = round(len(idx) * test), round(len(idx) * val)
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test:n_test + n_val])
        parts["train"].append(idx[n_test + n_val:])
    pick = {k: rng.permutation(np.concatenate(v)) for k, v in parts.items()}
    f32 = np.float32
    return NeatData(name, x[pick["train"]].astype(f32), y[pick["train"]], x[pick["val"]].astype(f32),
                    y[pick["val"]], x[pick["test"]].astype(f32), y[pick["test"]], tuple(classes), tuple(labels), note)


def xor() -> NeatData:
    """The four cases of exclusive or; every split is the whole truth table (XOR is solved, not
    generalised). Labels are 0/1, read by one sigmoid output in classic mode."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    return NeatData("xor", x, y, x, y, x, y, ("0", "1"), ("x1", "x2"))


def spiral_points(points_per_spiral: int = 97, turns: float = 3.0, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Lang and Witbrock's two spirals: point i of the first spiral at angle i pi / 16 and radius
    6.5 (104 - i) / 104, the second spiral its point reflection; with 97 points per spiral the
    spirals make three turns (194 points in all). ``offset`` shifts i by a fraction of a step
    (0.5: the points half-way between the classic ones). Coordinates are divided by 6.5."""
    step = turns * 2 * math.pi / (points_per_spiral - 1)       # pi / 16 for the classic set
    span = (points_per_spiral - 1) * 104 / 96                   # 104 for the classic set
    i = np.arange(points_per_spiral, dtype=np.float64) + offset
    keep = i <= points_per_spiral - 1
    i = i[keep]
    angle = i * step
    radius = (span - i) / span
    a = np.stack([radius * np.sin(angle), radius * np.cos(angle)], 1)
    x = np.concatenate([a, -a]).astype(np.float32)
    y = np.concatenate([np.zeros(len(a), int), np.ones(len(a), int)])
    return x, y


def spirals(points_per_spiral: int = 97, turns: float = 3.0) -> NeatData:
    """The classic two-spirals benchmark: train on its 194 points; validate on the points half-way
    between them (offset 0.5), test on the points a quarter of the way (offsets 0.25 and 0.75). So
    the held-out figure asks whether the network learned the spirals, not the 194 dots."""
    x, y = spiral_points(points_per_spiral, turns)
    xv, yv = spiral_points(points_per_spiral, turns, 0.5)
    t1, u1 = spiral_points(points_per_spiral, turns, 0.25)
    t2, u2 = spiral_points(points_per_spiral, turns, 0.75)
    return NeatData("spirals", x, y, xv, yv, np.concatenate([t1, t2]), np.concatenate([u1, u2]),
                    ("spiral A", "spiral B"), ("x", "y"))


def circles(samples: int = 600, noise: float = 0.08, factor: float = 0.5) -> NeatData:
    """Two concentric noisy circles (scikit-learn's make_circles), the inner one class 1."""
    from sklearn.datasets import make_circles

    x, y = make_circles(samples, noise=noise, factor=factor, random_state=DATA_SEED)
    return _split("circles", x, y, ("outer", "inner"), ("x", "y"))


def clusters(samples: int = 600, centers: int = 4, spread: float = 1.2) -> NeatData:
    """Gaussian clusters in the plane (scikit-learn's make_blobs), one class per cluster, inputs
    standardised and divided by 2."""
    from sklearn.datasets import make_blobs

    x, y = make_blobs(samples, centers=centers, cluster_std=spread, random_state=DATA_SEED)
    x = (x - x.mean(0)) / (2 * x.std(0))
    return _split("clusters", x, y, tuple(f"cluster {k}" for k in range(centers)), ("x", "y"))


def digits() -> NeatData:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images), pixels divided by 16."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return _split("digits", d.data / 16.0, d.target, tuple(str(k) for k in range(10)),
                  tuple(f"px{k}" for k in range(64)))


TASKS = {"xor": xor, "spirals": spirals, "circles": circles, "clusters": clusters, "digits": digits}


def load_task_data(name: str) -> NeatData:
    if name not in TASKS:
        raise ValueError(f"unknown NEAT task {name!r} (tasks: {', '.join(TASKS)})")
    return TASKS[name]()
