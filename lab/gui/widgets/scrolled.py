"""A frame whose content scrolls vertically when it is given less room than it asks for (a long form
on a small screen); it asks for its content's size, and the scroll bar shows only when the content
does not fit, so a form that fits looks as it would unwrapped.
"""
from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from lab.gui.theme import follow_theme
from lab.gui.widgets import descendants

WHEEL_UNITS = 2
# these spin or cycle their value on the wheel: scrolling over them must not also change a setting
WHEEL_OWNERS = (ttk.Combobox, ttk.Spinbox)


class ScrolledFrame(ttk.Frame):
    """Put the content in ``inner``; call :meth:`bind_wheel` once it is built. ``ask_height``: ask
    for at most this many pixels, so that a frame given room by its layout can also give it back
    (the rest of a column stays on screen when the window gets shorter)."""

    def __init__(self, parent: tk.Misc, ask_height: int | None = None):
        super().__init__(parent)
        self.ask_height = ask_height
        self.canvas = tk.Canvas(self, highlightthickness=0, borderwidth=0)
        follow_theme(self.canvas, lambda c: self.canvas.configure(background=c["bg"]))
        self.scrollbar = ttk.Scrollbar(self, orient="vertical", command=self.canvas.yview)
        self.canvas.configure(yscrollcommand=self.scrollbar.set)
        self.canvas.pack(side="left", fill="both", expand=True)
        self.inner = ttk.Frame(self.canvas)
        self._window = self.canvas.create_window(0, 0, anchor="nw", window=self.inner)
        self.inner.bind("<Configure>", lambda _e: self._fit())
        self.canvas.bind("<Configure>", lambda _e: self._fit())

    @property
    def overflows(self) -> bool:
        """Whether the content is taller than the frame (and the scroll bar shows)."""
        return self.inner.winfo_reqheight() > self.canvas.winfo_height() > 1

    def _fit(self) -> None:
        width, height = self.inner.winfo_reqwidth(), self.inner.winfo_reqheight()
        asked = height if self.ask_height is None else min(height, self.ask_height)
        if int(self.canvas.cget("height")) != asked or int(self.canvas.cget("width")) != width:
            self.canvas.configure(width=width, height=asked)
        self.canvas.configure(scrollregion=(0, 0, width, height))
        self.canvas.itemconfigure(self._window, width=self.canvas.winfo_width())
        shown = bool(self.scrollbar.winfo_manager())
        if self.overflows and not shown:
            self.scrollbar.pack(side="right", fill="y", before=self.canvas)
        elif not self.overflows and shown:
            self.scrollbar.pack_forget()
            self.canvas.yview_moveto(0.0)

    def _scroll(self, units: int) -> None:
        if self.overflows:
            self.canvas.yview_scroll(units, "units")

    def bind_wheel(self) -> None:
        """Scroll with the mouse wheel (X11 buttons 4 and 5, and the MouseWheel event elsewhere) over
        the content, except over widgets that use the wheel themselves."""
        for w in descendants(self):
            if isinstance(w, WHEEL_OWNERS):
                continue
            w.bind("<Button-4>", lambda _e: self._scroll(-WHEEL_UNITS), add="+")
            w.bind("<Button-5>", lambda _e: self._scroll(WHEEL_UNITS), add="+")
            w.bind("<MouseWheel>", lambda e: self._scroll(-WHEEL_UNITS if e.delta > 0 else WHEEL_UNITS), add="+")
