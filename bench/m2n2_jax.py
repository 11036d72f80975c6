"""An independent JAX transcription of the published M2N2 loop, to check the lab's engine against.

    python bench/m2n2_jax.py [--streams jax|lab] [--first-seed 100] [--seeds 30] [--passes 50000]
                             [--method m2n2|ga] [--batch 10] [--out FILE.json]

Needs JAX (``pip install jax``), which the lab itself does not use. The transcription follows the
published code (SakanaAI/natural_niches, ``natural_niches_fn.py`` and ``helper_fn.py``) step for
step, in float32 like it, but runs ``--batch`` runs at once under ``jax.vmap`` and ``lax.scan``:

- ``--streams jax``: JAX's own random numbers, split exactly as the published code splits its key
  (PRNGKey(seed); per pass ``k1, k2, k3, key = split(key, 4)``; ``jax.random.choice`` for the parents,
  ``randint``/``uniform`` for split point and mixing ratio, ``normal`` for the mutation), so a seed here
  is the same run as the published code's ``run_natural_niches`` with that seed.
- ``--streams lab``: the lab engine's random numbers for the seed (``torch.Generator`` MT19937 in the
  engine's order: two initial models, then per block of passes five uniforms a pass and the mutation
  noise), mapped to decisions the engine's way (inverse CDF over fitness in float64, split point
  ``floor(u * P)``, zero attraction as the engine's setting ``zero_attraction`` says). Everything
  else is this file's own JAX arithmetic. The curve of each run is compared with the lab engine run
  on the same seed when ``--compare`` is given.

Prints one line per run (final test and training accuracy of the reported model, children accepted,
stalled = training accuracy below 95% at the end) and the stall rate with its Wilson 95% interval,
then ``RESULT jax_test_acc=... jax_std=... jax_stalled=... seconds_per_run=...``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STALL_TRAIN_ACC = 0.95
HIDDEN, INPUTS, CLASSES = 256, 64, 10
P = (INPUTS + 1) * HIDDEN + (HIDDEN + 1) * CLASSES
EVAL_EVERY = 250


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def build(jax, jnp, alpha: float, matchmaker: bool, streams: str, zero_attraction: str):
    """The jitted chunk of passes for a batch of runs."""
    from sklearn.datasets import load_digits
    images, labels = load_digits(return_X_y=True)
    n = int(len(images) * 0.8)
    x_train, y_train = jnp.asarray(images[:n], jnp.float32), jnp.asarray(labels[:n])
    x_test, y_test = jnp.asarray(images[n:], jnp.float32), jnp.asarray(labels[n:])
    K = 20
    fdt = jnp.float32 if streams == "jax" else jnp.float64   # the lab's selection arithmetic is float64

    def mlp(params, x):
        o1, o2, o3 = INPUTS * HIDDEN, INPUTS * HIDDEN + HIDDEN, INPUTS * HIDDEN + HIDDEN + HIDDEN * CLASSES
        h = jax.nn.relu(x @ params[:o1].reshape(INPUTS, HIDDEN) + params[o1:o2][None])
        return h @ params[o2:o3].reshape(HIDDEN, CLASSES) + params[o3:][None]

    def score_of(params):
        return jnp.argmax(mlp(params, x_train), axis=1) == y_train

    def fitness_matrix(scores):
        z = scores.astype(fdt).sum(0)
        z = jnp.where(z, z, 1) ** alpha
        return scores.astype(fdt) / z[None]

    def insert(archive, scores, child, score):
        ext = jnp.concatenate([scores, score[None]], 0)
        z = ext.astype(fdt).sum(0) ** alpha
        z = jnp.where(z, z, 1)
        fit = (ext.astype(fdt) / z[None]).sum(1)
        worst = jnp.argmin(fit)
        take = worst < K
        slot = jnp.minimum(worst, K - 1)
        archive = archive.at[slot].set(jnp.where(take, child, archive[slot]))
        scores = scores.at[slot].set(jnp.where(take, score, scores[slot]))
        return archive, scores, take

    def slerp_split(w, split, x, y):
        val = jnp.where(jnp.arange(P) < split, w, 1 - w).astype(jnp.float32)
        dot = jnp.dot(x / jnp.linalg.norm(x), y / jnp.linalg.norm(y))
        omega = jnp.arccos(jnp.clip(dot, -1, 1))
        so = jnp.sin(omega)
        return jnp.where(so > 1e-6, jnp.sin((1 - val) * omega) / so * x + jnp.sin(val * omega) / so * y,
                         (1 - val) * x + val * y)

    def pick(weights, u):
        """The lab's inverse CDF: searchsorted(cumsum, u * total, right), clamped."""
        cdf = jnp.cumsum(weights)
        return jnp.minimum(jnp.searchsorted(cdf, u * cdf[-1], side="right"), K - 1)

    def one_pass_jax(carry, _):
        archive, scores, key, accepted, fallback = carry
        k1, k2, k3, key = jax.random.split(key, 4)
        ka, kb = jax.random.split(k1)
        fm = fitness_matrix(scores)
        fit = fm.sum(1)
        probs = fit / fit.sum()
        if matchmaker:
            a = jax.random.choice(ka, K, shape=(1,), p=probs)[0]
            pull = jnp.maximum(0, fm - fm[a]).sum(1)
            fallback = fallback + (pull.sum() == 0)
            b = jax.random.choice(kb, K, shape=(1,), p=pull / pull.sum())[0]
        else:
            b, a = jax.random.choice(ka, K, shape=(2,), p=probs)
        c1, c2 = jax.random.split(k2)
        split = jax.random.randint(c1, shape=(), minval=0, maxval=P)
        w = jax.random.uniform(c2)
        child = slerp_split(w, split, archive[a], archive[b])
        child = child + jax.random.normal(k3, shape=(P,)) * 0.01
        archive, scores, take = insert(archive, scores, child, score_of(child))
        return (archive, scores, key, accepted + take, fallback), None

    def one_pass_lab(carry, xs):
        archive, scores, accepted, fallback = carry
        u, noise = xs
        fm = fitness_matrix(scores)
        fit = fm.sum(1)
        filled = scores.any(1) | (jnp.abs(archive).sum(1) > 0)
        by_fit = jnp.where(fit.sum() > 0, fit, filled.astype(fdt))
        a = pick(by_fit, u[0])
        if matchmaker:
            pull = jnp.maximum(0, fm - fm[a]).sum(1)
            none = pull.sum() == 0
            fallback = fallback + none
            if zero_attraction == "slot0":
                b = jnp.where(none, 0, pick(jnp.where(none, by_fit, pull), u[1]))
            else:
                b = pick(jnp.where(none, by_fit, pull), u[1])
        else:
            b = pick(by_fit, u[1])
        split = jnp.floor(u[4] * P).astype(jnp.int32)
        child = slerp_split(u[3].astype(jnp.float32), split, archive[a], archive[b])
        child = child + 0.01 * noise
        archive, scores, take = insert(archive, scores, child, score_of(child))
        return (archive, scores, accepted + take, fallback), None

    def report(archive, scores):
        train = scores.mean(1)
        best = jnp.argmax(train)
        test = jnp.mean(jnp.argmax(mlp(archive[best], x_test), axis=1) == y_test)
        return test, train.max()

    if streams == "jax":
        def chunk(carry, n):
            carry, _ = jax.lax.scan(one_pass_jax, carry, None, length=n)
            return carry, report(carry[0], carry[1])
        chunk = jax.jit(jax.vmap(chunk, in_axes=(0, None)), static_argnums=1)

        def init(seed):
            key = jax.random.PRNGKey(seed)
            key, key1, key2 = jax.random.split(key, 3)
            archive = jnp.zeros((K, P), jnp.float32)
            scores = jnp.zeros((K, len(y_train)), bool)
            for m in (jax.random.normal(key1, (P,)) * 0.01, jax.random.normal(key2, (P,)) * 0.01):
                archive, scores, _ = insert(archive, scores, m, score_of(m))
            return archive, scores, key, jnp.int32(0), jnp.int32(0)
    else:
        def chunk(carry, xs):
            carry, _ = jax.lax.scan(one_pass_lab, carry, xs)
            return carry, report(carry[0], carry[1])
        chunk = jax.jit(jax.vmap(chunk, in_axes=(0, 0)))

        def init(models):
            archive = jnp.zeros((K, P), jnp.float32)
            scores = jnp.zeros((K, len(y_train)), bool)
            for m in models:
                archive, scores, _ = insert(archive, scores, m, score_of(m))
            return archive, scores, jnp.int32(0), jnp.int32(0)
    return chunk, init


