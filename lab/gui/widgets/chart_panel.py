"""A matplotlib Figure embedded in Tk (FigureCanvasTkAgg and its navigation toolbar), redrawn by a
chart function. Drawing is deferred with ``draw_idle`` and can be throttled, so live updates do not
stall the event loop."""
from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg, NavigationToolbar2Tk
from matplotlib.figure import Figure


class ChartPanel(ttk.Frame):
    def __init__(self, parent: tk.Misc, figsize: tuple[float, float] = (7.0, 4.0), dpi: int = 90,
                 toolbar: bool = True):
        super().__init__(parent)
        self.figure = Figure(figsize=figsize, dpi=dpi)
        self.canvas = FigureCanvasTkAgg(self.figure, master=self)
        if toolbar:
            self.toolbar = NavigationToolbar2Tk(self.canvas, self, pack_toolbar=False)
            self.toolbar.update()
            self.toolbar.pack(side="bottom", fill="x")
        self.canvas.get_tk_widget().pack(side="top", fill="both", expand=True)
        self._last = 0.0
        self.draws = 0

    def redraw(self, draw: Callable[[Figure], object], min_interval_s: float = 0.0) -> bool:
        """``draw(figure)`` then schedule a repaint; skipped (returns False) if the last redraw was
        less than ``min_interval_s`` ago."""
        now = time.monotonic()
        if min_interval_s and now - self._last < min_interval_s:
            return False
        self._last = now
        draw(self.figure)
        self.canvas.draw_idle()
        self.draws += 1
        return True
