"""The Mechanism charts of a grokking trial (lab.arenas.grokking.mechanism), for the window and for
papers, each with the table behind it: the embedding's and unembedding's Fourier norms with the key
frequencies, the neurons' frequencies, the attention from "=" per head, and the progress measures
over training with the phases marked.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lab.arenas.grokking.mechanism import fourier_norms, inspect, model_key_frequencies, neuron_frequencies

CHARTS = ("fourier", "neurons", "attention", "progress")
PHASE_COLOURS = {"memorisation": "#fde0dd", "circuit formation": "#e0ecf4", "cleanup": "#e5f5e0"}


def final_measures(weights: Mapping[str, Any], task: Any, layer_scale: float) -> dict[str, Any]:
    """What the charts of one model show: Fourier norms, key frequencies, neuron frequencies, attention."""
    p = task.modulus
    seen = inspect(weights, task, layer_scale)
    embed = fourier_norms(np.asarray(weights["W_E"])[:p])
    unembed = fourier_norms(np.asarray(weights["W_U"]).T)
    best, share = neuron_frequencies(seen["neurons"], p)
    keys, source = model_key_frequencies(embed, best, share)
    return {"embed_norms": embed, "unembed_norms": unembed, "keys": keys, "keys_from": source,
            "neuron_freq": best, "neuron_share": share, "attn_a": seen["attn_a"], "attn_b": seen["attn_b"]}


def tables(final: Mapping[str, Any], measures: Mapping[str, Sequence[float]] | None) -> dict[str, str]:
    """The CSV text behind each chart."""
    K = len(final["embed_norms"])
    out = {"fourier": "frequency,embedding_norm,unembedding_norm,key\n" + "".join(
        f"{k + 1},{final['embed_norms'][k]:.6g},{final['unembed_norms'][k]:.6g},{int(k + 1 in final['keys'])}\n"
        for k in range(K))}
    out["neurons"] = "neuron,frequency,variance_share\n" + "".join(
        f"{i},{int(f)},{'' if np.isnan(s) else f'{s:.6g}'}\n"
        for i, (f, s) in enumerate(zip(final["neuron_freq"], final["neuron_share"])))
    H, p, _ = final["attn_a"].shape
    rows = [f"{h},{a},{b},{final['attn_a'][h, a, b]:.6g},{final['attn_b'][h, a, b]:.6g}\n"
            for h in range(H) for a in range(p) for b in range(p)]
    out["attention"] = "head,a,b,attention_to_a,attention_to_b\n" + "".join(rows)
    if measures is not None:
        keys = ("step", "train_loss", "test_loss", "restricted_loss", "excluded_loss", "weight_norm")
        out["progress"] = ",".join(keys) + "\n" + "".join(
            ",".join(f"{measures[k][i]:.6g}" if k != "step" else str(measures[k][i]) for k in keys) + "\n"
            for i in range(len(measures["step"])))
    return out


def draw_fourier(fig: Any, final: Mapping[str, Any], title: str = "") -> Any:
    fig.clear()
    ax = fig.add_subplot(1, 1, 1)
    k = np.arange(1, len(final["embed_norms"]) + 1)
    ax.bar(k - 0.2, final["embed_norms"], width=0.4, color="#2166ac", label="embedding W_E")
    ax.bar(k + 0.2, final["unembed_norms"], width=0.4, color="#b2182b", label="unembedding W_U")
    for key in final["keys"] if final.get("keys_from") == "embedding" else ():
        ax.annotate(str(key), (key, final["embed_norms"][key - 1]), xytext=(0, 3), textcoords="offset points",
                    ha="center", fontsize=7, weight="bold")
    ax.set_xlabel("frequency k (cos/sin 2πkx/p)")
    ax.set_ylabel("norm of the component")
    keys = ", ".join(map(str, final["keys"])) or "none"
    source = {"neurons": " (read from the neurons: the embedding has none)"}.get(final.get("keys_from", ""), "")
    ax.set_title(title or f"Fourier components; key frequencies: {keys}{source}", fontsize="medium")
    ax.legend(fontsize="small")
    return fig


def draw_neurons(fig: Any, final: Mapping[str, Any], title: str = "") -> Any:
    fig.clear()
    ax = fig.add_subplot(1, 1, 1)
    best, share = final["neuron_freq"], final["neuron_share"]
    K = len(final["embed_norms"])
    alive = best > 0
    well = alive & (np.nan_to_num(share) >= 0.5)
    bins = np.arange(0.5, K + 1.5)
    ax.hist(best[alive], bins=bins, color="#bdbdbd", label="all neurons with variance")
    ax.hist(best[well], bins=bins, color="#2166ac", label="half or more of the variance explained")
    ax.set_xlabel("frequency that best explains the neuron (over a, b)")
    ax.set_ylabel("neurons")
    ax.set_title(title or f"Feed-forward neurons at '=': {int(well.sum())} of {len(best)} explained by one "
                          "frequency", fontsize="medium")
    ax.legend(fontsize="small")
    return fig


def draw_attention(fig: Any, final: Mapping[str, Any], title: str = "") -> Any:
    fig.clear()
    attn = final["attn_a"]
    H = attn.shape[0]
    axes = fig.subplots(2, H, squeeze=False)
    for h in range(H):
        for row, (name, data) in enumerate((("a", final["attn_a"]), ("b", final["attn_b"]))):
            ax = axes[row, h]
            image = ax.imshow(data[h], vmin=0, vmax=1, cmap="viridis", origin="lower")
            ax.set_title(f"head {h}: '=' to {name}", fontsize="small")
            ax.set_xlabel("b", fontsize="x-small")
            if h == 0:
                ax.set_ylabel("a", fontsize="x-small")
            else:
                ax.set_yticklabels([])
            ax.tick_params(labelsize="xx-small")
    fig.colorbar(image, ax=axes, shrink=0.8).ax.tick_params(labelsize="x-small")
    fig.suptitle(title or "Attention from '=' over all inputs (a, b)", fontsize="medium")
    return fig


def draw_progress(fig: Any, measures: Mapping[str, Sequence[float]], marks: Mapping[str, int | None],
                  title: str = "") -> Any:
    fig.clear()
    ax = fig.add_subplot(1, 1, 1)
    steps = np.asarray(measures["step"], dtype=float)
    edges = [0.0, marks.get("circuit"), marks.get("cleanup"), marks.get("clean")]
    names = list(PHASE_COLOURS)
    for i, name in enumerate(names):
        lo, hi = edges[i], edges[i + 1]
        if lo is None:
            break
        hi = steps.max() if hi is None else hi
        ax.axvspan(lo, hi, color=PHASE_COLOURS[name], zorder=0, label=name)
        if edges[i + 1] is None:
            break
    for key, colour, style in (("train_loss", "#1b7837", "-"), ("test_loss", "#b2182b", "-"),
                               ("restricted_loss", "#2166ac", "--"), ("excluded_loss", "#762a83", ":")):
        ax.plot(steps, np.asarray(measures[key], dtype=float), color=colour, ls=style, lw=1.5,
                label=key.replace("_", " "))
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy loss")
    norm_ax = ax.twinx()
    norm_ax.plot(steps, measures["weight_norm"], color="#737373", lw=1.0, label="sum of squared weights")
    norm_ax.set_ylabel("sum of squared weights", color="#737373", fontsize="small")
    handles = ax.get_legend_handles_labels()
    extra = norm_ax.get_legend_handles_labels()
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize="x-small", loc="lower left")
    keys = ", ".join(map(str, measures.get("keys", []))) or "none"
    ax.set_title(title or f"Progress measures (key frequencies {keys})", fontsize="medium")
    return fig
