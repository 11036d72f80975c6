"""What the arenas' direct-run panels share: the 2 x 2 grid they draw on, their colours, the empty
chart and the colour bar; and :func:`panel_for`, the lookup of an arena's panel through the arena
object (each arena declares its own charts, ``lab/arenas/<name>/charts.py``, as its ``direct_panel``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

COLOURS = {"band": "#9ecae1", "mean": "#2166ac", "train": "#1b7837", "test": "#b2182b", "target": "#555555",
           "best": "#ff7f00"}


def empty_chart(ax: Axes, title: str, text: str = "no run yet") -> Axes:
    """``ax`` titled, with no ticks and ``text`` in its middle: a chart with nothing to show yet."""
    ax.set_title(title, fontsize=9)
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#777777", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def colorbar(ax: Axes, image: Any, label: str, extend: str = "neither") -> None:
    """A slim labelled colour bar for ``image`` beside ``ax``."""
    bar = ax.figure.colorbar(image, ax=ax, fraction=0.05, pad=0.02, extend=extend)
    bar.ax.tick_params(labelsize=7)
    bar.set_label(label, fontsize=7)


def mark_settings_changes(ax: Axes, snapshot: Mapping[str, Any] | None) -> None:
    """A dashed line on a chart over generations (passes) where the run's settings changed
    (``snapshot["settings_log"]``, lab.arenas.live_settings), labelled with what changed."""
    for entry in (snapshot or {}).get("settings_log") or ():
        at = entry.get("at")
        if not isinstance(at, (int, float)):
            continue
        ax.axvline(at, color=COLOURS["target"], lw=0.9, ls=(0, (4, 2)), zorder=1)
        names = ", ".join(entry.get("changes") or ())
        ax.annotate(names if len(names) <= 28 else names[:26] + "...", (at, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(2, -2), textcoords="offset points", ha="left", va="top", fontsize=6,
                    color=COLOURS["target"], rotation=90,
                    bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})


def draw_grid(fig: Figure, draws: Sequence[Callable[[Axes], object]]) -> Figure:
    """Four charts on a 2 x 2 grid of ``fig`` (cleared first), row by row: ``draws[i](ax)``."""
    fig.clear()
    axes = fig.subplots(2, 2)
    for draw, ax in zip(draws, axes.flat):
        draw(ax)
        ax.tick_params(labelsize=7)
    fig.tight_layout(pad=0.6, h_pad=0.9, w_pad=0.9)
    return fig


def panel_for(arena_name: str) -> Any:
    """The direct-run panel (:class:`lab.direct.DirectPanel`) the arena ``arena_name`` declares;
    KeyError naming the arenas that have one."""
    from lab.arenas import get_arena
    from lab.direct import arenas_with_panels, direct_panel_of

    panel = direct_panel_of(get_arena(arena_name))
    if panel is None:
        raise KeyError(f"the {arena_name} arena has no direct-run charts (arenas with some: "
                       f"{', '.join(arenas_with_panels())})")
    return panel
