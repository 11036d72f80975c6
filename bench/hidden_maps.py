"""The GENREG README's hidden-layer observation, reproduced with the lab: two GENREG runs on MNIST
that differ only in the hidden layer (32 and 64 units), same seed, settings and budget; each best
genome's hidden activations on held-out images mapped to 2D side by side, with how well the ten
digits separate in each map and how often 3, 5 and 8 are taken for one another.

    python bench/hidden_maps.py --mnist ../shared/data/mnist [--generations 1500] [--seed 0]
                                [--method pca,tsne] [--out bench/out/hidden_maps]

Figures: held-out accuracy of each best genome; per map the silhouette score by digit (-1..1,
higher: tighter, better separated clusters) and the 5-nearest-neighbour accuracy in the 2D map;
the share of held-out 3s, 5s and 8s the model reads as one of the other two. Writes
hidden_maps-METHOD.png/.pdf/.svg and the points as CSV into --out for each method (pca, tsne,
umap; comma-separated). Ends with a RESULT line per method.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from lab.analysis.export import export_figure
from lab.analysis.hidden_map import METHOD_LABELS, draw_hidden_map, map_data, project, separation
from lab.arenas import get_arena
from lab.arenas.genreg.engine import GenregSettings
from lab.arenas.genreg.task import GenregTask
from lab.files import atomic_write_text


def confusable(data: dict, digits: tuple[str, ...] = ("3", "5", "8")) -> float:
    """Share of held-out images of ``digits`` read as another of them."""
    index = [data["classes"].index(d) for d in digits]
    mine = np.isin(data["labels"], index)
    other = np.isin(data["pred"], index) & (data["pred"] != data["labels"])
    return float((mine & other).sum() / max(1, mine.sum()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mnist", required=True, help="folder of MNIST IDX files")
    ap.add_argument("--generations", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", default="32,64", help="the two hidden sizes (default 32,64)")
    ap.add_argument("--method", default="pca,tsne", help="projections, comma-separated: pca, tsne, umap")
    ap.add_argument("--out", default="bench/out/hidden_maps")
    args = ap.parse_args()
    arena = get_arena("genreg")
    task = GenregTask(dataset="mnist", data_folder=args.mnist, generations=args.generations,
                      eval_interval=max(1, args.generations // 10))
    methods = [m for m in args.method.split(",") if m]
    unknown = [m for m in methods if m not in METHOD_LABELS]
    if unknown or not methods:
        raise SystemExit(f"unknown projection {unknown[0] if unknown else '(none)'} (projections: {', '.join(METHOD_LABELS)})")
    trained = []
    for hidden in (int(h) for h in args.hidden.split(",")):
        engine = arena.engine(task, GenregSettings(hidden=hidden), args.seed, device="cpu")
        t0 = time.perf_counter()
        while not engine.done:
            engine.step(50)
        data = map_data(engine)
        acc = float((data["pred"] == data["labels"]).mean())
        trained.append((hidden, data, acc))
        print(f"hidden {hidden}: {engine.generation} generations in {time.perf_counter() - t0:.0f} s; held-out "
              f"accuracy {acc:.3f} (of {len(data['labels'])} images); 3/5/8 read as one another "
              f"{confusable(data):.1%}", flush=True)
    for method in methods:
        runs = []
        for hidden, data, acc in trained:
            points = project(data["acts"], method, seed=args.seed)
            sep = separation(points, data["labels"])
            runs.append((hidden, data, points, sep, acc))
            print(f"hidden {hidden}, {METHOD_LABELS[method]} map: silhouette {sep['silhouette']:.3f}, 5-NN "
                  f"accuracy {sep['knn_acc']:.3f}", flush=True)
        write(args, method, runs)


def write(args: argparse.Namespace, method: str, runs: list) -> None:
    def draw(fig):
        axes = fig.subplots(1, len(runs))
        for ax, (hidden, data, points, sep, acc) in zip(np.atleast_1d(axes), runs):
            draw_hidden_map(fig, data, points, method, ax=ax, title=(
                f"{hidden} hidden units: accuracy {acc:.1%}, silhouette {sep['silhouette']:.2f}"))
        fig.suptitle(f"GENREG on MNIST, seed {args.seed}, {args.generations} generations: "
                     f"{METHOD_LABELS[method]} of the best genome's hidden layer", fontsize="medium")
        fig.tight_layout()

    out = Path(args.out)
    paths = export_figure(draw, out, f"hidden_maps-{method}", figsize=(12.0, 5.8), dpi=110)
    for hidden, data, points, _, _ in runs:
        rows = ["x,y,label,predicted"] + [f"{x:.6g},{y:.6g},{data['classes'][t]},{data['classes'][p]}"
                                          for (x, y), t, p in zip(points, data["labels"], data["pred"])]
        paths.append(atomic_write_text(out / f"hidden_map-{hidden}-{method}.csv", "\n".join(rows) + "\n"))
    print(f"wrote {', '.join(str(p) for p in paths)}")
    fields = " ".join(f"acc_{h}={a:.4f} silhouette_{h}={s['silhouette']:.4f} knn_{h}={s['knn_acc']:.4f} "
                      f"confusable358_{h}={confusable(d):.4f}" for h, d, _, s, a in runs)
    print(f"RESULT method={method} generations={args.generations} seed={args.seed} {fields}")


if __name__ == "__main__":
    main()
