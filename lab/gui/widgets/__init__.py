"""Reusable Tk widgets of the lab: tooltips, labels fitted to their width, validated forms, chart
panels and chart controls, the diversity grid, the radar chart, the genome picker and the gene editor."""
from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import font as tkfont
from tkinter import ttk


def descendants(widget: tk.Misc) -> list[tk.Misc]:
    """``widget`` and every widget inside it (to bind keys on all of a tab's widgets)."""
    out, stack = [], [widget]
    while stack:
        w = stack.pop()
        out.append(w)
        stack += w.winfo_children()
    return out


def fit_dropdowns(top: tk.Misc) -> int:
    """Make every combobox under ``top`` open a list as wide as its longest entry (the box itself
    may be narrow; its list never cuts an entry). Returns how many boxes were set up."""
    boxes = [w for w in descendants(top) if isinstance(w, ttk.Combobox) and not getattr(w, "_lab_fitted", False)]
    for box in boxes:
        box.configure(postcommand=lambda box=box: _opened(box))
        box._lab_fitted = True
    return len(boxes)


def list_follows(box: ttk.Combobox, values: Callable[[], Sequence[str]]) -> None:
    """The box offers ``values()`` now and reads them again each time it opens, so an arena or a
    gene spec registered since the window was built is offered too."""
    box._lab_values = values
    box.configure(values=list(values()), postcommand=lambda: _opened(box))
    box._lab_fitted = True


def _opened(box: ttk.Combobox) -> None:
    values = getattr(box, "_lab_values", None)
    if values is not None:
        box.configure(values=list(values()))
    _widen_list(box)


def fit_dropdowns_everywhere(root: tk.Misc) -> None:
    """:func:`fit_dropdowns` for the boxes there are now and for any made later (dialogs, rebuilt
    forms): a box is set up the first time the pointer or the focus reaches it."""
    fit_dropdowns(root)
    for sequence in ("<Enter>", "<FocusIn>"):
        root.bind_class("TCombobox", sequence, lambda e: (fit_dropdowns(e.widget), None)[1], add="+")


def _widen_list(box: ttk.Combobox) -> None:
    font = tkfont.nametofont("TkDefaultFont")
    values = [str(v) for v in box.tk.splitlist(box.cget("values"))]
    widest = max([font.measure(v) for v in values] or [0])
    try:
        popdown = box.tk.eval(f"ttk::combobox::PopdownWindow {box}")
        box.tk.call(f"{popdown}.f.l", "configure", "-width", max(1, widest // max(1, font.measure("0")) + 2))
    except tk.TclError:
        pass
