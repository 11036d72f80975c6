"""A tool window over the lab's window: a Toplevel placed beside its parent that closes with the
window manager's button, Esc and Ctrl+W alike."""
from __future__ import annotations

import tkinter as tk
from collections.abc import Callable


def tool_window(parent: tk.Misc, title: str, size: tuple[int, int], offset: tuple[int, int],
                close: Callable[[], object]) -> tk.Toplevel:
    """A Toplevel titled ``title``, ``size`` (width, height) at ``offset`` from ``parent``'s corner;
    ``close`` runs on the close button, Esc and Ctrl+W."""
    top = tk.Toplevel(parent)
    top.title(title)
    top.geometry(f"{size[0]}x{size[1]}+{parent.winfo_rootx() + offset[0]}+{parent.winfo_rooty() + offset[1]}")
    top.protocol("WM_DELETE_WINDOW", close)
    for key in ("<Escape>", "<Control-w>"):
        top.bind(key, lambda _e: (close(), "break")[1])
    return top
