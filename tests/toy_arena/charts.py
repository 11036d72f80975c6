"""The toy arena's direct-run panel: the climbers' best and mean fitness over generations."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure


def draw_toy_panel(fig: Figure, snapshot: Mapping[str, Any] | None,
                   history: Mapping[str, Sequence[float]] | None, target_acc: float | None = None) -> Figure:
    fig.clear()
    ax = fig.add_subplot()
    curve = (snapshot or {}).get("curve") or {}
    ax.plot(curve.get("step", []), curve.get("best", []), label="best")
    ax.plot(curve.get("step", []), curve.get("mean", []), label="mean")
    ax.set(xlabel="generation", ylabel="fitness", title="Climbers")
    ax.legend(fontsize=7)
    return fig
