"""Where the user left the dividers (sashes) between panes inside the tabs, kept between sessions.

A paned window is known by its Tk path name, which is the same at every start because the tabs are
built in the same order; a stored position for a path that no longer exists is ignored. Positions
are put back when a paned window is first laid out (a tab not yet shown is laid out when it is
first selected), so they apply to the size it really has."""
from __future__ import annotations

import tkinter as tk
from collections.abc import Mapping
from tkinter import ttk
from typing import Any

from lab.gui.widgets import descendants

MAX_PANES = 64          # paned windows a settings file may name
MAX_SASHES = 8          # sashes per paned window
MAX_POSITION = 100_000  # pixels


def paned_windows(top: tk.Misc) -> list[ttk.PanedWindow]:
    return [w for w in descendants(top) if isinstance(w, ttk.PanedWindow)]


def sash_positions(top: tk.Misc) -> dict[str, list[int]]:
    """path -> sash positions in pixels, for every paned window under ``top`` that has been laid out."""
    out = {}
    for pane in paned_windows(top):
        count = len(pane.panes()) - 1
        if count >= 1 and pane.winfo_ismapped() and max(pane.winfo_width(), pane.winfo_height()) > 1:
            out[str(pane)] = [int(pane.sashpos(i)) for i in range(count)]
    return out


def clean_sashes(stored: Any) -> dict[str, list[int]]:
    """The part of a settings file's ``sashes`` that has the right shape (anything else is dropped)."""
    if not isinstance(stored, Mapping):
        return {}
    out = {}
    for path, positions in list(stored.items())[:MAX_PANES]:
        if (isinstance(path, str) and path.startswith(".") and len(path) < 400 and isinstance(positions, list)
                and 1 <= len(positions) <= MAX_SASHES
                and all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= MAX_POSITION
                        for p in positions)):
            out[path] = list(positions)
    return out


def restore_sashes(top: tk.Misc, sashes: Mapping[str, list[int]]) -> None:
    """Put the stored sash positions back on each paned window under ``top`` once it is laid out,
    outer ones first (moving an outer divider resizes the panes inside it, which re-spreads theirs)."""
    pending = {str(p): p for p in paned_windows(top) if sashes.get(str(p))}
    if not pending:
        return
    scheduled = {"id": None, "busy": False}

    def apply() -> None:
        scheduled["busy"] = True   # laying out below sends Configure events: no nested apply
        try:
            for path in sorted(pending, key=lambda p: p.count(".")):
                pane = pending[path]
                if not pane.winfo_exists():
                    pending.pop(path)
                    continue
                if not pane.winfo_ismapped() or max(pane.winfo_width(), pane.winfo_height()) <= 1:
                    continue   # in a tab not shown yet: done when it is first laid out
                for i, position in enumerate(sashes[path][: len(pane.panes()) - 1]):
                    pane.sashpos(i, position)
                pane.update_idletasks()
                pending.pop(path)
        finally:
            scheduled["busy"], scheduled["id"] = False, None

    def soon(_event=None) -> None:
        if pending and scheduled["id"] is None and not scheduled["busy"]:
            scheduled["id"] = top.after_idle(apply)

    for pane in pending.values():
        pane.bind("<Configure>", soon, add="+")
    soon()
