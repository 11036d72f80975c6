"""The hidden-layer map of a classifier run: the best model's hidden activations on held-out images,
projected to 2D and coloured by class, with the confusions marked. The GENREG README studies its
models this way (32 hidden units: the confusable digits 3, 5 and 8 overlap; 64: ten clean clusters).

:func:`map_data` takes what an engine's ``hidden_layer(x)`` gives (GENREG's best genome, M2N2's
reported model, a NEAT champion with hidden nodes) on the first ``MAP_IMAGES`` held-out images;
:func:`project` maps it to 2D by PCA (always: deterministic, milliseconds), t-SNE (scikit-learn) or
UMAP (umap-learn, where installed), seeded; :func:`draw_hidden_map` draws it and
:func:`separation` measures how well the classes separate in the map.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

MAP_IMAGES = 1000            # held-out images a map shows (the first ones: the same in every map)
METHODS = ("pca", "tsne", "umap")
METHOD_LABELS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}


def available_methods() -> tuple[str, ...]:
    """The projections this installation offers: PCA and t-SNE always, UMAP with umap-learn."""
    return tuple(m for m in METHODS if m != "umap" or importlib.util.find_spec("umap") is not None)


def map_data(engine: Any, images: int = MAP_IMAGES) -> dict[str, Any] | None:
    """The map's data for ``engine``'s best model now: activations [n, H] float32, labels, predictions,
    class names, the generation (pass); None when the model has no hidden unit (a NEAT champion
    without hidden nodes) or the engine has no held-out images."""
    data = engine.data
    x, y = data.x_test, data.y_test
    if x is None or len(x) == 0:
        x, y = data.x_train, data.y_train      # a task without a test split (XOR): its training points
    x, y = x[:images], y[:images]
    try:
        acts, logits = engine.hidden_layer(x)
    except ValueError:
        return None
    if acts.shape[1] == 0:
        return None
    logits = np.asarray(logits)
    pred = (logits[:, 0] > 0.5).astype(np.int64) if logits.shape[1] == 1 else logits.argmax(1)
    return {"acts": np.asarray(acts, dtype=np.float32), "labels": np.asarray(y.cpu() if hasattr(y, "cpu") else y,
                                                                           dtype=np.int64),
            "pred": pred.astype(np.int64), "classes": list(data.classes), "at": int(engine.passes)}


def project(acts: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """2D coordinates [n, 2] of ``acts`` [n, H]. PCA: the two leading principal components, each
    signed so that its largest loading is positive (the same data gives the same picture). t-SNE and
    UMAP are seeded by ``seed``. ValueError for an unknown or unavailable method."""
    acts = np.asarray(acts, dtype=np.float64)
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r} (projections: {', '.join(METHODS)})")
    if method not in available_methods():
        raise ValueError("UMAP needs the umap-learn package (pip install umap-learn); PCA and t-SNE need nothing more")
    if len(acts) < 3:
        return np.zeros((len(acts), 2))
    if method == "pca":
        centred = acts - acts.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        vt = vt[:2] if len(vt) >= 2 else np.vstack([vt, np.zeros_like(vt)])
        signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])
        return centred @ (vt * np.where(signs == 0, 1, signs)[:, None]).T
    if method == "tsne":
        from sklearn.manifold import TSNE
        return TSNE(n_components=2, init="pca", random_state=seed,
                    perplexity=min(30.0, max(2.0, (len(acts) - 1) / 3))).fit_transform(acts)
    import umap
    return umap.UMAP(n_components=2, random_state=seed).fit_transform(acts)


def confusions(labels: np.ndarray, pred: np.ndarray, classes: Sequence[str], most: int = 5
               ) -> list[tuple[str, str, int, float]]:
    """The most frequent confusions: (true class, predicted class, count, share of the true class)."""
    out = []
    for t in range(len(classes)):
        of_t = labels == t
        for p in range(len(classes)):
            n = int((of_t & (pred == p)).sum())
            if p != t and n:
                out.append((classes[t], classes[p], n, n / max(1, int(of_t.sum()))))
    return sorted(out, key=lambda c: (-c[2], c[0], c[1]))[:most]


def separation(points: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """How well the classes separate in a map: the silhouette score by class (-1 .. 1) and the
    accuracy of 5-nearest-neighbour voting in the map (leave one out)."""
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    if len(set(labels.tolist())) < 2 or len(points) < 10:
        return {"silhouette": float("nan"), "knn_acc": float("nan")}
    knn = cross_val_score(KNeighborsClassifier(5), points, labels, cv=5).mean()
    return {"silhouette": float(silhouette_score(points, labels)), "knn_acc": float(knn)}


def draw_hidden_map(fig: Any, data: Mapping[str, Any] | None, points: np.ndarray | None, method: str = "pca",
                    title: str = "", ax: Any = None) -> Any:
    """The map on ``fig`` (cleared; or on ``ax``): a point per image coloured by its class, the
    images the model gets wrong ringed in black, and the most frequent confusions listed."""
    if ax is None:
        fig.clear()
        ax = fig.add_subplot(1, 1, 1)
    if data is None or points is None:
        ax.text(0.5, 0.5, "no hidden layer to map yet", ha="center", va="center", transform=ax.transAxes,
                color="#777777")
        ax.set_xticks([])
        ax.set_yticks([])
        return fig
    import matplotlib as mpl

    labels, pred, classes = data["labels"], data["pred"], data["classes"]
    cmap = mpl.colormaps["tab10" if len(classes) <= 10 else "tab20"]
    wrong = labels != pred
    for c, name in enumerate(classes):
        mine = labels == c
        ax.scatter(points[mine, 0], points[mine, 1], s=7, color=cmap(c % cmap.N), lw=0, alpha=0.8, label=name)
    ax.scatter(points[wrong, 0], points[wrong, 1], s=16, facecolors="none", edgecolors="black", lw=0.5,
               label="wrong")
    for c, name in enumerate(classes):   # each class's name at its median point
        mine = labels == c
        if mine.any():
            cx, cy = np.median(points[mine], axis=0)
            ax.text(cx, cy, name, fontsize=8, weight="bold", ha="center", va="center",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": cmap(c % cmap.N), "alpha": 0.8})
    acc = float((~wrong).mean()) if len(labels) else float("nan")
    lines = [f"{t}->{p}: {n} ({share:.0%})" for t, p, n, share in confusions(labels, pred, classes)]
    ax.text(0.01, 0.01, "most confused\n" + "\n".join(lines) if lines else "no confusions", transform=ax.transAxes,
            fontsize=6.5, va="bottom", ha="left", family="monospace",
            bbox={"fc": "white", "ec": "#bbbbbb", "alpha": 0.85})
    hidden = data["acts"].shape[1]
    ax.set_title(title or f"{METHOD_LABELS[method]} of {hidden} hidden units, {len(labels)} held-out images "
                          f"(accuracy {acc:.1%})", fontsize="small")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=6, markerscale=1.5, ncol=1, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              borderaxespad=0.0)
    return fig
