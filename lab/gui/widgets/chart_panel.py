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

from lab.gui.theme import follow_theme


class ChartToolbar(NavigationToolbar2Tk):
    """matplotlib's toolbar in the lab's look: its frame and icons follow the light or dark theme
    (icons drawn in the text colour on a dark background), and Back/Forward stay enabled (with no
    view to go back to they do nothing), because Tk draws a disabled image button as a stippled
    block on X11."""

    def set_history_buttons(self) -> None:
        for name in ("Back", "Forward"):
            if name in self._buttons:
                self._buttons[name]["state"] = tk.NORMAL

    def recolour(self, colours: dict[str, str]) -> None:
        bg, fg = colours["bg"], colours["fg"]
        for widget in (self, *self.winfo_children()):
            for option, value in (("background", bg), ("foreground", fg), ("activebackground", colours["panel"]),
                                  ("activeforeground", fg), ("highlightbackground", bg), ("selectcolor", bg)):
                try:
                    widget.configure(**{option: value})
                except tk.TclError:
                    pass   # a frame has no foreground, a separator no active colour
        for button in self._buttons.values():
            self._set_image_for_button(button)


class ChartPanel(ttk.Frame):
    def __init__(self, parent: tk.Misc, figsize: tuple[float, float] = (7.0, 4.0), dpi: int = 90,
                 toolbar: bool = True):
        super().__init__(parent)
        self.figure = Figure(figsize=figsize, dpi=dpi)
        self.canvas = FigureCanvasTkAgg(self.figure, master=self)
        if toolbar:
            self.toolbar = ChartToolbar(self.canvas, self, pack_toolbar=False)
            self.toolbar.update()
            follow_theme(self.toolbar, self.toolbar.recolour)
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
