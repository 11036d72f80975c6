"""A one-line label that shows as much of its text as its width allows, cut in the middle with an
ellipsis (the start and the end of a path or run id stay readable), and the whole text in a tooltip."""
from __future__ import annotations

import tkinter as tk
from tkinter import font as tkfont
from tkinter import ttk

from lab.gui.widgets.tooltip import Tooltip


def elide_to(text: str, font: tkfont.Font, pixels: int) -> str:
    """``text`` cut in the middle (with an ellipsis) to the longest that measures at most ``pixels``."""
    if pixels <= 0 or font.measure(text) <= pixels:
        return text if pixels > 0 else ""
    low, high = 0, len(text)   # characters kept: the largest that fits
    while low < high:
        mid = (low + high + 1) // 2
        if font.measure(cut_middle(text, mid)) <= pixels:
            low = mid
        else:
            high = mid - 1
    return cut_middle(text, low) if low else ""


def cut_middle(text: str, keep: int) -> str:
    """``text`` with ``keep`` of its characters, the start and the end, an ellipsis between."""
    head = (keep + 1) // 2
    return text[:head] + "\u2026" + text[len(text) - (keep - head):] if keep < len(text) else text


class FitLabel(ttk.Label):
    """Shows ``variable``'s text fitted to the width it is given (pack it with ``fill``/``expand``:
    it asks for no width of its own, so it never pushes its neighbours off a status bar)."""

    def __init__(self, parent: tk.Misc, variable: tk.StringVar, **kw):
        super().__init__(parent, width=1, **kw)
        self.variable = variable
        self.tip = Tooltip(self, "")
        variable.trace_add("write", lambda *_a: self._fit())
        self.bind("<Configure>", lambda _e: self._fit(), add="+")

    def _font(self) -> tkfont.Font:
        name = ttk.Style(self).lookup(self.cget("style") or "TLabel", "font") or "TkDefaultFont"
        try:
            return tkfont.nametofont(name)
        except tk.TclError:
            return tkfont.Font(self, font=name)

    def _fit(self) -> None:
        text = self.variable.get()
        shown = elide_to(text, self._font(), self.winfo_width() - 10)   # less the theme's padding
        self.configure(text=shown)
        self.tip.text = text if shown != text else ""