def lab_streams(seed: int, block: int = 64):
    """The lab engine's random numbers for one run, in its order: (init [2, P], blocks of
    (uniforms [block, 5] float64, noise [block, P] float32))."""
    import torch
    from lab.arenas.m2n2.engine import UNIFORMS, member_rng
    g = member_rng(seed)
    init = (torch.randn(2, P, generator=g) * 0.01).numpy()

    def blocks():
        while True:
            yield (torch.rand(block, UNIFORMS, generator=g, dtype=torch.float64).numpy(),
                   torch.randn(block, P, generator=g).numpy())
    return init, blocks()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", choices=("jax", "lab"), default="jax")
    ap.add_argument("--method", choices=("m2n2", "ga"), default="m2n2")
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--seed-list", default="", help="comma-separated seeds (instead of --first-seed/--seeds)")
    ap.add_argument("--passes", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=10, help="runs advanced together")
    ap.add_argument("--zero-attraction", choices=("slot0", "fitness"), default="slot0",
                    help="with --streams lab: partner when no member attracts A (the lab engine's setting)")
    ap.add_argument("--out", default=None, help="write every run's curve as JSON (per run, as it finishes)")
    args = ap.parse_args()
    if args.streams == "lab":
        os.environ["JAX_ENABLE_X64"] = "1"
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        sys.exit("bench/m2n2_jax.py needs JAX: pip install jax")
    import numpy as np
    seeds = ([int(s) for s in args.seed_list.split(",")] if args.seed_list
             else list(range(args.first_seed, args.first_seed + args.seeds)))
    alpha, matchmaker = (1.0, True) if args.method == "m2n2" else (0.0, False)
    chunk, init = build(jax, jnp, alpha, matchmaker, args.streams, args.zero_attraction)
    print(f"JAX {jax.__version__} transcription, {args.method}, {args.streams} streams, seeds {seeds}, "
          f"{args.passes} passes", flush=True)
    runs: list[dict] = []
    t_all = time.perf_counter()
    for start in range(0, len(seeds), args.batch):
        batch = seeds[start:start + args.batch]
        t0 = time.perf_counter()
        curves = [{"step": [], "train_acc": [], "val_acc": []} for _ in batch]
        if args.streams == "jax":
            carry = jax.vmap(init)(jnp.asarray(batch, jnp.uint32))
        else:
            gens = [lab_streams(s) for s in batch]
            carry = jax.vmap(init)(jnp.asarray(np.stack([g[0] for g in gens])))
            blocks = [g[1] for g in gens]
            buffers = [(np.zeros((0, 5)), np.zeros((0, P), np.float32)) for _ in batch]
        done = 0
        while done < args.passes:
            n = min(EVAL_EVERY, args.passes - done)
            if args.streams == "jax":
                carry, (test, train) = chunk(carry, n)
            else:
                for r, b in enumerate(blocks):      # top up each run's buffer of drawn passes
                    while len(buffers[r][0]) < n:
                        more = next(b)
                        buffers[r] = (np.concatenate([buffers[r][0], more[0]]), np.concatenate([buffers[r][1], more[1]]))
                u = np.stack([buf[0][:n] for buf in buffers])
                noise = np.stack([buf[1][:n] for buf in buffers])
                buffers = [(buf[0][n:], buf[1][n:]) for buf in buffers]
                carry, (test, train) = chunk(carry, (jnp.asarray(u), jnp.asarray(noise)))
            done += n
            for r in range(len(batch)):
                curves[r]["step"].append(done)
                curves[r]["train_acc"].append(round(float(train[r]), 6))
                curves[r]["val_acc"].append(round(float(test[r]), 6))
            if done % 10_000 == 0:
                print(f"  seeds {batch[0]}-{batch[-1]}: pass {done}, test mean {float(np.mean(test)) * 100:.2f}% "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
        wall = time.perf_counter() - t0
        accepted, fallback = np.asarray(carry[-2]), np.asarray(carry[-1])
        for r, seed in enumerate(batch):
            run = {"seed": seed, "test_acc": curves[r]["val_acc"][-1] * 100, "train_acc": curves[r]["train_acc"][-1] * 100,
                   "accepted": int(accepted[r]) + 2, "zero_attraction_passes": int(fallback[r]),
                   "stalled": curves[r]["train_acc"][-1] < STALL_TRAIN_ACC, "seconds": wall / len(batch),
                   "curve": curves[r]}
            runs.append(run)
            print(f"seed {seed:>4}: test {run['test_acc']:6.2f}%  train {run['train_acc']:6.2f}%  "
                  f"accepted {run['accepted']:>5}  zero-attraction passes {run['zero_attraction_passes']}"
                  f"{'  STALLED' if run['stalled'] else ''}", flush=True)
        if args.out:
            Path(args.out).write_text(json.dumps({"streams": args.streams, "method": args.method,
                                                  "passes": args.passes, "runs": runs}) + "\n")
    acc = np.array([r["test_acc"] for r in runs])
    stalled = sum(r["stalled"] for r in runs)
    lo, hi = wilson(stalled, len(runs))
    std = float(acc.std(ddof=1)) if len(acc) > 1 else 0.0
    print(f"mean {acc.mean():.2f}% std {std:.2f} min {acc.min():.2f} max {acc.max():.2f}; stalled {stalled} of "
          f"{len(runs)} ({100 * stalled / len(runs):.0f}%, Wilson 95% {100 * lo:.0f}-{100 * hi:.0f}%)")
    print(f"RESULT jax_test_acc={acc.mean():.2f} jax_std={std:.2f} jax_stalled={stalled}/{len(runs)} "
          f"seconds_per_run={(time.perf_counter() - t_all) / len(runs):.1f}")


if __name__ == "__main__":
    main()
