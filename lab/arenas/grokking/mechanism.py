"""Inside a grokked MicroTransformer: the Fourier measures of Nanda, Chan, Lieberum, Smith and
Steinhardt, "Progress measures for grokking via mechanistic interpretability" (ICLR 2023), on all
p x p inputs (a, b).

A grokked model computes a + b mod p with a few key frequencies k, through the features
cos/sin(2 pi k x / p). The Fourier basis of Z_p used here is orthonormal: row 0 the constant, rows
2k - 1 and 2k the cosine and sine of frequency k = 1 .. (p - 1) / 2.

- :func:`fourier_norms`: the norm of each frequency's component of the embedding (or unembedding);
  :func:`key_frequencies`: those standing out, with ``KEY_RATIO`` times the median frequency's energy
  (a random embedding spreads its energy evenly and has none; a grokked one concentrates it in a few).
- :func:`neuron_frequencies`: per neuron of the last block's feed-forward layer at "=", the frequency
  whose 2D Fourier terms over (a, b) explain most of its variance, and that share.
- :func:`inspect`: one model on every input: logits, those neurons and the attention from "=" to a
  and to b per head.
- :func:`progress_measures`: over snapshots, with the key frequencies of the last one: training and
  test loss, restricted loss (logits kept only along cos/sin(w_k (a + b)) and the constant),
  excluded loss (those directions removed; training pairs only) and the sum of squared weights;
  :func:`phases` places memorisation, circuit formation and cleanup from them.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from lab.arenas.grokking.task import GrokTask, make_dataset

KEY_RATIO = 10.0        # key frequencies: energy at least this many times the median frequency's


def fourier_basis(p: int) -> np.ndarray:
    """The orthonormal Fourier basis of Z_p [p, p] (rows: constant, cos 1, sin 1, cos 2, ...)."""
    x = np.arange(p)
    rows = [np.ones(p) / math.sqrt(p)]
    for k in range(1, (p - 1) // 2 + 1):
        rows.append(np.cos(2 * math.pi * k * x / p) * math.sqrt(2 / p))
        rows.append(np.sin(2 * math.pi * k * x / p) * math.sqrt(2 / p))
    return np.stack(rows)


def fourier_norms(matrix: np.ndarray) -> np.ndarray:
    """Per frequency k = 1 .. (p-1)/2, the norm of ``matrix``'s [p, d] component along cos k and sin k."""
    p = matrix.shape[0]
    coef = fourier_basis(p) @ np.asarray(matrix, dtype=np.float64)
    sq = (coef ** 2).sum(1)
    return np.sqrt(sq[1::2] + sq[2::2])


def key_frequencies(norms: np.ndarray, ratio: float = KEY_RATIO) -> list[int]:
    """The frequencies (1-based, ascending) whose squared norm is at least ``ratio`` times the median
    frequency's (and above 1e-6 of the largest: an exactly sparse matrix has a median of 0)."""
    energy = np.asarray(norms, dtype=np.float64) ** 2
    if energy.size == 0 or energy.max() <= 0:
        return []
    threshold = max(ratio * float(np.median(energy)), 1e-6 * float(energy.max()))
    return [int(k) + 1 for k in np.flatnonzero(energy >= threshold)]


NEURON_KEY_SHARE = 0.1  # from the neurons: frequencies explaining at least this share of the explained neurons


def model_key_frequencies(embed_norms: np.ndarray, neuron_freq: np.ndarray, neuron_share: np.ndarray
                          ) -> tuple[list[int], str]:
    """The model's key frequencies and where they were read: from the embedding's Fourier norms
    (:func:`key_frequencies`), or, where the embedding has none (a recipe that trains it slowly
    leaves it near its random start), from the neurons: the frequencies that best explain at least
    ``NEURON_KEY_SHARE`` of the neurons half or more explained by one frequency."""
    keys = key_frequencies(embed_norms)
    if keys:
        return keys, "embedding"
    explained = neuron_freq[(neuron_freq > 0) & (np.nan_to_num(neuron_share) >= 0.5)]
    if len(explained) == 0:
        return [], "none"
    counts = np.bincount(explained, minlength=len(embed_norms) + 1)
    return [int(k) for k in np.flatnonzero(counts >= NEURON_KEY_SHARE * len(explained)) if k > 0], "neurons"


