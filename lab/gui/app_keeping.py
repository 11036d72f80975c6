"""What the window keeps: its settings between sessions (lab.gui.prefs: read into the tabs, collected,
saved, reset) and closing (asking with a job running, cancelling and waiting, then saving). Part of
lab.gui.app.App."""
from __future__ import annotations

import logging
import tkinter as tk

from lab.gui.layout import sash_positions
from lab.gui.prefs import LOG_HEIGHT, Prefs

log = logging.getLogger("lab.gui")


class Keeping:
    # ---- closing -----------------------------------------------------------------------------
    def request_quit(self) -> None:
        """Close the window; with a job running, ask first, then cancel it and wait for it to end
        (an evolution run keeps its last checkpoint) while the window keeps updating."""
        jobs = self.runner.active_jobs()
        if jobs:
            if not self.dialogs.ask_yes_no("Quit", self.quit_question(jobs)):
                return
            for job in jobs:
                job.cancel()
            self.job_label.configure(text="Stopping the running job; the window closes when it has ended...")
        self._closing = True
        if not jobs:
            self._destroy()

    def terminate(self) -> None:
        """Close without asking (SIGTERM or SIGHUP, as at logout): running jobs are cancelled and
        waited for (an evolution run keeps its last checkpoint), then the settings are saved."""
        if self._closing:
            return
        jobs = self.runner.active_jobs()
        for job in jobs:
            job.cancel()
        self._closing = True
        if not jobs:
            self._destroy()

    def quit_question(self, jobs) -> str:
        """What Quit asks with ``jobs`` running: each tab says what closing now keeps of its work
        (an evolution run with no finished generation has nothing checkpointed yet)."""
        names = ", ".join(j.title for j in jobs)
        notes = [note for tab in self.tabs.values() if (note := getattr(tab, "quit_note", lambda: "")())]
        kept = " ".join(notes) if notes else "Trials that have finished stay in the registry."
        return f"{names} {'is' if len(jobs) == 1 else 'are'} running. {kept}\n\nStop and quit?"

    # ---- settings kept between sessions ------------------------------------------------------
    def _load_tab_prefs(self, prefs: Prefs) -> None:
        for tab in self.tabs.values():
            load = getattr(tab, "load_prefs", None)
            if load:
                load(prefs)

    def collect_settings(self) -> Prefs:
        """The settings as the window shows them now (forms, theme, log pane, geometry)."""
        for tab in self.tabs.values():
            store = getattr(tab, "store_prefs", None)
            if store:
                store(self.prefs)
        self.prefs.theme = self.theme
        self.prefs.log_visible = self.log_visible
        self.prefs.log_height = self._log_height()
        self.prefs.registry = str(self.registry.root)
        if self.root.winfo_ismapped():
            self.prefs.geometry = self.root.geometry()
            self.prefs.sashes = {**self.prefs.sashes, **sash_positions(self.notebook)}
        return self.prefs

    def save_settings(self) -> bool:
        """Write the settings file now; a folder that cannot be written is said in one line."""
        try:
            self.settings_file.save(self.collect_settings())
        except OSError as exc:
            message = f"settings not saved to {self.settings_file.path}: {exc.strerror or exc}"
            log.warning("%s", message)
            self.status_message.set(message)
            return False
        return True

    def reset_settings(self) -> bool:
        """File > Reset settings to defaults: after a yes, every form, the theme, the log pane and
        the export choices show their defaults, and the settings file says so. The registry folder
        and the window's size stay as they are."""
        if self.runner.active_jobs():
            self.show_error("Reset settings", "A job is running; stop it before resetting the settings.")
            return False
        if not self.dialogs.ask_yes_no("Reset settings", "Put every setting (each arena's Evolution, Task and "
                                       "Stress settings, theme, log pane, export folder and formats) back to its "
                                       f"default?\n\nThey are kept in {self.settings_file.path}."):
            return False
        geometry = self.root.geometry() if self.root.winfo_ismapped() else self.prefs.geometry
        self.prefs = Prefs(registry=str(self.registry.root), geometry=geometry)
        self._load_tab_prefs(self.prefs)
        if self.log_visible:
            self.toggle_log()
        self.prefs.log_height = LOG_HEIGHT.default
        self.set_theme(self.prefs.theme)   # saves the file
        self.status_message.set("settings reset to their defaults")
        log.info("settings reset to their defaults (%s)", self.settings_file.path)
        return True

    def _destroy(self) -> None:
        try:
            self.save_settings()
        except Exception as exc:  # noqa: BLE001 - the window must close even if a form cannot be read
            log.warning("settings not saved: %s", exc)
        for tab in self.tabs.values():
            close = getattr(tab, "close", None)
            if close:
                close()
        logging.getLogger("lab").removeHandler(self._log_handler)
        self.runner.executor.shutdown(wait=False)
        self.quick_runner.executor.shutdown(wait=False)
        try:
            self.backend.close()
        except Exception as exc:  # noqa: BLE001 - closing must go on
            log.warning("closing the backend: %s", exc)
        try:
            self.root.after_cancel(self._poll_id)
        except tk.TclError:
            pass
        self.root.destroy()
