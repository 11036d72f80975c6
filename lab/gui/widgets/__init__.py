"""Reusable Tk widgets of the lab: tooltips, labels fitted to their width, validated forms, chart
panels and chart controls, the diversity grid, the radar chart, the genome picker and the gene editor."""
from __future__ import annotations

import tkinter as tk


def descendants(widget: tk.Misc) -> list[tk.Misc]:
    """``widget`` and every widget inside it (to bind keys on all of a tab's widgets)."""
    out, stack = [], [widget]
    while stack:
        w = stack.pop()
        out.append(w)
        stack += w.winfo_children()
    return out
