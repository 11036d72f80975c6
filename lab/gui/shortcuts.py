"""Help > Keyboard shortcuts (F1): the command table's shortcuts in a two-column table (shortcut,
command), grouped under their menus, in a small window that Escape or Close dismisses."""
from __future__ import annotations

import tkinter as tk
from collections.abc import Iterable, Sequence
from tkinter import ttk


def shortcut_groups(commands: Iterable, menus: Sequence[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """[("File menu", [(shortcut, command label), ...]), ...] in menu order, commands with a shortcut only."""
    commands = list(commands)
    groups = []
    for menu in menus:
        rows = [(c.shortcut, c.label.removesuffix("...")) for c in commands if c.menu == menu and c.shortcut]
        if rows:
            groups.append((f"{menu} menu", rows))
    return groups


# keys every text field understands (not menu commands); listed in the shortcuts window too
FIELD_KEYS = [("Ctrl+A", "Select the whole field (then type to replace it)")]
_ENTRY_CLASSES = ("TEntry", "TSpinbox", "TCombobox", "Entry", "Spinbox")


def _select_all(event: tk.Event) -> str:
    widget = event.widget
    try:
        widget.selection_range(0, "end")
        widget.icursor("end")
    except (tk.TclError, AttributeError):
        return ""
    return "break"


def shortcut_table(commands: Iterable, menus: Sequence[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """What F1 shows: the menus' shortcuts (:func:`shortcut_groups`), then the keys of text fields."""
    return shortcut_groups(commands, menus) + [("Text fields", list(FIELD_KEYS))]


def bind_field_keys(root: tk.Misc) -> None:
    """Ctrl+A selects a field's whole text, as researchers expect (Tk's own binding moves to the start
    of the line instead, so typing a new value after it was prepended to the old one)."""
    for cls in _ENTRY_CLASSES:
        root.bind_class(cls, "<Control-a>", _select_all)
        root.bind_class(cls, "<Control-A>", _select_all)


class ShortcutsDialog:
    """The shortcuts window; ``table`` is its Treeview: a bold row per menu, then its commands."""

    def __init__(self, root: tk.Misc, groups: list[tuple[str, list[tuple[str, str]]]]):
        self.window = tk.Toplevel(root)
        self.window.title("Keyboard shortcuts")
        self.window.transient(root.winfo_toplevel())
        frame = ttk.Frame(self.window, padding=10)
        frame.pack(fill="both", expand=True)
        rows = sum(len(r) + 1 for _m, r in groups)
        self.table = ttk.Treeview(frame, columns=("shortcut", "command"), show="headings", selectmode="none",
                                  height=min(rows, 26))
        self.table.heading("shortcut", text="Shortcut", anchor="w")
        self.table.heading("command", text="Command", anchor="w")
        self.table.column("shortcut", width=120, stretch=False)
        self.table.column("command", width=380, stretch=True)
        self.table.tag_configure("menu", font=("TkDefaultFont", 10, "bold"))
        for menu, commands in groups:
            self.table.insert("", "end", values=(menu, ""), tags=("menu",))
            for shortcut, label in commands:
                self.table.insert("", "end", values=(shortcut, label))
        self.table.pack(fill="both", expand=True)
        close = ttk.Button(frame, text="Close", command=self.close)
        close.pack(anchor="e", pady=(8, 0))
        self.window.bind("<Escape>", lambda _e: self.close())
        self.window.bind("<Return>", lambda _e: self.close())
        close.focus_set()
        top = root.winfo_toplevel()   # over the main window, not wherever the window manager puts it
        self.window.geometry(f"+{top.winfo_rootx() + 80}+{top.winfo_rooty() + 60}")

    def rows(self) -> list[tuple[str, str, str]]:
        """(menu, shortcut, command) as shown, for tests and scripts."""
        out, menu = [], ""
        for item in self.table.get_children():
            shortcut, label = self.table.item(item, "values")
            if "menu" in self.table.item(item, "tags"):
                menu = shortcut.removesuffix(" menu")
            else:
                out.append((menu, shortcut, label))
        return out

    def exists(self) -> bool:
        try:
            return bool(self.window.winfo_exists())
        except tk.TclError:
            return False

    def close(self) -> None:
        if self.exists():
            self.window.destroy()
