"""Tables (ttk.Treeview) that size their columns to their content and explain each column.

``fit_columns`` measures the heading and every cell with the fonts the table draws them in, so
ids, names, "-1200.0" or dates are never clipped; ``HeadingTips`` shows a tooltip for the column
heading under the pointer (what the number counts, over which trials).
"""
from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk

from lab.gui.widgets.tooltip import Tooltip

PADDING = 18          # pixels beside the widest text (cell padding and the sort arrow's room)
MAX_WIDTH = 360       # a free-text column wider than this is cut (its tooltip or detail view shows it)


def _font(tree: ttk.Treeview, style: str, fallback: str) -> tkfont.Font:
    name = ttk.Style(tree).lookup(style, "font") or fallback
    try:
        return tkfont.nametofont(name)
    except tk.TclError:
        return tkfont.Font(tree, font=name)


def fit_columns(tree: ttk.Treeview, max_width: int = MAX_WIDTH, min_width: int = 28) -> dict[str, int]:
    """Set each column's width to its widest heading or cell text (bounded); returns the widths."""
    body = _font(tree, "Treeview", "TkDefaultFont")
    head = _font(tree, "Treeview.Heading", "TkHeadingFont")
    widths: dict[str, int] = {}
    columns = list(tree["columns"])
    show = str(tree.cget("show"))
    if "tree" in show:
        columns = ["#0", *columns]
    rows = tree.get_children()
    for col in columns:
        texts = [str(tree.item(i, "text")) if col == "#0" else str(tree.set(i, col)) for i in rows]
        width = max([head.measure(str(tree.heading(col, "text")))] + [body.measure(t) for t in texts])
        # a tree column also holds the indent and the item's image
        extra = 24 if col == "#0" else 0
        widths[col] = max(min_width, min(max_width, width + PADDING + extra))
        tree.column(col, width=widths[col], minwidth=min_width)
    return widths


class HeadingTips(Tooltip):
    """A tooltip per column heading of ``tree`` (``tips``: column id -> text; "#0" the tree column)."""

    def __init__(self, tree: ttk.Treeview, tips: dict[str, str]):
        self.tips = dict(tips)
        self._column: str | None = None
        super().__init__(tree, "")
        tree.bind("<Motion>", self._moved, add="+")

    def column_at(self, x: int, y: int) -> str | None:
        tree = self.widget
        if tree.identify_region(x, y) != "heading":
            return None
        col = tree.identify_column(x)
        if col == "#0":
            return "#0"
        try:
            return list(tree["columns"])[int(col.lstrip("#")) - 1]
        except (ValueError, IndexError):
            return None

    def _moved(self, event) -> None:
        col = self.column_at(event.x, event.y)
        if col == self._column:
            return
        self._column = col
        self._hide()
        self.text = self.tips.get(col, "") if col else ""
        if self.text:
            self._schedule()


def scroll_both(tree: ttk.Treeview, frame: ttk.Frame) -> None:
    """Lay ``tree`` out in ``frame`` (its parent) with vertical and horizontal scrollbars, no column
    stretching: a narrow pane scrolls sideways instead of squeezing a column to nothing."""
    for col in ("#0", *tree["columns"]):
        tree.column(col, stretch=False)
    down = ttk.Scrollbar(frame, orient="vertical", command=tree.yview)
    across = ttk.Scrollbar(frame, orient="horizontal", command=tree.xview)
    tree.configure(yscrollcommand=down.set, xscrollcommand=across.set)
    frame.rowconfigure(0, weight=1)
    frame.columnconfigure(0, weight=1)
    tree.grid(row=0, column=0, sticky="nsew")
    down.grid(row=0, column=1, sticky="ns")
    across.grid(row=1, column=0, sticky="ew")


def headed_table(frame: ttk.Frame, columns: dict[str, tuple[str, int]], stretch: str = "name",
                 **options) -> ttk.Treeview:
    """A table of ``columns`` (name -> (heading, width); only ``stretch`` takes spare width) filling
    ``frame`` beside a vertical scrollbar. ``options`` go to the Treeview (selectmode, height)."""
    tree = ttk.Treeview(frame, columns=list(columns), show="headings", **options)
    for col, (heading, width) in columns.items():
        tree.heading(col, text=heading)
        tree.column(col, width=width, stretch=col == stretch)
    scroll = ttk.Scrollbar(frame, orient="vertical", command=tree.yview)
    tree.configure(yscrollcommand=scroll.set)
    tree.pack(side="left", fill="both", expand=True)
    scroll.pack(side="right", fill="y")
    return tree
