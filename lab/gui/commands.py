"""The one table of menu commands and keyboard shortcuts: the app adds its own, each tab adds its own
from its build (``app.add_command``), and every command becomes a menu item, a key binding and a row
of the F1 shortcuts window (lab.gui.shortcuts) at once."""
from __future__ import annotations

import dataclasses
import tkinter as tk
from collections.abc import Callable

MENUS = ("File", "View", "Run", "Help")
_MODIFIERS = {"Ctrl": "Control", "Shift": "Shift", "Alt": "Alt"}


def key_sequence(keys: str) -> str:
    """The Tk event sequence of a shortcut as people write it: ``Ctrl+O`` -> ``<Control-o>``,
    ``Ctrl+Shift+E`` -> ``<Control-E>`` (Tk spells Shift on a letter as its capital), ``Ctrl+1`` ->
    ``<Control-Key-1>``, ``Shift+F5`` -> ``<Shift-F5>``; empty for no shortcut."""
    if not keys:
        return ""
    *mods, key = keys.split("+")
    mods = [_MODIFIERS[m] for m in mods]
    if len(key) == 1 and key.isalpha():
        shifted = "Shift" in mods
        key = key.upper() if shifted else key.lower()
        mods = [m for m in mods if m != "Shift"]
    elif len(key) == 1 and key.isdigit():
        key = f"Key-{key}"
    return "<" + "-".join([*mods, key]) + ">"


@dataclasses.dataclass(frozen=True)
class Command:
    name: str
    menu: str
    label: str
    shortcut: str = ""     # as shown in the menu and the shortcuts dialog

    @property
    def sequence(self) -> str:
        """The Tk event sequence bound to it."""
        return key_sequence(self.shortcut)


class CommandTable:
    """The menu bar and the key bindings, filled as commands are added (menus keep the order of adding)."""

    def __init__(self, root: tk.Tk, invoke: Callable[[str], object]):
        self.root, self._invoke = root, invoke
        self.commands: list[Command] = []
        self.handlers: dict[str, Callable[[], object]] = {}
        menubar = tk.Menu(root)
        self.menus = {name: tk.Menu(menubar, tearoff=False) for name in MENUS}
        for name in MENUS:
            menubar.add_cascade(label=name, menu=self.menus[name])
        root.config(menu=menubar)

    def add(self, command: Command, callback: Callable[[], object]) -> Command:
        if command.menu not in self.menus:
            raise ValueError(f"no such menu {command.menu!r} (menus: {', '.join(MENUS)})")
        if command.name in self.handlers:
            raise ValueError(f"command {command.name!r} is already in the table")
        taken = [c.name for c in self.commands if command.shortcut and c.shortcut == command.shortcut]
        if taken:
            raise ValueError(f"shortcut {command.shortcut} of {command.name!r} is taken by {taken[0]!r}")
        self.commands.append(command)
        self.handlers[command.name] = callback
        self.menus[command.menu].add_command(label=command.label, accelerator=command.shortcut,
                                             command=lambda n=command.name: self._invoke(n))
        if command.sequence:
            self.root.bind_all(command.sequence, lambda _e, n=command.name: (self._invoke(n), "break")[1])
        return command
