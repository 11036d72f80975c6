"""The diversity grid: one coloured cell per genome of the population (colours from
:func:`lab.evolution.diversity.colours`, so related genomes look alike). Clicking a cell selects
its genome; elites get a thick outline."""
from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence

from lab.gui.theme import follow_theme


class DiversityGrid(tk.Canvas):
    CELL = 22
    GAP = 3

    def __init__(self, parent: tk.Misc, on_select: Callable[[str], None] | None = None, height: int = 54):
        super().__init__(parent, height=height, highlightthickness=0, background="#f4f4f4")
        self.on_select = on_select
        self._muted = "#777777"
        self.cells: dict[int, str] = {}   # canvas item -> genome id
        self.bind("<Configure>", lambda _e: self._layout())
        self._items: list[tuple[str, tuple[float, float, float], bool]] = []
        follow_theme(self, self._recolour)

    def _recolour(self, colours: dict[str, str]) -> None:
        self.configure(background=colours["panel"])
        self._muted = colours["muted"]
        self._layout()

    def show(self, items: Sequence[tuple[str, tuple[float, float, float], bool]]) -> None:
        """``items``: (genome id, rgb in 0..1, is_elite) per genome, in display order."""
        self._items = list(items)
        self._layout()

    def _layout(self) -> None:
        self.delete("all")
        self.cells.clear()
        width = max(self.winfo_width(), self.CELL + 2 * self.GAP)
        per_row = max(1, (width - self.GAP) // (self.CELL + self.GAP))
        if not self._items:
            self.create_text(8, 4, anchor="nw", text="Diversity grid: one cell per genome, coloured by its genes "
                             "(similar colour = related genome)", fill=self._muted, width=max(width - 16, 80))
            return
        for i, (gid, rgb, elite) in enumerate(self._items):
            r, c = divmod(i, per_row)
            x0 = self.GAP + c * (self.CELL + self.GAP)
            y0 = self.GAP + r * (self.CELL + self.GAP)
            colour = "#%02x%02x%02x" % tuple(int(round(255 * v)) for v in rgb)
            item = self.create_rectangle(x0, y0, x0 + self.CELL, y0 + self.CELL, fill=colour,
                                         outline="#000000" if elite else "#ffffff", width=3 if elite else 1)
            self.cells[item] = gid
            self.tag_bind(item, "<Button-1>", lambda _e, g=gid: self.on_select and self.on_select(g))
        rows = (len(self._items) + per_row - 1) // per_row
        self.configure(height=max(28, self.GAP + rows * (self.CELL + self.GAP)))

    def colour_of(self, genome_id: str) -> str | None:
        for item, gid in self.cells.items():
            if gid == genome_id:
                return self.itemcget(item, "fill")
        return None
