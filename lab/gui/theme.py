"""The lab's look: the Sun Valley ttk theme (sv-ttk), light or dark, with the system's own font
family at a compact size so every form fits the default window; where sv-ttk cannot load, ttk's
'clam' theme. Also the few colours the lab's own styles use (error and muted text, the log pane).
"""
from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable
from tkinter import font as tkfont
from tkinter import ttk

log = logging.getLogger("lab.gui")

FALLBACK = "clam"
# style -> colour, per theme; "clam" is the fallback's (a light look)
COLOURS = {
    "light": {"error": "#b00020", "muted": "#5f5f5f", "text_bg": "#ffffff", "text_fg": "#1c1c1c",
              "bg": "#fafafa", "fg": "#1c1c1c", "panel": "#f0f0f0"},
    "dark": {"error": "#ff7b8a", "muted": "#a8a8a8", "text_bg": "#262626", "text_fg": "#e8e8e8",
             "bg": "#1c1c1c", "fg": "#e8e8e8", "panel": "#2a2a2a"},
}
# sv-ttk asks for Segoe UI (absent on Linux) at 14 px; the system's family at these sizes keeps
# the forms the size they were designed for
FONT_SIZES = {"SunValleyCaptionFont": -12, "SunValleyBodyFont": -13, "SunValleyBodyStrongFont": -13,
              "SunValleyBodyLargeFont": -16, "SunValleySubtitleFont": -18, "SunValleyTitleFont": -24}


def follow_theme(widget: tk.Misc, recolour: Callable[[dict[str, str]], None]) -> None:
    """Have ``recolour(colours)`` called now and on every change of look: for the plain Tk widgets
    (canvases, the chart toolbar, check lists) that ttk themes do not reach. A destroyed widget's
    callback is dropped. Kept on the Tk root, so widgets in other windows (a direct run) follow too."""
    root = widget._root()
    followers = root.__dict__.setdefault("_lab_theme_followers", [])
    followers.append((widget, recolour))
    recolour(current_colours(root))


def current_colours(root: tk.Misc) -> dict[str, str]:
    """The colours of the look ``root`` shows now (light before any theme is applied)."""
    return getattr(root._root(), "_lab_colours", COLOURS["light"])


def _recolour_followers(root: tk.Misc, colours: dict[str, str]) -> None:
    root._lab_colours = colours
    alive = []
    for widget, recolour in getattr(root, "_lab_theme_followers", []):
        try:
            if widget.winfo_exists():
                recolour(colours)
                alive.append((widget, recolour))
        except tk.TclError:
            continue
    root._lab_theme_followers = alive


def sv_ttk_available(root: tk.Tk) -> bool:
    """Whether the Sun Valley theme can be loaded into ``root`` (loads it the first time)."""
    if getattr(root, "_lab_sv_ttk", None) is None:
        try:
            import sv_ttk
            sv_ttk.get_theme(root)   # sources the theme's Tcl files once per interpreter
        except (ImportError, tk.TclError, TypeError) as exc:
            log.info("the sv-ttk theme is not available (%s); using the '%s' look", exc, FALLBACK)
            root._lab_sv_ttk = False
        else:
            root._lab_sv_ttk = True
            family = tkfont.nametofont("TkDefaultFont", root=root).actual("family")
            for name, size in FONT_SIZES.items():
                tkfont.nametofont(name, root=root).configure(family=family, size=size)
    return root._lab_sv_ttk


def apply_theme(root: tk.Tk, name: str) -> str:
    """Switch to the ``light`` or ``dark`` look; returns the ttk theme in use (``clam`` when
    sv-ttk cannot load, which is light)."""
    style = ttk.Style(root)
    if sv_ttk_available(root):
        import sv_ttk
        sv_ttk.set_theme(name, root)
        colours = COLOURS[name]
    else:
        style.theme_use(FALLBACK)
        style.configure("TNotebook.Tab", padding=(14, 4))
        style.configure("Treeview", rowheight=20)
        colours = COLOURS["light"]
    style.configure("Heading.TLabel", font=("TkDefaultFont", 11, "bold"))
    style.configure("Error.TLabel", foreground=colours["error"])
    style.configure("Muted.TLabel", foreground=colours["muted"])
    colours = {**colours, **_theme_colours(root, name)}
    _recolour_followers(root, colours)
    return style.theme_use()


def _theme_colours(root: tk.Misc, name: str) -> dict[str, str]:
    """The background and text colours sv-ttk itself uses for ``name`` (its Tcl colour table);
    nothing where the theme is not loaded."""
    try:
        table = root.tk.splitlist(root.tk.eval(f"array get ::ttk::theme::sv_{name}::colors"))
    except tk.TclError:
        return {}
    values = dict(zip(table[::2], table[1::2]))
    return {key: values[f"-{key}"] for key in ("bg", "fg") if f"-{key}" in values}


def colours(root: tk.Tk, name: str) -> dict[str, str]:
    """The lab's colours for the look ``name`` as it is shown (the fallback is always light)."""
    return COLOURS[name if getattr(root, "_lab_sv_ttk", False) else "light"]
