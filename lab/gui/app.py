"""The lab's window. For now a shell: the four tabs say what they will hold, the status bar shows
the registry. The tabs are filled by their own modules as they land.
"""
from __future__ import annotations

import os
import sys
import tkinter as tk
from tkinter import ttk

from lab import __version__
from lab.registry import Registry

# tab title -> what it is for (one line), in display order
TABS = {
    "Evolution Lab": "Evolve populations of genomes in a chosen arena: selection, crossover, cloning, "
                     "mutation, aliens, elites with senescence and a Hall of Fame, watched live.",
    "Gene Forge": "Edit and splice genomes by hand: radar view, per-gene editor, horizontal gene transfer.",
    "Stress Chamber": "Peer review: Monte Carlo over seeds with Smart Fill, and seven analysis charts "
                      "exported for papers.",
    "Phylogeny": "Genomes mapped to 3D by PCA and clustered into named species at seven taxonomy levels.",
}


def no_display_reason() -> str | None:
    """Why no window can open here, or None if a display seems available."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display found (DISPLAY is not set)"
    return None


def build_window(root: tk.Tk, registry: Registry) -> ttk.Notebook:
    root.title(f"Speciation Lab {__version__}")
    root.minsize(900, 560)
    menubar = tk.Menu(root)
    file_menu = tk.Menu(menubar, tearoff=False)
    file_menu.add_command(label="Quit", accelerator="Ctrl+Q", command=root.destroy)
    menubar.add_cascade(label="File", menu=file_menu)
    root.config(menu=menubar)
    root.bind_all("<Control-q>", lambda _e: root.destroy())

    notebook = ttk.Notebook(root)
    for title, purpose in TABS.items():
        frame = ttk.Frame(notebook, padding=24)
        ttk.Label(frame, text=title, font=("TkDefaultFont", 16, "bold")).pack(anchor="w")
        ttk.Label(frame, text=purpose, wraplength=760, justify="left").pack(anchor="w", pady=(8, 16))
        ttk.Label(frame, text="This tab is not built yet. The headless commands work now: "
                              "python main.py --help", foreground="#8a5a00").pack(anchor="w")
        notebook.add(frame, text=title)
    notebook.pack(fill="both", expand=True)

    n = len(registry.genome_ids())
    status = ttk.Label(root, relief="sunken", anchor="w", padding=(6, 2),
                       text=f"Registry: {registry.root}   |   {n} genome(s)")
    status.pack(fill="x", side="bottom")
    return notebook


def run_gui(registry: str | None = None) -> int:
    from lab.cli import HEADLESS_HELP
    reason = no_display_reason()
    root = None
    if reason is None:
        try:
            root = tk.Tk()
        except tk.TclError as exc:
            reason = f"the window cannot open ({exc})"
    if root is None:
        print(f"Speciation Lab: {reason}.\n{HEADLESS_HELP}", file=sys.stderr)
        return 1
    build_window(root, Registry(registry))
    root.mainloop()
    return 0