def neuron_frequencies(acts: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """For activations [p * p, n] over (a, b) (a-major), each neuron's best frequency (0: a neuron
    with no variance) and the share of its variance its frequency's terms explain (cos/sin of
    w k a, of w k b and their products: the 3 x 3 block of k's rows in the 2D transform, minus the
    constant)."""
    F = fourier_basis(p)
    grid = np.asarray(acts, dtype=np.float64).reshape(p, p, -1)
    coef = np.einsum("ia,abn,jb->ijn", F, grid, F)
    energy = coef ** 2
    total = energy.sum((0, 1)) - energy[0, 0]
    K = (p - 1) // 2
    shares = np.zeros((K, grid.shape[2]))
    for k in range(1, K + 1):
        idx = [0, 2 * k - 1, 2 * k]
        shares[k - 1] = energy[np.ix_(idx, idx)].sum((0, 1)) - energy[0, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = shares / total
    alive = total > 1e-12 * max(1.0, float(total.max(initial=0.0)))
    best = np.where(alive, shares.argmax(0) + 1, 0)
    share = np.where(alive, shares.max(0), np.nan)
    return best, share


def all_inputs(task: GrokTask) -> torch.Tensor:
    """Every (a, b, "=") [p * p, 3], a-major."""
    p = task.modulus
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    return torch.as_tensor(np.stack([a.ravel(), b.ravel(), np.full(p * p, p)], 1), dtype=torch.int64)


@torch.no_grad()
def inspect(weights: Mapping[str, Any], task: GrokTask, layer_scale: float) -> dict[str, np.ndarray]:
    """One model (name -> array) on every input: ``logits`` [p*p, p], ``neurons`` [p*p, d_ff] (the last
    block's feed-forward layer at "="), ``attn_a`` / ``attn_b`` [heads, p, p] (attention from "=" to
    a and to b in the last block). The forward is the model's own (model.py), without dropout."""
    W = {k: torch.as_tensor(np.asarray(v), dtype=torch.float64) for k, v in weights.items()}
    tokens = all_inputs(task)
    T, H, D, p = task.seq_len, task.heads, task.d_model, task.modulus
    dh = D // H
    x = W["W_E"][tokens] + W["W_pos"]
    B = x.shape[0]
    attn_last = h = None
    for layer in range(task.layers):
        pre, last = f"L{layer}.", layer == task.layers - 1
        xq = x[:, -1:, :] if last else x
        q = (xq @ W[pre + "W_Q"] + W[pre + "b_Q"]).view(B, -1, H, dh).transpose(1, 2)
        k = (x @ W[pre + "W_K"] + W[pre + "b_K"]).view(B, T, H, dh).transpose(1, 2)
        v = (x @ W[pre + "W_V"] + W[pre + "b_V"]).view(B, T, H, dh).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
        causal = torch.ones(T, T, dtype=torch.bool).tril()[[T - 1] if last else list(range(T))]
        attn = scores.masked_fill(~causal, float("-inf")).softmax(-1)
        z = (attn @ v).transpose(1, 2).reshape(B, xq.shape[1], D)
        x = xq + layer_scale * (z @ W[pre + "W_O"] + W[pre + "b_O"])
        h = torch.relu(x @ W[pre + "W_in"] + W[pre + "b_in"])
        x = x + layer_scale * (h @ W[pre + "W_out"] + W[pre + "b_out"])
        attn_last = attn
    logits = x[:, -1, :] @ W["W_U"] + W["b_U"]
    at = attn_last[:, :, -1, :]                                      # [B, H, T] from "="
    return {"logits": logits.numpy(), "neurons": h[:, -1, :].numpy(),
            "attn_a": at[:, :, 0].T.reshape(H, p, p).numpy(), "attn_b": at[:, :, 1].T.reshape(H, p, p).numpy()}


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


def sum_directions(p: int, keys: Sequence[int]) -> np.ndarray:
    """Orthonormal directions over the (a, b) grid [2 * len(keys), p * p]: cos and sin of w k (a + b)."""
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    s = (a + b).ravel()
    rows = []
    for k in keys:
        rows.append(np.cos(2 * math.pi * k * s / p))
        rows.append(np.sin(2 * math.pi * k * s / p))
    out = np.stack(rows) if rows else np.zeros((0, p * p))
    return out / np.linalg.norm(out, axis=1, keepdims=True).clip(1e-12)


def restricted_and_excluded(logits: np.ndarray, p: int, keys: Sequence[int], train: np.ndarray
                            ) -> tuple[float, float]:
    """Restricted loss (all inputs; logits kept along the key directions and the per-output mean)
    and excluded loss (training inputs; the key directions removed) of logits [p*p, p]."""
    labels = (np.arange(p * p) // p + np.arange(p * p) % p) % p
    U = sum_directions(p, keys)                                      # [2K, p*p]
    mean = logits.mean(0, keepdims=True)
    centred = logits - mean
    along = U.T @ (U @ centred)                                      # the part along the key directions
    restricted = _cross_entropy(mean + along, labels)
    excluded = _cross_entropy((logits - along)[train], labels[train])
    return restricted, excluded


def train_mask(task: GrokTask) -> np.ndarray:
    """Which of the p*p inputs (a-major) are training pairs."""
    data = make_dataset(task)
    mask = np.zeros(task.modulus ** 2, dtype=bool)
    x = data.train_x.numpy()
    mask[x[:, 0] * task.modulus + x[:, 1]] = True
    return mask


def progress_measures(steps: Sequence[int], weights: Sequence[Mapping[str, Any]], task: GrokTask,
                      layer_scale: float, keys: Sequence[int] | None = None) -> dict[str, Any]:
    """The progress measures at each snapshot, with the key frequencies ``keys`` (default: those of
    the last snapshot's embedding): columns step, train_loss, test_loss, restricted_loss,
    excluded_loss, weight_norm (sum of squared weights), test_acc (on the pairs not trained on)."""
    if task.operation != "+":
        raise ValueError(f"the Fourier measures are those of a + b mod p; this task computes a {task.operation} b")
    p = task.modulus
    if keys is None:
        keys = key_frequencies(fourier_norms(np.asarray(weights[-1]["W_E"])[:p]))
    train = train_mask(task)
    labels = (np.arange(p * p) // p + np.arange(p * p) % p) % p
    out: dict[str, Any] = {k: [] for k in ("step", "train_loss", "test_loss", "restricted_loss", "excluded_loss",
                                           "weight_norm", "test_acc")}
    out["keys"] = list(keys)
    for step, w in zip(steps, weights):
        logits = inspect(w, task, layer_scale)["logits"]
        restricted, excluded = restricted_and_excluded(logits, p, keys, train)
        out["step"].append(int(step))
        out["train_loss"].append(_cross_entropy(logits[train], labels[train]))
        out["test_loss"].append(_cross_entropy(logits[~train], labels[~train]))
        out["restricted_loss"].append(restricted)
        out["excluded_loss"].append(excluded)
        out["weight_norm"].append(float(sum((np.asarray(v, dtype=np.float64) ** 2).sum() for v in w.values())))
        out["test_acc"].append(float((logits[~train].argmax(1) == labels[~train]).mean()))
    return out


def phases(measures: Mapping[str, Sequence[float]], generalised_loss: float = 0.1) -> dict[str, int | None]:
    """Where the measures place the three phases (the progress measures' own reading of them):
    circuit formation begins where the excluded loss is lowest and then rises (the memorised
    lookup gives way to the Fourier circuit, which removing the key directions breaks); cleanup begins
    where the sum of squared weights peaks after that and then falls (weight decay removes the
    memorisation); the model is clean at the first later snapshot whose test loss is below
    ``generalised_loss``. None where a boundary is not reached (rises and falls of under 5% count
    as none)."""
    steps, excluded = list(measures["step"]), np.asarray(measures["excluded_loss"], dtype=float)
    norm, test = np.asarray(measures["weight_norm"], dtype=float), np.asarray(measures["test_loss"], dtype=float)
    out: dict[str, int | None] = {"circuit": None, "cleanup": None, "clean": None}
    if len(steps) < 3:
        return out
    low = int(np.nanargmin(excluded))
    if not np.nanmax(excluded[low:]) > 1.05 * excluded[low]:
        return out
    out["circuit"] = steps[low]
    peak = low + int(np.nanargmax(norm[low:]))
    if not np.nanmin(norm[peak:]) < 0.95 * norm[peak]:
        return out
    out["cleanup"] = steps[peak]
    done = next((i for i in range(peak, len(steps)) if test[i] < generalised_loss), None)
    out["clean"] = steps[done] if done is not None else None
    return out
