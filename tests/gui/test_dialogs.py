"""The folder dialog: a typed path is taken at the first OK (Tk's own chooser needs two), a missing
export folder is made, a file or a missing data folder is named in the dialog, and it never opens
in the program's folder."""
from __future__ import annotations

import os
from pathlib import Path

from lab.gui.dialogs import FolderDialog, default_folder
from tests.conftest import PROJECT


def test_a_typed_folder_is_taken_at_the_first_ok_and_made_when_missing(lab_app, tmp_path):
    dialog = FolderDialog(lab_app.root, "Export", str(tmp_path))
    target = tmp_path / "figures" / "run-1"
    dialog.entry.delete(0, "end")
    dialog.entry.insert(0, str(target))
    dialog.window.focus_force()
    lab_app.root.update()
    dialog.entry.event_generate("<Return>")   # Enter in the path box is OK
    lab_app.root.update()
    assert dialog.result == str(target) and target.is_dir()
    assert not dialog.window.winfo_exists()


def test_a_file_or_a_missing_data_folder_is_named_and_the_dialog_stays(lab_app, tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    dialog = FolderDialog(lab_app.root, "Data folder", str(a_file), create=False)
    try:
        dialog.ok()
        assert dialog.result is None and "is a file, not a folder" in dialog.message.cget("text")
        dialog.path.set(str(tmp_path / "nowhere"))
        dialog.ok()
        assert "does not exist" in dialog.message.cget("text") and not (tmp_path / "nowhere").exists()
        dialog.path.set("  ")
        dialog.ok()
        assert "Type a folder" in dialog.message.cget("text")
        dialog.path.set(str(tmp_path))
        dialog.ok()
        assert dialog.result == str(tmp_path)
    finally:
        if dialog.window.winfo_exists():
            dialog.cancel()


def test_escape_cancels_and_the_first_folder_offered_is_not_the_programs(lab_app, tmp_path, monkeypatch):
    dialog = FolderDialog(lab_app.root, "Export")
    assert dialog.path.get() == default_folder() and Path(default_folder()).resolve() != PROJECT.resolve()
    assert os.path.isdir(dialog.path.get())
    dialog.entry.event_generate("<Escape>")
    lab_app.root.update()
    assert dialog.result is None
    asked = []
    lab_app.prefs.export_folder = None
    monkeypatch.setattr(lab_app.dialogs, "ask_directory", lambda title, initial=None: asked.append(initial))
    lab_app.ask_export_folder("Export")
    assert asked == [default_folder()]
