"""Save and Resume for the direct-run window: the engine a run leaves behind is written to a folder
through ``arena.save_run``; a saved folder is read back by ``arena.resume_run`` inside the run's job
(off the Tk thread, like a new engine) and continues to its budget. Bad folders are one message.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any

from lab.direct import EngineReport, direct_job
from lab.gui.direct_live import form_values, new_inbox


def saved_run(arena: Any, folder: str) -> tuple[Any, dict[str, Any]]:
    """(task, meta) of the run saved in ``folder``: a quick JSON read, so that a wrong folder is
    refused before anything changes; ValueError names the problem."""
    try:
        meta = arena._checkpoint().read_meta(folder)
        return dataclasses.replace(arena.default_task(), **meta["task"]), meta
    except (TypeError, KeyError) as exc:
        raise ValueError(f"cannot resume from {folder}: its task does not fit this lab ({exc})") from None


def save_engine(window: Any) -> list[str]:
    """Save: the stopped or finished run's engine into a folder the user picks; returns the paths."""
    if window.engine is None or window.running:
        window.app.show_error("Save run", "Run or stop a run first: there is no engine to save yet.")
        return []
    folder = window.app.ask_export_folder("Save the direct run's engine to folder")
    if not folder:
        return []
    try:
        paths = window.arena.save_run(window.engine, folder)
    except (OSError, ValueError) as exc:
        window.app.show_error("Save run", f"Nothing was saved: {exc}")
        return []
    s = window.snapshot or {}
    window.status.configure(text=f"Saved the run at {s.get('passes', 0):,} "
                                 f"{window.unit(s)} to {folder}")
    return paths


def resume_engine(window: Any, folder: str | None = None) -> bool:
    """Resume: rebuild the run saved in a folder the user picks and continue it to its budget now
    (the folder fixes task, settings and seed, so there is nothing left to set before Start). A bad
    folder is one message and changes nothing."""
    if window.running or window.refuse_while_busy("Resume run", "resuming"):
        return False
    folder = folder or window.app.dialogs.ask_directory("Resume the direct run saved in folder", None,
                                                        create=False)
    if not folder:
        return False
    try:
        task, meta = saved_run(window.arena, str(folder))
    except (ValueError, OSError) as exc:
        window.app.show_error("Resume run", f"Nothing was resumed: {exc}")
        return False
    device = window.run_form.vars["device"].get() or "auto"
    shown = False

    def on_event(event: Any) -> None:
        # the window takes the saved run's task, seed and name at its first report: a folder whose
        # arrays turn out unreadable in the job then leaves the window as it was, besides the message
        nonlocal shown
        if isinstance(event, EngineReport) and not shown and not window.closed:
            shown = True
            window.task, window.history, window.outcome = task, {}, ""
            window.task_form.set_values(meta["task"])
            window.run_form.set_values({"seed": meta["seed"]})
            window.engine_form.set_values(form_values(window.arena, meta["settings"]))   # what Apply starts from
            window.source_label.configure(text=f"Resumed from {folder} (seed {meta['seed']}, "
                                               f"{meta.get('passes', 0):,} {window.unit({})} done)")
        window._on_event(event)

    every = max(1, min(window.max_chunk, getattr(task, "eval_interval", window.max_chunk)))
    resumed = functools.partial(direct_job, resume_from=str(folder), keep_engine=True, inbox=new_inbox(window))
    window.job = window.app.submit(resumed, window.arena, task, None, meta["seed"], every, device,
                                   title=f"Direct run of {window.arena.name} (resumed, seed {meta['seed']})",
                                   on_event=on_event)
    window._set_running(True)
    window.status.configure(text=f"Resuming from {folder}...")
    return True
