"""The window's File menu: the registry folder, importing and exporting genomes, and exporting the
charts of the tab in view (part of lab.gui.app.App)."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from lab.gui.dialogs import default_folder
from lab.registry import Registry, RegistryError

log = logging.getLogger("lab.gui")


class FileMenu:
    # ---- File menu ---------------------------------------------------------------------------
    def set_registry(self, path: str | os.PathLike[str]) -> None:
        try:
            registry = Registry(path)
        except RegistryError as exc:
            self.show_error("Registry", str(exc))
            return
        self.registry = registry
        self.status.show_registry(str(registry.root))
        log.info("registry is now %s", registry.root)
        self.prefs.registry = str(registry.root)
        self.save_settings()
        self.hub.publish("registry_changed", registry=registry)

    def choose_registry(self) -> None:
        if self.runner.active_jobs():
            self.show_error("Registry", "A job is running on the current registry; stop it before switching.")
            return
        path = self.dialogs.ask_directory("Choose a registry folder", str(self.registry.root))
        if path:
            self.set_registry(path)

    def import_genomes(self) -> None:
        paths = self.dialogs.ask_open_files("Import genome files")
        if not paths:
            return
        report = self.registry.import_paths(paths)
        if report.ok:
            self.dialogs.info("Import", report.summary())
        else:
            self.show_error("Import", report.summary())
        if report.imported:
            self.hub.publish("registry_changed", registry=self.registry)

    def export_genome(self) -> None:
        if not self.selected_genome:
            self.show_error("Export genome", "Select a genome first (for example in the Evolution Lab's "
                                             "population table or Hall of Fame).")
            return
        dest = self.dialogs.ask_save_file("Export genome", f"{self.selected_genome}.json")
        if dest:
            written = self.registry.export_genomes([self.selected_genome], dest)
            self.status_message.set(f"exported {', '.join(p.name for p in written)}")

    def ask_export_folder(self, title: str) -> str | None:
        """The folder picker for exports: it opens in the last export folder (while it exists), and
        the folder chosen is remembered for next time."""
        last = self.prefs.export_folder
        folder = self.dialogs.ask_directory(title, last if last and os.path.isdir(last) else default_folder())
        if folder:
            self.prefs.export_folder = str(folder)
            self.save_settings()
        return folder

    def export_charts(self) -> None:
        tab = self.tabs[self.shown_tab()]
        if tab is None or not hasattr(tab, "export_charts"):
            self.show_error("Export charts", "This tab has no charts to export.")
            return
        folder = self.ask_export_folder("Export charts to folder")
        if folder:
            paths = tab.export_charts(Path(folder))
            self.status_message.set(f"wrote {len(paths)} chart file(s) to {folder}")
