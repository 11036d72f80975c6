"""The lab's modal dialogs in one place (tests replace :class:`Dialogs` with a recorder), and the
folder dialog: a path box that takes a typed or pasted path at once, with Browse... for Tk's own
chooser. (Tk's chooser alone needs OK twice on X11: the first OK only enters the folder typed.)"""
from __future__ import annotations

import os
import tkinter as tk
from pathlib import Path
from tkinter import filedialog, messagebox, ttk


def default_folder() -> str:
    """Where a folder dialog opens when nothing was chosen before: the user's documents folder
    (platformdirs) when it exists, else the home folder, never the program's own folder."""
    try:
        from platformdirs import user_documents_dir
        documents = user_documents_dir()
    except ImportError:
        documents = ""
    return documents if documents and os.path.isdir(documents) else str(Path.home())


class FolderDialog:
    """Choose a folder: type or paste a path (Enter is OK) or Browse...; ``create``: a folder that
    does not exist yet is made on OK (exports, registries), else it must exist (data folders).
    ``result`` is the absolute path chosen, or None after Cancel."""

    def __init__(self, root: tk.Misc, title: str, initial: str | None = None, create: bool = True):
        self.create, self.result = create, None
        self.window = tk.Toplevel(root)
        self.window.title(title)
        self.window.transient(root.winfo_toplevel())
        frame = ttk.Frame(self.window, padding=12)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text="Folder" + ("" if create else " (it must exist)")).grid(row=0, column=0, sticky="w")
        self.path = tk.StringVar(self.window, value=initial or default_folder())
        self.entry = ttk.Entry(frame, textvariable=self.path, width=56)
        self.entry.grid(row=1, column=0, sticky="ew", pady=(2, 0))
        ttk.Button(frame, text="Browse...", command=self.browse).grid(row=1, column=1, padx=(6, 0), pady=(2, 0))
        self.message = ttk.Label(frame, text="", style="Error.TLabel", wraplength=460)
        self.message.grid(row=2, column=0, columnspan=2, sticky="w", pady=(4, 0))
        buttons = ttk.Frame(frame)
        buttons.grid(row=3, column=0, columnspan=2, sticky="e", pady=(8, 0))
        ttk.Button(buttons, text="OK", command=self.ok).pack(side="left", padx=(0, 6))
        ttk.Button(buttons, text="Cancel", command=self.cancel).pack(side="left")
        frame.columnconfigure(0, weight=1)
        self.window.bind("<Return>", lambda _e: self.ok())
        self.window.bind("<KP_Enter>", lambda _e: self.ok())
        self.window.bind("<Escape>", lambda _e: self.cancel())
        self.window.protocol("WM_DELETE_WINDOW", self.cancel)
        top = root.winfo_toplevel()
        self.window.geometry(f"+{top.winfo_rootx() + 120}+{top.winfo_rooty() + 100}")
        self.entry.focus_set()
        self.entry.selection_range(0, "end")
        self.entry.icursor("end")

    def browse(self) -> None:
        start = Path(self.path.get().strip() or default_folder()).expanduser()
        while not start.is_dir() and start != start.parent:
            start = start.parent   # the nearest folder that exists
        chosen = filedialog.askdirectory(title=self.window.title(), initialdir=str(start), parent=self.window)
        if chosen:
            self.path.set(chosen)

    def check(self) -> tuple[str | None, str]:
        """(absolute folder, "") when the typed path can be used, else (None, the problem in words)."""
        text = self.path.get().strip()
        if not text:
            return None, "Type a folder, or choose one with Browse..."
        folder = Path(text).expanduser()
        folder = folder if folder.is_absolute() else Path.cwd() / folder
        if folder.exists() and not folder.is_dir():
            return None, f"{folder} is a file, not a folder."
        if not folder.exists():
            if not self.create:
                return None, f"{folder} does not exist."
            try:
                folder.mkdir(parents=True)
            except OSError as exc:
                return None, f"{folder} cannot be made: {exc.strerror or exc}."
        return str(folder), ""

    def ok(self) -> None:
        folder, problem = self.check()
        if folder is None:
            self.message.configure(text=problem)
            return
        self.result = folder
        self.window.destroy()

    def cancel(self) -> None:
        self.result = None
        self.window.destroy()


def ask_folder(root: tk.Misc, title: str, initial: str | None = None, create: bool = True) -> str | None:
    """Show a :class:`FolderDialog` and wait for it; the folder chosen, or None."""
    before = root.focus_get()
    dialog = FolderDialog(root, title, initial, create)
    try:
        dialog.window.grab_set()
    except tk.TclError:
        pass   # another grab is active; the dialog still works
    root.wait_window(dialog.window)
    try:   # the keyboard goes back where it was (shortcuts work at once, with or without a window manager)
        (before or root.winfo_toplevel()).focus_force()
    except tk.TclError:
        pass
    return dialog.result


class Dialogs:
    """Modal dialogs in one place, so tests can replace them with recorders."""

    def __init__(self, root: tk.Tk):
        self.root = root

    def error(self, title: str, message: str) -> None:
        messagebox.showerror(title, message, parent=self.root)

    def info(self, title: str, message: str) -> None:
        messagebox.showinfo(title, message, parent=self.root)

    def ask_yes_no(self, title: str, message: str) -> bool:
        return bool(messagebox.askyesno(title, message, parent=self.root))

    def ask_directory(self, title: str, initial: str | None = None, create: bool = True) -> str | None:
        return ask_folder(self.root, title, initial, create)

    def ask_open_files(self, title: str) -> list[str]:
        return list(filedialog.askopenfilenames(title=title, parent=self.root,
                                                filetypes=[("Genome JSON", "*.json"), ("All files", "*")]))

    def ask_save_file(self, title: str, initial: str) -> str | None:
        return filedialog.asksaveasfilename(title=title, initialfile=initial, defaultextension=".json",
                                            parent=self.root) or None
