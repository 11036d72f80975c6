"""Which charts a direct run of each arena draws: one panel (draw and export functions of an engine
snapshot and its fitness history) per arena, so the direct-run window knows no arena by name.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from lab.analysis.genreg_charts import draw_genreg_panel, export_genreg_panel
from lab.analysis.m2n2_charts import draw_m2n2_panel, export_m2n2_panel
from lab.analysis.neat_charts import draw_neat_panel, export_neat_panel


class DirectPanel(NamedTuple):
    """``draw(fig, snapshot, history, target_acc)`` on a given figure (the live window);
    ``export(folder, stem, snapshot, history, target_acc)`` writes paper files and returns their paths."""

    draw: Callable[..., object]
    export: Callable[..., list[Path]]


PANELS: dict[str, DirectPanel] = {
    "m2n2": DirectPanel(draw_m2n2_panel, export_m2n2_panel),
    "genreg": DirectPanel(draw_genreg_panel, export_genreg_panel),
    "neat": DirectPanel(draw_neat_panel, export_neat_panel),
}


def panel_for(arena_name: str) -> DirectPanel:
    """The direct-run charts of ``arena_name``; KeyError naming the arenas that have some."""
    try:
        return PANELS[arena_name]
    except KeyError:
        raise KeyError(f"the {arena_name} arena has no direct-run charts (arenas with some: "
                       f"{', '.join(PANELS)})") from None
