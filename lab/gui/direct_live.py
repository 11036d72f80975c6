"""The direct-run window as a workbench: the engine settings stay editable while a run runs, and
Apply (Ctrl+Return) hands them to the run, which takes them at its next generation (pass); the
settings that shape the population are greyed out meanwhile. A bad value is named and nothing
changes; a change shows in the status line, on the charts (a dashed line) and in the run's history,
which Export charts and Save write as CSV (lab.arenas.live_settings).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from tkinter import ttk
from typing import Any

from lab.direct import SettingsApplied, SettingsInbox, SettingsRefused, engine_settings
from lab.gui.widgets.form import FormError
from lab.gui.widgets.tooltip import Tooltip

APPLY_HELP = ("Hand the engine settings above to the run under way (Ctrl+Return): they take effect at its "
              "next generation, are marked on the charts and kept in its history. Greyed-out settings shape "
              "the population and stay as the run started.")


def build_apply(window: Any, row: ttk.Frame) -> None:
    """The Apply button (in the row under Start, always in view), and its key."""
    window.inbox, window.settings_note = None, ""   # the note: the run's last settings change, after its status
    window.apply_button = ttk.Button(row, text="Apply", command=lambda: apply_settings(window), state="disabled")
    window.apply_button.pack(side="left", expand=True, fill="x", padx=1)
    Tooltip(window.apply_button, APPLY_HELP)
    window.top.bind("<Control-Return>", lambda _e: (apply_settings(window) if window.running else window.start(),
                                                     "break")[1])


def new_inbox(window: Any) -> SettingsInbox:
    """The inbox of the run about to start (the job reads it between steps)."""
    window.inbox, window.settings_note = SettingsInbox(window.arena), ""
    window.inbox.map_wanted = window.map_window is not None and not window.map_window.closed
    return window.inbox


def set_running(window: Any, running: bool) -> None:
    """Run and task forms are locked while a run runs; the engine settings stay editable but for
    the fixed ones."""
    for form in (window.run_form, window.task_form):
        form.set_enabled(not running)
    window.engine_form.set_enabled(True)
    if running:
        for name in window.panel.fixed:
            if name in window.engine_form.widgets:
                window.engine_form.widgets[name].configure(state="disabled")
    window.apply_button.configure(state="normal" if running else "disabled")


def apply_settings(window: Any) -> bool:
    """Apply: the engine form, validated as Start validates it, to the run under way."""
    if not window.running or window.inbox is None:
        window.app.show_error("Apply settings", "No run is under way: Start one (the settings apply from its "
                                                "first generation).")
        return False
    try:
        values = window.engine_form.values()
        names = {o.name for o in window.panel.options}
        genes = {k: v for k, v in values.items() if k not in names}
        options = {k: v for k, v in values.items() if k in names}
        engine_settings(window.arena, genes, options)
    except FormError as exc:
        problems = exc.problems
    except ValueError as exc:
        problems = [str(exc)]
    else:
        window.inbox.put(genes, options)
        _note(window, f"Applying the settings at the next {unit_word(window)}...")
        return True
    window.app.show_error("Apply settings", "Nothing was changed:\n" + "\n".join(problems))
    return False


def unit_word(window: Any) -> str:
    return window.unit(window.snapshot or {}).rstrip("s")


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def on_settings_event(window: Any, event: SettingsApplied | SettingsRefused) -> None:
    """What the run said of the settings handed to it."""
    if isinstance(event, SettingsRefused):
        window.app.show_error("Apply settings", f"Nothing was changed: {event.message}")
        _note(window, "The settings were not applied: see the message.")
    elif not event.changes:
        _note(window, "The run already had these settings: nothing changed.")
    else:
        what = ", ".join(f"{k} {_fmt(old)} -> {_fmt(new)}" for k, (old, new) in event.changes.items())
        _note(window, f"Settings changed after {event.at:,} {window.unit(window.snapshot or {})}: {what}.")


def _note(window: Any, text: str) -> None:
    """``text`` after the status line until the next note (the status itself follows the reports)."""
    window.settings_note = f". {text}"
    window._show_status()


def form_values(arena: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """The engine form's values for saved settings (a resumed run's): gene fields and options."""
    cls = arena.settings_class
    names = {g.key for g in cls.gene_fields()} | {o.name for o in getattr(arena.direct_panel, "options", ())}
    known = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in settings.items() if k in names and k in known}


def export_charts(window: Any) -> list[Path]:
    """Export charts: the four charts for a paper and, once the run has stopped, its history as CSV."""
    if window.snapshot is None:
        window.app.show_error("Export charts", "Start a run first: there is nothing to draw yet.")
        return []
    folder = window.app.ask_export_folder("Export the direct run's charts to folder")
    if not folder:
        return []
    s = window.snapshot
    stem = f"{window.arena.name}-direct-seed{s.get('seed', 0)}-{s['passes']}{window.unit(s)}"
    paths = window.panel.export(folder, stem, s, window.history, getattr(window.task, "target_acc", None))
    paths += [p for p in (write_history(window, folder, stem),) if p is not None]
    window.status.configure(text=f"Wrote {len(paths)} file(s) to {folder}")
    return paths


def build_map_button(window: Any, row: ttk.Frame) -> None:
    """Hidden-layer map... for an arena whose models have a hidden layer to map."""
    window.map_window = None
    if not window.panel.hidden_map:
        return
    button = ttk.Button(row, text="Hidden-layer map...", command=lambda: open_map(window))
    button.pack(side="left", expand=True, fill="x", padx=1)
    Tooltip(button, "The best model's hidden activations on held-out images, projected to 2D and coloured by "
                    "class (Ctrl+M); live during a run.")
    window.top.bind("<Control-m>", lambda _e: (open_map(window), "break")[1])


def open_map(window: Any) -> Any:
    """Open the hidden-layer map window (or bring it forward)."""
    from lab.gui.hidden_map_window import HiddenMapWindow
    if window.map_window is not None and not window.map_window.closed:
        window.map_window.top.lift()
        return window.map_window
    window.map_window = HiddenMapWindow(window)
    return window.map_window


def on_report(window: Any, snapshot: dict[str, Any]) -> None:
    """A report of the run reaches the map window, if one is open."""
    if window.map_window is not None and not window.map_window.closed:
        window.map_window.update_from(snapshot)


def close_map(window: Any) -> None:
    if window.map_window is not None:
        window.map_window.close()


def write_history(window: Any, folder: str, stem: str) -> Path | None:
    """The kept engine's history as ``<stem>-history.csv`` in ``folder`` (None: no engine kept yet,
    as while a run runs)."""
    engine = window.engine
    if engine is None or window.running or not callable(getattr(engine, "history_table", None)):
        return None
    from lab.arenas.live_settings import engine_history_csv
    from lab.files import atomic_write_text
    return atomic_write_text(Path(folder) / f"{stem}-history.csv", engine_history_csv(engine))
